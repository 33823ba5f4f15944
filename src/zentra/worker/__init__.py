"""The job runtime: claim a job under a lease, run its handler, finish or retry.

On PostgreSQL any number of ``zentra worker`` processes claim with ``FOR UPDATE SKIP LOCKED``;
on SQLite the worker runs in-process (``zentra serve``, ``zentra demo``). A claim is a lease:
a worker that dies mid-job never commits the job's work, and once the lease expires the job is
claimed again. The handler finishes the job inside its own transaction, so the work and the
job's completion commit together or not at all.
"""
