"""The exception lifecycle (SPEC 4): read with evidence, assign, transition, comment.

Every change to an exception is three records written in the caller's transaction: an
``ExceptionActivity`` row (the decision history shown with the exception), an audit record (the
tenant's hash chain) and, for assignments and outcomes, an outbox event. A change is refused once
the exception's run is closing or closed: sealed evidence never changes. An exception without a
run (``missing_settlement_file``; a post-close adjustment, ``late_callback`` or
``restatement``, not yet attached to the next run) changes like one of a run in review.

Roles: any role reads; ``operator`` changes; a write-off whose ``|amount|`` exceeds the tenant
setting ``write_off_approval_threshold_minor`` also needs ``approver``.

Concurrency: a change takes the run ``FOR SHARE`` and the exception ``FOR UPDATE``. A closeout
takes the run ``FOR UPDATE``, so a change and a seal of the same run serialize: the change
either lands before the seal reads the exceptions, or waits and is then refused as closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from typing import Any, Final, Literal

from sqlalchemy.orm import Session

from zentra.audit.service import record_audit
from zentra.events.service import emit_event
from zentra.events.types import EXCEPTION_ASSIGNED, EXCEPTION_RESOLVED
from zentra.kit.context import ActorContext
from zentra.kit.errors import Conflict, InvalidInput, InvalidTransition, NotFound, PermissionDenied
from zentra.kit.ids import new_id
from zentra.kit.time import utcnow
from zentra.models import (
    ExceptionActivity,
    ExternalRecord,
    Movement,
    ReconciliationException,
    ReconciliationRun,
    SettlementFile,
)
from zentra.reconciliation import exceptions_repository as repository
from zentra.reconciliation.states import (
    EXCEPTION_STATUSES,
    EXCEPTION_TRANSITIONS,
    EXCEPTION_TYPES,
    SETTLED_EXCEPTION_STATUSES,
)
from zentra.tenancy.service import DEFAULT_SETTINGS

WRITE_OFF_THRESHOLD_SETTING = "write_off_approval_threshold_minor"
# Runs in these states carry (or are about to carry) sealed evidence: no exception may change.
SEALED_RUN_STATUSES = frozenset({"closing", "closed"})
RESOURCE_TYPE = "reconciliation_exception"


@dataclass(frozen=True, slots=True)
class ExceptionFilters:
    """Filters of an exception list; ``None`` means "any".

    ``unattached=True`` keeps the exceptions without a run (a missing settlement file, a
    post-close adjustment waiting for the next run), ``False`` those of a run.
    """

    run_id: str | None = None
    type: str | None = None
    status: str | None = None
    owner: str | None = None
    assignee: str | None = None
    min_age_hours: int | None = None
    connection_id: str | None = None
    business_date: date | None = None
    unattached: bool | None = None


@dataclass(frozen=True, slots=True)
class ExceptionEvidence:
    """An exception with everything it points at, as shown on its detail page."""

    exception: ReconciliationException
    external_record: ExternalRecord | None
    settlement_file: SettlementFile | None
    movement: Movement | None
    history: list[ExceptionActivity]


class Keep(Enum):
    """The sentinel type of :data:`KEEP`."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP
"""Pass as ``assignee`` to leave the current assignee unchanged (``None`` unassigns)."""


