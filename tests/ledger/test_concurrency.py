"""Concurrent writers on PostgreSQL: balances never lose an update, and a non-negative account
is checked under its lock (never overdrawn by two writers that each saw enough)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from tests.conftest import make_tenant
from tests.ledger.scenarios import ledger_state, sums_recomputed_from_postings
from zentra.kit.context import ActorContext
from zentra.kit.db import Database
from zentra.ledger.errors import InsufficientBalance
from zentra.ledger.schemas import AccountRequest, EntryRequest
from zentra.ledger.service import (
    create_account,
    create_entry,
    get_account_balances,
    post_entries_batch,
)

THREADS = 6
PER_THREAD = 8
AT = datetime(2026, 4, 26, 10, tzinfo=UTC)


def _request(entry_id: str, debit: str, credit: str, amount: int) -> EntryRequest:
    return EntryRequest(
        entry_id=entry_id,
        effective_at=AT,
        postings=[
            {"account": debit, "direction": "debit", "amount": amount, "currency": "EUR"},
            {"account": credit, "direction": "credit", "amount": amount, "currency": "EUR"},
        ],
    )


def _run_together(work: Callable[[int], None]) -> list[BaseException]:
    """Run ``work(thread_index)`` on THREADS threads released at once; the errors raised."""
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            work(index)
        except BaseException as error:  # collected and asserted by the test
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def _setup(db: Database) -> tuple[str, ActorContext]:
    tenant = make_tenant(db, "acme").tenant_id
    ctx = ActorContext(tenant, "key:svc", frozenset({"service"}))
    with db.unit_of_work(tenant) as session:
        for code, kind, guarded in (
            ("cash", "asset", False),
            ("owed", "liability", False),
            ("wallet", "liability", True),
        ):
            create_account(
                session,
                ctx,
                AccountRequest(code=code, type=kind, currency="EUR", non_negative=guarded),
            )
    return tenant, ctx


def test_concurrent_entries_and_batches_lose_no_update(postgres_db: Database) -> None:
    db = postgres_db
    tenant, ctx = _setup(db)

    def work(index: int) -> None:
        for n in range(PER_THREAD):
            with db.unit_of_work(tenant) as session:
                create_entry(session, ctx, _request(f"t{index}-{n}", "cash", "owed", 100 + index))
        batch = [_request(f"t{index}-b{n}", "cash", "owed", 7) for n in range(50)]
        with db.unit_of_work(tenant) as session:
            post_entries_batch(session, ctx, batch)

    assert _run_together(work) == []
    expected = sum(PER_THREAD * (100 + i) + 50 * 7 for i in range(THREADS))
    with db.unit_of_work(tenant, read_only=True) as session:
        assert get_account_balances(session, ctx, "cash").posted == expected
        assert get_account_balances(session, ctx, "owed").posted == expected
    recomputed = sums_recomputed_from_postings(db, tenant)
    assert recomputed["cash"] == [expected, 0, 0, 0]
    state = ledger_state(db, tenant)
    assert [row[0] for row in state["accounts"]] == ["cash", "owed", "wallet"]
    assert state["accounts"][0][1:] == tuple(recomputed["cash"])
    assert len(state["entries"]) == THREADS * (PER_THREAD + 50)


def test_concurrent_spenders_never_overdraw_a_non_negative_account(postgres_db: Database) -> None:
    db = postgres_db
    tenant, ctx = _setup(db)
    with db.unit_of_work(tenant) as session:
        create_entry(session, ctx, _request("fund", "cash", "wallet", 1000))
    spent: list[str] = []

    def work(index: int) -> None:
        # Each thread tries to spend 300 twice: 12 attempts for 1000, so only 3 can succeed.
        for n in range(2):
            try:
                with db.unit_of_work(tenant) as session:
                    create_entry(session, ctx, _request(f"s{index}-{n}", "wallet", "cash", 300))
                spent.append(f"s{index}-{n}")
            except InsufficientBalance:
                pass

    assert _run_together(work) == []
    assert len(spent) == 3
    with db.unit_of_work(tenant, read_only=True) as session:
        wallet = get_account_balances(session, ctx, "wallet")
    assert (wallet.posted, wallet.available) == (100, 100)
    assert sums_recomputed_from_postings(db, tenant)["wallet"] == [900, 1000, 0, 0]
