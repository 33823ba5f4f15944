"""Lifecycle statuses that callbacks report for a provider reference, kept until applied.

One row per callback that names a status (:mod:`zentra.providers.movement_state`). ``applied``
is false while the event waits: for its predecessor (a ``refunded`` before ``captured``) or for
a movement of that reference to exist. Applied events are kept as the history of the status.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zentra.models.base import Base, TenantScoped
from zentra.models.ingest import Movement


class MovementStateEvent(TenantScoped, Base):
    """A status a verified callback reported for the movement(s) behind ``reference_key``."""

    __tablename__ = "movement_state_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "connection_id", "provider_event_id"),
        Index("ix_movement_state_events_reference", "tenant_id", "connection_id", "reference_key"),
    )

    # One state event per callback, named by it.
    callback_id: Mapped[str] = mapped_column(ForeignKey("callbacks.id"), primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("provider_connections.id"))
    provider_event_id: Mapped[str] = mapped_column(String(200))
    reference_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    applied: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime]


# A callback finds its movements by provider and reference: without this index each callback
# would scan every movement of the provider. Declared here, beside its only user, so that the
# movements model stays as the ingest domain wrote it.
Index(
    "ix_movements_provider_reference",
    Movement.tenant_id,
    Movement.provider,
    Movement.reference_key,
)
