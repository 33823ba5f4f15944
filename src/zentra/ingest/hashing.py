"""Content hashes: the natural identity of an external record and of a movement.

A content hash covers what a row *says*, never where it sat: not the file it came in, not its
line, not a generated id. The same row in a re-upload, a restated file or a shuffled file hashes
the same, which is what makes run fingerprints replay-safe (SPEC 3). Both hashes are sha256 over
canonical JSON (RFC 8785) with timestamps as RFC 3339 text.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from zentra.ingest.sources import ParsedRecord
from zentra.kit.canonical import canonical_hash
from zentra.kit.time import isoformat

_SAFE_INTEGER = 2**53 - 1


def flat_canonical_hash(value: dict[str, str | int | None]) -> str:
    """:func:`~zentra.kit.canonical.canonical_hash` of a flat object, about six times faster.

    For an object with ASCII keys (which sort the same by code point and by UTF-16 unit) whose
    values are text, integers within +/-(2**53 - 1) or null, RFC 8785 output equals
    ``json.dumps`` with sorted keys, no whitespace and no ASCII escaping: both escape only
    ``"``, ``\\`` and control characters, with the same short forms and lower-case
    ``\\u00xx``. Anything else (booleans, floats, large integers, other keys, lone surrogates)
    takes the general path, so the result is always exactly ``canonical_hash(value)``. A
    settlement file hashes every row, which is why this path exists; a test holds them equal.
    """
    for key, item in value.items():
        plain = (
            item is None or type(item) is str or (type(item) is int and abs(item) <= _SAFE_INTEGER)
        )
        if not plain or not key.isascii():
            return canonical_hash(value)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        data = text.encode()
    except UnicodeEncodeError:  # a lone surrogate: let the general path decide
        return canonical_hash(value)
    return hashlib.sha256(data).hexdigest()


def external_record_content_hash(
    *,
    provider_reference: str,
    type: str,
    amount_minor: int,
    fee_minor: int | None,
    currency: str,
    booked_at: datetime | None,
    description: str | None,
    row_id: str | None,
) -> str:
    """The content hash of one external record (settlement row) from its normalized fields.

    The matching engine and the run fingerprint use this same function: change it and every
    stored hash changes meaning.
    """
    return flat_canonical_hash(
        {
            "provider_reference": provider_reference,
            "type": type,
            "amount_minor": amount_minor,
            "fee_minor": fee_minor,
            "currency": currency,
            "booked_at": isoformat(booked_at) if booked_at is not None else None,
            "description": description,
            "row_id": row_id,
        }
    )


def parsed_record_content_hash(record: ParsedRecord) -> str:
    """:func:`external_record_content_hash` of a parsed record (its line and raw text excluded)."""
    return external_record_content_hash(
        provider_reference=record.provider_reference,
        type=record.type,
        amount_minor=record.amount_minor,
        fee_minor=record.fee_minor,
        currency=record.currency,
        booked_at=record.booked_at,
        description=record.description,
        row_id=record.row_id,
    )


def movement_content(
    *,
    movement_id: str,
    type: str,
    provider: str,
    provider_reference: str,
    amount_minor: int,
    currency: str,
    status: str,
    occurred_at: datetime,
    ledger_entry_id: str | None,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """A movement's content under its public field names: what its hash covers, and what a
    conflicting re-import is compared on, field by field."""
    return {
        "movement_id": movement_id,
        "type": type,
        "provider": provider,
        "provider_reference": provider_reference,
        "amount": amount_minor,
        "currency": currency,
        "status": status,
        "occurred_at": isoformat(occurred_at),
        "ledger_entry_id": ledger_entry_id,
        "metadata": metadata,
    }


def movement_content_hash(content: dict[str, Any]) -> str:
    """The content hash of a movement's :func:`movement_content`.

    Raises ``rfc8785.CanonicalizationError`` when metadata holds a number canonical JSON cannot
    represent exactly (a non-finite float, an integer beyond 2**53 - 1).
    """
    return canonical_hash(content)
