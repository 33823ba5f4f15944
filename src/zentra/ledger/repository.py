"""Queries of the ledger. Every query filters by ``tenant_id`` as well as relying on row-level
security.

Writes keep the database's balance rule (ADR 0007): :func:`insert_entries` writes the postings
first and the entries after them, so that inserting an entry checks its complete postings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    String,
    Table,
    any_,
    bindparam,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from zentra.kit.bulk import bulk_insert, rows_as_arrow
from zentra.ledger.entries import Delta, PostingLine
from zentra.models import LedgerAccount, LedgerEntry, LedgerPosting

IN_CHUNK = 2000
"""Values per ``IN (...)`` list: well under SQLite's and PostgreSQL's parameter limits."""
BULK_FROM = 64
"""Rows from which an insert goes through ``kit/bulk.py`` (COPY) rather than one statement."""

T = TypeVar("T")

_ACCOUNTS: Table = LedgerAccount.__table__  # type: ignore[assignment]
_ENTRIES: Table = LedgerEntry.__table__  # type: ignore[assignment]
_POSTINGS: Table = LedgerPosting.__table__  # type: ignore[assignment]


def _chunks(values: Iterable[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


# --- accounts ----------------------------------------------------------------------------------


def get_account(session: Session, tenant_id: str, code: str) -> LedgerAccount | None:
    """The tenant's account ``code``, if any."""
    query = select(LedgerAccount).where(
        LedgerAccount.tenant_id == tenant_id, LedgerAccount.code == code
    )
    return session.execute(query).scalar_one_or_none()


def accounts_by_codes(
    session: Session, tenant_id: str, codes: Iterable[str], *, lock: bool
) -> list[LedgerAccount]:
    """The tenant's accounts among ``codes``, in id order, freshly read.

    With ``lock``, each row is locked until the transaction ends (``FOR UPDATE``; SQLite
    serializes writers anyway). Locks are taken in id order, the one order every ledger writer
    uses, so two writers never wait on each other in a cycle.
    """
    wanted = sorted(set(codes))
    found: list[LedgerAccount] = []
    for chunk in _chunks(wanted):
        query = (
            select(LedgerAccount)
            .where(LedgerAccount.tenant_id == tenant_id, LedgerAccount.code.in_(chunk))
            .order_by(LedgerAccount.id)
            .execution_options(populate_existing=True)
        )
        if lock:
            query = query.with_for_update()
        found.extend(session.execute(query).scalars())
    return sorted(found, key=lambda account: account.id)


def add_account(session: Session, account: LedgerAccount) -> None:
    """Insert a new account."""
    session.add(account)
    session.flush()


def list_accounts(
    session: Session, tenant_id: str, *, limit: int, after_id: str | None
) -> list[LedgerAccount]:
    """Up to ``limit`` accounts in id (creation) order after ``after_id``."""
    query = select(LedgerAccount).where(LedgerAccount.tenant_id == tenant_id)
    if after_id is not None:
        query = query.where(LedgerAccount.id > after_id)
    return list(session.execute(query.order_by(LedgerAccount.id).limit(limit)).scalars())


def apply_deltas(session: Session, tenant_id: str, deltas: Mapping[str, Delta]) -> None:
    """Add each account's delta to its sums: one ``UPDATE ... SET x = x + d`` per account, in
    id order, sent as one ``executemany``. Objects of these accounts loaded in the session are
    expired (stale)."""
    table = _ACCOUNTS
    params = [
        {
            "account_id": account_id,
            "d_posted_debits": delta.posted_debits,
            "d_posted_credits": delta.posted_credits,
            "d_pending_debits": delta.pending_debits,
            "d_pending_credits": delta.pending_credits,
        }
        for account_id, delta in sorted(deltas.items())
        if delta != Delta()
    ]
    if params:
        statement = (
            update(table)
            .where(table.c.tenant_id == tenant_id, table.c.id == bindparam("account_id"))
            .values(
                posted_debits=table.c.posted_debits + bindparam("d_posted_debits"),
                posted_credits=table.c.posted_credits + bindparam("d_posted_credits"),
                pending_debits=table.c.pending_debits + bindparam("d_pending_debits"),
                pending_credits=table.c.pending_credits + bindparam("d_pending_credits"),
            )
        )
        session.execute(statement, params)
    for account in list(session.identity_map.values()):
        if isinstance(account, LedgerAccount) and account.id in deltas:
            session.expire(account)


# --- entries -----------------------------------------------------------------------------------


