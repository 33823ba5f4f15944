"""Queries on reconciliation exceptions, their activity and the evidence they point at.

Every query filters by ``tenant_id`` (row-level security repeats it beneath on PostgreSQL), so
another tenant's exception is simply not found.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from zentra.models import (
    ExceptionActivity,
    ExternalRecord,
    Movement,
    ReconciliationException,
    ReconciliationRun,
    SettlementFile,
    Tenant,
)


def get_run(
    session: Session, tenant_id: str, run_id: str, *, share_lock: bool = False
) -> ReconciliationRun | None:
    """The tenant's run, optionally read ``FOR SHARE``.

    The share lock is what every exception change takes: it lets changes of one run proceed
    side by side but waits for (and then sees) a closeout, which locks the run ``FOR UPDATE``.
    """
    query = select(ReconciliationRun).where(
        ReconciliationRun.tenant_id == tenant_id, ReconciliationRun.id == run_id
    )
    if share_lock:
        query = query.with_for_update(read=True).execution_options(populate_existing=True)
    return session.scalars(query).first()


def get_exception(
    session: Session, tenant_id: str, exception_id: str, *, lock: bool = False
) -> ReconciliationException | None:
    """The tenant's exception, optionally locked ``FOR UPDATE`` (re-read, not from the cache)."""
    query = select(ReconciliationException).where(
        ReconciliationException.tenant_id == tenant_id,
        ReconciliationException.id == exception_id,
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def list_exceptions(
    session: Session,
    tenant_id: str,
    *,
    limit: int,
    after_id: str | None = None,
    run_id: str | None = None,
    exception_type: str | None = None,
    status: str | None = None,
    owner: str | None = None,
    assignee: str | None = None,
    created_before: datetime | None = None,
    connection_id: str | None = None,
    business_date: date | None = None,
    unattached: bool | None = None,
) -> list[ReconciliationException]:
    """Up to ``limit`` exceptions in id order after ``after_id``, filtered (``unattached``:
    True for those without a run, False for those of a run, None for both)."""
    query = select(ReconciliationException).where(ReconciliationException.tenant_id == tenant_id)
    if after_id is not None:
        query = query.where(ReconciliationException.id > after_id)
    if run_id is not None:
        query = query.where(ReconciliationException.run_id == run_id)
    if exception_type is not None:
        query = query.where(ReconciliationException.type == exception_type)
    if status is not None:
        query = query.where(ReconciliationException.status == status)
    if owner is not None:
        query = query.where(ReconciliationException.owner == owner)
    if assignee is not None:
        query = query.where(ReconciliationException.assignee == assignee)
    if created_before is not None:
        query = query.where(ReconciliationException.created_at <= created_before)
    if connection_id is not None:
        query = query.where(ReconciliationException.connection_id == connection_id)
    if business_date is not None:
        query = query.where(ReconciliationException.business_date == business_date)
    if unattached is not None:
        query = query.where(
            ReconciliationException.run_id.is_(None)
            if unattached
            else ReconciliationException.run_id.is_not(None)
        )
    return list(session.scalars(query.order_by(ReconciliationException.id).limit(limit)))


def list_activities(session: Session, tenant_id: str, exception_id: str) -> list[ExceptionActivity]:
    """The exception's whole history, oldest first (ids are time-ordered)."""
    query = (
        select(ExceptionActivity)
        .where(
            ExceptionActivity.tenant_id == tenant_id,
            ExceptionActivity.exception_id == exception_id,
        )
        .order_by(ExceptionActivity.at, ExceptionActivity.id)
    )
    return list(session.scalars(query))


def get_external_record_with_file(
    session: Session, tenant_id: str, external_record_id: str
) -> tuple[ExternalRecord, SettlementFile | None] | None:
    """An external record with the settlement file it was read from (None for a record that
    came from a provider callback), in one query."""
    query = (
        select(ExternalRecord, SettlementFile)
        .outerjoin(
            SettlementFile,
            (SettlementFile.id == ExternalRecord.settlement_file_id)
            & (SettlementFile.tenant_id == tenant_id),
        )
        .where(ExternalRecord.tenant_id == tenant_id, ExternalRecord.id == external_record_id)
    )
    row = session.execute(query).first()
    return None if row is None else (row[0], row[1])


def get_movement(session: Session, tenant_id: str, movement_id: str) -> Movement | None:
    """The tenant's movement with this (client-chosen) ``movement_id``."""
    query = select(Movement).where(
        Movement.tenant_id == tenant_id, Movement.movement_id == movement_id
    )
    return session.scalars(query).first()


def get_tenant_settings(session: Session, tenant_id: str) -> dict[str, Any]:
    """The tenant's settings (empty when the tenant has none)."""
    tenant = session.get(Tenant, tenant_id)
    return dict(tenant.settings or {}) if tenant is not None else {}


def add_activity(session: Session, activity: ExceptionActivity) -> None:
    """Append one activity row (activity is never updated or deleted)."""
    session.add(activity)
    session.flush()
