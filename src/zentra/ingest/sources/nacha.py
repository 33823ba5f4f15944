"""NACHA ACH files: returns, dishonoured/contested returns and notifications of change.

A NACHA file is fixed-width text: 94-character records, one per line, told apart by their first
character::

    1  file header           5  batch header (SEC code, effective entry date)
    6  entry detail          7  addenda (98 = notification of change, 99 = return)
    8  batch control         9  file control (and the ``9999...`` block padding)

Each entry detail (``6``) becomes one record; its addenda lines are read with it:

=========================  =====================================================================
``provider_reference``      the entry's trace number (positions 80-94)
``row_id``                  the same trace number
``type``                    ``reversal`` for a return (addenda ``99``: R01..R85, dishonoured
                            R61-R69, contested R70-R77), ``adjustment`` for a notification of
                            change (addenda ``98``, C01..C14: no money moves), otherwise
                            ``charge`` for a forward debit and ``payout`` for a forward credit
``amount_minor``            the 10-digit amount in cents (USD), signed from the originator's
                            side: a forward debit (codes 27/28/37/38) brings money in (+), a
                            forward credit (22/23/32/33) sends it out (-); a return reverses the
                            entry's direction: the return of a debit (26/27/.. with a 99
                            addenda) is negative, the return of a credit (21/22/..) positive
``currency``                ``USD`` (ACH settles in US dollars; IAT entries too)
``booked_at``               the batch's effective entry date (YYMMDD) at midnight UTC, or None
                            when the batch header leaves it blank or invalid
``description``             ``"R01 Insufficient Funds"`` / ``"C01 Incorrect DFI Account
                            Number"``, then the original trace number, the original RDFI and
                            the addenda information or corrected data (see below)
``group_key``               ``<company id>/<batch number>`` from the batch header
``counterparty``            the individual or receiving company name of the entry
``line`` / ``raw``          the entry's line, and the entry plus its addenda lines
=========================  =====================================================================

Structured return fields (reason code, original entry trace number, original RDFI, date of
death, addenda information; for a NOC the change code and the corrected data) are decoded by
:func:`read_return_addenda` / :func:`read_change_addenda` and kept as the record's ``details``
(:func:`return_details`, :func:`change_details`), e.g. ``{"addenda_type": "99",
"return_reason_code": "R01", "return_reason": "Insufficient Funds", "original_trace": ...}``;
they are also written into ``description`` as ``key=value`` pairs for readers of the text. A
contested return carries all of its ``99`` addenda, the last code being the current state.

Peculiarities handled on purpose: CRLF line endings; records shorter than 94 characters (a
truncated header or control record is read padded with blanks, an entry or addenda that is too
short is rejected); ``9999...`` block padding; a batch fragment without file header/control;
IAT entries (the entry detail carries the number of addenda and the account number in other
positions, seven mandatory IAT addenda ``710``-``716`` precede a return ``799``; the
counterparty is the receiver name of addenda ``710``). Each batch's control record is checked
against its entries (entry/addenda count, total debit and credit): a batch whose totals disagree
has every entry rejected, since its amounts cannot be trusted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from zentra.ingest.sources.base import ParsedFile, ParsedRecord, RejectedRow, SourceFormat
from zentra.kit.errors import UnreadableFile

NAME = "nacha"
RECORD_LENGTH = 94
CURRENCY = "USD"

CREDIT_CODES = frozenset({"21", "22", "23", "24", "31", "32", "33", "34", "41", "42", "43", "44"})
DEBIT_CODES = frozenset({"26", "27", "28", "29", "36", "37", "38", "39", "46", "47", "48", "49"})
RETURN_CODES = frozenset({"21", "26", "31", "36", "41", "46"})
"""Transaction codes of automated returns and NOCs (the entry code of the returned entry's kind)."""

RETURN_REASONS: dict[str, str] = {
    "R01": "Insufficient Funds",
    "R02": "Account Closed",
    "R03": "No Account/Unable to Locate Account",
    "R04": "Invalid Account Number Structure",
    "R05": "Unauthorized Debit to Consumer Account Using Corporate SEC Code",
    "R06": "Returned per ODFI's Request",
    "R07": "Authorization Revoked by Customer",
    "R08": "Payment Stopped",
    "R09": "Uncollected Funds",
    "R10": "Customer Advises Originator is Not Known to Receiver and/or Not Authorized",
    "R11": "Customer Advises Entry Not in Accordance with the Terms of the Authorization",
    "R12": "Account Sold to Another DFI",
    "R13": "Invalid ACH Routing Number",
    "R14": "Representative Payee Deceased or Unable to Continue in That Capacity",
    "R15": "Beneficiary or Account Holder (Other Than a Representative Payee) Deceased",
    "R16": "Account Frozen/Entry Returned per OFAC Instruction",
    "R17": "File Record Edit Criteria",
    "R18": "Improper Effective Entry Date",
    "R19": "Amount Field Error",
    "R20": "Non-Transaction Account",
    "R21": "Invalid Company Identification",
    "R22": "Invalid Individual ID Number",
    "R23": "Credit Entry Refused by Receiver",
    "R24": "Duplicate Entry",
    "R25": "Addenda Error",
    "R26": "Mandatory Field Error",
    "R27": "Trace Number Error",
    "R28": "Routing Number Check Digit Error",
    "R29": "Corporate Customer Advises Not Authorized",
    "R30": "RDFI Not Participant in Check Truncation Program",
    "R31": "Permissible Return Entry (CCD and CTX only)",
    "R32": "RDFI Non-Settlement",
    "R33": "Return of XCK Entry",
    "R34": "Limited Participation DFI",
    "R35": "Return of Improper Debit Entry",
    "R36": "Return of Improper Credit Entry",
    "R37": "Source Document Presented for Payment",
    "R38": "Stop Payment on Source Document",
    "R39": "Improper Source Document/Source Document Presented for Payment",
    "R40": "Return of ENR Entry by Federal Government Agency",
    "R41": "Invalid Transaction Code",
    "R42": "Routing Number/Check Digit Error",
    "R43": "Invalid DFI Account Number",
    "R44": "Invalid Individual ID Number/Identification Number",
    "R45": "Invalid Individual Name/Company Name",
    "R46": "Invalid Representative Payee Indicator",
    "R47": "Duplicate Enrollment",
    "R50": "State Law Affecting RCK Acceptance",
    "R51": "Item Related to RCK Entry is Ineligible or RCK Entry is Improper",
    "R52": "Stop Payment on Item Related to RCK Entry",
    "R53": "Item and RCK Entry Presented for Payment",
    "R61": "Misrouted Return",
    "R62": "Return of Erroneous or Reversing Debit",
    "R67": "Duplicate Return",
    "R68": "Untimely Return",
    "R69": "Field Error(s)",
    "R70": "Permissible Return Entry Not Accepted/Return Not Requested by ODFI",
    "R71": "Misrouted Dishonored Return",
    "R72": "Untimely Dishonored Return",
    "R73": "Timely Original Return",
    "R74": "Corrected Return",
    "R75": "Return Not a Duplicate",
    "R76": "No Errors Found",
    "R77": "Non-Acceptance of R62 Dishonored Return",
    "R80": "IAT Entry Coding Error",
    "R81": "Non-Participant in IAT Program",
    "R82": "Invalid Foreign Receiving DFI Identification",
    "R83": "Foreign Receiving DFI Unable to Settle",
    "R84": "Entry Not Processed by Gateway",
    "R85": "Incorrectly Coded Outbound International Payment",
}
"""NACHA return reason codes (Operating Rules, Appendix Four)."""

CHANGE_CODES: dict[str, str] = {
    "C01": "Incorrect DFI Account Number",
    "C02": "Incorrect Routing Number",
    "C03": "Incorrect Routing Number and Incorrect DFI Account Number",
    "C04": "Incorrect Individual Name/Receiving Company Name",
    "C05": "Incorrect Transaction Code",
    "C06": "Incorrect DFI Account Number and Incorrect Transaction Code",
    "C07": "Incorrect Routing Number, DFI Account Number and Transaction Code",
    "C08": "Incorrect Receiving DFI Identification (IAT only)",
    "C09": "Incorrect Individual Identification Number",
    "C10": "Incorrect Company Name",
    "C11": "Incorrect Company Identification",
    "C12": "Incorrect Company Name and Company Identification",
    "C13": "Addenda Format Error",
    "C14": "Incorrect SEC Code for Outbound International Payment",
}
"""NACHA notification-of-change codes (Operating Rules, Appendix Five)."""

_DIGITS = re.compile(r"[0-9]+")
_IAT_ADDENDA = frozenset({"10", "11", "12", "13", "14", "15", "16", "17", "18"})


@dataclass(frozen=True, slots=True)
class ReturnAddenda:
    """A return addenda (``799``): its reason code, the original entry's trace number and RDFI,
    and the layout's other fields as ``(name, value)`` pairs (blank ones left out)."""

    reason_code: str
    original_trace: str
    original_rdfi: str
    fields: tuple[tuple[str, str], ...]


# Positions (0-based, end exclusive) of the other fields of each 799 layout.
_RETURN_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("date_of_death", 21, 27),
    ("information", 35, 79),
)
_DISHONORED_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("return_trace", 38, 53),
    ("return_settlement_date", 53, 56),
    ("return_reason_code", 56, 58),
    ("information", 58, 79),
)
_CONTESTED_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("date_original_entry_returned", 21, 27),
    ("original_settlement_date", 35, 38),
    ("return_trace", 38, 53),
    ("return_settlement_date", 53, 56),
    ("return_reason_code", 56, 58),
    ("dishonored_return_trace", 58, 73),
    ("dishonored_return_settlement_date", 73, 76),
    ("dishonored_return_reason_code", 76, 78),
)
_DISHONORED = frozenset({"R61", "R62", "R67", "R68", "R69"})
_CONTESTED = frozenset({"R70", "R71", "R72", "R73", "R74", "R75", "R76", "R77"})


