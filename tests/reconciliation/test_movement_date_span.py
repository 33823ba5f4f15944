"""Movements by UTC day: ``Movement.occurred_between`` (a range of the time index) and
``repository.movement_date_span``."""

from __future__ import annotations

import json
from datetime import date, timedelta

from sqlalchemy import select

from zentra.ingest.service import import_movements
from zentra.kit.context import system_context
from zentra.kit.db import Database
from zentra.models import Movement
from zentra.reconciliation import repository
from zentra.tenancy.service import create_tenant


def _movement(movement_id: str, provider: str, occurred_at: str) -> str:
    return json.dumps(
        {
            "movement_id": movement_id,
            "type": "payment",
            "provider": provider,
            "provider_reference": f"pi_{movement_id}",
            "amount": 100,
            "currency": "EUR",
            "status": "succeeded",
            "occurred_at": occurred_at,
        }
    )


def test_the_span_is_the_utc_days_of_the_earliest_and_latest_movement(db: Database) -> None:
    with db.unit_of_work() as session:
        tenant, _key = create_tenant(session, "span")
    ctx = system_context(tenant.id, "test")
    lines = [
        # 23:30 on 4 April at -02:00 is 5 April in UTC: the first day, though written earlier.
        _movement("m1", "rail", "2026-04-04T23:30:00-02:00"),
        _movement("m2", "rail", "2026-04-05T08:00:00Z"),
        # 00:30 on 21 April at +02:00 is still 20 April in UTC: the last day.
        _movement("m3", "rail", "2026-04-21T00:30:00+02:00"),
        _movement("m4", "rail", "2026-04-12T12:00:00Z"),
        _movement("m5", "other_rail", "2026-03-01T00:00:00Z"),
        _movement("m6", "other_rail", "2026-05-30T00:00:00Z"),
    ]
    with db.unit_of_work(tenant.id) as session:
        result = import_movements(
            session,
            ctx,
            content="\n".join(lines).encode(),
            content_type="application/x-ndjson",
        )
        assert not result.rejected
        assert repository.movement_date_span(session, tenant.id, "rail") == (
            date(2026, 4, 5),
            date(2026, 4, 20),
        )
        assert repository.movement_date_span(session, tenant.id, "other_rail") == (
            date(2026, 3, 1),
            date(2026, 5, 30),
        )
        assert repository.movement_date_span(session, tenant.id, "unknown") is None


def test_occurred_between_selects_the_same_movements_as_their_utc_days(db: Database) -> None:
    with db.unit_of_work() as session:
        tenant, _key = create_tenant(session, "days")
    ctx = system_context(tenant.id, "test")
    instants = [
        "2026-04-09T23:59:59.999999Z",
        "2026-04-10T00:00:00Z",
        "2026-04-10T01:30:00+02:00",  # 9 April in UTC
        "2026-04-11T23:59:59.999999Z",
        "2026-04-11T22:30:00-02:00",  # 12 April in UTC
        "2026-04-12T00:00:00.000001Z",
    ]
    lines = [_movement(f"m{index}", "rail", at) for index, at in enumerate(instants)]
    with db.unit_of_work(tenant.id) as session:
        assert not import_movements(
            session, ctx, content="\n".join(lines).encode(), content_type="application/x-ndjson"
        ).rejected
        scope = select(Movement.movement_id).where(
            Movement.tenant_id == tenant.id, Movement.provider == "rail"
        )
        first = date(2026, 4, 8)
        for start_offset in range(5):
            for length in range(4):
                day_from = first + timedelta(days=start_offset)
                day_to = day_from + timedelta(days=length)
                by_range = set(
                    session.scalars(scope.where(Movement.occurred_between(day_from, day_to)))
                )
                by_day = set(
                    session.scalars(
                        scope.where(
                            Movement.occurred_on >= day_from, Movement.occurred_on <= day_to
                        )
                    )
                )
                assert by_range == by_day, (day_from, day_to)
        assert set(
            session.scalars(
                scope.where(Movement.occurred_between(date(2026, 4, 10), date(2026, 4, 11)))
            )
        ) == {"m1", "m3"}
        if not db.is_postgres:
            plan = " ".join(
                str(row[-1])
                for row in session.connection().exec_driver_sql(
                    "EXPLAIN QUERY PLAN "
                    + str(
                        scope.where(
                            Movement.occurred_between(date(2026, 4, 10), date(2026, 4, 11))
                        ).compile(
                            dialect=session.get_bind().dialect,
                            compile_kwargs={"literal_binds": True},
                        )
                    )
                )
            )
            assert "ix_movements_provider_time" in plan
            assert "occurred_at>" in plan.replace(" ", "")
