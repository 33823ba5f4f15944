"""Claim, run and finish jobs."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from zentra.config import get_settings
from zentra.kit.db import Database
from zentra.kit.jobs import (
    ClaimedJob,
    LeaseLost,
    claim_next_job,
    fail_job,
    retry_job_later,
)

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


JobHandler = Callable[[Database, ClaimedJob], None]
"""Does the job's work in a tenant unit of work and calls :func:`finish_job` in it."""

FailureHandler = Callable[[Database, ClaimedJob, str], None]
"""Records a job's final failure on its resource (a run becomes ``failed``)."""


@dataclass(frozen=True, slots=True)
class JobKind:
    """How to run one kind of job and what to do when it finally fails."""

    run: JobHandler
    on_failure: FailureHandler


class Worker:
    """Claims and runs jobs of the given kinds from one database."""

    def __init__(
        self, database: Database, kinds: dict[str, JobKind], name: str | None = None
    ) -> None:
        self.database = database
        self.kinds = kinds
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"

    def claim(self) -> ClaimedJob | None:
        """Lease the oldest claimable job: queued and due, or running with an expired lease."""
        lease = timedelta(seconds=get_settings().job_lease_seconds)
        with self.database.unit_of_work() as session:
            return claim_next_job(session, list(self.kinds), self.name, lease)

    def run_once(self) -> bool:
        """Claim and run one job; False when there was nothing to do."""
        job = self.claim()
        if job is None:
            return False
        kind = self.kinds[job.kind]
        try:
            kind.run(self.database, job)
        except LeaseLost:
            logger.warning("job %s: lease lost, leaving it to its new worker", job.id)
        except Exception as exc:  # the job's own failure: retry or fail it, never crash
            logger.exception("job %s (%s) failed on attempt %d", job.id, job.kind, job.attempts)
            self._record_failure(job, kind, f"{type(exc).__name__}: {exc}")
        return True

    def drain(self) -> int:
        """Run jobs until none is claimable; return how many ran."""
        count = 0
        while self.run_once():
            count += 1
        return count

    def run_forever(self, stop: threading.Event, poll_seconds: float = 0.5) -> None:
        """Run jobs until ``stop`` is set, polling when idle."""
        while not stop.is_set():
            try:
                if not self.run_once():
                    stop.wait(poll_seconds)
            except Exception:  # a database outage must not kill the worker loop
                logger.exception("worker %s: claim failed; retrying", self.name)
                stop.wait(poll_seconds * 4)

    def _record_failure(self, job: ClaimedJob, kind: JobKind, reason: str) -> None:
        final = job.attempts >= MAX_ATTEMPTS
        with self.database.unit_of_work() as session:
            if final:
                fail_job(session, job, reason)
            else:
                retry_job_later(session, job, reason, timedelta(seconds=2**job.attempts))
        if final:
            kind.on_failure(self.database, job, reason)


def default_worker(database: Database, name: str | None = None) -> Worker:
    """A worker for every job kind Zentra has."""
    from zentra.worker.kinds import JOB_KINDS  # the registry imports domains; keep it lazy

    return Worker(database, JOB_KINDS, name)
