"""ISO 20022 bank-to-customer cash reports: camt.053 (statement) and camt.054 (notification).

Both messages share one shape; only the message and report element names differ::

    Document
    └── BkToCstmrStmt (camt.053)  |  BkToCstmrDbtCdtNtfctn (camt.054)
        ├── GrpHdr                     message id, creation time
        └── Stmt  |  Ntfctn            one per account (a message may carry several)
            ├── Acct, Bal ...          account and balances: not records
            └── Ntry                   one booking on the account: Amt/@Ccy, CdtDbtInd, RvslInd,
                │                      Sts, BookgDt (Dt or DtTm), AcctSvcrRef, BkTxCd, Chrgs
                └── NtryDtls
                    ├── Btch           batch summary (PmtInfId, NbOfTxs, TtlAmt)
                    └── TxDtls         one underlying transaction: Refs, Amt or AmtDtls/TxAmt/Amt,
                                       CdtDbtInd, BkTxCd, Chrgs, RltdPties, RmtInf, AddtlTxInf

Versions camt.05x.001.02 to .001.08 are read alike: every element is matched by its *local name*
(each version has its own namespace), and the few shapes that moved are all accepted (``Sts`` or
``Sts/Cd``; a party's ``Nm`` or ``Pty/Nm``; charges as ``Chrgs/Amt`` or ``Chrgs/Rcrd/Amt``).

Records
-------
* One record per ``TxDtls``; an ``Ntry`` without ``TxDtls`` is one record by itself.
* **Amount.** An entry with at most one ``TxDtls`` is recorded with the entry's ``Amt``: that is
  what was booked on the account, in the account's currency (a lone detail's amount may be the
  instructed amount in another currency: camt053.v4/v8 give ``0`` SEK under an 8.85 EUR entry).
  A batch entry with several ``TxDtls`` is split: each detail is recorded with its own
  ``AmtDtls/TxAmt/Amt`` (else its ``Amt``); a detail without an amount of its own is *rejected*,
  since the entry amount cannot be divided among the details without guessing.
* **Exactness.** Amounts are read from the decimal text with the ISO 4217 exponent and never
  rounded. Zeros beyond the exponent are accepted (``18.150`` EUR is 1815), any other digit there
  rejects the record (``18.155`` EUR). A signed amount text is rejected: the sign is the
  ``CdtDbtInd``'s (``CRDT`` positive, ``DBIT`` negative; a detail's own indicator wins inside a
  batch, since a netted batch may mix credits and debits).
* **Charges** (``Chrgs/Rcrd/Amt``, or ``Chrgs/Amt`` in .001.02) in the record's currency are
  summed into ``fee_minor``: positive when charged, negative for a charge refunded (``CRDT``). A
  detail's charges belong to it; an entry's charges belong to the entry's record when the entry
  has at most one detail (a lone detail's own charges, when given, take precedence as they
  describe the same booking). Entry-level charges of a multi-detail batch belong to no single
  detail and are not assigned. Charges in another currency are not added to ``fee_minor``.
* **Status.** Booked entries (``BOOK``, or no status) are records; a ``PDNG``, ``INFO`` or other
  status entry is rejected with its status: it is not (yet) a movement on the account.
* **booked_at** is ``BookgDt/DtTm`` (converted to UTC; no offset means UTC; fractions beyond
  microseconds, e.g. nanoseconds, are cut) or ``BookgDt/Dt`` (midnight UTC); None when the entry
  has no booking date.
* **provider_reference**, the first present of: ``Refs/EndToEndId`` (unless ``NOTPROVIDED``),
  ``Refs/TxId``, ``Refs/AcctSvcrRef``, the entry's ``NtryRef``,
  ``RmtInf/Strd/CdtrRefInf/Ref``, then ``Refs/UETR``, ``Refs/InstrId``, ``Refs/ClrSysRef`` and the
  entry's ``AcctSvcrRef``; empty when none is given.
* **description**: ``RmtInf/Ustrd`` (several joined by a space), else
  ``RmtInf/Strd/AddtlRmtInf``, else ``AddtlTxInf``, else the entry's ``AddtlNtryInf``.
  **counterparty**: the debtor's name for a credit, the creditor's for a debit (the ultimate
  party when the direct one has no name).
* **row_id**: the entry's ``AcctSvcrRef``, plus ``/n`` (1-based detail index) for a detail; None
  when the entry has no ``AcctSvcrRef``. **group_key**: for a batch entry with several details,
  its ``Btch/PmtInfId``, else the entry's ``AcctSvcrRef``, else its ``NtryRef``.
* **line** is the 1-based line where the ``TxDtls`` (or ``Ntry``) element starts; **raw** is
  that element's XML.

Type mapping (``BkTxCd/Domn``: domain ``Cd``, family ``Fmly/Cd``, sub-family ``SubFmlyCd``; a
detail's own ``BkTxCd`` wins over the entry's), first rule that applies:

=============  ==============================================================================
``reversal``   ``RvslInd`` true, or sub-family ``RRTN``, ``UPDD``, ``RPCR``, ``PRDD`` (ISO's
               "reversal due to return / unpaid / cancellation / payment reversal")
``fee``        sub-family ``CHRG``, ``FEES``, ``COMM``, ``COMI``, ``COMT``, ``TAXE``; or a
               charges-only entry (its charges add up to its whole amount)
``adjustment`` sub-family ``ADJT`` or ``INTR`` (corrections and interest), or domain ``ACMT``
               (account management: not a payment)
``charge``     any other credit
``payout``     any other debit (issued transfers, direct debits collected from the account, card
               and cheque debits; a non-standard code such as ``PAYM/0001/0005`` too)
=============  ==============================================================================

Balances are not records and are not checked here (camt053.v4 has four balances in four
currencies): reconciling balances is the engine's business, not the parser's.

A file that is not XML, declares a DTD or entities, is not this message, or has no ``Stmt``
(``Ntfctn``) raises :class:`~zentra.kit.errors.UnreadableFile`. A statement with no entries
yields no records.

Untrusted XML is vetted with :mod:`defusedxml` (no DTD, entities or external references) before
:mod:`lxml` reads it again, hardened, for the line numbers ``defusedxml`` cannot give.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError as XmlParseError
from defusedxml.ElementTree import fromstring as vet_xml
from lxml import etree  # type: ignore[import-untyped]

from zentra.ingest.sources.base import (
    ParsedFile,
    ParsedRecord,
    RejectedRow,
    SourceFormat,
    cyclic_gc_paused,
)
from zentra.ingest.values import read_currency, read_major_amount, read_timestamp
from zentra.kit.errors import InvalidInput, UnreadableFile

REFERENCE_MAX = 200
ROW_ID_MAX = 200
GROUP_KEY_MAX = 200
COUNTERPARTY_MAX = 500

_SNIFF_BYTES = 65536
_NAMESPACE = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:camt\.(05[34])\.001\.([0-9]{2})")
_SUPPORTED_VERSIONS = frozenset(f"{n:02d}".encode() for n in range(2, 9))
_FRACTION = re.compile(r"(\.[0-9]{6})[0-9]+")

_REVERSAL_SUBFAMILIES = frozenset({"RRTN", "UPDD", "RPCR", "PRDD"})
_FEE_SUBFAMILIES = frozenset({"CHRG", "FEES", "COMM", "COMI", "COMT", "TAXE"})
_ADJUSTMENT_SUBFAMILIES = frozenset({"ADJT", "INTR"})
_ADJUSTMENT_DOMAINS = frozenset({"ACMT"})
_BOOKED_STATUSES = frozenset({"BOOK"})
_NOT_PROVIDED = "NOTPROVIDED"

Element = Any
"""An lxml element (lxml ships no type information)."""


class _Message:
    """What distinguishes camt.053 from camt.054: the element names of message and report."""

    __slots__ = ("format_name", "message", "number", "report", "report_label")

    def __init__(
        self, format_name: str, number: bytes, message: str, report: str, report_label: str
    ) -> None:
        self.format_name = format_name
        self.number = number
        self.message = message
        self.report = report
        self.report_label = report_label


CAMT053 = _Message("camt.053", b"053", "BkToCstmrStmt", "Stmt", "statement")
CAMT054 = _Message("camt.054", b"054", "BkToCstmrDbtCdtNtfctn", "Ntfctn", "notification")
_MESSAGES = (CAMT053, CAMT054)


# --- sniffing -----------------------------------------------------------------------------------


def _sniff_text(content: bytes) -> bytes:
    head = content[:_SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return head.decode("utf-16").encode("utf-8", "replace")
        except UnicodeDecodeError:
            return b""
    return head


def _looks_like(content: bytes, message: _Message) -> bool:
    """True when the content is XML whose message element is ``message``'s, in a supported
    version (.001.02 to .001.08) when a camt namespace is declared."""
    head = _sniff_text(content).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<"):
        return False
    if re.search(rb"<(?:[A-Za-z_][\w.-]*:)?" + message.message.encode() + rb"[\s>/]", head) is None:
        return False
    declared = _NAMESPACE.findall(head)
    return all(number == message.number and v in _SUPPORTED_VERSIONS for number, v in declared)


def looks_like_camt053(content: bytes) -> bool:
    """True when the content is a camt.053 bank-to-customer statement (never raises)."""
    return _looks_like(content, CAMT053)


def looks_like_camt054(content: bytes) -> bool:
    """True when the content is a camt.054 debit/credit notification (never raises)."""
    return _looks_like(content, CAMT054)


# --- XML access by local name -------------------------------------------------------------------


def _local(element: Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> Iterator[Element]:
    for child in element:
        if _local(child) == name:
            yield child


def _child(element: Element | None, path: str) -> Element | None:
    """The first element at ``path`` (local names separated by ``/``) below ``element``."""
    current = element
    for name in path.split("/"):
        if current is None:
            return None
        current = next(_children(current, name), None)
    return current


def _all(element: Element | None, path: str) -> list[Element]:
    """Every element at ``path`` below ``element`` (each step may repeat)."""
    found = [element] if element is not None else []
    for name in path.split("/"):
        found = [child for parent in found for child in _children(parent, name)]
    return found


def _text(element: Element | None, path: str | None = None) -> str | None:
    """The stripped text at ``path`` (or of ``element``); None when absent or blank."""
    target = _child(element, path) if path is not None else element
    if target is None:
        return None
    text = target.text
    if not isinstance(text, str):
        return None
    return text.strip() or None


def _source_line(element: Element) -> int:
    line = element.sourceline
    return line if isinstance(line, int) and line > 0 else 0


# --- reading a document -------------------------------------------------------------------------


def _read_tree(content: bytes, message: _Message) -> Element:
    """Vet the bytes with defusedxml, then parse them with a hardened lxml parser."""
    if not content.strip():
        raise UnreadableFile(f"the file is empty, not a {message.format_name} XML document")
    try:
        vet_xml(content, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise UnreadableFile(
            f"the XML declares a DTD, entities or external references ({type(exc).__name__}), "
            f"which a {message.format_name} document never needs; refused for safety"
        ) from exc
    except (XmlParseError, ValueError, LookupError) as exc:
        raise UnreadableFile(
            f"the file is not well-formed XML ({exc}), so it cannot be a {message.format_name} "
            "document"
        ) from exc
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        return etree.fromstring(content, parser)
    except (etree.LxmlError, ValueError, LookupError) as exc:
        raise UnreadableFile(f"the file is not well-formed XML ({exc})") from exc


def _reports(root: Element, message: _Message) -> list[Element]:
    """The ``Stmt`` (``Ntfctn``) elements of the message, or UnreadableFile saying why none."""
    body = root if _local(root) == message.message else _child(root, message.message)
    if body is None:
        other = next(
            (m for m in _MESSAGES if m is not message and _child(root, m.message) is not None),
            None,
        )
        if other is not None or _local(root) in {m.message for m in _MESSAGES}:
            other = other or next(m for m in _MESSAGES if m.message == _local(root))
            raise UnreadableFile(
                f"this is a {other.format_name} message ({other.message}), "
                f"not {message.format_name}"
            )
        raise UnreadableFile(
            f"the XML root <{_local(root)}> holds no {message.message} element: not a "
            f"{message.format_name} document"
        )
    reports = list(_children(body, message.report))
    if not reports:
        raise UnreadableFile(
            f"the {message.format_name} message has no {message.report} ({message.report_label}) "
            f"element: nothing to read (a {message.report_label} with no entries is fine, a "
            "message without any is not)"
        )
    return reports


# --- values -------------------------------------------------------------------------------------


def _amount(element: Element | None, field: str) -> tuple[int, str]:
    """An ``Amt Ccy="..."`` element as (non-negative minor units, currency)."""
    if element is None:
        raise InvalidInput(f"{field} is missing")
    currency_text = element.get("Ccy")
    if not isinstance(currency_text, str) or not currency_text.strip():
        raise InvalidInput(f"{field} has no Ccy (currency) attribute")
    currency = read_currency(currency_text, f"{field} currency")
    text = _text(element)
    if text is None:
        raise InvalidInput(f"{field} is empty")
    if text[0] in "+-":
        raise InvalidInput(
            f"{field} {text!r} is signed; camt amounts are unsigned and CdtDbtInd gives the sign"
        )
    return read_major_amount(text, currency, field), currency


def _sign(indicator: str | None, field: str) -> int:
    if indicator == "CRDT":
        return 1
    if indicator == "DBIT":
        return -1
    if indicator is None:
        raise InvalidInput(f"{field} (CRDT or DBIT) is missing")
    raise InvalidInput(f"{field} {indicator!r} is neither CRDT nor DBIT")


def _booked_at(entry: Element) -> datetime | None:
    booking = _child(entry, "BookgDt")
    if booking is None:
        return None
    stamp = _text(booking, "DtTm")
    if stamp is not None:
        try:
            return read_timestamp(_FRACTION.sub(r"\1", stamp), "BookgDt/DtTm")
        except OverflowError as exc:  # year 1 or 9999 pushed out of range by its offset
            raise InvalidInput(f"BookgDt/DtTm {stamp!r} is out of range in UTC") from exc
    day = _text(booking, "Dt")
    if day is not None:
        return read_timestamp(day, "BookgDt/Dt")
    raise InvalidInput("BookgDt has neither Dt nor DtTm")


def _charges(holder: Element | None, currency: str) -> int | None:
    """The charges of ``holder`` (an Ntry or TxDtls) in ``currency``, signed as a cost."""
    total: int | None = None
    for charges in _all(holder, "Chrgs"):
        records = list(_children(charges, "Rcrd")) or [charges]
        for record in records:
            amount_element = _child(record, "Amt")
            if amount_element is None:
                amount_element = _child(record, "TtlChrgsAndTaxAmt")
            if amount_element is None:
                continue
            amount, charge_currency = _amount(amount_element, "Chrgs amount")
            if charge_currency != currency:
                continue
            sign = -1 if _text(record, "CdtDbtInd") == "CRDT" else 1
            total = (total or 0) + sign * amount
    return total


def _codes(holder: Element | None) -> tuple[str | None, str | None, str | None]:
    """(domain, family, sub-family) of the holder's ``BkTxCd/Domn``."""
    domain = _child(holder, "BkTxCd/Domn")
    return _text(domain, "Cd"), _text(domain, "Fmly/Cd"), _text(domain, "Fmly/SubFmlyCd")


