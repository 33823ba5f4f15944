"""Provider connections, their signed inbound callbacks, and the security log of refusals.

``provider_connection_routes`` is a system table (no row-level security), like ``api_keys``: an
inbound callback carries no API key, so its connection id alone is resolved to the tenant
before any tenant-scoped transaction opens. Every other table here belongs to one tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zentra.models.base import Base, JSONType, TenantScoped


class ProviderConnection(TenantScoped, Base):
    """A configured rail: its kind and its callback signing secret.

    ``signing_secret`` is stored as given or generated; it should be encrypted at rest (a
    tenant data key) before production.
    """

    __tablename__ = "provider_connections"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    signing_secret: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class ProviderConnectionRoute(Base):
    """Which tenant a connection id belongs to, readable before the tenant is known."""

    __tablename__ = "provider_connection_routes"

    connection_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))


class Callback(TenantScoped, Base):
    """One signature-verified inbound provider event, kept raw, unique per provider event id."""

    __tablename__ = "callbacks"
    __table_args__ = (UniqueConstraint("tenant_id", "connection_id", "provider_event_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("provider_connections.id"))
    provider_event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(200))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    body_sha256: Mapped[str] = mapped_column(String(64))
    headers: Mapped[dict[str, Any]] = mapped_column(JSONType)
    external_record_id: Mapped[str | None] = mapped_column(ForeignKey("external_records.id"))
    received_at: Mapped[datetime]


class SecurityLogEntry(TenantScoped, Base):
    """A refused inbound callback: why, from where, and a digest of the headers it carried."""

    __tablename__ = "security_log"
    __table_args__ = (Index("ix_security_log_connection", "tenant_id", "connection_id", "at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("provider_connections.id"))
    reason: Mapped[str] = mapped_column(String(200))
    remote_address: Mapped[str | None] = mapped_column(String(100))
    headers_sha256: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
