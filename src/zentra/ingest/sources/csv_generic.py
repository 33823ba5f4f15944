"""The generic settlement CSV (SPEC 13, ``format: "csv"``).

A header row names the columns, in any order (trimmed, case-insensitive):

=====================  ==========================================================================
``provider_reference``  required column; the provider's reference of the transaction (may be empty:
                        bank lines often carry none)
``amount``              decimal in major units (``1250.00``); no more decimals than the currency's
                        ISO 4217 exponent. Or ``amount_minor``, an integer in minor units; when a
                        row carries both they must agree
``currency``            required; ISO 4217 code
``type``                ``charge`` (default), ``refund``, ``payout``, ``fee`` or ``adjustment``
``booked_at``           ISO date (midnight UTC) or timestamp (naive means UTC); optional
``fee``                 optional, major units (or ``fee_minor``, integer minor units)
``description``         optional free text
``row_id``              optional; the provider's id of the row (the external row id)
``group_key``           optional; a payout or batch id grouping rows (or ``payout_id``,
                        ``batch_id``: the first of the three the header names is read)
``counterparty``        optional; who paid or was paid
=====================  ==========================================================================

Other columns are ignored (they stay in each record's ``raw`` text). The separator is normally a
comma; a header separated by ``;``, tab or ``|`` is read with that separator.
"""

from __future__ import annotations

from datetime import datetime

from zentra.ingest.sources.base import (
    RECORD_TYPES,
    ParsedFile,
    ParsedRecord,
    RejectedRow,
    SourceFormat,
    cyclic_gc_paused,
)
from zentra.ingest.text import choose_delimiter, decode_text, first_line, header_names, read_csv
from zentra.ingest.values import (
    read_currency,
    read_major_amount,
    read_minor_amount,
    read_text,
    read_timestamp,
)
from zentra.kit.errors import InvalidInput, UnreadableFile

NAME = "csv"
KEY_COLUMN = "provider_reference"
REFERENCE_MAX = 200
ROW_ID_MAX = 200
GROUP_KEY_MAX = 200
COUNTERPARTY_MAX = 500
GROUP_KEY_COLUMNS = ("group_key", "payout_id", "batch_id")
"""Names of the group key column, in order of preference when a header names several."""
_TYPES_TEXT = ", ".join(sorted(RECORD_TYPES))
_FEE_CACHE_SIZE = 4096


class _Columns:
    """Index of each known column in the header (None when the file lacks it)."""

    __slots__ = (
        "amount",
        "amount_minor",
        "booked_at",
        "counterparty",
        "currency",
        "description",
        "fee",
        "fee_minor",
        "group_key",
        "reference",
        "row_id",
        "type",
    )

    def __init__(self, columns: dict[str, int]) -> None:
        missing = [name for name in (KEY_COLUMN, "currency") if name not in columns]
        if "amount" not in columns and "amount_minor" not in columns:
            missing.append("amount (or amount_minor)")
        if missing:
            found = ", ".join(name for name in columns if name) or "none"
            raise UnreadableFile(
                f"the header row lacks the required column(s) {', '.join(missing)} "
                f"(found: {found}); the first line must name the columns",
                missing_columns=missing,
            )
        self.reference: int = columns[KEY_COLUMN]
        self.currency: int = columns["currency"]
        self.amount = columns.get("amount")
        self.amount_minor = columns.get("amount_minor")
        self.type = columns.get("type")
        self.booked_at = columns.get("booked_at")
        self.fee = columns.get("fee")
        self.fee_minor = columns.get("fee_minor")
        self.description = columns.get("description")
        self.row_id = columns.get("row_id")
        self.group_key = next(
            (columns[name] for name in GROUP_KEY_COLUMNS if name in columns), None
        )
        self.counterparty = columns.get("counterparty")


def _optional(fields: list[str], index: int | None) -> str:
    return fields[index].strip() if index is not None else ""


def _money(
    fields: list[str], major_index: int | None, minor_index: int | None, currency: str, name: str
) -> int | None:
    """The amount of a major-units column and/or its ``_minor`` twin; None when both are empty."""
    major_text = _optional(fields, major_index)
    minor_text = _optional(fields, minor_index)
    major = read_major_amount(major_text, currency, name) if major_text else None
    minor = read_minor_amount(minor_text, f"{name}_minor") if minor_text else None
    if major is not None and minor is not None and major != minor:
        raise InvalidInput(
            f"{name} {major_text} {currency} ({major} minor units) disagrees with "
            f"{name}_minor {minor_text}"
        )
    return major if major is not None else minor