def _record_type(
    *,
    reversal: bool,
    codes: tuple[str | None, str | None, str | None],
    amount: int,
    fee: int | None,
) -> str:
    domain, _family, subfamily = codes
    if reversal or subfamily in _REVERSAL_SUBFAMILIES:
        return "reversal"
    if subfamily in _FEE_SUBFAMILIES or (fee is not None and fee != 0 and abs(fee) == abs(amount)):
        return "fee"
    if subfamily in _ADJUSTMENT_SUBFAMILIES or domain in _ADJUSTMENT_DOMAINS:
        return "adjustment"
    return "charge" if amount > 0 else "payout"


def _reference(detail: Element | None, entry: Element) -> str:
    refs = _child(detail, "Refs")
    candidates = (
        _text(refs, "EndToEndId"),
        _text(refs, "TxId"),
        _text(refs, "AcctSvcrRef"),
        _text(entry, "NtryRef"),
        _text(detail, "RmtInf/Strd/CdtrRefInf/Ref"),
        _text(refs, "UETR"),
        _text(refs, "InstrId"),
        _text(refs, "ClrSysRef"),
        _text(entry, "AcctSvcrRef"),
    )
    for candidate in candidates:
        if candidate is not None and candidate.upper() != _NOT_PROVIDED:
            if len(candidate) > REFERENCE_MAX:
                raise InvalidInput(
                    f"reference {candidate[:40]!r}... is longer than {REFERENCE_MAX} characters"
                )
            return candidate
    return ""


