"""Peak memory of the matching engine alone, on ReconBench data; prints JSON.

``python -m bench.recon.engine_memory --size 1m --seed 42 [--rows N] [--option JSON ...]
[--workdir DIR]``

1. Generates the data set (or reuses the cached one, as ``bench.recon.run`` does), then builds
   the engine's two input tables the way a run does: the settlement file through the columnar
   CSV parser, the movements through the columnar NDJSON reader, reference keys and ids as
   ingestion makes them, then ``prepare_external`` / ``prepare_internal``. Both tables are
   cached beside the data set as Arrow IPC files (built in a child process, so that this one
   stays small).
2. For each ``--option`` (a JSON object of keyword arguments for ``match_records``, e.g.
   ``'{"partitions": 8}'``; default one run with ``{}``) starts a child process that reads the
   two tables into memory, notes its peak RSS (see :func:`_peak_rss_mb`), runs
   ``match_records`` once while a thread samples DuckDB's ``duckdb_memory()`` every
   50 ms, and notes its peak RSS again.
3. Prints ONE JSON object: per option the input rows, the RSS before the engine and the peak
   during it (MB), their difference (what the engine added at its peak), DuckDB's sampled peak
   of buffer-managed memory and of spilled bytes, its ``memory_limit`` setting, wall and CPU
   seconds, and the fingerprint (identical fingerprints across options are checked: exit 1
   otherwise).

Each configuration runs in its own process because the peak RSS is a high-water mark and
freed memory is not always returned to the system: a second run in the same process would
measure the first.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from bench.recon.generate import data_set, rows_for_size
from bench.recon.run import DEFAULT_WORKDIR

INPUTS_VERSION = "1"  # bump when the way the inputs are built changes
_SAMPLE_SECONDS = 0.05
_MB = 1024 * 1024


def build_inputs(data: Path) -> tuple[pa.Table, pa.Table]:
    """The engine's two inputs from a data set's files, as a run builds them from the store."""
    from zentra.ingest.bulk_values import new_ids, reference_keys
    from zentra.ingest.movements_columnar import read_ndjson_columns
    from zentra.ingest.sources.csv_fast import parse_generic_csv_columns
    from zentra.matching.columns import prepare_external, prepare_internal

    parsed = parse_generic_csv_columns((data / "settlement.csv").read_bytes())
    if parsed.rejected:
        raise SystemExit(f"the settlement file has {len(parsed.rejected)} rejected rows")
    records = parsed.table
    external_raw = (
        records.select(
            [
                "content_hash",
                "provider_reference",
                "type",
                "amount_minor",
                "fee_minor",
                "currency",
                "booked_at",
                "description",
                "counterparty",
                "group_key",
            ]
        )
        .append_column("id", new_ids("ext", records.num_rows))
        .append_column("reference_key", reference_keys(records["provider_reference"]))
    )
    movements = read_ndjson_columns((data / "movements.ndjson").read_bytes())
    if movements is None or movements.python_rows:
        raise SystemExit("the movements file did not read column-wise whole")
    table = movements.table
    internal_raw = pa.table(
        {
            "movement_id": table["movement_id"],
            "provider_reference": table["provider_reference"],
            "reference_key": reference_keys(table["provider_reference"]),
            "type": table["type"],
            "amount_minor": table["amount_minor"],
            "currency": table["currency"],
            "occurred_on": pc.cast(table["occurred_at"], pa.date32()),
            # Every generated movement lies in the ledger window of the run.
            "in_window": pa.repeat(pa.scalar(True), table.num_rows),
            "metadata_json": table["metadata"],
        }
    )
    return prepare_external(external_raw), prepare_internal(internal_raw)


def _input_paths(data: Path) -> tuple[Path, Path]:
    folder = data / f"engine-inputs-v{INPUTS_VERSION}"
    return folder / "external.arrow", folder / "internal.arrow"


def write_inputs(data: Path) -> None:
    """Build the inputs of ``data`` and write them as Arrow IPC files beside it."""
    paths = _input_paths(data)
    paths[0].parent.mkdir(exist_ok=True)
    for path, table in zip(paths, build_inputs(data), strict=True):
        with ipc.new_file(path, table.schema) as writer:
            writer.write_table(table)


def _cached_inputs(data: Path) -> tuple[Path, Path]:
    """The input files of ``data``, built in a child process when missing, so that this
    process stays small (its children would otherwise inherit its peak; see _peak_rss_mb)."""
    paths = _input_paths(data)
    if not all(path.exists() for path in paths):
        _run_self(["--build-inputs", str(data)])
    return paths


def _run_self(arguments: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.recon.engine_memory", *arguments],
        capture_output=True,
        text=True,
        check=False,
    )


def _read(path: Path) -> pa.Table:
    """The whole table in this process's memory (no memory map), as a run holds its inputs."""
    with pa.OSFile(str(path), "rb") as source:
        return ipc.open_file(source).read_all()


