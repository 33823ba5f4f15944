"""Queries of expected-file schedules: the schedule of a connection, and the business dates the
provider's settlement files cover. Every query filters by ``tenant_id``."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zentra.kit.time import as_utc, start_of_day
from zentra.models import ExternalRecord, ProviderConnection, ProviderFileSchedule, SettlementFile


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
    date (the latest day a row of the file is booked on, UTC) is ``since`` or later; the first
    file uploaded for a date names it. One grouped query."""
    latest = func.max(ExternalRecord.booked_at)
    rows = session.execute(
        select(SettlementFile.id, latest)
        .join(ExternalRecord, ExternalRecord.settlement_file_id == SettlementFile.id)
        .where(
            SettlementFile.tenant_id == tenant_id,
            ExternalRecord.tenant_id == tenant_id,
            SettlementFile.provider == provider,
            SettlementFile.status == "parsed",
        )
        .group_by(SettlementFile.id)
        .having(latest >= start_of_day(since))
        .order_by(SettlementFile.id)
    ).all()
    found: dict[date, str] = {}
    for file_id, booked in rows:
        if booked is None:
            continue
        day = as_utc(booked).date() if isinstance(booked, datetime) else _parse_day(booked)
        found.setdefault(day, file_id)
    return found


def file_business_date(session: Session, tenant_id: str, settlement_file_id: str) -> date | None:
    """The business date of one file: the latest day a row of it is booked on (UTC)."""
    booked = session.execute(
        select(func.max(ExternalRecord.booked_at)).where(
            ExternalRecord.tenant_id == tenant_id,
            ExternalRecord.settlement_file_id == settlement_file_id,
        )
    ).scalar_one_or_none()
    if booked is None:
        return None
    return as_utc(booked).date() if isinstance(booked, datetime) else _parse_day(booked)


def _parse_day(value: object) -> date:
    # SQLite hands an aggregate of a datetime column back as its stored text.
    return datetime.fromisoformat(str(value)).date()


def connections_named(session: Session, tenant_id: str, provider: str) -> list[ProviderConnection]:
    """The tenant's connection whose name is ``provider`` (none or one)."""
    query = select(ProviderConnection).where(
        ProviderConnection.tenant_id == tenant_id, ProviderConnection.name == provider
    )
    return list(session.scalars(query))
