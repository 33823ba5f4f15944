"""Settlement of an intent by its rail: reserved -> settlement (and fees), then the merchant
credit and the payout (runtime/flows.py). Nothing here commits.

A rail reports settlement in a callback; :func:`settle_intent` is what the runtime does with it,
once. The intent is found by its rail and provider reference (row-locked), and settled only when
the rail's amount and currency are the intent's: a rail that reports another amount is left to
reconciliation (``amount_differs``), never posted on a guess. Settling an intent again (a
duplicate callback that slipped past the callback store, a replayed delivery) posts nothing:
the intent is already settled, and the entry ids are the flow's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from zentra.audit.service import record_audit
from zentra.kit.context import ActorContext
from zentra.kit.errors import ZentraError
from zentra.runtime import flows, repository
from zentra.runtime.intents import post_planned_entry, system_accounts

SETTLED = "settled"
ALREADY_SETTLED = "already_settled"
UNKNOWN_REFERENCE = "unknown_reference"
AMOUNT_DIFFERS = "amount_differs"
INVALID_FEE = "invalid_fee"
LEDGER_REFUSED = "ledger_refused"


@dataclass(frozen=True, slots=True)
class SettlementNotice:
    """What a rail reports: this reference settled for this amount, less this fee."""

    provider_reference: str
    amount: int
    currency: str
    fee: int


@dataclass(frozen=True, slots=True)
class SettlementOutcome:
    """What settling did: ``settled``, or why nothing was posted."""

    outcome: str
    intent_id: str | None = None
    entries: tuple[str, ...] = field(default_factory=tuple)
    detail: dict[str, Any] = field(default_factory=dict)


def settle_intent(
    session: Session, ctx: ActorContext, *, rail: str, notice: SettlementNotice, at: datetime
) -> SettlementOutcome:
    """Post the settlement of the intent ``rail`` knows as ``notice.provider_reference``
    (see the module docstring). Audited as ``runtime.intent.settled`` when it posts."""
    intent = repository.find_intent_by_reference(
        session, ctx.tenant_id, rail, notice.provider_reference
    )
    if intent is None:
        return SettlementOutcome(UNKNOWN_REFERENCE)
    if intent.settled_at is not None:
        return SettlementOutcome(ALREADY_SETTLED, intent.intent_id)
    if (notice.amount, notice.currency) != (intent.amount_minor, intent.currency):
        return SettlementOutcome(
            AMOUNT_DIFFERS,
            intent.intent_id,
            detail={"reported": notice.amount, "intent": intent.amount_minor},
        )
    system = system_accounts(session, ctx.tenant_id, intent.currency)
    try:
        planned = flows.settlement(
            intent.intent_id,
            intent.destination,
            intent.amount_minor,
            notice.fee,
            intent.currency,
            notice.provider_reference,
            at,
            system,
        )
    except ValueError:
        return SettlementOutcome(INVALID_FEE, intent.intent_id, detail={"fee": notice.fee})
    try:
        with session.begin_nested():
            for entry in planned:
                post_planned_entry(session, ctx, entry, system)
    except ZentraError as refused:
        return SettlementOutcome(
            LEDGER_REFUSED,
            intent.intent_id,
            detail={"code": refused.code, "detail": refused.detail},
        )
    entries = tuple(entry.entry_id for entry in planned)
    intent.ledger_entries = [*intent.ledger_entries, *entries]
    intent.settled_at = at
    intent.updated_at = at
    session.flush()
    record_audit(
        session,
        ctx,
        "runtime.intent.settled",
        "intent",
        intent.id,
        details={
            "intent_id": intent.intent_id,
            "rail": rail,
            "provider_reference": notice.provider_reference,
            "amount": notice.amount,
            "fee": notice.fee,
            "currency": notice.currency,
            "entries": list(entries),
        },
    )
    return SettlementOutcome(SETTLED, intent.intent_id, entries)
