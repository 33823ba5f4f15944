"""MT940 / MT942 parser, on every real corpus file and on small statements built here.

The expected values below were read from the files: each ``:61:`` line's physical line number,
its value date (or its MMDD entry date, the booking date), its mark (C/RD positive, D/RC
negative; ``CR``/``DR`` are C/D with the funds code R), its comma amount, and the currency of the
statement's ``:60F:`` (``:34F:`` in the MT942). They are written ``line:amount_minor:date``.
They were not copied from the parser's output; the mt-940 library is used as a second, independent
reading of the amounts where it can parse the file.
"""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import mt940 as mt940_library
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zentra.ingest.sources.base import ParsedFile, ParsedRecord
from zentra.ingest.sources.mt940 import (
    SOURCE_MT940,
    SOURCE_MT942,
    looks_like_mt940,
    looks_like_mt942,
    parse_mt940,
)
from zentra.kit.errors import UnreadableFile
from zentra.kit.money import currency_exponent

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus"
MT940_DIR = CORPUS / "mt940"


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


SEPA_MT9401 = """
5:30000:2007-09-04 8:33533:2007-09-04 11:1500000:2007-09-04 14:6629508:2007-09-04
16:91531155:2007-09-04 19:-20488:2007-09-04 21:-99994695:2007-09-04 30:1500005:2007-09-04
38:-50025000:2007-09-04 48:5005:2007-09-04 54:12588:2007-09-04 59:12500488:2007-09-04
64:-32660966:2007-09-04 67:-32660966:2007-09-04 77:25000000:2007-09-04 82:30000000:2007-09-04
87:50000000:2007-09-04 99:20488:2007-09-04 101:-20488:2007-09-04 103:-5099005:2007-09-04
108:-17545422:2007-09-04 111:-50025000:2007-09-04 121:5099005:2007-09-04 132:1999005:2007-09-04
137:-5734:2007-09-04 144:-500217:2007-09-04 150:-500217:2007-09-04 163:-500217:2007-09-04
170:-500217:2007-09-04 177:-500217:2007-09-04 184:-5534411:2007-09-04 198:5000:2007-09-04
201:5005:2007-09-04 204:5005:2007-09-04 207:4650007:2007-09-04 211:15455193:2007-09-04
215:-255000:2007-09-04 218:-255012:2007-09-04 221:-255012:2007-09-04 230:-6550015:2007-09-04
233:-40210400:2007-09-04 236:-47692144:2007-09-04 246:33533:2007-09-04 249:91531155:2007-09-04
252:-15734:2007-09-04 257:-600217:2007-09-04 262:-600217:2007-09-04 267:-600217:2007-09-04
278:-600217:2007-09-04 283:-600217:2007-09-04 288:-15534411:2007-09-04
294:-41560393:2007-09-04 297:-58910386:2007-09-04 301:-91564688:2007-09-04
311:1650007:2007-09-04 315:15455193:2007-09-04 319:-1399005:2007-09-04 325:-1999005:2007-09-04
331:-5099005:2007-09-04 336:-32660966:2007-09-04 345:-34210400:2007-09-04
349:-96210400:2007-09-04 353:-152210400:2007-09-04 363:1399005:2007-09-04 375:-5734:2007-09-04
380:-500217:2007-09-04 385:-500217:2007-09-04 390:-500217:2007-09-04 395:-500217:2007-09-04
406:-500217:2007-09-04 411:-1999005:2007-09-04 417:-5099005:2007-09-04 422:-5099005:2007-09-04
428:-5534411:2007-09-04 440:-34210400:2007-09-04 444:-95658805:2007-09-04
459:5099005:2007-09-04 470:1650007:2007-09-04 474:1999005:2007-09-04 478:5650007:2007-09-04
490:5099005:2007-09-04 495:15455193:2007-09-04 500:15455193:2007-09-04 504:-150000:2007-09-04
514:30000:2007-09-04 517:33533:2007-09-04 520:1500000:2007-09-04 523:1500005:2007-09-04
530:12500488:2007-09-04 535:91531155:2007-09-04 538:-357256903:2007-09-04
547:191005:2007-09-04 552:5099005:2007-09-04 556:-12530010:2007-09-04 566:-15000:2007-09-04
576:-15000:2007-09-04 586:5005:2007-09-04
"""