def _description(detail: Element | None, entry: Element) -> str | None:
    unstructured = [t for t in (_text(e) for e in _all(detail, "RmtInf/Ustrd")) if t]
    if unstructured:
        return " ".join(unstructured)
    return (
        _text(detail, "RmtInf/Strd/AddtlRmtInf")
        or _text(detail, "AddtlTxInf")
        or _text(entry, "AddtlNtryInf")
    )


def _party_name(parties: Element | None, role: str) -> str | None:
    for name in (role, f"Ultmt{role}"):
        party = _child(parties, name)
        found = _text(party, "Nm") or _text(party, "Pty/Nm")
        if found is not None:
            return found
    return None


def _counterparty(detail: Element | None, amount: int) -> str | None:
    name = _party_name(_child(detail, "RltdPties"), "Dbtr" if amount > 0 else "Cdtr")
    if name is not None and len(name) > COUNTERPARTY_MAX:
        raise InvalidInput(f"counterparty name is longer than {COUNTERPARTY_MAX} characters")
    return name


def _limited(value: str | None, field: str, limit: int) -> str | None:
    if value is not None and len(value) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters")
    return value


def _raw(element: Element) -> str:
    return str(etree.tostring(element, encoding="unicode", with_tail=False))


# --- entries ------------------------------------------------------------------------------------