@dataclass(frozen=True, slots=True)
class ChangeAddenda:
    """The fields of a notification-of-change addenda (``798``)."""

    change_code: str
    original_trace: str
    original_rdfi: str
    corrected_data: str


def read_return_addenda(record: str) -> ReturnAddenda:
    """Decode a ``799`` addenda (94 characters) in the layout its reason code implies: a plain
    return, a dishonoured return (R61-R69) or a contested dishonoured return (R70-R77)."""
    code = record[3:6]
    layout = _RETURN_FIELDS
    if code in _DISHONORED:
        layout = _DISHONORED_FIELDS
    elif code in _CONTESTED:
        layout = _CONTESTED_FIELDS
    fields = tuple(
        (name, record[start:end].strip())
        for name, start, end in layout
        if record[start:end].strip()
    )
    return ReturnAddenda(code, record[6:21].strip(), record[27:35].strip(), fields)


def read_change_addenda(record: str) -> ChangeAddenda:
    """Decode a ``798`` addenda (94 characters): change code, original trace, corrected data."""
    return ChangeAddenda(
        change_code=record[3:6],
        original_trace=record[6:21].strip(),
        original_rdfi=record[27:35].strip(),
        corrected_data=record[35:64].strip(),
    )


def describe_reason(code: str) -> str:
    """``"R01 Insufficient Funds"``; a code outside the NACHA tables says so."""
    name = RETURN_REASONS.get(code) or CHANGE_CODES.get(code)
    if name is None:
        return f"{code} (not a standard NACHA code)"
    return f"{code} {name}"


