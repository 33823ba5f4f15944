"""The columnar CSV parser gives the Python parser's answer exactly, bad rows included."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zentra.ingest.hashing import parsed_record_content_hash
from zentra.ingest.sources.csv_fast import parse_generic_csv_columns
from zentra.ingest.sources.csv_generic import parse_generic_csv
from zentra.kit.errors import UnreadableFile

_COLUMNS = [
    "provider_reference",
    "amount",
    "amount_minor",
    "currency",
    "type",
    "booked_at",
    "fee",
    "fee_minor",
    "description",
    "row_id",
    "payout_id",
    "group_key",
    "counterparty",
    "extra",
]
_VALUES = {
    "provider_reference": ["pi_1", "", " pi 2 ", "x" * 201, "é", "Straße"],
    "amount": [
        "12.50",
        "-0.01",
        "+7",
        "1.5",
        "1.005",
        "1e3",
        "",
        " 3 ",
        "12,50",
        "١٢",
        "99999999999999.99",
        "900719925474099.1",
    ],
    "amount_minor": ["1250", "-1", "", "12.5", "+3", "9007199254740992"],
    "currency": ["EUR", "eur", " JPY", "KWD", "XXX", "", "XAU", "ＥＵＲ"],  # noqa: RUF001 - full-width on purpose
    "type": ["charge", "REFUND", "", "chargeback", " fee ", "payout", "ﬀ"],
    "booked_at": [
        "2026-04-26",
        "2026-02-30",
        "2026-04-26T10:00:00+02:00",
        "",
        "26/04/2026",
        " 2026-01-01 ",
        "0000-01-01",
    ],
    "fee": ["0.30", "", "1.001", "x"],
    "fee_minor": ["30", "", "31", "-"],
    "description": ["", "Order 42", " spaced\u3000", "\x1c"],
    "row_id": ["", "r1", "r" * 201],
    "payout_id": ["", "po_1"],
    "group_key": ["", "g" * 201, "b1"],
    "counterparty": ["", "ACME GmbH", "c" * 501],
    "extra": ["", "anything"],
}


@st.composite
def _files(draw: st.DrawFn) -> bytes:
    names = draw(
        st.lists(st.sampled_from(_COLUMNS), min_size=1, max_size=8, unique=True).map(
            lambda chosen: ["provider_reference", "currency", "amount", *chosen]
        )
    )
    names = list(dict.fromkeys(names))
    header = ",".join(draw(st.sampled_from([name, name.upper(), f" {name} "])) for name in names)
    lines = [header]
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["row", "row", "row", "quoted", "short", "blank", "commas"]))
        values = [draw(st.sampled_from(_VALUES[name])) for name in names]
        if kind == "quoted":
            values = [f'"{value}"' for value in values]
        elif kind == "short":
            values = values[:-1] or ["x", "y"]
        elif kind == "blank":
            values = [""]
        elif kind == "commas":
            values = [""] * len(names)
        lines.append(",".join(values))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    text = ending.join(lines) + draw(st.sampled_from([ending, ""]))
    return text.encode()


def _compare(content: bytes) -> None:
    try:
        expected = parse_generic_csv(content)
    except UnreadableFile as refused:
        reason = refused.detail
    else:
        reason = None
    if reason is not None:
        with pytest.raises(UnreadableFile) as also_refused:
            parse_generic_csv_columns(content)
        assert also_refused.value.detail == reason
        return
    columnar = parse_generic_csv_columns(content)
    got = columnar.to_parsed_file()
    assert got.rejected == expected.rejected
    assert got.records == expected.records
    assert [(r.booked_at.utcoffset() if r.booked_at else None) for r in got.records] == [
        (r.booked_at.utcoffset() if r.booked_at else None) for r in expected.records
    ]
    assert columnar.table.column("content_hash").to_pylist() == [
        parsed_record_content_hash(record) for record in expected.records
    ]


@settings(max_examples=150, deadline=None)
@given(content=_files())
def test_columnar_and_python_parsers_agree(content: bytes) -> None:
    _compare(content)


@pytest.mark.parametrize(
    "content",
    [
        b'provider_reference,amount,currency,description\npi_1,1.00,EUR,"two\nlines"\npi_2,x,EUR,\n',
        b"provider_reference;amount;currency\npi_1;1,00;EUR\n",
        b"provider_reference,amount,currency\rpi_1,1.00,EUR\r",
        b'provider_reference,amount,currency\npi,"10"0,EUR\nok,1.00,EUR\n',
        "provider_reference,amount,currency\npi_1,1.00,EUR\n".encode("utf-16"),
        b"\xef\xbb\xbfprovider_reference,amount,currency\npi_1,1.00,EUR\n",
        b"provider_reference,amount,amount,currency\n",
        b"\n\nprovider_reference,amount,currency\n\npi_1,1.00,EUR\n",
        b"provider_reference,amount\n",
    ],
)
def test_files_the_fast_path_leaves_to_python_get_the_same_answer(content: bytes) -> None:
    _compare(content)
