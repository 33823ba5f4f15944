"""Late callbacks: a provider callback that arrives while a run of its provider is in review.

A callback whose record falls inside the ledger window of a run in ``review`` (same provider) is
correlated into that run: the run's event stream gets ``reconciliation.callback.correlated``, and
every open exception of the run about the same reference (compared as reference keys) records the
callback as evidence — an ``evidence`` activity and an entry in its details' ``callbacks`` — for
the operator who decides it. Closed runs are never touched: sealed evidence does not change
(post-close adjustments to the next run: to come).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from zentra.audit.service import record_audit
from zentra.events.service import emit_event
from zentra.events.types import CALLBACK_CORRELATED
from zentra.kit.context import ActorContext
from zentra.kit.ids import new_id
from zentra.kit.references import reference_key
from zentra.kit.time import isoformat, utcnow
from zentra.models import (
    ExceptionActivity,
    ExternalRecord,
    ReconciliationException,
    ReconciliationRun,
)

OPEN_STATUSES = ("open", "investigating", "reopened")


def correlate_callback(
    session: Session,
    ctx: ActorContext,
    callback_id: str,
    record: ExternalRecord,
    on_day: date,
) -> list[str]:
    """Correlate one callback's record (dated ``on_day``) into the runs in review of its
    provider whose window covers that day; return their ids. Never commits."""
    runs = list(
        session.scalars(
            select(ReconciliationRun)
            .where(
                ReconciliationRun.tenant_id == ctx.tenant_id,
                ReconciliationRun.provider == record.provider,
                ReconciliationRun.status == "review",
                ReconciliationRun.window_from <= on_day,
                ReconciliationRun.window_to >= on_day,
            )
            .order_by(ReconciliationRun.id)
        )
    )
    key = reference_key(record.provider_reference)
    evidence = {
        "callback_id": callback_id,
        "external_record_id": record.id,
        "provider_reference": record.provider_reference,
        "type": record.type,
        "amount_minor": record.amount_minor,
        "currency": record.currency,
        "received_at": isoformat(utcnow()),
    }
    for run in runs:
        exceptions = [
            exception
            for exception in session.scalars(
                select(ReconciliationException).where(
                    ReconciliationException.tenant_id == ctx.tenant_id,
                    ReconciliationException.run_id == run.id,
                    ReconciliationException.status.in_(OPEN_STATUSES),
                    ReconciliationException.provider_reference.is_not(None),
                )
            )
            if key and reference_key(exception.provider_reference or "") == key
        ]
        for exception in exceptions:
            exception.details = {
                **exception.details,
                "callbacks": [*exception.details.get("callbacks", []), evidence],
            }
            exception.updated_at = utcnow()
            session.add(
                ExceptionActivity(
                    id=new_id("exa"),
                    tenant_id=ctx.tenant_id,
                    exception_id=exception.id,
                    kind="evidence",
                    actor=ctx.actor,
                    from_status=None,
                    to_status=None,
                    decision=None,
                    note=None,
                    data=evidence,
                    at=utcnow(),
                )
            )
        emit_event(
            session,
            ctx.tenant_id,
            CALLBACK_CORRELATED,
            {**evidence, "run_id": run.id, "exception_ids": [e.id for e in exceptions]},
            resource_id=run.id,
        )
        record_audit(
            session,
            ctx,
            "reconciliation.callback.correlated",
            "reconciliation_run",
            run.id,
            details={"callback_id": callback_id, "exception_ids": [e.id for e in exceptions]},
        )
    return [run.id for run in runs]
