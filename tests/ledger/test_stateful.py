"""A Hypothesis state machine over the ledger: random entries (balanced or broken, pending or
posted), posts, voids, reversals, replays and batches (atomic or not), on the real database.

A small model predicts every outcome: the account sums and each entry's status, and which
operations must be refused (a broken entry, a void of a posted entry, an overdraft of a
non-negative account...). After every step the machine checks:

- every currency sums to zero across accounts (debits = credits), posted and pending;
- each account's sums equal its postings recomputed from the postings table;
- no non-negative account's available balance is below zero;
- the database agrees with the model (sums and statuses);

and a refused operation must leave accounts, entries, postings, events and audit untouched.
Each example runs in a tenant of its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.orm import Session

from tests.conftest import make_tenant
from tests.ledger.scenarios import ledger_state, sums_recomputed_from_postings
from zentra.kit.context import ActorContext
from zentra.kit.db import Database
from zentra.kit.errors import ZentraError
from zentra.ledger.entries import Balances
from zentra.ledger.errors import EntryRefused, EntryStateConflict
from zentra.ledger.schemas import AccountRequest, EntryRequest
from zentra.ledger.service import (
    create_account,
    create_entry,
    post_entries_batch,
    post_entry,
    reverse_entry,
    void_entry,
)

AT = datetime(2026, 4, 26, 10, tzinfo=UTC)


@dataclass(frozen=True)
class Account:
    code: str
    type: str
    currency: str
    non_negative: bool

    @property
    def normal_side(self) -> str:
        return "debit" if self.type in ("asset", "expense") else "credit"


ACCOUNTS = (
    Account("cash_eur", "asset", "EUR", False),
    Account("wallet_eur", "liability", "EUR", True),
    Account("revenue_eur", "revenue", "EUR", False),
    Account("cash_usd", "asset", "USD", False),
    Account("wallet_usd", "liability", "USD", True),
)
BY_CODE = {account.code: account for account in ACCOUNTS}
SLOT = {("debit", False): 0, ("credit", False): 1, ("debit", True): 2, ("credit", True): 3}

# An entry to draw: currency, legs (account index within the currency, direction, amount),
# two-phase or not, and what to break (mostly nothing).
Legs = list[tuple[int, str, int]]
entry_specs = st.tuples(
    st.sampled_from(["EUR", "USD"]),
    st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(["debit", "credit"]), st.integers(1, 400)),
        min_size=1,
        max_size=3,
    ),
    st.booleans(),
    st.sampled_from(["none"] * 6 + ["unbalanced", "wrong_currency", "unknown_account", "single"]),
)


def _postings(currency: str, legs: Legs, breakage: str) -> list[dict[str, Any]]:
    """Postings for ``legs``, closed by a leg that balances them unless ``breakage`` says."""
    pool = [a.code for a in ACCOUNTS if a.currency == currency]
    postings = [
        {"account": pool[i % len(pool)], "direction": d, "amount": amount, "currency": currency}
        for i, d, amount in legs
    ]
    net = sum(p["amount"] if p["direction"] == "debit" else -p["amount"] for p in postings)
    if net != 0:
        postings.append(
            {
                "account": pool[len(legs) % len(pool)],
                "direction": "credit" if net > 0 else "debit",
                "amount": abs(net),
                "currency": currency,
            }
        )
    if len(postings) < 2 and breakage != "single":
        postings += [
            {"account": pool[0], "direction": "debit", "amount": 1, "currency": currency},
            {"account": pool[1], "direction": "credit", "amount": 1, "currency": currency},
        ]
    if breakage == "unbalanced":
        postings[0] = {**postings[0], "amount": postings[0]["amount"] + 1}
    elif breakage == "wrong_currency":
        other = next(a.code for a in ACCOUNTS if a.currency != currency)
        postings[-1] = {**postings[-1], "account": other}
    elif breakage == "unknown_account":
        postings[0] = {**postings[0], "account": "nowhere"}
    elif breakage == "single":
        postings = postings[:1]
    return postings


class LedgerMachine(RuleBasedStateMachine):
    """The ledger of one fresh tenant against its model."""

    database: Database
    tenants = itertools.count()
    entries = Bundle("entries")

    def __init__(self) -> None:
        super().__init__()
        self.db = self.database
        self.tenant = make_tenant(self.db, f"prop{next(self.tenants)}").tenant_id
        self.ctx = ActorContext(self.tenant, "key:prop", frozenset({"service"}))
        with self.db.unit_of_work(self.tenant) as session:
            for a in ACCOUNTS:
                request = AccountRequest(
                    code=a.code, type=a.type, currency=a.currency, non_negative=a.non_negative
                )
                create_account(session, self.ctx, request)
        self.sums: dict[str, list[int]] = {a.code: [0, 0, 0, 0] for a in ACCOUNTS}
        self.status: dict[str, str] = {}
        self.requests: dict[str, EntryRequest] = {}
        self.reversal_of: dict[str, str] = {}
        self.ids = itertools.count()

    # --- the model ---------------------------------------------------------------------------

    def _valid(self, request: EntryRequest) -> bool:
        """The pure checks, written out independently of the ledger's invariants module."""
        if len(request.postings) < 2:
            return False
        net: dict[str, int] = {}
        for p in request.postings:
            account = BY_CODE.get(p.account)
            if account is None or account.currency != p.currency or p.amount <= 0:
                return False
            net[p.currency] = net.get(p.currency, 0) + (
                p.amount if p.direction == "debit" else -p.amount
            )
        return all(v == 0 for v in net.values())

    def _moved(
        self,
        sums: dict[str, list[int]],
        request: EntryRequest,
        *,
        before: bool | None,
        after: bool | None,
    ) -> dict[str, list[int]]:
        """``sums`` with the request's postings moved from one state (pending True, posted
        False, not counted None) to another."""
        moved = {code: list(values) for code, values in sums.items()}
        for p in request.postings:
            if before is not None:
                moved[p.account][SLOT[p.direction, before]] -= p.amount
            if after is not None:
                moved[p.account][SLOT[p.direction, after]] += p.amount
        return moved

    def _affordable(self, sums: dict[str, list[int]]) -> bool:
        return all(
            Balances(BY_CODE[code].normal_side, *sums[code]).available >= 0
            for code in sums
            if BY_CODE[code].non_negative
        )

    # --- running operations ------------------------------------------------------------------

    def _run(self, operation: Callable[[Session], Any]) -> tuple[Any, ZentraError | None]:
        """Run one operation in its own unit of work; a refusal must change nothing."""
        before = ledger_state(self.db, self.tenant)
        refusal: ZentraError | None = None
        try:
            with self.db.unit_of_work(self.tenant) as session:
                return operation(session), None
        except ZentraError as error:
            refusal = error
        assert ledger_state(self.db, self.tenant) == before, f"{refusal!r} changed the state"
        return None, refusal

    def _new_request(self, spec: tuple[str, Legs, bool, str]) -> EntryRequest:
        currency, legs, pending, breakage = spec
        return EntryRequest(
            entry_id=f"e{next(self.ids)}",
            effective_at=AT,
            postings=_postings(currency, legs, breakage),
            pending=pending,
        )

    # --- rules -------------------------------------------------------------------------------

    @rule(target=entries, spec=entry_specs)
    def record_entry(self, spec: tuple[str, Legs, bool, str]) -> Any:
        request = self._new_request(spec)
        valid = self._valid(request)
        after = self._moved(self.sums, request, before=None, after=request.pending) if valid else {}
        expected = valid and self._affordable(after)
        result, error = self._run(lambda s: create_entry(s, self.ctx, request))
        if not expected:
            assert isinstance(error, EntryRefused), error
            return multiple()
        assert error is None, error
        assert result.created
        self.sums = after
        self.status[request.entry_id] = "pending" if request.pending else "posted"
        self.requests[request.entry_id] = request
        return request.entry_id

    @rule(entry=entries)
    def replay_entry(self, entry: str) -> None:
        before = ledger_state(self.db, self.tenant)
        result, error = self._run(lambda s: create_entry(s, self.ctx, self.requests[entry]))
        assert error is None
        assert not result.created
        assert ledger_state(self.db, self.tenant) == before

    @rule(entry=entries)
    def post_entry(self, entry: str) -> None:
        status = self.status[entry]
        request = self.requests[entry]
        _, error = self._run(lambda s: post_entry(s, self.ctx, entry))
        if status == "voided":
            assert isinstance(error, EntryStateConflict)
        elif status == "posted":
            assert error is None  # a repeat: nothing moves
        else:
            assert error is None
            self.sums = self._moved(self.sums, request, before=True, after=False)
            self.status[entry] = "posted"

    @rule(entry=entries)
    def void_entry(self, entry: str) -> None:
        status = self.status[entry]
        _, error = self._run(lambda s: void_entry(s, self.ctx, entry))
        if status == "posted":
            assert isinstance(error, EntryStateConflict)
        else:
            assert error is None
            if status == "pending":
                self.sums = self._moved(self.sums, self.requests[entry], before=True, after=None)
                self.status[entry] = "voided"

    @rule(target=entries, entry=entries)
    def reverse_entry(self, entry: str) -> Any:
        status = self.status[entry]
        request = self.requests[entry]
        result, error = self._run(lambda s: reverse_entry(s, self.ctx, entry))
        if entry in self.reversal_of:
            assert error is None
            assert not result.created
            return multiple()
        if status != "posted":
            assert isinstance(error, EntryStateConflict)
            return multiple()
        mirrored = request.model_copy(
            update={
                "postings": [
                    p.model_copy(
                        update={"direction": "credit" if p.direction == "debit" else "debit"}
                    )
                    for p in request.postings
                ],
                "pending": False,
            }
        )
        after = self._moved(self.sums, mirrored, before=None, after=False)
        if not self._affordable(after):
            assert isinstance(error, EntryRefused)
            return multiple()
        assert error is None, error
        assert result.created
        reversal = result.entry.entry_id
        self.sums = after
        self.status[reversal] = "posted"
        self.reversal_of[entry] = reversal
        self.requests[reversal] = EntryRequest(
            entry_id=reversal,
            description=result.entry.description,
            effective_at=result.entry.effective_at,
            postings=mirrored.postings,
            references=request.references,
        )
        return reversal

    @rule(
        target=entries,
        specs=st.lists(entry_specs, min_size=1, max_size=6),
        replays=st.lists(consumes(entries) | entries, max_size=2),
        atomic=st.booleans(),
    )
    def batch(self, specs: list[Any], replays: list[str], atomic: bool) -> Any:
        requests = [self._new_request(spec) for spec in specs]
        requests += [self.requests[entry] for entry in replays]
        # The model walks the batch in order, like the ledger does.
        sums = self.sums
        outcomes = []
        for request in requests:
            if request.entry_id in self.status:
                outcomes.append("existing")
                continue
            if not self._valid(request):
                outcomes.append("refused")
                continue
            after = self._moved(sums, request, before=None, after=request.pending)
            if self._affordable(after):
                sums = after
                outcomes.append("created")
            else:
                outcomes.append("refused")
        result, error = self._run(
            lambda s: post_entries_batch(s, self.ctx, requests, atomic=atomic)
        )
        if atomic and "refused" in outcomes:
            assert isinstance(error, EntryRefused), error
            assert error.extensions["index"] == outcomes.index("refused")
            return multiple(*replays)
        assert error is None, error
        assert [item.outcome for item in result.items] == outcomes
        self.sums = sums
        created = []
        for request, outcome in zip(requests, outcomes, strict=True):
            if outcome == "created":
                self.status[request.entry_id] = "pending" if request.pending else "posted"
                self.requests[request.entry_id] = request
                created.append(request.entry_id)
        return multiple(*created, *replays)

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def ledger_holds(self) -> None:
        state = ledger_state(self.db, self.tenant)
        stored = {code: list(values) for code, *values in state["accounts"]}
        for currency in ("EUR", "USD"):
            codes = [a.code for a in ACCOUNTS if a.currency == currency]
            assert sum(stored[c][0] - stored[c][1] for c in codes) == 0  # posted
            assert sum(stored[c][2] - stored[c][3] for c in codes) == 0  # pending
        recomputed = sums_recomputed_from_postings(self.db, self.tenant)
        for code, values in stored.items():
            assert values == recomputed.get(code, [0, 0, 0, 0]), code
            if BY_CODE[code].non_negative:
                assert Balances(BY_CODE[code].normal_side, *values).available >= 0
        assert stored == self.sums
        assert {entry: status for entry, status, _by in state["entries"]} == self.status


def _run_machine(database: Database, examples: int, steps: int) -> None:
    machine = type("Ledger", (LedgerMachine,), {"database": database})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_the_ledger_holds_under_random_operations_on_sqlite(sqlite_db: Database) -> None:
    _run_machine(sqlite_db, examples=200, steps=5)


def test_the_ledger_holds_under_random_operations_on_postgresql(postgres_db: Database) -> None:
    _run_machine(postgres_db, examples=15, steps=5)
