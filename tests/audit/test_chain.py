"""The audit chain holds, and tampering breaks it at the right sequence number."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import TenantHandle
from tests.fixtures.api import ApiClient
from zentra.audit.service import record_audit
from zentra.kit.context import system_context
from zentra.kit.db import Database


def _append(db: Database, tenant_id: str, count: int) -> None:
    with db.unit_of_work(tenant_id) as session:
        for number in range(count):
            record_audit(
                session,
                system_context(tenant_id, "test"),
                "thing.changed",
                "thing",
                f"thing_{number}",
                details={"n": number},
            )


def _drop_append_only_guards(db: Database) -> None:
    """What an attacker with owner rights would do first."""
    with db.engine.begin() as conn:
        if db.is_postgres:
            conn.execute(text("ALTER TABLE audit_events DISABLE ROW LEVEL SECURITY"))
        else:
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
            conn.execute(text("DROP TRIGGER audit_events_no_delete"))


def test_untouched_chain_verifies(db: Database, tenant: TenantHandle, client: ApiClient) -> None:
    _append(db, tenant.tenant_id, 5)
    answer = client.get("/audit/verify").json()
    assert answer["valid"] is True
    assert answer["checked"] == answer["head"]["seq"] == 7  # tenant + key creation + 5


def test_edited_and_deleted_rows_break_the_chain_at_their_sequence(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    _append(db, tenant.tenant_id, 8)
    _drop_append_only_guards(db)
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_events SET actor = 'user:mallory' WHERE tenant_id = :t AND seq = 4"),
            {"t": tenant.tenant_id},
        )
        conn.execute(
            text("DELETE FROM audit_events WHERE tenant_id = :t AND seq = 7"),
            {"t": tenant.tenant_id},
        )
    answer = client.get("/audit/verify").json()
    assert answer["valid"] is False
    assert answer["first_broken_seq"] == 4
    assert [(b["seq"], b["reason"]) for b in answer["breaks"]] == [
        (4, "record content does not match its hash"),
        (7, "record missing"),
    ]


def test_truncated_tail_is_detected(db: Database, tenant: TenantHandle, client: ApiClient) -> None:
    _append(db, tenant.tenant_id, 3)
    _drop_append_only_guards(db)
    with db.engine.begin() as conn:
        conn.execute(
            text("DELETE FROM audit_events WHERE tenant_id = :t AND seq = 5"),
            {"t": tenant.tenant_id},
        )
    answer = client.get("/audit/verify").json()
    assert answer["valid"] is False
    assert answer["first_broken_seq"] == 5


def _execute_as_application(db: Database, tenant_id: str, statement: str) -> None:
    with db.unit_of_work(tenant_id) as session:
        session.execute(text(statement))


def test_application_cannot_rewrite_the_audit_log(db: Database, tenant: TenantHandle) -> None:
    _append(db, tenant.tenant_id, 1)
    for statement in ("UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events"):
        # The database itself refuses: a trigger on SQLite, missing grants on PostgreSQL.
        with pytest.raises(DBAPIError, match=r"append-only|permission denied"):
            _execute_as_application(db, tenant.tenant_id, statement)
    with db.unit_of_work(tenant.tenant_id, read_only=True) as session:
        actors = session.execute(text("SELECT actor FROM audit_events")).scalars().all()
    assert len(actors) == 3  # tenant, first key, the appended record: all still there
    assert all(actor.startswith("system:") for actor in actors)


def test_audit_events_are_listed_in_chain_order(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    _append(db, tenant.tenant_id, 4)
    first = client.get("/audit/events", params={"limit": 3}).json()
    second = client.get("/audit/events", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    seqs = [e["seq"] for e in first["data"] + second["data"]]
    assert seqs == [1, 2, 3, 4, 5, 6]
    assert second["next_cursor"] is None
    assert first["data"][0]["action"] == "tenant.created"
