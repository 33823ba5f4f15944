"""Queries of expected-file schedules: the schedule of a connection, and the business dates the
provider's settlement files cover. Every query filters by ``tenant_id``."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from zentra.models import ProviderConnection, ProviderFileSchedule, SettlementFile


def get_schedule(
    session: Session, tenant_id: str, connection_id: str, *, lock: bool = False
) -> ProviderFileSchedule | None:
    """The connection's schedule, optionally locked for this transaction."""
    query = select(ProviderFileSchedule).where(
        ProviderFileSchedule.tenant_id == tenant_id,
        ProviderFileSchedule.connection_id == connection_id,
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def add_schedule(session: Session, schedule: ProviderFileSchedule) -> None:
    """Insert a new schedule."""
    session.add(schedule)
    session.flush()


def file_business_dates(
    session: Session, tenant_id: str, provider: str, since: date
) -> dict[date, str]:
    """``{business date: settlement file id}`` of the provider's parsed files whose business
    date is ``since`` or later; the first file uploaded for a date names it. One indexed query."""
    rows = session.execute(
        select(SettlementFile.business_date, SettlementFile.id)
        .where(
            SettlementFile.tenant_id == tenant_id,
            SettlementFile.provider == provider,
            SettlementFile.business_date >= since,
            SettlementFile.status == "parsed",
        )
        .order_by(SettlementFile.id)
    ).all()
    found: dict[date, str] = {}
    for day, file_id in rows:
        if day is not None:  # excluded by the filter; the column itself is nullable
            found.setdefault(day, file_id)
    return found


def connections_named(session: Session, tenant_id: str, provider: str) -> list[ProviderConnection]:
    """The tenant's connection whose name is ``provider`` (none or one)."""
    query = select(ProviderConnection).where(
        ProviderConnection.tenant_id == tenant_id, ProviderConnection.name == provider
    )
    return list(session.scalars(query))
