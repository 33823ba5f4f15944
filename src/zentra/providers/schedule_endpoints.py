"""``/providers/{id}/schedule``: a connection's expected-file schedule, and its check.

``PUT`` creates or replaces it (admin), ``GET`` reads it, ``POST .../check`` opens a
``missing_settlement_file`` exception for each expected date past its cutoff that no file covers
(see :mod:`zentra.providers.schedules`). The route owns authentication, idempotency and the
transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from zentra.api.deps import Context, DbSession
from zentra.api.route import UnitOfWorkRoute
from zentra.providers import schedules

router = APIRouter(tags=["providers"], route_class=UnitOfWorkRoute)


class ScheduleIn(BaseModel):
    """``PUT /providers/{id}/schedule``."""

    model_config = ConfigDict(extra="forbid")

    cadence: str = Field(max_length=20, examples=["daily"])
    cutoff: str = Field(max_length=5, examples=["06:00"])
    timezone: str = Field(default="UTC", max_length=64)
    starts_on: date | None = None
    owner: str | None = Field(default=None, max_length=100)


class CheckIn(BaseModel):
    """``POST /providers/{id}/schedule/check``: ``at`` checks as of an earlier time."""

    model_config = ConfigDict(extra="forbid")

    at: datetime | None = None


@router.put("/providers/{connection_id}/schedule")
def put_schedule(
    connection_id: str, body: ScheduleIn, session: DbSession, ctx: Context
) -> dict[str, Any]:
    """Create or replace the connection's expected-file schedule."""
    schedule = schedules.put_schedule(
        session,
        ctx,
        connection_id,
        cadence=body.cadence,
        cutoff=body.cutoff,
        timezone=body.timezone,
        starts_on=body.starts_on,
        owner=body.owner,
    )
    return schedules.schedule_json(schedule)


@router.get("/providers/{connection_id}/schedule")
def get_schedule(connection_id: str, session: DbSession, ctx: Context) -> dict[str, Any]:
    """The connection's expected-file schedule (404 when it has none)."""
    return schedules.schedule_json(schedules.get_schedule(session, ctx, connection_id))


@router.post("/providers/{connection_id}/schedule/check")
def check_schedule(
    connection_id: str, session: DbSession, ctx: Context, body: CheckIn | None = None
) -> dict[str, Any]:
    """Open the missing-file exceptions due now (or as of ``at``); list the dates opened."""
    opened = schedules.check_schedule(
        session, ctx, connection_id, None if body is None else body.at
    )
    return {"connection_id": connection_id, "opened": [day.isoformat() for day in opened]}
