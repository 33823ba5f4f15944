"""One record is never matched twice in a run: the database refuses it, whatever the code does."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tests.conftest import TenantHandle
from tests.fixtures.api import ApiClient
from tests.fixtures.scenarios import import_movements, movement, reconcile, settlement_csv
from zentra.kit.db import Database
from zentra.kit.ids import new_id
from zentra.kit.time import utcnow
from zentra.models import Match, MatchLink


def test_one_record_is_never_matched_twice(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    import_movements(client, [movement("mv_1", "pi_1", 1000), movement("mv_2", "pi_2", 2000)])
    run = reconcile(
        client, db, settlement_csv([("pi_1", "10.00", "EUR"), ("pi_2", "20.00", "EUR")])
    )
    with db.unit_of_work(tenant.tenant_id) as session:
        link = session.scalars(
            select(MatchLink).where(MatchLink.external_record_id.is_not(None))
        ).first()
        assert link is not None
        external_record_id = link.external_record_id

    for side in ({"external_record_id": external_record_id}, {"movement_id": "mv_1"}):
        with pytest.raises(IntegrityError):
            _add_second_match(db, tenant.tenant_id, run["id"], side)
    matches = client.get(f"/reconciliation/runs/{run['id']}/matches").json()["data"]
    assert len(matches) == 2


def _add_second_match(db: Database, tenant_id: str, run_id: str, side: dict[str, str]) -> None:
    """Bypass the engine: write a second match for an already matched record."""
    with db.unit_of_work(tenant_id) as session:
        match_id = new_id("mat")
        session.add(
            Match(
                id=match_id,
                tenant_id=tenant_id,
                run_id=run_id,
                rule="manual",
                kind="1:1",
                deltas={},
                created_by="user:mallory",
                reason="second match",
                created_at=utcnow(),
            )
        )
        session.flush()
        session.add(MatchLink(tenant_id=tenant_id, run_id=run_id, match_id=match_id, **side))
