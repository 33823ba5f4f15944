"""Changes Zentra itself makes to exceptions, outside a run's bulk write: open one, add evidence,
resolve one on the strength of evidence, change its type.

Each change is written like an operator's, by the same writers
(:func:`~zentra.reconciliation.exceptions.record_activity`,
:func:`~zentra.reconciliation.exceptions.apply_transition`): an ``ExceptionActivity`` row, an
audit record and, where SPEC 9 has one, an event (``reconciliation.exception.opened``,
``reconciliation.exception.resolved``). The callers decide *when* (late callbacks,
expected-file checks) and hold the exception locked; this module decides *how*. Nothing here
commits.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zentra.audit.service import record_audit
from zentra.events.service import emit_event
from zentra.events.types import CALLBACK_CORRELATED, EXCEPTION_OPENED
from zentra.kit.context import ActorContext
from zentra.kit.ids import new_id
from zentra.kit.time import utcnow
from zentra.models import ReconciliationException, ReconciliationRun
from zentra.reconciliation import correlation_repository as repository
from zentra.reconciliation.exceptions import RESOURCE_TYPE, apply_transition, record_activity


def open_exception(
    session: Session,
    ctx: ActorContext,
    *,
    type: str,
    owner: str,
    run_id: str | None,
    details: dict[str, Any],
    natural_key: str | None = None,
    connection_id: str | None = None,
    business_date: date | None = None,
    provider_reference: str | None = None,
    external_record_id: str | None = None,
    movement_id: str | None = None,
    amount_minor: int | None = None,
    currency: str | None = None,
) -> ReconciliationException | None:
    """Open an exception (status ``open``) with its opening activity, event and audit record.

    With a ``natural_key``, an exception of that key is opened at most once per tenant: when one
    exists (or a concurrent transaction inserts it first: the unique key refuses the second),
    nothing is written and None is returned.
    """
    if natural_key is not None and repository.exception_by_natural_key(
        session, ctx.tenant_id, natural_key
    ):
        return None
    now = utcnow()
    exception = ReconciliationException(
        id=new_id("exc"),
        tenant_id=ctx.tenant_id,
        run_id=run_id,
        connection_id=connection_id,
        business_date=business_date,
        natural_key=natural_key,
        type=type,
        status="open",
        owner=owner,
        assignee=None,
        provider_reference=provider_reference,
        external_record_id=external_record_id,
        movement_id=movement_id,
        amount_minor=amount_minor,
        currency=currency,
        details=details,
        decision=None,
        note=None,
        created_at=now,
        updated_at=now,
        resolved_at=None,
    )
    try:
        with session.begin_nested():
            session.add(exception)
            session.flush()
    except IntegrityError:
        if natural_key is not None and repository.exception_by_natural_key(
            session, ctx.tenant_id, natural_key
        ):
            return None
        raise
    opened = {"run_id": run_id, "connection_id": connection_id, "owner": owner}
    record_activity(session, ctx, exception, "opened", to_status="open", data=opened)
    emit_event(
        session,
        ctx.tenant_id,
        EXCEPTION_OPENED,
        {
            **opened,
            "exception_id": exception.id,
            "type": type,
            "provider_reference": provider_reference,
            "business_date": None if business_date is None else business_date.isoformat(),
        },
        resource_id=exception.id,
    )
    record_audit(
        session,
        ctx,
        "reconciliation.exception.opened",
        RESOURCE_TYPE,
        exception.id,
        details={"type": type, **opened, "natural_key": natural_key},
    )
    session.flush()
    return exception


def add_evidence(
    session: Session,
    ctx: ActorContext,
    exception: ReconciliationException,
    key: str,
    evidence: dict[str, Any],
) -> None:
    """Append ``evidence`` to the list ``details[key]`` and record an ``evidence`` activity."""
    exception.details = {**exception.details, key: [*exception.details.get(key, []), evidence]}
    exception.updated_at = utcnow()
    record_activity(session, ctx, exception, "evidence", data=evidence)


def resolve_exception(
    session: Session,
    ctx: ActorContext,
    exception: ReconciliationException,
    *,
    decision: str,
    note: str,
    data: dict[str, Any] | None = None,
) -> None:
    """Move an open (``open``, ``investigating`` or ``reopened``) exception the caller holds
    locked to ``resolved`` with ``decision`` and ``note``, as
    :func:`~zentra.reconciliation.exceptions.apply_transition` writes it (``data`` goes into
    the ``transition`` activity)."""
    apply_transition(session, ctx, exception, "resolved", decision=decision, note=note, data=data)


def retype_exception(
    session: Session,
    ctx: ActorContext,
    exception: ReconciliationException,
    to_type: str,
    *,
    reason: str,
    data: dict[str, Any] | None = None,
) -> None:
    """Change the exception's type, keeping the former one in ``details.previous_types`` and in
    a ``retyped`` activity; audited as ``reconciliation.exception.retyped``. Its status stays."""
    from_type = exception.type
    exception.type = to_type
    exception.details = {
        **exception.details,
        "previous_types": [*exception.details.get("previous_types", []), from_type],
    }
    exception.updated_at = utcnow()
    change = {"from_type": from_type, "to_type": to_type, **(data or {})}
    record_activity(session, ctx, exception, "retyped", note=reason, data=change)
    record_audit(
        session,
        ctx,
        "reconciliation.exception.retyped",
        RESOURCE_TYPE,
        exception.id,
        details={"run_id": exception.run_id, **change, "reason": reason},
    )


def attach_exception(
    session: Session,
    ctx: ActorContext,
    exception: ReconciliationException,
    run_id: str,
    **data: Any,
) -> None:
    """Give an exception that waits without a run its run: an ``attached`` activity and an
    audit record (``reconciliation.exception.attached``)."""
    exception.run_id = run_id
    exception.updated_at = utcnow()
    record_activity(session, ctx, exception, "attached", data={"run_id": run_id, **data})
    record_audit(
        session,
        ctx,
        "reconciliation.exception.attached",
        RESOURCE_TYPE,
        exception.id,
        details={"run_id": run_id, **data},
    )


def correlation_outcome(
    exception: ReconciliationException, outcome: str, from_type: str | None = None
) -> dict[str, Any]:
    """What a callback did to one exception, as its correlation announcement lists it."""
    return {
        "exception_id": exception.id,
        "outcome": outcome,
        "from_type": from_type,
        "type": exception.type,
    }


def announce_callback_correlated(
    session: Session,
    ctx: ActorContext,
    run: ReconciliationRun,
    evidence: dict[str, Any],
    outcomes: list[dict[str, Any]],
    *,
    post_close_of: str | None = None,
) -> None:
    """``reconciliation.callback.correlated`` on ``run`` and its audit record: the callback's
    ``evidence``, the :func:`correlation_outcome` of each exception it touched, and the sealed
    run it came too late for when it is a post-close adjustment."""
    late = {} if post_close_of is None else {"post_close_of": post_close_of}
    emit_event(
        session,
        ctx.tenant_id,
        CALLBACK_CORRELATED,
        {
            **evidence,
            "run_id": run.id,
            **late,
            "exception_ids": [outcome["exception_id"] for outcome in outcomes],
            "outcomes": outcomes,
        },
        resource_id=run.id,
    )
    record_audit(
        session,
        ctx,
        "reconciliation.callback.correlated",
        "reconciliation_run",
        run.id,
        details={"callback_id": evidence.get("callback_id"), **late, "outcomes": outcomes},
    )
