"""The payment runtime: intents, the tenant's policy and routes, rail health, and the sandbox
rail's outbound callbacks. Every table belongs to one tenant (row-level security on PostgreSQL).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from zentra.models.base import Base, JSONType, TenantScoped


class Intent(TenantScoped, Base):
    """A request to move money and how far it went through the runtime state machine.

    ``intent_id`` is the client's idempotency key; ``content`` is the request as the contract
    validated it (every member but the id) and ``content_hash`` its canonical hash, so a replay
    with other content can name the fields that differ. ``accepted_on`` (UTC) is the day the
    velocity cap counts the intent in, unless it was rejected.
    """

    __tablename__ = "intents"
    __table_args__ = (
        UniqueConstraint("tenant_id", "intent_id"),
        Index("ix_intents_velocity", "tenant_id", "source", "currency", "accepted_on"),
        Index("ix_intents_rail_reference", "tenant_id", "rail", "provider_reference"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    intent_id: Mapped[str] = mapped_column(String(200))
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)
    content_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(100))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(200))
    destination: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(100))
    rail: Mapped[str | None] = mapped_column(String(100))
    provider_reference: Mapped[str | None] = mapped_column(String(200))
    movement_id: Mapped[str | None] = mapped_column(String(200))
    ledger_entries: Mapped[list[str]] = mapped_column(JSONType)
    trace: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    policy: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # The sealed evidence document (signature included), see runtime/evidence.py.
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType)
    actor: Mapped[str] = mapped_column(String(200))
    accepted_on: Mapped[date] = mapped_column(Date)
    settled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RuntimeSetting(TenantScoped, Base):
    """One settings document of a tenant (``policy`` or ``routes``) and its version."""

    __tablename__ = "runtime_settings"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "kind"),)

    kind: Mapped[str] = mapped_column(String(20))
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    version: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class RailHealth(TenantScoped, Base):
    """The health an operator or monitor set for a rail; a rail without a row is up."""

    __tablename__ = "rail_health"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "rail"),)

    rail: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10))
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class SandboxCallback(TenantScoped, Base):
    """A callback a sandbox rail sent (or holds back to send late): its event id and exact body.
    Signed at each delivery, as a provider signs each attempt."""

    __tablename__ = "sandbox_callbacks"
    __table_args__ = (UniqueConstraint("tenant_id", "connection_id", "event_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("provider_connections.id"))
    event_id: Mapped[str] = mapped_column(String(200))
    provider_reference: Mapped[str] = mapped_column(String(200))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    late: Mapped[bool] = mapped_column(Boolean)
    # 2 for a callback the rail sends twice (same event id): the duplicate noise.
    copies: Mapped[int] = mapped_column(Integer)
    settlement_date: Mapped[date] = mapped_column(Date)
    deliveries: Mapped[int] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
