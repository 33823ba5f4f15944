"""ReconBench harness: Zentra against two baselines on the same generated files; prints JSON.

``python -m bench.recon.run --size 100k --seed 42 [--rows N] [--repeat 2] [--skip-rowbyrow]
[--skip-pandas] [--sample 20000] [--workdir DIR] [--no-save]``

1. Generates the data set into ``WORKDIR/recon-<rows>-seed<seed>/`` (or reuses it when its
   manifest says it was generated with the same seed, rows and generator version).
2. Runs ``zentra reconcile --json --output`` ``--repeat`` times as a child process (the venv's
   ``zentra``; a temporary SQLite store: ``ZENTRA_DATABASE_URL`` is removed from its environment
   unless ``--database-url`` is given), then the pandas baseline, then the row-by-row baseline,
   each as its own child process so that its peak RSS is its own (``os.wait4`` rusage).
3. Scores Zentra's and pandas' ``matches.csv``/``exceptions.csv`` against ``labels.jsonl``
   (:mod:`bench.recon.metrics`), and prints ONE JSON object: machine, data set, per system the
   seconds per stage, rows/s = (internal + external rows) / total seconds, peak RSS, quality; the
   speedups; Zentra's fingerprints over the repeats and whether they are identical.
4. Saves the same JSON to ``bench/results/recon-<size>-<date>.json`` unless ``--no-save``.

A system that fails (non-zero exit, no JSON) is reported with its exit code and the tail of its
stderr; the harness still scores whatever files it wrote and exits 0. It exits 1 only when
Zentra's fingerprints differ between repeats (a determinism failure).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.recon.generate import SIZES, data_set, rows_for_size
from bench.recon.metrics import Label, load_labels, score_output

REPO = Path(__file__).resolve().parents[2]
DEFAULT_WORKDIR = REPO / "bench" / ".work"
RESULTS = REPO / "bench" / "results"
PROVIDER = "rail_primary"


def machine_info() -> dict[str, Any]:
    """Cores, RAM, CPU model, OS, Python and the versions of the data libraries."""
    versions: dict[str, str | None] = {}
    for package in ("zentra", "duckdb", "pandas", "pyarrow", "numpy", "psutil", "rapidfuzz"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    memory_bytes = None
    cpu_model = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_bytes = int(line.split()[1]) * 1024
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "ram_gb": round(memory_bytes / 2**30, 1) if memory_bytes else None,
        "cpu": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def source_state() -> dict[str, Any]:
    """The commit Zentra runs from and whether ``src/`` differs from it (an editable install
    runs the working tree). Taken before the systems run."""
    status = _git("status", "--porcelain", "--untracked-files=no", "--", "src")
    return {"git_commit": _git("rev-parse", "HEAD") or None, "src_dirty": bool(status)}


def run_child(
    command: list[str], *, log_dir: Path, name: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``command`` to completion; return exit code, wall seconds, peak RSS (MB, of the child
    and the descendants it waited for, from ``os.wait4``), the last JSON object it printed on
    stdout (or None) and the tail of its stderr."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = log_dir / f"{name}.stdout", log_dir / f"{name}.stderr"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        started = time.perf_counter()
        try:
            process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env, cwd=REPO)
        except OSError as error:  # e.g. no zentra executable: report it, keep benchmarking
            return {
                "exit_code": None,
                "wall_seconds": None,
                "peak_rss_mb": None,
                "cpu_seconds": None,
                "json": None,
                "stderr_tail": f"could not start {command[0]}: {error}",
            }
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
    parsed: dict[str, Any] | None = None
    for line in reversed(stdout_path.read_text(errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                continue
            break
    stderr_tail = stderr_path.read_text(errors="replace")[-2000:]
    return {
        "exit_code": process.returncode,
        "wall_seconds": round(wall, 3),
        # ru_maxrss is in kilobytes on Linux
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "json": parsed,
        "stderr_tail": stderr_tail if process.returncode != 0 or parsed is None else "",
    }


def _rows_per_second(rows: int, seconds: float | None) -> float | None:
    return round(rows / seconds, 1) if seconds else None


def zentra_command(zentra: str, data: Path, output: Path | None = None) -> list[str]:
    """``zentra reconcile`` on the data set in ``data``, printing JSON (and writing its files
    into ``output`` when given)."""
    written = ["--output", str(output)] if output is not None else []
    return [
        zentra,
        "reconcile",
        "--settlement",
        str(data / "settlement.csv"),
        "--movements",
        str(data / "movements.ndjson"),
        "--provider",
        PROVIDER,
        *written,
        "--json",
    ]


def run_zentra(
    zentra: str,
    data: Path,
    *,
    repeat: int,
    rows: int,
    labels: list[Label],
    database_url: str | None,
) -> dict[str, Any]:
    """Run ``zentra reconcile`` ``repeat`` times; score the first run's output."""
    env = {k: v for k, v in os.environ.items() if k != "ZENTRA_DATABASE_URL"}
    if database_url:
        env["ZENTRA_DATABASE_URL"] = database_url
    runs: list[dict[str, Any]] = []
    for index in range(repeat):
        output = data / "out" / f"zentra-{index + 1}"
        shutil.rmtree(output, ignore_errors=True)
        child = run_child(
            zentra_command(zentra, data, output),
            log_dir=data / "out",
            name=f"zentra-{index + 1}",
            env=env,
        )
        summary = child.pop("json") or {}
        runs.append({**child, "summary": summary, "output": output})
    # Times and quality come from the first run that printed its summary.
    first = next((run for run in runs if run["summary"]), runs[0])
    summary = first["summary"]
    seconds = summary.get("seconds") or {}
    total = seconds.get("total")
    fingerprints = [run["summary"].get("result_fingerprint") for run in runs]
    # None when there is nothing to compare: a single run, or a run without a fingerprint.
    comparable = len(runs) > 1 and None not in fingerprints
    identical = len(set(fingerprints)) == 1 if comparable else None
    return {
        "command": " ".join(zentra_command("zentra", Path("DATA"), Path("OUT"))),
        "exit_code": first["exit_code"],
        "status": summary.get("status"),
        "seconds": seconds,
        "wall_seconds": first["wall_seconds"],
        "cpu_seconds": first["cpu_seconds"],
        "rows_per_second": _rows_per_second(rows, total),
        "peak_rss_mb": first["peak_rss_mb"],
        "counts": summary.get("counts"),
        "exceptions_by_type": summary.get("exceptions_by_type"),
        "rejected_rows": summary.get("rejected_rows"),
        "result_fingerprint": fingerprints[0],
        "repeats": [
            {
                "exit_code": run["exit_code"],
                "wall_seconds": run["wall_seconds"],
                "total_seconds": (run["summary"].get("seconds") or {}).get("total"),
                "peak_rss_mb": run["peak_rss_mb"],
                "result_fingerprint": run["summary"].get("result_fingerprint"),
            }
            for run in runs
        ],
        "fingerprint_identical": identical,
        "quality": score_output(labels, first["output"]),
        "stderr_tail": first["stderr_tail"] or None,
    }


