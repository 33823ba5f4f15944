"""The database itself refuses an unbalanced entry (ADR 0007), on SQLite and PostgreSQL.

Rows are written with raw SQL, bypassing the service and its pure checks, in a tenant unit of
work: on PostgreSQL that is the application role under row-level security, as in production.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.conftest import TenantHandle, make_tenant
from tests.ledger.scenarios import ledger_state
from zentra.kit.context import system_context
from zentra.kit.db import Database
from zentra.ledger.schemas import AccountRequest
from zentra.ledger.service import create_account

ENTRY_SQL = text(
    "INSERT INTO ledger_entries (id, tenant_id, entry_id, status, description, effective_at, "
    'two_phase, metadata, "references", content_hash, created_at, created_by) '
    "VALUES (:id, :t, :id, 'posted', 'raw', :at, false, '{}', '{}', 'h', :at, 'raw')"
)
POSTING_SQL = text(
    "INSERT INTO ledger_postings (tenant_id, entry_id, position, account_id, direction, "
    "amount, currency) VALUES (:t, :entry, :position, :account, :direction, :amount, :currency)"
)
AT = "2026-04-26 10:00:00"


@pytest.fixture
def accounts(db: Database, tenant: TenantHandle) -> dict[str, str]:
    ctx = system_context(tenant.tenant_id, "test")
    with db.unit_of_work(tenant.tenant_id) as session:
        cash = create_account(
            session, ctx, AccountRequest(code="cash", type="asset", currency="EUR")
        )
        owed = create_account(
            session, ctx, AccountRequest(code="owed", type="liability", currency="EUR")
        )
        return {"cash": cash.id, "owed": owed.id}


def _entry(session: Session, tenant_id: str, entry: str) -> None:
    session.execute(ENTRY_SQL, {"id": entry, "t": tenant_id, "at": AT})


def _posting(
    session: Session,
    tenant_id: str,
    entry: str,
    position: int,
    account: str,
    direction: str,
    amount: int,
    currency: str = "EUR",
) -> None:
    session.execute(
        POSTING_SQL,
        {
            "t": tenant_id,
            "entry": entry,
            "position": position,
            "account": account,
            "direction": direction,
            "amount": amount,
            "currency": currency,
        },
    )


def _refused(db: Database, tenant: TenantHandle, write: Callable[[Session], Any]) -> str:
    """Run ``write`` in a unit of work; it must be refused, leaving the ledger as it was."""
    before = ledger_state(db, tenant.tenant_id)
    with pytest.raises(IntegrityError) as refusal, db.unit_of_work(tenant.tenant_id) as session:
        write(session)
    assert ledger_state(db, tenant.tenant_id) == before
    return str(refusal.value.orig)


def test_a_balanced_entry_written_by_hand_is_accepted(
    db: Database, tenant: TenantHandle, accounts: dict[str, str]
) -> None:
    with db.unit_of_work(tenant.tenant_id) as session:
        _posting(session, tenant.tenant_id, "ok", 0, accounts["cash"], "debit", 100)
        _posting(session, tenant.tenant_id, "ok", 1, accounts["owed"], "credit", 100)
        _entry(session, tenant.tenant_id, "ok")
    assert ledger_state(db, tenant.tenant_id)["entries"] == [("ok", "posted", None)]


def test_an_unbalanced_entry_written_by_hand_is_refused(
    db: Database, tenant: TenantHandle, accounts: dict[str, str]
) -> None:
    def unbalanced(session: Session) -> None:
        _posting(session, tenant.tenant_id, "bad", 0, accounts["cash"], "debit", 100)
        _posting(session, tenant.tenant_id, "bad", 1, accounts["owed"], "credit", 99)
        _entry(session, tenant.tenant_id, "bad")

    assert "not balanced" in _refused(db, tenant, unbalanced)


def test_an_entry_without_postings_is_refused(
    db: Database, tenant: TenantHandle, accounts: dict[str, str]
) -> None:
    def empty(session: Session) -> None:
        _entry(session, tenant.tenant_id, "empty")

    assert "not balanced" in _refused(db, tenant, empty)


def test_postings_cannot_join_an_entry_once_it_is_recorded(
    db: Database, tenant: TenantHandle, accounts: dict[str, str]
) -> None:
    # Entry first, postings after: the entry is checked when inserted, with nothing yet.
    def entry_first(session: Session) -> None:
        _entry(session, tenant.tenant_id, "early")
        _posting(session, tenant.tenant_id, "early", 0, accounts["cash"], "debit", 5)
        _posting(session, tenant.tenant_id, "early", 1, accounts["owed"], "credit", 5)

    assert "not balanced" in _refused(db, tenant, entry_first)

    with db.unit_of_work(tenant.tenant_id) as session:
        _posting(session, tenant.tenant_id, "ok", 0, accounts["cash"], "debit", 100)
        _posting(session, tenant.tenant_id, "ok", 1, accounts["owed"], "credit", 100)
        _entry(session, tenant.tenant_id, "ok")

    def one_more_leg(session: Session) -> None:
        _posting(session, tenant.tenant_id, "ok", 2, accounts["cash"], "debit", 1)

    assert "recorded" in _refused(db, tenant, one_more_leg)


def test_postings_are_never_changed_or_removed(
    db: Database, tenant: TenantHandle, accounts: dict[str, str]
) -> None:
    with db.unit_of_work(tenant.tenant_id) as session:
        _posting(session, tenant.tenant_id, "ok", 0, accounts["cash"], "debit", 100)
        _posting(session, tenant.tenant_id, "ok", 1, accounts["owed"], "credit", 100)
        _entry(session, tenant.tenant_id, "ok")
    # The application role has no UPDATE or DELETE on postings on PostgreSQL (a privilege
    # error, not an integrity one): the owner is refused by the trigger.
    with db.engine.begin() as connection:
        for statement in (
            "UPDATE ledger_postings SET amount = 1 WHERE entry_id = 'ok' AND position = 0",
            "DELETE FROM ledger_postings WHERE entry_id = 'ok' AND position = 1",
            "DELETE FROM ledger_entries WHERE id = 'ok'",
        ):
            with pytest.raises(IntegrityError), connection.begin_nested():
                connection.execute(text(statement))
    assert ledger_state(db, tenant.tenant_id)["postings"] == [(2,)]


def test_postings_without_their_entry_stay_outside_every_entry(
    db: Database, tenant: TenantHandle, accounts: dict[str, str]
) -> None:
    # A stray posting whose entry never comes is outside the ledger (every read goes through
    # entries); an entry later recorded under that id must balance with it included.
    with db.unit_of_work(tenant.tenant_id) as session:
        _posting(session, tenant.tenant_id, "late", 0, accounts["cash"], "debit", 5)

    def claims_the_stray(session: Session) -> None:
        _posting(session, tenant.tenant_id, "late", 1, accounts["cash"], "debit", 7)
        _posting(session, tenant.tenant_id, "late", 2, accounts["owed"], "credit", 7)
        _entry(session, tenant.tenant_id, "late")

    assert "not balanced" in _refused(db, tenant, claims_the_stray)
    assert ledger_state(db, tenant.tenant_id)["entries"] == []


def test_a_posting_needs_an_account_of_its_tenant_in_its_currency(
    db: Database, tenant: TenantHandle, accounts: dict[str, str]
) -> None:
    other = make_tenant(db, "globex")
    with db.unit_of_work(other.tenant_id) as session:
        theirs = create_account(
            session,
            system_context(other.tenant_id, "test"),
            AccountRequest(code="cash", type="asset", currency="EUR"),
        ).id

    def balanced_to(account: str, currency: str = "EUR") -> Callable[[Session], None]:
        def write(session: Session) -> None:
            _posting(session, tenant.tenant_id, "e", 0, account, "debit", 5, currency)
            _posting(session, tenant.tenant_id, "e", 1, accounts["owed"], "credit", 5, currency)
            _entry(session, tenant.tenant_id, "e")

        return write

    assert "no account" in _refused(db, tenant, balanced_to("acc_nowhere"))
    assert "no account" in _refused(db, tenant, balanced_to(accounts["cash"], "USD"))
    assert "no account" in _refused(db, tenant, balanced_to(theirs))


def test_accounts_are_never_deleted_and_keep_their_identity(
    db: Database, tenant: TenantHandle, accounts: dict[str, str]
) -> None:
    with db.engine.begin() as connection:
        for statement in (
            "DELETE FROM ledger_accounts WHERE code = 'cash'",
            "UPDATE ledger_accounts SET currency = 'USD' WHERE code = 'cash'",
            "UPDATE ledger_accounts SET id = 'acc_other' WHERE code = 'cash'",
        ):
            with pytest.raises(IntegrityError), connection.begin_nested():
                connection.execute(text(statement))
    with db.unit_of_work(tenant.tenant_id) as session:
        session.execute(text("UPDATE ledger_accounts SET posted_debits = 5 WHERE code = 'cash'"))
    assert ledger_state(db, tenant.tenant_id)["accounts"][0] == ("cash", 5, 0, 0, 0)


def test_a_non_negative_account_cannot_be_set_below_zero(
    db: Database, tenant: TenantHandle
) -> None:
    ctx = system_context(tenant.tenant_id, "test")
    with db.unit_of_work(tenant.tenant_id) as session:
        create_account(
            session,
            ctx,
            AccountRequest(code="wallet", type="liability", currency="EUR", non_negative=True),
        )

    def overdraw(session: Session) -> None:
        session.execute(text("UPDATE ledger_accounts SET posted_debits = 1 WHERE code = 'wallet'"))

    _refused(db, tenant, overdraw)
