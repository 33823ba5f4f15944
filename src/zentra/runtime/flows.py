"""The ledger flow of a payment intent (pure): which accounts exist and which entries post.

Every account of the flow is a balance the platform holds for someone (type ``liability``): a
move of money from one to another debits the first and credits the second. The flow::

    ledgered     source (customer_balance)  ->  reserved_balance          the intent's amount
    settled      reserved_balance  ->  settlement_account (amount - fee)
                                   ->  provider_fees      (fee, when the rail charged one)
    credited     settlement_account  ->  destination (merchant_balance)   amount - fee
    paid out     destination  ->  payout_clearing                         amount - fee

The system accounts (``reserved_balance``, ``settlement_account``, ``payout_clearing``,
``provider_fees``) are created in the intent's currency when first needed and may never go
below zero. A ledger account has one currency, so a workspace that pays in several currencies
keeps the plain code for the first currency it used and a suffixed one for each other
(``reserved_balance_usd``): :func:`system_account_code`. Each entry's ``entry_id`` is derived
from the intent's id and the step, so posting a step twice (a retried request, a duplicate
callback) finds the entry already there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from zentra.ledger.entries import CREDIT, DEBIT, PostingLine

ACCOUNT_TYPE = "liability"
RESERVED = "reserved_balance"
SETTLEMENT = "settlement_account"
PAYOUT_CLEARING = "payout_clearing"
PROVIDER_FEES = "provider_fees"
SYSTEM_ACCOUNTS = (RESERVED, SETTLEMENT, PAYOUT_CLEARING, PROVIDER_FEES)


def system_account_code(base: str, currency: str, existing_currency: str | None) -> str:
    """The code of system account ``base`` in ``currency``: ``base`` itself when it does not
    exist yet or is in that currency (``existing_currency``), else ``base_<currency>``."""
    if existing_currency is None or existing_currency == currency:
        return base
    return f"{base}_{currency.lower()}"


@dataclass(frozen=True, slots=True)
class SystemAccounts:
    """The codes of the flow's system accounts in one currency."""

    reserved: str = RESERVED
    settlement: str = SETTLEMENT
    payout_clearing: str = PAYOUT_CLEARING
    provider_fees: str = PROVIDER_FEES

    @property
    def codes(self) -> tuple[str, ...]:
        return (self.reserved, self.settlement, self.payout_clearing, self.provider_fees)


@dataclass(frozen=True, slots=True)
class PlannedEntry:
    """An entry the flow posts: its id, description, postings and provider reference."""

    entry_id: str
    step: str
    description: str
    postings: tuple[PostingLine, ...]
    provider_reference: str | None
    effective_at: datetime
    metadata: dict[str, Any]


def entry_id_for(intent_id: str, step: str) -> str:
    """The ``entry_id`` of one step of an intent's flow: ``intent:<intent_id>:<step>``."""
    return f"intent:{intent_id}:{step}"


def _move(
    source: str, destination: str, amount: int, currency: str
) -> tuple[PostingLine, PostingLine]:
    return (
        PostingLine(source, DEBIT, amount, currency),
        PostingLine(destination, CREDIT, amount, currency),
    )


DEFAULT_SYSTEM_ACCOUNTS = SystemAccounts()


def reservation(
    intent_id: str,
    source: str,
    amount: int,
    currency: str,
    at: datetime,
    system: SystemAccounts = DEFAULT_SYSTEM_ACCOUNTS,
) -> PlannedEntry:
    """The ``ledgered`` entry: the intent's amount from the source to ``reserved_balance``."""
    return PlannedEntry(
        entry_id=entry_id_for(intent_id, "reserve"),
        step="reserve",
        description=f"intent {intent_id}: reserve {source}",
        postings=_move(source, system.reserved, amount, currency),
        provider_reference=None,
        effective_at=at,
        metadata={"intent_id": intent_id, "step": "reserve"},
    )


def settlement(
    intent_id: str,
    destination: str,
    amount: int,
    fee: int,
    currency: str,
    provider_reference: str,
    at: datetime,
    system: SystemAccounts = DEFAULT_SYSTEM_ACCOUNTS,
) -> tuple[PlannedEntry, ...]:
    """The entries of a settlement: settled (with the fee), merchant credit, payout.

    ``fee`` must be within ``[0, amount)``: a fee that eats the whole amount leaves nothing to
    credit and is refused with ValueError (the caller decides what that means).
    """
    if not 0 <= fee < amount:
        raise ValueError(f"a fee of {fee} on {amount} leaves nothing to settle")
    net = amount - fee
    settled = [
        PostingLine(system.reserved, DEBIT, amount, currency),
        PostingLine(system.settlement, CREDIT, net, currency),
    ]
    if fee:
        settled.append(PostingLine(system.provider_fees, CREDIT, fee, currency))

    def entry(step: str, description: str, postings: tuple[PostingLine, ...]) -> PlannedEntry:
        return PlannedEntry(
            entry_id=entry_id_for(intent_id, step),
            step=step,
            description=f"intent {intent_id}: {description}",
            postings=postings,
            provider_reference=provider_reference,
            effective_at=at,
            metadata={"intent_id": intent_id, "step": step, "fee": fee},
        )

    return (
        entry("settle", "settled by the rail", tuple(settled)),
        entry(
            "credit", f"credit {destination}", _move(system.settlement, destination, net, currency)
        ),
        entry(
            "payout",
            f"pay out {destination}",
            _move(destination, system.payout_clearing, net, currency),
        ),
    )
