"""Every job kind the worker runs, and its handlers."""

from __future__ import annotations

from zentra.providers.schedules import CHECK_JOB
from zentra.providers.tasks import fail_schedule_check, run_schedule_check
from zentra.reconciliation.runs import RUN_JOB
from zentra.reconciliation.tasks import fail_reconciliation_run, run_reconciliation_job
from zentra.worker.runtime import JobKind

JOB_KINDS: dict[str, JobKind] = {
    RUN_JOB: JobKind(run=run_reconciliation_job, on_failure=fail_reconciliation_run),
    CHECK_JOB: JobKind(run=run_schedule_check, on_failure=fail_schedule_check),
}
