"""Write events to the outbox and read them back as public envelopes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from zentra.events import repository
from zentra.ingest.bulk_values import new_ids
from zentra.kit.ids import new_id
from zentra.kit.time import isoformat, utcnow
from zentra.models import OutboxEvent


def emit_event(
    session: Session,
    tenant_id: str,
    event_type: str,
    data: dict[str, Any],
    *,
    resource_id: str | None = None,
) -> OutboxEvent:
    """Add one event to the outbox in the caller's transaction (it commits with the change)."""
    event = OutboxEvent(
        id=new_id("evt"),
        tenant_id=tenant_id,
        type=event_type,
        created_at=utcnow(),
        resource_id=resource_id,
        data=data,
        published_at=None,
    )
    session.add(event)
    return event


def emit_events_bulk(
    session: Session,
    tenant_id: str,
    events: list[tuple[str, str | None, dict[str, Any]]],
) -> None:
    """Add many ``(type, resource_id, data)`` events in one batched insert."""
    now = utcnow()
    ids = new_ids("evt", len(events)).to_pylist()
    repository.insert_many(
        session,
        [
            {
                "id": event_id,
                "tenant_id": tenant_id,
                "type": event_type,
                "created_at": now,
                "resource_id": resource_id,
                "data": data,
                "published_at": None,
            }
            for event_id, (event_type, resource_id, data) in zip(ids, events, strict=True)
        ],
    )


def envelope(event: OutboxEvent) -> dict[str, Any]:
    """The public envelope: ``{"id", "type", "created_at", "tenant", "data"}``."""
    return {
        "id": event.id,
        "type": event.type,
        "created_at": isoformat(event.created_at),
        "tenant": event.tenant_id,
        "data": event.data,
    }
