"""The migrations build exactly the schema the models describe, on both databases, and carry
existing rows over."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, insert, select
from sqlalchemy.engine import make_url

from tests.fixtures.databases import POSTGRES_ADMIN_URL
from zentra.kit.db import Database
from zentra.kit.migrate import upgrade_database
from zentra.models import Base, ExternalRecord, SettlementFile, Tenant


def test_models_and_migrations_agree(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


@pytest.fixture(params=["sqlite", "postgresql"])
def unmigrated_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database no migration has run on yet. PostgreSQL's sessions run in a time zone east of
    UTC, where a day taken in the session's zone instead of UTC is another day."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'unmigrated.db'}")
        yield database
        database.dispose()
        return
    name = f"zentra_m_{uuid.uuid4().hex[:16]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
            connection.exec_driver_sql(f"ALTER DATABASE {name} SET timezone TO 'Asia/Tokyo'")
        database = Database(
            make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        )
        try:
            yield database
        finally:
            database.dispose()
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        admin.dispose()


def _file(file_id: str, status: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "tenant_id": "ten_1",
        "provider": "stripe",
        "file_id": None,
        "filename": f"{file_id}.csv",
        "format": "stripe_csv",
        "sha256": file_id.ljust(64, "0"),
        "size_bytes": 1,
        "content": b"x",
        "status": status,
        "refusal_reason": None,
        "rows": 2,
        "rejected_rows": [],
        "uploaded_by": "key_1",
        "created_at": datetime(2026, 4, 21, tzinfo=UTC),
    }


def _record(record_id: str, file_id: str, booked_at: datetime) -> dict[str, Any]:
    return {
        "id": record_id,
        "tenant_id": "ten_1",
        "settlement_file_id": file_id,
        "provider": "stripe",
        "line": 1,
        "row_id": None,
        "provider_reference": "pi_1",
        "reference_key": "pi_1",
        "type": "charge",
        "amount_minor": 100,
        "fee_minor": None,
        "currency": "EUR",
        "booked_at": booked_at,
        "description": None,
        "group_key": None,
        "counterparty": None,
        "raw": "{}",
        "content_hash": record_id.ljust(64, "0"),
        "details": None,
    }


def test_a_parsed_files_business_date_is_backfilled_as_its_latest_booked_utc_day(
    unmigrated_db: Database,
) -> None:
    upgrade_database(unmigrated_db, "2026_11_21_0010")
    with unmigrated_db.engine.begin() as connection:
        connection.execute(
            insert(Tenant),
            [{"id": "ten_1", "name": "t", "settings": {}, "created_at": datetime.now(UTC)}],
        )
        connection.execute(
            insert(SettlementFile),
            [_file("parsed", "parsed"), _file("refused", "refused"), _file("empty", "parsed")],
        )
        connection.execute(
            insert(ExternalRecord),
            [
                _record("r1", "parsed", datetime(2026, 4, 19, 10, 0, tzinfo=UTC)),
                # Late on the 20th in UTC: already the 21st east of it, still the 20th west.
                _record("r2", "parsed", datetime(2026, 4, 20, 23, 30, tzinfo=UTC)),
                _record("r3", "refused", datetime(2026, 4, 20, 12, 0, tzinfo=UTC)),
            ],
        )
    upgrade_database(unmigrated_db)
    with unmigrated_db.engine.connect() as connection:
        query = select(SettlementFile.id, SettlementFile.business_date)
        dates = dict(connection.execute(query).all())
    assert dates == {"parsed": date(2026, 4, 20), "refused": None, "empty": None}
