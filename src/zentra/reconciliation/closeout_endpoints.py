"""Closeouts over HTTP (SPEC 3, 10): seal a run, serve the sealed document, re-verify it.

``POST /reconciliation/runs/{id}/closeout`` (approver), ``GET /reconciliation/runs/{id}/closeout``
(``?format=json|csv|html``; JSON is the exact stored bytes, the input of ``zentra verify``) and
``GET /reconciliation/closeouts/{id}/verify``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Response

from zentra.api.deps import Context, DbSession
from zentra.api.route import UnitOfWorkRoute
from zentra.reconciliation import closeout as service
from zentra.reconciliation.closeout_schemas import CloseoutFormat, closeout_summary_json

router = APIRouter(prefix="/reconciliation", tags=["reconciliation"], route_class=UnitOfWorkRoute)


@router.post("/runs/{run_id}/closeout", status_code=201)
def seal_closeout(session: DbSession, ctx: Context, run_id: str) -> dict[str, Any]:
    """Seal the run (409 ``closeout_blocked`` with ``unmet_requirements`` while it cannot)."""
    closeout = service.seal_closeout(session, ctx, run_id)
    return closeout_summary_json(closeout, json.loads(closeout.document))


@router.get(
    "/runs/{run_id}/closeout",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/json": {},
                "text/csv": {},
                "text/html": {},
            },
            "description": "The sealed closeout document, a CSV of it, or a printable report.",
        }
    },
)
def get_closeout(
    session: DbSession, ctx: Context, run_id: str, format: CloseoutFormat = "json"
) -> Response:
    """The sealed document: JSON (exact stored bytes), CSV (a row per match and exception) or
    a printable HTML report."""
    closeout = service.get_run_closeout(session, ctx, run_id)
    if format == "json":
        return Response(
            content=closeout.document.encode("utf-8"),
            media_type="application/json",
            headers={
                "Content-Disposition": f'inline; filename="closeout_{closeout.id}.json"',
            },
        )
    document = json.loads(closeout.document)
    if format == "csv":
        return Response(
            content=service.closeout_csv(document),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="closeout_{closeout.id}.csv"'},
        )
    verification = service.verify_closeout(session, ctx, closeout.id)
    return Response(
        content=service.closeout_html(document, verification),
        media_type="text/html; charset=utf-8",
    )


@router.get("/closeouts/{closeout_id}/verify")
def verify_closeout(session: DbSession, ctx: Context, closeout_id: str) -> dict[str, Any]:
    """Recompute the Merkle root and check the signature with the tenant's stored key."""
    return service.verify_closeout(session, ctx, closeout_id).as_json()
