"""The generic settlement CSV parser and the value readers under it: pure, no database."""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zentra.ingest.hashing import flat_canonical_hash, parsed_record_content_hash
from zentra.ingest.sources import ParsedRecord, detect_format, known_formats, parse_file
from zentra.ingest.sources.csv_generic import parse_generic_csv
from zentra.ingest.values import read_major_amount, read_minor_amount, read_timestamp
from zentra.kit.canonical import canonical_hash
from zentra.kit.errors import InvalidAmount, InvalidInput, UnreadableFile
from zentra.kit.money import format_major


def _parse(text: str) -> tuple[list[ParsedRecord], list[tuple[int, str]]]:
    parsed = parse_generic_csv(text.encode())
    return parsed.records, [(row.line, row.reason) for row in parsed.rejected]


def test_columns_are_read_by_name_in_any_order_with_lines_and_raw_text() -> None:
    records, rejected = _parse(
        " Currency ,DESCRIPTION,amount,provider_reference,booked_at,type,fee,row_id\n"
        "eur,Order 42,1250.00,pi_1,2026-04-26,charge,0.30,r1\n"
        "JPY,,1500,pi_2,2026-04-26T10:15:00+02:00,refund,,r2\n"
    )
    assert rejected == []
    first, second = records
    assert first == ParsedRecord(
        provider_reference="pi_1",
        type="charge",
        amount_minor=125000,
        fee_minor=30,
        currency="EUR",
        booked_at=datetime(2026, 4, 26, tzinfo=UTC),
        description="Order 42",
        row_id="r1",
        line=2,
        raw="eur,Order 42,1250.00,pi_1,2026-04-26,charge,0.30,r1",
    )
    assert (second.amount_minor, second.currency, second.type) == (1500, "JPY", "refund")
    assert second.booked_at == datetime(2026, 4, 26, 8, 15, tzinfo=UTC)
    assert (second.fee_minor, second.description, second.line) == (None, None, 3)


def test_defaults_minor_units_and_naive_timestamps() -> None:
    records, rejected = _parse(
        "provider_reference,amount_minor,currency,booked_at\npi_1,-300,EUR,2026-04-26 23:59:59\n"
    )
    assert rejected == []
    (record,) = records
    assert record.type == "charge"
    assert record.amount_minor == -300
    assert record.booked_at == datetime(2026, 4, 26, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("pi,10.00,,charge,2026-04-26", "currency is empty"),
        ("pi,10.00,XYZ,charge,2026-04-26", "currency: 'XYZ' is not an ISO 4217 currency code"),
        (
            "pi,10.001,EUR,charge,2026-04-26",
            "amount '10.001' has more decimals than EUR allows (2)",
        ),
        ("pi,1e3,EUR,charge,2026-04-26", "amount '1e3' is not a decimal amount in major units"),
        ('pi,"12,50",EUR,charge,2026-04-26', "amount '12,50' is not a decimal amount"),
        ("pi,,EUR,charge,2026-04-26", "amount is empty"),
        ("pi,10.00,EUR,chargeback,2026-04-26", "type 'chargeback' is not one of adjustment"),
        ("pi,10.00,EUR,charge,2026-02-30", "booked_at '2026-02-30' is not a valid date"),
        ("pi,10.00,EUR,charge,26/04/2026", "booked_at '26/04/2026' is not an ISO 8601 date"),
        ("pi,10.00,EUR,charge", "expected 5 fields, found 4"),
        ("pi,10.00,EUR,charge,2026-04-26,extra", "expected 5 fields, found 6"),
        ('pi,"10"0,EUR,charge,2026-04-26', "malformed CSV"),
    ],
)
def test_a_bad_row_is_rejected_with_its_line_and_a_precise_reason(row: str, reason: str) -> None:
    records, rejected = _parse(
        "provider_reference,amount,currency,type,booked_at\n"
        "ok_1,1.00,EUR,charge,2026-04-26\n"
        f"{row}\n"
        "ok_2,2.00,EUR,charge,2026-04-26\n"
    )
    assert [r.provider_reference for r in records] == ["ok_1", "ok_2"]
    assert [r.line for r in records] == [2, 4]
    assert len(rejected) == 1
    assert rejected[0][0] == 3
    assert reason in rejected[0][1]


