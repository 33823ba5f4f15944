"""PSP CSV reports: Adyen settlement details, PayPal activity and statements, Stripe balance.

Every report is read by **header name, never by position** (Adyen's batch 238 and batch 380
reports order their columns differently). Names are compared trimmed and case-insensitively. The
first non-blank line is the header; trailing header columns with no name (PayPal's Spanish
statement has six) are dropped, and a row may then carry fewer or more *empty* trailing fields.
Line numbers count physical lines (a CSV header is line 1); ``raw`` is the row's text.

Numbers are read in the locale the header declares, never guessed per value: Adyen and Stripe
write plain decimals (``1234.5``, ``75``); an English PayPal header means ``,`` thousands and
``.`` decimals (``-1,058.09``), a Spanish one ``.`` thousands and ``,`` decimals (``4.626,81``).
Signs: money in is positive, money out negative. ``fee_minor`` is positive for a fee charged.

**Adyen settlement details** (``adyen_settlement_details``): ``Type`` (or ``Record Type``)
maps Settled -> charge; Refunded -> refund; Chargeback, SecondChargeback, ChargebackReversed,
RefundedReversed, PaidOutReversed, BankInstructionReturned -> reversal; Fee, MiscCosts,
PaymentCost, InvoiceDeduction -> fee; MerchantPayout, PaidOut -> payout; Balancetransfer,
DepositCorrection, ManualCorrected, MatchedStatement, EpaPaid -> adjustment. The amount is
``Gross Credit (GC)`` or minus ``Gross Debit (GC)`` in ``Gross Currency``; rows without gross
(fees, payouts, transfers) use the net columns in ``Net Currency``. When gross and net share a
currency, ``fee_minor`` = gross - net, and must equal the sum of Commission, Markup, Scheme Fees
and Interchange when any is given. ``Psp Reference`` -> provider_reference; ``Modification
Reference`` -> row_id; ``Batch Number`` -> group_key; ``Merchant Reference`` (else the
modification's references) -> description; ``Creation Date`` in ``TimeZone`` -> booked_at.

**PayPal activity download** (``paypal_activity``): ``Type`` maps payments -> charge, refunds
-> refund, reversals and chargebacks -> reversal, withdrawals -> payout, conversions, holds and
releases -> adjustment. ``Gross`` -> amount, ``Fee`` (negative in the file) -> fee_minor, and
gross + fee must equal ``Net``; ``Transaction ID`` -> provider_reference and row_id;
``Name`` -> counterparty; ``Date`` + ``Time`` in ``TimeZone`` -> booked_at.
Completed and Pending rows are kept (both move the PayPal balance; a pending row's description
says so); other statuses (Denied, Reversed...) are rejected with their status.

**PayPal statement** (``paypal_statement``, English or Spanish headers): the same mapping, the
type read from ``Description``/``Descripción``, the zone from ``Time Zone``/``Zona horaria``.

PayPal writes dates without saying their order: a Spanish header means day/month/year; for an
English one the file decides as a whole (a day above 12 in either position settles it; a file
that shows both orders is refused; rows whose dates stay ambiguous are rejected, not guessed).
Time zones are IANA names or the abbreviations PST, PDT, MST, MDT, EST, EDT, CEST; a local time
that a daylight-saving change makes ambiguous or impossible is rejected.

**Stripe balance** (``stripe_balance``): the "balance change from activity" itemized export
(``balance_transaction_id``, ``created_utc``, ``currency``, ``gross``, ``fee``, ``net``,
``reporting_category``) or the Dashboard balance history (``id``, ``type``, ``amount``, ``fee``,
``net``, ``currency``, ``created (utc)``). The category maps charge/payment -> charge,
refund/payment_refund -> refund, dispute, dispute_reversal, payout_reversal, charge_failure,
refund_failure -> reversal, payout/transfer -> payout, fee/stripe_fee/network_cost/tax ->
fee, adjustment/other_adjustment/topup/contribution -> adjustment. ``source_id``/``source``
(the charge or refund id) -> provider_reference when given, else the balance transaction id;
the balance transaction id -> row_id; ``automatic_payout_id``/``payout_id``/``transfer`` ->
group_key; gross - fee must equal net. Times are UTC.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zentra.ingest.sources.base import ParsedFile, ParsedRecord, RejectedRow, SourceFormat
from zentra.ingest.text import decode_text, first_line, physical_lines
from zentra.ingest.values import read_currency, read_major_amount
from zentra.kit.errors import InvalidInput, UnreadableFile

if TYPE_CHECKING:
    from _csv import Reader

# --------------------------------------------------------------------------- reading the CSV


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    raw: str
    fields: dict[str, str] | None
    error: str | None


def _normalize(name: str) -> str:
    return name.strip().strip('"').strip().lower()


def _header_of(content: bytes) -> list[str] | None:
    """The normalized names of the first non-blank line, or None. Never raises."""
    line = first_line(content)
    if line is None:
        return None
    try:
        names = next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return None
    return [_normalize(name) for name in names]


def _read_rows(text: str) -> tuple[list[str], Iterator[_Row]]:
    lines = physical_lines(text)
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        raise UnreadableFile("the file is empty")
    reader = csv.reader(lines[start:], strict=True)
    try:
        header = [_normalize(name) for name in next(reader)]
    except csv.Error as exc:
        raise UnreadableFile(f"the header row (line {start + 1}) is not valid CSV: {exc}") from exc
    while header and not header[-1]:
        header.pop()  # unnamed trailing columns (PayPal's Spanish statement)
    named = [name for name in header if name]
    if len(set(named)) != len(named):
        duplicate = next(name for name in named if named.count(name) > 1)
        raise UnreadableFile(f"the header names the column {duplicate!r} twice")
    return header, _rows(reader, lines, start, header, reader.line_num)


def _rows(
    reader: Reader, lines: list[str], start: int, header: list[str], consumed: int
) -> Iterator[_Row]:
    width = len(header)
    previous = consumed
    while True:
        try:
            fields: list[str] | None = next(reader)
            error = None
        except StopIteration:
            return
        except csv.Error as exc:
            fields, error = None, f"malformed CSV: {exc}"
        line_num = reader.line_num
        first, last = previous + 1 + start, line_num + start
        previous = line_num
        raw = "".join(lines[first - 1 : last]).rstrip("\r\n")
        if fields is not None:
            if not any(field.strip() for field in fields):
                continue
            if len(fields) > width and not any(f.strip() for f in fields[width:]):
                fields = fields[:width]
            if len(fields) != width:
                yield _Row(first, raw, None, f"expected {width} fields, found {len(fields)}")
                continue
            yield _Row(first, raw, dict(zip(header, fields, strict=True)), None)
        else:
            yield _Row(first, raw, None, error)


# --------------------------------------------------------------------------- values

_EN_NUMBER = re.compile(r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")
_ES_NUMBER = re.compile(r"[+-]?(?:[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+)(?:,[0-9]+)?")
_SLASH_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})")
_ISO_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?")
_ABBREVIATIONS = {"PST": -8, "PDT": -7, "MST": -7, "MDT": -6, "EST": -5, "EDT": -4, "CEST": 2}
"""Zone abbreviations that name one fixed offset (hours from UTC); ambiguous ones (CST, IST,
BST) are not read. IANA names (``CET``, ``Europe/Berlin``) go to ``zoneinfo``."""


def _amount(text: str, currency: str, name: str, locale: str = "plain") -> int:
    cleaned = text.strip()
    if locale == "en":
        if not _EN_NUMBER.fullmatch(cleaned):
            raise InvalidInput(f"{name} {cleaned!r} is not an amount like -1,058.09")
        cleaned = cleaned.replace(",", "")
    elif locale == "es":
        if not _ES_NUMBER.fullmatch(cleaned):
            raise InvalidInput(f"{name} {cleaned!r} is not an amount like -4.626,81")
        cleaned = cleaned.replace(".", "").replace(",", ".")
    return read_major_amount(cleaned, currency, name)


def _zone(name: str) -> tzinfo:
    cleaned = name.strip()
    if cleaned.upper() in _ABBREVIATIONS:
        return timezone(timedelta(hours=_ABBREVIATIONS[cleaned.upper()]), cleaned.upper())
    if not cleaned:
        raise InvalidInput("the time zone is empty")
    try:
        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"time zone {cleaned!r} is not a known zone") from exc


def _localize(local: datetime, zone: tzinfo, text: str) -> datetime:
    """A wall-clock time in ``zone`` as UTC; refused when DST makes it ambiguous or impossible."""
    first, second = local.replace(tzinfo=zone), local.replace(tzinfo=zone, fold=1)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        raise InvalidInput(f"{text!r} does not exist in {zone} (a daylight-saving change)")
    if first.utcoffset() != second.utcoffset():
        raise InvalidInput(f"{text!r} is ambiguous in {zone} (a daylight-saving change)")
    return first.astimezone(UTC)


def _iso_time(text: str, zone: tzinfo, name: str) -> datetime:
    match = _ISO_TIME.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(f"{name} {text.strip()!r} is not a date-time like 2021-01-05 00:21:32")
    y, m, d, hh, mm, ss = (int(part or 0) for part in match.groups())
    try:
        local = datetime(y, m, d, hh, mm, ss)  # noqa: DTZ001 - localized just below
    except ValueError as exc:
        raise InvalidInput(f"{name} {text.strip()!r} is not a valid date-time: {exc}") from exc
    return _localize(local, zone, text.strip())


def _optional(row: dict[str, str], *names: str) -> str:
    for name in names:
        value = row.get(name, "").strip()
        if value:
            return value
    return ""


# --------------------------------------------------------------------------- reports


def _parse_rows(
    content: bytes,
    required: tuple[str, ...],
    make_reader: Callable[
        [list[str], list[_Row]], Callable[[dict[str, str], int, str], ParsedRecord]
    ],
    label: str,
) -> ParsedFile:
    header, rows = _read_rows(decode_text(content))
    missing = [name for name in required if name not in header]
    if missing:
        raise UnreadableFile(
            f"the header is not a {label} header: it lacks {', '.join(missing)}",
            missing_columns=missing,
        )
    all_rows = list(rows)
    read = make_reader(header, all_rows)
    parsed = ParsedFile()
    for row in all_rows:
        if row.fields is None:
            parsed.rejected.append(RejectedRow(row.line, row.error or "malformed row"))
            continue
        try:
            parsed.records.append(read(row.fields, row.line, row.raw))
        except InvalidInput as exc:
            parsed.rejected.append(RejectedRow(row.line, exc.detail))
    return parsed


# Adyen ----------------------------------------------------------------------

ADYEN_TYPES = {
    "settled": "charge",
    "refunded": "refund",
    "chargeback": "reversal",
    "secondchargeback": "reversal",
    "chargebackreversed": "reversal",
    "refundedreversed": "reversal",
    "paidoutreversed": "reversal",
    "bankinstructionreturned": "reversal",
    "fee": "fee",
    "misccosts": "fee",
    "paymentcost": "fee",
    "invoicededuction": "fee",
    "merchantpayout": "payout",
    "paidout": "payout",
    "balancetransfer": "adjustment",
    "depositcorrection": "adjustment",
    "manualcorrected": "adjustment",
    "matchedstatement": "adjustment",
    "epapaid": "adjustment",
}
_ADYEN_REQUIRED = ("psp reference", "merchant account", "batch number", "net currency")
_ADYEN_FEES = ("commission (nc)", "markup (nc)", "scheme fees (nc)", "interchange (nc)")


def _signed(row: dict[str, str], debit: str, credit: str, currency: str) -> int | None:
    debit_text, credit_text = row.get(debit, "").strip(), row.get(credit, "").strip()
    if debit_text and credit_text:
        raise InvalidInput(f"both {debit} and {credit} are filled")
    if credit_text:
        return read_major_amount(credit_text, currency, credit)
    if debit_text:
        return -read_major_amount(debit_text, currency, debit)
    return None


def _adyen_reader(
    header: list[str], rows: list[_Row]
) -> Callable[[dict[str, str], int, str], ParsedRecord]:
    type_column = "type" if "type" in header else "record type"
    if type_column not in header:
        raise UnreadableFile("the Adyen header names neither Type nor Record Type")

    def read(row: dict[str, str], line: int, raw: str) -> ParsedRecord:
        kind = row[type_column].strip()
        record_type = ADYEN_TYPES.get(kind.lower())
        if record_type is None:
            raise InvalidInput(f"Adyen type {kind!r} is not mapped to a record type")
        gross_currency = row.get("gross currency", "").strip()
        net_currency = row.get("net currency", "").strip()
        gross = net = None
        if gross_currency:
            gross_currency = read_currency(gross_currency, "Gross Currency")
            gross = _signed(row, "gross debit (gc)", "gross credit (gc)", gross_currency)
        if net_currency:
            net_currency = read_currency(net_currency, "Net Currency")
            net = _signed(row, "net debit (nc)", "net credit (nc)", net_currency)
        fee = None
        if gross is not None:
            amount, currency = gross, gross_currency
            if net is not None and net_currency == gross_currency:
                fee = gross - net
                parts = [row.get(name, "").strip() for name in _ADYEN_FEES]
                if any(parts):
                    total = sum(read_major_amount(p, net_currency, "fee") for p in parts if p)
                    if total != fee:
                        raise InvalidInput(
                            f"gross - net is {fee} minor units but Commission, Markup, Scheme "
                            f"Fees and Interchange add up to {total}"
                        )
        elif net is not None:
            amount, currency = net, net_currency
        else:
            raise InvalidInput("the row has no gross and no net amount")
        zone = _zone(row.get("timezone", ""))
        booked_at = _iso_time(row.get("creation date", ""), zone, "Creation Date")
        modification = row.get("modification reference", "").strip()
        merchant_modification = row.get("modification merchant reference", "").strip()
        if merchant_modification == "<auto>":
            merchant_modification = ""
        description = _optional(row, "merchant reference") or merchant_modification or modification
        return ParsedRecord(
            provider_reference=row["psp reference"].strip(),
            type=record_type,
            amount_minor=amount,
            fee_minor=fee,
            currency=currency,
            booked_at=booked_at,
            description=description or None,
            row_id=modification or None,
            line=line,
            raw=raw,
            group_key=row["batch number"].strip() or None,
            counterparty=None,
        )

    return read


def parse_adyen_settlement(content: bytes) -> ParsedFile:
    """Parse an Adyen Settlement Details Report. Raises :class:`UnreadableFile` for a file that
    is not text or whose header is not Adyen's."""
    return _parse_rows(content, _ADYEN_REQUIRED, _adyen_reader, "Adyen settlement details")


