"""Worker job handlers of the providers domain: the expected-file check at each cutoff."""

from __future__ import annotations

from zentra.kit.context import system_context
from zentra.kit.db import Database
from zentra.kit.jobs import ClaimedJob, finish_job
from zentra.kit.time import utcnow
from zentra.providers import schedule_repository
from zentra.providers.schedules import cadence_of, check_schedule, queue_next_check


def run_schedule_check(database: Database, job: ClaimedJob) -> None:
    """Check the job's schedule now and queue the check of the next cutoff, in one transaction.

    A job that is no longer its schedule's current one (the schedule was replaced or removed)
    only finishes: its chain ends and the current job carries on.
    """
    connection_id = str(job.payload["connection_id"])
    with database.unit_of_work(job.tenant_id) as session:
        schedule = schedule_repository.get_schedule(
            session, job.tenant_id, connection_id, lock=True
        )
        if schedule is not None and schedule.check_job_id == job.id:
            ctx = system_context(job.tenant_id, "schedule_check")
            now = utcnow()
            check_schedule(session, ctx, connection_id, now)
            queue_next_check(session, schedule, cadence_of(schedule), now)
        finish_job(session, job)


def fail_schedule_check(database: Database, job: ClaimedJob, reason: str) -> None:
    """A check that failed for good still queues the next one, so that the chain of checks
    goes on; the next check also looks back at the dates this one missed."""
    connection_id = str(job.payload["connection_id"])
    with database.unit_of_work(job.tenant_id) as session:
        schedule = schedule_repository.get_schedule(
            session, job.tenant_id, connection_id, lock=True
        )
        if schedule is not None and schedule.check_job_id == job.id:
            queue_next_check(session, schedule, cadence_of(schedule), utcnow())
