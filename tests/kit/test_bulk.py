"""kit.bulk: rows written in bulk read back through the ORM exactly as if the ORM wrote them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from tests.conftest import TenantHandle, make_tenant
from zentra.kit.bulk import bulk_insert, json_text, utc_timestamps
from zentra.kit.db import Database
from zentra.models import Movement

_PLUS_TWO = timezone(timedelta(hours=2))


def _rows(tenant_id: str, prefix: str) -> list[dict[str, Any]]:
    moments = [
        datetime(2026, 4, 26, 23, 30, tzinfo=UTC),
        datetime(2026, 4, 27, 1, 30, 15, 123456, tzinfo=_PLUS_TWO),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    metadata: list[Any] = [
        {"order": "o1", "nested": {"a": [1, 2, None]}, "quote": 'x,"y"\n\\'},
        {},
        {"é": "𝄞\t\u2028"},
    ]
    return [
        {
            "id": f"mov_{prefix}{index}",
            "tenant_id": tenant_id,
            "movement_id": f"{prefix}{index}",
            "type": "payment",
            "provider": "rail",
            "provider_reference": ['pi, "quoted"', "", "line\nbreak"][index],
            "reference_key": "",
            "amount_minor": [-(2**53 - 1), 0, 2**53 - 1][index],
            "currency": "EUR",
            "status": "succeeded",
            "occurred_at": moment,
            "occurred_on": moment.astimezone(UTC).date(),
            "ledger_entry_id": [None, "", "le_1"][index],
            "metadata_": metadata[index],
            "content_hash": "0" * 64,
            "created_at": datetime(2026, 5, 1, tzinfo=UTC),
        }
        for index, moment in enumerate(moments)
    ]


def _arrow(rows: list[dict[str, Any]]) -> pa.Table:
    columns: dict[str, Any] = {}
    for key in rows[0]:
        name = "metadata" if key == "metadata_" else key
        values = [row[key] for row in rows]
        if isinstance(values[0], datetime):
            columns[name] = utc_timestamps(values)
        elif key == "metadata_":
            columns[name] = pa.array([json_text(v) for v in values], pa.string())
        elif isinstance(values[0], date):
            columns[name] = pa.array(values, pa.date32())
        else:
            columns[name] = pa.array(values)
    return pa.table(columns)


def _read_back(db: Database, tenant_id: str, prefix: str) -> list[dict[str, Any]]:
    with db.unit_of_work(tenant_id) as session:
        stored = session.scalars(
            select(Movement).where(Movement.movement_id.startswith(prefix)).order_by(Movement.id)
        )
        return [{column: getattr(m, column) for column in _rows("t", "p")[0]} for m in stored.all()]


def _without_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in ("id", "movement_id")} for row in rows]


def test_bulk_rows_read_back_as_orm_written_rows(db: Database, tenant: TenantHandle) -> None:
    orm_rows = _rows(tenant.tenant_id, "orm")
    dict_rows = _rows(tenant.tenant_id, "dict")
    arrow_rows = _rows(tenant.tenant_id, "arrow")
    with db.unit_of_work(tenant.tenant_id) as session:
        session.execute(insert(Movement), orm_rows)
        assert (
            bulk_insert(
                session,
                Movement.__table__,
                [
                    {("metadata" if k == "metadata_" else k): v for k, v in row.items()}
                    for row in dict_rows
                ],
            )
            == 3
        )
        assert bulk_insert(session, Movement.__table__, _arrow(arrow_rows)) == 3
    expected = _without_ids(_read_back(db, tenant.tenant_id, "orm"))
    assert expected[1]["occurred_at"] == datetime(2026, 4, 26, 23, 30, 15, 123456, tzinfo=UTC)
    assert expected[0]["metadata_"]["quote"] == 'x,"y"\n\\'
    for prefix in ("dict", "arrow"):
        assert _without_ids(_read_back(db, tenant.tenant_id, prefix)) == expected
    # The stored text on SQLite is byte-identical to what the ORM wrote.
    with db.engine.connect() as connection:
        if not db.is_postgres:
            raw = connection.exec_driver_sql(
                "SELECT movement_id, occurred_at, occurred_on, metadata FROM movements ORDER BY id"
            ).all()
            by_prefix: dict[str, list[tuple[Any, ...]]] = {}
            for movement_id, *values in raw:
                by_prefix.setdefault(movement_id.rstrip("012"), []).append(tuple(values))
            assert by_prefix["dict"] == by_prefix["orm"] == by_prefix["arrow"]


def test_empty_rows_insert_nothing(db: Database, tenant: TenantHandle) -> None:
    with db.unit_of_work(tenant.tenant_id) as session:
        assert bulk_insert(session, Movement.__table__, []) == 0
        assert bulk_insert(session, Movement.__table__, _arrow(_rows("x", "a")).slice(0, 0)) == 0


@pytest.mark.parametrize("shape", ["dicts", "arrow"])
def test_row_level_security_refuses_another_tenants_rows(postgres_db: Database, shape: str) -> None:
    from tests.conftest import make_tenant

    acme = make_tenant(postgres_db, "acme")
    other = make_tenant(postgres_db, "other")
    rows = _rows(other.tenant_id, "x")
    payload: Any = (
        _arrow(rows)
        if shape == "arrow"
        else [{("metadata" if k == "metadata_" else k): v for k, v in row.items()} for row in rows]
    )
    import psycopg

    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
        postgres_db.unit_of_work(acme.tenant_id) as session,
    ):
        bulk_insert(session, Movement.__table__, payload)
    with postgres_db.unit_of_work(other.tenant_id) as session:
        assert session.scalars(select(Movement)).all() == []


def _movement_rows(tenant_id: str, count: int, *, repeat_last: bool = False) -> pa.Table:
    rows = _rows(tenant_id, "seed")[1]
    ids = [f"m{index:06d}" for index in range(count)]
    if repeat_last:
        ids[-1] = ids[0]
    table = _arrow([rows])
    return pa.table(
        {
            name: (
                pa.array(ids)
                if name == "movement_id"
                else pa.array([f"mov_{index:026d}" for index in range(count)])
                if name == "id"
                else pa.repeat(table.column(name)[0], count)
            )
            for name in table.column_names
        }
    )


def _index_definitions(db: Database) -> list[tuple[str, str]]:
    with db.engine.connect() as connection:
        return [
            (name, sql)
            for name, sql in connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'movements' ORDER BY name"
            )
        ]


@contextmanager
def _traced(session: Session) -> Iterator[list[str]]:
    """The SQL statements SQLite runs on the session's connection inside the block."""
    statements: list[str] = []
    driver = session.connection().connection.driver_connection
    assert driver is not None
    driver.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        driver.set_trace_callback(None)


