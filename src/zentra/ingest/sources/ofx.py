"""OFX (Open Financial Exchange) bank and credit-card statements, v1 (SGML) and v2 (XML).

One record per ``STMTTRN`` of every bank (``STMTRS``) and credit-card (``CCSTMTRS``) statement
in the file (a file may hold several, of either kind):

===================  =========================================================================
``amount_minor``      ``TRNAMT`` (signed) in the statement's ``CURDEF``, or in the ``CURSYM``
                      of the transaction's own ``CURRENCY`` aggregate when it has one (OFX: the
                      amount is then in that currency). A decimal comma is allowed: the OFX
                      spec admits ``.`` or ``,`` as the decimal point; nothing else (no
                      thousands separator, no currency sign: ``$120`` is rejected)
``currency``          as above, ISO 4217
``booked_at``         ``DTPOSTED`` (``YYYYMMDD[HHMMSS[.XXX]][[offset[:TZ]]]``) converted to
                      UTC exactly: the bracketed offset is hours, possibly fractional
                      (``[-3:BRT]``, ``[+5.75:NPT]``); without one the time is GMT, per the spec
``provider_reference`` ``FITID`` (also ``row_id``); empty when the bank left it empty
``counterparty``      ``NAME``, or the ``NAME`` of a ``PAYEE`` aggregate
``description``       ``MEMO``
``type``              ``FEE``/``SRVCHG`` -> ``fee``; ``INT``/``DIV`` -> ``adjustment``; any
                      other ``TRNTYPE`` (any case) -> ``charge`` when money comes in (amount
                      >= 0) and ``payout`` when it goes out, as for camt.053
``line`` / ``raw``    the line where ``<STMTTRN>`` starts and the element's text, verbatim
===================  =========================================================================

The file is read by a small tokenizer of our own (tags, text, ``CDATA``, comments), because a
record needs its line and raw text and an exact amount, which no OFX library gives. ``ofxparse``
(pinned) then reads the same bytes as a second opinion: where it reads a transaction (by FITID),
its ``Decimal`` amount must equal ours, or the transaction is rejected; its warnings are silenced
locally. XML comments are blanked out before reading (a commented-out element is absent).

A transaction that cannot be read exactly (no ``TRNAMT`` or ``DTPOSTED``, an amount or date that
is not OFX, a statement with no currency) is rejected with its line and reason. A file is
refused (:class:`UnreadableFile`) when it is not text, has no ``<OFX>`` element, or holds no bank
or credit-card statement (investment statements are not read).
"""

from __future__ import annotations

import codecs
import io
import re
import warnings
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from zentra.ingest.sources.base import ParsedFile, ParsedRecord, RejectedRow, SourceFormat
from zentra.ingest.values import read_currency, read_major_amount
from zentra.kit.errors import InvalidInput, UnreadableFile
from zentra.kit.money import currency_exponent

NAME = "ofx"

_TOKEN = re.compile(
    r"<!\[CDATA\[(?P<cdata>.*?)\]\]>"
    r"|<(?P<close>/?)(?P<tag>[A-Za-z][A-Za-z0-9._]*)\s*>",
    re.DOTALL,
)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_AMOUNT = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")
_DATETIME = re.compile(
    r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})"
    r"(?:(?P<H>[0-9]{2})(?P<M>[0-9]{2})(?:(?P<S>[0-9]{2})(?:\.(?P<f>[0-9]{1,6}))?)?)?"
    r"(?:\[(?P<off>[+-]?[0-9]{1,2}(?:\.[0-9]{1,2})?)(?::[A-Za-z0-9_+-]*)?\])?"
)
_STATEMENTS = frozenset({"STMTRS", "CCSTMTRS"})
_SUB_AGGREGATES = frozenset({"CURRENCY", "ORIGCURRENCY", "PAYEE"})
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'"), ("&amp;", "&"))
_FEE_TYPES = frozenset({"FEE", "SRVCHG"})
_ADJUSTMENT_TYPES = frozenset({"INT", "DIV"})
_HEADER = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*(?:OFXHEADER\s*:|<\?xml[^>]*\?>\s*<\?OFX\s|<OFX>)", re.IGNORECASE
)


@dataclass(slots=True)
class _Transaction:
    start: int
    end: int = -1
    fields: dict[str, str] = field(default_factory=dict)
    currency_symbol: str | None = None
    payee_name: str | None = None


@dataclass(slots=True)
class _Statement:
    currency: str = ""
    transactions: list[_Transaction] = field(default_factory=list)


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # An OFX 1.x header may declare the Windows code page; nothing else is guessed.
        if b"CHARSET:1252" not in content[:1024].upper().replace(b" ", b""):
            line = content.count(b"\n", 0, exc.start) + 1
            raise UnreadableFile(
                f"the file is not UTF-8 text (and declares no CHARSET:1252): byte "
                f"0x{content[exc.start]:02x} at offset {exc.start} (line {line})"
            ) from exc
    try:
        return content.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"the file declares CHARSET:1252 but byte 0x{content[exc.start]:02x} at offset "
            f"{exc.start} is not Windows-1252"
        ) from exc