def looks_like_adyen_settlement(content: bytes) -> bool:
    """True when the header names Adyen's Psp Reference, Merchant Account, Batch Number, Net
    Currency and Type (or Record Type)."""
    header = _header_of(content)
    return (
        header is not None
        and all(name in header for name in _ADYEN_REQUIRED)
        and ("type" in header or "record type" in header)
    )


# PayPal ---------------------------------------------------------------------

PAYPAL_TYPES = {
    "website payment": "charge",
    "express checkout payment": "charge",
    "general payment": "charge",
    "mobile payment": "charge",
    "subscription payment": "charge",
    "recurring payment": "charge",
    "pre-approved payment bill user payment": "charge",
    "pago estándar": "charge",
    "payment refund": "refund",
    "refund": "refund",
    "payment reversal": "reversal",
    "chargeback": "reversal",
    "general withdrawal": "payout",
    "general withdrawal - bank account": "payout",
    "general currency conversion": "adjustment",
    "user initiated currency conversion": "adjustment",
    "payment hold": "adjustment",
    "payment release": "adjustment",
}
"""PayPal event names (lower-cased) and their record type; others are rejected by name."""

_ACTIVITY = {
    "date": "date",
    "time": "time",
    "zone": "timezone",
    "type": "type",
    "currency": "currency",
    "gross": "gross",
    "fee": "fee",
    "net": "net",
    "id": "transaction id",
    "name": "name",
}
_STATEMENT_EN = {
    "date": "date",
    "time": "time",
    "zone": "time zone",
    "type": "description",
    "currency": "currency",
    "gross": "gross",
    "fee": "fee",
    "net": "net",
    "id": "transaction id",
    "name": "name",
    "balance": "balance",
}
_STATEMENT_ES = {
    "date": "fecha",
    "time": "hora",
    "zone": "zona horaria",
    "type": "descripción",
    "currency": "divisa",
    "gross": "bruto",
    "fee": "comisión",
    "net": "neto",
    "id": "id. de transacción",
    "name": "nombre",
    "balance": "saldo",
}
_PAYPAL_KEPT_STATUSES = frozenset({"completed", "pending"})


