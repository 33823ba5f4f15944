"""Exceptions over HTTP (SPEC 4): the queue, the detail with evidence, and the three changes.

``GET /reconciliation/exceptions``, ``GET /reconciliation/runs/{run_id}/exceptions``,
``GET /reconciliation/exceptions/{id}``, ``POST .../assign``, ``POST .../transitions``,
``POST .../comments``. The route owns authentication, idempotency and the transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from zentra.api.deps import Context, DbSession
from zentra.api.route import UnitOfWorkRoute
from zentra.kit.pagination import clamp_limit
from zentra.reconciliation import exceptions as service
from zentra.reconciliation.exceptions_schemas import (
    AssignRequest,
    CommentRequest,
    TransitionRequest,
    activity_json,
    exception_detail_json,
    exception_json,
)

router = APIRouter(prefix="/reconciliation", tags=["reconciliation"], route_class=UnitOfWorkRoute)


def _page(
    session: DbSession,
    ctx: Context,
    filters: service.ExceptionFilters,
    limit: int | None,
    cursor: str | None,
) -> dict[str, Any]:
    rows, next_cursor = service.list_exceptions(
        session, ctx, filters, limit=clamp_limit(limit), cursor=cursor
    )
    return {"data": [exception_json(e) for e in rows], "next_cursor": next_cursor}


@router.get("/exceptions")
def list_exceptions(
    session: DbSession,
    ctx: Context,
    run_id: str | None = None,
    type: str | None = None,
    status: str | None = None,
    owner: str | None = None,
    assignee: str | None = None,
    min_age_hours: int | None = None,
    connection_id: Annotated[
        str | None, Query(description="Only exceptions of this provider connection.")
    ] = None,
    business_date: Annotated[
        date | None, Query(description="Only exceptions about this day (YYYY-MM-DD).")
    ] = None,
    unattached: Annotated[
        bool | None,
        Query(
            description="`true`: only exceptions without a run (missing settlement files, "
            "post-close adjustments waiting for the next run); `false`: only those of a run."
        ),
    ] = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """The tenant's exceptions in id order; ``cursor`` is the last id seen.

    Filters combine (all must hold): ``run_id``, ``type``, ``status``, ``owner``, ``assignee``,
    ``min_age_hours``, ``connection_id``, ``business_date``, and ``unattached``. Exceptions
    without a run (``run_id`` null) are listed with ``unattached=true``; ``run_id`` together
    with ``unattached=true`` is refused (422).
    """
    filters = service.ExceptionFilters(
        run_id,
        type,
        status,
        owner,
        assignee,
        min_age_hours,
        connection_id=connection_id,
        business_date=business_date,
        unattached=unattached,
    )
    return _page(session, ctx, filters, limit, cursor)


@router.get("/runs/{run_id}/exceptions")
def list_run_exceptions(
    session: DbSession,
    ctx: Context,
    run_id: str,
    type: str | None = None,
    status: str | None = None,
    owner: str | None = None,
    assignee: str | None = None,
    min_age_hours: int | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """One run's exceptions in id order (404 when the run is not the tenant's)."""
    filters = service.ExceptionFilters(run_id, type, status, owner, assignee, min_age_hours)
    return _page(session, ctx, filters, limit, cursor)


@router.get("/exceptions/{exception_id}")
def get_exception(session: DbSession, ctx: Context, exception_id: str) -> dict[str, Any]:
    """The exception with its provider row, file, movement, candidates and decision history."""
    return exception_detail_json(service.get_exception_evidence(session, ctx, exception_id))


@router.post("/exceptions/{exception_id}/assign")
def assign_exception(
    session: DbSession, ctx: Context, exception_id: str, body: AssignRequest
) -> dict[str, Any]:
    """Change the owner lane and/or the assignee (``"assignee": null`` unassigns)."""
    assignee = body.assignee if "assignee" in body.model_fields_set else service.KEEP
    exception = service.assign_exception(
        session, ctx, exception_id, owner=body.owner, assignee=assignee
    )
    return exception_json(exception)


@router.post("/exceptions/{exception_id}/transitions")
def transition_exception(
    session: DbSession, ctx: Context, exception_id: str, body: TransitionRequest
) -> dict[str, Any]:
    """Move the exception along its state machine; outcomes need a decision and a note."""
    exception = service.transition_exception(
        session, ctx, exception_id, to=body.to, decision=body.decision, note=body.note
    )
    return exception_json(exception)


@router.post("/exceptions/{exception_id}/comments", status_code=201)
def comment_on_exception(
    session: DbSession, ctx: Context, exception_id: str, body: CommentRequest
) -> dict[str, Any]:
    """Add a comment to the exception's history; answers the new history entry."""
    return activity_json(service.comment_on_exception(session, ctx, exception_id, body.body))
