"""Worker job handlers of the reconciliation domain."""

from __future__ import annotations

from zentra.kit.context import system_context
from zentra.kit.db import Database
from zentra.kit.jobs import ClaimedJob, finish_job
from zentra.reconciliation import repository
from zentra.reconciliation.runs import process_run
from zentra.reconciliation.states import advance_run


def run_reconciliation_job(database: Database, job: ClaimedJob) -> None:
    """Process the job's run and finish the job in the same transaction."""
    run_id = str(job.payload["run_id"])
    with database.unit_of_work(job.tenant_id) as session:
        process_run(session, system_context(job.tenant_id, "matcher"), run_id)
        finish_job(session, job)


def fail_reconciliation_run(database: Database, job: ClaimedJob, reason: str) -> None:
    """After the last attempt, the run becomes ``failed`` with the reason (it can be retried)."""
    run_id = str(job.payload["run_id"])
    with database.unit_of_work(job.tenant_id) as session:
        run = repository.lock_run(session, job.tenant_id, run_id)
        if run is not None and run.status in {"created", "matching"}:
            advance_run(
                session, run, "failed", system_context(job.tenant_id, "worker"), reason=reason
            )
