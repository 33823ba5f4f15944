"""Jobs as domains see them: enqueue one in the caller's transaction (a job exists iff its
change commits), and finish a claimed one in the transaction that does its work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
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