def get_entry(
    session: Session, tenant_id: str, entry_id: str, *, lock: bool = False
) -> LedgerEntry | None:
    """The tenant's entry addressed by ``entry_id``, optionally locked (``FOR UPDATE``)."""
    query = select(LedgerEntry).where(
        LedgerEntry.tenant_id == tenant_id, LedgerEntry.entry_id == entry_id
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.execute(query).scalar_one_or_none()


def entry_hashes(
    session: Session, tenant_id: str, entry_ids: Iterable[str]
) -> dict[str, tuple[str, str, str]]:
    """``entry_id -> (id, status, content_hash)`` of the stored entries among ``entry_ids``."""
    table = _ENTRIES
    wanted = sorted(set(entry_ids))
    columns = (table.c.entry_id, table.c.id, table.c.status, table.c.content_hash)
    found: dict[str, tuple[str, str, str]] = {}
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter: binding 8,000 values one by one costs more than the lookup.
        queries = [
            select(*columns).where(
                table.c.tenant_id == tenant_id,
                table.c.entry_id == any_(bindparam("ids", wanted, type_=ARRAY(String))),
            )
        ]
    else:
        queries = [
            select(*columns).where(table.c.tenant_id == tenant_id, table.c.entry_id.in_(chunk))
            for chunk in _chunks(wanted)
        ]
    for query in queries:
        for entry_id, id_, status, digest in session.execute(query):
            found[entry_id] = (id_, status, digest)
    return found


def postings_of(
    session: Session, tenant_id: str, entry_ids: Sequence[str]
) -> dict[str, list[PostingLine]]:
    """The postings of entries (by internal id) in their order, accounts named by code."""
    found: dict[str, list[PostingLine]] = {entry_id: [] for entry_id in entry_ids}
    for chunk in _chunks(entry_ids):
        query = (
            select(
                LedgerPosting.entry_id,
                LedgerAccount.code,
                LedgerPosting.direction,
                LedgerPosting.amount,
                LedgerPosting.currency,
            )
            .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
            .where(LedgerPosting.tenant_id == tenant_id, LedgerPosting.entry_id.in_(chunk))
            .order_by(LedgerPosting.entry_id, LedgerPosting.position)
        )
        for entry_id, code, direction, amount, currency in session.execute(query):
            found[entry_id].append(PostingLine(code, direction, amount, currency))
    return found


def _insert(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    if len(rows) >= BULK_FROM:
        # Postings are plain text and integers; entries carry JSON and timestamps.
        bulk_insert(session, table, rows_as_arrow(table, rows) if table is _ENTRIES else rows)
    elif rows:
        session.execute(insert(table), list(rows))


def insert_entries(
    session: Session,
    entries: Sequence[Mapping[str, Any]],
    postings: Sequence[Mapping[str, Any]],
) -> None:
    """Insert entries and their postings (rows keyed by column name): the postings first, then
    the entries, whose insertion the database checks against them (ADR 0007). Many rows go
    through ``COPY`` on PostgreSQL and one ``executemany`` on SQLite."""
    session.flush()
    _insert(session, _POSTINGS, postings)
    _insert(session, _ENTRIES, entries)


def list_entries(
    session: Session,
    tenant_id: str,
    *,
    limit: int,
    after_id: str | None,
    effective_from: datetime | None = None,
    effective_to: datetime | None = None,
    account_id: str | None = None,
    reference_key: str | None = None,
    status: str | None = None,
) -> list[LedgerEntry]:
    """Up to ``limit`` entries in id (creation) order after ``after_id``, filtered by effective
    time (``from <= effective_at < to``), by an account they post to, by the normalized
    provider reference, by status."""
    query = select(LedgerEntry).where(LedgerEntry.tenant_id == tenant_id)
    if after_id is not None:
        query = query.where(LedgerEntry.id > after_id)
    if effective_from is not None:
        query = query.where(LedgerEntry.effective_at >= effective_from)
    if effective_to is not None:
        query = query.where(LedgerEntry.effective_at < effective_to)
    if reference_key is not None:
        query = query.where(LedgerEntry.reference_key == reference_key)
    if status is not None:
        query = query.where(LedgerEntry.status == status)
    if account_id is not None:
        query = query.where(
            exists().where(
                LedgerPosting.tenant_id == tenant_id,
                LedgerPosting.entry_id == LedgerEntry.id,
                LedgerPosting.account_id == account_id,
            )
        )
    return list(session.execute(query.order_by(LedgerEntry.id).limit(limit)).scalars())