def _return_fields(ret: ReturnAddenda) -> dict[str, Any]:
    found: dict[str, Any] = {
        "return_reason_code": ret.reason_code,
        "return_reason": RETURN_REASONS.get(ret.reason_code),
        "original_trace": ret.original_trace,
        "original_rdfi": ret.original_rdfi,
    }
    if ret.fields:
        # Kept apart: a dishonoured return's own ``return_reason_code`` is the two digits of
        # the return it dishonours, not this addenda's code.
        found["addenda_fields"] = dict(ret.fields)
    return found


def return_details(returns: list[ReturnAddenda]) -> dict[str, Any]:
    """The structured ``details`` of a returned entry: addenda type ``99``, the reason code and
    name of the last return addenda (where the return stands now) with its original trace and
    RDFI, and the layout's other fields under ``addenda_fields``; a dishonoured or contested
    return also lists every addenda in order under ``returns``."""
    found: dict[str, Any] = {"addenda_type": "99", **_return_fields(returns[-1])}
    if len(returns) > 1:
        found["returns"] = [_return_fields(ret) for ret in returns]
    return found


def change_details(changes: list[ChangeAddenda]) -> dict[str, Any]:
    """The structured ``details`` of a notification of change: addenda type ``98``, the change
    code and name, the original trace and RDFI, and the corrected data (of the last addenda)."""
    change = changes[-1]
    return {
        "addenda_type": "98",
        "change_code": change.change_code,
        "change_reason": CHANGE_CODES.get(change.change_code),
        "original_trace": change.original_trace,
        "original_rdfi": change.original_rdfi,
        "corrected_data": change.corrected_data,
    }


