"""Late callbacks: what a provider says about a reference after a run already reconciled it.

A verified callback (``providers.service.receive_callback``) that brings money (an external
record) or a lifecycle status for a provider reference is correlated by the day it is dated (its
booking time, else its arrival), under each reference it names (a Stripe refund names its own id
and its charge's).

**Runs in review** of its provider whose window covers that day get
``reconciliation.callback.correlated`` (listing what happened to each exception), and every open
exception of the run about the same reference records the callback as evidence (an ``evidence``
activity and an entry in ``details.callbacks``). Then the first rule that applies:

1. a ``missing_from_settlement`` whose movement the callback's money confirms (same class of
   movement, same amount and currency, no failure reported) is **resolved**, decision
   ``confirmed_by_callback``, by the connection (actor ``provider:<connection id>``), with a note
   naming the callback: the provider says the money moved, the file just did not carry it yet;
2. the callback reports ``failed`` about a settlement row that says the money moved (an
   ``unmatched_provider_row``, ``amount_mismatch`` or ``currency_mismatch`` whose row is not a
   reversal): the exception is **retyped** to ``status_conflict``;
3. the settlement says it failed (``failed_settlement``) and the callback says the money moved
   (a record that is not a reversal, or the status ``captured``): **retyped** to
   ``status_conflict``;
4. otherwise the exception stays as it is, with the evidence: an ``unmatched_provider_row``
   that a callback confirms still has no internal activity, a ``missing_from_settlement`` that
   a callback reports failed still needs someone to undo the internal booking.

A retype keeps the former type in ``details.previous_types`` and a ``retyped`` activity; a
resolution emits ``reconciliation.exception.resolved``; every change is audited.

A ``failed`` callback about a settlement row the run *matched* (no exception to change) opens a
``status_conflict`` exception for that pair in the run, once per match; the match stays for an
operator to undo. Refunds and reversals a callback reports are later events, not contradictions
of the payment: evidence only (as at match time, :mod:`zentra.reconciliation.status_conflicts`).

**Closed runs** (``closing`` or ``closed``) never change: their evidence is sealed. When such a
run covers the day and no run in review does, the callback becomes a **post-close adjustment**
(:mod:`zentra.reconciliation.post_close`): a ``late_callback`` exception carrying
``post_close_of`` (the closed run's id), in the next run of the provider, or waiting without a
run (its connection and date set, listed in the exception queue) until that run is created.
One per callback (its natural key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from zentra.kit.context import ActorContext
from zentra.kit.references import reference_key
from zentra.kit.time import isoformat, utcnow
from zentra.matching.columns import EXTERNAL_TYPE_CLASS, MOVEMENT_TYPE_CLASS
from zentra.models import ExternalRecord, ReconciliationException, ReconciliationRun
from zentra.reconciliation import correlation_repository as repository
from zentra.reconciliation.exception_writes import (
    add_evidence,
    announce_callback_correlated,
    correlation_outcome,
    open_exception,
    resolve_exception,
    retype_exception,
)
from zentra.reconciliation.post_close import SEALED_RUN_STATUSES, open_post_close_adjustment

CONFIRMED_BY_CALLBACK = "confirmed_by_callback"
"""The decision of a ``missing_from_settlement`` a callback confirmed."""
BOOKED_ROW_TYPES = frozenset({"unmatched_provider_row", "amount_mismatch", "currency_mismatch"})
"""Exception types about a settlement row the provider booked (rule 2)."""


@dataclass(frozen=True, slots=True)
class CallbackNews:
    """What one verified callback says, as correlation reads it.

    ``record`` is its money (None for a status-only event); ``status`` the lifecycle status it
    reports for ``status_reference`` (None when it reports none). ``day`` is the day it is dated.
    """

    callback_id: str
    connection_id: str
    provider: str
    provider_event_id: str
    day: date
    record: ExternalRecord | None = None
    status: str | None = None
    status_reference: str | None = None

    def claims(self) -> list[tuple[str, ExternalRecord | None, str | None]]:
        """``(reference key, record, status)`` per distinct reference the callback names."""
        by_key: dict[str, tuple[ExternalRecord | None, str | None]] = {}
        if self.record is not None and self.record.reference_key:
            by_key[self.record.reference_key] = (self.record, None)
        if self.status is not None and self.status_reference:
            key = reference_key(self.status_reference)
            if key:
                by_key[key] = (by_key.get(key, (None, None))[0], self.status)
        return [(key, record, status) for key, (record, status) in sorted(by_key.items())]

    def evidence(self) -> dict[str, Any]:
        """The callback as an exception's evidence."""
        record = self.record
        return {
            "callback_id": self.callback_id,
            "connection_id": self.connection_id,
            "provider_event_id": self.provider_event_id,
            "external_record_id": None if record is None else record.id,
            "provider_reference": record.provider_reference
            if record is not None
            else self.status_reference,
            "type": None if record is None else record.type,
            "amount_minor": None if record is None else record.amount_minor,
            "currency": None if record is None else record.currency,
            "status": self.status,
            "received_at": isoformat(utcnow()),
        }


def _says_moved(record: ExternalRecord | None, status: str | None) -> bool:
    return (record is not None and record.type != "reversal") or status == "captured"


def _confirms_movement(
    session: Session, ctx: ActorContext, exception: ReconciliationException, record: ExternalRecord
) -> bool:
    """True when ``record`` is the money of the exception's movement: same class of movement,
    same magnitude (providers sign outflows, internal systems often do not), same currency."""
    if exception.movement_id is None:
        return False
    movement = repository.get_movement(session, ctx.tenant_id, exception.movement_id)
    if movement is None:
        return False
    return (
        EXTERNAL_TYPE_CLASS.get(record.type) == MOVEMENT_TYPE_CLASS.get(movement.type)
        and abs(record.amount_minor) == abs(movement.amount_minor)
        and record.currency == movement.currency
    )


