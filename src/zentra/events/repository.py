"""Queries on the event outbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from zentra.kit.bulk import bulk_insert, rows_as_arrow
from zentra.models import OutboxEvent

BULK_FROM = 64
"""Rows from which events go through ``kit/bulk.py`` (``COPY`` on PostgreSQL): an
``executemany`` of 8,000 events costs more than the ledger batch that emits them."""

_EVENTS: Table = OutboxEvent.__table__  # type: ignore[assignment]


def insert_many(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert event rows (keyed by column name): a few in one executemany, many in bulk."""
    if len(rows) >= BULK_FROM:
        bulk_insert(session, _EVENTS, rows_as_arrow(_EVENTS, rows))
    elif rows:
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
