"""Create reconciliation runs and process them: load, match, compare, own.

``create_run`` answers at once with a run in ``matching`` and a queued job; ``process_run``
(called by the worker) loads both sides as columns, runs the engine, writes matches and owned
exceptions in bulk, and moves the run to ``review``. Closing is ``closeout.py``'s.

The worker's ``process_run`` reads both sides from the store: other writers share it, so only
the store knows what a run covers. ``zentra reconcile`` is the exception: it has just ingested
both files for a tenant of its own and still holds the rows it wrote, so it hands them over as
:class:`RunInputs` (built by :func:`external_inputs` and :func:`movement_inputs`: the columns
the store would give), and gets back the rows written (:class:`ProcessedRun`) to
write its report from. Everything else ``process_run`` does (state path, events, audit,
evidence) is the same either way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from zentra.audit.service import record_audit
from zentra.config import get_settings
from zentra.events.service import emit_event
from zentra.events.types import RUN_CREATED
from zentra.kit.context import ActorContext
from zentra.kit.errors import InvalidInput, NotFound
from zentra.kit.ids import new_id
from zentra.kit.jobs import enqueue_job
from zentra.kit.time import utcnow
from zentra.matching.columns import prepare_external, prepare_internal
from zentra.matching.engine import match_records
from zentra.matching.rules import DEFAULT_RULESET_NAME
from zentra.matching.summary import summarize_run
from zentra.models import (
    ReconciliationRun,
)
from zentra.reconciliation import repository
from zentra.reconciliation.persistence import WrittenOutcome, persist_outcome
from zentra.reconciliation.post_close import attach_post_close_adjustments
from zentra.reconciliation.rulesets import require_ruleset
from zentra.reconciliation.states import advance_run, state_step
from zentra.reconciliation.status_conflicts import (
    find_status_conflicts,
    record_status_conflict_evidence,
)

RUN_JOB = "reconciliation.run"
RUN_EVIDENCE = (
    "provider_reference",
    "settlement_file",
    "ledger_entry",
    "exception_owner",
    "closeout_status",
)


@dataclass(frozen=True, slots=True)
class LedgerWindow:
    """Inclusive UTC date range of the internal records a run reconciles."""

    start: date
    end: date


def parse_ledger_window(value: str | dict[str, str]) -> LedgerWindow:
    """``"2026-04-26"`` or ``{"from": ..., "to": ...}`` (inclusive UTC dates)."""
    try:
        if isinstance(value, str):
            day = date.fromisoformat(value)
            return LedgerWindow(day, day)
        start, end = date.fromisoformat(value["from"]), date.fromisoformat(value["to"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(
            'ledger_window must be a date (YYYY-MM-DD) or {"from": date, "to": date}',
            field="ledger_window",
        ) from exc
    if start > end:
        raise InvalidInput("ledger_window 'from' is after 'to'", field="ledger_window")
    return LedgerWindow(start, end)


def create_run(
    session: Session,
    ctx: ActorContext,
    *,
    provider: str,
    settlement_file: str,
    ledger_window: LedgerWindow,
    owner: str,
    ruleset: str = DEFAULT_RULESET_NAME,
    ruleset_version: int | None = None,
    dry_run: bool = False,
) -> ReconciliationRun:
    """Create a run in ``matching`` and queue its job, in the caller's transaction.

    Raises :class:`NotFound` for an unknown settlement file or ruleset, and
    :class:`InvalidInput` for a file of another provider or a refused file.
    """
    ctx.require_role("service")
    resolved = require_ruleset(session, ctx.tenant_id, ruleset, ruleset_version)
    file = repository.find_settlement_file(session, ctx.tenant_id, settlement_file)
    if file is None:
        raise NotFound(f"settlement file {settlement_file} not found", field="settlement_file")
    if file.provider != provider:
        raise InvalidInput(
            f"settlement file {file.id} belongs to provider {file.provider}, not {provider}",
            field="settlement_file",
        )
    if file.status != "parsed":
        raise InvalidInput(f"settlement file {file.id} was refused", field="settlement_file")
    now = utcnow()
    run = ReconciliationRun(
        id=new_id("run"),
        tenant_id=ctx.tenant_id,
        provider=provider,
        settlement_file_id=file.id,
        window_from=ledger_window.start,
        window_to=ledger_window.end,
        owner=owner,
        ruleset=resolved.name,
        ruleset_version=resolved.version,
        dry_run=dry_run,
        status="created",
        state_path=[state_step("created", ctx.actor)],
        failure_reason=None,
        totals=[],
        counts={},
        inputs={
            "ruleset": {
                "name": resolved.name,
                "version": resolved.version,
                "definition_hash": resolved.definition_hash,
            },
            "settlement_file": {
                "id": file.id,
                "sha256": file.sha256,
                "format": file.format,
                "rows": file.rows,
            },
        },
        stage_seconds={},
        result_fingerprint=None,
        created_by=ctx.actor,
        created_at=now,
        updated_at=now,
    )
    session.add(run)
    session.flush()
    record_audit(
        session,
        ctx,
        "reconciliation.run.created",
        "reconciliation_run",
        run.id,
        details={"provider": provider, "settlement_file": file.id, "owner": owner},
    )
    emit_event(
        session,
        ctx.tenant_id,
        RUN_CREATED,
        {"run_id": run.id, "provider": provider, "settlement_file": file.id, "owner": owner},
        resource_id=run.id,
    )
    advance_run(session, run, "matching", ctx)
    attach_post_close_adjustments(session, ctx, run)
    enqueue_job(session, ctx.tenant_id, RUN_JOB, {"run_id": run.id})
    return run


def retry_run(session: Session, ctx: ActorContext, run_id: str) -> ReconciliationRun:
    """Send a failed run back to ``matching`` with a new job."""
    ctx.require_role("service")
    run = repository.lock_run(session, ctx.tenant_id, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    advance_run(session, run, "matching", ctx, reason="retry")
    enqueue_job(session, ctx.tenant_id, RUN_JOB, {"run_id": run.id})
    return run


@dataclass(frozen=True, slots=True)
class RunInputs:
    """A run's sides already in memory, as the store would give them: ``external`` the columns
    of ``repository.load_external_columns`` for the run's file, ``internal`` those of
    ``repository.load_movement_columns`` for its provider and window (``in_window`` included).
    A side left None is read from the store."""

    external: pa.Table | None = None
    internal: pa.Table | None = None


@dataclass(frozen=True, slots=True)
class ProcessedRun:
    """The run after :func:`process_run`, and the rows that call wrote for it (None when it
    wrote none: the run was not in ``matching``, or it is a dry run)."""

    run: ReconciliationRun
    written: WrittenOutcome | None


_INTERNAL_COLUMNS = repository.MOVEMENT_COLUMNS.append(pa.field("in_window", pa.bool_()))


def _candidates_from(run: ReconciliationRun) -> date:
    """The first day of the run's movements: its window's start less the settlement look-back
    (a payment settled late is still a candidate, never reported missing by this run)."""
    return run.window_from - timedelta(days=get_settings().settlement_lookback_days)


def external_inputs(run: ReconciliationRun, records: pa.Table) -> pa.Table:
    """:attr:`RunInputs.external` for ``run`` from the ``external_records`` rows an upload of
    its file inserted (``UploadResult.records``); ``ValueError`` for rows of another tenant or
    file."""
    _require_owned(run, records, settlement_file_id=run.settlement_file_id)
    return repository.external_columns_of(records)


def movement_inputs(run: ReconciliationRun, rows: pa.Table) -> pa.Table:
    """:attr:`RunInputs.internal` for ``run`` from ``movements`` rows an import inserted
    (``ImportResult.inserted``): the run's provider, its window and look-back; ``ValueError``
    for rows of another tenant. Right only when the store holds no other movement of the
    tenant (see ``repository.movement_columns_of``)."""
    _require_owned(run, rows)
    return repository.movement_columns_of(
        rows, run.provider, _candidates_from(run), run.window_from, run.window_to
    )


def _require_owned(run: ReconciliationRun, rows: pa.Table, **expected: str | None) -> None:
    """Rows handed over in memory never cross the tenant (or file) boundary the store keeps."""
    for name, value in {"tenant_id": run.tenant_id, **expected}.items():
        same = pc.all(pc.equal(rows[name], pa.scalar(value, pa.string())), skip_nulls=False)
        if same.as_py() is not True:
            raise ValueError(f"rows handed over for run {run.id} have another {name}")


def _require_schema(table: pa.Table, schema: pa.Schema, side: str) -> pa.Table:
    if not table.schema.equals(schema):
        raise ValueError(f"preloaded {side} columns are not {schema.names}: {table.schema.names}")
    return table


def process_run(
    session: Session, ctx: ActorContext, run_id: str, *, inputs: RunInputs | None = None
) -> ProcessedRun:
    """Match a run in ``matching`` and move it to ``review``; see the module docstring.

    ``inputs`` gives sides already in memory, used instead of reading the store (a side left
    None is read); a side that is not of the store's columns raises ``ValueError``. A run that
    is not in ``matching`` (already processed by an earlier attempt) is left alone.
    """
    run = repository.lock_run(session, ctx.tenant_id, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    if run.status != "matching":
        return ProcessedRun(run, None)
    inputs = inputs or RunInputs()
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    external_raw = (
        _require_schema(inputs.external, repository.EXTERNAL_COLUMNS, "external")
        if inputs.external is not None
        else repository.load_external_columns(session, ctx.tenant_id, run.settlement_file_id)
    )
    internal_raw = (
        _require_schema(inputs.internal, _INTERNAL_COLUMNS, "internal")
        if inputs.internal is not None
        else repository.load_movement_columns(
            session,
            ctx.tenant_id,
            run.provider,
            _candidates_from(run),
            run.window_from,
            run.window_to,
        )
    )
    external, internal = prepare_external(external_raw), prepare_internal(internal_raw)
    seconds["load"] = time.perf_counter() - started

    started = time.perf_counter()
    ruleset = require_ruleset(session, ctx.tenant_id, run.ruleset, run.ruleset_version)
    outcome = match_records(external, internal, ruleset.definition)
    conflicts = find_status_conflicts(session, run, outcome, external, internal)
    outcome = conflicts.outcome
    seconds["match"] = time.perf_counter() - started

    started = time.perf_counter()
    summary = summarize_run(
        external, internal, internal_raw.select(["movement_id", "content_hash"]), outcome
    )
    written = None
    if not run.dry_run:
        written = persist_outcome(session, run, outcome)
        record_status_conflict_evidence(session, run, conflicts)
    run.result_fingerprint = outcome.result_fingerprint
    run.totals = summary.totals
    run.counts = {
        "external_records": external.num_rows,
        "internal_records": summary.internal_records,
        "matched": outcome.matches.num_rows,
        "exceptions_by_type": summary.exceptions_by_type,
    }
    run.inputs = {
        **run.inputs,
        "internal_manifest": {
            "movements": summary.internal_records,
            "sha256": summary.manifest_sha256,
        },
    }
    seconds["persist"] = time.perf_counter() - started
    run.stage_seconds = {stage: round(value, 6) for stage, value in seconds.items()}
    advance_run(session, run, "review", ctx)
    return ProcessedRun(run, written)
