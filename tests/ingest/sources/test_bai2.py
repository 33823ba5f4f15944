"""BAI2 parser, on every real corpus file and on small files built here.

The expected values below were read from the files: each ``16`` record's physical line, its type
code (100-399 credit: positive; 400-699 debit: negative), its amount in minor units as written,
the currency of its ``03`` account or ``02`` group (USD when both are blank), and its date (the
``V`` value date, else the group's as-of date). They are written ``line:amount_minor:date``. They
were not copied from the parser's output.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zentra.ingest.sources.bai2 import SOURCE_BAI2, looks_like_bai2, parse_bai2
from zentra.ingest.sources.base import ParsedFile, ParsedRecord
from zentra.kit.errors import UnreadableFile

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus"
BAI2_DIR = CORPUS / "bai2"


class Row(NamedTuple):
    line: int
    amount_minor: int
    currency: str
    booked_at: datetime | None


def _rows(text: str, currency: str) -> list[Row]:
    rows = []
    for item in text.split():
        line, amount, day = item.split(":")
        year, month, dom = (int(part) for part in day.split("-"))
        rows.append(Row(int(line), int(amount), currency, datetime(year, month, dom, tzinfo=UTC)))
    return rows


SAMPLE3 = """
3:2500:2022-09-19 3:500:2022-09-19 4:100:2022-09-19 5:-2500:2022-09-19 7:-600:2022-09-19
9:-100:2022-09-19 13:-27500:2022-09-19 13:-3203:2022-09-19 18:2500:2022-09-19 21:600:2022-09-19
23:600:2022-09-19 25:-11521:2022-09-19 27:-4783:2022-09-19 29:-2347:2022-09-19 33:215:2022-09-19
34:105:2022-09-19 35:-5857:2022-09-19 36:-87:2022-09-19 39:13855:2022-09-19 41:11521:2022-09-19
43:4783:2022-09-19 45:2347:2022-09-19 47:87:2022-09-19 48:-600:2022-09-19 50:-215:2022-09-19
51:-105:2022-09-19
"""

SAMPLE5 = """
6:-60000:2023-09-06 10:143500:2023-09-06 18:-928650:2023-09-06 24:-200000:2023-09-06
31:-55555:2023-09-06 38:1912:2023-09-06 44:-50500:2023-09-06 50:1125:2023-09-06
56:60000:2023-09-06 62:931:2023-09-06 68:50050:2023-09-06 75:527:2023-09-06
78:-10100:2023-09-06 85:337686:2023-09-06 92:5000:2023-09-06 96:-44250:2023-09-06
102:-30000000:2023-09-06 110:3797999624:2023-09-06 116:-463462:2023-09-06 117:1764:2023-09-06
"""

SAMPLE5_LINES = [row.line for row in _rows(SAMPLE5, "USD")]

# file name -> (records, rejected lines with a word of their reason)
EXPECTED: dict[str, tuple[list[Row], list[tuple[int, str]]]] = {
    # Two accounts, no transactions, "49,,2/": nothing to check, so readable and empty.
    "account_trailer_amount_blank_example.bai2": ([], []),
    "citi_example.bai2": (_rows("4:1:2015-07-15", "GBP"), []),
    # The group currency is blank; the account's 03 says GBP. 699 debits, 399 credit.
    "nwb_example.bai2": (
        _rows(
            "5:-971:2009-12-16 7:-100:2009-12-16 9:-123:2009-12-16 11:-1571:2009-12-16 "
            "13:89:2009-12-16",
            "GBP",
        ),
        [],
    ),
    # 409 debits and 108 credits, each with a V value date.
    "sample1.txt": (
        _rows(
            "5:-2500:2006-03-16 6:-90000:2006-03-16 7:-500:2006-03-16 8:203500:2006-03-16 "
            "9:2500:2006-03-16 10:2500:2006-03-16 11:-20000:2006-03-16 12:-90000:2006-03-16 "
            "13:-2000:2006-03-16 14:-2500:2006-03-16 15:-1000:2006-03-16 19:11500:2006-03-17 "
            "20:100000:2006-03-17 21:-100000:2006-03-17 22:-9000:2006-03-17 "
            "23:-2000:2006-03-17 24:-500:2006-03-17",
            "CAD",
        ),
        [],
    ),
    # No currency anywhere: USD. 115/218/195 credits; funds types S, V, 1.
    "sample2.txt": (
        _rows(
            "5:450000:2004-06-20 10:500000:2004-06-20 16:20000000:2004-06-22 "
            "18:10000000:2004-06-20",
            "USD",
        ),
        [],
    ),
    "sample3.txt": (_rows(SAMPLE3, "USD"), []),
    # Every 16 reads, but the account control totals (49) do not add up: refused per account.
    "sample5-issue113.txt": ([], [(line, "control total") for line in SAMPLE5_LINES]),
    "svb_us_example.bai2": (_rows("7:490196:2022-02-01 16:905800:2022-02-02", "USD"), []),
}


def _parse(name: str, *, verify_totals: bool = True) -> ParsedFile:
    return parse_bai2((BAI2_DIR / name).read_bytes(), verify_totals=verify_totals)


def _record(name: str, line: int, index: int = 0, *, verify_totals: bool = True) -> ParsedRecord:
    return [r for r in _parse(name, verify_totals=verify_totals).records if r.line == line][index]


def test_the_corpus_is_found_and_every_file_has_an_expectation() -> None:
    assert CORPUS.is_dir(), CORPUS
    assert sorted(p.name for p in BAI2_DIR.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_corpus_file_parses_to_its_exact_records(name: str) -> None:
    expected_rows, expected_rejected = EXPECTED[name]
    parsed = _parse(name)
    got = [Row(r.line, r.amount_minor, r.currency, r.booked_at) for r in parsed.records]
    assert got == expected_rows
    assert [r.line for r in parsed.rejected] == [line for line, _ in expected_rejected]
    for rejected, (_, word) in zip(parsed.rejected, expected_rejected, strict=True):
        assert word in rejected.reason
    for record in parsed.records:
        assert record.raw.startswith("16,")


def test_sample5_reads_every_detail_when_totals_are_not_verified() -> None:
    parsed = _parse("sample5-issue113.txt", verify_totals=False)
    got = [Row(r.line, r.amount_minor, r.currency, r.booked_at) for r in parsed.records]
    assert got == _rows(SAMPLE5, "USD")
    assert parsed.rejected == []
    ret = _record("sample5-issue113.txt", 24, verify_totals=False)  # 557 ACH return, R02
    assert (ret.type, ret.provider_reference, ret.row_id) == (
        "reversal",
        "021000080000030",
        "SB2322600000214",
    )
    assert ret.description is not None
    assert 'Reason: "R02"' in ret.description
    assert ret.description.endswith("CABA: 021000089")  # the 88 lines joined
    reject = _record("sample5-issue113.txt", 10, verify_totals=False)  # 261 rejected credit
    assert (reject.type, reject.counterparty) == ("reversal", "SAMPLE INC")
    fee = _record("sample5-issue113.txt", 116, verify_totals=False)
    assert (fee.type, fee.description) == ("fee", "Fees,Fees For Account: XXXXXXXX-0186")
    assert _record("sample5-issue113.txt", 117, verify_totals=False).type == "adjustment"


def test_citi_continuations_are_the_text_and_the_raw_keeps_them() -> None:
    record = _record("citi_example.bai2", 4)
    assert record.provider_reference == "RP12312312312312"
    assert record.row_id == "1234567890"
    assert record.description is not None
    assert record.description.startswith("FR:FP SIP INCOMING ENDT:20150715 TRID:")
    assert record.description.endswith("BO:11111111 BO1:DOE JO")
    assert len(record.raw.splitlines()) == 8
    assert record.raw.splitlines()[-1] == "88,BO:11111111 BO1:DOE JO"


def test_a_word_split_at_the_80th_column_is_joined() -> None:
    record = _record("nwb_example.bai2", 13)
    assert record.description is not None
    assert record.description.endswith("BGC INTERNATIONAL-5373 CLIENT SECCY AC TFR")
    assert record.type == "charge"


def test_several_records_on_one_line_and_a_16_broken_across_lines() -> None:
    first, second = _record("sample3.txt", 3, 0), _record("sample3.txt", 3, 1)
    assert first.description == "TRANSFER   PAYPAL             PPD"
    assert second.description == "TRANSFER   MSPBNA BANK        PPD"
    assert first.raw == "16,142,2500,Z,,,TRANSFER   PAYPAL             PPD/"
    broken = _record("sample3.txt", 18)
    assert broken.description is not None
    assert "1111111111 111111111111111" in broken.description
    assert len(broken.raw.splitlines()) == 3


def test_value_date_references_and_text_with_funds_type_v() -> None:
    record = _record("sample2.txt", 16)
    assert record.booked_at == datetime(2004, 6, 22, tzinfo=UTC)
    assert (record.provider_reference, record.row_id) == ("YRC065321", "SP4738")
    assert record.description == "PROCEEDS OF LETTER OF CREDIT FROM THE ARAMCO OIL CO"


def test_returned_cheques_and_service_charges_by_their_text() -> None:
    types = [_record("sample1.txt", line).type for line in (5, 6, 7, 8, 11)]
    assert types == ["reversal", "reversal", "fee", "charge", "payout"]


def _file(*records: str, group_currency: str = "", account_currency: str = "") -> bytes:
    lines = [
        "01,SENDER,RECEIVER,210101,1200,1,,,2/",
        f"02,RECEIVER,SENDER,1,210105,,{group_currency},2/",
        f"03,123456,{account_currency},010,1000,,/",
        *records,
        "98,0,1,9/",
        "99,0,1,11/",
    ]
    return ("\n".join(lines) + "\n").encode()


def test_the_currency_defaults_to_usd_and_the_account_overrides_the_group() -> None:
    body = ("16,165,500,Z,BREF,CREF,TEXT/", "49,1500,3/")
    assert parse_bai2(_file(*body)).records[0].currency == "USD"
    assert parse_bai2(_file(*body, group_currency="GBP")).records[0].currency == "GBP"
    overridden = parse_bai2(_file(*body, group_currency="GBP", account_currency="EUR"))
    assert overridden.records[0].currency == "EUR"


def test_funds_type_d_and_an_88_that_continues_mid_record() -> None:
    distributed = parse_bai2(
        _file("16,165,500,D,2,0,200,1,300,BREF,CREF,TEXT, WITH COMMA/", "49,1500,3/")
    )
    record = distributed.records[0]
    assert (record.amount_minor, record.provider_reference, record.row_id) == (500, "CREF", "BREF")
    assert record.description == "TEXT, WITH COMMA"
    # The 16 stops after the value date; the 88 brings the value time, references and text
    # (the case the bai2 library gets wrong, its issue #50).
    continued = parse_bai2(
        _file("16,475,700,V,210104/", "88,,BREF,CREF,PAID OUT/", "49,1700,4/")
    ).records[0]
    assert (continued.amount_minor, continued.type) == (-700, "payout")
    assert continued.booked_at == datetime(2021, 1, 4, tzinfo=UTC)
    assert (continued.provider_reference, continued.row_id) == ("CREF", "BREF")
    assert continued.description == "PAID OUT"


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        (("16,165,,Z,B,C,T/", "49,1000,3/"), "amount is blank"),
        (("16,165,-5,Z,B,C,T/", "49,995,3/"), "unsigned integer"),
        (("16,890,5,Z,B,C,T/", "49,1005,3/"), "neither a credit nor a debit"),
        (("16,100,5,Z,B,C,T/", "49,1005,3/"), "summary"),
        (("16,999,5,Z,B,C,T/", "49,1005,3/"), "not a BAI2 transaction detail code"),
        (("16,165,5,V,211399,,B,C,T/", "49,1005,3/"), "value date"),
        (("16,165,5,Q,B,C,T/", "49,1005,3/"), "funds type"),
        (("16,165,5,Z,B,C,T/", "49,1006,3/"), "control total 1006"),
        (("16,165,5,Z,B,C,T/", "49,,3/"), "blank control total"),
        (("16,165,5,Z,B,C,T/",), "no 49 trailer"),
    ],
)
def test_unreadable_details_are_rejected_with_line_and_reason(
    records: tuple[str, ...], reason: str
) -> None:
    parsed = parse_bai2(_file(*records))
    assert parsed.records == []
    assert [r.line for r in parsed.rejected] == [4]
    assert reason in parsed.rejected[0].reason


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "01 file header"),
        (b"02,A,B,1,210105,,USD,2/\n", "01 file header"),
        (b"hello, world\n", "01 file header"),
        (b"01,A,B,210101,1200,1,,,2/\n16,165,\xff\xfe,Z/\n", "cannot be decoded"),
    ],
)
def test_a_file_that_is_not_bai2_is_unreadable(content: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFile, match=reason):
        parse_bai2(content)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sniffing_recognizes_each_corpus_file(name: str) -> None:
    assert SOURCE_BAI2.sniff((BAI2_DIR / name).read_bytes())


@pytest.mark.parametrize(
    "path",
    [
        CORPUS / "camt053" / "camt053.v2.multi.statement.xml",
        *sorted((CORPUS / "mt940").iterdir()),
    ],
)
def test_sniffing_rejects_other_formats(path: Path) -> None:
    assert not looks_like_bai2(path.read_bytes())


def test_sniffing_rejects_a_generic_csv() -> None:
    assert not looks_like_bai2(b"provider_reference,amount,currency\n01,1.00,USD\n")


CORPUS_BYTES = [p.read_bytes() for p in sorted(BAI2_DIR.iterdir())]


def _outcome(content: bytes) -> None:
    try:
        result = parse_bai2(content)
    except UnreadableFile:
        return
    assert isinstance(result, ParsedFile)
    for record in result.records:
        assert isinstance(record.amount_minor, int)
        assert record.booked_at is not None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_parse_or_are_unreadable(content: bytes) -> None:
    _outcome(content)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789,/+-VSDZ 88\n", max_size=400))
def test_random_bai2_shaped_text_parses_or_is_unreadable(text: str) -> None:
    _outcome(b"01," + text.encode())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(CORPUS_BYTES),
    st.lists(st.tuples(st.integers(min_value=0), st.binary(max_size=4)), max_size=12),
    st.lists(st.integers(min_value=0), max_size=6),
)
def test_mutated_corpus_files_parse_or_are_unreadable(
    original: bytes, inserts: list[tuple[int, bytes]], deletes: list[int]
) -> None:
    content = bytearray(original)
    for position, chunk in inserts:
        index = position % (len(content) + 1)
        content[index:index] = chunk
    for position in deletes:
        if content:
            del content[position % len(content)]
    _outcome(bytes(content))
