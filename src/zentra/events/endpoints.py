"""``GET /events``: the tenant's event stream, oldest first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from zentra.api.deps import Context, DbSession
from zentra.api.route import UnitOfWorkRoute
from zentra.events import repository
from zentra.events.service import envelope
from zentra.kit.errors import InvalidInput
from zentra.kit.pagination import clamp_limit

router = APIRouter(tags=["events"], route_class=UnitOfWorkRoute)


@router.get("/events")
def list_events(
    session: DbSession,
    ctx: Context,
    type: str | None = None,
    resource_id: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Events in creation order; ``cursor`` is the last event id seen."""
    page_size = clamp_limit(limit)
    if cursor is not None and not cursor.startswith("evt_"):
        raise InvalidInput("cursor must be an event id", field="cursor")
    rows = repository.list_events(
        session,
        ctx.tenant_id,
        limit=page_size + 1,
        after_id=cursor,
        event_type=type,
        resource_id=resource_id,
    )
    page = rows[:page_size]
    next_cursor = page[-1].id if len(rows) > page_size else None
    return {"data": [envelope(e) for e in page], "next_cursor": next_cursor}
