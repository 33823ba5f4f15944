# ruff: noqa: E501 - the SPOT_ROWS table keeps one row per line, as the files do
"""PSP CSV reports on every real corpus file: Adyen, PayPal activity/statements, Stripe.

Expected values were read off the files: row counts and types per file, first/last rows by hand,
and per-currency totals computed independently with ``csv.DictReader`` and ``Decimal`` (the
Adyen batch 380 also balances: its amounts net of fees, the fee row and the payout add to zero).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zentra.ingest.sources import ParsedFile
from zentra.ingest.sources.csv_generic import looks_like_generic_csv
from zentra.ingest.sources.psp_csv import (
    looks_like_adyen_settlement,
    looks_like_paypal_activity,
    looks_like_paypal_statement,
    looks_like_stripe_balance,
    parse_adyen_settlement,
    parse_paypal_activity,
    parse_paypal_statement,
    parse_stripe_balance,
)
from zentra.kit.errors import UnreadableFile

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus"

ADYEN_238 = CORPUS / "adyen" / "settlement_detail_report_batch_238.csv"
ADYEN_380 = CORPUS / "adyen" / "settlement_detail_report_batch_380.csv"
ACTIVITY = CORPUS / "paypal" / "activity_en.csv"
STATEMENT_EN = CORPUS / "paypal" / "statement_en.csv"
STATEMENT_ES = CORPUS / "paypal" / "statement_es.csv"
STRIPE = CORPUS / "stripe" / "stripe.csv"

PARSERS: dict[Path, Callable[[bytes], ParsedFile]] = {
    ADYEN_238: parse_adyen_settlement,
    ADYEN_380: parse_adyen_settlement,
    ACTIVITY: parse_paypal_activity,
    STATEMENT_EN: parse_paypal_statement,
    STATEMENT_ES: parse_paypal_statement,
    STRIPE: parse_stripe_balance,
}
SNIFFERS: dict[str, Callable[[bytes], bool]] = {
    "adyen": looks_like_adyen_settlement,
    "paypal_activity": looks_like_paypal_activity,
    "paypal_statement": looks_like_paypal_statement,
    "stripe": looks_like_stripe_balance,
}
OWN_SNIFFER = {
    ADYEN_238: "adyen",
    ADYEN_380: "adyen",
    ACTIVITY: "paypal_activity",
    STATEMENT_EN: "paypal_statement",
    STATEMENT_ES: "paypal_statement",
    STRIPE: "stripe",
}

# file -> (record count, types, {currency: sum of amounts}, {currency: sum of fees})
TOTALS: dict[Path, tuple[int, dict[str, int], dict[str, int], dict[str, int]]] = {
    ADYEN_238: (3, {"adjustment": 2, "fee": 1}, {"USD": 0}, {}),
    ADYEN_380: (
        228,
        {"charge": 220, "refund": 6, "fee": 1, "payout": 1},
        {"USD": 5682775 - 109195 - 3810 - 5530807},
        {"USD": 38963},
    ),
    ACTIVITY: (
        76,
        {"charge": 28, "adjustment": 34, "payout": 14},
        {"USD": 292778, "EUR": 4334, "AUD": 0},
        {"USD": 292588, "EUR": 0, "AUD": 0},
    ),
    STATEMENT_EN: (
        19,
        {"charge": 7, "adjustment": 8, "payout": 4},
        {"USD": 109680, "EUR": 0},
        {"USD": 81650, "EUR": 0},
    ),
    STATEMENT_ES: (4, {"charge": 4}, {"EUR": 4937 + 2882 + 3578 + 2247}, {"EUR": 536}),
    STRIPE: (2, {"charge": 1, "refund": 1}, {"USD": 1200 - 77}, {"USD": 0}),
}


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# file -> [(line, type, amount, fee, currency, booked_at, reference, row_id, group, description)]
SPOT_ROWS: dict[Path, list[tuple[object, ...]]] = {
    ADYEN_238: [
        (2, "adjustment", 45433199, None, "USD", _at(2022, 2, 21, 23, 24, 23), "", "Balancetransfer", "238", "Balancetransfer from batch 237"),
        (3, "fee", -9, None, "USD", _at(2022, 3, 2, 1, 21, 49), "", "Transaction Fees March     01 2022", "238", "Transaction Fees March     01 2022"),
        (4, "adjustment", -45433190, None, "USD", _at(2022, 3, 2, 1, 21, 49), "", "Balancetransfer", "238", "Balancetransfer to batch 239"),
    ],
    ADYEN_380: [
        (2, "charge", 3145, 30, "USD", _at(2021, 1, 4, 23, 21, 32), "1829098024817852", "7429098024927090", "380", "CM1000028854"),
        (228, "fee", -3810, None, "USD", _at(2021, 1, 6, 23, 46, 38), "", "Transaction Fees January   05 2021", "380", "Transaction Fees January   05 2021"),
        (229, "payout", -5530807, None, "USD", _at(2021, 1, 6, 23, 46, 38), "", "TX635094301XT batch 380, YOURCOMPANY_ACCOUNT", "380", "TX635094301XT batch 380, YOURCOMPANY_ACCOUNT"),
    ],
    ACTIVITY: [
        # 29/12/2015 07:45:51 PST -> 15:45:51 UTC
        (2, "charge", 8400, 425, "USD", _at(2015, 12, 29, 15, 45, 51), "TID1", "TID1", None, "General Payment"),
        (77, "adjustment", 389758, 0, "EUR", _at(2016, 11, 2, 1, 39, 27), "TID76", "TID76", None, "General Currency Conversion"),
    ],
    STATEMENT_EN: [
        # 9/4/2018 21:15:11 America/Los_Angeles (PDT) -> 5 Sep 04:15:11 UTC
        (2, "payout", -105809, 0, "EUR", _at(2018, 9, 5, 4, 15, 11), "TID1", "TID1", None, "General Withdrawal - Bank Account"),
        # 9/27/2018 18:16:12 CET (the IANA zone CET is on summer time in September: +2)
        (17, "charge", 92070, 3437, "USD", _at(2018, 9, 27, 16, 16, 12), "TID16", "TID16", None, "Express Checkout Payment"),
        (20, "charge", 29230, 1112, "USD", _at(2018, 10, 1, 4, 22, 33), "TID19", "TID19", None, "Express Checkout Payment"),
    ],
    STATEMENT_ES: [
        # 2/1/2020 11:05:56 Europe/Berlin, day first (Spanish) -> 2 Jan 10:05:56 UTC
        (2, "charge", 4937, 178, "EUR", _at(2020, 1, 2, 10, 5, 56), "TID1", "TID1", None, "Pago estándar"),
        (5, "charge", 2247, 100, "EUR", _at(2020, 1, 3, 8, 44, 24), "TID4", "TID4", None, "Pago estándar"),
    ],
    STRIPE: [
        (2, "charge", 1200, 0, "USD", _at(2020, 1, 23, 8, 26, 29), "txn_14G11HjubSIHf9IKrvJdwN", "txn_14G11HjubSIHf9IKrvJdwN", None, None),
        (3, "refund", -77, 0, "USD", _at(2020, 1, 23, 8, 26, 31), "txn_14G11HjHgubIH9ZvbPgYO7", "txn_14G11HjHgubIH9ZvbPgYO7", None, "REFUND FOR PAYMENT"),
    ],
}  # fmt: skip


def test_the_corpus_is_where_the_tests_expect_it() -> None:
    assert CORPUS.is_dir(), CORPUS
    files = {p for fmt in ("adyen", "paypal", "stripe") for p in (CORPUS / fmt).iterdir()}
    assert files == set(PARSERS)


@pytest.mark.parametrize("path", sorted(PARSERS), ids=lambda p: p.name)
def test_every_corpus_file_gives_its_exact_records(path: Path) -> None:
    parsed = PARSERS[path](path.read_bytes())
    assert parsed.rejected == []
    count, types, amounts, fees = TOTALS[path]
    assert len(parsed.records) == count
    assert Counter(r.type for r in parsed.records) == Counter(types)
    got_amounts: Counter[str] = Counter()
    got_fees: Counter[str] = Counter()
    for record in parsed.records:
        got_amounts[record.currency] += record.amount_minor
        if record.fee_minor is not None:
            got_fees[record.currency] += record.fee_minor
        assert record.booked_at is not None
        assert record.booked_at.tzinfo is UTC
    assert {c: got_amounts[c] for c in amounts} == amounts
    assert {c: got_fees[c] for c in fees} == fees
    assert set(got_amounts) == set(amounts)
    by_line = {r.line: r for r in parsed.records}
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    for spot in SPOT_ROWS[path]:
        record = by_line[spot[0]]  # type: ignore[index]
        got = (
            record.line,
            record.type,
            record.amount_minor,
            record.fee_minor,
            record.currency,
            record.booked_at,
            record.provider_reference,
            record.row_id,
            record.group_key,
            record.description,
        )
        assert got == spot
        assert record.raw == lines[record.line - 1]


def test_adyen_batch_380_balances_to_zero_after_fees_and_payout() -> None:
    records = parse_adyen_settlement(ADYEN_380.read_bytes()).records
    assert sum(r.amount_minor - (r.fee_minor or 0) for r in records) == 0


def test_adyen_columns_are_read_by_name_whatever_their_order() -> None:
    lines = ADYEN_238.read_text().splitlines()
    rows = [line.split(",") for line in lines]
    order = list(reversed(range(len(rows[0]))))
    shuffled = "\n".join(",".join(row[i] for i in order) for row in rows).encode()
    original = parse_adyen_settlement(ADYEN_238.read_bytes()).records
    reordered = parse_adyen_settlement(shuffled).records
    assert [r[:9] for r in reordered] == [r[:9] for r in original]


def test_paypal_pending_rows_are_kept_and_say_so() -> None:
    records = parse_paypal_activity(ACTIVITY.read_bytes()).records
    pending = [r for r in records if r.description == "General Withdrawal (Pending)"]
    assert len(pending) == 14
    assert all(r.type == "payout" and r.amount_minor < 0 for r in pending)
    first = next(r for r in pending)
    assert (first.amount_minor, first.currency) == (-1243137, "EUR")  # "-12,431.37"


def test_paypal_other_statuses_and_unknown_types_are_rejected() -> None:
    text = ACTIVITY.read_text(encoding="utf-8-sig")
    text = text.replace('"General Payment","Completed"', '"General Payment","Denied"', 1)
    text = text.replace('"Payment Hold"', '"Mystery Event"', 1)
    parsed = parse_paypal_activity(text.encode())
    reasons = {row.line: row.reason for row in parsed.rejected}
    assert reasons[2] == "status 'Denied' is neither Completed nor Pending"
    assert any("PayPal type 'Mystery Event' is not mapped" in r for r in reasons.values())
    assert len(parsed.records) == 74


def test_paypal_fee_that_does_not_add_up_is_rejected() -> None:
    text = STATEMENT_ES.read_text().replace('"-1,78"', '"-1,77"', 1)
    parsed = parse_paypal_statement(text.encode())
    assert [row.line for row in parsed.rejected] == [2]
    assert "is not net" in parsed.rejected[0].reason


def test_spanish_amount_with_english_separators_is_rejected() -> None:
    text = STATEMENT_ES.read_text().replace('"49,37"', '"49.37"', 1)
    parsed = parse_paypal_statement(text.encode())
    assert [row.line for row in parsed.rejected] == [2]
    assert "'49.37' is not an amount like -4.626,81" in parsed.rejected[0].reason


def test_english_paypal_dates_whose_order_nothing_settles_are_rejected() -> None:
    header, *rows = STATEMENT_EN.read_text().splitlines()
    kept = [row for row in rows if row.startswith('"9/4/2018"')]
    parsed = parse_paypal_statement("\n".join([header, *kept]).encode())
    assert parsed.records == []
    assert len(parsed.rejected) == len(kept) == 4
    assert "is ambiguous (day/month or month/day)" in parsed.rejected[0].reason


def test_a_file_mixing_date_orders_is_refused() -> None:
    header, first, *_ = STATEMENT_EN.read_text().splitlines()
    day_first = first.replace('"9/4/2018"', '"27/9/2018"')
    month_first = first.replace('"9/4/2018"', '"9/27/2018"')
    with pytest.raises(UnreadableFile, match="mixes day/month/year and month/day/year"):
        parse_paypal_statement("\n".join([header, day_first, month_first]).encode())


def test_a_local_time_skipped_by_daylight_saving_is_rejected() -> None:
    text = STATEMENT_ES.read_text().replace('"2/1/2020","11:05:56"', '"29/3/2020","02:30:00"')
    parsed = parse_paypal_statement(text.encode())
    assert [row.line for row in parsed.rejected] == [2]
    assert "does not exist in Europe/Berlin" in parsed.rejected[0].reason
    text = STATEMENT_ES.read_text().replace('"2/1/2020","11:05:56"', '"25/10/2020","02:30:00"')
    parsed = parse_paypal_statement(text.encode())
    assert [row.line for row in parsed.rejected] == [2]
    assert "is ambiguous in Europe/Berlin" in parsed.rejected[0].reason


def test_stripe_net_must_be_gross_minus_fee() -> None:
    text = STRIPE.read_text().replace('"12.00","0.00","12.00"', '"12.00","0.30","12.00"')
    parsed = parse_stripe_balance(text.encode())
    assert [row.line for row in parsed.rejected] == [2]


def test_stripe_balance_history_export_uses_source_and_payout() -> None:
    content = (
        b"id,Type,Source,Amount,Fee,Net,Currency,Created (UTC),Description,Transfer\n"
        b"txn_1,charge,ch_1,1234.50,36.10,1198.40,eur,2024-05-01 10:00,Order 7,po_9\n"
    )
    (record,) = parse_stripe_balance(content).records
    assert (record.provider_reference, record.row_id, record.group_key) == ("ch_1", "txn_1", "po_9")
    assert (record.amount_minor, record.fee_minor, record.currency) == (123450, 3610, "EUR")
    assert record.booked_at == _at(2024, 5, 1, 10)


@pytest.mark.parametrize(
    ("parser", "content"),
    [
        (parse_adyen_settlement, b"provider_reference,amount,currency\nx,1.00,EUR\n"),
        (parse_paypal_activity, b"a,b\n1,2\n"),
        (parse_paypal_statement, b"Date,Time\n"),
        (parse_stripe_balance, b""),
        (parse_stripe_balance, b"\xff\xfe\x00garbage\xff"),
    ],
)
def test_files_that_are_not_the_report_are_refused(
    parser: Callable[[bytes], ParsedFile], content: bytes
) -> None:
    with pytest.raises(UnreadableFile):
        parser(content)


def _other_files() -> list[Path]:
    formats = ("ofx", "nacha", "camt053", "camt054", "mt940", "bai2")
    return sorted(p for fmt in formats for p in (CORPUS / fmt).iterdir())


@pytest.mark.parametrize("sniffer", sorted(SNIFFERS))
@pytest.mark.parametrize("path", sorted(PARSERS), ids=lambda p: p.name)
def test_each_sniffer_recognizes_only_its_own_reports(sniffer: str, path: Path) -> None:
    assert SNIFFERS[sniffer](path.read_bytes()) == (OWN_SNIFFER[path] == sniffer)


@pytest.mark.parametrize("path", _other_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sniffers_reject_other_formats(path: Path) -> None:
    content = path.read_bytes()
    assert not any(sniff(content) for sniff in SNIFFERS.values())


def test_sniffers_reject_the_generic_csv() -> None:
    content = b"provider_reference,amount,currency,type,fee,net,id\nabc,1.00,EUR,charge,0,1,x\n"
    assert looks_like_generic_csv(content)
    assert not any(sniff(content) for sniff in SNIFFERS.values())


_SAMPLES = [(path.read_bytes(), parser) for path, parser in sorted(PARSERS.items())]


def _parse_or_refuse(parser: Callable[[bytes], ParsedFile], content: bytes) -> None:
    try:
        parsed = parser(content)
    except UnreadableFile:
        return
    for record in parsed.records:
        assert isinstance(record.amount_minor, int)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(PARSERS)), st.binary(max_size=1000))
def test_random_bytes_never_raise_anything_but_unreadable(path: Path, content: bytes) -> None:
    header = path.read_bytes().split(b"\n", 1)[0] + b"\n"
    _parse_or_refuse(PARSERS[path], content)
    _parse_or_refuse(PARSERS[path], header + content)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(_SAMPLES),
    st.lists(st.tuples(st.integers(0, 50000), st.binary(max_size=4)), max_size=6),
)
def test_mutated_corpus_never_raises_anything_but_unreadable(
    sample: tuple[bytes, Callable[[bytes], ParsedFile]], edits: list[tuple[int, bytes]]
) -> None:
    original, parser = sample
    content = bytearray(original)
    for position, replacement in edits:
        at = position % (len(content) + 1)
        content[at : at + len(replacement)] = replacement
    _parse_or_refuse(parser, bytes(content))
