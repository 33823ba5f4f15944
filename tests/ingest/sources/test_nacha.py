"""The NACHA reader on every real corpus file: returns, dishonoured/contested returns, NOC, IAT.

Expected values were read off the files by hand (positions 30-39 amount in cents, 80-94 trace,
batch header positions 70-75 effective entry date) and agree with each batch control's totals.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zentra.ingest.sources.csv_generic import looks_like_generic_csv
from zentra.ingest.sources.nacha import (
    describe_reason,
    looks_like_nacha,
    parse_nacha,
    read_return_addenda,
)
from zentra.kit.errors import UnreadableFile

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus"
NACHA = CORPUS / "nacha"
OTHER_FORMATS = ("ofx", "adyen", "paypal", "stripe", "camt053", "mt940", "bai2")


def _day(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


# file -> [(line, type, amount_minor, booked_at, trace, description prefix, counterparty)]
EXPECTED: dict[str, list[tuple[int, str, int, datetime | None, str, str, str | None]]] = {
    "contested-return.ach": [
        (
            3,
            "reversal",
            100000000,
            None,
            "121042880000001",
            "R71 Misrouted Dishonored Return: R07 Authorization Revoked by Customer",
            "Wade Arnold",
        )
    ],
    "cor-example.ach": [
        (
            3,
            "adjustment",
            0,
            None,
            "121042880000001",
            "C01 Incorrect DFI Account Number (original_trace=121042880000001 "
            "original_rdfi=12104288 corrected_data=1918171614)",
            "Best Co. #23",
        )
    ],
    "dishonored-return.ach": [
        (3, "reversal", -25000, None, "231380100000001", "R68 Untimely Return", "Wade Arnold"),
        (5, "reversal", -23000, None, "231380100000002", "R68 Untimely Return", "Adam Decaf"),
    ],
    "iat-addenda99.ach": [
        (
            3,
            "reversal",
            100000,
            None,
            "231380100000001",
            "R01 Insufficient Funds (original_trace=231380100000001",
            "BEK Enterprises",
        )
    ],
    "issue702.ach": [
        (3, "reversal", 102, _day(2020, 3, 27), "031101278009179", "R04 ", "Prasad Mahendra"),
        (7, "reversal", -101, _day(2020, 3, 27), "031101278009180", "R03 ", "Prasad Mahendra"),
        (11, "reversal", -10001, _day(2020, 3, 27), "031101278009181", "R01 ", "Prasad Mahendra"),
    ],
    "issue751.ach": [
        (2, "reversal", -7714, _day(2020, 7, 31), "123456780000879", "R01 ", "FFFFFFFF LLLLL"),
        (4, "reversal", -9446, _day(2020, 7, 31), "123456780000880", "R03 ", "FFFFFFF LLLLLL"),
    ],
    "return-PPD-custom-reason-code.ach": [
        (
            3,
            "reversal",
            106161,
            _day(2021, 7, 2),
            "092221170000001",
            "R97 (not a standard NACHA code)",
            "Jane Doe",
        )
    ],
    "return-WEB.ach": [
        (
            3,
            "reversal",
            -12354,
            _day(2000, 1, 1),
            "091000017611242",
            "R01 Insufficient Funds",
            "Paul Jones",
        ),
        (7, "reversal", 4565, _day(2000, 1, 1), "021000029461242", "R03 No Account", "Bob Marley"),
    ],
}


def test_the_corpus_is_where_the_tests_expect_it() -> None:
    assert CORPUS.is_dir(), CORPUS
    assert sorted(p.name for p in NACHA.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_corpus_file_gives_its_exact_records(name: str) -> None:
    content = (NACHA / name).read_bytes()
    parsed = parse_nacha(content)
    assert parsed.rejected == []
    got = [
        (r.line, r.type, r.amount_minor, r.booked_at, r.provider_reference, r.counterparty)
        for r in parsed.records
    ]
    want = [(line, t, a, b, trace, cp) for line, t, a, b, trace, _, cp in EXPECTED[name]]
    assert got == want
    lines = content.decode().replace("\r\n", "\n").split("\n")
    for record, expected in zip(parsed.records, EXPECTED[name], strict=True):
        assert record.currency == "USD"
        assert record.fee_minor is None
        assert record.row_id == record.provider_reference
        assert record.description is not None
        assert record.description.startswith(expected[5])
        # raw is the entry line and its addenda lines, verbatim
        assert record.raw.split("\n")[0] == lines[record.line - 1]
        assert all(line.startswith("7") for line in record.raw.split("\n")[1:])


def test_contested_return_keeps_every_addenda_in_order() -> None:
    (record,) = parse_nacha((NACHA / "contested-return.ach").read_bytes()).records
    assert record.description is not None
    codes = [part.split(" ")[0] for part in record.description.split(": ", 1)[1].split("; ")]
    assert codes == ["R07", "R68", "R71"]
    assert len(record.raw.split("\n")) == 4
    assert "dishonored_return_reason_code=67" in record.description


def test_dishonored_return_fields_follow_their_own_layout() -> None:
    line = (NACHA / "dishonored-return.ach").read_text().splitlines()[3]
    addenda = read_return_addenda(line)
    assert addenda.reason_code == "R68"
    assert addenda.original_trace == "059999990000301"
    assert dict(addenda.fields)["return_trace"] == "123918710000001"
    assert dict(addenda.fields)["return_reason_code"] == "01"


def test_reason_codes_are_named() -> None:
    assert describe_reason("R01") == "R01 Insufficient Funds"
    assert describe_reason("C01") == "C01 Incorrect DFI Account Number"
    assert describe_reason("R85").startswith("R85 ")
    assert describe_reason("C14").startswith("C14 ")


def test_iat_entry_with_a_wrong_addenda_count_is_rejected() -> None:
    text = (NACHA / "iat-addenda99.ach").read_text()
    broken = text.replace("6221210428820007", "6221210428820003", 1)
    parsed = parse_nacha(broken.encode())
    assert parsed.records == []
    assert parsed.rejected[0].line == 3
    assert "announces '0003' IAT addenda but 7 follow" in parsed.rejected[0].reason


def test_batch_whose_control_totals_disagree_is_rejected() -> None:
    text = (NACHA / "issue751.ach").read_text()
    broken = text.replace("0000007714", "0000007715", 1)
    parsed = parse_nacha(broken.encode())
    assert parsed.records == []
    assert [row.line for row in parsed.rejected] == [2, 4]
    assert "totals debits 17160" in parsed.rejected[0].reason


def test_short_entry_is_rejected_with_its_line() -> None:
    lines = (NACHA / "return-WEB.ach").read_text().splitlines()
    lines[2] = lines[2][:80]
    parsed = parse_nacha("\n".join(lines).encode())
    assert [row.line for row in parsed.rejected] == [3]
    assert "80 characters long" in parsed.rejected[0].reason
    assert [r.line for r in parsed.records] == [7]


def test_file_without_batches_is_refused() -> None:
    with pytest.raises(UnreadableFile, match="no batch header"):
        parse_nacha(b"101 091400606 6910001341810170306A094101FIRST BANK\n")
    with pytest.raises(UnreadableFile, match="ASCII"):
        parse_nacha("5200 Café".encode())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sniffer_recognizes_every_corpus_file(name: str) -> None:
    assert looks_like_nacha((NACHA / name).read_bytes())


def _other_files() -> list[Path]:
    return sorted(p for fmt in OTHER_FORMATS for p in (CORPUS / fmt).iterdir())


@pytest.mark.parametrize("path", _other_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sniffer_rejects_other_formats(path: Path) -> None:
    assert not looks_like_nacha(path.read_bytes())


def test_sniffer_rejects_the_generic_csv() -> None:
    content = b"provider_reference,amount,currency\nabc,1.00,EUR\n"
    assert looks_like_generic_csv(content)
    assert not looks_like_nacha(content)


_SAMPLES = [p.read_bytes() for p in sorted(NACHA.iterdir())]


def _parse_or_refuse(content: bytes) -> None:
    try:
        parsed = parse_nacha(content)
    except UnreadableFile:
        return
    for record in parsed.records:
        assert isinstance(record.amount_minor, int)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise_anything_but_unreadable(content: bytes) -> None:
    _parse_or_refuse(content)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(_SAMPLES),
    st.lists(st.tuples(st.integers(0, 2000), st.binary(max_size=3)), max_size=6),
)
def test_mutated_corpus_never_raises_anything_but_unreadable(
    sample: bytes, edits: list[tuple[int, bytes]]
) -> None:
    content = bytearray(sample)
    for position, replacement in edits:
        at = position % (len(content) + 1)
        content[at : at + len(replacement)] = replacement
    _parse_or_refuse(bytes(content))