def run_pandas(data: Path, *, rows: int, labels: list[Label]) -> dict[str, Any]:
    """Run the pandas baseline as a child process and score its output."""
    output = data / "out" / "pandas"
    shutil.rmtree(output, ignore_errors=True)
    child = run_child(
        [
            sys.executable,
            "-m",
            "bench.recon.baseline_pandas",
            "--settlement",
            str(data / "settlement.csv"),
            "--movements",
            str(data / "movements.ndjson"),
            "--output",
            str(output),
            "--json",
        ],
        log_dir=data / "out",
        name="pandas",
    )
    result = child.pop("json") or {}
    seconds = result.get("seconds") or {}
    return {
        "exit_code": child["exit_code"],
        "seconds": seconds,
        "wall_seconds": child["wall_seconds"],
        "cpu_seconds": child["cpu_seconds"],
        "rows_per_second": _rows_per_second(rows, seconds.get("total")),
        "peak_rss_mb": child["peak_rss_mb"],
        "counts": result.get("counts"),
        "amounts": "float64 (as user scripts do)",
        "quality": score_output(labels, output),
        "stderr_tail": child["stderr_tail"] or None,
    }


def run_rowbyrow(data: Path, *, rows: int, sample: int) -> dict[str, Any]:
    """Run the row-by-row baseline on a sample, extrapolated to the whole file."""
    child = run_child(
        [
            sys.executable,
            "-m",
            "bench.recon.baseline_rowbyrow",
            "--settlement",
            str(data / "settlement.csv"),
            "--movements",
            str(data / "movements.ndjson"),
            "--output",
            str(data / "out" / "rowbyrow"),
            "--sample",
            str(sample),
            "--json",
        ],
        log_dir=data / "out",
        name="rowbyrow",
    )
    result = child.pop("json") or {}
    seconds = result.get("seconds") or {}
    return {
        "exit_code": child["exit_code"],
        "seconds": seconds,
        "wall_seconds_measured": child["wall_seconds"],
        "rows_per_second": _rows_per_second(rows, seconds.get("total")),
        "peak_rss_mb": child["peak_rss_mb"],
        "extrapolated": result.get("extrapolated"),
        "sample_rows": result.get("sample_rows"),
        "sample_seconds": result.get("sample_seconds"),
        "sample_rows_per_second": result.get("sample_rows_per_second"),
        "rule": {
            "reference": "equality first",
            "amount_drift": result.get("amount_drift"),
            "date_window_seconds": result.get("date_window_seconds"),
        },
        "stderr_tail": child["stderr_tail"] or None,
    }