# file name -> (records, rejected lines with a word of their reason)
EXPECTED: dict[str, tuple[list[Row], list[tuple[int, str]]]] = {
    # ASN: full SWIFT envelope, 31 statements, 8 lines; the mt-940 library fails on it.
    "0708271685_09022020_164516.940.txt": (
        _rows(
            "6:-6500:2020-01-01 42:100000:2020-01-05 50:-80155:2020-01-05 198:-165:2020-01-25 "
            "233:82872:2020-01-29 241:-100000:2020-01-29 263:100018:2020-01-31 "
            "271:-90376:2020-01-31",
            "EUR",
        ),
        [],
    ),
    # Sberbank: CRLF, :NS: tags, "DF" = debit with funds code F (HUF).
    "171011_01234945.sta": (
        _rows("12:-240200:2017-10-11 24:-346000:2017-10-11 35:-357500:2017-10-11", "HUF"),
        [],
    ),
    # ABN AMRO: value date 110524 entry 0524, 110521 entry 0523 (booked the 23rd), "9," etc.
    "abnamro.sta": (
        _rows(
            "8:-900:2011-05-24 12:-1159:2011-05-23 14:-1163:2011-05-23 16:-1180:2011-05-23 "
            "18:-1345:2011-05-23 20:-1549:2011-05-23 23:-10700:2011-05-23 25:-14148:2011-05-23 "
            "36:-949:2011-05-24 38:-1500:2011-05-24",
            "EUR",
        ),
        [],
    ),
    # The :61: reads exactly; only the ?-structured :86: is malformed (dangling "?").
    "malformed_details.sta": (_rows("5:-23315:2017-09-14", "EUR"), []),
    # cmxl: the DEM statement (Deutsche Mark, not an ISO 4217 currency) is rejected line by
    # line; the EUR and PLN statements read ("DR800," = debit, funds code R, 800.00).
    "mt940.sta": (
        _rows("36:-80000:2002-11-02 38:300000:2002-11-02", "EUR")
        + _rows("53:2000000:2003-10-20 62:-1000000:2003-10-20 70:4000:2003-10-20", "PLN"),
        [(line, "DEM") for line in range(5, 26, 2)],
    ),
    # MT942: the currency is the :34F: floor limit's; "CN0,01" = credit, funds code N, 0.01.
    "mt942.sta": (
        _rows("7:1:2017-01-19 13:1:2017-01-19 19:1:2017-01-19", "PLN"),
        [],
    ),
    "rabobank.sta": (
        _rows(
            "6:-121328:2011-05-27 23:-4495:2011-06-17 26:-23656:2011-07-21 "
            "34:-8810:2012-08-29 39:-620:2012-08-29",
            "EUR",
        ),
        [],
    ),
    "raiffeisen-cmi.sta": (
        _rows(
            "6:206663700:2018-04-17 13:-1479000:2018-04-17 19:-305180000:2018-04-17 "
            "24:-389277:2018-04-17 28:-78924:2018-04-17 32:-157849:2018-04-17 "
            "36:-600000:2018-04-17",
            "HUF",
        ),
        [],
    ),
    "sepa_mt9401.sta": (_rows(SEPA_MT9401, "EUR"), []),
    # A :25: stands where the :86: of the only statement line belongs: rejected.
    "sepa_snippet_broken.sta": ([], [(5, ":25:")]),
    "test-sns.940": (
        _rows(
            "6:-71313:2017-12-27 14:-1018:2017-12-27 21:-1352:2017-12-27 29:-2561:2017-12-27 "
            "43:-1095:2017-12-28 50:0:2017-12-28 64:-90729:2017-12-29 71:-3500:2017-12-29",
            "EUR",
        ),
        [],
    ),
    # Behind a bogus ":9401:" first line, a readable Rabobank statement.
    "test-wrong-file.940": (_rows("6:40000:2014-01-02", "EUR"), []),
    "with_binary_character.sta": (
        _rows(
            "5:2700:2010-03-19 9:1306830:2010-03-19 12:-19328205:2010-03-19 22:112000:2010-03-19",
            "EUR",
        ),
        [],
    ),
}


def _parse(name: str) -> ParsedFile:
    return parse_mt940((MT940_DIR / name).read_bytes())


def _record(name: str, line: int) -> ParsedRecord:
    return next(r for r in _parse(name).records if r.line == line)