def _date_order(rows: list[_Row], column: str) -> str | None:
    """``"dmy"`` or ``"mdy"`` as the file's dates show it, None when none tells."""
    day_first = month_first = False
    for row in rows:
        if row.fields is None:
            continue
        match = _SLASH_DATE.fullmatch(row.fields.get(column, "").strip())
        if match is None:
            continue
        first, second = int(match.group(1)), int(match.group(2))
        day_first = day_first or first > 12
        month_first = month_first or second > 12
    if day_first and month_first:
        raise UnreadableFile(f"the {column!r} column mixes day/month/year and month/day/year dates")
    if day_first:
        return "dmy"
    if month_first:
        return "mdy"
    return None


def _paypal_reader(
    columns: dict[str, str], locale: str, default_order: str | None
) -> Callable[[list[str], list[_Row]], Callable[[dict[str, str], int, str], ParsedRecord]]:
    def make(
        header: list[str], rows: list[_Row]
    ) -> Callable[[dict[str, str], int, str], ParsedRecord]:
        order = default_order or _date_order(rows, columns["date"])
        has_status = "status" in header

        def read(row: dict[str, str], line: int, raw: str) -> ParsedRecord:
            kind = row[columns["type"]].strip()
            record_type = PAYPAL_TYPES.get(kind.lower())
            if record_type is None:
                raise InvalidInput(f"PayPal type {kind!r} is not mapped to a record type")
            status = row.get("status", "").strip() if has_status else ""
            if has_status and status.lower() not in _PAYPAL_KEPT_STATUSES:
                raise InvalidInput(f"status {status!r} is neither Completed nor Pending")
            currency = read_currency(row[columns["currency"]], columns["currency"])
            gross = _amount(row[columns["gross"]], currency, columns["gross"], locale)
            fee_text = row[columns["fee"]].strip()
            fee = _amount(fee_text, currency, columns["fee"], locale) if fee_text else 0
            net_text = row[columns["net"]].strip()
            if net_text:
                net = _amount(net_text, currency, columns["net"], locale)
                if gross + fee != net:
                    raise InvalidInput(
                        f"gross {row[columns['gross']].strip()} plus fee {fee_text} is not net "
                        f"{net_text}"
                    )
            booked_at = _paypal_time(row, columns, order)
            transaction_id = row[columns["id"]].strip()
            description = kind if status.lower() != "pending" else f"{kind} (Pending)"
            counterparty = _optional(row, columns["name"]) or None
            return ParsedRecord(
                provider_reference=transaction_id,
                type=record_type,
                amount_minor=gross,
                fee_minor=-fee if fee_text else None,
                currency=currency,
                booked_at=booked_at,
                description=description,
                row_id=transaction_id or None,
                line=line,
                raw=raw,
                group_key=None,
                counterparty=counterparty,
            )

        return read

    return make


