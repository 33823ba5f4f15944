"""Queries on the event outbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from zentra.models import OutboxEvent


def insert_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert event rows in one executemany."""
    if rows:
        session.execute(insert(OutboxEvent), rows)


def list_events(
    session: Session,
    tenant_id: str,
    *,
    limit: int,
    after_id: str | None = None,
    event_type: str | None = None,
    resource_id: str | None = None,
) -> list[OutboxEvent]:
    """Events in id (creation) order after ``after_id``, optionally filtered."""
    query = select(OutboxEvent).where(OutboxEvent.tenant_id == tenant_id)
    if after_id is not None:
        query = query.where(OutboxEvent.id > after_id)
    if event_type is not None:
        query = query.where(OutboxEvent.type == event_type)
    if resource_id is not None:
        query = query.where(OutboxEvent.resource_id == resource_id)
    return list(session.scalars(query.order_by(OutboxEvent.id).limit(limit)))