def _peak_rss_mb() -> float:
    """This process's peak RSS: the larger of ``ru_maxrss`` and the ``VmHWM`` of its memory.

    Linux keeps ``ru_maxrss`` across ``exec``: a child started from a large parent reports
    the parent's size at the fork. ``VmHWM`` belongs to the new address space alone. The
    parent stays small (inputs are built in a child of their own), so both agree here.
    """
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    hwm_mb = int(fields["VmHWM"].split()[0]) / 1024  # kB
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return max(hwm_mb, maxrss_mb)


class _Sampler(threading.Thread):
    """Samples DuckDB's memory on a cursor of the engine's connection."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.cursor: duckdb.DuckDBPyConnection | None = None
        self.stop = threading.Event()
        self.duckdb_peak_mb = 0.0
        self.spilled_peak_mb = 0.0
        self.memory_limit: str | None = None

    def run(self) -> None:
        while not self.stop.wait(_SAMPLE_SECONDS):
            cursor = self.cursor
            if cursor is None:
                continue
            try:
                used, spilled = cursor.sql(
                    "SELECT sum(memory_usage_bytes), sum(temporary_storage_bytes) "
                    "FROM duckdb_memory()"
                ).fetchall()[0]
                self.memory_limit = str(
                    cursor.sql("SELECT current_setting('memory_limit')").fetchall()[0][0]
                )
            except duckdb.Error:
                continue  # the engine closed its connection
            self.duckdb_peak_mb = max(self.duckdb_peak_mb, int(used or 0) / _MB)
            self.spilled_peak_mb = max(self.spilled_peak_mb, int(spilled or 0) / _MB)


def child(external_path: Path, internal_path: Path, options: dict[str, Any]) -> dict[str, Any]:
    """One engine run in this process; see the module docstring."""
    from zentra.matching.engine import match_records
    from zentra.matching.workspace import Workspace

    external, internal = _read(external_path), _read(internal_path)
    rss_before = _peak_rss_mb()
    sampler = _Sampler()
    connect = duckdb.connect

    def observed_connect(*args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
        connection = connect(*args, **kwargs)
        if sampler.cursor is None:  # the engine's workspace is the first connection
            sampler.cursor = connection.cursor()
        return connection

    close = Workspace.close

    def stop_sampling_and_close(self: Workspace) -> None:
        # The sampler's cursor must stop before the engine closes the database under it.
        sampler.stop.set()
        sampler.join()
        if sampler.cursor is not None:
            sampler.cursor.close()
        close(self)

    duckdb.connect = observed_connect
    Workspace.close = stop_sampling_and_close  # type: ignore[method-assign]
    sampler.start()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    outcome = match_records(external, internal, **options)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    duckdb.connect = connect
    Workspace.close = close  # type: ignore[method-assign]
    peak = _peak_rss_mb()
    return {
        "options": options,
        "external_rows": external.num_rows,
        "internal_rows": internal.num_rows,
        "rss_before_mb": round(rss_before),
        "rss_peak_mb": round(peak),
        "engine_added_mb": round(peak - rss_before),
        "duckdb_peak_mb": round(sampler.duckdb_peak_mb),
        "duckdb_spilled_peak_mb": round(sampler.spilled_peak_mb),
        "duckdb_memory_limit": sampler.memory_limit,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime, 2),
        "matches": outcome.matches.num_rows,
        "exceptions": outcome.exceptions.num_rows,
        "result_fingerprint": outcome.result_fingerprint,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1m")
    parser.add_argument("--rows", type=int, help="exact row count (overrides --size)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument(
        "--option",
        action="append",
        type=json.loads,
        help="keyword arguments for match_records as JSON, e.g. '{\"partitions\": 8}'",
    )
    parser.add_argument("--child", nargs=3, metavar=("EXTERNAL", "INTERNAL", "OPTIONS"))
    parser.add_argument("--build-inputs", type=Path, metavar="DATA")
    args = parser.parse_args(argv)
    if args.build_inputs:
        write_inputs(args.build_inputs)
        return 0
    if args.child:
        external_path, internal_path, options = args.child
        print(json.dumps(child(Path(external_path), Path(internal_path), json.loads(options))))
        return 0
    rows = args.rows if args.rows is not None else rows_for_size(args.size)
    data, _manifest, _cached = data_set(args.workdir, seed=args.seed, rows=rows)
    external_path, internal_path = _cached_inputs(data)
    runs = []
    for options in args.option or [{}]:
        completed = _run_self(
            ["--child", str(external_path), str(internal_path), json.dumps(options)]
        )
        if completed.returncode != 0:
            errors = [line for line in completed.stderr.splitlines() if "leaked" not in line]
            runs.append(
                {
                    "options": options,
                    "exit_code": completed.returncode,
                    "failed": "\n".join(errors[-20:]),
                }
            )
            continue
        runs.append(json.loads(completed.stdout.splitlines()[-1]))
    fingerprints = {run["result_fingerprint"] for run in runs if "result_fingerprint" in run}
    print(json.dumps({"rows": rows, "seed": args.seed, "runs": runs}, indent=2))
    return 0 if len(fingerprints) <= 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
