"""Parsed settlement rows as one Arrow table: what a million-row file is persisted from.

A :class:`ColumnarFile` holds the same information as a :class:`~.base.ParsedFile` (records in
file order, rejected rows) with the records as columns of :data:`RECORD_SCHEMA`, plus each
record's content hash (:mod:`zentra.ingest.hashing`). Converting either way is exact; the fast
CSV path produces this shape directly, any other parser's records are converted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyarrow as pa

from zentra.ingest.sources.base import ParsedFile, ParsedRecord, RejectedRow

RECORD_SCHEMA = pa.schema(
    [
        ("provider_reference", pa.string()),
        ("type", pa.string()),
        ("amount_minor", pa.int64()),
        ("fee_minor", pa.int64()),
        ("currency", pa.string()),
        ("booked_at", pa.timestamp("us", tz="UTC")),
        ("description", pa.string()),
        ("row_id", pa.string()),
        ("group_key", pa.string()),
        ("counterparty", pa.string()),
        ("line", pa.int64()),
        ("raw", pa.string()),
        ("content_hash", pa.string()),
    ]
)
"""Columns of a parsed settlement file: a record's fields, its line and raw text, its hash."""

_RECORD_FIELDS = ParsedRecord._fields
DETAILS = "details"
"""The optional column of structured details (JSON text, as the ``details`` JSON column takes
it); absent from files whose format carries none."""


@dataclass(slots=True)
class ColumnarFile:
    """Records (an Arrow table of :data:`RECORD_SCHEMA`, in line order) and rejected rows."""

    table: pa.Table
    rejected: list[RejectedRow] = field(default_factory=list)

    def to_parsed_file(self) -> ParsedFile:
        """The same content as a :class:`ParsedFile` (one tuple per record)."""
        table = self.table
        columns = [table.column(name).to_pylist() for name in _RECORD_FIELDS if name != DETAILS]
        if DETAILS in table.column_names:  # JSON text back to mappings, as the last field
            texts = table[DETAILS].to_pylist()
            columns.append([None if text is None else json.loads(text) for text in texts])
        else:
            columns.append([None] * table.num_rows)
        records = [ParsedRecord(*values) for values in zip(*columns, strict=True)]
        return ParsedFile(records=records, rejected=list(self.rejected))


def records_table(records: list[ParsedRecord], hashes: list[str]) -> pa.Table:
    """An Arrow table of :data:`RECORD_SCHEMA` from records and their content hashes, plus a
    ``details`` column of JSON text when any record carries details."""
    columns: dict[str, list[object]] = {name: [] for name in _RECORD_FIELDS}
    for record in records:
        for name, value in zip(_RECORD_FIELDS, record, strict=True):
            columns[name].append(value)
    arrays = [
        pa.array(columns[name] if name != "content_hash" else hashes, type=schema_field.type)
        for name, schema_field in zip(RECORD_SCHEMA.names, RECORD_SCHEMA, strict=True)
    ]
    table = pa.Table.from_arrays(arrays, schema=RECORD_SCHEMA)
    if any(value is not None for value in columns[DETAILS]):
        texts = [None if value is None else json.dumps(value) for value in columns[DETAILS]]
        table = table.append_column(DETAILS, pa.array(texts, type=pa.string()))
    return table


def columnar_from_parsed(parsed: ParsedFile) -> ColumnarFile:
    """A :class:`ColumnarFile` of a parser's records, each hashed in Python."""
    from zentra.ingest.hashing import parsed_record_content_hash

    hashes = [parsed_record_content_hash(record) for record in parsed.records]
    return ColumnarFile(records_table(parsed.records, hashes), list(parsed.rejected))
