"""Ingest at a million rows: parse and persist of a settlement CSV (and movements), old vs new.

Usage: ``.venv/bin/python bench/ingest/bench_ingest.py [--rows N] [--postgres URL]``. Prints one
JSON object of seconds. "old" is the Python parser plus SQLAlchemy executemany of dicts; "new"
is the columnar parser plus ``kit.bulk.bulk_insert``.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from zentra.ingest.bulk_values import new_ids, reference_keys
from zentra.ingest.hashing import parsed_record_content_hash
from zentra.ingest.sources.csv_fast import parse_generic_csv_columns
from zentra.ingest.sources.csv_generic import parse_generic_csv
from zentra.kit.bulk import bulk_insert
from zentra.kit.context import system_context
from zentra.kit.db import Database
from zentra.kit.ids import new_id
from zentra.kit.migrate import upgrade_database
from zentra.kit.references import reference_key
from zentra.models import ExternalRecord
from zentra.tenancy.service import create_tenant


def settlement_csv(rows: int) -> bytes:
    rng = random.Random(42)
    lines = ["row_id,provider_reference,type,amount,currency,booked_at,description,payout_id"]
    for i in range(rows):
        lines.append(
            f"r{i},pi_{i:016x},charge,{rng.randint(1, 10**6)}.{rng.randint(0, 99):02d},EUR,"
            f"2026-04-{1 + i % 28:02d},Order {i},po_{i // 200}"
        )
    return ("\n".join(lines) + "\n").encode()


def movements_ndjson(rows: int, metadata: bool = False) -> bytes:
    out = []
    for i in range(rows):
        row: dict[str, Any] = {
            "movement_id": f"m{i}",
            "type": "payment",
            "provider": "rail",
            "provider_reference": f"pi_{i:016x}",
            "amount": 1000 + i,
            "currency": "EUR",
            "status": "succeeded",
            # Distinct instants, as real movements have (no cache of repeated texts helps).
            "occurred_at": (
                f"2026-04-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{i // 60 % 60:02d}Z"
            ),
        }
        if metadata:
            row["metadata"] = {"payout_id": f"po_{i // 200}"}
        out.append(json.dumps(row))
    return ("\n".join(out) + "\n").encode()


def _timed(results: dict[str, float], key: str, action: Any) -> Any:
    start = time.perf_counter()
    value = action()
    results[key] = round(time.perf_counter() - start, 3)
    return value


def _file_row(session: Any, tenant_id: str) -> str:
    from zentra.kit.time import utcnow
    from zentra.models import SettlementFile

    file = SettlementFile(
        id=new_id("set"),
        tenant_id=tenant_id,
        provider="rail",
        file_id=None,
        filename=None,
        format="csv",
        sha256=new_id("req"),
        size_bytes=0,
        content=b"",
        status="parsed",
        refusal_reason=None,
        rows=0,
        rejected_rows=[],
        uploaded_by="bench",
        created_at=utcnow(),
    )
    session.add(file)
    session.flush()
    return file.id


def bench(
    url: str, content: bytes, movements: bytes, results: dict[str, float], tag: str, old: bool
) -> None:
    database = Database(url)
    upgrade_database(database)
    with database.unit_of_work() as session:
        tenant, _ = create_tenant(session, "bench")
    if old:
        parsed = _timed(results, f"{tag}.settlement.parse.old", lambda: parse_generic_csv(content))

        def persist_old() -> None:
            with database.unit_of_work(tenant.id) as session:
                file_id = _file_row(session, tenant.id)
                rows = [
                    {
                        "id": new_id("ext"),
                        "tenant_id": tenant.id,
                        "settlement_file_id": file_id,
                        "provider": "rail",
                        "line": r.line,
                        "row_id": r.row_id,
                        "provider_reference": r.provider_reference,
                        "reference_key": reference_key(r.provider_reference),
                        "type": r.type,
                        "amount_minor": r.amount_minor,
                        "fee_minor": r.fee_minor,
                        "currency": r.currency,
                        "booked_at": r.booked_at,
                        "description": r.description,
                        "group_key": r.group_key,
                        "counterparty": r.counterparty,
                        "raw": r.raw,
                        "content_hash": parsed_record_content_hash(r),
                    }
                    for r in parsed.records
                ]
                for start in range(0, len(rows), 5000):
                    session.execute(insert(ExternalRecord), rows[start : start + 5000])

        _timed(results, f"{tag}.settlement.persist.old", persist_old)
    columnar = _timed(
        results, f"{tag}.settlement.parse.new", lambda: parse_generic_csv_columns(content)
    )

    def persist_new() -> None:
        with database.unit_of_work(tenant.id) as session:
            file_id = _file_row(session, tenant.id)
            table = columnar.table
            count = table.num_rows
            import pyarrow as pa

            rows = (
                table.append_column("id", new_ids("ext", count))
                .append_column("tenant_id", pa.repeat(pa.scalar(tenant.id, pa.string()), count))
                .append_column(
                    "settlement_file_id", pa.repeat(pa.scalar(file_id, pa.string()), count)
                )
                .append_column("provider", pa.repeat(pa.scalar("rail", pa.string()), count))
                .append_column("reference_key", reference_keys(table.column("provider_reference")))
            )
            bulk_insert(session, ExternalRecord.__table__, rows)  # type: ignore[arg-type]

    _timed(results, f"{tag}.settlement.persist.new", persist_new)
    from zentra.ingest.service import import_movements

    def import_all(engine: str) -> None:
        # A fresh tenant per engine: each import starts from no movements.
        with database.unit_of_work() as session:
            target, _ = create_tenant(session, f"bench-{engine}")
        with database.unit_of_work(target.id) as session:
            outcome = import_movements(
                session,
                system_context(target.id, "bench"),
                content=movements,
                content_type="application/x-ndjson",
                engine=engine,  # type: ignore[arg-type]
            )
        assert outcome.imported == movement_count, outcome.rejected[:3]

    movement_count = movements.count(b"\n")
    if old:
        _timed(results, f"{tag}.movements.parse_and_persist.python", lambda: import_all("python"))
    _timed(results, f"{tag}.movements.parse_and_persist.columnar", lambda: import_all("columnar"))
    from zentra.ingest.movements_columnar import read_ndjson_columns

    _timed(results, f"{tag}.movements.parse_only.columnar", lambda: read_ndjson_columns(movements))
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres", default=None, help="URL of a DEDICATED, empty database (migrated here)"
    )
    parser.add_argument("--old", action="store_true", help="also time the old path")
    parser.add_argument("--movements", type=int, default=None)
    parser.add_argument(
        "--metadata", action="store_true", help="give every movement a small metadata object"
    )
    args = parser.parse_args()
    results: dict[str, float] = {}
    content = _timed(results, "generate.settlement", lambda: settlement_csv(args.rows))
    movements = _timed(
        results,
        "generate.movements",
        lambda: movements_ndjson(args.movements or args.rows, args.metadata),
    )
    with tempfile.TemporaryDirectory() as folder:
        bench(
            f"sqlite:///{Path(folder) / 'bench.db'}",
            content,
            movements,
            results,
            "sqlite",
            args.old,
        )
    if args.postgres:
        bench(args.postgres, content, movements, results, "postgresql", args.old)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
