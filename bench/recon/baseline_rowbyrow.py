"""Baseline: row-by-row matching with one indexed database query per provider row (Blnk's way).

``python -m bench.recon.baseline_rowbyrow --settlement S --movements M --output DIR
[--sample 20000] [--date-window-seconds 1800] [--json]``

What it emulates (``matching-research.md`` §1.1 and §6, baseline 2): Blnk stores the internal
transactions in a database, then for each external row sends an indexed query built from its
matching rule, evaluates candidates in order and takes the first hit, and writes one result row
per external row. Here:

1. **load**: every movement goes into an on-disk SQLite table (amounts as REAL major units, as
   Blnk's float64), indexed on ``provider_reference`` and on ``(currency, amount, occurred_at)``;
2. **match**, for each of the first ``--sample`` provider rows (the file is shuffled, so this is a
   random sample): a reference-equality query when the row has a reference; when that finds
   nothing, Blnk's default rule as one range query: same currency, amount within 1 %, occurred
   within ±1800 s of ``booked_at`` (a date, read as midnight UTC), first hit wins. There is no
   claimed-set: one movement can match several rows, as in Blnk;
3. **persist**: one ``INSERT`` per result, each its own transaction (autocommit; WAL,
   ``synchronous=NORMAL``), as Blnk writes per row.

The match stage runs on the sample only; its rate is extrapolated to the whole file:
``match_seconds = sample_seconds * external_rows / sample_rows``, and the JSON says
``"extrapolated": true``. No network round trip is paid (in-process SQLite), so this is an upper
bound for the pattern. It writes no ``matches.csv``: its quality is not scored.
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.recon.generate import EXPONENTS

AMOUNT_DRIFT = 0.01  # Blnk's example drift: 1 %
DATE_WINDOW_SECONDS = 1800  # Blnk's example date drift
DEFAULT_SAMPLE = 20_000


def _epoch(text: str) -> int:
    """Seconds since the epoch of an ISO date or a ``...Z`` timestamp (UTC)."""
    if len(text) == 10:
        text += "T00:00:00"
    return int(datetime.fromisoformat(text.replace("Z", "")).replace(tzinfo=UTC).timestamp())


def load_movements(connection: sqlite3.Connection, path: Path) -> int:
    """Load the movements NDJSON into table ``movements`` and build both indexes; return count."""
    connection.execute(
        "CREATE TABLE movements (movement_id TEXT PRIMARY KEY, provider_reference TEXT, "
        "currency TEXT, amount REAL, occurred_at INTEGER)"
    )

    def rows() -> Any:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                item = json.loads(line)
                divisor = 10.0 ** EXPONENTS.get(item["currency"], 2)
                yield (
                    item["movement_id"],
                    item["provider_reference"],
                    item["currency"],
                    item["amount"] / divisor,
                    _epoch(item["occurred_at"]),
                )

    with connection:
        connection.executemany("INSERT INTO movements VALUES (?, ?, ?, ?, ?)", rows())
        connection.execute("CREATE INDEX movements_reference ON movements (provider_reference)")
        connection.execute(
            "CREATE INDEX movements_amount ON movements (currency, amount, occurred_at)"
        )
    count: int = connection.execute("SELECT count(*) FROM movements").fetchone()[0]
    return count


def match_rows(
    connection: sqlite3.Connection,
    settlement: Path,
    *,
    sample: int,
    date_window: int,
) -> tuple[int, int]:
    """Match the first ``sample`` rows of ``settlement`` one by one; return (rows, matched)."""
    connection.execute(
        "CREATE TABLE results (row_id TEXT, movement_id TEXT, rule TEXT, status TEXT)"
    )
    by_reference = "SELECT movement_id FROM movements WHERE provider_reference = ? LIMIT 1"
    by_rule = (
        "SELECT movement_id FROM movements WHERE currency = ? AND amount BETWEEN ? AND ? "
        "AND occurred_at BETWEEN ? AND ? ORDER BY occurred_at LIMIT 1"
    )
    insert = "INSERT INTO results VALUES (?, ?, ?, ?)"
    rows = matched = 0
    with settlement.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if rows >= sample:
                break
            rows += 1
            hit = None
            rule = "reference"
            if row["provider_reference"]:
                hit = connection.execute(by_reference, (row["provider_reference"],)).fetchone()
            if hit is None:
                rule = "amount_currency_date"
                amount = abs(float(row["amount"]))
                at = _epoch(row["booked_at"])
                hit = connection.execute(
                    by_rule,
                    (
                        row["currency"],
                        amount * (1 - AMOUNT_DRIFT),
                        amount * (1 + AMOUNT_DRIFT),
                        at - date_window,
                        at + date_window,
                    ),
                ).fetchone()
            if hit is None:
                connection.execute(insert, (row["row_id"], None, None, "unmatched"))
            else:
                matched += 1
                connection.execute(insert, (row["row_id"], hit[0], rule, "matched"))
    return rows, matched


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def run(
    settlement: Path,
    movements: Path,
    output: Path,
    *,
    sample: int = DEFAULT_SAMPLE,
    date_window: int = DATE_WINDOW_SECONDS,
) -> dict[str, Any]:
    """Run the baseline; return measured and extrapolated seconds (see the module docstring)."""
    output.mkdir(parents=True, exist_ok=True)
    database = output / "rowbyrow.sqlite"
    for leftover in output.glob("rowbyrow.sqlite*"):
        leftover.unlink()
    external_rows = _count_lines(settlement) - 1
    started = time.perf_counter()
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    internal_rows = load_movements(connection, movements)
    loaded = time.perf_counter()
    rows, matched = match_rows(connection, settlement, sample=sample, date_window=date_window)
    sampled = time.perf_counter()
    connection.close()
    sample_seconds = sampled - loaded
    match_seconds = sample_seconds * external_rows / rows if rows else 0.0
    total = (loaded - started) + match_seconds
    return {
        "seconds": {
            "parse": round(loaded - started, 6),
            "match": round(match_seconds, 6),
            "total": round(total, 6),
        },
        "extrapolated": rows < external_rows,
        "sample_rows": rows,
        "sample_seconds": round(sample_seconds, 6),
        "sample_rows_per_second": round(rows / sample_seconds, 1) if sample_seconds else None,
        "sample_matched": matched,
        "date_window_seconds": date_window,
        "amount_drift": AMOUNT_DRIFT,
        "counts": {"external": external_rows, "internal": internal_rows},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settlement", type=Path, required=True)
    parser.add_argument("--movements", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--sample", type=int, default=DEFAULT_SAMPLE)
    parser.add_argument("--date-window-seconds", type=int, default=DATE_WINDOW_SECONDS)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(
        args.settlement,
        args.movements,
        args.output,
        sample=args.sample,
        date_window=args.date_window_seconds,
    )
    print(json.dumps(result) if args.json else result)


if __name__ == "__main__":
    main()
