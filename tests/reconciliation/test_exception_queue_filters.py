"""The exception queue by connection, business date and attachment, on SQLite and PostgreSQL.

Two Stripe connections: ``stripe_a`` reconciled one run (one unmatched row, an exception of the
run) and misses the files of 2026-11-19 and 2026-11-20; ``stripe_b`` misses the file of
2026-11-21. Missing files are exceptions without a run, of a connection and a date.
"""

from __future__ import annotations

from typing import Any

from tests.fixtures.api import ApiClient
from tests.fixtures.rails import StripeRail
from zentra.kit.db import Database

QUEUE = "/reconciliation/exceptions"


def _ids(client: ApiClient, **params: Any) -> list[str]:
    answer = client.get(QUEUE, params={**params, "limit": 200})
    assert answer.status_code == 200, answer.text
    return [e["id"] for e in answer.json()["data"]]


def _missing_files(client: ApiClient, rail: StripeRail, starts_on: str) -> None:
    url = f"/providers/{rail.connection['id']}/schedule"
    body = {"cadence": "daily", "cutoff": "06:00", "timezone": "UTC", "starts_on": starts_on}
    assert client.put(url, json=body).status_code == 200
    checked = client.post(f"{url}/check", json={"at": "2026-11-21T07:00:00Z"})
    assert checked.status_code == 200, checked.text


def test_queue_filters_by_connection_business_date_and_attachment(
    db: Database, client: ApiClient
) -> None:
    a = StripeRail.connect(client, db, name="stripe_a")
    b = StripeRail.connect(client, db, name="stripe_b")
    a.book("mv_paid", "ch_paid", 1250)
    run = a.run(a.settle([("ch_paid", "12.50"), ("ch_ghost", "3.00")]))
    _missing_files(client, a, "2026-11-19")
    _missing_files(client, b, "2026-11-21")

    everything = client.get(QUEUE, params={"limit": 200}).json()["data"]
    by_id = {e["id"]: e for e in everything}
    (in_run,) = [e["id"] for e in everything if e["run_id"] == run["id"]]
    missing = {
        (e["connection_id"], e["business_date"]): e["id"]
        for e in everything
        if e["type"] == "missing_settlement_file"
    }
    a_id, b_id = a.connection["id"], b.connection["id"]
    assert sorted(missing) == [
        (a_id, "2026-11-19"),
        (a_id, "2026-11-20"),
        (b_id, "2026-11-21"),
    ]
    assert len(everything) == 4

    assert _ids(client, unattached="true") == sorted(missing.values())
    assert _ids(client, unattached="false") == [in_run]
    assert _ids(client, connection_id=a_id) == sorted(
        [missing[(a_id, "2026-11-19")], missing[(a_id, "2026-11-20")]]
    )
    assert _ids(client, connection_id=b_id) == [missing[(b_id, "2026-11-21")]]
    assert _ids(client, business_date="2026-11-20") == [missing[(a_id, "2026-11-20")]]
    assert _ids(client, connection_id=a_id, business_date="2026-11-21") == []
    assert _ids(
        client, unattached="true", type="missing_settlement_file", business_date="2026-11-21"
    ) == [missing[(b_id, "2026-11-21")]]
    assert _ids(client, run_id=run["id"], unattached="false") == [in_run]
    assert _ids(client, connection_id="prc_unknown") == []
    assert {by_id[i]["run_id"] for i in _ids(client, unattached="true")} == {None}

    # Pages of the unattached ones, in id order.
    first = client.get(QUEUE, params={"unattached": "true", "limit": 2}).json()
    rest = client.get(
        QUEUE, params={"unattached": "true", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert [e["id"] for e in first["data"] + rest["data"]] == sorted(missing.values())
    assert rest["next_cursor"] is None


def test_queue_refuses_contradictory_or_malformed_filters(db: Database, client: ApiClient) -> None:
    rail = StripeRail.connect(client, db)
    run = rail.run(rail.settle([("ch_ghost", "3.00")]))
    both = client.get(QUEUE, params={"run_id": run["id"], "unattached": "true"})
    assert both.status_code == 422
    assert both.json()["field"] == "unattached"
    assert client.get(QUEUE, params={"business_date": "21/11/2026"}).status_code == 422
    assert client.get(QUEUE, params={"unattached": "perhaps"}).status_code == 422


def test_queue_filters_are_described_in_the_openapi_document(client: ApiClient) -> None:
    document = client.get("/openapi.json").json()
    parameters = {
        p["name"]: p for p in document["paths"][QUEUE]["get"]["parameters"] if p["in"] == "query"
    }
    assert {"connection_id", "business_date", "unattached"} <= set(parameters)
    assert "without a run" in parameters["unattached"]["description"]
    assert parameters["business_date"]["schema"]["anyOf"][0]["format"] == "date"