def list_exceptions(
    session: Session,
    ctx: ActorContext,
    filters: ExceptionFilters,
    *,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[ReconciliationException], str | None]:
    """One page of the tenant's exceptions in id order, and the next cursor (None at the end).

    Raises :class:`InvalidInput` for an unknown type or status, a negative age, a cursor that
    is not an exception id, or a ``run_id`` together with ``unattached=True`` (no exception is
    both); :class:`NotFound` when ``filters.run_id`` is not a run of the tenant.
    """
    if filters.type is not None and filters.type not in EXCEPTION_TYPES:
        raise InvalidInput(f"unknown exception type {filters.type!r}", field="type")
    if filters.status is not None and filters.status not in EXCEPTION_STATUSES:
        raise InvalidInput(f"unknown exception status {filters.status!r}", field="status")
    if cursor is not None and not cursor.startswith("exc_"):
        raise InvalidInput("cursor must be an exception id", field="cursor")
    if filters.run_id is not None and filters.unattached:
        raise InvalidInput(
            "run_id and unattached=true exclude each other: an exception of a run is attached",
            field="unattached",
        )
    created_before = None
    if filters.min_age_hours is not None:
        if filters.min_age_hours < 0:
            raise InvalidInput("min_age_hours must not be negative", field="min_age_hours")
        created_before = utcnow() - timedelta(hours=filters.min_age_hours)
    if (
        filters.run_id is not None
        and repository.get_run(session, ctx.tenant_id, filters.run_id) is None
    ):
        raise NotFound(f"run {filters.run_id} not found")
    rows = repository.list_exceptions(
        session,
        ctx.tenant_id,
        limit=limit + 1,
        after_id=cursor,
        run_id=filters.run_id,
        exception_type=filters.type,
        status=filters.status,
        owner=filters.owner,
        assignee=filters.assignee,
        created_before=created_before,
        connection_id=filters.connection_id,
        business_date=filters.business_date,
        unattached=filters.unattached,
    )
    page = rows[:limit]
    return page, (page[-1].id if len(rows) > limit else None)


def get_exception_evidence(
    session: Session, ctx: ActorContext, exception_id: str
) -> ExceptionEvidence:
    """The exception with its provider row, settlement file, movement and whole history.

    Raises :class:`NotFound` when the tenant has no such exception.
    """
    exception = _get_exception(session, ctx, exception_id)
    external_record = settlement_file = None
    if exception.external_record_id is not None:
        found = repository.get_external_record_with_file(
            session, ctx.tenant_id, exception.external_record_id
        )
        if found is not None:
            external_record, settlement_file = found
    movement = None
    if exception.movement_id is not None:
        movement = repository.get_movement(session, ctx.tenant_id, exception.movement_id)
    history = repository.list_activities(session, ctx.tenant_id, exception.id)
    return ExceptionEvidence(exception, external_record, settlement_file, movement, history)


def assign_exception(
    session: Session,
    ctx: ActorContext,
    exception_id: str,
    *,
    owner: str | None = None,
    assignee: str | Literal[Keep.KEEP] | None = KEEP,
) -> ReconciliationException:
    """Give the exception another owner lane and/or assignee (``assignee=None`` unassigns).

    Raises :class:`PermissionDenied` without ``operator``, :class:`InvalidInput` when neither is
    given or the owner is blank, :class:`NotFound`, and :class:`Conflict` once the run is sealed.
    """
    ctx.require_role("operator")
    if owner is None and assignee is KEEP:
        raise InvalidInput("give an owner, an assignee, or both")
    if owner is not None and not owner.strip():
        raise InvalidInput("owner must not be blank", field="owner")
    if isinstance(assignee, str) and not assignee.strip():
        raise InvalidInput("assignee must not be blank (send null to unassign)", field="assignee")
    exception, _run = _lock_for_change(session, ctx, exception_id)
    before = {"owner": exception.owner, "assignee": exception.assignee}
    if owner is not None:
        exception.owner = owner.strip()
    if assignee is not KEEP:
        exception.assignee = assignee.strip() if assignee is not None else None
    after = {"owner": exception.owner, "assignee": exception.assignee}
    now = utcnow()
    exception.updated_at = now
    record_activity(
        session,
        ctx,
        exception,
        "assigned",
        data={"from": before, "to": after},
    )
    record_audit(
        session,
        ctx,
        "reconciliation.exception.assigned",
        RESOURCE_TYPE,
        exception.id,
        details={"run_id": exception.run_id, "from": before, "to": after},
    )
    emit_event(
        session,
        ctx.tenant_id,
        EXCEPTION_ASSIGNED,
        {
            "exception_id": exception.id,
            "run_id": exception.run_id,
            "type": exception.type,
            "owner": exception.owner,
            "assignee": exception.assignee,
            "previous_owner": before["owner"],
            "previous_assignee": before["assignee"],
            "actor": ctx.actor,
        },
        resource_id=exception.id,
    )
    return exception


