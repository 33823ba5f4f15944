"""A unit of work commits, rolls back on error, and keeps a recorded refusal's evidence."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import TenantHandle
from zentra.events.service import emit_event
from zentra.kit.db import Database
from zentra.kit.errors import NotFound, UnreadableFile
from zentra.models import OutboxEvent


def _write_then_fail(db: Database, tenant_id: str, error: Exception) -> None:
    with db.unit_of_work(tenant_id) as session:
        emit_event(session, tenant_id, "reconciliation.run.created", {"run_id": "r"})
        session.flush()
        raise error


def _events(db: Database) -> int:
    with db.unit_of_work(read_only=True) as session:
        return int(session.scalar(select(func.count()).select_from(OutboxEvent)) or 0)


@pytest.mark.parametrize(
    ("error", "kept"), [(UnreadableFile("kept as evidence"), 1), (NotFound("nothing kept"), 0)]
)
def test_only_a_recorded_refusal_keeps_what_was_written(
    db: Database, tenant: TenantHandle, error: Exception, kept: int
) -> None:
    with pytest.raises(type(error)):
        _write_then_fail(db, tenant.tenant_id, error)
    assert _events(db) == kept


def test_an_unexpected_error_rolls_back(db: Database, tenant: TenantHandle) -> None:
    with pytest.raises(RuntimeError):
        _write_then_fail(db, tenant.tenant_id, RuntimeError("boom"))
    assert _events(db) == 0