def _row_says_moved(
    session: Session, ctx: ActorContext, exception: ReconciliationException
) -> bool:
    if exception.external_record_id is None:
        return False
    row = repository.get_external_record(session, ctx.tenant_id, exception.external_record_id)
    return row is not None and row.type != "reversal"


def _apply_rules(
    session: Session,
    ctx: ActorContext,
    news: CallbackNews,
    exception: ReconciliationException,
    record: ExternalRecord | None,
    status: str | None,
) -> str:
    """Apply the module docstring's rules 1-4 to one exception; the outcome's name."""
    failed = status == "failed"
    change = {"callback_id": news.callback_id}
    if (
        exception.type == "missing_from_settlement"
        and record is not None
        and not failed
        and _confirms_movement(session, ctx, exception, record)
    ):
        note = (
            f"confirmed by callback {news.callback_id} (provider event {news.provider_event_id}):"
            f" {record.type} {record.amount_minor} {record.currency}"
        )
        resolve_exception(
            session, ctx, exception, decision=CONFIRMED_BY_CALLBACK, note=note, data=change
        )
        return "resolved"
    if failed and exception.type in BOOKED_ROW_TYPES and _row_says_moved(session, ctx, exception):
        retype_exception(
            session,
            ctx,
            exception,
            "status_conflict",
            reason=f"callback {news.callback_id} reports failed; the settlement booked the row",
            data=change,
        )
        return "retyped"
    if exception.type == "failed_settlement" and _says_moved(record, status):
        retype_exception(
            session,
            ctx,
            exception,
            "status_conflict",
            reason=f"callback {news.callback_id} says the money moved; the settlement failed it",
            data=change,
        )
        return "retyped"
    return "evidence"


def _conflicts_with_matches(
    session: Session,
    ctx: ActorContext,
    news: CallbackNews,
    run: ReconciliationRun,
    key: str,
    evidence: dict[str, Any],
) -> list[ReconciliationException]:
    """Open a ``status_conflict`` per match of the run holding a booked row of ``key``."""
    opened = []
    for match_id, record_id, record_type, movement_ids in repository.matches_of_reference(
        session, ctx.tenant_id, run.id, key
    ):
        row = repository.get_external_record(session, ctx.tenant_id, record_id)
        if row is None or record_type == "reversal":
            continue
        exception = open_exception(
            session,
            ctx,
            type="status_conflict",
            owner=run.owner,
            run_id=run.id,
            natural_key=f"status_conflict:{run.id}:{match_id}",
            provider_reference=row.provider_reference,
            external_record_id=row.id,
            movement_id=movement_ids[0] if movement_ids else None,
            amount_minor=row.amount_minor,
            currency=row.currency,
            details={
                "rule": None,
                "match_id": match_id,
                "provider_says": {"status": "booked", "type": record_type},
                "callback_says": {"status": "failed", "callback_id": news.callback_id},
                "callbacks": [evidence],
                "candidates": movement_ids,
                "nearest": [],
            },
        )
        if exception is not None:
            opened.append(exception)
    return opened


def _correlate_into_run(
    session: Session, ctx: ActorContext, news: CallbackNews, run: ReconciliationRun
) -> None:
    evidence = news.evidence()
    outcomes: list[dict[str, Any]] = []
    for key, record, status in news.claims():
        for exception in repository.open_exceptions_of_reference(session, ctx.tenant_id, run, key):
            from_type = exception.type
            add_evidence(session, ctx, exception, "callbacks", evidence)
            outcome = _apply_rules(session, ctx, news, exception, record, status)
            outcomes.append(correlation_outcome(exception, outcome, from_type))
        if status == "failed":
            outcomes += [
                correlation_outcome(exception, "opened")
                for exception in _conflicts_with_matches(session, ctx, news, run, key, evidence)
            ]
    announce_callback_correlated(session, ctx, run, evidence, outcomes)


def _post_close(
    session: Session, ctx: ActorContext, news: CallbackNews, closed: ReconciliationRun
) -> None:
    record = news.record
    evidence = news.evidence()
    open_post_close_adjustment(
        session,
        ctx,
        closed,
        type="late_callback",
        day=news.day,
        natural_key=f"late_callback:{news.callback_id}",
        connection_id=news.connection_id,
        provider_reference=evidence["provider_reference"],
        external_record_id=None if record is None else record.id,
        amount_minor=None if record is None else record.amount_minor,
        currency=None if record is None else record.currency,
        details={"rule": None, "callbacks": [evidence], "candidates": [], "nearest": []},
    )


def correlate_callback(session: Session, ctx: ActorContext, news: CallbackNews) -> list[str]:
    """Correlate one callback (see the module docstring); return the ids of the runs in review
    it was correlated into. Never commits.

    The runs in review are held ``FOR SHARE`` before anything is read from them, as every
    exception change holds its run: a closeout sealing one of them meanwhile either finishes
    first (the callback then sees it sealed) or waits for this transaction. Call it before
    anything in the transaction appends to the audit chain: a closeout takes its run, then the
    chain, so taking them in the other order could deadlock with it.
    """
    runs = repository.runs_covering(
        session, ctx.tenant_id, news.provider, news.day, ["review"], share_lock=True
    )
    for run in runs:
        _correlate_into_run(session, ctx, news, run)
    if not runs:
        sealed = repository.runs_covering(
            session, ctx.tenant_id, news.provider, news.day, SEALED_RUN_STATUSES
        )
        if sealed:
            # The latest sealed run covering the day is the one the news comes too late for.
            _post_close(session, ctx, news, sealed[-1])
    return [run.id for run in runs]