def _paypal_time(row: dict[str, str], columns: dict[str, str], order: str | None) -> datetime:
    date_text = row[columns["date"]].strip()
    match = _SLASH_DATE.fullmatch(date_text)
    if match is None:
        raise InvalidInput(f"{columns['date']} {date_text!r} is not a date like 31/12/2020")
    first, second, year = (int(part) for part in match.groups())
    if order is None:
        if first <= 12 and second <= 12 and first != second:
            raise InvalidInput(
                f"{columns['date']} {date_text!r} is ambiguous (day/month or month/day) and no "
                "date in the file settles the order"
            )
        order = "dmy"
    day, month = (first, second) if order == "dmy" else (second, first)
    time_text = row[columns["time"]].strip()
    time_match = _TIME.fullmatch(time_text)
    if time_match is None:
        raise InvalidInput(f"{columns['time']} {time_text!r} is not a time like 13:05:00")
    hh, mm, ss = (int(part) for part in time_match.groups())
    try:
        local = datetime(year, month, day, hh, mm, ss)  # noqa: DTZ001 - localized just below
    except ValueError as exc:
        raise InvalidInput(f"{date_text} {time_text} is not a valid date-time: {exc}") from exc
    zone = _zone(row[columns["zone"]])
    return _localize(local, zone, f"{date_text} {time_text}")


