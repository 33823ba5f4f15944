"""Runs over HTTP: create, list, read, matches, events, evidence, retry (SPEC 3)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from zentra.api.deps import Context, DbSession
from zentra.api.route import UnitOfWorkRoute
from zentra.audit import repository as audit_repository
from zentra.events.service import envelope
from zentra.events.types import RUN_CREATED
from zentra.kit.errors import InvalidInput, NotFound
from zentra.kit.pagination import clamp_limit
from zentra.kit.time import isoformat
from zentra.models import ReconciliationRun
from zentra.reconciliation import repository
from zentra.reconciliation.runs import (
    RUN_EVIDENCE,
    create_run,
    parse_ledger_window,
    retry_run,
)
from zentra.reconciliation.runs_schemas import RunCreate, run_json, run_links
from zentra.reconciliation.states import RUN_STATUSES

router = APIRouter(prefix="/reconciliation", tags=["runs"], route_class=UnitOfWorkRoute)


def _run_or_404(session: DbSession, tenant_id: str, run_id: str) -> ReconciliationRun:
    run = repository.get_run(session, tenant_id, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    return run


@router.post("/runs", status_code=201)
def create_reconciliation_run(body: RunCreate, session: DbSession, ctx: Context) -> JSONResponse:
    """Create a run; it is matched asynchronously by a worker (answer: status ``matching``)."""
    run = create_run(
        session,
        ctx,
        provider=body.provider,
        settlement_file=body.settlement_file,
        ledger_window=parse_ledger_window(body.ledger_window),
        owner=body.owner,
        ruleset=body.ruleset,
        ruleset_version=body.ruleset_version,
        dry_run=body.dry_run,
    )
    content = {
        "id": run.id,
        "status": run.status,
        "event": RUN_CREATED,
        "evidence": list(RUN_EVIDENCE),
        "entrypoint": "POST /reconciliation/runs",
        "links": run_links(run.id),
    }
    return JSONResponse(content, status_code=201, headers={"Location": run_links(run.id)["self"]})


@router.get("/runs")
def list_reconciliation_runs(
    session: DbSession,
    ctx: Context,
    status: str | None = None,
    provider: str | None = None,
    owner: str | None = None,
    window: date | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Runs in creation order; ``window`` keeps runs whose ledger window covers that date."""
    if status is not None and status not in RUN_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(RUN_STATUSES)}", field="status")
    page_size = clamp_limit(limit)
    rows = repository.list_runs(
        session,
        ctx.tenant_id,
        limit=page_size + 1,
        after_id=cursor,
        status=status,
        provider=provider,
        owner=owner,
        covering=window,
    )
    page = rows[:page_size]
    counts = repository.exception_counts_by_run(session, ctx.tenant_id, [run.id for run in page])
    data = [run_json(run, counts[run.id]) for run in page]
    return {"data": data, "next_cursor": page[-1].id if len(rows) > page_size else None}


@router.get("/runs/{run_id}")
def get_reconciliation_run(run_id: str, session: DbSession, ctx: Context) -> dict[str, Any]:
    """Status, state path, totals per currency, counts and ``result_fingerprint``."""
    run = _run_or_404(session, ctx.tenant_id, run_id)
    return run_json(run, repository.exception_counts_by_status(session, ctx.tenant_id, run.id))


@router.get("/runs/{run_id}/matches")
def list_run_matches(
    run_id: str,
    session: DbSession,
    ctx: Context,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """The run's matches with their rule, records and per-field deltas."""
    _run_or_404(session, ctx.tenant_id, run_id)
    page_size = clamp_limit(limit)
    rows = repository.list_matches(
        session, ctx.tenant_id, run_id, limit=page_size + 1, after_id=cursor
    )
    page = rows[:page_size]
    data = [
        {
            "id": match.id,
            "rule": match.rule,
            "kind": match.kind,
            "external_record_ids": [
                link.external_record_id for link in links if link.external_record_id
            ],
            "movement_ids": [link.movement_id for link in links if link.movement_id],
            "deltas": match.deltas,
            "created_by": match.created_by,
            "reason": match.reason,
            "created_at": isoformat(match.created_at),
        }
        for match, links in page
    ]
    return {"data": data, "next_cursor": page[-1][0].id if len(rows) > page_size else None}


@router.get("/runs/{run_id}/events")
def list_run_events(
    run_id: str,
    session: DbSession,
    ctx: Context,
    limit: int | None = None,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Events about the run and its exceptions, oldest first."""
    _run_or_404(session, ctx.tenant_id, run_id)
    page_size = clamp_limit(limit)
    rows = repository.list_run_events(
        session, ctx.tenant_id, run_id, limit=page_size + 1, after_id=cursor
    )
    page = rows[:page_size]
    return {
        "data": [envelope(e) for e in page],
        "next_cursor": page[-1].id if len(rows) > page_size else None,
    }


@router.get("/runs/{run_id}/evidence")
def get_run_evidence(run_id: str, session: DbSession, ctx: Context) -> dict[str, Any]:
    """What the run is built on and what it did: inputs, ruleset, state path, audit trail."""
    run = _run_or_404(session, ctx.tenant_id, run_id)
    audit = audit_repository.list_events(session, ctx.tenant_id, limit=500, resource_id=run.id)
    return {
        "run_id": run.id,
        "provider": run.provider,
        "inputs": run.inputs,
        "ruleset": {"name": run.ruleset, "version": run.ruleset_version},
        "ledger_window": {"from": run.window_from.isoformat(), "to": run.window_to.isoformat()},
        "owner": run.owner,
        "state_path": run.state_path,
        "result_fingerprint": run.result_fingerprint,
        "audit": [
            {
                "seq": a.seq,
                "at": isoformat(a.at),
                "actor": a.actor,
                "action": a.action,
                "hash": a.hash,
            }
            for a in audit
        ],
    }


@router.post("/runs/{run_id}/retry")
def retry_reconciliation_run(run_id: str, session: DbSession, ctx: Context) -> dict[str, Any]:
    """Send a ``failed`` run back to ``matching``."""
    run = retry_run(session, ctx, run_id)
    return run_json(run, repository.exception_counts_by_status(session, ctx.tenant_id, run.id))
