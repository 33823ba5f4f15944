"""The columnar movements import gives the per-row Python import's answer exactly.

Same :class:`ImportResult` (counts, rejected lines, movement ids and reasons) and the same stored
movements (content hash included), on generated NDJSON and CSV bodies full of bad rows, into an
empty tenant and on top of earlier imports, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.conftest import make_tenant
from zentra.ingest.hashing import movement_content_hash
from zentra.ingest.movement_rows import read_movement
from zentra.ingest.service import ImportResult, import_movements
from zentra.kit.context import system_context
from zentra.kit.db import Database
from zentra.kit.errors import InvalidInput
from zentra.models import Movement

_VALUES: dict[str, list[Any]] = {
    "movement_id": ["m1", "m2", "m3", " m1 ", "", None, 5, "x" * 201, "é"],
    "type": ["payment", "REFUND", " fee ", "wire", "", 3, "ﬀ", "card"],
    "provider": ["rail", " rail ", "", None, "p" * 101],
    "provider_reference": ["pi_1", "PI 1", "", "Straße", "r" * 201],
    "amount": [
        125000,
        -300,
        0,
        "300",
        " 42 ",
        "12.50",
        12.5,
        125000.0,
        "",
        None,
        True,
        2**53 - 1,
        2**53,
        -(2**53) + 1,
        2**64,
        "+7",
        "١٢",
    ],
    "currency": ["EUR", "eur", " JPY ", "KWD", "XXX", "", None, 7, "ＥＵＲ"],  # noqa: RUF001
    "status": ["succeeded", " captured ", "", "s" * 41, None],
    "occurred_at": [
        "2026-04-26",
        "2026-04-26T23:30:00-02:00",
        "2026-04-27T01:30:00Z",
        "2026-04-26 10:00:00.5",
        "2026-04-26t10:00z",
        "2026-04-26T10:00+0200",
        "2026-02-30",
        "26/04/2026",
        "",
        None,
        "0001-01-01T00:00:00-01:00",
        "1969-12-31T23:59:59.999999Z",
    ],
    "ledger_entry_id": ["le_1", "", "  ", None, 9, "l" * 201],
    "metadata": [
        {},
        {"order": 7},
        {"b": 1, "a": "é"},
        {"nested": {"x": [1, 2.5, None, True]}},
        {"big": 2**60},
        {"float": 1.0},
        [1],
        "",
        "text",
        None,
    ],
}
_OPTIONAL = ("ledger_entry_id", "metadata")


@st.composite
def _rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    for _ in range(draw(st.integers(0, 10))):
        row: dict[str, Any] = {}
        for name, values in _VALUES.items():
            if name in _OPTIONAL and draw(st.booleans()):
                continue
            if draw(st.integers(0, 30)) == 0:
                continue  # a required field left out
            # Mostly one of the first two (good) values, so that many rows are imported.
            pool = values[:2] if draw(st.integers(0, 3)) else values
            row[name] = draw(st.sampled_from(pool))
        rows.append(row)
    return rows


_NDJSON_ODDITIES = [
    "",
    "   ",
    "{not json",
    "[1, 2]",
    '"text"',
    '{"movement_id": "m9", "amount": NaN}',
    '{"movement_id": "m9", "x": [1,]}',
    '{"movement_id": "m9", "movement_id": "m1"}',
    '{"movement_id": "\\ud800", "type": "fee"}',
]


@st.composite
def _ndjson(draw: st.DrawFn) -> bytes:
    lines = [json.dumps(row) for row in draw(_rows())]
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(st.sampled_from(_NDJSON_ODDITIES)))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    return (ending.join(lines) + draw(st.sampled_from([ending, ""]))).encode()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


@st.composite
def _csv(draw: st.DrawFn) -> bytes:
    names = list(_VALUES)
    if draw(st.booleans()):
        names = draw(st.permutations(names))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for row in draw(_rows()):
        kind = draw(st.sampled_from(["row", "row", "row", "short", "blank"]))
        values = [_csv_value(row.get(name)) for name in names]
        if kind == "short":
            values = values[:-1]
        elif kind == "blank":
            values = []
        writer.writerow(values)
    return buffer.getvalue().encode()


def _stored(db: Database, tenant_id: str) -> list[tuple[Any, ...]]:
    with db.unit_of_work(tenant_id) as session:
        movements = session.scalars(
            select(Movement).where(Movement.tenant_id == tenant_id).order_by(Movement.id)
        ).all()
        return [
            (
                m.movement_id,
                m.type,
                m.provider,
                m.provider_reference,
                m.reference_key,
                m.amount_minor,
                m.currency,
                m.status,
                m.occurred_at.isoformat(),
                m.occurred_on,
                m.ledger_entry_id,
                m.metadata_,
                m.content_hash,
            )
            for m in movements
        ]


def _import(
    db: Database, tenant_id: str, content: bytes, content_type: str, engine: str
) -> ImportResult | str:
    with db.unit_of_work(tenant_id) as session:
        try:
            return import_movements(
                session,
                system_context(tenant_id, "test"),
                content=content,
                content_type=content_type,
                engine=engine,  # type: ignore[arg-type]
            )
        except InvalidInput as refused:
            return f"refused: {refused.detail}"


def _compare(db: Database, bodies: list[bytes], content_type: str) -> None:
    """Import ``bodies`` in order into two fresh tenants, one per engine; all answers agree."""
    python = make_tenant(db, "python").tenant_id
    columnar = make_tenant(db, "columnar").tenant_id
    for body in bodies:
        expected = _import(db, python, body, content_type, "python")
        got = _import(db, columnar, body, content_type, "columnar")
        assert got == expected
    assert _stored(db, columnar) == _stored(db, python)


_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_SETTINGS
@given(bodies=st.lists(_ndjson(), min_size=1, max_size=2))
def test_ndjson_columnar_and_python_imports_agree(db: Database, bodies: list[bytes]) -> None:
    _compare(db, bodies, "application/x-ndjson")


@_SETTINGS
@given(bodies=st.lists(_csv(), min_size=1, max_size=2))
def test_csv_columnar_and_python_imports_agree(db: Database, bodies: list[bytes]) -> None:
    _compare(db, bodies, "text/csv")


@pytest.mark.parametrize(
    "body",
    [
        b'{"movement_id": "a"}\r{"movement_id": "b"}\n',  # a lone CR: the whole body to Python
        '{"movement_id": "a", "provider": "x\u2028y"}\n'.encode(),
        "\ufeff".encode() + b'{"movement_id": "a"}\n',
        b"",
        b"\xff\xfe",
    ],
)
def test_bodies_the_columnar_read_leaves_to_python_agree(db: Database, body: bytes) -> None:
    _compare(db, [body], "application/x-ndjson")


def test_the_columnar_hash_is_the_python_definition(db: Database) -> None:
    tenant_id = make_tenant(db, "hash").tenant_id
    row = {
        "movement_id": "m1",
        "type": "payment",
        "provider": "rail",
        "provider_reference": "pi_1",
        "amount": 125000,
        "currency": "EUR",
        "status": "succeeded",
        "occurred_at": "2026-04-26T23:30:00.25-02:00",
        "metadata": {"é": [1, 2.5], "a": None},
    }
    _import(db, tenant_id, json.dumps(row).encode(), "application/x-ndjson", "columnar")
    movement = read_movement(row)
    ((*_, stored_hash),) = _stored(db, tenant_id)
    assert stored_hash == movement_content_hash(**movement._asdict())