class _RowReader:
    """Turns the fields of one row into a :class:`ParsedRecord`, raising ``InvalidInput``.

    Written flat on purpose: it runs once per row of files with millions of rows.
    """

    def __init__(self, columns: _Columns) -> None:
        self.columns = columns
        # Settlement files repeat a handful of currencies, dates and fees over many rows:
        # reading each distinct text once keeps the per-row cost low.
        self.currencies: dict[str, str] = {}
        self.dates: dict[str, datetime] = {}
        self.fees: dict[tuple[str, str, str], int | None] = {}

    def read(self, fields: list[str], line: int, raw: str) -> ParsedRecord:
        cols = self.columns
        reference = fields[cols.reference].strip()
        if len(reference) > REFERENCE_MAX:
            raise InvalidInput(f"{KEY_COLUMN} is longer than {REFERENCE_MAX} characters")
        currency_text = fields[cols.currency]
        currency = self.currencies.get(currency_text)
        if currency is None:
            currency = read_currency(currency_text)
            self.currencies[currency_text] = currency
        if cols.amount_minor is None and cols.amount is not None:
            amount_text = fields[cols.amount]
            if not amount_text or amount_text.isspace():
                raise InvalidInput("amount is empty")
            amount = read_major_amount(amount_text, currency, "amount")
        else:
            both = _money(fields, cols.amount, cols.amount_minor, currency, "amount")
            if both is None:
                raise InvalidInput("amount is empty")
            amount = both
        record_type = "charge"
        if cols.type is not None:
            record_type = fields[cols.type].strip().lower() or "charge"
            if record_type not in RECORD_TYPES:
                raise InvalidInput(f"type {record_type!r} is not one of {_TYPES_TEXT}")
        booked_at = None
        if cols.booked_at is not None:
            booked_text = fields[cols.booked_at]
            booked_at = self.dates.get(booked_text)
            if booked_at is None and booked_text.strip():
                booked_at = read_timestamp(booked_text, "booked_at")
                if len(booked_text) == 10:  # whole dates repeat often enough to be worth caching
                    self.dates[booked_text] = booked_at
        fee = None
        if cols.fee is not None or cols.fee_minor is not None:
            fee_key = (currency, _optional(fields, cols.fee), _optional(fields, cols.fee_minor))
            if fee_key in self.fees:
                fee = self.fees[fee_key]
            else:
                fee = _money(fields, cols.fee, cols.fee_minor, currency, "fee")
                if len(self.fees) < _FEE_CACHE_SIZE:
                    self.fees[fee_key] = fee
        description = None
        if cols.description is not None:
            description = fields[cols.description].strip() or None
        row_id = None
        if cols.row_id is not None:
            row_id = read_text(fields[cols.row_id], "row_id", max_length=ROW_ID_MAX, required=False)
        group_key = None
        if cols.group_key is not None:
            group_key = read_text(
                fields[cols.group_key], "group_key", max_length=GROUP_KEY_MAX, required=False
            )
        counterparty = None
        if cols.counterparty is not None:
            counterparty = read_text(
                fields[cols.counterparty],
                "counterparty",
                max_length=COUNTERPARTY_MAX,
                required=False,
            )
        return ParsedRecord(
            reference,
            record_type,
            amount,
            fee,
            currency,
            booked_at,
            description,
            row_id,
            line,
            raw,
            group_key,
            counterparty,
        )


def parse_generic_csv(content: bytes) -> ParsedFile:
    """Parse a generic settlement CSV into records and rejected rows.

    Raises :class:`UnreadableFile` when the bytes are not text, the file is empty, or the header
    lacks a required column. Every other problem rejects only its row, with its line and reason.
    """
    table = read_csv(decode_text(content), key_column=KEY_COLUMN)
    row_reader = _RowReader(_Columns(table.columns))
    read = row_reader.read
    parsed = ParsedFile()
    records, rejected = parsed.records, parsed.rejected
    with cyclic_gc_paused():
        for row in table.rows:
            if row.fields is None:
                rejected.append(RejectedRow(row.line, row.error or "malformed row"))
                continue
            try:
                records.append(read(row.fields, row.line, row.raw))
            except InvalidInput as exc:
                rejected.append(RejectedRow(row.line, exc.detail))
    return parsed


def looks_like_generic_csv(content: bytes) -> bool:
    """True when the first non-blank line is a header naming ``provider_reference``."""
    line = first_line(content)
    if line is None:
        return False
    return KEY_COLUMN in header_names(line, choose_delimiter(line, KEY_COLUMN))


SOURCE = SourceFormat(
    name=NAME,
    description="Generic settlement CSV (SPEC 13): header row, columns by name",
    sniff=looks_like_generic_csv,
    parse=parse_generic_csv,
)
