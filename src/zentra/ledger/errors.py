"""Refusals of the ledger, in the tree of :mod:`zentra.kit.errors`::

    InvalidInput
    ├── EntryRefused                 an entry breaks an invariant; ``violations`` lists them all
    │   ├── TooFewPostings           ledger.too_few_postings
    │   ├── InvalidPostingAmount     ledger.invalid_amount
    │   ├── UnknownPostingCurrency   ledger.unknown_currency
    │   ├── UnknownAccount           ledger.unknown_account
    │   ├── CurrencyMismatch         ledger.currency_mismatch
    │   ├── UnbalancedEntry          ledger.unbalanced_entry
    │   └── InsufficientBalance      ledger.insufficient_balance
    └── BatchTooLarge                more entries in one batch than allowed
    Conflict
    ├── InvalidTransition
    │   └── EntryStateConflict       the entry's status forbids the step (void a posted entry)
    ├── DuplicateResource
    │   ├── EntryConflict            same entry_id, other content; ``fields`` names what differs
    │   └── AccountConflict          same account code, other currency, type or flags

An :class:`EntryRefused` carries its class's code: the code of the *first* violation (the order
of :data:`zentra.ledger.invariants.ENTRY_CHECKS`). In a batch, ``index`` and ``entry_id`` say
which entry was refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zentra.kit.errors import DuplicateResource, InvalidInput, InvalidTransition
from zentra.ledger.invariants import Violation


class EntryRefused(InvalidInput):
    """An entry that breaks one or more ledger invariants; nothing was written."""

    code = "ledger.entry_refused"
    title = "Ledger entry refused"


class TooFewPostings(EntryRefused):
    """Fewer than two postings."""

    code = "ledger.too_few_postings"
    title = "Too few postings"


class InvalidPostingAmount(EntryRefused):
    """An amount that is not a positive integer in minor units."""

    code = "ledger.invalid_amount"
    title = "Invalid posting amount"


class UnknownPostingCurrency(EntryRefused):
    """A currency that is not ISO 4217 with minor units."""

    code = "ledger.unknown_currency"
    title = "Unknown currency"


class UnknownAccount(EntryRefused):
    """A posting to an account the tenant does not have."""

    code = "ledger.unknown_account"
    title = "Unknown account"


class CurrencyMismatch(EntryRefused):
    """A posting in another currency than its account's."""

    code = "ledger.currency_mismatch"
    title = "Posting currency differs from the account's"


class UnbalancedEntry(EntryRefused):
    """Debits and credits differ for some currency."""

    code = "ledger.unbalanced_entry"
    title = "Unbalanced entry"


class InsufficientBalance(EntryRefused):
    """A non-negative account would fall below zero (available balance)."""

    code = "ledger.insufficient_balance"
    title = "Insufficient available balance"


class BatchTooLarge(InvalidInput):
    """A batch with more entries than one request may carry."""

    code = "ledger.batch_too_large"
    title = "Batch too large"


class EntryStateConflict(InvalidTransition):
    """The entry's status does not allow this step (only a pending entry can be voided)."""

    code = "ledger.invalid_transition"
    title = "Entry status does not allow this"


class EntryConflict(DuplicateResource):
    """An ``entry_id`` that exists with other content."""

    code = "ledger.entry_conflict"
    title = "Entry exists with different content"


class AccountConflict(DuplicateResource):
    """An account code that exists with another currency, type or flags."""

    code = "ledger.account_conflict"
    title = "Account exists with different settings"


_REFUSALS: dict[str, type[EntryRefused]] = {
    refusal.code: refusal
    for refusal in (
        TooFewPostings,
        InvalidPostingAmount,
        UnknownPostingCurrency,
        UnknownAccount,
        CurrencyMismatch,
        UnbalancedEntry,
        InsufficientBalance,
    )
}


def refusal(violations: Sequence[Violation], **extensions: Any) -> EntryRefused:
    """The error for ``violations`` (not empty): the class of the first, listing them all."""
    first = violations[0]
    error_type = _REFUSALS.get(first.code, EntryRefused)
    detail = "; ".join(violation.message for violation in violations)
    return error_type(detail, violations=[v.as_json() for v in violations], **extensions)


def entry_conflict(entry_id: str, fields: Sequence[str], /, **extensions: Any) -> EntryConflict:
    """The conflict of ``entry_id`` stored with other ``fields``."""
    named = ", ".join(fields) or "content"
    return EntryConflict(
        f"entry {entry_id} exists with other {named}",
        field=fields[0] if fields else None,
        fields=list(fields),
        **extensions,
    )
