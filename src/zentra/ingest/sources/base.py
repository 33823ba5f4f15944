"""What every parser returns: normalized records, plus the rows it refused and why.

A parser is a pure function ``bytes -> ParsedFile``. It never guesses: a row it cannot read
exactly becomes a :class:`RejectedRow` (line and reason) and the rest of the file is kept; a file
it cannot read at all raises :class:`~zentra.kit.errors.UnreadableFile`.

Records are ``NamedTuple``s rather than pydantic models or frozen dataclasses: a settlement file
can hold millions of rows, and a tuple is the cheapest immutable value Python builds.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

RECORD_TYPES = frozenset({"charge", "refund", "payout", "fee", "adjustment", "reversal"})
"""The normalized types of an external record. A ``reversal`` undoes an earlier booking (a bank's
reversal indicator, a returned ACH entry): kept as such, never netted into a charge."""


class ParsedRecord(NamedTuple):
    """One normalized row of a provider or bank file.

    Amounts are integers in minor units of ``currency`` (an upper-case ISO 4217 code);
    ``booked_at`` is timezone-aware UTC or None when the file does not say. ``line`` is the
    1-based physical line where the row starts (a CSV header is line 1) and ``raw`` the row's
    original text, kept as evidence. ``provider_reference`` may be empty (a bank line without a
    reference; the engine matches it by amount, currency and date). ``group_key`` is a payout or
    batch id grouping rows, ``counterparty`` who paid or was paid; both None when not given.
    ``details`` holds structured fields a format carries beyond these (a NACHA return's reason
    code, original trace, corrected data), JSON-ready; None when there are none. It is stored
    with the external record, outside its content hash (the same text is in ``raw``).
    """

    provider_reference: str
    type: str
    amount_minor: int
    fee_minor: int | None
    currency: str
    booked_at: datetime | None
    description: str | None
    row_id: str | None
    line: int
    raw: str
    group_key: str | None = None
    counterparty: str | None = None
    details: dict[str, Any] | None = None


class RejectedRow(NamedTuple):
    """A row that could not be read exactly: where it is and why it was refused."""

    line: int
    reason: str


@dataclass(slots=True)
class ParsedFile:
    """The outcome of parsing one file: the records kept and the rows rejected."""

    records: list[ParsedRecord] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)


Parser = Callable[[bytes], ParsedFile]
"""Turns a whole file into records; raises ``UnreadableFile`` when it cannot read it at all."""

Sniffer = Callable[[bytes], bool]
"""Says, cheaply and without raising, whether content looks like the parser's format."""


@dataclass(frozen=True, slots=True)
class SourceFormat:
    """A file format Zentra can ingest: its public name, a recognizer and a parser.

    ``parse_columns``, when given, is a faster parser with the same answer returning the records
    as an Arrow table (``sources.columnar.ColumnarFile``); uploads use it when present.
    """

    name: str
    description: str
    sniff: Sniffer
    parse: Parser
    parse_columns: Callable[[bytes], Any] | None = None


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a parser builds millions of records.

    Records hold no reference cycles, but every few hundred allocations the collector would walk
    all the records built so far: on a million-row file that repeated walk costs more than the
    parsing itself. Reference counting still frees everything; the collector resumes (if it was
    running) when the block ends, even on error.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
