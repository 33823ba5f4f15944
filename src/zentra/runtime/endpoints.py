"""``/runtime``: intents, policy, routes, rail health and the sandbox rail over HTTP (SPEC 5)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from zentra.api.deps import Context, DbSession
from zentra.api.route import UnitOfWorkRoute
from zentra.runtime import intents, sandbox_service, settings
from zentra.runtime.schemas import IntentIn, Policy, RailHealthIn, Routes, SandboxSettleIn

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}

router = APIRouter(prefix="/runtime", tags=["runtime"], route_class=UnitOfWorkRoute)


@router.post("/intents", status_code=201, responses={200: {}, 409: _PROBLEM, 422: _PROBLEM})
def submit_intent(body: IntentIn, session: DbSession, ctx: Context) -> JSONResponse:
    """Run an intent through the runtime: 201 with where it ended (``evidenced`` or
    ``rejected`` with a reason); 200 with the stored intent when the same ``intent_id`` comes
    again with the same content; 409 naming the fields when the content differs."""
    submitted = intents.submit_intent(session, ctx, body)
    movements = intents.intent_movements(session, ctx, [submitted.intent])
    movement = movements.get(submitted.intent.movement_id or "")
    return JSONResponse(
        intents.intent_json(submitted.intent, movement),
        status_code=201 if submitted.created else 200,
        headers={"Location": f"/runtime/intents/{submitted.intent.intent_id}"},
    )


@router.get("/intents")
def list_intents(
    session: DbSession,
    ctx: Context,
    limit: int | None = None,
    cursor: str | None = None,
    status: str | None = None,
    source: str | None = None,
    rail: str | None = None,
) -> dict[str, Any]:
    """The tenant's intents in creation order, filtered by status, source account or rail."""
    rows, next_cursor = intents.list_intents(
        session, ctx, limit=limit, cursor=cursor, status=status, source=source, rail=rail
    )
    movements = intents.intent_movements(session, ctx, rows)
    return {
        "data": [intents.intent_json(row, movements.get(row.movement_id or "")) for row in rows],
        "next_cursor": next_cursor,
    }


@router.get("/intents/{intent_id}", responses={404: _PROBLEM})
def get_intent(intent_id: str, session: DbSession, ctx: Context) -> dict[str, Any]:
    """One intent: status, trace, route, ledger entries, movement and evidence."""
    intent = intents.get_intent(session, ctx, intent_id)
    movement = intents.intent_movements(session, ctx, [intent]).get(intent.movement_id or "")
    return intents.intent_json(intent, movement)


@router.get("/intents/{intent_id}/evidence", responses={404: _PROBLEM})
def get_intent_evidence(intent_id: str, session: DbSession, ctx: Context) -> dict[str, Any]:
    """The intent's sealed evidence document (signature included), verifiable offline, and
    whether its key is the workspace's and the signature holds."""
    return intents.evidence_json(session, ctx, intents.get_intent(session, ctx, intent_id))


@router.get("/policy")
def get_policy(session: DbSession, ctx: Context) -> dict[str, Any]:
    """The workspace's runtime policy and its version (0: never set)."""
    return settings.get_policy(session, ctx).as_json()


@router.put("/policy", responses={403: _PROBLEM, 422: _PROBLEM})
def put_policy(body: Policy, session: DbSession, ctx: Context) -> dict[str, Any]:
    """Replace the runtime policy (admin)."""
    return settings.put_policy(session, ctx, body).as_json()


@router.get("/routes")
def get_routes(session: DbSession, ctx: Context) -> dict[str, Any]:
    """The workspace's routing rules and their version (0: never set)."""
    return settings.get_routes(session, ctx).as_json()


@router.put("/routes", responses={403: _PROBLEM, 422: _PROBLEM})
def put_routes(body: Routes, session: DbSession, ctx: Context) -> dict[str, Any]:
    """Replace the routing rules (admin); every rail must be a provider connection's name."""
    return settings.put_routes(session, ctx, body).as_json()


@router.post("/rails/{name}/health", responses={403: _PROBLEM, 404: _PROBLEM})
def set_rail_health(
    name: str, body: RailHealthIn, session: DbSession, ctx: Context
) -> dict[str, Any]:
    """Mark a rail up or down; routing fails over past a rail that is down."""
    return settings.set_rail_health(session, ctx, name, body.status).as_json()


@router.post("/rails/{name}/sandbox/settle", responses={404: _PROBLEM, 422: _PROBLEM})
def settle_sandbox_rail(
    name: str, body: SandboxSettleIn, session: DbSession, ctx: Context
) -> dict[str, Any]:
    """Have a sandbox rail settle a day: signed callbacks through the callback path, and the
    day's settlement file through the settlement-file service, with the noise asked for."""
    return sandbox_service.settle_sandbox_rail(session, ctx, name, body).as_json()


@router.post("/rails/{name}/sandbox/deliver-late", responses={404: _PROBLEM, 422: _PROBLEM})
def deliver_late_callbacks(name: str, session: DbSession, ctx: Context) -> dict[str, Any]:
    """Have a sandbox rail send the callbacks it held back."""
    return sandbox_service.deliver_late_callbacks(session, ctx, name).as_json()
