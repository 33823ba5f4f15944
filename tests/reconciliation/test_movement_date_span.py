"""repository.movement_date_span: the UTC days of a provider's first and last movements."""

from __future__ import annotations

import json
from datetime import date

from zentra.ingest.service import import_movements
from zentra.kit.context import system_context
from zentra.kit.db import Database
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
