"""Source completeness: when a connection's settlement file is expected, and what happens when it
does not come.

A connection may declare one **expected-file schedule**::

    {"cadence": "daily", "cutoff": "06:00", "timezone": "UTC", "starts_on": "2026-11-01",
     "owner": "finance_ops"}

``cadence`` is ``daily`` (every day) or ``weekdays`` (Monday to Friday); the provider's own
business-day calendar (bank holidays) is not modelled yet. The file of business date *D* is
expected by ``cutoff`` on *D* in ``timezone`` (a file of the day, delivered that morning).
``starts_on`` (default: today in that time zone) is the first date expected.

**A file's business date** is the latest day any of its rows is booked on (UTC): a daily
settlement or statement file carries that day's activity, and late rows of earlier days do not
move it back. A file without a booked row has no business date and satisfies no expectation.

**The check** (:func:`check_schedule`; ``POST /providers/{id}/schedule/check``, and the worker
at every cutoff) looks at the expected dates from ``starts_on`` (at most
:data:`CHECK_DAYS` back) whose cutoff has passed, and opens a ``missing_settlement_file``
exception for each one no file covers: no run (``run_id`` null), the connection and the date set,
owned by the schedule's ``owner``. Its natural key ``missing_settlement_file:<connection>:<date>``
is unique per tenant, so a date gets one exception, never two, however often or concurrently the
check runs. A file that arrives later resolves it (decision ``file_received``,
:func:`record_file_received`, called by the upload).

**The worker**: saving a schedule queues a check job due at the next cutoff; each check queues
the next one. The schedule names its current job (``check_job_id``): a job of a replaced schedule
finds itself superseded and ends its chain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from zentra.audit.service import record_audit
from zentra.kit.context import ActorContext
from zentra.kit.errors import InvalidInput, NotFound
from zentra.kit.ids import new_id
from zentra.kit.jobs import enqueue_job
from zentra.kit.time import isoformat, utcnow
from zentra.models import ProviderConnection, ProviderFileSchedule, SettlementFile
from zentra.providers import repository
from zentra.providers import schedule_repository as schedules
from zentra.reconciliation.correlation_repository import OPEN_STATUSES, exception_by_natural_key
from zentra.reconciliation.exception_writes import open_exception, resolve_exception

CADENCES = ("daily", "weekdays")
CHECK_JOB = "providers.schedule_check"
CHECK_DAYS = 62
"""How far back a check looks for missing files: a schedule started long ago is not replayed
over years on every check."""
DEFAULT_OWNER = "finance_ops"
FILE_RECEIVED = "file_received"
MISSING_FILE = "missing_settlement_file"
_CUTOFF = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


@dataclass(frozen=True, slots=True)
class Cadence:
    """A schedule's rule, validated: which dates are expected and by when."""

    cadence: str
    cutoff: time
    zone: ZoneInfo

    def expects(self, day: date) -> bool:
        """True when a file of business date ``day`` is expected."""
        return self.cadence == "daily" or day.weekday() < 5

    def deadline(self, day: date) -> datetime:
        """The cutoff of business date ``day``, in UTC."""
        return datetime.combine(day, self.cutoff, tzinfo=self.zone).astimezone(UTC)

    def due_dates(self, starts_on: date, at: datetime) -> list[date]:
        """Expected dates from ``starts_on`` (at most :data:`CHECK_DAYS` back) whose cutoff is
        at or before ``at``, in order."""
        today = at.astimezone(self.zone).date()
        first = max(starts_on, today - timedelta(days=CHECK_DAYS))
        days = (first + timedelta(days=n) for n in range((today - first).days + 1))
        return [day for day in days if self.expects(day) and self.deadline(day) <= at]

    def next_deadline(self, after: datetime) -> datetime:
        """The first cutoff of an expected date strictly after ``after``, in UTC."""
        day = after.astimezone(self.zone).date() - timedelta(days=1)
        while True:
            if self.expects(day) and self.deadline(day) > after:
                return self.deadline(day)
            day += timedelta(days=1)


def parse_cadence(cadence: str, cutoff: str, timezone: str) -> Cadence:
    """Validate a schedule's fields. Raises :class:`InvalidInput` naming the bad field."""
    if cadence not in CADENCES:
        raise InvalidInput(f"cadence must be one of {', '.join(CADENCES)}", field="cadence")
    found = _CUTOFF.match(cutoff)
    if found is None:
        raise InvalidInput("cutoff must be a time HH:MM (24-hour)", field="cutoff")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {timezone!r}", field="timezone") from exc
    return Cadence(cadence, time(int(found.group(1)), int(found.group(2))), zone)


def cadence_of(schedule: ProviderFileSchedule) -> Cadence:
    """The validated rule of a stored schedule."""
    return parse_cadence(schedule.cadence, schedule.cutoff, schedule.timezone)


def _connection(session: Session, ctx: ActorContext, connection_id: str) -> ProviderConnection:
    connection = repository.get_connection(session, ctx.tenant_id, connection_id)
    if connection is None:
        raise NotFound(f"no provider connection {connection_id}")
    return connection


def queue_next_check(
    session: Session, schedule: ProviderFileSchedule, cadence: Cadence, after: datetime
) -> None:
    """Queue the schedule's check job, due at its next cutoff after ``after``; the job becomes
    the schedule's current one."""
    job = enqueue_job(
        session,
        schedule.tenant_id,
        CHECK_JOB,
        {"connection_id": schedule.connection_id, "schedule_id": schedule.id},
    )
    job.run_after = cadence.next_deadline(after)
    schedule.check_job_id = job.id