def transition_exception(
    session: Session,
    ctx: ActorContext,
    exception_id: str,
    *,
    to: str,
    decision: str | None = None,
    note: str | None = None,
) -> ReconciliationException:
    """Move the exception to ``to``, keeping the decision and note of an outcome.

    Reaching ``resolved``, ``written_off`` or ``carried_forward`` needs a non-blank
    ``decision`` and ``note`` and emits ``reconciliation.exception.resolved``; ``reopened``
    clears the current decision (the history keeps it).

    Raises :class:`PermissionDenied` without ``operator``, or for a write-off above the tenant's
    threshold without ``approver``; :class:`InvalidInput` for an unknown status or a missing
    decision/note; :class:`InvalidTransition` for a step the state machine does not allow;
    :class:`NotFound`; :class:`Conflict` once the run is sealed.
    """
    ctx.require_role("operator")
    if to not in EXCEPTION_STATUSES:
        raise InvalidInput(f"unknown exception status {to!r}", field="to")
    settles = to in SETTLED_EXCEPTION_STATUSES
    decision = decision.strip() if decision is not None else None
    note = note.strip() if note is not None else None
    if settles:
        missing = [name for name, value in (("decision", decision), ("note", note)) if not value]
        if missing:
            raise InvalidInput(
                f"moving an exception to {to} needs a decision and a note",
                missing_fields=missing,
            )
    exception, _run = _lock_for_change(session, ctx, exception_id)
    from_status = exception.status
    if to not in EXCEPTION_TRANSITIONS.get(from_status, frozenset()):
        raise InvalidTransition(
            f"exception {exception.id} cannot go from {from_status} to {to}",
            current_status=from_status,
            requested_status=to,
            allowed=sorted(EXCEPTION_TRANSITIONS.get(from_status, frozenset())),
        )
    if to == "written_off":
        _require_write_off_approval(session, ctx, exception)
    apply_transition(session, ctx, exception, to, decision=decision, note=note)
    return exception


def apply_transition(
    session: Session,
    ctx: ActorContext,
    exception: ReconciliationException,
    to: str,
    *,
    decision: str | None,
    note: str | None,
    data: dict[str, Any] | None = None,
) -> None:
    """Write an allowed move of a locked exception to ``to``: its status and outcome, a
    ``transition`` activity (with ``data``), an audit record and, when ``to`` settles it,
    ``reconciliation.exception.resolved``. The one writer of transitions, whoever decides them:
    checking that the step is allowed, and who may take it, is the caller's."""
    from_status = exception.status
    settles = to in SETTLED_EXCEPTION_STATUSES
    now = utcnow()
    exception.status = to
    exception.updated_at = now
    # Reopening clears the current outcome; the history keeps every earlier one.
    exception.decision = decision if settles else None
    exception.note = note if settles else None
    exception.resolved_at = now if settles else None
    record_activity(
        session,
        ctx,
        exception,
        "transition",
        from_status=from_status,
        to_status=to,
        decision=decision or None,
        note=note or None,
        data=data,
    )
    record_audit(
        session,
        ctx,
        "reconciliation.exception.transitioned",
        RESOURCE_TYPE,
        exception.id,
        details={
            "run_id": exception.run_id,
            "from": from_status,
            "to": to,
            "decision": decision or None,
            "note": note or None,
        },
    )
    if settles:
        emit_event(
            session,
            ctx.tenant_id,
            EXCEPTION_RESOLVED,
            {
                "exception_id": exception.id,
                "run_id": exception.run_id,
                "type": exception.type,
                "status": to,
                "decision": decision,
                "note": note,
                "owner": exception.owner,
                "assignee": exception.assignee,
                "actor": ctx.actor,
            },
            resource_id=exception.id,
        )


