"""The generic settlement CSV, read column-at-a-time (Arrow compute and DuckDB).

Same contract as :func:`~zentra.ingest.sources.csv_generic.parse_generic_csv`, and the same
answer to the byte: records, rejected lines and reasons, raw text, content hashes. The fast path
is *conservative* rather than clever:

- A file it cannot read exactly as the Python parser would is handed to the Python parser whole:
  UTF-16, a lone ``\\r`` line ending, a header that is quoted, not comma-separated, names a
  column twice or lacks a required one, and any line with an odd number of quotes (a quoted
  field spanning lines) or quoting the ``csv`` module refuses.
- Within a file, a row it cannot convert exactly goes to the Python row reader, which gives the
  record or the reason: rows with quotes, rows of the wrong width, and every row some vectorized
  check does not accept (an amount that is not a plain decimal of at most 14 integer digits, more
  decimals than the currency allows, a value too long...). The vectorized checks only ever
  *accept*; every reason text comes from the Python reader.

Values are converted without floats: an amount's integer and decimal digits are concatenated as
text, right-padded with zeros to the largest exponent present and cast to a 64-bit integer, then
divided exactly by the power of ten the currency does not use. Currencies, types and timestamps
repeat, so each distinct text is read once by the Python readers and the result joined back.
"""

from __future__ import annotations

import codecs
import csv
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zentra.ingest.hashing import EXTERNAL_HASH_TAG, parsed_record_content_hash
from zentra.ingest.sources import csv_generic
from zentra.ingest.sources.base import RECORD_TYPES, ParsedRecord, RejectedRow
from zentra.ingest.sources.columnar import RECORD_SCHEMA, ColumnarFile, records_table
from zentra.ingest.text import choose_delimiter, decode_text
from zentra.ingest.values import MAX_SAFE_AMOUNT, read_currency, read_timestamp
from zentra.kit.errors import InvalidInput
from zentra.kit.money import currency_exponent

PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""Every character for which ``str.isspace()`` is true: what ``str.strip()`` removes."""

_MAJOR = r"^[+-]?[0-9]{1,14}(\.[0-9]+)?$"  # 14 digits + 4 decimals still fit in int64
_MINOR = r"^[+-]?[0-9]{1,17}$"


def parse_generic_csv_columns(content: bytes) -> ColumnarFile:
    """Parse a generic settlement CSV into a :class:`ColumnarFile`.

    Raises :class:`~zentra.kit.errors.UnreadableFile` exactly when the Python parser does, with
    the same reason.
    """
    fast = _parse_fast(content)
    if fast is not None:
        return fast
    parsed = csv_generic.parse_generic_csv(content)
    hashes = [parsed_record_content_hash(record) for record in parsed.records]
    return ColumnarFile(records_table(parsed.records, hashes), parsed.rejected)


def _lines(body: bytes) -> pa.Array:
    """Physical lines of ``body`` split on ``\\n`` (endings trimmed), as an Arrow string array."""
    data = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(data == 10) + 1
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    if offsets[-1] != len(body):
        offsets = np.append(offsets, len(body))
    array = pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(body)
    )
    return pc.utf8_rtrim(array, characters="\r\n").cast(pa.string())


def _parse_fast(content: bytes) -> ColumnarFile | None:
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    text = decode_text(content)  # the same refusals as the Python parser
    carriage_returns = text.count("\r")
    if carriage_returns and carriage_returns != text.count("\r\n"):
        return None
    body = content[3:] if content.startswith(codecs.BOM_UTF8) else content
    lines = _lines(body)
    header_index = 0
    while header_index < len(lines) and not str(lines[header_index]).strip():
        header_index += 1
    if header_index >= len(lines):
        return None
    header = str(lines[header_index])
    if '"' in header or choose_delimiter(header, csv_generic.KEY_COLUMN) != ",":
        return None
    names = [name.strip().lower() for name in header.split(",")]
    columns = {name: index for index, name in reversed(list(enumerate(names)))}
    if any(names.count(name) > 1 for name in columns if name):
        return None
    try:
        layout = csv_generic._Columns(columns)
    except InvalidInput:  # UnreadableFile: let the Python parser raise it, word for word
        return None
    raw = lines.slice(header_index + 1)
    numbers = pa.array(np.arange(header_index + 2, header_index + 2 + len(raw), dtype=np.int64))
    return _read_rows(raw, numbers, layout, len(names))


def _python_rows(
    raw: list[str], numbers: list[int], layout: Any, width: int, *, quoted: bool
) -> tuple[list[ParsedRecord], list[RejectedRow]] | None:
    """Rows the vectorized path leaves to the Python reader (None: give up on the file)."""
    reader = csv_generic._RowReader(layout)
    records: list[ParsedRecord] = []
    rejected: list[RejectedRow] = []
    for line_text, number in zip(raw, numbers, strict=True):
        if quoted:
            if line_text.count('"') % 2:
                return None
            try:
                fields = next(csv.reader([line_text], strict=True), [])
            except csv.Error:
                return None
        else:
            fields = line_text.split(",")
        if not fields:
            continue
        if len(fields) != width:
            rejected.append(RejectedRow(number, f"expected {width} fields, found {len(fields)}"))
            continue
        if not any(fields):
            continue
        try:
            records.append(reader.read(fields, number, line_text))
        except InvalidInput as exc:
            rejected.append(RejectedRow(number, exc.detail))
    return records, rejected


def _trim(array: pa.Array) -> pa.Array:
    return pc.utf8_trim(array, characters=PYTHON_WHITESPACE)


def _lookup(texts: pa.Array, read: Any, value_type: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """Read each distinct text once with ``read``; the values per row and whether each was read."""
    distinct = pc.unique(texts)
    values: list[Any] = []
    accepted: list[bool] = []
    for text in distinct.to_pylist():
        try:
            values.append(read(text))
            accepted.append(True)
        except InvalidInput:
            values.append(None)
            accepted.append(False)
    index = pc.index_in(texts, value_set=distinct)
    return (
        pc.take(pa.array(values, type=value_type), index),
        pc.take(pa.array(accepted, type=pa.bool_()), index),
    )


def _optional_text(fields: pa.Array, maximum: int | None) -> tuple[pa.Array, pa.Array | bool]:
    """A trimmed optional text column (empty -> null) and whether each row is within ``maximum``."""
    trimmed = _trim(fields)
    value = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
    if maximum is None:
        return value, True
    return value, pc.less_equal(pc.fill_null(pc.utf8_length(value), 0), maximum)


def _minor_units(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Integer minor units of trimmed text, and whether it is a plain integer within range."""
    ok = pc.match_substring_regex(text, _MINOR)
    digits = pc.if_else(ok, pc.utf8_ltrim(text, characters="+-"), "0")
    magnitude = pc.cast(digits, pa.int64())
    value = pc.if_else(pc.starts_with(text, "-"), pc.negate(magnitude), magnitude)
    return value, pc.and_(ok, pc.less_equal(magnitude, MAX_SAFE_AMOUNT))


def _major_units(text: pa.Array, exponent: pa.Array, widest: int) -> tuple[pa.Array, pa.Array]:
    """Minor units of a trimmed major-unit decimal, and whether it converts exactly in range."""
    ok = pc.match_substring_regex(text, _MAJOR)
    unsigned = pc.if_else(ok, pc.utf8_ltrim(text, characters="+-"), "0")
    parts = pc.extract_regex(unsigned, r"^(?P<whole>[0-9]+)(?:\.(?P<decimals>[0-9]+))?$")
    whole = pc.struct_field(parts, "whole")
    decimals = pc.fill_null(pc.struct_field(parts, "decimals"), "")
    ok = pc.and_(ok, pc.less_equal(pc.utf8_length(decimals), exponent))
    padded = pc.utf8_rpad(pc.if_else(ok, decimals, ""), widest, "0")
    scaled = pc.cast(pc.binary_join_element_wise(whole, padded, ""), pa.int64())
    unit = pc.power(pa.scalar(10, pa.int64()), pc.subtract(widest, exponent))
    magnitude = pc.divide(scaled, unit)  # exact: the padding put those zeros there
    value = pc.if_else(pc.starts_with(text, "-"), pc.negate(magnitude), magnitude)
    return value, pc.and_(ok, pc.less_equal(magnitude, MAX_SAFE_AMOUNT))