def parse_paypal_activity(content: bytes) -> ParsedFile:
    """Parse a PayPal "Activity download" CSV (English header)."""
    return _parse_rows(
        content,
        (*_ACTIVITY.values(), "status"),
        _paypal_reader(_ACTIVITY, "en", None),
        "PayPal activity",
    )


def parse_paypal_statement(content: bytes) -> ParsedFile:
    """Parse a PayPal "Statements" CSV, English or Spanish header."""
    header = _header_of(content) or []
    if all(name in header for name in _STATEMENT_ES.values()):
        return _parse_rows(
            content,
            tuple(_STATEMENT_ES.values()),
            _paypal_reader(_STATEMENT_ES, "es", "dmy"),
            "PayPal statement",
        )
    return _parse_rows(
        content,
        tuple(_STATEMENT_EN.values()),
        _paypal_reader(_STATEMENT_EN, "en", None),
        "PayPal statement",
    )


def looks_like_paypal_activity(content: bytes) -> bool:
    """True when the header is a PayPal activity download's (Type and Status, TimeZone)."""
    header = _header_of(content)
    required = (*_ACTIVITY.values(), "status")
    return header is not None and all(name in header for name in required)


def looks_like_paypal_statement(content: bytes) -> bool:
    """True when the header is a PayPal statement's, in English or Spanish."""
    header = _header_of(content)
    if header is None:
        return False
    return any(
        all(name in header for name in columns.values())
        for columns in (_STATEMENT_EN, _STATEMENT_ES)
    )


