"""BAI Version 2 cash-management files (``format: "bai2"``).

A BAI2 file is a run of comma-separated records, each starting with a two-digit record code and
normally ending with ``/``::

    01 file header        02 group header (as-of date, currency)   03 account (summaries)
    16 transaction detail 88 continuation of the previous record
    49 account trailer    98 group trailer                          99 file trailer

One :class:`ParsedRecord` per ``16`` record, whose fields are::

    16, type code, amount, funds type [, availability fields], bank reference,
        customer reference, text

Mappings:

* amount: an unsigned integer in minor units, as written (no decimal point); a blank, signed or
  non-numeric amount rejects the record (never a zero). The BAI type code gives the direction:
  codes 100-399 are credits (positive amounts), 400-699 debits (negative), as listed by the
  ``bai2`` library's ``TypeCodes`` table; summary-level, status and non-monetary codes (890)
  reject the record.
* type: ``reversal`` for return, reject and reversal codes (266 Return Item, 261 Rejected Credit,
  557 ACH Return Item...), or a generic code (``Any Type``, ``Miscellaneous``) whose text starts
  a return (``RETURNED CHEQUE``, ``RTN-...``); ``fee`` for fee and charge codes or such texts
  (``... SERVICE CHRG``); ``adjustment`` for interest, adjustment and correction codes; else
  ``charge`` for a credit and ``payout`` for a debit.
* currency: the account's (``03`` field 3), else the group's (``02`` field 7), else **USD**: the
  BAI2 specification says a blank currency code means the U.S. dollar.
* ``booked_at``: the value date of funds type ``V`` when given, else the group's as-of date
  (``02`` field 5); midnight UTC. Two-digit years 80-99 are 19xx, the rest 20xx.
* ``provider_reference``: the customer reference, else the bank reference; ``row_id`` the bank
  reference; ``description`` the text; ``counterparty`` the debtor (``DBNM:``) of a credit or the
  creditor (``CRNM:``) of a debit when the text names them.
* ``line`` is the 1-based physical line of the ``16`` record; ``raw`` its text with its
  continuations.

Continuations: an ``88`` record continues the record before it. The ``bai2`` library
(0.15.0, issue #50) does not join an ``88`` to a record that ended mid-field, and fails on files
with several records on one physical line or a record broken across lines without ``88``; this
module reads the records itself (using the library's type-code table). An ``88`` after a record
that stopped before its text starts the text; after a text, it continues the text, joined
directly when the previous physical line filled a whole 80-character record (a word split across
lines) and with a space otherwise. Several records on one line (``.../ 16,...``) are split;
a physical line that does not start with a record code continues the record before it.

Integrity: each account's control total (``49`` field 2) must equal the sum of the amounts of its
``03`` summaries and ``16`` details, as BAI2 requires. When it does not, or when it is blank on an
account that carries amounts, that account's ``16`` records are rejected: the account's content is
not what the bank sent. A blank total on an account with no amounts at all (the
``account_trailer_amount_blank_example`` file) has nothing to check, and the file is readable: it
holds no transactions. A file whose first record is not ``01`` is :class:`UnreadableFile`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from bai2.constants import TypeCodes

from zentra.ingest.sources.base import ParsedFile, ParsedRecord, RejectedRow, SourceFormat
from zentra.ingest.values import MAX_SAFE_AMOUNT
from zentra.kit.errors import InvalidInput, UnreadableFile
from zentra.kit.money import currency_exponent

NAME = "bai2"
DEFAULT_CURRENCY = "USD"
"""BAI2: when the currency code is blank, the amounts are in U.S. dollars."""
PHYSICAL_RECORD_LENGTH = 80

_RECORD_CODES = ("01", "02", "03", "16", "49", "88", "98", "99")
_RECORD_START = re.compile(r"(?:01|02|03|16|49|88|98|99),")
_RECORD_SPLIT = re.compile(r"/\s+(?=(?:01|02|03|16|49|88|98|99),)")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_DIGITS = re.compile(r"[0-9]+")
_SIGNED = re.compile(r"[+-]?[0-9]+")
_NAME_TAG = re.compile(r"\b(DBNM|CRNM):\s*([^,]*?)\s*(?=\b[A-Z]{4}:|$)")
_REVERSAL_WORDS = ("RETURN", "REJECT", "REVERS")
_FEE_WORDS = ("FEE", "CHARGE")
_ADJUSTMENT_WORDS = ("INTEREST", "ADJUSTMENT", "CORRECTION")
_GENERIC_CODE_WORDS = ("ANY TYPE", "MISCELLANEOUS")
_TEXT_FEE = re.compile(r"\b(FEES?|CHRG|CHARGES?)\b")
_TEXT_REVERSAL = re.compile(r"^(RETURNED|RETURN|RTN|RTD|REVERSAL|REJECT)\b")


@dataclass(slots=True)
class _Record:
    """One logical record: its code, first physical line, text (continuations joined), raw."""

    code: str
    line: int
    text: str
    raw: list[str]
    last_physical_length: int


@dataclass(slots=True)
class _Account:
    currency: str | None
    summary_total: int = 0
    details: list[tuple[ParsedRecord | RejectedRow, int | None]] = field(default_factory=list)
    broken: str | None = None


def _strip_terminator(text: str) -> str:
    text = text.rstrip()
    return text[:-1] if text.endswith("/") else text


def _funds_extra(fields: list[str], funds_index: int) -> int | None:
    """How many availability fields follow the funds type at ``funds_index`` (None: unknown)."""
    if len(fields) <= funds_index:
        return None
    funds = fields[funds_index].strip().upper()
    if funds in ("", "0", "1", "2", "Z"):
        return 0
    if funds == "V":
        return 2
    if funds == "S":
        return 3
    if funds == "D":
        if len(fields) <= funds_index + 1 or not _DIGITS.fullmatch(fields[funds_index + 1]):
            return None
        return 1 + 2 * int(fields[funds_index + 1])
    raise InvalidInput(f"funds type {funds!r} is not one of 0, 1, 2, Z, V, S, D")


def _text_index(fields: list[str]) -> int | None:
    """Index of the text field of a ``16`` record, when its funds type says where it is."""
    try:
        extra = _funds_extra(fields, 3)
    except InvalidInput:
        return None
    return None if extra is None else 4 + extra + 2


def _continue(record: _Record, piece: str, physical_length: int, *, is_88: bool) -> None:
    """Append a continuation (an ``88`` or a bare physical line) to ``record``."""
    base = _strip_terminator(record.text)
    # A line filled to exactly 80 characters was cut by a fixed record length, possibly mid-word.
    joiner = "" if record.last_physical_length == PHYSICAL_RECORD_LENGTH else " "
    if record.code == "16":
        fields = base.split(",")
        index = _text_index(fields)
        if index is not None and len(fields) > index:
            record.text = base + joiner + piece  # the text goes on
        elif is_88:
            record.text = base + "," + piece  # a new field (the text, or the next fixed one)
        else:
            record.text = base + joiner + piece
    elif is_88:
        record.text = base + "," + piece
    else:
        record.text = base + joiner + piece
    record.last_physical_length = physical_length


def _records(text: str) -> list[_Record]:
    records: list[_Record] = []
    for number, physical in enumerate(_LINE_BREAK.split(text), start=1):
        if not physical.strip():
            continue
        pieces = _RECORD_SPLIT.split(physical.strip())
        length = len(physical)
        for position, piece in enumerate(pieces):
            piece_text = piece if position == len(pieces) - 1 else piece + "/"
            # Evidence keeps the physical line as written, unless it holds several records.
            raw = physical if len(pieces) == 1 else piece_text
            if _RECORD_START.match(piece_text) is not None:
                code = piece_text[:2]
                if code == "88" and records:
                    records[-1].raw.append(raw)
                    _continue(records[-1], _strip_terminator(piece_text[3:]), length, is_88=True)
                    continue
                records.append(_Record(code, number, piece_text, [raw], length))
            elif records:
                records[-1].raw.append(raw)
                _continue(records[-1], _strip_terminator(piece_text), length, is_88=False)
            else:
                raise UnreadableFile(
                    f"line {number} is not a BAI2 record: a BAI2 file starts with an 01 "
                    "file header record"
                )
    return records


def _year(yy: int) -> int:
    return 1900 + yy if yy >= 80 else 2000 + yy


def _date(text: str, what: str) -> date:
    text = text.strip()
    if not re.fullmatch(r"[0-9]{6}", text):
        raise InvalidInput(f"{what} {text!r} is not a YYMMDD date")
    try:
        return date(_year(int(text[:2])), int(text[2:4]), int(text[4:6]))
    except ValueError as exc:
        raise InvalidInput(f"{what} {text!r} is not a valid date") from exc


def _currency(text: str) -> str | None:
    code = text.strip().upper()
    return code or None


def _summary_total(fields: list[str]) -> int:
    """Sum of the amounts of an ``03`` record's summaries (type, amount, count, funds...)."""
    total = 0
    index = 3
    while index < len(fields):
        if not fields[index].strip():  # a trailing empty field
            index += 1
            continue
        amount = fields[index + 1].strip() if index + 1 < len(fields) else ""
        if amount:
            if not _SIGNED.fullmatch(amount):
                raise InvalidInput(f"summary amount {amount!r} is not an integer")
            total += int(amount)
        extra = _funds_extra(fields, index + 3) or 0
        index += 4 + extra
    return total