class _Entry:
    """The entry-level facts each of an entry's records shares."""

    __slots__ = (
        "amount",
        "booked_at",
        "codes",
        "currency",
        "details",
        "element",
        "group_key",
        "reversal",
        "row_id",
        "sign",
    )

    def __init__(self, element: Element) -> None:
        self.element = element
        status = _text(element, "Sts") or _text(element, "Sts/Cd")
        if status is not None and status not in _BOOKED_STATUSES:
            raise InvalidInput(
                f"entry status {status!r} is not booked (BOOK): not a movement on the account yet"
            )
        self.amount, self.currency = _amount(_child(element, "Amt"), "Ntry/Amt")
        self.sign = _sign(_text(element, "CdtDbtInd"), "Ntry/CdtDbtInd")
        self.reversal = (_text(element, "RvslInd") or "").lower() in {"true", "1"}
        self.booked_at = _booked_at(element)
        self.codes = _codes(element)
        self.details = _all(element, "NtryDtls/TxDtls")
        servicer_reference = _text(element, "AcctSvcrRef")
        self.row_id = servicer_reference
        self.group_key: str | None = None
        if len(self.details) > 1:
            self.group_key = _limited(
                _text(element, "NtryDtls/Btch/PmtInfId")
                or servicer_reference
                or _text(element, "NtryRef"),
                "group key",
                GROUP_KEY_MAX,
            )

    def record(self, detail: Element | None, index: int) -> ParsedRecord:
        """The record of ``detail`` (the ``index``-th, 1-based), or of the entry when None."""
        element = self.element if detail is None else detail
        if len(self.details) > 1:
            # lxml elements without children are falsy: compare with None, never use ``or``.
            amount_element = _child(detail, "AmtDtls/TxAmt/Amt")
            if amount_element is None:
                amount_element = _child(detail, "Amt")
            if amount_element is None:
                raise InvalidInput(
                    f"transaction detail {index} of a batch entry with {len(self.details)} "
                    "details has no amount of its own (AmtDtls/TxAmt/Amt or Amt); the entry "
                    "amount cannot be split among the details without guessing"
                )
            magnitude, currency = _amount(amount_element, "TxDtls amount")
            indicator = _text(detail, "CdtDbtInd")
            sign = self.sign if indicator is None else _sign(indicator, "TxDtls/CdtDbtInd")
            fee = _charges(detail, currency)
        else:
            magnitude, currency, sign = self.amount, self.currency, self.sign
            fee = _charges(detail, currency) if detail is not None else None
            if fee is None:
                fee = _charges(self.element, currency)
        amount = sign * magnitude
        codes = _codes(detail) if _child(detail, "BkTxCd/Domn") is not None else self.codes
        row_id = self.row_id
        if row_id is not None and detail is not None:
            row_id = f"{row_id}/{index}"
        return ParsedRecord(
            provider_reference=_reference(detail, self.element),
            type=_record_type(reversal=self.reversal, codes=codes, amount=amount, fee=fee),
            amount_minor=amount,
            fee_minor=fee,
            currency=currency,
            booked_at=self.booked_at,
            description=_description(detail, self.element),
            row_id=_limited(row_id, "row id (AcctSvcrRef)", ROW_ID_MAX),
            line=_source_line(element),
            raw=_raw(element),
            group_key=self.group_key,
            counterparty=_counterparty(detail, amount),
        )


