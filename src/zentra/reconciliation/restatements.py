"""Restatements: a provider sends a row again, under the same row id, with other content.

When a new settlement file arrives, each of its rows whose ``row_id`` an earlier file of the same
provider already carried with a different content hash is a restatement of that row. What
happens depends on the run (not a dry run) that reconciled the earlier file:

- **in review**: the run gets a ``restatement`` exception (owned by the run's owner): its result
  was built on a row the provider has since changed, and someone must decide;
- **closed** (or closing): its sealed evidence never changes. The restatement becomes a
  **post-close adjustment** (:mod:`zentra.reconciliation.post_close`): a ``restatement``
  exception carrying ``post_close_of`` (the closed run's id), in the next run of the provider,
  or waiting without a run until that run is created. It is about the day the row is booked on
  (else the closed run's last day), and its amount is the change the restatement brings
  (``details.amount_delta``; the new row's amount when the currency itself changed).

Either way the exception names both versions of the row (``details.previous`` and
``details.restated_by``: record and file ids, line, raw text, content hash, amount) and the
amount delta. Rows restated before any run used them need no decision: the next run reads the
newer file. A restated row opens one exception per run and pair of content hashes (its natural
key), however often the provider re-sends it.

The runs are read ``FOR SHARE``: a closeout of the same run either commits first (and the
restatement becomes an adjustment) or waits for the upload (and then sees the exception).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from zentra.kit.context import ActorContext
from zentra.kit.time import as_utc
from zentra.models import ExternalRecord, ReconciliationException, ReconciliationRun
from zentra.reconciliation import correlation_repository as repository
from zentra.reconciliation.closeout_repository import external_records_by_id
from zentra.reconciliation.exception_writes import open_exception
from zentra.reconciliation.post_close import SEALED_RUN_STATUSES, open_post_close_adjustment

REVIEW = "review"


def _version(record: ExternalRecord) -> dict[str, Any]:
    """One version of the row, as the exception's evidence."""
    return {
        "external_record_id": record.id,
        "settlement_file_id": record.settlement_file_id,
        "line": record.line,
        "raw": record.raw,
        "content_hash": record.content_hash,
        "provider_reference": record.provider_reference,
        "amount_minor": record.amount_minor,
        "currency": record.currency,
    }


def _amount_delta(earlier: ExternalRecord, restated: ExternalRecord) -> dict[str, Any] | None:
    """What the restatement changes in money; None when it changes the currency."""
    if earlier.currency != restated.currency:
        return None
    return {"amount": restated.amount_minor - earlier.amount_minor, "currency": restated.currency}


def _natural_key(run: ReconciliationRun, earlier: ExternalRecord, restated: ExternalRecord) -> str:
    return f"restatement:{run.id}:{earlier.content_hash}:{restated.content_hash}"


def _day(run: ReconciliationRun, earlier: ExternalRecord, restated: ExternalRecord) -> date:
    booked = restated.booked_at or earlier.booked_at
    return run.window_to if booked is None else as_utc(booked).date()


def _open(
    session: Session,
    ctx: ActorContext,
    run: ReconciliationRun,
    earlier: ExternalRecord,
    restated: ExternalRecord,
    connection_id: str | None,
) -> ReconciliationException | None:
    delta = _amount_delta(earlier, restated)
    details: dict[str, Any] = {
        "rule": None,
        "row_id": restated.row_id,
        "previous": _version(earlier),
        "restated_by": _version(restated),
        "amount_delta": delta,
        "candidates": [],
        "nearest": [],
    }
    if run.status == REVIEW:
        return open_exception(
            session,
            ctx,
            type="restatement",
            owner=run.owner,
            run_id=run.id,
            natural_key=_natural_key(run, earlier, restated),
            provider_reference=restated.provider_reference,
            external_record_id=earlier.id,
            amount_minor=restated.amount_minor,
            currency=restated.currency,
            details=details,
        )
    return open_post_close_adjustment(
        session,
        ctx,
        run,
        type="restatement",
        day=_day(run, earlier, restated),
        natural_key=_natural_key(run, earlier, restated),
        connection_id=connection_id,
        provider_reference=restated.provider_reference,
        external_record_id=earlier.id,
        amount_minor=restated.amount_minor if delta is None else delta["amount"],
        currency=restated.currency,
        details=details,
    )


def open_restatements(
    session: Session, ctx: ActorContext, settlement_file_id: str, provider: str
) -> int:
    """Open the restatements of the new file ``settlement_file_id`` (see the module docstring);
    return how many exceptions were opened (a row already restated before opens none). Runs in
    the caller's transaction (the upload's); never commits."""
    found = repository.restated_rows(
        session, ctx.tenant_id, settlement_file_id, provider, (REVIEW, *SEALED_RUN_STATUSES)
    )
    if not found:
        return 0
    runs = {
        run.id: run
        for run in repository.share_lock_runs(session, ctx.tenant_id, [r for r, _, _ in found])
    }
    records = external_records_by_id(
        session, ctx.tenant_id, {record_id for _, old, new in found for record_id in (old, new)}
    )
    connection_id = repository.connection_of_provider(session, ctx.tenant_id, provider)
    opened = 0
    for run_id, earlier_id, restated_id in found:
        run = runs[run_id]
        if run.status != REVIEW and run.status not in SEALED_RUN_STATUSES:
            continue  # left review (failed) while this upload waited for its lock
        exception = _open(
            session, ctx, run, records[earlier_id], records[restated_id], connection_id
        )
        opened += exception is not None
    return opened
