"""Jobs and their queries: enqueue one in the caller's transaction (a job exists iff its change
commits), claim one under a lease, finish it in the transaction that does its work, or retry
or fail it. Workers claim across tenants, so these run in system scope (``jobs`` has no RLS)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from zentra.kit.ids import new_id
from zentra.kit.time import utcnow
from zentra.models import Job


def enqueue_job(session: Session, tenant_id: str, kind: str, payload: dict[str, Any]) -> Job:
    """Add a queued job; a worker claims it once the transaction commits."""
    now = utcnow()
    job = Job(
        id=new_id("job"),
        tenant_id=tenant_id,
        kind=kind,
        payload=payload,
        status="queued",
        attempts=0,
        run_after=now,
        lease_expires_at=None,
        locked_by=None,
        last_error=None,
        created_at=now,
        finished_at=None,
    )
    session.add(job)
    return job


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job leased to one worker."""

    id: str
    tenant_id: str
    kind: str
    payload: dict[str, object]
    attempts: int
    worker: str


class LeaseLost(RuntimeError):
    """The job's lease expired and another worker took it over: this attempt must not commit."""


def finish_job(session: Session, job: ClaimedJob) -> None:
    """Mark ``job`` done in the handler's transaction; raise :class:`LeaseLost` if it is no
    longer ours (its work then rolls back with it)."""
    result = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.locked_by == job.worker, Job.status == "running")
        .values(status="done", finished_at=utcnow(), lease_expires_at=None)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(f"job {job.id} was taken over by another worker")


def claim_next_job(
    session: Session, kinds: list[str], worker: str, lease: timedelta
) -> ClaimedJob | None:
    """Lease the oldest claimable job of ``kinds`` to ``worker``.

    On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets concurrent workers pass over each other's
    candidates; on SQLite the ``BEGIN IMMEDIATE`` transaction already makes claims exclusive.
    """
    now = utcnow()
    query = (
        select(Job)
        .where(
            Job.kind.in_(kinds),
            or_(
                (Job.status == "queued") & (Job.run_after <= now),
                (Job.status == "running") & (Job.lease_expires_at < now),
            ),
        )
        .order_by(Job.run_after, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    job = session.scalars(query).first()
    if job is None:
        return None
    job.status = "running"
    job.attempts += 1
    job.lease_expires_at = now + lease
    job.locked_by = worker
    return ClaimedJob(job.id, job.tenant_id, job.kind, dict(job.payload), job.attempts, worker)


def retry_job_later(session: Session, job: ClaimedJob, reason: str, backoff: timedelta) -> None:
    """Queue ``job`` again after ``backoff`` (if the lease is still ours)."""
    session.execute(
        update(Job)
        .where(Job.id == job.id, Job.locked_by == job.worker)
        .values(
            status="queued", run_after=utcnow() + backoff, last_error=reason, lease_expires_at=None
        )
    )


def fail_job(session: Session, job: ClaimedJob, reason: str) -> None:
    """Mark ``job`` failed for good (if the lease is still ours)."""
    session.execute(
        update(Job)
        .where(Job.id == job.id, Job.locked_by == job.worker)
        .values(status="failed", finished_at=utcnow(), last_error=reason, lease_expires_at=None)
    )
