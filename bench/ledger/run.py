"""LedgerBench: batch posting against one entry per transaction, on PostgreSQL; prints JSON.

``python -m bench.ledger.run --entries 50000 [--baseline-entries 2000] [--accounts 200]
[--batch-size 8000] [--writers 2] [--seed 42] [--admin-url URL] [--keep]``

1. Creates a fresh database ``zentra_ledgerbench_<pid>`` on the server of ``--admin-url``
   (default: the local PostgreSQL, user postgres) and builds it with the real migrations.
2. Creates a tenant and ``--accounts`` EUR accounts: half assets, half liabilities.
3. Builds the entry requests (deterministic under ``--seed``): each moves a random amount from
   a random liability to a random asset with two postings. Building them is the client's work
   and is timed apart (``build_seconds``).
4. **Batch path**: :func:`zentra.ledger.service.post_entries_batch` in batches of
   ``--batch-size``, each batch in its own unit of work (committed), timed from the call to the
   commit.
5. **Baseline**: the same service, one entry per transaction (:func:`create_entry`, committed
   each), over ``--baseline-entries`` further entries.
6. **Concurrent writers** (``--writers`` > 1): as many threads, each posting
   ``entries / writers`` entries in batches into its own tenant, timed together
   (``concurrent_writers``).
7. Checks that the ledger holds: every entry stored, debits = credits over all accounts, and
   every account's sums equal its postings recomputed in SQL. Prints ONE JSON object, saves it
   to ``bench/results/ledger-<entries>-<date>.json`` unless ``--no-save``, and drops the
   database unless ``--keep``. Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.recon.run import machine_info, source_state
from zentra.kit.context import ActorContext
from zentra.kit.db import Database
from zentra.kit.migrate import upgrade_database
from zentra.ledger.schemas import AccountRequest, EntryRequest
from zentra.ledger.service import create_account, create_entry, post_entries_batch
from zentra.tenancy.service import create_tenant

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _admin(url: str, sql: str) -> None:
    with psycopg.connect(_dsn(url), autocommit=True) as connection:
        connection.execute(sql)  # type: ignore[arg-type]


def _backend_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) the PostgreSQL backend ``pid`` has used, when the server
    runs on this machine (``/proc``); None otherwise."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build_requests(count: int, accounts: int, seed: int, prefix: str) -> list[EntryRequest]:
    """``count`` two-posting EUR entries between random accounts, deterministic under ``seed``."""
    rng = random.Random(seed)
    half = accounts // 2
    start = datetime(2026, 4, 1, tzinfo=UTC)
    requests = []
    for index in range(count):
        amount = rng.randint(1, 1_000_000)
        requests.append(
            EntryRequest(
                entry_id=f"{prefix}{index:08d}",
                description="bench transfer",
                effective_at=start + timedelta(seconds=index),
                postings=[
                    {
                        "account": f"asset_{rng.randrange(half):04d}",
                        "direction": "debit",
                        "amount": amount,
                        "currency": "EUR",
                    },
                    {
                        "account": f"liability_{rng.randrange(half):04d}",
                        "direction": "credit",
                        "amount": amount,
                        "currency": "EUR",
                    },
                ],
                references={"provider_reference": f"pi_{prefix}{index}"},
            )
        )
    return requests


def check_ledger(database: Database, tenant_id: str, expected_entries: int) -> dict[str, Any]:
    """Counts and sums recomputed in SQL (system scope, read only)."""
    with database.engine.connect() as connection:
        entries = connection.execute(
            text("SELECT count(*) FROM ledger_entries WHERE tenant_id = :t"), {"t": tenant_id}
        ).scalar_one()
        debits, credits = connection.execute(
            text(
                "SELECT sum(posted_debits), sum(posted_credits) FROM ledger_accounts "
                "WHERE tenant_id = :t"
            ),
            {"t": tenant_id},
        ).one()
        mismatched = connection.execute(
            text(
                """
                SELECT count(*) FROM ledger_accounts a
                LEFT JOIN (
                    SELECT account_id,
                           sum(CASE direction WHEN 'debit' THEN amount ELSE 0 END) AS d,
                           sum(CASE direction WHEN 'credit' THEN amount ELSE 0 END) AS c
                    FROM ledger_postings WHERE tenant_id = :t GROUP BY account_id
                ) p ON p.account_id = a.id
                WHERE a.tenant_id = :t
                  AND (a.posted_debits <> coalesce(p.d, 0) OR a.posted_credits <> coalesce(p.c, 0))
                """
            ),
            {"t": tenant_id},
        ).scalar_one()
    return {
        "entries_stored": entries,
        "entries_expected": expected_entries,
        "debits_equal_credits": debits == credits,
        "accounts_off_their_postings": mismatched,
        "ok": entries == expected_entries and debits == credits and mismatched == 0,
    }


def setup_tenant(database: Database, name: str, accounts: int) -> ActorContext:
    """A new tenant with ``accounts`` EUR accounts (half assets, half liabilities)."""
    with database.unit_of_work() as session:
        tenant, _key = create_tenant(session, name)
    ctx = ActorContext(tenant.id, "key:bench", frozenset({"service"}))
    with database.unit_of_work(tenant.id) as session:
        for index in range(accounts // 2):
            for kind in ("asset", "liability"):
                create_account(
                    session,
                    ctx,
                    AccountRequest(code=f"{kind}_{index:04d}", type=kind, currency="EUR"),
                )
    return ctx


def post_in_batches(
    database: Database, ctx: ActorContext, requests: list[EntryRequest], batch_size: int
) -> None:
    """``requests`` through the batch path, ``batch_size`` per unit of work (committed)."""
    for start in range(0, len(requests), batch_size):
        chunk = requests[start : start + batch_size]
        with database.unit_of_work(ctx.tenant_id) as session:
            result = post_entries_batch(session, ctx, chunk, atomic=True)
        assert result.count("created") == len(chunk)


def run_concurrent(database: Database, args: argparse.Namespace) -> dict[str, Any]:
    """``--writers`` threads, each posting its share of ``--entries`` in batches into its own
    tenant: the server's throughput when several clients write at once. One tenant's writes
    are serialized by design (its audit chain), so concurrency is across tenants; on two cores
    one writer's Python runs while another's batch runs in PostgreSQL."""
    share = args.entries // args.writers
    writers = [
        (
            setup_tenant(database, f"ledgerbench-writer-{n}", args.accounts),
            build_requests(share, args.accounts, args.seed + 10 + n, f"w{n}_"),
        )
        for n in range(args.writers)
    ]
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.writers) as pool:
        for done in [
            pool.submit(post_in_batches, database, ctx, requests, args.batch_size)
            for ctx, requests in writers
        ]:
            done.result()
    seconds = time.perf_counter() - began
    checks = [check_ledger(database, ctx.tenant_id, share) for ctx, _ in writers]
    return {
        "writers": args.writers,
        "entries": share * args.writers,
        "seconds": round(seconds, 3),
        "entries_per_second": round(share * args.writers / seconds, 1),
        "ok": all(check["ok"] for check in checks),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    name = f"zentra_ledgerbench_{os.getpid()}"
    _admin(args.admin_url, f"DROP DATABASE IF EXISTS {name}")
    _admin(args.admin_url, f"CREATE DATABASE {name}")
    url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    try:
        upgrade_database(database)
        ctx = setup_tenant(database, "ledgerbench", args.accounts)

        started = time.perf_counter()
        batch_requests = build_requests(args.entries, args.accounts, args.seed, "b")
        baseline_requests = build_requests(args.baseline_entries, args.accounts, args.seed + 1, "s")
        build_seconds = time.perf_counter() - started
        # The requests stand for what clients send: keep the collector from walking all of
        # them on every full collection (a server holds one batch at a time, not 50,000).
        gc.collect()
        gc.freeze()

        batch_times = []
        client_cpu = 0.0
        server_cpu: float | None = 0.0
        for start in range(0, len(batch_requests), args.batch_size):
            chunk = batch_requests[start : start + args.batch_size]
            began, began_cpu = time.perf_counter(), time.process_time()
            with database.unit_of_work(ctx.tenant_id) as session:
                backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
                backend_began = _backend_cpu(backend)
                result = post_entries_batch(session, ctx, chunk, atomic=True)
            batch_times.append(time.perf_counter() - began)
            client_cpu += time.process_time() - began_cpu
            backend_ended = _backend_cpu(backend)
            if server_cpu is None or backend_began is None or backend_ended is None:
                server_cpu = None
            else:
                server_cpu += backend_ended - backend_began
            assert result.count("created") == len(chunk)
        batch_seconds = sum(batch_times)
        load = os.getloadavg()

        began = time.perf_counter()
        for request in baseline_requests:
            with database.unit_of_work(ctx.tenant_id) as session:
                create_entry(session, ctx, request)
        baseline_seconds = time.perf_counter() - began

        check = check_ledger(database, ctx.tenant_id, args.entries + args.baseline_entries)
        concurrent = run_concurrent(database, args) if args.writers > 1 else None
    finally:
        database.dispose()
        if not args.keep:
            _admin(args.admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    batch_rate = args.entries / batch_seconds
    cpu_seconds = client_cpu + server_cpu if server_cpu is not None else None
    baseline_rate = args.baseline_entries / baseline_seconds if args.baseline_entries else None
    return {
        "benchmark": "ledger",
        "database": "postgresql",
        "machine": machine_info(),
        "source": source_state(),
        "parameters": {
            "entries": args.entries,
            "batch_size": args.batch_size,
            "accounts": args.accounts,
            "baseline_entries": args.baseline_entries,
            "seed": args.seed,
            "postings_per_entry": 2,
        },
        "build_seconds": round(build_seconds, 3),
        "batch": {
            "seconds": round(batch_seconds, 3),
            "entries_per_second": round(batch_rate, 1),
            "postings_per_second": round(2 * batch_rate, 1),
            "batches": len(batch_times),
            "seconds_per_batch": [round(t, 3) for t in batch_times],
            # CPU used by this process and by its PostgreSQL backend during the batches. They
            # take turns, so their sum is what the batches need on an otherwise idle machine;
            # wall seconds above also count waiting for cores other processes hold.
            "cpu_seconds": {
                "client": round(client_cpu, 3),
                "server": round(server_cpu, 3) if server_cpu is not None else None,
            },
            "entries_per_cpu_second": round(args.entries / cpu_seconds, 1) if cpu_seconds else None,
            "load_average_1_5_15": [round(x, 2) for x in load],
        },
        "baseline_one_entry_per_transaction": {
            "entries": args.baseline_entries,
            "seconds": round(baseline_seconds, 3),
            "entries_per_second": round(baseline_rate, 1) if baseline_rate else None,
        },
        "speedup": round(batch_rate / baseline_rate, 1) if baseline_rate else None,
        "concurrent_writers": concurrent,
        "check": {**check, "ok": check["ok"] and (concurrent is None or concurrent["ok"])},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--baseline-entries", type=int, default=2_000)
    parser.add_argument("--batch-size", type=int, default=8_000)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--writers", type=int, default=2, help="concurrent writers (own tenants); 1: skip"
    )
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    if (
        args.entries < 1
        or not 1 <= args.batch_size <= 8_000
        or args.accounts < 2
        or not 1 <= args.writers <= args.entries
    ):
        parser.error("--entries >= 1, --batch-size 1..8000, --accounts >= 2, --writers 1..entries")
    result = run(args)
    text_out = json.dumps(result, indent=None)
    print(text_out)
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        day = datetime.now(UTC).date().isoformat()
        (RESULTS / f"ledger-{args.entries}-{day}.json").write_text(
            json.dumps(result, indent=2) + "\n"
        )
    return 0 if result["check"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
