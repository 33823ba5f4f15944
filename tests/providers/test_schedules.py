"""Expected-file schedules: the cadence rule (pure), the API, and the worker's check chain."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from tests.conftest import make_tenant
from tests.fixtures.api import ApiClient
from tests.fixtures.rails import StripeRail
from tests.providers.conftest import count
from zentra.kit.db import Database
from zentra.kit.errors import InvalidInput
from zentra.providers.schedules import CHECK_JOB, parse_cadence
from zentra.worker.runtime import default_worker

SATURDAY = date(2026, 11, 21)


def test_weekdays_skip_the_weekend() -> None:
    rule = parse_cadence("weekdays", "06:00", "UTC")
    at = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday
    assert rule.due_dates(date(2026, 11, 19), at) == [
        date(2026, 11, 19),
        date(2026, 11, 20),
        date(2026, 11, 23),
    ]
    # Friday after its cutoff: the next cutoff is Monday's.
    friday = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    assert rule.next_deadline(friday) == datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def test_the_cutoff_is_local_time_of_the_schedule() -> None:
    rule = parse_cadence("daily", "06:00", "Europe/Berlin")
    assert rule.deadline(SATURDAY) == datetime(2026, 11, 21, 5, 0, tzinfo=UTC)
    before = datetime(2026, 11, 21, 4, 59, tzinfo=UTC)
    assert rule.due_dates(SATURDAY, before) == []
    assert rule.due_dates(SATURDAY, before + timedelta(minutes=1)) == [SATURDAY]


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
    st.sampled_from(["daily", "weekdays"]),
    st.sampled_from(["UTC", "America/New_York", "Asia/Tokyo"]),
)
def test_the_next_deadline_is_the_first_due_date_after_now(
    moment: datetime, cadence: str, zone: str
) -> None:
    rule = parse_cadence(cadence, "06:30", zone)
    now = moment.replace(tzinfo=UTC)
    deadline = rule.next_deadline(now)
    assert now < deadline <= now + timedelta(days=4)
    start = now.date() - timedelta(days=3)
    assert rule.due_dates(start, deadline) == [
        *rule.due_dates(start, now),
        deadline.astimezone(rule.zone).date(),
    ]


@pytest.mark.parametrize(
    ("cadence", "cutoff", "zone", "field"),
    [
        ("hourly", "06:00", "UTC", "cadence"),
        ("daily", "6am", "UTC", "cutoff"),
        ("daily", "24:00", "UTC", "cutoff"),
        ("daily", "06:00", "Mars/Olympus", "timezone"),
    ],
)
def test_invalid_schedules_name_their_field(
    cadence: str, cutoff: str, zone: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_cadence(cadence, cutoff, zone)
    assert refused.value.extensions["field"] == field


def test_schedule_over_http(db: Database, client: ApiClient) -> None:
    rail = StripeRail.connect(client, db)
    url = f"/providers/{rail.connection['id']}/schedule"
    assert client.get(url).status_code == 404
    bad = client.put(url, json={"cadence": "hourly", "cutoff": "06:00"})
    assert (bad.status_code, bad.json()["field"]) == (422, "cadence")
    put = client.put(url, json={"cadence": "weekdays", "cutoff": "06:00", "timezone": "UTC"})
    assert put.status_code == 200, put.text
    assert client.get(url).json() == put.json()
    assert client.post(f"{url}/check", json={"at": "2099-01-01T00:00:00Z"}).status_code == 422
    other = make_tenant(db, "other")
    assert client.with_key(other.api_key).get(url).status_code == 404


def _make_due(db: Database) -> None:
    with db.engine.begin() as connection:
        connection.execute(
            text("UPDATE jobs SET run_after = :past WHERE kind = :kind AND status = 'queued'"),
            {"past": datetime(2000, 1, 1), "kind": CHECK_JOB},
        )


def test_the_worker_checks_at_each_cutoff_and_queues_the_next(
    db: Database, client: ApiClient
) -> None:
    rail = StripeRail.connect(client, db)
    url = f"/providers/{rail.connection['id']}/schedule"
    starts = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    client.put(url, json={"cadence": "daily", "cutoff": "00:00", "starts_on": starts})
    # Replacing the schedule supersedes its first job: that chain ends by itself.
    client.put(url, json={"cadence": "daily", "cutoff": "00:00", "starts_on": starts})
    assert count(db, "jobs", "kind = :kind AND status = 'queued'", kind=CHECK_JOB) == 2
    _make_due(db)
    assert default_worker(db).drain() == 2
    missing = rail.exceptions(type="missing_settlement_file")
    assert len(missing) == 4  # three days back and today, every cutoff (midnight) passed
    assert count(db, "jobs", "kind = :kind AND status = 'queued'", kind=CHECK_JOB) == 1
    _make_due(db)
    assert default_worker(db).drain() == 1
    assert len(rail.exceptions(type="missing_settlement_file")) == 4  # never twice


def test_a_missing_file_exception_is_worked_like_any_other(db: Database, client: ApiClient) -> None:
    rail = StripeRail.connect(client, db)
    url = f"/providers/{rail.connection['id']}/schedule"
    client.put(url, json={"cadence": "daily", "cutoff": "06:00", "starts_on": "2026-11-20"})
    client.post(f"{url}/check", json={"at": "2026-11-20T07:00:00Z"})
    (missing,) = rail.exceptions(type="missing_settlement_file")
    resolved = client.post(
        f"/reconciliation/exceptions/{missing['id']}/transitions",
        json={"to": "written_off", "decision": "no_activity", "note": "provider had a holiday"},
    )
    assert resolved.status_code == 200, resolved.text
    # A run of the provider neither lists nor waits for it.
    rail.book("mv_1", "ch_1", 100)
    run = rail.run(rail.settle([("ch_1", "1.00")]))
    assert rail.exceptions(run["id"]) == []
    assert client.post(f"/reconciliation/runs/{run['id']}/closeout").status_code == 201
