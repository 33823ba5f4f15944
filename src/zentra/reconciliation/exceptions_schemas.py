"""Request bodies and JSON views of exceptions (SPEC 4). Amounts are integer minor units."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from zentra.kit.time import isoformat, utcnow
from zentra.models import (
    ExceptionActivity,
    ExternalRecord,
    Movement,
    ReconciliationException,
    SettlementFile,
)
from zentra.reconciliation.exceptions import ExceptionEvidence


class AssignRequest(BaseModel):
    """``POST /reconciliation/exceptions/{id}/assign``: ``owner`` and/or ``assignee``.

    An explicit ``"assignee": null`` unassigns; leaving it out keeps the current assignee.
    """

    model_config = ConfigDict(extra="forbid")

    owner: str | None = Field(default=None, max_length=100)
    assignee: str | None = Field(default=None, max_length=200)


class TransitionRequest(BaseModel):
    """``POST /reconciliation/exceptions/{id}/transitions``."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(max_length=20)
    decision: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=10_000)


class CommentRequest(BaseModel):
    """``POST /reconciliation/exceptions/{id}/comments``."""

    model_config = ConfigDict(extra="forbid")

    body: str = Field(max_length=10_000)


def _money(amount: int | None, currency: str | None) -> dict[str, Any] | None:
    if amount is None or currency is None:
        return None
    return {"amount": amount, "currency": currency}


def _iso(value: Any) -> str | None:
    return None if value is None else isoformat(value)


def exception_json(exception: ReconciliationException) -> dict[str, Any]:
    """The list view of one exception."""
    age_seconds = int((utcnow() - exception.created_at).total_seconds())
    return {
        "id": exception.id,
        "run_id": exception.run_id,
        "connection_id": exception.connection_id,
        "business_date": None
        if exception.business_date is None
        else exception.business_date.isoformat(),
        "type": exception.type,
        "status": exception.status,
        "owner": exception.owner,
        "assignee": exception.assignee,
        "provider_reference": exception.provider_reference,
        "external_record_id": exception.external_record_id,
        "movement_id": exception.movement_id,
        "amount": _money(exception.amount_minor, exception.currency),
        "decision": exception.decision,
        "note": exception.note,
        "age_hours": max(age_seconds, 0) // 3600,
        "created_at": isoformat(exception.created_at),
        "updated_at": isoformat(exception.updated_at),
        "resolved_at": _iso(exception.resolved_at),
        "links": {"self": f"/reconciliation/exceptions/{exception.id}"},
    }


def activity_json(activity: ExceptionActivity) -> dict[str, Any]:
    """One entry of an exception's decision history."""
    return {
        "id": activity.id,
        "kind": activity.kind,
        "actor": activity.actor,
        "at": isoformat(activity.at),
        "from": activity.from_status,
        "to": activity.to_status,
        "decision": activity.decision,
        "note": activity.note,
        "data": activity.data,
    }


def _external_record_json(record: ExternalRecord, file: SettlementFile | None) -> dict[str, Any]:
    return {
        "id": record.id,
        "provider": record.provider,
        "provider_reference": record.provider_reference,
        "row_id": record.row_id,
        "type": record.type,
        "amount": _money(record.amount_minor, record.currency),
        "fee": _money(record.fee_minor, record.currency),
        "booked_at": _iso(record.booked_at),
        "description": record.description,
        "line": record.line,
        "raw": record.raw,
        "content_hash": record.content_hash,
        "details": record.details,
        "settlement_file": None
        if file is None
        else {
            "id": file.id,
            "file_id": file.file_id,
            "filename": file.filename,
            "format": file.format,
            "sha256": file.sha256,
        },
    }


def _movement_json(movement: Movement) -> dict[str, Any]:
    return {
        "movement_id": movement.movement_id,
        "type": movement.type,
        "provider": movement.provider,
        "provider_reference": movement.provider_reference,
        "amount": _money(movement.amount_minor, movement.currency),
        "status": movement.status,
        "occurred_at": isoformat(movement.occurred_at),
        "ledger_entry_id": movement.ledger_entry_id,
        "metadata": movement.metadata_,
        "content_hash": movement.content_hash,
    }


def exception_detail_json(evidence: ExceptionEvidence) -> dict[str, Any]:
    """The detail view: the exception, its evidence and its decision history."""
    exception = evidence.exception
    record = evidence.external_record
    return {
        **exception_json(exception),
        "evidence": {
            "external_record": None
            if record is None
            else _external_record_json(record, evidence.settlement_file),
            "movement": None if evidence.movement is None else _movement_json(evidence.movement),
            "details": exception.details,
        },
        "history": [activity_json(a) for a in evidence.history],
    }
