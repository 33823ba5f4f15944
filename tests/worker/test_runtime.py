"""Jobs are leased: one worker per job, a dead worker's job is claimed again, work and
completion commit together."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import make_tenant
from zentra.events.service import emit_event
from zentra.kit.db import Database
from zentra.kit.jobs import ClaimedJob, LeaseLost, enqueue_job, finish_job
from zentra.kit.time import utcnow
from zentra.models import Job, OutboxEvent
from zentra.worker.runtime import MAX_ATTEMPTS, JobKind, Worker

KIND = "test.echo"


def _enqueue(db: Database, tenant_id: str, count: int = 1) -> list[str]:
    with db.unit_of_work(tenant_id) as session:
        jobs = [enqueue_job(session, tenant_id, KIND, {"n": n}) for n in range(count)]
    return [job.id for job in jobs]


def _echo(database: Database, job: ClaimedJob) -> None:
    """The job's work (an event) and its completion, in one tenant transaction."""
    with database.unit_of_work(job.tenant_id) as session:
        emit_event(session, job.tenant_id, "test.echoed", {"job": job.id}, resource_id=job.id)
        finish_job(session, job)


def _never_fails(_database: Database, _job: ClaimedJob, _reason: str) -> None:
    raise AssertionError("no job should fail here")


ECHO = {KIND: JobKind(run=_echo, on_failure=_never_fails)}


def _events(db: Database) -> list[str]:
    with db.unit_of_work() as session:
        return list(session.scalars(select(OutboxEvent.resource_id).order_by(OutboxEvent.id)))


def _statuses(db: Database) -> dict[str, str]:
    with db.unit_of_work() as session:
        return {job_id: status for job_id, status in session.execute(select(Job.id, Job.status))}


def test_a_job_runs_once_and_is_done(db: Database) -> None:
    tenant = make_tenant(db, "acme")
    (job_id,) = _enqueue(db, tenant.tenant_id)
    worker = Worker(db, ECHO, name="w1")
    assert worker.drain() == 1
    assert worker.drain() == 0
    assert _events(db) == [job_id]
    assert _statuses(db) == {job_id: "done"}


def test_a_worker_that_dies_mid_job_leaves_it_to_be_claimed_again(db: Database) -> None:
    tenant = make_tenant(db, "acme")
    (job_id,) = _enqueue(db, tenant.tenant_id)
    dead = Worker(db, ECHO, name="dead")
    claimed = dead.claim()  # ... and the process dies before doing the work
    assert claimed is not None
    survivor = Worker(db, ECHO, name="survivor")
    assert survivor.claim() is None  # the lease still holds
    with db.unit_of_work() as session:  # time passes: the lease expires
        session.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert survivor.run_once() is True
    assert _events(db) == [job_id]
    with db.unit_of_work() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert (job.status, job.attempts, job.locked_by) == ("done", 2, "survivor")


def test_the_old_worker_cannot_finish_a_job_taken_over(db: Database) -> None:
    tenant = make_tenant(db, "acme")
    _enqueue(db, tenant.tenant_id)
    slow = Worker(db, ECHO, name="slow")
    claimed = slow.claim()
    assert claimed is not None
    with db.unit_of_work() as session:
        session.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert Worker(db, ECHO, name="fast").run_once()
    with pytest.raises(LeaseLost, match="taken over"):
        _echo(db, claimed)  # the slow worker finally finishes: its work must roll back
    assert len(_events(db)) == 1


def test_a_failing_job_is_retried_then_failed(db: Database) -> None:
    tenant = make_tenant(db, "acme")
    (job_id,) = _enqueue(db, tenant.tenant_id)
    failures: list[str] = []

    def boom(_database: Database, _job: ClaimedJob) -> None:
        raise RuntimeError("provider file unreadable")

    def record(_database: Database, _job: ClaimedJob, reason: str) -> None:
        failures.append(reason)

    worker = Worker(db, {KIND: JobKind(run=boom, on_failure=record)}, name="w")
    for _ in range(MAX_ATTEMPTS):
        with db.unit_of_work() as session:  # skip the backoff wait
            session.execute(update(Job).values(run_after=utcnow() - timedelta(seconds=1)))
        assert worker.run_once()
    assert _statuses(db) == {job_id: "failed"}
    assert failures == ["RuntimeError: provider file unreadable"]


def test_concurrent_workers_never_share_a_job(db: Database) -> None:
    tenant = make_tenant(db, "acme")
    job_ids = _enqueue(db, tenant.tenant_id, count=12)
    workers = [Worker(db, ECHO, name=f"w{n}") for n in range(3)]
    threads = [threading.Thread(target=w.drain) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(_events(db)) == sorted(job_ids)  # each job's work exactly once
    assert set(_statuses(db).values()) == {"done"}
