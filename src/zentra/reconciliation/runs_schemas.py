"""Request bodies and response shapes of the runs API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from zentra.kit.time import isoformat
from zentra.models import ReconciliationRun


class RunCreate(BaseModel):
    """``POST /reconciliation/runs`` (SPEC 3)."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, max_length=100)
    settlement_file: str = Field(min_length=1, max_length=200)
    ledger_window: str | dict[str, str] = Field(
        description='A UTC date "YYYY-MM-DD", or {"from": date, "to": date} (inclusive).'
    )
    owner: str = Field(default="finance_ops", min_length=1, max_length=100)
    ruleset: str = Field(default="default", min_length=1, max_length=100)
    ruleset_version: int | None = Field(
        default=None, ge=1, description="A version of the ruleset; the latest when omitted."
    )
    dry_run: bool = False


def run_links(run_id: str) -> dict[str, str]:
    """Hypermedia links of a run."""
    base = f"/reconciliation/runs/{run_id}"
    return {
        "self": base,
        "matches": f"{base}/matches",
        "exceptions": f"{base}/exceptions",
        "events": f"{base}/events",
        "evidence": f"{base}/evidence",
        "closeout": f"{base}/closeout",
    }


def run_json(run: ReconciliationRun, exceptions_by_status: dict[str, int]) -> dict[str, Any]:
    """The public shape of a run (``GET /reconciliation/runs/{id}``)."""
    counts = dict(run.counts)
    counts["exceptions"] = {
        "total": sum(exceptions_by_status.values()),
        "by_status": dict(sorted(exceptions_by_status.items())),
        "by_type": counts.pop("exceptions_by_type", {}),
    }
    return {
        "id": run.id,
        "status": run.status,
        "provider": run.provider,
        "settlement_file": run.settlement_file_id,
        "ledger_window": {"from": run.window_from.isoformat(), "to": run.window_to.isoformat()},
        "owner": run.owner,
        "ruleset": {
            "name": run.ruleset,
            "version": run.ruleset_version,
            "definition_hash": run.inputs.get("ruleset", {}).get("definition_hash"),
        },
        "dry_run": run.dry_run,
        "state_path": run.state_path,
        "failure_reason": run.failure_reason,
        "totals": run.totals,
        "counts": counts,
        "result_fingerprint": run.result_fingerprint,
        "stage_seconds": run.stage_seconds,
        "created_by": run.created_by,
        "created_at": isoformat(run.created_at),
        "updated_at": isoformat(run.updated_at),
        "links": run_links(run.id),
    }
