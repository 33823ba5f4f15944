"""camt.053 / camt.054 parsers, on every real corpus file and on small documents built here.

The expected values below were read from the XML files by hand (amount text, ``Ccy``,
``CdtDbtInd``, ``BookgDt``, and the line where each ``TxDtls`` starts), not copied from the
parser's output.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zentra.ingest.sources.base import ParsedFile
from zentra.ingest.sources.camt import SOURCE_CAMT053, SOURCE_CAMT054
from zentra.kit.errors import UnreadableFile

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus"
CAMT053_DIR = CORPUS / "camt053"
CAMT054_DIR = CORPUS / "camt054"
MT940_FILE = CORPUS / "mt940" / "abnamro.sta"


class Row(NamedTuple):
    line: int
    type: str
    amount_minor: int
    currency: str
    booked_at: datetime | None
    provider_reference: str
    fee_minor: int | None = None


def _day(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


D_2015_06_18 = _day(2015, 6, 18)
D_2014_12_31 = _day(2014, 12, 31)
D_2014_01_05 = _day(2014, 1, 5)

# file name -> (records, rejected lines) or the refusal's expected words.
EXPECTED_053: dict[str, tuple[list[Row], list[int]] | str] = {
    # 5 entries / 7 TxDtls, SEK; the cross-border entry books 3268.60 SEK (TxAmt) with 60 SEK of
    # charges (the CZK instructed amount is not what hit the account).
    "ISO20022_camt053_extended_SE_incoming_payments_incl_CB_example.xml": (
        [
            Row(109, "charge", 88000, "SEK", D_2015_06_18, "3322111122201506180000100001"),
            Row(141, "charge", 69000, "SEK", D_2015_06_18, "3322111122201506180000100002"),
            Row(173, "charge", 22000, "SEK", D_2015_06_18, "3322111122201506180000100003"),
            Row(211, "charge", 440000, "SEK", D_2015_06_18, "3322111122201506180000100004"),
            Row(277, "charge", 200000, "SEK", D_2015_06_18, "3322111122201506180000100004"),
            Row(342, "charge", 192600, "SEK", D_2015_06_18, "3322111122201506180000100004"),
            Row(431, "charge", 326860, "SEK", D_2015_06_18, "3322111122201506180000100005", 6000),
        ],
        [],
    ),
    # "8.850" EUR: three decimals, the third a zero -> exactly 885 cents.
    "camt053.v2.five.decimals.xml": (
        [Row(78, "charge", 885, "EUR", D_2014_12_31, "000000001")],
        [],
    ),
    "camt053.v2.multi.statement.xml": (
        [
            Row(83, "charge", 885, "EUR", D_2014_12_31, "000000001"),
            Row(162, "payout", -700, "EUR", D_2014_12_31, "000000002"),
        ],
        [],
    ),
    "camt053.v2.wrong.xml": "has no Stmt",
    # The lone TxDtls says 0 SEK under an 8.85 EUR entry: the entry's booked amount is kept.
    # Its four balances in four currencies are not records and do not fail the file.
    "camt053.v4.xml": (
        [Row(131, "charge", 885, "EUR", D_2014_12_31, "4654654654654654")],
        [],
    ),
    "camt053.v8.xml": (
        [
            Row(
                133,
                "charge",
                885,
                "EUR",
                datetime(2014, 12, 31, 12, 15, tzinfo=UTC),  # 13:15+01:00
                "MUELL/FINP/RA12345",
            )
        ],
        [],
    ),
    "camt53.only-Dt-with-DtTm.xml": ([], []),  # balances only
    "test-camt053": (
        [
            Row(73, "payout", -75425, "EUR", D_2014_01_05, "435005714488-ABNO33052620"),
            Row(144, "reversal", -56405, "EUR", D_2014_01_05, "TESTBANK/NL/20141229/01206408"),
            Row(185, "reversal", -10000, "EUR", D_2014_01_05, "TESTBANK/NL/20141229/01206407"),
            Row(251, "charge", 140531, "EUR", D_2014_01_05, "115"),
        ],
        [],
    ),
    "test-camt053-bookgdt-dttm": (
        [
            Row(
                73,
                "payout",
                -75425,
                "EUR",
                datetime(2014, 1, 4, 23, 0, tzinfo=UTC),
                "435005714488-ABNO33052620",
            )
        ],
        [],
    ),
    "test-camt053-no-ntry": ([], []),
    "test-camt053-txdtls": (
        [
            Row(79, "charge", 218700, "CHF", _day(2017, 3, 22), "123456CHCAFEBABE"),
            Row(144, "charge", 129600, "CHF", _day(2017, 3, 22), "123456CHCAFEBABE"),
        ],
        [],
    ),
}

EXPECTED_054: dict[str, tuple[list[Row], list[int]] | str] = {
    # One 200000 SEK debit entry split into 3 TxDtls, none with an amount: each is rejected.
    "camt054.v2.xml": ([], [79, 103, 126]),
    # The details carry their own CHF amounts and CdtDbtInd CRDT (under a DBIT SEK entry).
    "camt054.v4.xml": (
        [
            Row(94, "charge", 310, "CHF", _day(2007, 10, 18), "UXC06170000006PI00001EE00001"),
            Row(179, "charge", 320, "CHF", _day(2007, 10, 18), "UXC06170000006PI00001EE00002"),
            Row(258, "charge", 320, "CHF", _day(2007, 10, 18), "UXC06170000006PI00001EE00002"),
        ],
        [],
    ),
    # No BookgDt at all: booked_at is None, never a guessed date. The UETR is the reference.
    "camt054.v8-with-UETR.xml": (
        [Row(25, "payout", -20000000, "SEK", None, "255ae394-9965-4438-ac86-f406feada396")],
        [],
    ),
    "test-camt054": (
        [Row(57, "charge", 500, "EUR", _day(2022, 1, 26), "ENDTOENDID-01")],
        [],
    ),
}


def _cases() -> list[tuple[Path, object, tuple[list[Row], list[int]] | str]]:
    cases: list[tuple[Path, object, tuple[list[Row], list[int]] | str]] = []
    for folder, source, table in (
        (CAMT053_DIR, SOURCE_CAMT053, EXPECTED_053),
        (CAMT054_DIR, SOURCE_CAMT054, EXPECTED_054),
    ):
        cases.extend((folder / name, source, expected) for name, expected in table.items())
    return cases


def _corpus_files() -> list[Path]:
    return sorted([*CAMT053_DIR.iterdir(), *CAMT054_DIR.iterdir()])


def test_every_corpus_file_has_an_expectation() -> None:
    expected = {f"camt053/{name}" for name in EXPECTED_053} | {
        f"camt054/{name}" for name in EXPECTED_054
    }
    found = {f"{path.parent.name}/{path.name}" for path in _corpus_files()}
    assert found == expected
    assert len(found) == 15


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    _cases(),
    ids=[f"{case[0].parent.name}/{case[0].name}" for case in _cases()],
)
def test_corpus_file(
    path: Path, source: object, expected: tuple[list[Row], list[int]] | str
) -> None:
    assert source is SOURCE_CAMT053 or source is SOURCE_CAMT054
    content = path.read_bytes()
    if isinstance(expected, str):
        with pytest.raises(UnreadableFile, match=expected):
            source.parse(content)
        return
    rows, rejected_lines = expected
    parsed = source.parse(content)
    got = [
        Row(
            r.line,
            r.type,
            r.amount_minor,
            r.currency,
            r.booked_at,
            r.provider_reference,
            r.fee_minor,
        )
        for r in parsed.records
    ]
    assert got == rows
    assert [rejected.line for rejected in parsed.rejected] == rejected_lines
    for record in parsed.records:
        assert record.booked_at is None or record.booked_at.tzinfo is UTC
        # The raw evidence is the element the line points at.
        element = "TxDtls" if "<TxDtls" in record.raw.split(">", 1)[0] else "Ntry"
        first_line = content.decode("utf-8").splitlines()[record.line - 1]
        assert f"<{element}" in first_line


def test_reasons_name_the_problem() -> None:
    parsed = SOURCE_CAMT054.parse((CAMT054_DIR / "camt054.v2.xml").read_bytes())
    assert all("no amount of its own" in rejected.reason for rejected in parsed.rejected)


def test_record_details_of_a_batch_entry() -> None:
    parsed = SOURCE_CAMT053.parse((CAMT053_DIR / "test-camt053-txdtls").read_bytes())
    first, second = parsed.records
    assert first.row_id == "20170323001234567891234567891234/1"
    assert second.row_id == "20170323001234567891234567891234/2"
    assert first.group_key == second.group_key == "20170323001234567891234567891234"
    assert first.counterparty == "Banque Cantonale Vaudoise"
    assert "302388292000011111111111111" in first.raw


def test_reversal_batch_keeps_its_sign_and_type() -> None:
    parsed = SOURCE_CAMT053.parse((CAMT053_DIR / "test-camt053").read_bytes())
    reversals = [r for r in parsed.records if r.type == "reversal"]
    assert sum(r.amount_minor for r in reversals) == -66405  # the entry: DBIT 664.05
    assert {r.group_key for r in reversals} == {"2018/125-20141229-NORM"}
    assert reversals[0].counterparty == "Test Customer"  # creditor of a debit


def test_cross_border_charges_go_to_fee() -> None:
    content = (
        CAMT053_DIR / "ISO20022_camt053_extended_SE_incoming_payments_incl_CB_example.xml"
    ).read_bytes()
    last = SOURCE_CAMT053.parse(content).records[-1]
    assert (last.amount_minor, last.fee_minor, last.currency) == (326860, 6000, "SEK")
    assert last.counterparty == "DEBTOR NAME"
    assert last.description == "MESSAGE TO BENEFICIARY"


# --- sniffing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _corpus_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sniff_recognizes_the_right_format(path: Path) -> None:
    content = path.read_bytes()
    is_053 = path.parent.name == "camt053"
    assert SOURCE_CAMT053.sniff(content) is is_053
    assert SOURCE_CAMT054.sniff(content) is not is_053


@pytest.mark.parametrize(
    "content",
    [
        b"provider_reference,amount,currency\nabc,12.50,EUR\n",
        MT940_FILE.read_bytes(),
        b"",
        b"\x00\xff\xfe garbage",
        b"<Document><Other/></Document>",
        # A supported message element in a namespace of an unsupported version.
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.13">'
        b"<BkToCstmrStmt/></Document>",
    ],
    ids=["csv", "mt940", "empty", "binary", "other-xml", "camt053-v13"],
)
def test_sniff_rejects_other_content(content: bytes) -> None:
    assert SOURCE_CAMT053.sniff(content) is False
    assert SOURCE_CAMT054.sniff(content) is False


# --- small documents -----------------------------------------------------------------------------


def _statement(entries: str, version: str = "02") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">\n'
        "<BkToCstmrStmt><GrpHdr><MsgId>M</MsgId></GrpHdr>\n"
        "<Stmt><Id>S</Id>\n"
        f"{entries}\n"
        "</Stmt></BkToCstmrStmt></Document>\n"
    ).encode()


def _entry(
    amount: str = "10.00",
    currency: str = "EUR",
    indicator: str = "CRDT",
    extra: str = "",
    details: str = "",
    booking: str = "<Dt>2024-02-29</Dt>",
) -> str:
    amount_xml = f'<Amt Ccy="{currency}">{amount}</Amt>'
    return (
        f"<Ntry>{amount_xml}<CdtDbtInd>{indicator}</CdtDbtInd><Sts>BOOK</Sts>"
        f"<BookgDt>{booking}</BookgDt>{extra}"
        + (f"<NtryDtls>{details}</NtryDtls>" if details else "")
        + "</Ntry>"
    )


def test_decimals_beyond_the_exponent_must_be_zeros() -> None:
    parsed = SOURCE_CAMT053.parse(
        _statement(_entry("18.150") + "\n" + _entry("18.155") + "\n" + _entry("2700", "JPY"))
    )
    assert [(r.amount_minor, r.currency) for r in parsed.records] == [(1815, "EUR"), (2700, "JPY")]
    (rejected,) = parsed.rejected
    assert rejected.line == 6  # the second entry's line
    assert "more decimals than EUR allows" in rejected.reason


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (_entry("12.5", "XXX"), "currency"),
        (_entry("12.5", "ZZZ"), "not an ISO 4217"),
        (_entry(""), "empty"),
        (_entry("1e3"), "not a decimal amount"),
        (_entry("-5.00"), "signed"),
        (_entry("5.00", indicator="BOTH"), "neither CRDT nor DBIT"),
        (_entry("5.00", booking="<Dt>2024-02-30</Dt>"), "not a valid date"),
        (_entry("5.00", booking=""), "neither Dt nor DtTm"),
        ("<Ntry><CdtDbtInd>CRDT</CdtDbtInd></Ntry>", "Ntry/Amt is missing"),
        (
            "<Ntry><Amt Ccy='EUR'>1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>PDNG</Sts></Ntry>",
            "'PDNG' is not booked",
        ),
    ],
)
def test_unreadable_entries_are_rejected_with_line_and_reason(entry: str, reason: str) -> None:
    parsed = SOURCE_CAMT053.parse(_statement(_entry("1.00") + "\n" + entry))
    assert len(parsed.records) == 1
    (rejected,) = parsed.rejected
    assert rejected.line == 6  # the second entry's line
    assert reason in rejected.reason


def test_zero_only_when_the_file_says_zero() -> None:
    parsed = SOURCE_CAMT053.parse(_statement(_entry("0.00")))
    assert [r.amount_minor for r in parsed.records] == [0]


def test_no_corpus_record_is_zero() -> None:
    for path in _corpus_files():
        source = SOURCE_CAMT053 if path.parent.name == "camt053" else SOURCE_CAMT054
        try:
            parsed = source.parse(path.read_bytes())
        except UnreadableFile:
            continue
        assert all(record.amount_minor != 0 for record in parsed.records), path.name


def test_booking_time_with_nanoseconds_and_offset() -> None:
    parsed = SOURCE_CAMT053.parse(
        _statement(_entry(booking="<DtTm>2025-07-23T01:30:00.123456789+02:00</DtTm>"))
    )
    assert parsed.records[0].booked_at == datetime(2025, 7, 22, 23, 30, 0, 123456, tzinfo=UTC)


def test_batch_details_use_their_own_amounts_and_indicators() -> None:
    details = (
        "<TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId><TxId>T1</TxId></Refs>"
        '<AmtDtls><TxAmt><Amt Ccy="EUR">12.00</Amt></TxAmt></AmtDtls>'
        "<RltdPties><Dbtr><Pty><Nm>Payer</Nm></Pty></Dbtr></RltdPties></TxDtls>\n"
        '<TxDtls><Refs><EndToEndId>E2</EndToEndId></Refs><Amt Ccy="EUR">2.00</Amt>'
        "<CdtDbtInd>DBIT</CdtDbtInd><RltdPties><Cdtr><Nm>Payee</Nm></Cdtr></RltdPties></TxDtls>"
    )
    entry = _entry(
        "10.00", extra="<AcctSvcrRef>BANK-1</AcctSvcrRef><NtryRef>N1</NtryRef>", details=details
    )
    parsed = SOURCE_CAMT053.parse(_statement(entry, version="08"))
    first, second = parsed.records
    assert (first.provider_reference, first.amount_minor, first.counterparty) == (
        "T1",
        1200,
        "Payer",
    )
    assert (second.provider_reference, second.amount_minor, second.type) == ("E2", -200, "payout")
    assert (first.row_id, second.row_id) == ("BANK-1/1", "BANK-1/2")
    assert first.group_key == "BANK-1"
    assert (first.line, second.line) == (5, 6)


def test_charges_only_entry_is_a_fee() -> None:
    charges = '<Chrgs><Rcrd><Amt Ccy="EUR">2.50</Amt><CdtDbtInd>DBIT</CdtDbtInd></Rcrd></Chrgs>'
    parsed = SOURCE_CAMT053.parse(_statement(_entry("2.50", indicator="DBIT", extra=charges)))
    (record,) = parsed.records
    assert (record.type, record.amount_minor, record.fee_minor) == ("fee", -250, 250)


@pytest.mark.parametrize(
    ("codes", "indicator", "expected"),
    [
        (("PMNT", "CCRD", "CHRG"), "DBIT", "fee"),
        (("ACMT", "MCOP", "INTR"), "CRDT", "adjustment"),
        (("PMNT", "ICDT", "RRTN"), "CRDT", "reversal"),
        (("PMNT", "ICDT", "ESCT"), "DBIT", "payout"),
        (("PMNT", "RCDT", "ESCT"), "CRDT", "charge"),
    ],
)
def test_bank_transaction_codes_map_to_types(
    codes: tuple[str, str, str], indicator: str, expected: str
) -> None:
    domain, family, subfamily = codes
    bktxcd = (
        f"<BkTxCd><Domn><Cd>{domain}</Cd><Fmly><Cd>{family}</Cd>"
        f"<SubFmlyCd>{subfamily}</SubFmlyCd></Fmly></Domn></BkTxCd>"
    )
    parsed = SOURCE_CAMT053.parse(_statement(_entry(indicator=indicator, extra=bktxcd)))
    assert parsed.records[0].type == expected


def test_reversal_indicator_wins() -> None:
    parsed = SOURCE_CAMT053.parse(_statement(_entry(extra="<RvslInd>true</RvslInd>")))
    assert parsed.records[0].type == "reversal"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not xml at all", "not well-formed XML"),
        (b"", "empty"),
        (b"<Document><BkToCstmrStmt><GrpHdr/></BkToCstmrStmt></Document>", "has no Stmt"),
        (b"<Document><Foo/></Document>", "holds no BkToCstmrStmt"),
        (
            b"<Document><BkToCstmrDbtCdtNtfctn><Ntfctn/></BkToCstmrDbtCdtNtfctn></Document>",
            "this is a camt.054 message",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]>'
            b"<Document><BkToCstmrStmt><Stmt>&a;</Stmt></BkToCstmrStmt></Document>",
            "DTD",
        ),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(content: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFile, match=reason):
        SOURCE_CAMT053.parse(content)


def test_camt054_reads_notifications() -> None:
    content = _statement(_entry()).replace(b"BkToCstmrStmt", b"BkToCstmrDbtCdtNtfctn")
    content = content.replace(b"<Stmt>", b"<Ntfctn>").replace(b"</Stmt>", b"</Ntfctn>")
    content = content.replace(b"camt.053", b"camt.054")
    assert SOURCE_CAMT054.sniff(content)
    assert [r.amount_minor for r in SOURCE_CAMT054.parse(content).records] == [1000]
    with pytest.raises(UnreadableFile, match=r"camt\.054"):
        SOURCE_CAMT053.parse(content)


# --- fuzzing -------------------------------------------------------------------------------------


def _parse_both(content: bytes) -> None:
    for source in (SOURCE_CAMT053, SOURCE_CAMT054):
        source.sniff(content)
        try:
            parsed = source.parse(content)
        except UnreadableFile:
            continue
        assert isinstance(parsed, ParsedFile)
        for record in parsed.records:
            assert isinstance(record.amount_minor, int)
            assert record.line >= 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes(content: bytes) -> None:
    _parse_both(content)


_CORPUS_CONTENTS = [path.read_bytes() for path in _corpus_files()]


@st.composite
def _mutated_corpus_file(draw: st.DrawFn) -> bytes:
    content = bytearray(draw(st.sampled_from(_CORPUS_CONTENTS)))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        if not content:
            break
        position = draw(st.integers(min_value=0, max_value=len(content) - 1))
        action = draw(st.sampled_from(["replace", "delete", "insert", "truncate", "digit"]))
        if action == "replace":
            content[position] = draw(st.integers(min_value=0, max_value=255))
        elif action == "delete":
            del content[position : position + draw(st.integers(min_value=1, max_value=40))]
        elif action == "insert":
            content[position:position] = draw(
                st.sampled_from(
                    [b"<", b">", b"&", b"-", b".", b"0", b"9", b"\xff", b"</Amt>", b"<TxDtls>"]
                )
            )
        elif action == "truncate":
            del content[position:]
        else:
            content[position] = ord(draw(st.sampled_from("0123456789.-")))
    return bytes(content)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated_corpus_file())
def test_fuzz_mutated_corpus_files(content: bytes) -> None:
    _parse_both(content)