def test_the_corpus_is_found_and_every_file_has_an_expectation() -> None:
    assert CORPUS.is_dir(), CORPUS
    assert sorted(p.name for p in MT940_DIR.iterdir()) == sorted(EXPECTED)


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
        assert record.raw.startswith(":61:")
        assert record.type in {"charge", "payout", "fee", "adjustment", "reversal"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_amounts_agree_with_the_mt940_library_where_it_reads_the_file(name: str) -> None:
    """A second reading: mt-940 5.1.1's amounts, in file order, for every line we keep."""
    # By default mt-940 5.1.1 leaves a reversal of a credit (RC) positive; SWIFT books it as a
    # debit (the RC-balance test below proves it on the file's own balances), so opt in.
    library = mt940_library.models.Transactions(options=mt940_library.Options(reversal_sign=True))
    noise = io.StringIO()
    try:
        with contextlib.redirect_stdout(noise), contextlib.redirect_stderr(noise):
            library.parse((MT940_DIR / name).read_bytes().decode("utf-8", errors="replace"))
    except RuntimeError:
        assert name in {"0708271685_09022020_164516.940.txt", "test-sns.940"}
        return
    parsed = _parse(name)
    by_line: list[tuple[int, ParsedRecord | None]] = [(r.line, r) for r in parsed.records]
    by_line += [(r.line, None) for r in parsed.rejected]
    ours = [item for _, item in sorted(by_line, key=lambda pair: pair[0])]
    assert len(ours) == len(library.transactions)
    for record, transaction in zip(ours, library.transactions, strict=True):
        if record is None:
            continue
        amount = transaction.data["amount"]
        assert record.currency == amount.currency
        exponent = currency_exponent(record.currency)
        assert Decimal(record.amount_minor).scaleb(-exponent) == amount.amount


def test_asn_counterparty_from_the_line_after_61_and_iban_from_the_reference_slot() -> None:
    record = _record("0708271685_09022020_164516.940.txt", 6)
    assert record.counterparty == "hr gjlm paulissen (NL47INGB9999999999)"
    assert record.provider_reference == ""  # the slot held an IBAN, not a reference
    assert record.description == "Betaling sieraden"
    assert record.type == "payout"
    assert record.raw.splitlines()[0] == ":61:2001010101D65,00NOVBNL47INGB9999999999"
    assert "Betaling sieraden" in record.raw
    assert ":62F:" not in record.raw
    assert not record.raw.splitlines()[-1].isspace()


def test_structured_86_gives_end_to_end_id_and_counterparty() -> None:
    record = _record("sepa_mt9401.sta", 30)
    assert record.provider_reference == "EndToEndIdTFNR2000400001"  # NONREF: ?20EREF+ wins
    assert record.row_id == "0724710290621954"
    assert record.counterparty == (
        "Richter Renate 70 Zeichen Beginn Fuellzeichen xxxxxxxx (DE42100100100043921105)"
    )
    assert record.type == "charge"


def test_reversal_marks_and_return_booking_texts() -> None:
    storno = _record("sepa_mt9401.sta", 19)  # ":61:0709040904RCR204,88NRTINONREF"
    assert (storno.type, storno.amount_minor) == ("reversal", -20488)
    returned = _record("sepa_mt9401.sta", 5)  # ?00RETOURE: a rejected transfer coming back
    assert (returned.type, returned.provider_reference) == ("reversal", "TFNr 40005 MSGID")
    terugboeking = _record("rabobank.sta", 6)
    assert terugboeking.type == "reversal"
    assert terugboeking.provider_reference == "0121470966"
    # "CR"/"DR" are not reversals: C/D with the funds code R.
    assert _record("with_binary_character.sta", 5).type == "charge"
    assert _record("with_binary_character.sta", 12).type == "payout"


def test_a_reversal_of_a_credit_is_a_debit_by_the_statements_own_balances() -> None:
    """sepa_mt9401.sta, first statement: :60F:D...1234718,36 and :62F:D...1237628,23."""
    lines = [r for r in _parse("sepa_mt9401.sta").records if r.line <= 21]
    assert [r.line for r in lines] == [5, 8, 11, 14, 16, 19, 21]
    assert -123471836 + sum(r.amount_minor for r in lines) == -123762823


def test_a_cut_off_sepa_label_is_not_a_reference() -> None:
    record = _record("sepa_mt9401.sta", 38)  # ":61:...NTRFKREF+//BD7CFA74485E7E69"
    assert record.provider_reference == "BD7CFA74485E7E69"


def test_malformed_details_keep_what_reads() -> None:
    record = _record("malformed_details.sta", 5)
    assert record.provider_reference == "123/123/12345-----L1101234567890123"
    assert record.counterparty == "Finanzamt Muenchen Abteilung Erhebung (DE99700500000000012345)"


def test_mt942_references_and_slash_structured_name() -> None:
    assert _record("mt942.sta", 7).provider_reference == "MB170119012058"
    wrong = _record("test-wrong-file.940", 6)
    assert wrong.counterparty == "R. SMITH"
    assert wrong.description is not None
    assert "Test money paid by other partner:" in wrong.description


def test_non_utf8_text_shows_the_replacement_mark_instead_of_a_guess() -> None:
    record = _record("raiffeisen-cmi.sta", 6)
    assert record.description is not None
    assert "\ufffd" in record.description
    assert record.amount_minor == 206663700


def _statement(line61: str, balance: str = ":60F:C091231EUR100,00") -> bytes:
    text = f":20:REF\n:25:NL00BANK0123456789\n:28C:1/1\n{balance}\n{line61}\n:86:text\n-\n"
    return text.encode()


def test_entry_date_year_rolls_over_both_ways() -> None:
    forward = parse_mt940(_statement(":61:0912310101C1,00NTRFNONREF")).records[0]
    assert forward.booked_at == datetime(2010, 1, 1, tzinfo=UTC)
    back = parse_mt940(_statement(":61:1001011231D1,00NTRFNONREF")).records[0]
    assert back.booked_at == datetime(2009, 12, 31, tzinfo=UTC)
    assert back.amount_minor == -100


@pytest.mark.parametrize(
    ("line61", "balance", "reason"),
    [
        (":61:0913310101C1,00NTRFNONREF", ":60F:C091231EUR1,00", "valid YYMMDD"),
        (":61:0912311301C1,00NTRFNONREF", ":60F:C091231EUR1,00", "valid MMDD"),
        (":61:091231C1,005NTRFNONREF", ":60F:C091231EUR1,00", "more decimals"),
        (":61:091231C1.00NTRFNONREF", ":60F:C091231EUR1,00", "does not read"),
        (":61:091231X1,00NTRFNONREF", ":60F:C091231EUR1,00", "does not read"),
        (":61:091231C1,00NTRFNONREF", ":28:1", "currency"),
        (":61:091231C1,00NTRFNONREF", ":60F:C091231QQQ1,00", "ISO 4217"),
    ],
)
def test_unreadable_statement_lines_are_rejected_with_line_and_reason(
    line61: str, balance: str, reason: str
) -> None:
    parsed = parse_mt940(_statement(line61, balance))
    assert parsed.records == []
    assert [r.line for r in parsed.rejected] == [5]
    assert reason in parsed.rejected[0].reason


def test_lines_before_the_first_statement_header_are_rejected_not_dropped() -> None:
    content = b":25:X\n:61:091231C1,00NTRFNONREF\n" + _statement(":61:091231C2,00NTRFNONREF")
    parsed = parse_mt940(content)
    assert [r.amount_minor for r in parsed.records] == [200]
    assert [r.line for r in parsed.rejected] == [2]
    assert ":20:" in parsed.rejected[0].reason


@pytest.mark.parametrize("content", [b"", b"hello\nworld\n", b"\xff\xfe\x00", b":25:X\n:61:1\n"])
def test_a_file_with_no_statement_is_unreadable(content: bytes) -> None:
    with pytest.raises(UnreadableFile, match=":20:"):
        parse_mt940(content)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sniffing_recognizes_each_corpus_file_as_mt940_or_mt942(name: str) -> None:
    content = (MT940_DIR / name).read_bytes()
    if name == "mt942.sta":
        assert SOURCE_MT942.sniff(content)
        assert not SOURCE_MT940.sniff(content)
    else:
        assert SOURCE_MT940.sniff(content)
        assert not SOURCE_MT942.sniff(content)


@pytest.mark.parametrize(
    "path",
    [
        CORPUS / "camt053" / "camt053.v2.multi.statement.xml",
        *sorted((CORPUS / "bai2").iterdir()),
    ],
)
def test_sniffing_rejects_other_formats(path: Path) -> None:
    content = path.read_bytes()
    assert not looks_like_mt940(content)
    assert not looks_like_mt942(content)


def test_sniffing_rejects_a_generic_csv() -> None:
    csv = b"provider_reference,amount,currency\n:20:x,1.00,EUR\n"
    assert not looks_like_mt940(csv)
    assert not looks_like_mt942(csv)


CORPUS_BYTES = [p.read_bytes() for p in sorted(MT940_DIR.iterdir())]


def _outcome(content: bytes) -> None:
    try:
        result = parse_mt940(content)
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
