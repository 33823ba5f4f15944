"""The run and exception state machines (SPEC 3 and 4), and the one function that moves a run.

Run: ``created -> matching -> review -> closing -> closed``; ``failed`` from any state before
``closed``, with a reason; a failed run may be retried (back to ``matching``).

Exception: ``open -> investigating -> resolved | written_off | carried_forward``; a terminal
exception may be ``reopened``, and a reopened one goes on like an open one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from zentra.audit.service import record_audit
from zentra.events.service import emit_event
from zentra.events.types import RUN_STATUS_CHANGED
from zentra.kit.context import ActorContext
from zentra.kit.errors import InvalidTransition
from zentra.kit.time import isoformat, utcnow
from zentra.models import ReconciliationRun

RUN_STATUSES = ("created", "matching", "review", "closing", "closed", "failed")
RUN_TRANSITIONS: dict[str, frozenset[str]] = {
    "created": frozenset({"matching", "failed"}),
    "matching": frozenset({"review", "failed"}),
    "review": frozenset({"closing", "failed"}),
    "closing": frozenset({"closed", "review", "failed"}),
    "closed": frozenset(),
    "failed": frozenset({"matching"}),
}

EXCEPTION_TYPES = (
    "unmatched_provider_row",
    "missing_from_settlement",
    "amount_mismatch",
    "currency_mismatch",
    "duplicate_provider_row",
    "status_conflict",
    "late_callback",
    "failed_settlement",
    "restatement",
    "ambiguous_match",
    "missing_settlement_file",
)
EXCEPTION_STATUSES = (
    "open",
    "investigating",
    "resolved",
    "written_off",
    "carried_forward",
    "reopened",
)
# Statuses that let a run close: the exception has an explicit, recorded outcome.
SETTLED_EXCEPTION_STATUSES = frozenset({"resolved", "written_off", "carried_forward"})
EXCEPTION_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"investigating", "resolved", "written_off", "carried_forward"}),
    "investigating": frozenset({"resolved", "written_off", "carried_forward"}),
    "reopened": frozenset({"investigating", "resolved", "written_off", "carried_forward"}),
    "resolved": frozenset({"reopened"}),
    "written_off": frozenset({"reopened"}),
    "carried_forward": frozenset({"reopened"}),
}


def state_step(status: str, actor: str, reason: str | None = None) -> dict[str, Any]:
    """One entry of a run's ``state_path``."""
    step: dict[str, Any] = {"status": status, "at": isoformat(utcnow()), "actor": actor}
    if reason is not None:
        step["reason"] = reason
    return step


def advance_run(
    session: Session,
    run: ReconciliationRun,
    to_status: str,
    ctx: ActorContext,
    *,
    reason: str | None = None,
) -> None:
    """Move ``run`` to ``to_status``: state path, audit record and status event, in one go.

    Raises :class:`InvalidTransition` when the run's state machine does not allow the step.
    """
    if to_status not in RUN_TRANSITIONS[run.status]:
        raise InvalidTransition(
            f"run {run.id} cannot go from {run.status} to {to_status}",
            current_status=run.status,
            requested_status=to_status,
        )
    from_status = run.status
    run.status = to_status
    run.state_path = [*run.state_path, state_step(to_status, ctx.actor, reason)]
    run.updated_at = utcnow()
    if to_status != "failed":
        run.failure_reason = None
    else:
        run.failure_reason = reason
    record_audit(
        session,
        ctx,
        f"reconciliation.run.{to_status}",
        "reconciliation_run",
        run.id,
        details={"from": from_status, "to": to_status, "reason": reason},
    )
    emit_event(
        session,
        run.tenant_id,
        RUN_STATUS_CHANGED,
        {"run_id": run.id, "from": from_status, "to": to_status, "reason": reason},
        resource_id=run.id,
    )