def _blank_comments(text: str) -> str:
    """Comments replaced by blanks of the same length (line breaks kept): offsets stay true."""
    return _COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def _unescape(text: str) -> str:
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def _scan(text: str) -> list[_Statement]:
    """The statements of an OFX body and their transactions' fields and offsets."""
    statements: list[_Statement] = []
    statement: _Statement | None = None
    transaction: _Transaction | None = None
    aggregate: str | None = None  # CURRENCY / ORIGCURRENCY / PAYEE inside a transaction
    leaf: str | None = None
    buffer: list[str] = []
    position = 0

    def close_leaf() -> None:
        nonlocal leaf
        if leaf is None:
            return
        value = "".join(buffer).strip()
        if transaction is not None:
            if aggregate == "CURRENCY" and leaf == "CURSYM":
                transaction.currency_symbol = value
            elif aggregate == "PAYEE" and leaf == "NAME":
                transaction.payee_name = value
            elif aggregate is None:
                transaction.fields.setdefault(leaf, value)
        elif statement is not None and leaf == "CURDEF" and not statement.currency:
            statement.currency = value
        leaf = None

    for match in _TOKEN.finditer(text):
        between = text[position : match.start()]
        position = match.end()
        if leaf is not None:
            buffer.append(_unescape(between))
        if match.group("cdata") is not None:
            if leaf is not None:
                buffer.append(match.group("cdata"))
            continue
        close_leaf()
        tag = match.group("tag").upper()
        closing = bool(match.group("close"))
        if tag in _STATEMENTS or tag == "BANKTRANLIST" or tag == "STMTTRN":
            if transaction is not None:
                # </STMTTRN> closes it; anything else ends an unclosed one where it starts.
                transaction.end = match.end() if (tag == "STMTTRN" and closing) else match.start()
            transaction, aggregate = None, None
            if tag in _STATEMENTS:
                statement = None
                if not closing:
                    statement = _Statement()
                    statements.append(statement)
            elif tag == "STMTTRN" and not closing and statement is not None:
                transaction = _Transaction(start=match.start())
                statement.transactions.append(transaction)
            continue
        if transaction is not None and tag in _SUB_AGGREGATES:
            aggregate = None if closing else tag
            continue
        if not closing:
            leaf, buffer = tag, []
    close_leaf()
    if transaction is not None and transaction.end < 0:
        transaction.end = len(text)
    return statements


