"""Queries on the audit chain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from zentra.models import AuditEvent, AuditHead


def insert_head(session: Session, tenant_id: str, genesis_hash: str) -> None:
    """Create a tenant's chain head at sequence 0."""
    session.add(AuditHead(tenant_id=tenant_id, seq=0, hash=genesis_hash))
    session.flush()


def lock_head(session: Session, tenant_id: str) -> AuditHead:
    """Load the tenant's chain head, locked until the transaction ends."""
    head = session.scalars(
        select(AuditHead).where(AuditHead.tenant_id == tenant_id).with_for_update()
    ).one()
    return head


def get_head(session: Session, tenant_id: str) -> AuditHead | None:
    """The tenant's chain head, unlocked."""
    return session.scalars(select(AuditHead).where(AuditHead.tenant_id == tenant_id)).first()


def iter_chain(session: Session, tenant_id: str) -> Iterator[AuditEvent]:
    """Every record of the tenant's chain in sequence order, streamed."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.tenant_id == tenant_id)
        .order_by(AuditEvent.seq)
        .execution_options(yield_per=1000)
    )
    yield from session.scalars(query)


def list_events(
    session: Session,
    tenant_id: str,
    *,
    limit: int,
    after_seq: int | None = None,
    resource_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
) -> list[AuditEvent]:
    """Up to ``limit`` records in sequence order, after ``after_seq``, optionally filtered."""
    query = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if after_seq is not None:
        query = query.where(AuditEvent.seq > after_seq)
    if resource_id is not None:
        query = query.where(AuditEvent.resource_id == resource_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    return list(session.scalars(query.order_by(AuditEvent.seq).limit(limit)))