class _Invalid(Exception):
    """A problem with one entry: becomes a rejected row."""


@dataclass(slots=True)
class _Batch:
    line: int
    sec: str
    company_id: str
    batch_number: str
    effective: datetime | None
    destination_currency: str
    entries: list[_Entry] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    record_count: int = 0


@dataclass(slots=True)
class _Entry:
    line: int
    text: str
    lines: list[str] = field(default_factory=list)
    addenda: list[tuple[int, str]] = field(default_factory=list)


def _pairs(pairs: list[tuple[str, str]]) -> str:
    return " ".join(f"{name}={value}" for name, value in pairs if value)


def _effective_date(text: str) -> datetime | None:
    if not _DIGITS.fullmatch(text) or len(text) != 6:
        return None
    try:
        return datetime(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]), tzinfo=UTC)
    except ValueError:
        return None


def _split_lines(content: bytes) -> list[str]:
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise UnreadableFile(
            f"a NACHA file is ASCII text: byte 0x{content[exc.start]:02x} at offset "
            f"{exc.start} (line {line}) is not"
        ) from exc
    return text.replace("\r\n", "\n").split("\n")


def _read_entry(entry: _Entry, batch: _Batch) -> ParsedRecord:
    text = entry.text
    if len(text) != RECORD_LENGTH:
        raise _Invalid(f"entry detail is {len(text)} characters long, not {RECORD_LENGTH}")
    code = text[1:3]
    if code not in CREDIT_CODES and code not in DEBIT_CODES:
        raise _Invalid(f"transaction code {code!r} is not an ACH credit or debit code")
    iat = batch.sec == "IAT"
    amount_text = text[29:39]
    if not _DIGITS.fullmatch(amount_text):
        raise _Invalid(f"amount {amount_text!r} is not 10 digits of cents")
    cents = int(amount_text)
    trace = text[79:94].strip()
    if not _DIGITS.fullmatch(trace):
        raise _Invalid(f"trace number {trace!r} is not numeric")
    counterparty = None if iat else text[54:76].strip() or None
    returns: list[ReturnAddenda] = []
    changes: list[ChangeAddenda] = []
    for line, addenda in entry.addenda:
        if len(addenda) != RECORD_LENGTH:
            raise _Invalid(
                f"addenda on line {line} is {len(addenda)} characters long, not {RECORD_LENGTH}"
            )
        kind = addenda[1:3]
        if kind == "99":
            returns.append(read_return_addenda(addenda))
        elif kind == "98":
            changes.append(read_change_addenda(addenda))
        elif iat and kind == "10":
            counterparty = addenda[46:81].strip() or counterparty
    if iat:
        expected = text[12:16]
        iat_addenda = sum(1 for _, a in entry.addenda if a[1:3] in _IAT_ADDENDA)
        if not _DIGITS.fullmatch(expected) or int(expected) != iat_addenda:
            raise _Invalid(
                f"IAT entry announces {expected!r} IAT addenda but {iat_addenda} follow it"
            )
        if batch.destination_currency != CURRENCY:
            raise _Invalid(
                f"IAT batch destination currency {batch.destination_currency!r} is not USD"
            )
    credit = code in CREDIT_CODES
    if returns and changes:
        raise _Invalid("entry carries both return (99) and change (98) addenda")
    details: list[str] = []
    structured: dict[str, Any] | None = None
    if returns:
        record_type = "reversal"
        # The return undoes the entry: a returned debit sends the money back out.
        amount = cents if credit else -cents
        for ret in returns:
            pairs = [("original_trace", ret.original_trace), ("original_rdfi", ret.original_rdfi)]
            pairs.extend(ret.fields)
            details.append(f"{describe_reason(ret.reason_code)} ({_pairs(pairs)})")
        # The last addenda states the current standing (R07 -> R68 -> R71: contested).
        structured = return_details(returns)
    elif changes:
        record_type = "adjustment"
        amount = -cents if credit else cents
        for change in changes:
            pairs = [
                ("original_trace", change.original_trace),
                ("original_rdfi", change.original_rdfi),
                ("corrected_data", change.corrected_data),
            ]
            details.append(f"{describe_reason(change.change_code)} ({_pairs(pairs)})")
        structured = change_details(changes)
    else:
        if code in RETURN_CODES:
            raise _Invalid(
                f"transaction code {code} is a return/NOC code but the entry has no 98/99 addenda"
            )
        record_type = "payout" if credit else "charge"
        amount = -cents if credit else cents
    # "R01 Insufficient Funds (original_trace=...)"; a contested return lists its addenda in
    # order after the code that states where it stands now (the last one).
    description = None
    if len(details) == 1:
        description = details[0]
    elif details:
        last = returns[-1].reason_code if returns else changes[-1].change_code
        description = f"{describe_reason(last)}: " + "; ".join(details)
    return ParsedRecord(
        provider_reference=trace,
        type=record_type,
        amount_minor=amount,
        fee_minor=None,
        currency=CURRENCY,
        booked_at=batch.effective,
        description=description,
        row_id=trace,
        line=entry.line,
        raw="\n".join(entry.lines),
        group_key=f"{batch.company_id}/{batch.batch_number}".strip("/") or None,
        counterparty=counterparty,
        details=structured,
    )