def _kind(code: str, text: str) -> tuple[int, str]:
    """The sign (+1 credit, -1 debit) and our record type of a detail type code."""
    type_code = TypeCodes.get(code)
    if type_code is None or type_code.transaction is None:
        raise InvalidInput(f"type code {code!r} is not a BAI2 transaction detail code")
    direction = type_code.transaction.value
    if direction not in ("credit", "debit"):
        raise InvalidInput(
            f"type code {code} ({type_code.description}) is neither a credit nor a debit"
        )
    if type_code.level.value != "detail":
        raise InvalidInput(
            f"type code {code} ({type_code.description}) is a {type_code.level.value} code, "
            "not a transaction detail"
        )
    sign = 1 if direction == "credit" else -1
    description = type_code.description.upper()
    upper_text = text.upper().strip()
    if any(word in description for word in _REVERSAL_WORDS):
        return sign, "reversal"
    if any(word in description for word in _FEE_WORDS):
        return sign, "fee"
    if any(word in description for word in _ADJUSTMENT_WORDS):
        return sign, "adjustment"
    if any(word in description for word in _GENERIC_CODE_WORDS):
        if _TEXT_FEE.search(upper_text):
            return sign, "fee"
        if _TEXT_REVERSAL.search(upper_text):
            return sign, "reversal"
    return sign, ("charge" if sign > 0 else "payout")


