"""Where the time of ``bulk_insert`` of a settlement file's external records goes on SQLite.

Usage: ``.venv/bin/python bench/ingest/profile_settlement_persist.py [--rows N]``. Prints one
JSON object of seconds: building the SQLite tuples from Arrow (per column) apart from
``executemany``, and ``executemany`` into ``external_records`` as migrated, without its two
secondary indexes, and into a copy keyed by rowid (no text primary key, no indexes).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_ingest import settlement_csv

from zentra.ingest.service.files import _external_record_rows
from zentra.ingest.sources.csv_fast import parse_generic_csv_columns
from zentra.kit.bulk import _sqlite_column
from zentra.kit.db import Database
from zentra.kit.migrate import upgrade_database
from zentra.models import ExternalRecord


def _timed(results: dict[str, float], key: str, action: Any) -> Any:
    start = time.perf_counter()
    value = action()
    results[key] = round(time.perf_counter() - start, 3)
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    results: dict[str, float] = {}
    parsed = parse_generic_csv_columns(settlement_csv(args.rows))
    rows = _external_record_rows(parsed.table, "ten_bench", "set_bench", "rail")
    table = ExternalRecord.__table__
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite:///{Path(folder) / 'p.db'}")
        upgrade_database(database)
        dialect = database.engine.dialect
        database.dispose()
        columns = [table.c[name] for name in rows.column_names]
        values = {}
        for column in columns:
            values[column.name] = _timed(
                results,
                f"to_python.{column.name}",
                lambda c=column: _sqlite_column(rows.column(c.name), c, dialect),
            )
        results["to_python.total"] = round(
            sum(v for k, v in results.items() if k.startswith("to_python.")), 3
        )
        tuples = _timed(results, "zip_tuples", lambda: list(zip(*values.values(), strict=True)))
        names = ", ".join(f'"{c.name}"' for c in columns)
        marks = ", ".join("?" for _ in columns)

        def insert(path: Path, target: str, setup: str | None) -> None:
            connection = sqlite3.connect(path, isolation_level=None)
            # As kit.db sets SQLite up (foreign keys off here: no parent file row exists; the
            # check is one probe of a one-row table per insert).
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            if setup:
                connection.executescript(setup)
            connection.execute("BEGIN")
            connection.executemany(f'INSERT INTO "{target}" ({names}) VALUES ({marks})', tuples)
            connection.commit()
            connection.close()

        db_path = Path(folder) / "p.db"
        for label, setup, target in [
            ("as_migrated", None, "external_records"),
            (
                "without_secondary_indexes",
                "DROP INDEX IF EXISTS ix_external_records_tenant_id;"
                " DROP INDEX IF EXISTS ix_external_records_file;"
                " DELETE FROM external_records;",
                "external_records",
            ),
            (
                "rowid_table_no_indexes",
                "CREATE TABLE plain AS SELECT * FROM external_records WHERE 0;",
                "plain",
            ),
        ]:
            _timed(results, f"executemany.{label}", lambda s=setup, t=target: insert(db_path, t, s))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
