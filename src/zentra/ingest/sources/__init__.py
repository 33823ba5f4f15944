"""Settlement file formats: one parser per format, a registry by name, and format detection.

Each format is a :class:`SourceFormat`: a public name (the ``format`` of ``POST
/settlement-files``), a cheap ``sniff`` that recognizes its content, and a pure ``parse`` that
turns the whole file into :class:`ParsedFile` (records plus rejected rows). Adding a format
(camt.053, MT940, BAI2, OFX, NACHA, PSP reports) is one module and one line in ``_FORMATS``.

Detection tries the formats in ``_FORMATS`` order and the first that recognizes the content
wins, so specific formats (a PSP's CSV report with its own header) must come before generic ones.
"""

from __future__ import annotations

from dataclasses import replace

from zentra.ingest.sources import bai2, camt, csv_fast, csv_generic, mt940, nacha, ofx, psp_csv
from zentra.ingest.sources.base import (
    RECORD_TYPES,
    ParsedFile,
    ParsedRecord,
    Parser,
    RejectedRow,
    Sniffer,
    SourceFormat,
)
from zentra.ingest.sources.columnar import ColumnarFile, columnar_from_parsed
from zentra.kit.errors import InvalidInput, UnreadableFile

__all__ = [
    "RECORD_TYPES",
    "ColumnarFile",
    "ParsedFile",
    "ParsedRecord",
    "Parser",
    "RejectedRow",
    "Sniffer",
    "SourceFormat",
    "detect_format",
    "get_format",
    "known_formats",
    "parse_file",
    "parse_file_columns",
    "register_format",
]

_FORMATS: dict[str, SourceFormat] = {}


def register_format(source: SourceFormat) -> None:
    """Add a format to the registry (detection order is registration order).

    Raises ``ValueError`` when the name is taken: two parsers for one name would make the
    ``format`` a client sends ambiguous.
    """
    if source.name in _FORMATS:
        raise ValueError(f"format {source.name!r} is already registered")
    _FORMATS[source.name] = source


def known_formats() -> tuple[str, ...]:
    """The registered format names, in detection order."""
    return tuple(_FORMATS)


def get_format(name: str) -> SourceFormat:
    """The format called ``name``. Raises :class:`InvalidInput` for a name nobody registered."""
    source = _FORMATS.get(name)
    if source is None:
        raise InvalidInput(
            f"unknown format {name!r}; known formats: {', '.join(known_formats())}",
            field="format",
        )
    return source


def detect_format(content: bytes) -> str:
    """The name of the first registered format that recognizes ``content``.

    Raises :class:`UnreadableFile` when none does.
    """
    if not content.strip():
        raise UnreadableFile("the file is empty")
    for source in _FORMATS.values():
        if source.sniff(content):
            return source.name
    raise UnreadableFile(
        "no known format recognizes this file (known formats: "
        f"{', '.join(known_formats())}); for the generic CSV the header must name "
        "provider_reference"
    )


def parse_file(content: bytes, format_name: str) -> ParsedFile:
    """Parse ``content`` as ``format_name``.

    Raises :class:`InvalidInput` for an unknown format name and :class:`UnreadableFile` when the
    content cannot be read as that format at all.
    """
    return get_format(format_name).parse(content)


def parse_file_columns(content: bytes, format_name: str) -> ColumnarFile:
    """Parse ``content`` as ``format_name`` into a :class:`ColumnarFile` (records as columns).

    The same answer as :func:`parse_file`, faster for formats with a columnar parser. Raises as
    :func:`parse_file` does.
    """
    source = get_format(format_name)
    if source.parse_columns is not None:
        columnar: ColumnarFile = source.parse_columns(content)
        return columnar
    return columnar_from_parsed(source.parse(content))


def _parse_generic_csv(content: bytes) -> ParsedFile:
    return csv_fast.parse_generic_csv_columns(content).to_parsed_file()


# Specific formats first: detection takes the first that recognizes the content, and a PSP's CSV
# report must not be taken for the generic CSV.
for _source in (
    camt.SOURCE_CAMT053,
    camt.SOURCE_CAMT054,
    mt940.SOURCE_MT940,
    mt940.SOURCE_MT942,
    bai2.SOURCE_BAI2,
    ofx.SOURCE_OFX,
    nacha.SOURCE_NACHA,
    psp_csv.SOURCE_ADYEN_SETTLEMENT,
    psp_csv.SOURCE_PAYPAL_ACTIVITY,
    psp_csv.SOURCE_PAYPAL_STATEMENT,
    psp_csv.SOURCE_STRIPE_BALANCE,
):
    register_format(_source)

# The generic CSV is read by its columnar parser either way; csv_generic stays the reference
# (and the fallback) that the columnar parser is tested against.
register_format(
    replace(
        csv_generic.SOURCE,
        parse=_parse_generic_csv,
        parse_columns=csv_fast.parse_generic_csv_columns,
    )
)
