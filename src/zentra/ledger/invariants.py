"""The ledger's invariants as a readable list of pure checks.

Each check looks at one entry (its posting lines and the accounts they name) and returns the
violations it finds, each with a stable ``code``; an empty list means the entry passes. The
service runs :data:`ENTRY_CHECKS` in order and refuses the entry with the first violation's code
(problem+json 422), listing all of them. The database holds the balance rule a second time
(ADR 0007), and a CHECK constraint the non-negative rule.

=============================  ================================================================
code                           the entry is refused when
=============================  ================================================================
``ledger.too_few_postings``    it has fewer than two postings
``ledger.invalid_amount``      an amount is not an integer in 1 .. 2**53 - 1 minor units
``ledger.unknown_currency``    a posting's currency is not an ISO 4217 currency with minor units
``ledger.unknown_account``     a posting names an account the tenant does not have
``ledger.currency_mismatch``   a posting's currency is not its account's currency
``ledger.unbalanced_entry``    for some currency, its debits and credits differ
``ledger.insufficient_balance``  a ``non_negative`` account's available balance would go below 0
=============================  ================================================================

The last one depends on the balances at the moment of posting: :func:`non_negative_accounts`
checks the balances an operation would leave, under the accounts' row locks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zentra.kit.errors import UnknownCurrency
from zentra.kit.money import currency_exponent
from zentra.ledger.entries import DEBIT, MAX_AMOUNT, Balances, PostingLine


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What the checks need to know of an account."""

    code: str
    currency: str
    non_negative: bool


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken invariant: a stable ``code``, a sentence, and where (posting index, account,
    currency) when it is about one place."""

    code: str
    message: str
    posting: int | None = None
    account: str | None = None
    currency: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The public shape, without the members that do not apply."""
        shown: dict[str, Any] = {"code": self.code, "message": self.message}
        for name in ("posting", "account", "currency"):
            value = getattr(self, name)
            if value is not None:
                shown[name] = value
        return shown


Accounts = Mapping[str, AccountFacts]
EntryCheck = Callable[[Sequence[PostingLine], Accounts], list[Violation]]


def at_least_two_postings(lines: Sequence[PostingLine], _accounts: Accounts) -> list[Violation]:
    """An entry moves money from somewhere to somewhere: two postings at least."""
    if len(lines) >= 2:
        return []
    return [Violation("ledger.too_few_postings", f"an entry needs two postings, not {len(lines)}")]


def amounts_are_positive_integers(
    lines: Sequence[PostingLine], _accounts: Accounts
) -> list[Violation]:
    """Amounts are integers in minor units, above zero and exact in JSON."""
    return [
        Violation(
            "ledger.invalid_amount",
            f"posting {index}: amount must be an integer from 1 to {MAX_AMOUNT} minor units",
            posting=index,
        )
        for index, line in enumerate(lines)
        if isinstance(line.amount, bool)
        or not isinstance(line.amount, int)
        or not 0 < line.amount <= MAX_AMOUNT
    ]


def currencies_are_known(lines: Sequence[PostingLine], _accounts: Accounts) -> list[Violation]:
    """Every currency is an ISO 4217 code with a minor unit."""
    found = []
    for index, line in enumerate(lines):
        try:
            currency_exponent(line.currency)
        except UnknownCurrency as error:
            found.append(
                Violation(
                    "ledger.unknown_currency", error.detail, posting=index, currency=line.currency
                )
            )
    return found


def accounts_exist(lines: Sequence[PostingLine], accounts: Accounts) -> list[Violation]:
    """Every posting names an account of the tenant."""
    return [
        Violation(
            "ledger.unknown_account",
            f"posting {index}: no account {line.account!r}",
            posting=index,
            account=line.account,
        )
        for index, line in enumerate(lines)
        if line.account not in accounts
    ]


def posting_currency_is_account_currency(
    lines: Sequence[PostingLine], accounts: Accounts
) -> list[Violation]:
    """An account holds one currency; a posting to it is in that currency."""
    found = []
    for index, line in enumerate(lines):
        account = accounts.get(line.account)
        if account is not None and account.currency != line.currency:
            found.append(
                Violation(
                    "ledger.currency_mismatch",
                    f"posting {index}: {line.currency} posted to {line.account}, "
                    f"an account in {account.currency}",
                    posting=index,
                    account=line.account,
                    currency=line.currency,
                )
            )
    return found


def balanced_per_currency(lines: Sequence[PostingLine], _accounts: Accounts) -> list[Violation]:
    """For every currency, the debits equal the credits."""
    net: dict[str, int] = {}
    for line in lines:
        if isinstance(line.amount, int):
            signed = line.amount if line.direction == DEBIT else -line.amount
            net[line.currency] = net.get(line.currency, 0) + signed
    return [
        Violation(
            "ledger.unbalanced_entry",
            f"{currency}: debits exceed credits by {difference}"
            if difference > 0
            else f"{currency}: credits exceed debits by {-difference}",
            currency=currency,
        )
        for currency, difference in sorted(net.items())
        if difference != 0
    ]


ENTRY_CHECKS: tuple[EntryCheck, ...] = (
    at_least_two_postings,
    amounts_are_positive_integers,
    currencies_are_known,
    accounts_exist,
    posting_currency_is_account_currency,
    balanced_per_currency,
)
"""The checks of one entry, in the order their violations are reported."""


def check_entry(lines: Sequence[PostingLine], accounts: Accounts) -> list[Violation]:
    """Every violation of :data:`ENTRY_CHECKS` by an entry with ``lines`` (empty: it passes)."""
    found: list[Violation] = []
    for check in ENTRY_CHECKS:
        found.extend(check(lines, accounts))
    return found


def non_negative_accounts(after: Mapping[str, Balances], accounts: Accounts) -> list[Violation]:
    """No ``non_negative`` account's available balance is below zero in ``after`` (balances by
    account code, as an operation would leave them)."""
    found = []
    for code, balances in sorted(after.items()):
        account = accounts.get(code)
        if account is not None and account.non_negative and balances.available < 0:
            found.append(
                Violation(
                    "ledger.insufficient_balance",
                    f"{code} is non-negative: its available balance would be {balances.available}",
                    account=code,
                    currency=account.currency,
                )
            )
    return found