# Stripe ---------------------------------------------------------------------

STRIPE_TYPES = {
    "charge": "charge",
    "payment": "charge",
    "refund": "refund",
    "payment_refund": "refund",
    "dispute": "reversal",
    "dispute_reversal": "reversal",
    "payout_reversal": "reversal",
    "charge_failure": "reversal",
    "refund_failure": "reversal",
    "payout": "payout",
    "transfer": "payout",
    "fee": "fee",
    "stripe_fee": "fee",
    "network_cost": "fee",
    "tax": "fee",
    "adjustment": "adjustment",
    "other_adjustment": "adjustment",
    "topup": "adjustment",
    "contribution": "adjustment",
}
_STRIPE_ITEMIZED = {
    "id": "balance_transaction_id",
    "created": "created_utc",
    "type": "reporting_category",
    "gross": "gross",
}
_STRIPE_HISTORY = {"id": "id", "created": "created (utc)", "type": "type", "gross": "amount"}
_STRIPE_COMMON = ("currency", "fee", "net")


def _stripe_columns(header: list[str]) -> dict[str, str] | None:
    for columns in (_STRIPE_ITEMIZED, _STRIPE_HISTORY):
        if all(name in header for name in (*columns.values(), *_STRIPE_COMMON)):
            return columns
    return None


