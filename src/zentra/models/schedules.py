"""Expected-file schedules of provider connections (source completeness)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zentra.models.base import Base, TenantScoped


class ProviderFileSchedule(TenantScoped, Base):
    """When a connection's settlement file is expected: one file per expected business date,
    by ``cutoff`` (local time in ``timezone``) on that date.

    ``cadence`` is ``daily`` (every day) or ``weekdays`` (Monday to Friday). Dates before
    ``starts_on`` are never expected. ``check_job_id`` names the one scheduled check job that
    may queue the next one: a replaced schedule's older job chain ends by itself.
    """

    __tablename__ = "provider_file_schedules"
    __table_args__ = (UniqueConstraint("tenant_id", "connection_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("provider_connections.id"))
    cadence: Mapped[str] = mapped_column(String(20))
    cutoff: Mapped[str] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64))
    starts_on: Mapped[date]
    owner: Mapped[str] = mapped_column(String(100))
    check_job_id: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
