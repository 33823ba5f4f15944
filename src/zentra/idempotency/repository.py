"""Queries on stored idempotency keys."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from zentra.models import IdempotencyRecord


def lock_record(session: Session, tenant_id: str, key: str) -> IdempotencyRecord | None:
    """The record of ``key``, locked for the transaction, if it exists."""
    return session.scalars(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.key == key)
        .with_for_update()
    ).first()


def delete_in_flight(session: Session, tenant_id: str, record_id: str) -> None:
    """Remove an in-flight marker (its request failed and changed nothing)."""
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.tenant_id == tenant_id,
            IdempotencyRecord.id == record_id,
            IdempotencyRecord.state == "in_flight",
        )
    )


def get_record(session: Session, tenant_id: str, record_id: str) -> IdempotencyRecord | None:
    """A record by id within the tenant."""
    return session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.id == record_id
        )
    ).first()