def _stripe_reader(
    header: list[str], rows: list[_Row]
) -> Callable[[dict[str, str], int, str], ParsedRecord]:
    columns = _stripe_columns(header)
    if columns is None:  # pragma: no cover - checked by parse_stripe_balance
        raise UnreadableFile("not a Stripe balance header")

    def read(row: dict[str, str], line: int, raw: str) -> ParsedRecord:
        kind = row[columns["type"]].strip()
        record_type = STRIPE_TYPES.get(kind.lower())
        if record_type is None:
            raise InvalidInput(f"Stripe category {kind!r} is not mapped to a record type")
        currency = read_currency(row["currency"], "currency")
        gross = read_major_amount(row[columns["gross"]], currency, columns["gross"])
        fee_text = row["fee"].strip()
        fee = read_major_amount(fee_text, currency, "fee") if fee_text else None
        net_text = row["net"].strip()
        if net_text:
            net = read_major_amount(net_text, currency, "net")
            if gross - (fee or 0) != net:
                raise InvalidInput(f"gross minus fee is not net {net_text}")
        booked_at = _iso_time(row[columns["created"]], UTC, columns["created"])
        transaction_id = row[columns["id"]].strip()
        source = _optional(row, "source_id", "source")
        return ParsedRecord(
            provider_reference=source or transaction_id,
            type=record_type,
            amount_minor=gross,
            fee_minor=fee,
            currency=currency,
            booked_at=booked_at,
            description=_optional(row, "description") or None,
            row_id=transaction_id or None,
            line=line,
            raw=raw,
            group_key=_optional(row, "automatic_payout_id", "payout_id", "transfer") or None,
            counterparty=_optional(row, "customer_name", "customer_email") or None,
        )

    return read


def parse_stripe_balance(content: bytes) -> ParsedFile:
    """Parse a Stripe balance CSV (itemized balance change report or balance history)."""
    header = _header_of(content) or []
    columns = _stripe_columns(header) or _STRIPE_ITEMIZED
    return _parse_rows(
        content, (*columns.values(), *_STRIPE_COMMON), _stripe_reader, "Stripe balance"
    )


def looks_like_stripe_balance(content: bytes) -> bool:
    """True when the header is a Stripe balance report's (itemized or balance history)."""
    header = _header_of(content)
    return header is not None and _stripe_columns(header) is not None


SOURCE_ADYEN_SETTLEMENT = SourceFormat(
    name="adyen_settlement_details",
    description="Adyen Settlement Details Report (CSV, columns by name)",
    sniff=looks_like_adyen_settlement,
    parse=parse_adyen_settlement,
)
SOURCE_PAYPAL_ACTIVITY = SourceFormat(
    name="paypal_activity",
    description="PayPal Activity download (CSV)",
    sniff=looks_like_paypal_activity,
    parse=parse_paypal_activity,
)
SOURCE_PAYPAL_STATEMENT = SourceFormat(
    name="paypal_statement",
    description="PayPal Statements CSV (English or Spanish headers, decimal commas)",
    sniff=looks_like_paypal_statement,
    parse=parse_paypal_statement,
)
SOURCE_STRIPE_BALANCE = SourceFormat(
    name="stripe_balance",
    description="Stripe balance change from activity / balance history (CSV)",
    sniff=looks_like_stripe_balance,
    parse=parse_stripe_balance,
)
