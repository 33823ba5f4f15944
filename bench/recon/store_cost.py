"""What a reconciliation run's rows cost SQLite: CPU per row written, table by table.

``python -m bench.recon.store_cost --size 100k --seed 42 [--workdir DIR]``

1. Runs ``zentra reconcile`` on the ReconBench data set of that size into a kept SQLite file.
2. Reads back every row the run wrote to its five large tables (movements, external records,
   matches, match links, exceptions) as Arrow tables.
3. Empties those tables (the file keeps its tenant, file and run rows for the foreign keys) and
   writes the rows again through :func:`zentra.kit.bulk.bulk_insert`, table by table, each in
   its own transaction, measuring this process's CPU seconds (user + system) around it:
   - ``as_migrated``: into the real table, with its keys, indexes and foreign keys;
   - ``bare``: into a table with the same columns and no key, index or constraint at all.
4. Prints one JSON object: per table rows, CPU seconds and microseconds per row for both, and
   the totals. CPU seconds, unlike wall seconds, do not move when other work shares the machine.

``bare`` is the floor for writing these rows through Python's ``sqlite3`` on this machine: what
is left when every index, key and constraint is gone. Everything above it is the cost of the
indexes that serve the API, idempotent imports and the database-enforced at-most-once matching.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
from sqlalchemy import BigInteger, Column, MetaData, Table, Text, text
from sqlalchemy.orm import Session

from bench.recon.generate import data_set, rows_for_size
from bench.recon.run import DEFAULT_WORKDIR, default_zentra, zentra_command
from zentra.kit.bulk import bulk_insert
from zentra.kit.db import Database
from zentra.models import ExternalRecord, Match, MatchLink, Movement, ReconciliationException

# In foreign-key order: emptied from the end, written from the start.
TABLES: list[Table] = [
    cast(Table, model.__table__)
    for model in (Movement, ExternalRecord, Match, MatchLink, ReconciliationException)
]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _read_table(database: Database, table: Table) -> pa.Table:
    """Every row of ``table`` as Arrow, values exactly as SQLite stores them (text timestamps)."""
    with database.engine.connect() as connection:
        cursor = connection.exec_driver_sql(f'SELECT * FROM "{table.name}"')
        names = list(cursor.keys())
        rows = cursor.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.table(
        {name: pa.array(list(values)) for name, values in zip(names, columns, strict=True)}
    )


def _plain_columns(table: Table, name: str) -> Table:
    """A table called ``name`` with ``table``'s columns bound as integer or text, nothing else.

    The captured values are SQLite's own (timestamps and JSON already text); binding them
    through the models' types would parse and re-render them, which a run never does.
    """
    columns = [
        Column(column.name, BigInteger() if _holds_integers(column) else Text())
        for column in table.columns
    ]
    return Table(name, MetaData(), *columns)


def _holds_integers(column: Column[Any]) -> bool:
    try:
        return column.type.python_type is int
    except NotImplementedError:
        return False


def _timed_insert(database: Database, table: Table, rows: pa.Table) -> float:
    """CPU seconds of one ``bulk_insert`` of ``rows`` into ``table`` and its commit."""
    started = _cpu_seconds()
    with database.engine.begin() as connection, Session(bind=connection) as session:
        bulk_insert(session, table, rows)
    return _cpu_seconds() - started


def measure(database_path: Path) -> dict[str, Any]:
    """Re-write the run's rows in ``database_path`` as described in the module docstring."""
    database = Database(f"sqlite:///{database_path}")
    try:
        captured = {table.name: _read_table(database, table) for table in TABLES}
        with database.engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM exception_activities")  # not measured
            for table in reversed(TABLES):
                connection.exec_driver_sql(f'DELETE FROM "{table.name}"')
        with closing(sqlite3.connect(database_path, isolation_level=None)) as raw:
            raw.execute("VACUUM")  # a compact file, as a fresh store would be
        results: dict[str, Any] = {}
        for table in TABLES:
            rows = captured[table.name]
            plain = _plain_columns(table, table.name)
            bare = _plain_columns(table, f"bare_{table.name}")
            with database.engine.begin() as connection:
                bare.create(connection)
            migrated_cpu = _timed_insert(database, plain, rows)
            bare_cpu = _timed_insert(database, bare, rows)
            with database.engine.begin() as connection:
                connection.execute(text(f'DROP TABLE "{bare.name}"'))
            results[table.name] = {
                "rows": rows.num_rows,
                "as_migrated_cpu_seconds": round(migrated_cpu, 3),
                "bare_cpu_seconds": round(bare_cpu, 3),
                "as_migrated_us_per_row": _per_row(migrated_cpu, rows.num_rows),
                "bare_us_per_row": _per_row(bare_cpu, rows.num_rows),
            }
    finally:
        database.dispose()
    total_rows = sum(result["rows"] for result in results.values())
    migrated = sum(result["as_migrated_cpu_seconds"] for result in results.values())
    bare = sum(result["bare_cpu_seconds"] for result in results.values())
    return {
        "tables": results,
        "total": {
            "rows": total_rows,
            "as_migrated_cpu_seconds": round(migrated, 3),
            "bare_cpu_seconds": round(bare, 3),
        },
    }


def _per_row(seconds: float, rows: int) -> float | None:
    return round(seconds / rows * 1e6, 2) if rows else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="100k")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    args = parser.parse_args(argv)
    data, _manifest, _cached = data_set(args.workdir, seed=args.seed, rows=rows_for_size(args.size))
    with tempfile.TemporaryDirectory(prefix="zentra-store-cost-") as directory:
        database_path = Path(directory) / "run.db"
        environment = {**os.environ, "ZENTRA_DATABASE_URL": f"sqlite:///{database_path}"}
        subprocess.run(
            zentra_command(default_zentra(), data),
            check=True,
            env=environment,
            stdout=subprocess.DEVNULL,
        )
        result = {"size": args.size, "seed": args.seed, **measure(database_path)}
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