def _check_control(batch: _Batch, control: str, line: int, amounts: list[tuple[bool, int]]) -> str:
    """Why the batch control disagrees with the entries, or an empty string."""
    count_text, debit_text, credit_text = control[4:10], control[20:32], control[32:44]
    if not all(_DIGITS.fullmatch(t) for t in (count_text, debit_text, credit_text)):
        return f"batch control on line {line} has non-numeric totals"
    if int(count_text) != batch.record_count:
        return (
            f"batch control on line {line} counts {int(count_text)} entry/addenda records, "
            f"the batch has {batch.record_count}"
        )
    debit = sum(cents for credit, cents in amounts if not credit)
    credit = sum(cents for is_credit, cents in amounts if is_credit)
    if (int(debit_text), int(credit_text)) != (debit, credit):
        return (
            f"batch control on line {line} totals debits {int(debit_text)} and credits "
            f"{int(credit_text)} cents, the entries sum to {debit} and {credit}"
        )
    return ""


def parse_nacha(content: bytes) -> ParsedFile:
    """Parse a NACHA (ACH) file into one record per entry detail.

    Raises :class:`UnreadableFile` when the content is not ASCII or holds no batch at all; a
    bad entry (or every entry of a batch whose control totals disagree) is rejected with its line.
    """
    lines = _split_lines(content)
    parsed = ParsedFile()
    batch: _Batch | None = None
    entry: _Entry | None = None
    batches = 0
    for number, raw_line in enumerate(lines, start=1):
        text = raw_line
        if not text.strip():
            continue
        kind = text[0]
        if kind == "9" and set(text) == {"9"}:
            continue  # block padding
        if kind == "1":
            continue
        if kind == "5":
            if batch is not None:
                parsed.rejected.append(
                    RejectedRow(batch.line, "batch header without a batch control record")
                )
            padded = text.ljust(RECORD_LENGTH)
            batch = _Batch(
                line=number,
                sec=padded[50:53],
                company_id=padded[40:50].strip(),
                batch_number=padded[87:94].strip(),
                effective=_effective_date(padded[69:75]),
                destination_currency=padded[66:69],
            )
            entry = None
            batches += 1
            continue
        if kind in "678" and batch is None:
            parsed.rejected.append(RejectedRow(number, f"record type {kind} outside a batch"))
            continue
        if kind == "6":
            assert batch is not None
            entry = _Entry(line=number, text=text, lines=[text])
            batch.entries.append(entry)
            batch.record_count += 1
        elif kind == "7":
            assert batch is not None
            batch.record_count += 1
            if entry is None:
                parsed.rejected.append(RejectedRow(number, "addenda record without an entry"))
                continue
            entry.lines.append(text)
            entry.addenda.append((number, text))
        elif kind == "8":
            assert batch is not None
            _close_batch(batch, text.ljust(RECORD_LENGTH), number, parsed)
            batch, entry = None, None
        elif kind == "9":
            continue
        else:
            parsed.rejected.append(
                RejectedRow(number, f"record type {kind!r} is not a NACHA record (1, 5-9)")
            )
    if batch is not None:
        parsed.rejected.append(RejectedRow(batch.line, "batch has no batch control record"))
        _close_batch(batch, None, 0, parsed)
    if batches == 0:
        raise UnreadableFile(
            "not a NACHA file: no batch header record (a line starting with 5) was found"
        )
    return parsed


