"""SWIFT MT940 customer statements and MT942 interim reports (``format: "mt940"`` / ``"mt942"``).

An MT940 file holds one or more statements, each a run of tagged fields::

    :20:  statement reference          :25: account        :28C: statement number
    :60F: opening balance (mark, date YYMMDD, currency, amount)
    :61:  statement line (one booking) :86: information to the account owner
    :62F: closing balance              :64: / :65: available balances
    -     end of message

Some files wrap each message in a SWIFT envelope (``{1:...}{2:...}{4:`` ... ``-}{5:}``), some have
a bank preamble (``ABNANL2A`` / ``940``, ``:940:``) or SOH/ETX control bytes around the message;
all of that is skipped. An MT942 interim report has the same :61:/:86: lines, a floor limit
``:34F:`` and no opening balance.

One :class:`ParsedRecord` per ``:61:`` line, which reads (SWIFT field 61)::

    YYMMDD [MMDD] mark [funds code] amount type reference [//bank reference]
    [newline supplementary details]

Mappings:

* ``booked_at``: the entry (booking) date MMDD when given, else the value date; midnight UTC. The
  entry date takes the value date's year, moved to the year before or after when the months are
  more than six apart (a December value date booked in January). Two-digit years 80-99 are 19xx,
  the rest 20xx. An impossible date rejects the line.
* amount: digits with a comma as decimal separator (``6800,``, ``620,3``, ``000000001213,28``),
  in the currency of the statement's ``:60F:``/``:60M:`` (else ``:62F:``/``:62M:``, else the
  MT942 floor limit ``:34F:``). More decimals than the currency allows, or a currency that is not
  ISO 4217 (the Deutsche Mark in old test files), rejects the line. Credits are positive, debits
  negative (the account owner's view).
* mark: ``C``/``D`` credit/debit; ``RC`` (reversal of a credit, so money leaves: negative) and
  ``RD`` (reversal of a debit: positive) give type ``reversal``. ``CR``/``DR`` are *not*
  reversals: they are C/D followed by the funds code (the third letter of the currency).
* type: ``reversal`` for RC/RD, for the returned-item code ``RTI`` and for a booking text (the
  German ``?00``, else the first ``:86:`` line) with a reversal word (``Terugboeking``,
  ``Storno``, ``Retoure``, ``Rücklastschrift``); ``fee`` for the
  charges and commission codes ``CHG``/``COM``; ``adjustment`` for interest ``INT``; otherwise
  ``charge`` for a credit (money received) and ``payout`` for a debit (money paid out).
* ``provider_reference``: the customer reference unless ``NONREF`` (or a bare SEPA label such as
  ``KREF+`` whose value the bank cut off); else the SEPA end-to-end id
  (``EREF+`` in the ``:86:``, ``NOTPROVIDED`` meaning none); else the bank reference; else empty.
  ``row_id`` is the bank reference.
* A ``0,00`` line is kept as the zero it says (SNS writes informational lines that way); a zero is
  never made up for an amount that cannot be read.
* ``counterparty``: in structured German ``:86:`` (``?20``..``?29`` purpose, ``?30``/``?31``
  bank and account, ``?32``/``?33`` name, ``?38`` IBAN) the name and account; in ``/NAME/``
  structured ``:86:`` the name; in the ASN/SNS layout, where the "reference" slot of ``:61:``
  holds the counterparty IBAN (longer than the 16 characters a reference may have) and the line
  after ``:61:`` the name, those two. The mt-940 library misses all of these (and fails on the
  ASN/SNS layout), which is why this module reads the tags itself.
* ``description``: the SEPA remittance text (``SVWZ+``) or the purpose lines with the booking
  text (``?00``), else the ``:86:`` text with its line wraps and padding collapsed, plus the
  supplementary details when they are not the counterparty name. Non-standard ``:NS:`` fields
  (Sberbank) are kept in ``raw`` only.
* ``line`` is the 1-based line of the ``:61:`` tag; ``raw`` its lines through the last ``:86:``.

Text is UTF-8; a file that is not (Hungarian code pages, say) is read with each undecodable byte
replaced by U+FFFD. Every field a record is built from (dates, marks, amounts, currencies,
references) is ASCII in SWIFT files, so only free text can show the replacement mark, and it
shows it rather than guessing a code page.

A statement line that cannot be read exactly is rejected with its line and reason; so is one
whose ``:86:`` place holds another statement's tag (``:25:``), since its details are lost. A file
with no statement at all is :class:`UnreadableFile`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from zentra.ingest.sources.base import (
    ParsedFile,
    ParsedRecord,
    RejectedRow,
    SourceFormat,
)
from zentra.ingest.values import MAX_SAFE_AMOUNT
from zentra.kit.errors import InvalidInput, UnreadableFile
from zentra.kit.money import currency_exponent

NAME_MT940 = "mt940"
NAME_MT942 = "mt942"
SNIFF_LIMIT = 65536

_TAG = re.compile(r":(\d{2}[A-Z]?|NS):", re.ASCII)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_STATEMENT_LINE = re.compile(
    r"(?P<value>\d{6})(?P<entry>\d{4})?(?P<mark>RC|RD|C|D)(?P<funds>[A-Z])?"
    r"(?P<amount>\d+,\d*)(?P<code>[A-Z][A-Z0-9 ]{3})(?P<rest>.*)",
    re.ASCII,
)
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", re.ASCII)
_BALANCE = re.compile(r"[CD]\d{6}(?P<currency>[A-Z]{3})", re.ASCII)
_FLOOR = re.compile(r"(?P<currency>[A-Z]{3})")
_SUBFIELD = re.compile(r"\?(\d{2})", re.ASCII)
_SEPA_KEY = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|COAM|OAMT|IBAN|BIC)\+")
_SLASH_KEY = re.compile(r"/(ORDP|BENM|NAME|ADDR|REMI|EREF|ISDT|IBAN|BIC|CNTP|TRCD|MARF|CSID)/")
_EREF_TEXT = re.compile(r"EREF\+\s*(\S+)")
_SPACES = re.compile(r"\s+")
_REVERSAL_WORDS = frozenset(
    {"TERUGBOEKING", "STORNO", "RETOURE", "RUECKLASTSCHRIFT", "RÜCKLASTSCHRIFT"}
)
"""Words of a booking text (German ``?00``, or the first ``:86:`` line) that mark a reversal:
a return of an earlier transfer, a cancelled booking, a disputed direct debit."""
_WORD = re.compile(r"\w+")
_REFERENCE_LABEL = re.compile(r"(EREF|KREF|MREF)\+")
_MESSAGE_END = re.compile(r"-\}?(\{5:.*)?")
_OPENING_TAGS = ("60F", "60M")
_CLOSING_TAGS = ("62F", "62M")
_STATEMENT_HEADER_TAGS = frozenset({"25", "28", "28C", "60F", "60M"})


@dataclass(slots=True)
class _Field:
    """One tag and its content lines (the first is the text after the tag)."""

    tag: str
    line: int
    lines: list[str]


@dataclass(slots=True)
class _Statement:
    fields: list[_Field] = field(default_factory=list)


def _decode(content: bytes) -> str:
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content.decode("utf-8", errors="replace")


def _statements(text: str) -> list[_Statement]:
    """Split the text into statements (from one ``:20:`` to the next) of tagged fields."""
    statements: list[_Statement] = []
    current: _Field | None = None
    for number, physical in enumerate(_LINE_BREAK.split(text), start=1):
        line = physical.strip("\x01\x03")
        match = _TAG.match(line)
        if match is not None:
            current = _Field(match.group(1), number, [line[match.end() :]])
            if current.tag == "20" or not statements:
                statements.append(_Statement())
            statements[-1].fields.append(current)
        elif line.startswith("{") or _MESSAGE_END.fullmatch(line.strip()):
            current = None  # a SWIFT envelope block or the end of a message
        elif current is not None:
            current.lines.append(line)
    return statements


def _currency(statement: _Statement) -> str | None:
    for tags, pattern in (
        (_OPENING_TAGS, _BALANCE),
        (_CLOSING_TAGS, _BALANCE),
        (("34F",), _FLOOR),
    ):
        for fld in statement.fields:
            if fld.tag in tags:
                match = pattern.match(fld.lines[0].strip())
                if match is not None:
                    return match.group("currency")
    return None


def _year(yy: int) -> int:
    return 1900 + yy if yy >= 80 else 2000 + yy


def _date(text: str, what: str) -> date:
    try:
        return date(_year(int(text[:2])), int(text[2:4]), int(text[4:6]))
    except ValueError as exc:
        raise InvalidInput(f"{what} {text!r} is not a valid YYMMDD date") from exc


def _entry_date(value: date, text: str) -> date:
    month, day = int(text[:2]), int(text[2:])
    year = value.year
    if month - value.month > 6:
        year -= 1
    elif value.month - month > 6:
        year += 1
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise InvalidInput(f"entry date {text!r} is not a valid MMDD date") from exc


def _amount(text: str, currency: str) -> int:
    whole, _, decimals = text.partition(",")
    exponent = currency_exponent(currency)
    decimals = decimals.rstrip("0")
    if len(decimals) > exponent:
        raise InvalidInput(f"amount {text!r} has more decimals than {currency} allows ({exponent})")
    minor = int(whole + decimals.ljust(exponent, "0"))
    if minor > MAX_SAFE_AMOUNT:
        raise InvalidInput(f"amount {text!r} is out of range")
    return minor


@dataclass(slots=True)
class _Details:
    """What the ``:86:`` says, once read."""

    description: str | None = None
    counterparty: str | None = None
    end_to_end: str | None = None
    booking_text: str = ""


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _sepa_parts(purpose: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    pieces = _SEPA_KEY.split(purpose)
    for index in range(1, len(pieces) - 1, 2):
        parts.setdefault(pieces[index], pieces[index + 1].strip())
    return parts


def _end_to_end(value: str | None) -> str | None:
    if not value or value.upper() == "NOTPROVIDED":
        return None
    return value


def _structured_details(joined: str) -> _Details:
    """German ``?NN`` sub-fields: booking text, purpose, counterparty name and account."""
    pieces = _SUBFIELD.split(joined)
    subfields: dict[str, str] = {}
    for index in range(1, len(pieces) - 1, 2):
        key, value = pieces[index], pieces[index + 1]
        subfields[key] = subfields.get(key, "") + value
    purpose = "".join(
        subfields.get(str(key), "") for key in (*range(20, 30), *range(60, 64))
    ).strip()
    sepa = _sepa_parts(purpose)
    remittance = sepa.get("SVWZ") or (purpose if not sepa else "")
    description = _clean(" ".join(p for p in (subfields.get("00", ""), remittance) if p))
    name = _clean(subfields.get("32", "") + subfields.get("33", ""))
    # Account numbers and IBANs hold no spaces: a space in one is line padding.
    account = (subfields.get("38", "") or subfields.get("31", "")).replace(" ", "")
    counterparty = f"{name} ({account})" if name and account else (name or account or None)
    return _Details(
        description or None,
        counterparty,
        _end_to_end(sepa.get("EREF")),
        subfields.get("00", ""),
    )


def _slash_details(joined: str) -> _Details:
    """``/KEY/value`` structured details (Rabobank, ING): name, remittance, end-to-end id."""
    pieces = _SLASH_KEY.split(joined)
    values: dict[str, str] = {}
    for index in range(1, len(pieces) - 1, 2):
        values.setdefault(pieces[index], pieces[index + 1].strip("/ "))
    return _Details(
        _clean(values.get("REMI", "")) or None,
        _clean(values.get("NAME", "")) or None,
        _end_to_end(values.get("EREF")),
    )


def _details(lines: list[str]) -> _Details:
    stripped = [line.strip() for line in lines]
    joined = "".join(line.rstrip("\r") for line in lines).strip()
    if _SUBFIELD.search(joined) and re.match(r"[0-9]{3}\?", joined):
        return _structured_details(joined)
    if _SLASH_KEY.match(joined):
        return _slash_details(joined)
    text = _clean(" ".join(stripped))
    eref = _EREF_TEXT.search(text)
    first = next((line for line in stripped if line), "")
    return _Details(text or None, None, _end_to_end(eref.group(1)) if eref else None, first)


def _record_type(mark: str, code: str, booking_text: str) -> str:
    if mark in ("RC", "RD") or code.endswith("RTI"):
        return "reversal"
    if _REVERSAL_WORDS.intersection(_WORD.findall(booking_text.upper())):
        return "reversal"
    if code[1:4] in ("CHG", "COM"):
        return "fee"
    if code[1:4] == "INT":
        return "adjustment"
    return "charge" if mark == "C" else "payout"


def _read_line(
    field61: _Field, details: list[_Field], currency: str | None, raw: str
) -> ParsedRecord:
    first = field61.lines[0].strip()
    match = _STATEMENT_LINE.fullmatch(first)
    if match is None:
        raise InvalidInput(
            f"the :61: statement line {first[:60]!r} does not read as "
            "YYMMDD[MMDD] mark [funds code] amount type reference"
        )
    if currency is None:
        raise InvalidInput("the statement has no :60F:, :62F: or :34F: giving its currency")
    value = _date(match.group("value"), "value date")
    entry = match.group("entry")
    booked = _entry_date(value, entry) if entry else value
    mark = match.group("mark")
    magnitude = _amount(match.group("amount"), currency)
    amount = magnitude if mark in ("C", "RD") else -magnitude
    code = match.group("code")
    rest = match.group("rest")
    reference_part, _, bank_reference = rest.partition("//")
    supplementary = [line.strip() for line in field61.lines[1:] if line.strip()]
    counterparty_account: str | None = None
    if not bank_reference and len(reference_part.strip()) > 16:
        token = reference_part.strip()
        if _IBAN.fullmatch(token):  # ASN/SNS: the counterparty IBAN in the reference slot
            counterparty_account, reference_part = token, ""
        else:  # fixed-width layouts: 16 characters of reference, then supplementary details
            supplementary.insert(0, reference_part[16:].strip())
            reference_part = reference_part[:16]
    customer_reference = reference_part.strip()
    bank_reference = bank_reference.strip()
    detail_lines = [line for fld in details if fld.tag == "86" for line in fld.lines]
    read = _details(detail_lines)
    counterparty = read.counterparty
    description_parts: list[str] = []
    details_text = read.description or ""
    if counterparty_account is not None:
        name = supplementary.pop(0) if supplementary else ""
        counterparty = f"{name} ({counterparty_account})" if name else counterparty_account
        # The ASN/SNS :86: repeats "IBAN name" before the description proper.
        repeated = _clean(f"{counterparty_account} {name}")
        if details_text.startswith(repeated):
            details_text = details_text[len(repeated) :].strip()
    description_parts.extend(s for s in supplementary if s)
    if details_text:
        description_parts.append(details_text)
    # "NONREF" means none; so does a bare SEPA label ("KREF+") with its value cut off.
    if customer_reference.upper() == "NONREF" or _REFERENCE_LABEL.fullmatch(customer_reference):
        customer_reference = ""
    reference = customer_reference or read.end_to_end or bank_reference
    return ParsedRecord(
        provider_reference=reference,
        type=_record_type(mark, code, read.booking_text),
        amount_minor=amount,
        fee_minor=None,
        currency=currency,
        booked_at=datetime(booked.year, booked.month, booked.day, tzinfo=UTC),
        description=" ".join(description_parts) or None,
        row_id=bank_reference or None,
        line=field61.line,
        raw=raw,
        group_key=None,
        counterparty=counterparty,
    )


def parse_mt940(content: bytes) -> ParsedFile:
    """Parse an MT940 or MT942 file: one record per ``:61:`` line (see the module docstring).

    Raises :class:`UnreadableFile` when the file holds no statement (no ``:20:`` tag) at all.
    """
    text = _decode(content)
    lines = _LINE_BREAK.split(text)
    statements = _statements(text)
    if not any(f.tag == "20" for statement in statements for f in statement.fields):
        raise UnreadableFile(
            "no MT940/MT942 statement found: the file has no :20: tag at the start of a line"
        )
    parsed = ParsedFile()
    for statement in statements:
        fields = statement.fields
        if fields[0].tag != "20":  # tags before the first :20: belong to no statement
            parsed.rejected.extend(
                RejectedRow(f.line, "the statement line comes before any :20: statement header")
                for f in fields
                if f.tag == "61"
            )
            continue
        currency = _currency(statement)
        for index, fld in enumerate(fields):
            if fld.tag != "61":
                continue
            details: list[_Field] = []
            broken: _Field | None = None
            for follower in fields[index + 1 :]:
                if follower.tag in ("86", "NS"):
                    details.append(follower)
                    continue
                if follower.tag in _STATEMENT_HEADER_TAGS:
                    broken = follower
                break
            if broken is not None:
                parsed.rejected.append(
                    RejectedRow(
                        fld.line,
                        f"the statement line is followed by a :{broken.tag}: tag (line "
                        f"{broken.line}) where its :86: details belong: the statement is "
                        "malformed",
                    )
                )
                continue
            last = details[-1] if details else fld
            end = last.line + len(last.lines) - 1
            raw_lines = lines[fld.line - 1 : end]
            while len(raw_lines) > 1 and not raw_lines[-1].strip():
                raw_lines.pop()
            try:
                record = _read_line(fld, details, currency, "\n".join(raw_lines))
            except (InvalidInput, ValueError) as exc:
                reason = exc.detail if isinstance(exc, InvalidInput) else str(exc)
                parsed.rejected.append(RejectedRow(fld.line, reason))
                continue
            parsed.records.append(record)
    return parsed


_SNIFF_20 = re.compile(rb"(?m)^\x01?:20:")
_SNIFF_25 = re.compile(rb"(?m)^:25:")
_SNIFF_BODY = re.compile(rb"(?m)^:(60F|60M|61):")
_SNIFF_34F = re.compile(rb"(?m)^:34F:")
_SNIFF_60 = re.compile(rb"(?m)^:60[FM]:")


def _tagged(content: bytes) -> bool:
    head = content[:SNIFF_LIMIT]
    return bool(_SNIFF_20.search(head) and _SNIFF_25.search(head))


def looks_like_mt942(content: bytes) -> bool:
    """True for :20: and :25: tags, a ``:34F:`` floor limit and no ``:60F:`` opening balance."""
    head = content[:SNIFF_LIMIT]
    return _tagged(head) and bool(_SNIFF_34F.search(head)) and not _SNIFF_60.search(head)


def looks_like_mt940(content: bytes) -> bool:
    """True for :20: and :25: tags with a ``:60F:`` balance or a ``:61:`` line (and not MT942)."""
    head = content[:SNIFF_LIMIT]
    return _tagged(head) and bool(_SNIFF_BODY.search(head)) and not looks_like_mt942(head)


SOURCE_MT940 = SourceFormat(
    name=NAME_MT940,
    description="SWIFT MT940 customer statement: one record per :61: statement line",
    sniff=looks_like_mt940,
    parse=parse_mt940,
)

SOURCE_MT942 = SourceFormat(
    name=NAME_MT942,
    description="SWIFT MT942 interim transaction report: one record per :61: statement line",
    sniff=looks_like_mt942,
    parse=parse_mt940,
)
