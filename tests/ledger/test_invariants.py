"""The ledger's pure core: invariant checks, balances, content hashes (no database)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zentra.kit.canonical import canonical_hash
from zentra.ledger.entries import MAX_AMOUNT, Balances, Delta, PostingLine, content_hash
from zentra.ledger.errors import CurrencyMismatch, EntryRefused, UnbalancedEntry, refusal
from zentra.ledger.invariants import AccountFacts, Violation, check_entry, non_negative_accounts

ACCOUNTS = {
    "cash": AccountFacts("cash", "EUR", non_negative=False),
    "wallet": AccountFacts("wallet", "EUR", non_negative=True),
    "cash_usd": AccountFacts("cash_usd", "USD", non_negative=False),
    "wallet_usd": AccountFacts("wallet_usd", "USD", non_negative=False),
}


def debit(account: str, amount: Any, currency: str = "EUR") -> PostingLine:
    return PostingLine(account, "debit", amount, currency)


def credit(account: str, amount: Any, currency: str = "EUR") -> PostingLine:
    return PostingLine(account, "credit", amount, currency)


def codes(violations: list[Violation]) -> list[str]:
    return [v.code for v in violations]


def test_a_balanced_entry_passes_every_check() -> None:
    assert check_entry([debit("cash", 100), credit("wallet", 100)], ACCOUNTS) == []


def test_balance_is_per_currency_not_overall() -> None:
    # 100 EUR against 100 USD sums to zero overall, and is unbalanced in each currency.
    lines = [
        debit("cash", 100),
        credit("wallet_usd", 100, "USD"),
    ]
    found = check_entry(lines, ACCOUNTS)
    assert codes(found) == ["ledger.unbalanced_entry", "ledger.unbalanced_entry"]
    assert [v.currency for v in found] == ["EUR", "USD"]
    mixed = [
        debit("cash", 100),
        credit("wallet", 100),
        debit("cash_usd", 7, "USD"),
        credit("wallet_usd", 7, "USD"),
    ]
    assert check_entry(mixed, ACCOUNTS) == []


def test_one_posting_is_too_few() -> None:
    assert codes(check_entry([debit("cash", 100)], ACCOUNTS))[0] == "ledger.too_few_postings"


@pytest.mark.parametrize("amount", [0, -5, MAX_AMOUNT + 1, True, 1.5, "100"])
def test_amounts_are_positive_integers_within_json_range(amount: Any) -> None:
    found = check_entry([debit("cash", amount), credit("wallet", amount)], ACCOUNTS)
    assert codes(found)[:2] == ["ledger.invalid_amount", "ledger.invalid_amount"]
    assert [v.posting for v in found[:2]] == [0, 1]


def test_unknown_currencies_and_accounts_are_named() -> None:
    found = check_entry([debit("cash", 1, "XXX"), credit("nowhere", 1, "XXX")], ACCOUNTS)
    assert "ledger.unknown_currency" in codes(found)
    unknown = [v for v in found if v.code == "ledger.unknown_account"]
    assert [(v.posting, v.account) for v in unknown] == [(1, "nowhere")]


def test_a_posting_in_another_currency_than_its_account_is_refused() -> None:
    found = check_entry([debit("cash", 5, "USD"), credit("wallet_usd", 5, "USD")], ACCOUNTS)
    assert codes(found) == ["ledger.currency_mismatch"]
    assert (found[0].posting, found[0].account, found[0].currency) == (0, "cash", "USD")


def test_the_refusal_takes_the_first_violations_code_and_lists_all() -> None:
    found = check_entry([debit("cash", 5, "USD"), credit("wallet", 4)], ACCOUNTS)
    error = refusal(found, index=3)
    assert isinstance(error, CurrencyMismatch)
    assert isinstance(error, EntryRefused)
    assert error.code == "ledger.currency_mismatch"
    assert [v["code"] for v in error.extensions["violations"]] == codes(found)
    assert error.extensions["index"] == 3
    assert isinstance(refusal([Violation("ledger.unbalanced_entry", "x")]), UnbalancedEntry)


def test_balances_are_signed_by_the_normal_side() -> None:
    asset = Balances("debit", posted_debits=500, posted_credits=200, pending_debits=70)
    asset = asset.apply(Delta(pending_credits=50))
    assert (asset.posted, asset.pending, asset.available) == (300, 20, 250)
    liability = Balances("credit", posted_credits=500, posted_debits=100, pending_debits=30)
    # Pending inflows (credits here) are not available; pending outflows are reserved.
    liability = liability.apply(Delta(pending_credits=1000))
    assert (liability.posted, liability.pending, liability.available) == (400, 970, 370)


@pytest.mark.parametrize("pending", [False, True])
@pytest.mark.parametrize("direction", ["debit", "credit"])
def test_a_posting_adds_to_the_sum_of_its_side_and_state(direction: str, pending: bool) -> None:
    field = f"{'pending' if pending else 'posted'}_{direction}s"
    assert Delta.of(direction, 7, pending=pending) == Delta(**{field: 7})


def test_non_negative_accounts_may_not_go_below_zero_available() -> None:
    after = {
        "wallet": Balances("credit", posted_credits=100, pending_debits=101),
        "cash": Balances("debit", posted_credits=10_000),
    }
    found = non_negative_accounts(after, ACCOUNTS)
    assert [(v.code, v.account) for v in found] == [("ledger.insufficient_balance", "wallet")]
    after["wallet"] = Balances("credit", posted_credits=100, pending_debits=100)
    assert non_negative_accounts(after, ACCOUNTS) == []


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(
    description=st.text(),
    metadata=st.dictionaries(st.text(), JSON, max_size=4),
    references=st.dictionaries(st.text(), st.text(), max_size=3),
    amounts=st.lists(st.integers(min_value=1, max_value=MAX_AMOUNT), min_size=1, max_size=4),
    pending=st.booleans(),
)
def test_the_fast_content_hash_is_the_rfc8785_hash(
    description: str,
    metadata: dict[str, Any],
    references: dict[str, str],
    amounts: list[int],
    pending: bool,
) -> None:
    content = {
        "entry_id": "e-1",
        "description": description,
        "effective_at": "2026-04-26T10:00:00Z",
        "postings": [
            {"account": "cash", "direction": "debit", "amount": a, "currency": "EUR"}
            for a in amounts
        ],
        "pending": pending,
        "metadata": metadata,
        "references": references,
    }
    try:
        expected = canonical_hash(content)
    except Exception:  # RFC 8785 refuses lone surrogates; so must the fast path
        with pytest.raises(Exception):  # noqa: B017, PT011
            content_hash(content)
        return
    assert content_hash(content) == expected
