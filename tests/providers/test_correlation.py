"""Worked example: a provider callback that arrives after its run went to review."""

from __future__ import annotations

from typing import Any

from tests.fixtures.api import ApiClient
from tests.fixtures.scenarios import import_movements, movement
from tests.providers.conftest import create_connection, post_callback, stripe_event, stripe_headers
from zentra.kit.db import Database
from zentra.worker.runtime import default_worker

# stripe_event() is created at 1795294227 = 2026-11-21T20:50:27Z.
DAY = "2026-11-21"


def _exceptions(client: ApiClient, run_id: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = client.get(
        "/reconciliation/exceptions", params={"run_id": run_id}
    ).json()["data"]
    return data


def test_callback_arriving_after_review_started_is_correlated_into_the_run(
    db: Database, client: ApiClient
) -> None:
    connection = create_connection(client, "stripe")
    provider = connection["name"]
    import_movements(
        client,
        [
            {
                **movement("mv_1", "ch_paid", 1250, occurred_at=f"{DAY}T10:00:00Z"),
                "provider": provider,
            },
            {
                **movement("mv_2", "ch_late", 990, occurred_at=f"{DAY}T11:00:00Z"),
                "provider": provider,
            },
        ],
    )
    settlement = (
        f"provider_reference,amount,currency,booked_at\nch_paid,12.50,EUR,{DAY}\n"
    ).encode()
    uploaded = client.post(
        "/settlement-files",
        data={"provider": provider},
        files={"file": ("s.csv", settlement, "text/csv")},
    )
    run = client.post(
        "/reconciliation/runs",
        json={"provider": provider, "settlement_file": uploaded.json()["id"], "ledger_window": DAY},
    ).json()
    default_worker(db).drain()
    (missing,) = _exceptions(client, run["id"])
    assert (missing["type"], missing["provider_reference"]) == (
        "missing_from_settlement",
        "ch_late",
    )

    body = stripe_event(event_id="evt_late", object_id="ch_late", amount=990)
    answer = post_callback(
        client, connection["id"], body, stripe_headers(connection["signing_secret"], body)
    )
    assert answer.status_code == 200, answer.text

    events = client.get(
        f"/reconciliation/runs/{run['id']}/events",
        params={"limit": 500},
    ).json()["data"]
    correlated = [e for e in events if e["type"] == "reconciliation.callback.correlated"]
    assert len(correlated) == 1
    assert correlated[0]["data"]["exception_ids"] == [missing["id"]]
    detail = client.get(f"/reconciliation/exceptions/{missing['id']}").json()
    (evidence,) = detail["evidence"]["details"]["callbacks"]
    assert evidence["callback_id"] == answer.json()["id"]
    assert evidence["amount_minor"] == 990
    assert "evidence" in [activity["kind"] for activity in detail["history"]]


def test_a_callback_outside_every_run_window_correlates_nowhere(
    db: Database, client: ApiClient
) -> None:
    connection = create_connection(client, "stripe")
    body = stripe_event(event_id="evt_alone", object_id="ch_alone")
    answer = post_callback(
        client, connection["id"], body, stripe_headers(connection["signing_secret"], body)
    )
    assert answer.status_code == 200
    events = client.get("/events", params={"type": "reconciliation.callback.correlated"})
    assert events.json()["data"] == []
