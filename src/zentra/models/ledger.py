"""The double-entry ledger: accounts with running balances, entries, and their postings.

An entry is an immutable, balanced set of postings (per currency, debits = credits); only its
status moves (``pending`` -> ``posted`` | ``voided``). Corrections are reversal entries.

The database refuses an unbalanced entry by itself (ADR 0007): an entry row is inserted *after*
its postings, and inserting it checks them (statement-level triggers on PostgreSQL, row-level on
SQLite); a posting for an entry already recorded is refused; postings are never updated or
deleted. The triggers live in the migration (``2026_11_21_0008_ledger``).

An account's four balance columns are the sums of its postings by direction and entry state
(pending or posted; voided entries count nowhere), kept in the same transaction as the postings.
A ``non_negative`` account's available balance (see :mod:`zentra.ledger.entries`) stays >= 0:
a CHECK constraint holds it beneath the service's own check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from zentra.models.base import Base, JSONType, TenantScoped

# Available balance on the account's normal side: posted balance minus pending outflows.
AVAILABLE_SQL = (
    "CASE WHEN normal_side = 'debit' "
    "THEN posted_debits - posted_credits - pending_credits "
    "ELSE posted_credits - posted_debits - pending_debits END"
)


class LedgerAccount(TenantScoped, Base):
    """A ledger account: ``code`` is unique in the tenant and has one currency."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        CheckConstraint(
            "type IN ('asset', 'liability', 'equity', 'revenue', 'expense')", name="type"
        ),
        CheckConstraint("normal_side IN ('debit', 'credit')", name="normal_side"),
        CheckConstraint(
            "posted_debits >= 0 AND posted_credits >= 0 "
            "AND pending_debits >= 0 AND pending_credits >= 0",
            name="sums",
        ),
        CheckConstraint(f"NOT non_negative OR ({AVAILABLE_SQL}) >= 0", name="non_negative"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    normal_side: Mapped[str] = mapped_column(String(6))
    non_negative: Mapped[bool] = mapped_column(Boolean)
    posted_debits: Mapped[int] = mapped_column(BigInteger)
    posted_credits: Mapped[int] = mapped_column(BigInteger)
    pending_debits: Mapped[int] = mapped_column(BigInteger)
    pending_credits: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class LedgerEntry(TenantScoped, Base):
    """A balanced set of postings, addressed by the client's ``entry_id``.

    ``content_hash`` is the hash of the request's content (:mod:`zentra.ledger.entries`): the
    same ``entry_id`` with the same content is a replay, with other content a conflict.
    ``two_phase`` is the request's ``pending`` flag (the status moves on; the request does not).
    Reversal links name entries by their ``entry_id``.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "entry_id"),
        Index("ix_ledger_entries_reference", "tenant_id", "reference_key"),
        Index("ix_ledger_entries_effective", "tenant_id", "effective_at"),
        CheckConstraint("status IN ('pending', 'posted', 'voided')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(Text)
    effective_at: Mapped[datetime]
    two_phase: Mapped[bool] = mapped_column(Boolean)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType)
    references: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # The normalized provider_reference of ``references`` (kit.references), for the filter.
    reference_key: Mapped[str | None] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    reverses_entry_id: Mapped[str | None] = mapped_column(String(200))
    reversed_by_entry_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    posted_at: Mapped[datetime | None]
    posted_by: Mapped[str | None] = mapped_column(String(200))
    voided_at: Mapped[datetime | None]
    voided_by: Mapped[str | None] = mapped_column(String(200))


class LedgerPosting(TenantScoped, Base):
    """One leg of an entry: an amount (> 0, minor units) debited or credited to an account.

    A posting is identified by its entry and its position in it. ``entry_id`` (the entry's
    internal id) is no foreign key: postings are written before their entry, whose insertion
    checks them (ADR 0007); every read reaches postings through their entry. ``account_id`` is
    checked on insertion to be an account of the posting's tenant in its currency.
    """

    __tablename__ = "ledger_postings"
    __table_args__ = (
        # Not led by tenant_id (account ids are unique across tenants): see the migration.
        Index("ix_ledger_postings_account", "account_id"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("direction IN ('debit', 'credit')", name="direction"),
    )

    entry_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Checked by trigger rather than a foreign key: an account of the posting's tenant, in the
    # posting's currency (ADR 0007).
    account_id: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(6))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