def test_a_large_load_into_an_empty_sqlite_table_rebuilds_the_same_indexes(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("zentra.kit.bulk.DEFERRED_INDEX_MIN_ROWS", 10)
    tenant = make_tenant(sqlite_db, "bulk")
    before = _index_definitions(sqlite_db)
    assert "uq_movements_tenant_id_movement_id" in {name for name, _sql in before}
    with sqlite_db.unit_of_work(tenant.tenant_id) as session, _traced(session) as statements:
        assert bulk_insert(session, Movement.__table__, _movement_rows(tenant.tenant_id, 50)) == 50
    dropped = [sql for sql in statements if sql.startswith("DROP INDEX")]
    rebuilt = [sql for sql in statements if sql.startswith("CREATE UNIQUE INDEX")]
    assert len(dropped) == len([name for name, sql in before if sql is not None])
    assert ["uq_movements_tenant_id_movement_id" in sql for sql in rebuilt] == [True]
    assert _index_definitions(sqlite_db) == before
    with sqlite_db.engine.connect() as connection:
        plan = " ".join(
            str(row[-1])
            for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT id FROM movements "
                "WHERE tenant_id = 't' AND movement_id = 'm000007'"
            )
        )
        assert "uq_movements_tenant_id_movement_id" in plan


def test_a_duplicate_key_in_a_large_load_fails_it_and_the_rollback_keeps_the_indexes(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("zentra.kit.bulk.DEFERRED_INDEX_MIN_ROWS", 10)
    tenant = make_tenant(sqlite_db, "bulk")
    before = _index_definitions(sqlite_db)
    rows = _movement_rows(tenant.tenant_id, 50, repeat_last=True)
    with (
        pytest.raises(sqlite3.IntegrityError, match="movement_id"),
        sqlite_db.unit_of_work(tenant.tenant_id) as session,
    ):
        bulk_insert(session, Movement.__table__, rows)
    assert _index_definitions(sqlite_db) == before
    with sqlite_db.unit_of_work(tenant.tenant_id) as session:
        assert session.scalars(select(Movement.id)).first() is None


def test_a_load_into_a_table_with_rows_keeps_its_indexes_in_place(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("zentra.kit.bulk.DEFERRED_INDEX_MIN_ROWS", 10)
    tenant = make_tenant(sqlite_db, "bulk")
    with sqlite_db.unit_of_work(tenant.tenant_id) as session:
        session.execute(insert(Movement), _rows(tenant.tenant_id, "first"))
        with _traced(session) as statements:
            bulk_insert(session, Movement.__table__, _movement_rows(tenant.tenant_id, 50))
    assert not [sql for sql in statements if "INDEX" in sql.upper()]