def _counterparty(text: str, sign: int) -> str | None:
    names = {tag: value for tag, value in _NAME_TAG.findall(text)}
    name = names.get("DBNM" if sign > 0 else "CRNM", "").strip()
    return name or None


def _read_detail(
    record: _Record, currency: str | None, as_of: date | None
) -> tuple[ParsedRecord, int]:
    """The record of a ``16`` and its unsigned amount (for the control total)."""
    fields = _strip_terminator(record.text).split(",")
    if len(fields) < 4:
        raise InvalidInput("the 16 record has fewer than 4 fields (code, type, amount, funds)")
    code = fields[1].strip()
    amount_text = fields[2].strip()
    if not amount_text:
        raise InvalidInput("amount is blank")
    if not _DIGITS.fullmatch(amount_text):
        raise InvalidInput(f"amount {amount_text!r} is not an unsigned integer in minor units")
    extra = _funds_extra(fields, 3)
    if extra is None:
        raise InvalidInput("the availability fields of funds type D are incomplete")
    bank_index = 4 + extra
    value_date = None
    if fields[3].strip().upper() == "V" and len(fields) > 4 and fields[4].strip():
        value_date = _date(fields[4], "value date")
    bank_reference = fields[bank_index].strip() if len(fields) > bank_index else ""
    customer_reference = fields[bank_index + 1].strip() if len(fields) > bank_index + 1 else ""
    text = ",".join(fields[bank_index + 2 :]).strip()
    sign, record_type = _kind(code, text)
    if currency is None:
        currency = DEFAULT_CURRENCY
    currency_exponent(currency)
    booked = value_date or as_of
    if booked is None:
        raise InvalidInput("the record has no value date and no group as-of date")
    magnitude = int(amount_text)
    if magnitude > MAX_SAFE_AMOUNT:
        raise InvalidInput(f"amount {amount_text} is out of range")
    parsed = ParsedRecord(
        provider_reference=customer_reference or bank_reference,
        type=record_type,
        amount_minor=sign * magnitude,
        fee_minor=None,
        currency=currency,
        booked_at=datetime(booked.year, booked.month, booked.day, tzinfo=UTC),
        description=text or None,
        row_id=bank_reference or None,
        line=record.line,
        raw="\n".join(record.raw),
        group_key=None,
        counterparty=_counterparty(text, sign),
    )
    return parsed, magnitude


