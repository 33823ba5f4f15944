"""``GET /audit/events`` and ``GET /audit/verify``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from zentra.api.deps import Context, DbSession
from zentra.api.route import UnitOfWorkRoute
from zentra.audit import repository
from zentra.audit.service import verify_chain
from zentra.kit.errors import InvalidInput
from zentra.kit.pagination import clamp_limit
from zentra.kit.time import isoformat
from zentra.models import AuditEvent

router = APIRouter(prefix="/audit", tags=["audit"], route_class=UnitOfWorkRoute)


def _audit_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "seq": event.seq,
        "at": isoformat(event.at),
        "tenant": event.tenant_id,
        "actor": event.actor,
        "action": event.action,
        "resource": {"type": event.resource_type, "id": event.resource_id},
        "scope": event.scope,
        "policy_result": event.policy_result,
        "request_id": event.request_id,
        "idempotency_key": event.idempotency_key,
        "outcome": event.outcome,
        "details": event.details,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


@router.get("/events")
def list_audit_events(
    session: DbSession,
    ctx: Context,
    limit: int | None = None,
    cursor: str | None = None,
    resource_id: str | None = None,
    action: str | None = None,
) -> dict[str, Any]:
    """The tenant's audit records in chain order; ``cursor`` is the last ``seq`` seen."""
    page_size = clamp_limit(limit)
    after_seq = None
    if cursor is not None:
        if not cursor.isdigit():
            raise InvalidInput("cursor must be a sequence number", field="cursor")
        after_seq = int(cursor)
    rows = repository.list_events(
        session,
        ctx.tenant_id,
        limit=page_size + 1,
        after_seq=after_seq,
        resource_id=resource_id,
        action=action,
    )
    page = rows[:page_size]
    next_cursor = str(page[-1].seq) if len(rows) > page_size else None
    return {"data": [_audit_json(e) for e in page], "next_cursor": next_cursor}


@router.get("/verify")
def verify_audit_chain(session: DbSession, ctx: Context) -> dict[str, Any]:
    """Walk the tenant's chain and say whether it holds, naming the first broken sequence."""
    return verify_chain(session, ctx.tenant_id).as_json()