def put_schedule(
    session: Session,
    ctx: ActorContext,
    connection_id: str,
    *,
    cadence: str,
    cutoff: str,
    timezone: str,
    starts_on: date | None = None,
    owner: str | None = None,
) -> ProviderFileSchedule:
    """Create or replace the connection's schedule and queue its next check.

    Raises :class:`NotFound` (connection), :class:`InvalidInput` (a field). Requires ``admin``.
    Audited as ``provider_connection.schedule_set``.
    """
    ctx.require_role("admin")
    connection = _connection(session, ctx, connection_id)
    rule = parse_cadence(cadence, cutoff, timezone)
    lane = (owner or DEFAULT_OWNER).strip()
    if not lane or len(lane) > 100:
        raise InvalidInput("owner must be 1 to 100 characters", field="owner")
    now = utcnow()
    first = starts_on or now.astimezone(rule.zone).date()
    schedule = schedules.get_schedule(session, ctx.tenant_id, connection.id, lock=True)
    if schedule is None:
        schedule = ProviderFileSchedule(
            id=new_id("fsc"),
            tenant_id=ctx.tenant_id,
            connection_id=connection.id,
            created_by=ctx.actor,
            created_at=now,
        )
    schedule.cadence, schedule.cutoff, schedule.timezone = cadence, cutoff, timezone
    schedule.starts_on, schedule.owner, schedule.updated_at = first, lane, now
    schedules.add_schedule(session, schedule)
    queue_next_check(session, schedule, rule, now)
    session.flush()
    record_audit(
        session,
        ctx,
        "provider_connection.schedule_set",
        "provider_connection",
        connection.id,
        details=schedule_json(schedule),
    )
    return schedule


def get_schedule(session: Session, ctx: ActorContext, connection_id: str) -> ProviderFileSchedule:
    """The connection's schedule. Raises :class:`NotFound` when it has none (or no connection)."""
    ctx.require_role("admin", "auditor", "service", "operator")
    connection = _connection(session, ctx, connection_id)
    schedule = schedules.get_schedule(session, ctx.tenant_id, connection.id)
    if schedule is None:
        raise NotFound(f"provider connection {connection_id} has no expected-file schedule")
    return schedule


def check_schedule(
    session: Session, ctx: ActorContext, connection_id: str, at: datetime | None = None
) -> list[date]:
    """Open a ``missing_settlement_file`` for every expected date past its cutoff (as of ``at``,
    default now) that no file covers and that has none yet; return the dates opened now.

    Raises :class:`NotFound` (connection or schedule), :class:`InvalidInput` for an ``at`` in
    the future. Requires ``service`` or ``operator``.
    """
    ctx.require_role("service", "operator")
    now = utcnow()
    moment = now if at is None else at.astimezone(UTC)
    if moment > now + timedelta(minutes=5):
        raise InvalidInput("a check cannot be made as of a time in the future", field="at")
    connection = _connection(session, ctx, connection_id)
    schedule = schedules.get_schedule(session, ctx.tenant_id, connection.id)
    if schedule is None:
        raise NotFound(f"provider connection {connection_id} has no expected-file schedule")
    rule = cadence_of(schedule)
    due = rule.due_dates(schedule.starts_on, moment)
    if not due:
        return []
    received = schedules.file_business_dates(session, ctx.tenant_id, connection.name, due[0])
    opened = []
    for day in due:
        if day in received:
            continue
        exception = open_exception(
            session,
            ctx,
            type=MISSING_FILE,
            owner=schedule.owner,
            run_id=None,
            natural_key=missing_file_key(connection.id, day),
            connection_id=connection.id,
            business_date=day,
            details={
                "rule": None,
                "provider": connection.name,
                "expected_by": isoformat(rule.deadline(day)),
                "checked_at": isoformat(moment),
                "schedule": schedule_json(schedule),
                "candidates": [],
                "nearest": [],
            },
        )
        if exception is not None:
            opened.append(day)
    return opened


def missing_file_key(connection_id: str, day: date) -> str:
    """The natural key of the missing file of ``connection_id`` for ``day``."""
    return f"{MISSING_FILE}:{connection_id}:{day.isoformat()}"


def record_file_received(session: Session, ctx: ActorContext, file: SettlementFile) -> None:
    """Resolve the open ``missing_settlement_file`` of the new file's business date, if any
    (decision ``file_received``, by the uploader). Called by the upload, in its transaction."""
    day = file.business_date
    if file.status != "parsed" or day is None:
        return
    for connection in schedules.connections_named(session, ctx.tenant_id, file.provider):
        # Locked before its status is read: an operator settling it meanwhile goes first.
        exception = exception_by_natural_key(
            session, ctx.tenant_id, missing_file_key(connection.id, day), lock=True
        )
        if exception is None or exception.status not in OPEN_STATUSES:
            continue
        resolve_exception(
            session,
            ctx,
            exception,
            decision=FILE_RECEIVED,
            note=f"settlement file {file.id} of {day.isoformat()} received",
            data={"settlement_file_id": file.id},
        )


def schedule_json(schedule: ProviderFileSchedule) -> dict[str, Any]:
    """A schedule as the API shows it."""
    return {
        "id": schedule.id,
        "connection_id": schedule.connection_id,
        "cadence": schedule.cadence,
        "cutoff": schedule.cutoff,
        "timezone": schedule.timezone,
        "starts_on": schedule.starts_on.isoformat(),
        "owner": schedule.owner,
    }