def _speedup(baseline: dict[str, Any] | None, zentra: dict[str, Any]) -> float | None:
    if not baseline:
        return None
    theirs = (baseline.get("seconds") or {}).get("total")
    ours = (zentra.get("seconds") or {}).get("total")
    return round(theirs / ours, 2) if theirs and ours else None


def benchmark(
    *,
    size_label: str,
    rows: int,
    seed: int,
    workdir: Path,
    repeat: int,
    sample: int,
    skip_pandas: bool,
    skip_rowbyrow: bool,
    zentra: str,
    database_url: str | None,
) -> dict[str, Any]:
    """Generate or reuse the data set, run every system, return the result object."""
    source = source_state()
    started = time.perf_counter()
    data, manifest, cached = data_set(workdir, seed=seed, rows=rows)
    generated_seconds = round(time.perf_counter() - started, 3)
    total_rows = manifest["external_rows"] + manifest["internal_rows"]
    labels = load_labels(data / "labels.jsonl")

    systems: dict[str, Any] = {
        "zentra": run_zentra(
            zentra,
            data,
            repeat=repeat,
            rows=total_rows,
            labels=labels,
            database_url=database_url,
        )
    }
    if not skip_pandas:
        systems["pandas"] = run_pandas(data, rows=total_rows, labels=labels)
    if not skip_rowbyrow:
        systems["rowbyrow"] = run_rowbyrow(data, rows=total_rows, sample=sample)
    zentra_result = systems["zentra"]
    return {
        "benchmark": "ReconBench",
        "generator_version": manifest["generator_version"],
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **source,
        "machine": machine_info(),
        "size": size_label,
        "rows": rows,
        "seed": seed,
        "dataset": {
            "directory": str(data),
            "cached": cached,
            "generate_seconds": generated_seconds,
            "external_rows": manifest["external_rows"],
            "internal_rows": manifest["internal_rows"],
            "case_counts": manifest["case_counts"],
            "sha256": {name: info["sha256"] for name, info in manifest["files"].items()},
        },
        "systems": systems,
        "speedup": {
            "zentra_vs_pandas": _speedup(systems.get("pandas"), zentra_result),
            "zentra_vs_rowbyrow": _speedup(systems.get("rowbyrow"), zentra_result),
            "basis": "ratio of total seconds (rowbyrow: extrapolated)",
        },
        "determinism": {
            "repeat": repeat,
            "fingerprints": [r["result_fingerprint"] for r in zentra_result["repeats"]],
            "identical": zentra_result["fingerprint_identical"],
        },
    }


def default_zentra() -> str:
    """The ``zentra`` script next to this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "zentra"
    if beside.exists():
        return str(beside)
    return shutil.which("zentra") or "zentra"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="100k", help=f"one of {', '.join(SIZES)}")
    parser.add_argument("--rows", type=int, help="exact row count (overrides --size)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=2, help="Zentra runs (fingerprint check)")
    parser.add_argument("--sample", type=int, default=20_000, help="row-by-row sample rows")
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--skip-rowbyrow", action="store_true")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--zentra", default=default_zentra(), help="the zentra executable")
    parser.add_argument("--database-url", help="ZENTRA_DATABASE_URL for Zentra's runs")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    args = parser.parse_args(argv)
    rows = args.rows if args.rows is not None else rows_for_size(args.size)
    size_label = f"{rows}rows" if args.rows is not None else args.size.lower()
    result = benchmark(
        size_label=size_label,
        rows=rows,
        seed=args.seed,
        workdir=args.workdir,
        repeat=max(1, args.repeat),
        sample=args.sample,
        skip_pandas=args.skip_pandas,
        skip_rowbyrow=args.skip_rowbyrow,
        zentra=args.zentra,
        database_url=args.database_url,
    )
    text = json.dumps(result, indent=2)
    if not args.no_save:
        args.results_dir.mkdir(parents=True, exist_ok=True)
        day = result["date"][:10]
        (args.results_dir / f"recon-{size_label}-{day}.json").write_text(text + "\n")
    print(text)
    return 1 if result["determinism"]["identical"] is False else 0


if __name__ == "__main__":
    sys.exit(main())
