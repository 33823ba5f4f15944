"""``zentra reconcile``: one-shot reconciliation of two files on the embedded store.

The command creates a tenant of its own, ingests both files, creates a run and processes it
itself (what the worker would do, in the worker's context), then drains the worker for anything
else queued (the run's own job then finds the run processed and only finishes). It reads back
nothing it still holds:

- the run's sides come from what ingest wrote (``UploadResult.records``,
  ``ImportResult.inserted``), projected to the columns the store would give
  (``reconciliation.runs.RunInputs``). Movements are read from the store instead when
  ``ZENTRA_DATABASE_URL`` names one (a store others may write to), or when the import found
  some of its movements already stored or took the per-row path;
- the report comes from the rows the run's processing wrote (``WrittenOutcome``) and the file's
  records; from the store when the run was processed elsewhere or the file was known.

Stages timed (``--json`` ``seconds``): ``parse`` (read and store both files, create the run),
``load`` (the run's sides as engine columns), ``match`` (engine, status conflicts, the worker's
drain), ``persist`` (summaries and the bulk writes), ``report``, ``total``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session

from zentra.ingest.service import import_movements, upload_settlement_file
from zentra.kit.context import ActorContext, system_context
from zentra.kit.db import Database
from zentra.kit.errors import InvalidInput
from zentra.kit.migrate import upgrade_database
from zentra.matching.rules import DEFAULT_RULESET_NAME, RulesetDefinition
from zentra.models import ReconciliationRun
from zentra.reconciliation import repository
from zentra.reconciliation.persistence import WrittenOutcome
from zentra.reconciliation.report import (
    stored_report_rows,
    write_run_report,
    written_report_rows,
)
from zentra.reconciliation.rulesets import parse_definition, publish_ruleset
from zentra.reconciliation.runs import (
    LedgerWindow,
    RunInputs,
    create_run,
    external_inputs,
    movement_inputs,
    parse_ledger_window,
    process_run,
)
from zentra.tenancy.service import create_tenant
from zentra.worker.runtime import default_worker

logger = logging.getLogger(__name__)


def _movements_content_type(path: Path, content: bytes) -> str:
    if path.suffix.lower() in {".csv", ".tsv"}:
        return "text/csv"
    first = content.lstrip()[:1]
    return "application/x-ndjson" if first == b"{" else "text/csv"


def _window(session: Session, tenant_id: str, provider: str, value: str | None) -> LedgerWindow:
    """``--window`` as given, else the span of the provider's movements (read only then)."""
    if value is None:
        span = repository.movement_date_span(session, tenant_id, provider)
        if span is None:
            raise InvalidInput("no movements for this provider: give --window", field="window")
        return LedgerWindow(span[0], span[1])
    if ".." in value:
        start, end = value.split("..", 1)
        return parse_ledger_window({"from": start, "to": end})
    return parse_ledger_window(value)


@contextmanager
def _embedded_database() -> Iterator[tuple[Database, bool]]:
    """ZENTRA_DATABASE_URL when set, else a temporary SQLite file removed afterwards; and
    whether the store is the command's alone (the temporary one)."""
    url = os.environ.get("ZENTRA_DATABASE_URL")
    if url:
        database = Database(url)
        try:
            yield database, False
        finally:
            database.dispose()
        return
    with tempfile.TemporaryDirectory(prefix="zentra-reconcile-") as directory:
        database = Database(f"sqlite:///{Path(directory) / 'zentra.db'}")
        try:
            yield database, True
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


@dataclass(frozen=True, slots=True)
class _Ingested:
    """What ingest leaves for the run: the run, the count of refused rows, the file's
    ``external_records`` rows as stored (None: the file was known), and the ``movements`` rows
    stored when they are every movement the tenant has (else None: read the store)."""

    run: ReconciliationRun
    rejected_rows: int
    records: pa.Table | None
    movements: pa.Table | None