def test_amount_and_amount_minor_must_agree() -> None:
    records, rejected = _parse(
        "provider_reference,amount,amount_minor,currency\n"
        "pi_1,12.50,1250,EUR\n"
        "pi_2,12.50,1205,EUR\n"
        "pi_3,,77,EUR\n"
    )
    assert [(r.provider_reference, r.amount_minor) for r in records] == [
        ("pi_1", 1250),
        ("pi_3", 77),
    ]
    assert rejected == [(3, "amount 12.50 EUR (1250 minor units) disagrees with amount_minor 1205")]


def test_currency_exponents_decide_the_decimals_allowed() -> None:
    records, rejected = _parse(
        "provider_reference,amount,currency\n"
        "jpy_ok,1500,JPY\n"
        "jpy_bad,1500.5,JPY\n"
        "kwd_ok,1.234,KWD\n"
        "kwd_bad,1.2345,KWD\n"
        "eur_short,7.5,EUR\n"
    )
    assert {r.provider_reference: r.amount_minor for r in records} == {
        "jpy_ok": 1500,
        "kwd_ok": 1234,
        "eur_short": 750,
    }
    assert [line for line, _ in rejected] == [3, 5]
    assert "more decimals than JPY allows (0)" in rejected[0][1]
    assert "more decimals than KWD allows (3)" in rejected[1][1]


def test_quoted_newlines_keep_physical_line_numbers_and_blank_rows_are_skipped() -> None:
    records, rejected = _parse(
        "provider_reference,amount,currency,description\r\n"
        'pi_1,1.00,EUR,"two\nlines"\r\n'
        "\r\n"
        ",,,\r\n"
        "pi_2,2.00,EUR,x\r\n"
    )
    assert rejected == []
    assert [(r.line, r.description) for r in records] == [(2, "two\nlines"), (6, "x")]
    assert records[0].raw == 'pi_1,1.00,EUR,"two\nlines"'


def test_semicolon_separated_files_are_read_by_their_header() -> None:
    records, rejected = _parse(
        "provider_reference;amount;currency\npi_1;12.50;EUR\npi_2;12,50;EUR\n"
    )
    assert [(r.provider_reference, r.amount_minor) for r in records] == [("pi_1", 1250)]
    assert rejected[0][0] == 3


def test_utf8_bom_and_utf16_are_decoded() -> None:
    text = "provider_reference,amount,currency,description\npi_1,1.00,EUR,Café\n"
    for content in (b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16")):
        parsed = parse_generic_csv(content)
        assert [r.description for r in parsed.records] == ["Café"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"  \n\n", "the file is empty"),
        (b"provider_reference,amount\npi_1,1.00\n", "lacks the required column(s) currency"),
        (b"pi_1,1.00,EUR\n", "lacks the required column(s) provider_reference, currency, amount"),
        (b"provider_reference,currency\npi,EUR\n", "amount (or amount_minor)"),
        (b"provider_reference,amount,currency\n\xff\xfe\x00bad", "not UTF-8 text"),
        (b"provider_reference,amount,amount,currency\n", "names the column 'amount' twice"),
    ],
)
def test_an_unreadable_file_is_refused_with_a_precise_reason(content: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFile) as refused:
        parse_generic_csv(content)
    assert reason in refused.value.detail


def test_a_file_with_only_a_header_is_an_empty_settlement() -> None:
    parsed = parse_generic_csv(b"provider_reference,amount,currency\n")
    assert parsed.records == []
    assert parsed.rejected == []


def test_format_detection() -> None:
    # The generic CSV is tried last: a PSP's own CSV report must be recognized first.
    assert known_formats()[-1] == "csv"
    assert detect_format(b"\xef\xbb\xbfProvider_Reference,amount,currency\n") == "csv"
    with pytest.raises(UnreadableFile, match="no known format recognizes this file"):
        detect_format(b"%PDF-1.7 binary")
    with pytest.raises(UnreadableFile, match="empty"):
        detect_format(b"\n")
    with pytest.raises(InvalidInput, match="unknown format 'mt941'"):
        parse_file(b"x", "mt941")


@pytest.mark.parametrize(
    "text", ["1e3", "12,50", "1_000", "NaN", "Infinity", " ", "1.", ".5", "+-1"]
)
def test_major_amounts_are_plain_decimals_only(text: str) -> None:
    with pytest.raises(InvalidAmount):
        read_major_amount(text, "EUR", "amount")


