"""On PostgreSQL, row-level security confines a tenant's transaction to its own rows even when a
query forgets the application's tenant filter."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from tests.conftest import make_tenant
from zentra.events.service import emit_event
from zentra.kit.db import Database


def _seed_events(db: Database) -> tuple[str, str]:
    a = make_tenant(db, "tenant-a").tenant_id
    b = make_tenant(db, "tenant-b").tenant_id
    for tenant_id in (a, b):
        with db.unit_of_work(tenant_id) as session:
            emit_event(session, tenant_id, "reconciliation.run.created", {"run_id": "run_x"})
    return a, b


def test_unfiltered_query_sees_only_its_own_tenant(postgres_db: Database) -> None:
    a, _b = _seed_events(postgres_db)
    with postgres_db.unit_of_work(a) as session:
        # No WHERE tenant_id: the policy beneath the application does the filtering.
        tenants = session.execute(text("SELECT DISTINCT tenant_id FROM events")).scalars().all()
        audit_tenants = (
            session.execute(text("SELECT DISTINCT tenant_id FROM audit_events")).scalars().all()
        )
    assert tenants == [a]
    assert audit_tenants == [a]
    with postgres_db.engine.connect() as owner:  # the owner (superuser) sees both: data exists
        assert owner.execute(text("SELECT count(DISTINCT tenant_id) FROM events")).scalar() == 2


def test_tenant_scope_does_not_leak_across_pooled_connections(postgres_db: Database) -> None:
    a, _b = _seed_events(postgres_db)
    with postgres_db.unit_of_work(a) as session:
        session.execute(text("SELECT 1"))
    # Same pool, new transaction with no tenant: SET LOCAL ended with the last transaction.
    with postgres_db.engine.connect() as conn:
        setting = conn.execute(text("SELECT current_setting('zentra.tenant_id', true)")).scalar()
        role = conn.execute(text("SELECT current_user")).scalar()
    assert setting in (None, "")
    assert role != "zentra_app"


def test_app_role_without_tenant_sees_nothing(postgres_db: Database) -> None:
    _seed_events(postgres_db)
    with postgres_db.engine.begin() as conn:
        conn.execute(text("SET LOCAL ROLE zentra_app"))
        assert conn.execute(text("SELECT count(*) FROM events")).scalar() == 0


def test_writing_a_row_for_another_tenant_is_refused(postgres_db: Database) -> None:
    a, b = _seed_events(postgres_db)
    with pytest.raises(ProgrammingError, match="row-level security"):  # noqa: SIM117
        with postgres_db.unit_of_work(a) as session:
            emit_event(session, b, "reconciliation.run.created", {"run_id": "run_y"})