def _ingest(
    database: Database,
    ctx: ActorContext,
    *,
    own_store: bool,
    settlement: Path,
    movements: Path,
    provider: str,
    file_format: str | None,
    window: str | None,
    definition: RulesetDefinition | None,
) -> _Ingested:
    movement_bytes = movements.read_bytes()
    settlement_bytes = settlement.read_bytes()
    with database.unit_of_work(ctx.tenant_id) as session:
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
        ruleset_name = DEFAULT_RULESET_NAME
        if definition is not None:
            ruleset_name = publish_ruleset(session, ctx, "cli", definition).name
        run = create_run(
            session,
            ctx,
            provider=provider,
            settlement_file=uploaded.file.id,
            ledger_window=_window(session, ctx.tenant_id, provider, window),
            owner="finance_ops",
            ruleset=ruleset_name,
        )
    return _Ingested(
        run=run,
        rejected_rows=len(uploaded.file.rejected_rows) + len(imported.rejected),
        records=uploaded.records,
        # Only a store of our own holds no movements but the ones this import wrote.
        movements=imported.inserted if own_store and imported.fresh else None,
    )


def _run_inputs(ingested: _Ingested) -> RunInputs:
    """The run's sides from what ingest wrote, where it holds them."""
    records, movements = ingested.records, ingested.movements
    return RunInputs(
        external=external_inputs(ingested.run, records) if records is not None else None,
        internal=movement_inputs(ingested.run, movements) if movements is not None else None,
    )


def _process_handed_over(
    database: Database, run: ReconciliationRun, inputs: RunInputs
) -> WrittenOutcome | None:
    """Process the run as the worker would (its context, its transaction; its job is finished
    by the drain that follows) and return the rows written. If that fails, nothing of it was
    committed: the run is left to the worker's own attempts, which retry it from the store
    and record a final failure on the run exactly as for any other run (None: no rows)."""
    try:
        with database.unit_of_work(run.tenant_id) as session:
            return process_run(
                session, system_context(run.tenant_id, "matcher"), run.id, inputs=inputs
            ).written
    except Exception:  # the worker's attempts decide, and record, what becomes of the run
        logger.exception("run %s: processing the handed-over inputs failed", run.id)
        return None


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
    with _embedded_database() as (database, own_store), _Stages(console) as stages:
        upgrade_database(database)
        with database.unit_of_work() as session:
            tenant, _key = create_tenant(session, "reconcile")
        ctx = system_context(tenant.id, "reconcile")
        with stages.stage("parse", "ingest: parse and store both files"):
            ingested = _ingest(
                database,
                ctx,
                own_store=own_store,
                settlement=settlement,
                movements=movements,
                provider=provider,
                file_format=file_format,
                window=window,
                definition=definition,
            )
        run, rejected_rows, records = ingested.run, ingested.rejected_rows, ingested.records
        # The report names external rows by these; the rest of the records is not kept.
        record_names = records.select(["id", "row_id"]) if records is not None else None
        with stages.stage("match", "match and compare: columnar engine"):
            handing_over = time.perf_counter()
            inputs = _run_inputs(ingested)
            handover_seconds = time.perf_counter() - handing_over
            del ingested, records  # the inputs hold the columns the run needs; free the rest
            written = _process_handed_over(database, run, inputs)
            del inputs
            default_worker(database, name="reconcile").drain()
        with database.unit_of_work(tenant.id) as session:
            run = repository.get_run(session, tenant.id, run.id) or run
            exception_counts = repository.exception_counts_by_status(session, tenant.id, run.id)
            if output is not None:
                with stages.stage("report", f"report: write {output}"):
                    rows = (
                        written_report_rows(written, record_names)
                        if written is not None and record_names is not None
                        else stored_report_rows(session, run)
                    )
                    write_run_report(run, rows, output)
    seconds = {**stages.seconds}
    seconds["load"] = round(handover_seconds + run.stage_seconds.get("load", 0.0), 6)
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
        "rejected_rows": rejected_rows,
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
