"""Reading movement imports: NDJSON or CSV bodies into validated movements (SPEC 13).

Movements are the tenant's own record of money it moved (payments, transfers, card transactions,
payouts, refunds, fees), each with the provider and provider reference a settlement row will
carry. This module is pure: it turns bytes or decoded rows into :class:`MovementInput` values,
and every problem of one row into a reason for that row alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, NamedTuple

from zentra.ingest.text import CsvTable, decode_text, read_csv
from zentra.ingest.values import read_currency, read_json_minor_amount, read_timestamp
from zentra.kit.errors import InvalidInput, UnreadableFile

MOVEMENT_TYPES = frozenset({"payment", "transfer", "card", "payout", "refund", "fee"})
_TYPES_TEXT = ", ".join(sorted(MOVEMENT_TYPES))
REQUIRED_FIELDS = (
    "movement_id",
    "type",
    "provider",
    "provider_reference",
    "amount",
    "currency",
    "status",
    "occurred_at",
)
# Column widths of the movements table: a longer value is refused for its row, never truncated.
_MAX_LENGTH = {
    "movement_id": 200,
    "type": 20,
    "provider": 100,
    "provider_reference": 200,
    "status": 40,
    "ledger_entry_id": 200,
}

NDJSON_MEDIA_TYPES = frozenset(
    {"application/x-ndjson", "application/json-lines", "application/jsonl"}
)
CSV_MEDIA_TYPES = frozenset({"text/csv"})


class MovementInput(NamedTuple):
    """One validated movement, normalized: UTC time, upper-case currency, integer minor units."""

    movement_id: str
    type: str
    provider: str
    provider_reference: str
    amount_minor: int
    currency: str
    status: str
    occurred_at: datetime
    ledger_entry_id: str | None
    metadata: dict[str, Any]


class SourceRow(NamedTuple):
    """One row of an import before validation: its line, its decoded fields or why it has none."""

    line: int
    fields: dict[str, Any] | None
    error: str | None


def _optional_text(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    cleaned = value.strip()
    if len(cleaned) > _MAX_LENGTH[name]:
        raise InvalidInput(f"{name} is longer than {_MAX_LENGTH[name]} characters")
    return cleaned


def _required_text(row: dict[str, Any], name: str) -> str:
    value = _optional_text(row, name)
    if value is None:
        raise InvalidInput(f"{name} is missing")
    return value


def read_movement(row: dict[str, Any]) -> MovementInput:
    """Validate one decoded row (JSON types, or CSV strings) into a :class:`MovementInput`.

    Raises :class:`InvalidInput` naming the first field that is missing or wrong. ``amount`` must
    be an integer in minor units (a JSON integer or a string of digits): a float or a decimal
    string is refused. Unknown fields are ignored.
    """
    movement_id = _required_text(row, "movement_id")
    movement_type = _required_text(row, "type").lower()
    if movement_type not in MOVEMENT_TYPES:
        raise InvalidInput(f"type {movement_type!r} is not one of {_TYPES_TEXT}")
    provider = _required_text(row, "provider")
    reference = _required_text(row, "provider_reference")
    if row.get("amount") is None or row.get("amount") == "":
        raise InvalidInput("amount is missing")
    amount = read_json_minor_amount(row["amount"], "amount")
    currency_value = row.get("currency")
    if not isinstance(currency_value, str):
        raise InvalidInput(
            "currency is missing" if currency_value is None else "currency must be a string"
        )
    currency = read_currency(currency_value)
    status = _required_text(row, "status")
    occurred_value = row.get("occurred_at")
    if not isinstance(occurred_value, str):
        raise InvalidInput(
            "occurred_at is missing" if occurred_value is None else "occurred_at must be a string"
        )
    occurred_at = read_timestamp(occurred_value, "occurred_at")
    ledger_entry_id = _optional_text(row, "ledger_entry_id")
    metadata = row.get("metadata")
    if metadata is None or metadata == "":
        metadata = {}
    if not isinstance(metadata, dict):
        raise InvalidInput("metadata must be a JSON object")
    return MovementInput(
        movement_id,
        movement_type,
        provider,
        reference,
        amount,
        currency,
        status,
        occurred_at,
        ledger_entry_id,
        metadata,
    )


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _decode(content: bytes) -> str:
    try:
        return decode_text(content)
    except UnreadableFile as exc:
        # Nothing of an import is retained, so this is plain invalid input, not a kept refusal.
        raise InvalidInput(f"the import body cannot be read: {exc.detail}") from exc


def read_ndjson_rows(content: bytes) -> Iterator[SourceRow]:
    """One :class:`SourceRow` per non-blank line of an NDJSON body (line numbers 1-based).

    Raises :class:`InvalidInput` when the body is empty or not UTF-8.
    """
    text = _decode(content)
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield read_ndjson_line(number, line)


def read_ndjson_line(number: int, line: str) -> SourceRow:
    """The :class:`SourceRow` of one non-blank NDJSON line."""
    try:
        value = json.loads(line, parse_constant=_refuse_constant)
    except ValueError as exc:
        return SourceRow(number, None, f"not valid JSON: {exc}")
    if not isinstance(value, dict):
        return SourceRow(number, None, "a line must be a JSON object")
    return SourceRow(number, value, None)


def csv_source_row(number: int, names: list[str], values: list[str]) -> SourceRow:
    """The :class:`SourceRow` of one well-formed CSV data row (``metadata`` decoded)."""
    fields: dict[str, Any] = dict(zip(names, values, strict=True))
    metadata_text = fields.get("metadata", "").strip()
    if metadata_text:
        try:
            fields["metadata"] = json.loads(metadata_text, parse_constant=_refuse_constant)
        except ValueError as exc:
            return SourceRow(number, None, f"metadata is not valid JSON: {exc}")
    return SourceRow(number, fields, None)


def open_csv(content: bytes) -> CsvTable:
    """The header and data rows of a CSV import body.

    Raises :class:`InvalidInput` when the body is empty, not UTF-8, or its header is unusable
    or lacks a required column.
    """
    try:
        table = read_csv(_decode(content), key_column="movement_id")
    except UnreadableFile as exc:
        raise InvalidInput(f"the import body cannot be read: {exc.detail}") from exc
    missing = [name for name in REQUIRED_FIELDS if name not in table.columns]
    if missing:
        raise InvalidInput(f"the CSV header lacks the column(s) {', '.join(missing)}")
    return table


def read_csv_rows(content: bytes) -> Iterator[SourceRow]:
    """One :class:`SourceRow` per data row of a CSV body with a header (header is line 1).

    Values stay strings, except ``metadata``, whose text must be a JSON object. Raises
    :class:`InvalidInput` when the body is empty, not UTF-8, or its header is unusable.
    """
    table = open_csv(content)
    for row in table.rows:
        if row.fields is None:
            yield SourceRow(row.line, None, row.error)
        else:
            yield csv_source_row(row.line, table.names, row.fields)


def number_rows(rows: Iterable[dict[str, Any]]) -> Iterator[SourceRow]:
    """Already-decoded rows (a CLI reading NDJSON itself), numbered from 1 in order."""
    for number, row in enumerate(rows, start=1):
        if isinstance(row, dict):
            yield SourceRow(number, row, None)
        else:
            yield SourceRow(number, None, "a row must be a JSON object")