def _money(
    table: dict[str, pa.Array],
    major: str | None,
    minor: str | None,
    exponent: pa.Array,
    widest: int,
    *,
    required: bool,
) -> tuple[pa.Array, pa.Array]:
    """An amount from a major column and/or its minor twin, as :func:`csv_generic._money` reads
    it; rows it does not accept go to the Python reader."""
    null = pa.nulls(len(exponent), pa.int64())
    major_value, major_ok, major_empty = null, pa.scalar(True), pa.scalar(True)
    minor_value, minor_ok, minor_empty = null, pa.scalar(True), pa.scalar(True)
    if major is not None:
        text = _trim(table[major])
        major_empty = pc.equal(text, "")
        major_value, accepted = _major_units(text, exponent, widest)
        major_ok = pc.or_(major_empty, accepted)
        major_value = pc.if_else(major_empty, null, major_value)
    if minor is not None:
        text = _trim(table[minor])
        minor_empty = pc.equal(text, "")
        minor_value, accepted = _minor_units(text)
        minor_ok = pc.or_(minor_empty, accepted)
        minor_value = pc.if_else(minor_empty, null, minor_value)
    ok = pc.and_(major_ok, minor_ok)
    both = pc.and_(pc.invert(major_empty), pc.invert(minor_empty))
    ok = pc.and_kleene(ok, pc.or_kleene(pc.invert(both), pc.equal(major_value, minor_value)))
    value = pc.coalesce(major_value, minor_value)
    if required:
        ok = pc.and_(ok, pc.invert(pc.is_null(value)))
    return value, pc.fill_null(ok, False)


def _read_rows(raw: pa.Array, numbers: pa.Array, layout: Any, width: int) -> ColumnarFile | None:
    quoted = pc.match_substring(raw, '"')
    blank = pc.equal(raw, "")
    plain = pc.and_(pc.invert(quoted), pc.invert(blank))
    python_records: list[ParsedRecord] = []
    python_rejected: list[RejectedRow] = []
    if pc.any(quoted).as_py():
        outcome = _python_rows(
            raw.filter(quoted).to_pylist(),
            numbers.filter(quoted).to_pylist(),
            layout,
            width,
            quoted=True,
        )
        if outcome is None:
            return None
        python_records += outcome[0]
        python_rejected += outcome[1]
    raw = raw.filter(plain)
    numbers = numbers.filter(plain)
    fields = pc.split_pattern(raw, ",")
    wide = pc.equal(pc.list_value_length(fields), width)
    # A row of only separators is blank and skipped, as the csv reader path skips it.
    empty = pc.equal(raw, "," * (width - 1))
    values, accepted = _convert(fields.filter(wide), layout)
    rest = pc.and_(pc.invert(wide), pc.invert(empty))
    leftover = pc.invert(accepted)
    left_raw = pa.concat_arrays([raw.filter(rest), raw.filter(wide).filter(leftover)])
    left_numbers = pa.concat_arrays([numbers.filter(rest), numbers.filter(wide).filter(leftover)])
    outcome = _python_rows(
        left_raw.to_pylist(), left_numbers.to_pylist(), layout, width, quoted=False
    )
    assert outcome is not None  # only quoted rows can make the file fall back
    python_records += outcome[0]
    python_rejected += outcome[1]
    keep = pc.and_(accepted, pc.invert(pc.equal(raw.filter(wide), "," * (width - 1))))
    fast = pa.table(
        {
            **{name: values[name].filter(keep) for name in values},
            "line": numbers.filter(wide).filter(keep),
            "raw": raw.filter(wide).filter(keep),
        }
    )
    fast = fast.append_column("content_hash", _content_hashes(fast))
    slow = records_table(
        python_records, [parsed_record_content_hash(record) for record in python_records]
    )
    table = pa.concat_tables([fast.select(RECORD_SCHEMA.names).cast(RECORD_SCHEMA), slow])
    if slow.num_rows:
        table = table.sort_by("line")
    python_rejected.sort(key=lambda row: row.line)
    return ColumnarFile(table, python_rejected)