def read_ofx_datetime(text: str, name: str = "DTPOSTED") -> datetime:
    """An OFX date-time as timezone-aware UTC. Raises :class:`InvalidInput`."""
    match = _DATETIME.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(
            f"{name} {text.strip()!r} is not an OFX date (YYYYMMDD[HHMMSS[.XXX]][[offset:TZ]])"
        )
    parts = match.groupdict()
    fraction = parts["f"] or ""
    try:
        local = datetime(
            int(parts["y"]),
            int(parts["m"]),
            int(parts["d"]),
            int(parts["H"] or 0),
            int(parts["M"] or 0),
            int(parts["S"] or 0),
            int(fraction.ljust(6, "0")) if fraction else 0,
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise InvalidInput(f"{name} {text.strip()!r} is not a valid date-time: {exc}") from exc
    offset = Decimal(parts["off"]) if parts["off"] else Decimal(0)
    minutes = offset * 60
    if minutes != minutes.to_integral_value() or abs(offset) > 14:
        raise InvalidInput(f"{name} {text.strip()!r} has an invalid time zone offset")
    # Local time = UTC + offset, so UTC = local - offset.
    return local - timedelta(minutes=int(minutes))


def _read_amount(text: str, currency: str) -> int:
    cleaned = text.strip()
    if not _AMOUNT.fullmatch(cleaned):
        raise InvalidInput(
            f"TRNAMT {cleaned!r} is not an OFX amount (digits with an optional '.' or ',' "
            "decimal point; no currency sign or thousands separator)"
        )
    return read_major_amount(cleaned.replace(",", "."), currency, "TRNAMT")


def _record_type(trntype: str, amount: int) -> str:
    kind = trntype.strip().upper()
    if kind in _FEE_TYPES:
        return "fee"
    if kind in _ADJUSTMENT_TYPES:
        return "adjustment"
    return "charge" if amount >= 0 else "payout"


def _read_transaction(
    transaction: _Transaction, statement: _Statement, text: str, line: int
) -> ParsedRecord:
    fields = transaction.fields
    # Every problem of the transaction is reported at once: an operator fixes them together.
    problems: list[str] = []
    currency = amount = booked_at = None
    currency_text = transaction.currency_symbol or statement.currency
    try:
        if not currency_text:
            raise InvalidInput("the statement declares no currency (CURDEF is missing or empty)")
        currency = read_currency(currency_text, "CURDEF")
    except InvalidInput as exc:
        problems.append(exc.detail)
    try:
        if "TRNAMT" not in fields:
            raise InvalidInput("TRNAMT is missing")
        if currency is not None:
            amount = _read_amount(fields["TRNAMT"], currency)
    except InvalidInput as exc:
        problems.append(exc.detail)
    try:
        if not fields.get("DTPOSTED"):
            raise InvalidInput("DTPOSTED is missing or empty")
        booked_at = read_ofx_datetime(fields["DTPOSTED"])
    except InvalidInput as exc:
        problems.append(exc.detail)
    if problems or currency is None or amount is None:
        raise InvalidInput("; ".join(problems))
    fitid = fields.get("FITID", "")
    return ParsedRecord(
        provider_reference=fitid,
        type=_record_type(fields.get("TRNTYPE", ""), amount),
        amount_minor=amount,
        fee_minor=None,
        currency=currency,
        booked_at=booked_at,
        description=fields.get("MEMO") or None,
        row_id=fitid or None,
        line=line,
        raw=text[transaction.start : transaction.end],
        group_key=None,
        counterparty=fields.get("NAME") or transaction.payee_name or None,
    )


def _ofxparse_amounts(content: bytes) -> dict[str, Decimal]:
    """FITID -> amount as ofxparse reads the file; empty when it cannot read it."""
    from ofxparse import OfxParser

    amounts: dict[str, Decimal] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ofx: Any = OfxParser.parse(io.BytesIO(content), fail_fast=False)
            for account in getattr(ofx, "accounts", None) or []:
                statement = getattr(account, "statement", None)
                for transaction in getattr(statement, "transactions", None) or []:
                    amount, fitid = transaction.amount, transaction.id
                    if isinstance(amount, Decimal) and isinstance(fitid, str) and fitid:
                        amounts[fitid] = amount
    # A second opinion only: whatever ofxparse or BeautifulSoup raises is not ours to raise.
    except Exception:
        return {}
    return amounts


def parse_ofx(content: bytes) -> ParsedFile:
    """Parse an OFX bank or credit-card statement file into one record per ``STMTTRN``.

    Raises :class:`UnreadableFile` when the file is not text, has no ``<OFX>`` element or no
    bank/credit-card statement; a transaction that cannot be read exactly is rejected.
    """
    text = _decode(content)
    if not text.strip():
        raise UnreadableFile("the file is empty")
    body = _blank_comments(text)
    if re.search(r"<OFX\s*>", body, re.IGNORECASE) is None:
        raise UnreadableFile("not an OFX file: there is no <OFX> element")
    statements = _scan(body)
    if not statements:
        raise UnreadableFile(
            "the OFX file holds no bank or credit-card statement (STMTRS or CCSTMTRS)"
        )
    line_starts = [0, *(m.end() for m in re.finditer("\n", text))]
    parsed = ParsedFile()
    for statement in statements:
        for transaction in statement.transactions:
            line = bisect_right(line_starts, transaction.start)
            try:
                parsed.records.append(_read_transaction(transaction, statement, text, line))
            except InvalidInput as exc:
                parsed.rejected.append(RejectedRow(line, exc.detail))
    if parsed.records:
        _check_against_ofxparse(content, parsed)
    return parsed


def _check_against_ofxparse(content: bytes, parsed: ParsedFile) -> None:
    second = _ofxparse_amounts(content)
    kept: list[ParsedRecord] = []
    for record in parsed.records:
        theirs = second.get(record.provider_reference)
        if theirs is not None:
            ours = Decimal(record.amount_minor).scaleb(-currency_exponent(record.currency))
            if ours != theirs:
                parsed.rejected.append(
                    RejectedRow(
                        record.line,
                        f"TRNAMT reads as {ours} {record.currency} here but as {theirs} in "
                        "ofxparse: refused rather than guessed",
                    )
                )
                continue
        kept.append(record)
    parsed.records[:] = kept
    parsed.rejected.sort()


def looks_like_ofx(content: bytes) -> bool:
    """True for an OFX v1 header (``OFXHEADER:``), an XML declaration followed by the OFX
    processing instruction, or a file whose first tag is ``<OFX>``."""
    head = content[:4096]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return _HEADER.match(head) is not None


SOURCE_OFX = SourceFormat(
    name=NAME,
    description="OFX bank and credit-card statements (v1 SGML and v2 XML), one record per STMTTRN",
    sniff=looks_like_ofx,
    parse=parse_ofx,
)
