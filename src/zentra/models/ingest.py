"""Settlement files (byte-exact), their external records, and internal movements."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from zentra.models.base import Base, JSONType, TenantScoped


class SettlementFile(TenantScoped, Base):
    """An uploaded provider or bank file, kept byte-exact with its sha256."""

    __tablename__ = "settlement_files"
    __table_args__ = (
        UniqueConstraint("tenant_id", "provider", "sha256"),
        Index("ix_settlement_files_file_id", "tenant_id", "file_id"),
        Index("ix_settlement_files_business_date", "tenant_id", "provider", "business_date"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider: Mapped[str] = mapped_column(String(100))
    file_id: Mapped[str | None] = mapped_column(String(200))
    filename: Mapped[str | None] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20))
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(Integer)
    rejected_rows: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    # The day the file reports on: given at upload, else the latest day a row is booked on (UTC).
    business_date: Mapped[date | None] = mapped_column(Date)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class ExternalRecord(TenantScoped, Base):
    """One normalized settlement row, or the money of one provider callback."""

    __tablename__ = "external_records"
    __table_args__ = (
        Index("ix_external_records_file", "tenant_id", "settlement_file_id"),
        # A late callback finds the exceptions of its reference through its records.
        Index("ix_external_records_reference", "tenant_id", "reference_key"),
        # A new file finds the earlier versions of the rows it restates. Partial: rows without
        # a row id (callbacks, files without one) cost nothing more to write.
        Index(
            "ix_external_records_row",
            "tenant_id",
            "row_id",
            postgresql_where=text("row_id IS NOT NULL"),
            sqlite_where=text("row_id IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # None for a record that came from a provider callback (see ``callbacks``).
    settlement_file_id: Mapped[str | None] = mapped_column(ForeignKey("settlement_files.id"))
    provider: Mapped[str] = mapped_column(String(100))
    line: Mapped[int] = mapped_column(Integer)
    row_id: Mapped[str | None] = mapped_column(String(200))
    provider_reference: Mapped[str] = mapped_column(String(200))
    reference_key: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    booked_at: Mapped[datetime | None]
    description: Mapped[str | None] = mapped_column(Text)
    # A payout or batch id that groups rows (a payout's charges, fees and refunds).
    group_key: Mapped[str | None] = mapped_column(String(200))
    counterparty: Mapped[str | None] = mapped_column(String(500))
    raw: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    # Structured fields a format carries beyond the common ones (a NACHA return's reason code,
    # original trace, corrected data); NULL when it has none. Not part of the content hash:
    # they are read from the same raw text the hash already covers.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class Movement(TenantScoped, Base):
    """An internal payment, transfer, card transaction, payout, refund or fee."""

    __tablename__ = "movements"
    __table_args__ = (
        Index("uq_movements_tenant_id_movement_id", "tenant_id", "movement_id", unique=True),
        Index("ix_movements_provider_time", "tenant_id", "provider", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    movement_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(100))
    provider_reference: Mapped[str] = mapped_column(String(200))
    reference_key: Mapped[str] = mapped_column(String(200))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime]
    occurred_on: Mapped[date] = mapped_column(Date)
    ledger_entry_id: Mapped[str | None] = mapped_column(String(200))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]

    @classmethod
    def occurred_between(cls, first_day: date, last_day: date) -> ColumnElement[bool]:
        """``occurred_on`` from ``first_day`` to ``last_day`` (UTC days, inclusive), written as
        a range of ``occurred_at`` (``occurred_on`` is its UTC day): with the tenant and the
        provider, ``ix_movements_provider_time`` then reads only those days, not the provider's
        whole history."""
        start = datetime.combine(first_day, time.min, tzinfo=UTC)
        end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=UTC)
        return and_(cls.occurred_at >= start, cls.occurred_at < end)
