"""Public shapes of settlement files, external records, movements and import results.

Money is integer minor units beside its ISO 4217 currency; times are RFC 3339 text in UTC.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel

from zentra.ingest.service import ImportResult
from zentra.kit.time import isoformat
from zentra.models import ExternalRecord, Movement, SettlementFile


class RejectedRowOut(BaseModel):
    """A row of a file that was not kept, and why."""

    line: int
    reason: str


class SettlementFileOut(BaseModel):
    """An uploaded settlement file (its bytes are kept, not shown)."""

    id: str
    provider: str
    file_id: str | None
    filename: str | None
    sha256: str
    size_bytes: int
    format: str
    status: str
    refusal_reason: str | None
    rows: int
    rejected_rows: list[RejectedRowOut]
    business_date: date | None
    uploaded_by: str
    created_at: str

    @classmethod
    def of(cls, file: SettlementFile) -> SettlementFileOut:
        return cls(
            id=file.id,
            provider=file.provider,
            file_id=file.file_id,
            filename=file.filename,
            sha256=file.sha256,
            size_bytes=file.size_bytes,
            format=file.format,
            status=file.status,
            refusal_reason=file.refusal_reason,
            rows=file.rows,
            rejected_rows=[RejectedRowOut(**row) for row in file.rejected_rows],
            business_date=file.business_date,
            uploaded_by=file.uploaded_by,
            created_at=isoformat(file.created_at),
        )


class ExternalRecordOut(BaseModel):
    """One normalized settlement row with its source line and raw text."""

    id: str
    settlement_file_id: str | None
    provider: str
    line: int
    row_id: str | None
    provider_reference: str
    type: str
    amount: int
    fee: int | None
    currency: str
    booked_at: str | None
    description: str | None
    raw: str
    content_hash: str
    details: dict[str, Any] | None = None

    @classmethod
    def of(cls, record: ExternalRecord) -> ExternalRecordOut:
        return cls(
            id=record.id,
            settlement_file_id=record.settlement_file_id,
            provider=record.provider,
            line=record.line,
            row_id=record.row_id,
            provider_reference=record.provider_reference,
            type=record.type,
            amount=record.amount_minor,
            fee=record.fee_minor,
            currency=record.currency,
            booked_at=isoformat(record.booked_at) if record.booked_at is not None else None,
            description=record.description,
            raw=record.raw,
            content_hash=record.content_hash,
            details=record.details,
        )


class MovementOut(BaseModel):
    """An internal movement."""

    id: str
    movement_id: str
    type: str
    provider: str
    provider_reference: str
    amount: int
    currency: str
    status: str
    occurred_at: str
    ledger_entry_id: str | None
    metadata: dict[str, Any]
    content_hash: str
    created_at: str

    @classmethod
    def of(cls, movement: Movement) -> MovementOut:
        return cls(
            id=movement.id,
            movement_id=movement.movement_id,
            type=movement.type,
            provider=movement.provider,
            provider_reference=movement.provider_reference,
            amount=movement.amount_minor,
            currency=movement.currency,
            status=movement.status,
            occurred_at=isoformat(movement.occurred_at),
            ledger_entry_id=movement.ledger_entry_id,
            metadata=movement.metadata_,
            content_hash=movement.content_hash,
            created_at=isoformat(movement.created_at),
        )


class ImportRejectionOut(BaseModel):
    """A refused import row."""

    line: int
    movement_id: str | None
    reason: str


class ImportResultOut(BaseModel):
    """The outcome of ``POST /movements/import``."""

    imported: int
    unchanged: int
    rejected: list[ImportRejectionOut]

    @classmethod
    def of(cls, result: ImportResult) -> ImportResultOut:
        return cls(
            imported=result.imported,
            unchanged=result.unchanged,
            rejected=[
                ImportRejectionOut(line=r.line, movement_id=r.movement_id, reason=r.reason)
                for r in result.rejected
            ],
        )


class SettlementFilePage(BaseModel):
    data: list[SettlementFileOut]
    next_cursor: str | None


class ExternalRecordPage(BaseModel):
    data: list[ExternalRecordOut]
    next_cursor: str | None


class MovementPage(BaseModel):
    data: list[MovementOut]
    next_cursor: str | None