def _convert(fields: pa.Array, layout: Any) -> tuple[dict[str, pa.Array], pa.Array]:
    """Record columns of full-width unquoted rows, and which rows were converted exactly."""
    count = len(fields)

    def column(index: int) -> pa.Array:
        return pc.list_element(fields, index)

    ok: Any = pa.array(np.ones(count, dtype=bool))
    reference = _trim(column(layout.reference))
    ok = pc.and_(ok, pc.less_equal(pc.utf8_length(reference), csv_generic.REFERENCE_MAX))
    currency, currency_ok = _lookup(column(layout.currency), read_currency, pa.string())
    ok = pc.and_(ok, currency_ok)
    known = [code for code in pc.unique(currency).to_pylist() if code is not None]
    exponents = {code: currency_exponent(code) for code in known}
    widest = max(exponents.values(), default=0)
    exponent = pc.fill_null(
        pc.take(
            pa.array(list(exponents.values()), pa.int64()),
            pc.index_in(currency, value_set=pa.array(list(exponents), pa.string())),
        ),
        0,
    )
    table = {"amount": column(layout.amount) if layout.amount is not None else None}
    names: dict[str, pa.Array] = {}
    for name in ("amount", "amount_minor", "fee", "fee_minor"):
        index = getattr(layout, name)
        if index is not None:
            names[name] = column(index)
    del table
    amount, amount_ok = _money(
        names,
        "amount" if "amount" in names else None,
        "amount_minor" if "amount_minor" in names else None,
        exponent,
        widest,
        required=True,
    )
    ok = pc.and_(ok, amount_ok)
    if "fee" in names or "fee_minor" in names:
        fee, fee_ok = _money(
            names,
            "fee" if "fee" in names else None,
            "fee_minor" if "fee_minor" in names else None,
            exponent,
            widest,
            required=False,
        )
        ok = pc.and_(ok, fee_ok)
    else:
        fee = pa.nulls(count, pa.int64())
    if layout.type is not None:
        text = _trim(column(layout.type))
        lowered = pc.if_else(pc.equal(text, ""), "charge", pc.utf8_lower(text))
        ok = pc.and_(ok, pc.string_is_ascii(text))
        ok = pc.and_(ok, pc.is_in(lowered, value_set=pa.array(sorted(RECORD_TYPES))))
        record_type = lowered
    else:
        record_type = pa.array(np.full(count, "charge", dtype=object), pa.string())
    if layout.booked_at is not None:
        booked_at, booked_ok = _lookup(
            column(layout.booked_at), _read_booked_at, pa.timestamp("us", tz="UTC")
        )
        ok = pc.and_(ok, booked_ok)
    else:
        booked_at = pa.nulls(count, pa.timestamp("us", tz="UTC"))
    description, _ = (
        _optional_text(column(layout.description), None)
        if layout.description is not None
        else (pa.nulls(count, pa.string()), True)
    )
    texts: dict[str, pa.Array] = {}
    for name, index, maximum in (
        ("row_id", layout.row_id, csv_generic.ROW_ID_MAX),
        ("group_key", layout.group_key, csv_generic.GROUP_KEY_MAX),
        ("counterparty", layout.counterparty, csv_generic.COUNTERPARTY_MAX),
    ):
        if index is None:
            texts[name] = pa.nulls(count, pa.string())
            continue
        texts[name], within = _optional_text(column(index), maximum)
        ok = pc.and_(ok, within)
    values = {
        "provider_reference": reference,
        "type": record_type,
        "amount_minor": amount,
        "fee_minor": fee,
        "currency": currency,
        "booked_at": booked_at,
        "description": description,
        **texts,
    }
    return values, pc.fill_null(ok, False)


def _read_booked_at(text: str) -> Any:
    return read_timestamp(text, "booked_at") if text.strip() else None


def _content_hashes(table: pa.Table) -> pa.Array:
    """:func:`~zentra.ingest.hashing.external_record_content_hash` of every row, in DuckDB."""

    def field(name: str) -> str:
        return f"CASE WHEN {name} IS NULL THEN '|-' ELSE '|' || strlen({name}) || ':' || {name} END"

    texts = {
        "provider_reference": "provider_reference",
        "type": "type",
        "amount_minor": "CAST(amount_minor AS VARCHAR)",
        "fee_minor": "CAST(fee_minor AS VARCHAR)",
        "currency": "currency",
        "booked_at": "CAST(booked_us AS VARCHAR)",
        "description": "description",
        "row_id": "row_id",
        "group_key": "group_key",
        "counterparty": "counterparty",
    }
    encoded = " || ".join(field(expression) for expression in texts.values())
    frame = pa.table(
        {
            **{name: table.column(name) for name in texts if name != "booked_at"},
            "booked_us": pc.cast(table.column("booked_at"), pa.int64()),
        }
    )
    connection = duckdb.connect()
    try:
        connection.register("frame", frame)
        result = connection.sql(
            f"SELECT sha256('{EXTERNAL_HASH_TAG}' || {encoded}) AS h FROM frame"  # noqa: S608
        ).to_arrow_table()
    finally:
        connection.close()
    return result.column("h").cast(pa.string())