def _read_entry(element: Element, parsed: ParsedFile) -> None:
    try:
        entry = _Entry(element)
    except InvalidInput as exc:
        parsed.rejected.append(RejectedRow(_source_line(element), exc.detail))
        return
    if not entry.details:
        try:
            parsed.records.append(entry.record(None, 0))
        except InvalidInput as exc:
            parsed.rejected.append(RejectedRow(_source_line(element), exc.detail))
        return
    for index, detail in enumerate(entry.details, start=1):
        try:
            parsed.records.append(entry.record(detail, index))
        except InvalidInput as exc:
            parsed.rejected.append(RejectedRow(_source_line(detail), exc.detail))


def _parse(content: bytes, message: _Message) -> ParsedFile:
    root = _read_tree(content, message)
    parsed = ParsedFile()
    with cyclic_gc_paused():
        for report in _reports(root, message):
            for entry in _children(report, "Ntry"):
                _read_entry(entry, parsed)
    return parsed


def parse_camt053(content: bytes) -> ParsedFile:
    """Parse a camt.053 statement into one record per transaction detail (or detail-less entry).

    Raises :class:`UnreadableFile` when the bytes are not safe, well-formed XML or hold no
    camt.053 ``Stmt``; an entry or detail that cannot be read exactly is a rejected row.
    """
    return _parse(content, CAMT053)


def parse_camt054(content: bytes) -> ParsedFile:
    """Parse a camt.054 notification, as :func:`parse_camt053` does (``Ntfctn`` for ``Stmt``)."""
    return _parse(content, CAMT054)


SOURCE_CAMT053 = SourceFormat(
    name=CAMT053.format_name,
    description="ISO 20022 camt.053 bank-to-customer statement (.001.02 to .001.08)",
    sniff=looks_like_camt053,
    parse=parse_camt053,
)

SOURCE_CAMT054 = SourceFormat(
    name=CAMT054.format_name,
    description="ISO 20022 camt.054 debit/credit notification (.001.02 to .001.08)",
    sniff=looks_like_camt054,
    parse=parse_camt054,
)
