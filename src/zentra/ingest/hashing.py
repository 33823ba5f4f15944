"""Content hashes: the natural identity of an external record and of a movement.

A content hash covers what a row *says*, never where it sat: not the file it came in, not its
line, not a generated id. The same row in a re-upload, a restated file or a shuffled file hashes
the same, which is what makes run fingerprints replay-safe (SPEC 3).

A movement's hash (version 2) is sha256, as lower-case hex, of the UTF-8 bytes of the same kind of
length-prefixed encoding (see below for ``field``)::

    "mv2" + field(movement_id) + field(type) + field(provider) + field(provider_reference)
          + field(amount_minor) + field(currency) + field(status) + field(occurred_at)
          + field(ledger_entry_id) + field(metadata)

with the normalized values :func:`~zentra.ingest.movement_rows.read_movement` returns (trimmed
text, lower-case type, upper-case currency), ``occurred_at`` as integer microseconds since the
epoch, and ``metadata`` as its RFC 8785 canonical JSON text (:func:`metadata_canonical_text`;
``{}`` when absent). Canonical JSON of arbitrary metadata is not reproduced in SQL: the columnar
import computes that one text in Python for rows whose metadata is not empty, and everything
else in DuckDB. :func:`movement_content_hash` is the definition; a property test holds the
columnar import to it. (Version 1, still on movements stored before, was sha256 of the canonical
JSON of :func:`movement_content`; a re-import compares content, never hashes, so both coexist.)

An external record's hash (version 2) is sha256, as lower-case hex, of the UTF-8 bytes of a
length-prefixed encoding, chosen because it is computed identically by plain Python and inside
DuckDB for a million rows at once (no JSON escaping rules to reproduce)::

    "xr2" + field(provider_reference) + field(type) + field(amount_minor) + field(fee_minor)
          + field(currency) + field(booked_at) + field(description) + field(row_id)
          + field(group_key) + field(counterparty)

    field(None)  = "|-"
    field(value) = "|" + str(n) + ":" + text,  n = the number of UTF-8 bytes of text

where ``text`` is the value itself for text, the decimal digits (with a leading ``-`` when
negative) for integers, and for ``booked_at`` the integer number of microseconds since
1970-01-01T00:00:00Z. Every field is always present (None when absent), so adding a column to a
format never makes two different rows encode alike. :func:`external_record_content_hash` is the
definition; the fast CSV path computes the same bytes in SQL and a property test holds them equal.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rfc8785 import CanonicalizationError

from zentra.kit.canonical import canonical_hash, canonical_json
from zentra.kit.time import as_utc, isoformat

if TYPE_CHECKING:  # sources import this module: a runtime import would be circular
    from zentra.ingest.sources.base import ParsedRecord

EXTERNAL_HASH_TAG = "xr2"
"""Leading tag of the version-2 external record encoding (see the module docstring)."""
MOVEMENT_HASH_TAG = "mv2"
"""Leading tag of the version-2 movement encoding (see the module docstring)."""
EMPTY_METADATA = "{}"
"""Canonical JSON text of empty (or absent) metadata."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

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
    if not _flat_plain(value):
        return canonical_hash(value)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        data = text.encode()
    except UnicodeEncodeError:  # a lone surrogate: let the general path decide
        return canonical_hash(value)
    return hashlib.sha256(data).hexdigest()


def epoch_microseconds(moment: datetime) -> int:
    """Microseconds since 1970-01-01T00:00:00Z of an aware datetime (naive means UTC)."""
    delta = as_utc(moment) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _field(value: str | int | None) -> str:
    if value is None:
        return "|-"
    text = value if isinstance(value, str) else str(value)
    return f"|{len(text.encode())}:{text}"


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
    group_key: str | None = None,
    counterparty: str | None = None,
) -> str:
    """The content hash of one external record (settlement row) from its normalized fields.

    The definition (encoding version 2) is in the module docstring. The matching engine and the
    run fingerprint use this same function: change it and every stored hash changes meaning.
    """
    encoded = "".join(
        (
            EXTERNAL_HASH_TAG,
            _field(provider_reference),
            _field(type),
            _field(amount_minor),
            _field(fee_minor),
            _field(currency),
            _field(epoch_microseconds(booked_at) if booked_at is not None else None),
            _field(description),
            _field(row_id),
            _field(group_key),
            _field(counterparty),
        )
    )
    return hashlib.sha256(encoded.encode()).hexdigest()


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
        group_key=record.group_key,
        counterparty=record.counterparty,
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


def _flat_plain(value: dict[str, Any]) -> bool:
    for key, item in value.items():
        plain = (
            item is None or type(item) is str or (type(item) is int and abs(item) <= _SAFE_INTEGER)
        )
        if not plain or not key.isascii():
            return False
    return True


def metadata_canonical_text(metadata: dict[str, Any]) -> str:
    """RFC 8785 canonical JSON text of a movement's metadata (what its hash covers).

    A flat object of ASCII keys and text, null or safe-integer values takes ``json.dumps``
    (equal to RFC 8785 there, see :func:`flat_canonical_hash`); anything else ``rfc8785``.
    Raises ``rfc8785.CanonicalizationError`` for a number canonical JSON cannot represent exactly
    (a non-finite float, an integer beyond 2**53 - 1).
    """
    if not metadata:
        return EMPTY_METADATA
    if _flat_plain(metadata):
        text = json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        try:
            text.encode()
        except UnicodeEncodeError:  # a lone surrogate: let the general path decide
            return canonical_json(metadata).decode()
        return text
    return canonical_json(metadata).decode()


def movement_content_hash(
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
) -> str:
    """The content hash (version 2, see the module docstring) of one normalized movement.

    Takes the fields of :class:`~zentra.ingest.movement_rows.MovementInput` by name. Raises
    ``rfc8785.CanonicalizationError`` when metadata holds a number canonical JSON cannot
    represent exactly (a non-finite float, an integer beyond 2**53 - 1).
    """
    try:
        encoded = "".join(
            (
                MOVEMENT_HASH_TAG,
                _field(movement_id),
                _field(type),
                _field(provider),
                _field(provider_reference),
                _field(amount_minor),
                _field(currency),
                _field(status),
                _field(epoch_microseconds(occurred_at)),
                _field(ledger_entry_id),
                _field(metadata_canonical_text(metadata)),
            )
        )
        data = encoded.encode()
    except UnicodeEncodeError as exc:
        # A lone surrogate (from a JSON "\\ud800" escape): refused as version 1 refused it.
        raise CanonicalizationError("input contains non-UTF-8 codepoints") from exc
    return hashlib.sha256(data).hexdigest()
