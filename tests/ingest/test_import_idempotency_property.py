"""Property: importing movements is idempotent. Any sequence of batches drawn (with repeats)
from one pool of movements leaves exactly the pool's distinct movements, each stored once, and
every repeat is reported unchanged — never imported twice, never refused."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.conftest import make_tenant
from zentra.ingest.service import import_movement_rows
from zentra.kit.context import system_context
from zentra.kit.db import Database
from zentra.models import Movement

POOL = [
    {
        "movement_id": f"mv_{n}",
        "type": "payment",
        "provider": "rail_primary",
        "provider_reference": f"pi_{n}",
        "amount": 100 * (n + 1),
        "currency": "EUR",
        "status": "succeeded",
        "occurred_at": "2026-04-26T10:00:00Z",
    }
    for n in range(8)
]

batches = st.lists(st.lists(st.sampled_from(range(len(POOL))), max_size=6), min_size=1, max_size=5)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches)
def test_any_sequence_of_repeated_imports_stores_each_movement_once(
    db: Database, sequence: list[list[int]]
) -> None:
    tenant = make_tenant(db, "idempotency")  # a fresh tenant per example: nothing carries over
    ctx = system_context(tenant.tenant_id, "test")
    seen: set[int] = set()
    for batch in sequence:
        rows: list[dict[str, Any]] = [dict(POOL[i]) for i in batch]
        with db.unit_of_work(tenant.tenant_id) as session:
            result = import_movement_rows(session, ctx, rows)
        new = set(batch) - seen
        assert result.rejected == []
        assert result.imported == len(new)
        assert result.unchanged == len(batch) - len(new)
        seen |= new
    with db.unit_of_work(tenant.tenant_id) as session:
        stored = session.scalar(
            select(func.count()).select_from(Movement).where(Movement.tenant_id == tenant.tenant_id)
        )
    assert stored == len(seen)
