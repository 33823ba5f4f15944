"""The event outbox: written in the same transaction as the state change it describes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from zentra.models.base import Base, JSONType, TenantScoped


class OutboxEvent(TenantScoped, Base):
    """An immutable event (``reconciliation.run.created`` ...) waiting for delivery."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_tenant_type", "tenant_id", "type"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    resource_id: Mapped[str | None] = mapped_column(String(200), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    published_at: Mapped[datetime | None]