def _close_batch(batch: _Batch, control: str | None, line: int, parsed: ParsedFile) -> None:
    records: list[ParsedRecord] = []
    rejected: list[RejectedRow] = []
    amounts: list[tuple[bool, int]] = []
    for entry in batch.entries:
        try:
            record = _read_entry(entry, batch)
        except _Invalid as exc:
            rejected.append(RejectedRow(entry.line, str(exc)))
            text = entry.text
            if len(text) >= 39 and _DIGITS.fullmatch(text[29:39]):
                amounts.append((text[1:3] in CREDIT_CODES, int(text[29:39])))
            continue
        records.append(record)
        amounts.append((entry.text[1:3] in CREDIT_CODES, int(entry.text[29:39])))
    if control is not None:
        problem = _check_control(batch, control, line, amounts)
        if problem:
            rejected.extend(RejectedRow(record.line, problem) for record in records)
            records = []
    parsed.records.extend(records)
    parsed.rejected.extend(sorted(rejected))


def looks_like_nacha(content: bytes) -> bool:
    """True when the file starts with a NACHA file header (``101``) or batch header (``5``)
    of 94-character-ish records followed by an entry detail."""
    head = content[:2048].lstrip(b"\r\n")
    first, _, rest = head.partition(b"\n")
    first = first.rstrip(b"\r")
    if first.startswith(b"101") and 60 <= len(first) <= RECORD_LENGTH:
        return True
    if first[:1] == b"5" and len(first) == RECORD_LENGTH and first[1:4].isdigit():
        second = rest.partition(b"\n")[0].rstrip(b"\r")
        return second[:1] == b"6" and len(second) == RECORD_LENGTH
    return False


SOURCE_NACHA = SourceFormat(
    name=NAME,
    description="NACHA ACH file: returns (R codes), dishonoured/contested returns, NOC (C codes)",
    sniff=looks_like_nacha,
    parse=parse_nacha,
)