def comment_on_exception(
    session: Session, ctx: ActorContext, exception_id: str, body: str
) -> ExceptionActivity:
    """Add a comment to the exception's history.

    Raises :class:`PermissionDenied` without ``operator``, :class:`InvalidInput` for a blank
    body, :class:`NotFound`, and :class:`Conflict` once the run is sealed.
    """
    ctx.require_role("operator")
    text = body.strip()
    if not text:
        raise InvalidInput("a comment needs a body", field="body")
    exception, _run = _lock_for_change(session, ctx, exception_id)
    exception.updated_at = utcnow()
    activity = record_activity(session, ctx, exception, "comment", note=text)
    record_audit(
        session,
        ctx,
        "reconciliation.exception.commented",
        RESOURCE_TYPE,
        exception.id,
        details={"run_id": exception.run_id, "activity_id": activity.id, "body": text},
    )
    return activity


def write_off_threshold(settings: dict[str, Any]) -> int:
    """The tenant's write-off approval threshold in minor units (the default when unset)."""
    value = settings.get(WRITE_OFF_THRESHOLD_SETTING)
    if isinstance(value, bool) or not isinstance(value, int):
        return int(DEFAULT_SETTINGS[WRITE_OFF_THRESHOLD_SETTING])
    return value


def _require_write_off_approval(
    session: Session, ctx: ActorContext, exception: ReconciliationException
) -> None:
    if exception.amount_minor is None:
        return
    threshold = write_off_threshold(repository.get_tenant_settings(session, ctx.tenant_id))
    if abs(exception.amount_minor) > threshold and not ctx.has_role("approver"):
        raise PermissionDenied(
            f"writing off {abs(exception.amount_minor)} minor units exceeds the approval "
            f"threshold of {threshold}: the approver role is required",
            required_roles=["approver"],
            threshold_minor=threshold,
        )


def _get_exception(
    session: Session, ctx: ActorContext, exception_id: str, *, lock: bool = False
) -> ReconciliationException:
    exception = repository.get_exception(session, ctx.tenant_id, exception_id, lock=lock)
    if exception is None:
        raise NotFound(f"exception {exception_id} not found")
    return exception


def _lock_for_change(
    session: Session, ctx: ActorContext, exception_id: str
) -> tuple[ReconciliationException, ReconciliationRun | None]:
    """Lock run (share) then exception (update), always in this order, and refuse sealed runs.

    An exception without a run (a missing settlement file, a post-close adjustment waiting for
    the next run) has no sealed evidence to protect: only the exception is locked."""
    found = _get_exception(session, ctx, exception_id)
    if found.run_id is None:
        return _get_exception(session, ctx, exception_id, lock=True), None
    run = repository.get_run(session, ctx.tenant_id, found.run_id, share_lock=True)
    if run is None:  # the foreign key makes this impossible short of a broken database
        raise NotFound(f"exception {exception_id} not found")
    if run.status in SEALED_RUN_STATUSES:
        raise Conflict(
            f"run {run.id} is {run.status}: its exceptions are sealed evidence and cannot change",
            run_id=run.id,
            run_status=run.status,
        )
    return _get_exception(session, ctx, exception_id, lock=True), run


def record_activity(
    session: Session,
    ctx: ActorContext,
    exception: ReconciliationException,
    kind: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    decision: str | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> ExceptionActivity:
    """Append one entry to the exception's history, by ``ctx``'s actor at the exception's
    ``updated_at`` (set it first), with the request id in its ``data``."""
    activity = ExceptionActivity(
        id=new_id("exa"),
        tenant_id=ctx.tenant_id,
        exception_id=exception.id,
        kind=kind,
        actor=ctx.actor,
        from_status=from_status,
        to_status=to_status,
        decision=decision,
        note=note,
        data={**(data or {}), "request_id": ctx.request_id},
        at=exception.updated_at,
    )
    repository.add_activity(session, activity)
    return activity