def test_amount_readers_are_exact() -> None:
    assert read_major_amount("-0.01", "EUR", "amount") == -1
    assert read_major_amount("90071992547409.91", "EUR", "amount") == 9007199254740991
    with pytest.raises(InvalidAmount, match="out of range"):
        read_major_amount("90071992547409.92", "EUR", "amount")
    assert read_minor_amount("+125000", "amount_minor") == 125000
    for bad in ("12.50", "١٢", "+-5", ""):
        with pytest.raises(InvalidAmount):
            read_minor_amount(bad, "amount_minor")


def test_timestamps_are_utc_and_strict() -> None:
    assert read_timestamp("2026-04-26T10:00:00Z", "t") == datetime(2026, 4, 26, 10, tzinfo=UTC)
    assert read_timestamp("2026-04-26T01:00:00-03:00", "t") == datetime(2026, 4, 26, 4, tzinfo=UTC)
    for bad in ("20260426", "2026-W17-1", "2026-04-26T25:00", "yesterday"):
        with pytest.raises(InvalidInput):
            read_timestamp(bad, "t")


# --- property: serialize, parse, hash --------------------------------------------------------

_CURRENCIES = {"EUR": 2, "JPY": 0, "KWD": 3, "USD": 2}
_row = st.fixed_dictionaries(
    {
        "provider_reference": st.from_regex(r"[A-Za-z0-9_]{1,20}", fullmatch=True),
        "currency": st.sampled_from(sorted(_CURRENCIES)),
        "amount_minor": st.integers(min_value=-(10**15), max_value=10**15),
        "fee_minor": st.none() | st.integers(min_value=0, max_value=10**6),
        "type": st.sampled_from(["charge", "refund", "payout", "fee", "adjustment"]),
        "booked_at": st.none()
        | st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ),
        "description": st.none()
        | st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1).filter(
            lambda s: s.strip() == s
        ),
        "row_id": st.none() | st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True),
    }
)


def _serialize(rows: list[dict[str, object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)  # a bare "\r" in a field must be quoted
    writer.writerow(
        [
            "provider_reference",
            "amount",
            "currency",
            "type",
            "booked_at",
            "fee",
            "description",
            "row_id",
        ]
    )
    for row in rows:
        currency = str(row["currency"])
        booked = row["booked_at"]
        fee = row["fee_minor"]
        writer.writerow(
            [
                row["provider_reference"],
                format_major(int(row["amount_minor"]), currency),  # type: ignore[call-overload]
                currency,
                row["type"],
                booked.isoformat() if isinstance(booked, datetime) else "",
                format_major(fee, currency) if isinstance(fee, int) else "",
                row["description"] or "",
                row["row_id"] or "",
            ]
        )
    return out.getvalue().encode()


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(_row, min_size=1, max_size=25), seed=st.integers())
def test_parse_round_trips_amounts_and_shuffling_keeps_the_content_hashes(
    rows: list[dict[str, object]], seed: int
) -> None:
    parsed = parse_generic_csv(_serialize(rows))
    assert parsed.rejected == []
    assert [(r.amount_minor, r.fee_minor, r.currency) for r in parsed.records] == [
        (row["amount_minor"], row["fee_minor"], row["currency"]) for row in rows
    ]
    assert [r.booked_at for r in parsed.records] == [row["booked_at"] for row in rows]
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    reparsed = parse_generic_csv(_serialize(shuffled))
    hashes = Counter(parsed_record_content_hash(r) for r in parsed.records)
    assert hashes == Counter(parsed_record_content_hash(r) for r in reparsed.records)


_flat_values = (
    st.none() | st.text() | st.integers(min_value=-(2**60), max_value=2**60) | st.booleans()
)


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(st.text(min_size=1, max_size=8), _flat_values, max_size=8))
def test_the_fast_flat_hash_is_exactly_the_canonical_hash(value: dict[str, object]) -> None:
    try:
        expected = canonical_hash(value)
    except Exception as exc:  # what JCS refuses, the fast path must refuse the same way
        with pytest.raises(type(exc)):
            flat_canonical_hash(value)  # type: ignore[arg-type]
        return
    assert flat_canonical_hash(value) == expected  # type: ignore[arg-type]


def test_the_fast_flat_hash_on_escapes() -> None:
    tricky = {"a": '"\\\x00\x1f\x7f\b\t\n\f\r é 𝄞 \u2028', "b": -(2**53 - 1), "c": None}
    assert flat_canonical_hash(tricky) == canonical_hash(tricky)
