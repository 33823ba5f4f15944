"""Uploaded bytes as text and as CSV rows, with physical line numbers and the raw row text.

Line numbers are what an operator sees in an editor: 1-based, counting every physical line
(``\\n``, ``\\r\\n`` or a lone ``\\r``), so a quoted field spanning lines moves the next row's
number on. A row's ``raw`` text is kept byte-faithful (minus its final line ending) as evidence.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from zentra.kit.errors import UnreadableFile

if TYPE_CHECKING:
    from _csv import Reader

DELIMITERS = (",", ";", "\t", "|")
"""Field separators recognized in a CSV header; comma first, and the default."""


def decode_text(content: bytes) -> str:
    """Decode a text upload: UTF-8 (a BOM is dropped), or UTF-16 when it starts with its BOM.

    Raises :class:`UnreadableFile` for empty content or bytes that are not valid text; no other
    encoding is guessed, since a guess could silently change descriptions and references.
    """
    encoding, label = "utf-8-sig", "UTF-8"
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, label = "utf-16", "UTF-16"
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise UnreadableFile(
            f"the file is not {label} text: byte 0x{content[exc.start]:02x} at offset "
            f"{exc.start} (line {line}) cannot be decoded"
        ) from exc
    if not text or text.isspace():
        raise UnreadableFile("the file is empty")
    return text


def physical_lines(text: str) -> list[str]:
    """The lines of ``text`` with their endings untranslated (what the csv module expects)."""
    return io.StringIO(text, newline="").readlines()


def header_names(line: str, delimiter: str) -> list[str]:
    """Normalized column names of a header line: trimmed, unquoted, lower-cased."""
    return [name.strip().strip('"').strip().lower() for name in line.split(delimiter)]


def choose_delimiter(header_line: str, key_column: str) -> str:
    """The separator under which the header names ``key_column`` (comma when none does)."""
    for delimiter in DELIMITERS:
        if key_column in header_names(header_line, delimiter):
            return delimiter
    return ","


def first_line(content: bytes, limit: int = 65536) -> str | None:
    """The first non-blank line of ``content``'s head, decoded, or None. Never raises."""
    head = content[:limit]
    try:
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text = head.decode("utf-16", errors="ignore")
        else:
            # The head may end inside a multi-byte character: ignore only that tail.
            text = head.decode("utf-8-sig", errors="ignore")
    except UnicodeDecodeError:  # pragma: no cover - errors="ignore" does not raise
        return None
    for line in text.splitlines():
        if line.strip():
            return line
    return None


class CsvRow(NamedTuple):
    """One data row: where it starts, its raw text, and its fields or why it is malformed."""

    line: int
    raw: str
    fields: list[str] | None
    error: str | None


@dataclass(slots=True)
class CsvTable:
    """A CSV document: its header's columns (normalized name -> index) and its data rows."""

    header_line: int
    names: list[str]
    columns: dict[str, int]
    rows: Iterator[CsvRow]


def read_csv(text: str, *, key_column: str) -> CsvTable:
    """Read the header of a CSV document and stream its data rows.

    The separator is the one under which the header names ``key_column``. Blank rows (no
    fields, or only empty ones) are skipped; a row with the wrong number of fields or broken
    quoting is yielded with an ``error`` and no fields, and reading goes on after it.

    Raises :class:`UnreadableFile` when there is no header, it is not valid CSV, or it names a
    column twice.
    """
    lines = physical_lines(text)
    header_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_index is None:
        raise UnreadableFile("the file is empty")
    delimiter = choose_delimiter(lines[header_index], key_column)
    reader = csv.reader(lines[header_index:], delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise UnreadableFile(
            f"the header row (line {header_index + 1}) is not valid CSV: {exc}"
        ) from exc
    names = [name.strip().lower() for name in header]
    columns: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in columns and name:
            raise UnreadableFile(f"the header names the column {name!r} twice")
        columns.setdefault(name, index)
    offset = header_index  # reader.line_num counts from the header line
    return CsvTable(
        header_line=header_index + 1,
        names=names,
        columns=columns,
        rows=_rows(reader, lines, offset, reader.line_num, len(names)),
    )


def _raw(lines: list[str], start: int, end: int) -> str:
    if start == end:
        return lines[start - 1].rstrip("\r\n")
    return "".join(lines[start - 1 : end]).rstrip("\r\n")


def _rows(
    reader: Reader, lines: list[str], offset: int, consumed: int, width: int
) -> Iterator[CsvRow]:
    # ``reader.line_num`` counts the lines consumed from ``lines[offset:]``: a row runs from the
    # line after the previous row to the last line consumed (several, for quoted newlines).
    previous = consumed
    while True:
        try:
            fields = next(reader)
            error = None
        except StopIteration:
            return
        except csv.Error as exc:
            fields, error = None, f"malformed CSV: {exc}"
        start, end = previous + 1 + offset, reader.line_num + offset
        previous = reader.line_num
        if fields is not None and len(fields) != width:
            if not fields:
                continue
            spans = f" (a quoted field spans lines {start}-{end})" if end > start else ""
            error = f"expected {width} fields, found {len(fields)}{spans}"
            fields = None
        elif fields is not None and not any(fields):
            continue
        yield CsvRow(start, _raw(lines, start, end), fields, error)