def _decode(content: bytes) -> str:
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise UnreadableFile(
            f"the file is not BAI2 text: byte 0x{content[exc.start]:02x} at offset "
            f"{exc.start} (line {line}) cannot be decoded"
        ) from exc


def _close_account(
    account: _Account, trailer: _Record | None, parsed: ParsedFile, *, verify_totals: bool
) -> None:
    problem = account.broken
    if problem is None and trailer is None:
        problem = "the account has no 49 trailer"
    if problem is None and trailer is not None and verify_totals:
        fields = _strip_terminator(trailer.text).split(",")
        total_text = fields[1].strip() if len(fields) > 1 else ""
        details_total = sum(amount for _, amount in account.details if amount is not None)
        actual = account.summary_total + details_total
        has_amounts = actual != 0 or any(amount for _, amount in account.details)
        if not total_text:
            if has_amounts:
                problem = (
                    f"the account trailer (line {trailer.line}) has a blank control total; "
                    "BAI2 requires it"
                )
        elif not _SIGNED.fullmatch(total_text):
            problem = (
                f"the account control total {total_text!r} (line {trailer.line}) is not an integer"
            )
        elif int(total_text) != actual:
            problem = (
                f"the account control total {total_text} (line {trailer.line}) does not equal "
                f"the sum of its amounts ({actual})"
            )
    for item, _ in account.details:
        if isinstance(item, RejectedRow):
            parsed.rejected.append(item)
        elif problem is not None:
            parsed.rejected.append(RejectedRow(item.line, problem))
        else:
            parsed.records.append(item)


def parse_bai2(content: bytes, *, verify_totals: bool = True) -> ParsedFile:
    """Parse a BAI2 file: one record per ``16`` detail (see the module docstring).

    ``verify_totals=False`` skips the account control-total check (for inspecting a file whose
    trailers are known to be wrong); ingestion always verifies. Raises :class:`UnreadableFile`
    when the bytes are not text or the file does not start with an ``01`` file header.
    """
    records = _records(_decode(content))
    if not records or records[0].code != "01":
        raise UnreadableFile("not a BAI2 file: the first record is not an 01 file header")
    parsed = ParsedFile()
    group_currency: str | None = None
    as_of: date | None = None
    group_problem: str | None = None
    account: _Account | None = None
    for record in records:
        fields = _strip_terminator(record.text).split(",")
        if record.code == "02":
            group_currency = _currency(fields[6]) if len(fields) > 6 else None
            try:
                as_of = _date(fields[4], "as-of date") if len(fields) > 4 else None
                group_problem = None if as_of else "the group header has no as-of date"
            except InvalidInput as exc:
                as_of, group_problem = None, exc.detail
        elif record.code == "03":
            if account is not None:
                _close_account(account, None, parsed, verify_totals=verify_totals)
            currency = _currency(fields[2]) if len(fields) > 2 else None
            account = _Account(currency or group_currency)
            try:
                account.summary_total = _summary_total(fields)
            except InvalidInput as exc:
                account.broken = f"the account record (line {record.line}): {exc.detail}"
        elif record.code == "16":
            if account is None:
                parsed.rejected.append(
                    RejectedRow(record.line, "the 16 record is outside any 03 account")
                )
                continue
            if group_problem is not None and not as_of:
                account.details.append((RejectedRow(record.line, group_problem), None))
                continue
            try:
                item, amount = _read_detail(record, account.currency, as_of)
            except InvalidInput as exc:
                account.details.append((RejectedRow(record.line, exc.detail), None))
                continue
            account.details.append((item, amount))
        elif record.code == "49":
            if account is not None:
                _close_account(account, record, parsed, verify_totals=verify_totals)
                account = None
        elif record.code in ("98", "99") and account is not None:
            _close_account(account, None, parsed, verify_totals=verify_totals)
            account = None
    if account is not None:
        _close_account(account, None, parsed, verify_totals=verify_totals)
    parsed.records.sort(key=lambda item: item.line)
    parsed.rejected.sort(key=lambda item: item.line)
    return parsed


def looks_like_bai2(content: bytes) -> bool:
    """True when the content (after a BOM and blank space) starts with an ``01,`` file header."""
    head = content[:64]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.lstrip().startswith(b"01,")


SOURCE_BAI2 = SourceFormat(
    name=NAME,
    description="BAI Version 2 cash-management file: one record per 16 transaction detail",
    sniff=looks_like_bai2,
    parse=parse_bai2,
)
