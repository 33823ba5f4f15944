"""``zentra reconcile``: one-shot reconciliation of two files on the embedded store."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from zentra.ingest.service import import_movements, upload_settlement_file
from zentra.kit.context import system_context
from zentra.kit.db import Database
from zentra.kit.errors import InvalidInput
from zentra.kit.migrate import upgrade_database
from zentra.matching.rules import DEFAULT_RULESET_NAME
from zentra.reconciliation import repository
from zentra.reconciliation.report import write_run_report
from zentra.reconciliation.rulesets import parse_definition, publish_ruleset
from zentra.reconciliation.runs import LedgerWindow, create_run, parse_ledger_window
from zentra.tenancy.service import create_tenant
from zentra.worker.runtime import default_worker


def _movements_content_type(path: Path, content: bytes) -> str:
    if path.suffix.lower() in {".csv", ".tsv"}:
        return "text/csv"
    first = content.lstrip()[:1]
    return "application/x-ndjson" if first == b"{" else "text/csv"


def _window(value: str | None, span: tuple[Any, Any] | None) -> LedgerWindow:
    if value is None:
        if span is None:
            raise InvalidInput("no movements for this provider: give --window", field="window")
        return LedgerWindow(span[0], span[1])
    if ".." in value:
        start, end = value.split("..", 1)
        return parse_ledger_window({"from": start, "to": end})
    return parse_ledger_window(value)


@contextmanager
def _embedded_database() -> Iterator[Database]:
    """ZENTRA_DATABASE_URL when set, else a temporary SQLite file removed afterwards."""
    url = os.environ.get("ZENTRA_DATABASE_URL")
    if url:
        database = Database(url)
        try:
            yield database
        finally:
            database.dispose()
        return
    with tempfile.TemporaryDirectory(prefix="zentra-reconcile-") as directory:
        database = Database(f"sqlite:///{Path(directory) / 'zentra.db'}")
        try:
            yield database
        finally:
            database.dispose()


class _Stages:
    """Times each stage; shows a progress line per stage on a terminal."""

    def __init__(self, console: Console | None) -> None:
        self.seconds: dict[str, float] = {}
        self._progress = (
            Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
            )
            if console is not None
            else None
        )

    @contextmanager
    def stage(self, name: str, description: str) -> Iterator[None]:
        task = self._progress.add_task(description, total=1) if self._progress else None
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 6)
        if self._progress is not None and task is not None:
            self._progress.update(task, completed=1, description=f"[green]✓[/green] {description}")

    def __enter__(self) -> _Stages:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def run_reconcile(
    *,
    settlement: Path,
    movements: Path,
    provider: str,
    file_format: str | None,
    window: str | None,
    ruleset: Path | None,
    output: Path | None,
    as_json: bool,
    console: Console | None,
) -> int:
    """Reconcile ``settlement`` against ``movements``; print a summary or one JSON object.

    ``ruleset`` is a JSON file ``{"rules": [...]}`` (docs/matching.md); the built-in default
    ruleset is used without one. Returns the process exit code: 0 when the run reached review
    (exceptions or not).
    """
    definition = parse_definition(json.loads(ruleset.read_text())) if ruleset else None
    started = time.perf_counter()
    with _embedded_database() as database, _Stages(console) as stages:
        upgrade_database(database)
        with database.unit_of_work() as session:
            tenant, _key = create_tenant(session, "reconcile")
        ctx = system_context(tenant.id, "reconcile")
        with stages.stage("parse", "ingest: parse and store both files"):
            movement_bytes = movements.read_bytes()
            settlement_bytes = settlement.read_bytes()
            with database.unit_of_work(tenant.id) as session:
                imported = import_movements(
                    session,
                    ctx,
                    content=movement_bytes,
                    content_type=_movements_content_type(movements, movement_bytes),
                )
                uploaded = upload_settlement_file(
                    session,
                    ctx,
                    content=settlement_bytes,
                    provider=provider,
                    filename=settlement.name,
                    format=file_format,
                    file_id=None,
                )
                span = repository.movement_date_span(session, tenant.id, provider)
                ruleset_name = DEFAULT_RULESET_NAME
                if definition is not None:
                    ruleset_name = publish_ruleset(session, ctx, "cli", definition).name
                run = create_run(
                    session,
                    ctx,
                    provider=provider,
                    settlement_file=uploaded.file.id,
                    ledger_window=_window(window, span),
                    owner="finance_ops",
                    ruleset=ruleset_name,
                )
        with stages.stage("match", "match and compare: columnar engine"):
            default_worker(database, name="reconcile").drain()
        with database.unit_of_work(tenant.id) as session:
            run = repository.get_run(session, tenant.id, run.id) or run
            exception_counts = repository.exception_counts_by_status(session, tenant.id, run.id)
            if output is not None:
                with stages.stage("report", f"report: write {output}"):
                    write_run_report(session, run, output)
    seconds = {**stages.seconds}
    seconds["load"] = run.stage_seconds.get("load", 0.0)
    seconds["persist"] = run.stage_seconds.get("persist", 0.0)
    seconds["match"] = round(seconds["match"] - seconds["load"] - seconds["persist"], 6)
    seconds["total"] = round(time.perf_counter() - started, 6)
    summary = {
        "run_id": run.id,
        "status": run.status,
        "counts": {
            "external": run.counts.get("external_records", 0),
            "internal": run.counts.get("internal_records", 0),
            "matched": run.counts.get("matched", 0),
            "exceptions": sum(exception_counts.values()),
        },
        "exceptions_by_type": run.counts.get("exceptions_by_type", {}),
        "rejected_rows": len(uploaded.file.rejected_rows) + len(imported.rejected),
        "result_fingerprint": run.result_fingerprint,
        "seconds": seconds,
    }
    if as_json:
        print(json.dumps(summary))
    else:
        _print_summary(console or Console(), summary, output)
    return 0 if run.status == "review" else 1


def _print_summary(console: Console, summary: dict[str, Any], output: Path | None) -> None:
    counts = summary["counts"]
    console.print(
        f"run [bold]{summary['run_id']}[/bold]: {summary['status']} · "
        f"{counts['external']} provider rows, {counts['internal']} internal records, "
        f"[green]{counts['matched']} matched[/green], "
        f"[yellow]{counts['exceptions']} exceptions[/yellow]"
    )
    if summary["exceptions_by_type"]:
        table = Table("exception type", "count")
        for kind, count in summary["exceptions_by_type"].items():
            table.add_row(kind, str(count))
        console.print(table)
    console.print(f"result fingerprint {summary['result_fingerprint']}")
    if output is not None:
        console.print(f"wrote {output}/matches.csv, exceptions.csv, report.html")
