"""The OFX reader on every real corpus file, v1 SGML and v2 XML, including the broken ones.

Expected values were read off the files by hand: ``<STMTTRN>`` line numbers (``grep -n``),
``TRNAMT`` in the statement's ``CURDEF``, ``DTPOSTED`` with its bracketed offset.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zentra.ingest.sources import ofx as ofx_module
from zentra.ingest.sources.csv_generic import looks_like_generic_csv
from zentra.ingest.sources.ofx import looks_like_ofx, parse_ofx, read_ofx_datetime
from zentra.kit.errors import InvalidInput, UnreadableFile

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus"
OFX = CORPUS / "ofx"
OTHER_FORMATS = ("nacha", "adyen", "paypal", "stripe", "camt053", "camt054", "mt940", "bai2")


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


NUBANK_23 = _at(2024, 3, 23, 3)  # 20240323000000[-3:GMT]
NUBANK_22 = _at(2024, 3, 22, 3)
AUG_24 = _at(2013, 8, 24, 8)

# file -> [(line, type, amount_minor, currency, booked_at, fitid)]
EXPECTED: dict[str, list[tuple[int, str, int, str, datetime, str]]] = {
    "br_nubank_cc.ofx": [
        (40, "payout", -1300, "BRL", NUBANK_23, "11111111-UUID-4747-8883-111111111111"),
        (48, "payout", -16290, "BRL", NUBANK_23, "11111111-UUID-44dc-b153-111111111111"),
        (56, "payout", -3346, "BRL", NUBANK_23, "11111111-UUID-4ec7-a011-111111111111"),
        (64, "payout", -902, "BRL", NUBANK_22, "11111111-UUID-4ca3-8d84-111111111111"),
        (72, "payout", -10353, "BRL", NUBANK_22, "11111111-UUID-4b37-972f-111111111111"),
        (80, "payout", -95900, "BRL", NUBANK_22, "11111111-UUID-427c-8fc0-111111111111"),
    ],
    "checking.ofx": [
        (46, "charge", 1, "USD", _at(2011, 3, 31, 12), "0000486"),
        (54, "payout", -3451, "USD", _at(2011, 4, 5, 12), "0000487"),
        (62, "payout", -2500, "USD", _at(2011, 4, 7, 12), "0000488"),
    ],
    "decimal_error.ofx": [],
    "empty_balance.ofx": [(29, "charge", 12000, "CAD", _at(2011, 3, 8, 2), "2000957249")],
    # CURDEF is empty but the transaction's own CURRENCY aggregate says AUD; FITID is empty.
    "ofx-v102-empty-tags.ofx": [(23, "charge", 1234, "AUD", _at(2018, 5, 7), "")],
    "stmtrs.ofx": [
        (38, "payout", -20000, "USD", _at(2005, 10, 4), "00002"),
        (45, "payout", -30000, "USD", _at(2005, 10, 20), "00003"),
    ],
    # Decimal commas ("-200,00"): the OFX spec admits ',' as the decimal point.
    "stmtrs_euro.ofx": [
        (38, "payout", -20000, "USD", _at(2005, 10, 4), "00002"),
        (45, "payout", -30000, "USD", _at(2005, 10, 20), "00003"),
    ],
    "suncorp.ofx": [(35, "payout", -1685, "AUD", _at(2013, 12, 15), "1")],
    "test_ofx.ofx": [
        (31, "payout", -8000, "USD", AUG_24, "219378"),
        (42, "payout", -9000, "USD", AUG_24, "219379"),
        (53, "payout", -10000, "USD", AUG_24, "219380"),
        (64, "payout", -9000, "USD", AUG_24, "219381"),
    ],
    "test_ofx_wrong.ofx": [],
}
NO_CURRENCY = "the statement declares no currency (CURDEF is missing or empty)"
REJECTED: dict[str, list[tuple[int, str]]] = {
    "decimal_error.ofx": [
        (
            34,
            "TRNAMT '$120' is not an OFX amount (digits with an optional '.' or ',' decimal "
            "point; no currency sign or thousands separator); DTPOSTED '201120000000' is not a "
            "valid date-time: month must be in 1..12",
        )
    ],
    "test_ofx_wrong.ofx": [
        (31, NO_CURRENCY),
        (42, f"{NO_CURRENCY}; TRNAMT is missing; DTPOSTED is missing or empty"),
        (53, NO_CURRENCY),
        (64, NO_CURRENCY),
    ],
}


def test_the_corpus_is_where_the_tests_expect_it() -> None:
    assert CORPUS.is_dir(), CORPUS
    assert sorted(p.name for p in OFX.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_corpus_file_gives_its_exact_records(name: str) -> None:
    content = (OFX / name).read_bytes()
    parsed = parse_ofx(content)
    got = [
        (r.line, r.type, r.amount_minor, r.currency, r.booked_at, r.provider_reference)
        for r in parsed.records
    ]
    assert got == EXPECTED[name]
    assert [(row.line, row.reason) for row in parsed.rejected] == REJECTED.get(name, [])
    text = content.decode()
    for record in parsed.records:
        assert record.raw.startswith("<STMTTRN>")
        assert record.raw.endswith("</STMTTRN>")
        assert record.raw in text
        assert record.row_id == (record.provider_reference or None)
        assert record.fee_minor is None


def test_names_and_memos_become_counterparty_and_description() -> None:
    records = parse_ofx((OFX / "checking.ofx").read_bytes()).records
    assert records[1].counterparty == "AUTOMATIC WITHDRAWAL, ELECTRIC BILL"
    assert records[1].description == "AUTOMATIC WITHDRAWAL, ELECTRIC BILL WEB(S )"
    (suncorp,) = parse_ofx((OFX / "suncorp.ofx").read_bytes()).records
    assert suncorp.counterparty == "EFTPOS WDL HANDYWAY ALDI STORE"  # CDATA, trimmed
    assert suncorp.description == "EFTPOS WDL HANDYWAY ALDI STORE   GEELONG WEST VICAU"
    (tagged,) = parse_ofx((OFX / "ofx-v102-empty-tags.ofx").read_bytes()).records
    assert tagged.counterparty is None
    assert tagged.description == "CBA:Transfer"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20240323000000[-3:BRT]", _at(2024, 3, 23, 3)),
        ("20130831165153.000[-8:PST]", _at(2013, 9, 1, 0, 51, 53)),
        ("20130525225731.258", _at(2013, 5, 25, 22, 57, 31, 258000)),
        ("20101106160000.00[+5.75:NPT]", _at(2010, 11, 6, 10, 15)),
        ("20051004", _at(2005, 10, 4)),
        ("200510291120", _at(2005, 10, 29, 11, 20)),
        ("20240101000000[+1]", _at(2023, 12, 31, 23)),
    ],
)
def test_ofx_datetimes_are_converted_to_utc_exactly(text: str, expected: datetime) -> None:
    assert read_ofx_datetime(text) == expected


@pytest.mark.parametrize(
    "text", ["201120000000", "2024-03-23", "20240323[-3.01:X]", "20240323[+15]", "2024032"]
)
def test_bad_ofx_datetimes_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        read_ofx_datetime(text)


def _with_amount(amount: str) -> bytes:
    text = (OFX / "stmtrs.ofx").read_text()
    return text.replace("<TRNAMT>-200.00</TRNAMT>", f"<TRNAMT>{amount}</TRNAMT>").encode()


@pytest.mark.parametrize(
    ("amount", "minor"), [("1", 100), ("+12.5", 1250), ("-0,01", -1), ("1000000.00", 100000000)]
)
def test_amounts_are_read_exactly(amount: str, minor: int) -> None:
    assert parse_ofx(_with_amount(amount)).records[0].amount_minor == minor


@pytest.mark.parametrize("amount", ["1,000.00", "1.005", "12.", "1e3", "", "USD 5"])
def test_inexact_amounts_reject_the_transaction(amount: str) -> None:
    parsed = parse_ofx(_with_amount(amount))
    assert [row.line for row in parsed.rejected] == [38]
    assert [r.line for r in parsed.records] == [45]


def test_ofxparse_reads_the_corpus_the_same_way() -> None:
    for name, expected in EXPECTED.items():
        theirs = ofx_module._ofxparse_amounts((OFX / name).read_bytes())
        for _, _, minor, _, _, fitid in expected:
            if fitid in theirs:
                assert theirs[fitid].scaleb(2) == minor


def test_a_disagreement_with_ofxparse_rejects_the_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        ofx_module, "_ofxparse_amounts", lambda _content: {"00002": Decimal("-2.00")}
    )
    parsed = parse_ofx((OFX / "stmtrs.ofx").read_bytes())
    assert [r.line for r in parsed.records] == [45]
    assert parsed.rejected[0].line == 38
    assert "-200.00 USD here but as -2.00 in ofxparse" in parsed.rejected[0].reason


def test_fee_and_interest_types() -> None:
    text = (OFX / "stmtrs.ofx").read_text()
    text = text.replace("<TRNTYPE>CHECK</TRNTYPE>", "<TRNTYPE>srvchg</TRNTYPE>")
    text = text.replace("<TRNTYPE>ATM</TRNTYPE>", "<TRNTYPE>INT</TRNTYPE>")
    assert [r.type for r in parse_ofx(text.encode()).records] == ["fee", "adjustment"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"hello, world", "no <OFX> element"),
        (b"<OFX><SIGNONMSGSRSV1></SIGNONMSGSRSV1></OFX>", "no bank or credit-card statement"),
        (b"<OFX>\xff\xfe", "not UTF-8"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(content: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFile, match=reason):
        parse_ofx(content)


def test_a_declared_windows_1252_file_is_decoded() -> None:
    content = (OFX / "checking.ofx").read_bytes().replace(b"<NAME>AUTOMATIC", b"<NAME>\xe9LECTRIC")
    records = parse_ofx(content).records
    assert records[1].counterparty == "\u00e9LECTRIC WITHDRAWAL, ELECTRIC BILL"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sniffer_recognizes_every_corpus_file(name: str) -> None:
    assert looks_like_ofx((OFX / name).read_bytes())


def _other_files() -> list[Path]:
    return sorted(p for fmt in OTHER_FORMATS for p in (CORPUS / fmt).iterdir())


@pytest.mark.parametrize("path", _other_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sniffer_rejects_other_formats(path: Path) -> None:
    assert not looks_like_ofx(path.read_bytes())


def test_sniffer_rejects_the_generic_csv() -> None:
    content = b"provider_reference,amount,currency\nabc,1.00,EUR\n"
    assert looks_like_generic_csv(content)
    assert not looks_like_ofx(content)


_SAMPLES = [p.read_bytes() for p in sorted(OFX.iterdir())]


def _parse_or_refuse(content: bytes) -> None:
    try:
        parsed = parse_ofx(content)
    except UnreadableFile:
        return
    for record in parsed.records:
        assert isinstance(record.amount_minor, int)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise_anything_but_unreadable(content: bytes) -> None:
    _parse_or_refuse(content)
    _parse_or_refuse(b"<OFX><STMTRS>" + content)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(_SAMPLES),
    st.lists(st.tuples(st.integers(0, 3000), st.binary(max_size=4)), max_size=6),
)
def test_mutated_corpus_never_raises_anything_but_unreadable(
    sample: bytes, edits: list[tuple[int, bytes]]
) -> None:
    content = bytearray(sample)
    for position, replacement in edits:
        at = position % (len(content) + 1)
        content[at : at + len(replacement)] = replacement
    _parse_or_refuse(bytes(content))
