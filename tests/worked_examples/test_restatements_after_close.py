"""Worked examples: a provider restates a settlement row after the run that used it closed.

Provider ``rail_primary`` (a file-only provider: no connection) settles day one, the run is
sealed, then the provider re-sends day one's file with one row changed. The closed run and its
sealed closeout never change: the restatement becomes a post-close adjustment of the next run.
"""

from __future__ import annotations

from typing import Any

from tests.fixtures.api import ApiClient
from tests.fixtures.rails import StripeRail
from tests.fixtures.scenarios import import_movements, movement, start_run, upload
from zentra.kit.db import Database
from zentra.worker.runtime import default_worker

HEADER = "row_id,provider_reference,amount,currency,booked_at"
DAY_ONE = "2026-04-26"
DAY_TWO = "2026-04-27"


def _csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def _exceptions(client: ApiClient, **filters: Any) -> list[dict[str, Any]]:
    answer = client.get("/reconciliation/exceptions", params={**filters, "limit": 200})
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def _run(client: ApiClient, db: Database, content: bytes, day: str, **extra: Any) -> dict[str, Any]:
    uploaded = upload(client, content, **extra)
    assert uploaded.status_code in (200, 201), uploaded.text
    created = start_run(client, uploaded.json()["id"], ledger_window=day, **extra)
    assert created.status_code == 201, created.text
    default_worker(db).drain()
    run: dict[str, Any] = client.get(f"/reconciliation/runs/{created.json()['id']}").json()
    assert run["status"] == "review", run
    return run


def _seal(client: ApiClient, run_id: str) -> dict[str, Any]:
    sealed = client.post(f"/reconciliation/runs/{run_id}/closeout")
    assert sealed.status_code == 201, sealed.text
    closeout: dict[str, Any] = sealed.json()
    return closeout


def _closed_day_one(client: ApiClient, db: Database) -> tuple[dict[str, Any], dict[str, Any]]:
    """Day one reconciled without exceptions and sealed: (run, closeout)."""
    import_movements(client, [movement("mv_1", "pi_1", 1000), movement("mv_2", "pi_2", 2000)])
    run = _run(
        client, db, _csv("r1,pi_1,10.00,EUR,2026-04-26", "r2,pi_2,20.00,EUR,2026-04-26"), DAY_ONE
    )
    return run, _seal(client, run["id"])


def _day_two(client: ApiClient, db: Database) -> dict[str, Any]:
    import_movements(client, [movement("mv_3", "pi_3", 3000, occurred_at=f"{DAY_TWO}T10:00:00Z")])
    return _run(client, db, _csv("r3,pi_3,30.00,EUR,2026-04-27"), DAY_TWO)


RESENT = _csv("r1,pi_1,10.00,EUR,2026-04-26", "r2,pi_2,19.50,EUR,2026-04-26")


def test_a_row_restated_after_its_run_closed_becomes_a_post_close_adjustment_of_the_next_run(
    db: Database, client: ApiClient
) -> None:
    closed, closeout = _closed_day_one(client, db)
    sealed_document = client.get(f"/reconciliation/runs/{closed['id']}/closeout").content

    # The provider re-sends day one: r2 now says 19.50.
    resent = upload(client, RESENT)
    assert resent.status_code == 201, resent.text

    # No next run yet: the adjustment waits in the queue, without a run.
    (waiting,) = _exceptions(client, unattached="true")
    assert (waiting["type"], waiting["status"], waiting["run_id"]) == ("restatement", "open", None)
    assert (waiting["business_date"], waiting["connection_id"]) == (DAY_ONE, None)
    assert waiting["owner"] == "finance_ops"
    assert waiting["provider_reference"] == "pi_2"
    assert waiting["amount"] == {"amount": -50, "currency": "EUR"}
    detail = client.get(f"/reconciliation/exceptions/{waiting['id']}").json()
    details = detail["evidence"]["details"]
    assert details["post_close_of"] == closed["id"]
    assert details["row_id"] == "r2"
    assert details["amount_delta"] == {"amount": -50, "currency": "EUR"}
    previous, restated = details["previous"], details["restated_by"]
    assert (previous["amount_minor"], restated["amount_minor"]) == (2000, 1950)
    assert previous["settlement_file_id"] == closed["settlement_file"]
    assert restated["settlement_file_id"] == resent.json()["id"]
    assert (previous["raw"], restated["raw"]) == (
        "r2,pi_2,20.00,EUR,2026-04-26",
        "r2,pi_2,19.50,EUR,2026-04-26",
    )
    assert previous["line"] == restated["line"] == 3
    assert previous["content_hash"] != restated["content_hash"]
    # The evidence row is the one the closed run sealed.
    assert detail["evidence"]["external_record"]["id"] == previous["external_record_id"]

    # The closed run and its sealed evidence are untouched, and still verify.
    assert _exceptions(client, run_id=closed["id"]) == []
    assert client.get(f"/reconciliation/runs/{closed['id']}").json()["status"] == "closed"
    assert client.get(f"/reconciliation/runs/{closed['id']}/closeout").content == sealed_document
    verified = client.get(f"/reconciliation/closeouts/{closeout['id']}/verify").json()
    assert verified["valid"] is True, verified["problems"]

    # Day two's run takes the adjustment as it is created.
    following = _day_two(client, db)
    (adjustment,) = _exceptions(client, run_id=following["id"])
    assert adjustment["id"] == waiting["id"]
    history = client.get(f"/reconciliation/exceptions/{adjustment['id']}").json()["history"]
    (attached,) = [a for a in history if a["kind"] == "attached"]
    assert attached["data"]["run_id"] == following["id"]
    assert attached["data"]["post_close_of"] == closed["id"]
    assert _exceptions(client, unattached="true") == []
    # The run's events follow the exception it took.
    events = client.get(f"/reconciliation/runs/{following['id']}/events").json()["data"]
    assert any(
        e["type"] == "reconciliation.exception.opened"
        and e["data"]["exception_id"] == waiting["id"]
        for e in events
    )

    # The next run cannot be sealed over an undecided adjustment; decided, it can.
    refused = client.post(f"/reconciliation/runs/{following['id']}/closeout")
    assert refused.status_code == 409
    assert [u["id"] for u in refused.json()["unmet_requirements"]] == [waiting["id"]]
    decided = client.post(
        f"/reconciliation/exceptions/{waiting['id']}/transitions",
        json={"to": "resolved", "decision": "adjusted", "note": "booked the -0.50 correction"},
    )
    assert decided.status_code == 200, decided.text
    _seal(client, following["id"])
    assert client.get(f"/reconciliation/runs/{closed['id']}/closeout").content == sealed_document


def test_the_same_restated_row_re_sent_opens_one_adjustment(
    db: Database, client: ApiClient
) -> None:
    closed, _closeout = _closed_day_one(client, db)
    assert upload(client, RESENT).status_code == 201
    # The same bytes again are the same file: nothing new.
    assert upload(client, RESENT).status_code == 200
    # Other bytes (one more row) carrying the same restated r2: the same pair of versions.
    again = _csv(
        "r1,pi_1,10.00,EUR,2026-04-26",
        "r2,pi_2,19.50,EUR,2026-04-26",
        "r9,pi_9,1.00,EUR,2026-04-26",
    )
    assert upload(client, again).status_code == 201
    (restatement,) = _exceptions(client, type="restatement")
    assert restatement["run_id"] is None
    # A further change of r2 is another restatement of what the closed run sealed.
    assert upload(client, _csv("r2,pi_2,19.00,EUR,2026-04-26")).status_code == 201
    both = _exceptions(client, type="restatement")
    assert sorted(e["amount"]["amount"] for e in both) == [-100, -50]
    details = [client.get(f"/reconciliation/exceptions/{e['id']}").json() for e in both]
    assert {d["evidence"]["details"]["post_close_of"] for d in details} == {closed["id"]}
    opened = [
        e
        for e in client.get("/audit/events", params={"limit": 500}).json()["data"]
        if e["action"] == "reconciliation.exception.opened"
    ]
    assert len(opened) == 2


def test_a_restatement_after_close_goes_at_once_to_a_next_run_already_in_review(
    db: Database, client: ApiClient
) -> None:
    closed, _closeout = _closed_day_one(client, db)
    following = _day_two(client, db)
    assert upload(client, RESENT).status_code == 201
    (adjustment,) = _exceptions(client, type="restatement")
    assert adjustment["run_id"] == following["id"]
    detail = client.get(f"/reconciliation/exceptions/{adjustment['id']}").json()
    assert detail["evidence"]["details"]["post_close_of"] == closed["id"]
    assert [a["kind"] for a in detail["history"]] == ["opened"]
    assert _exceptions(client, run_id=closed["id"]) == []


def test_a_restatement_of_a_connected_provider_waits_under_its_connection(
    db: Database, client: ApiClient
) -> None:
    rail = StripeRail.connect(client, db)
    rail.book("mv_1", "ch_1", 1250, occurred_at=f"{DAY_ONE}T10:00:00Z")
    first = _csv("r1,ch_1,12.50,EUR,2026-04-26")
    closed = _run(client, db, first, DAY_ONE, provider=rail.provider)
    _seal(client, closed["id"])
    # The restated row changes its reference too: found by its row id all the same.
    resent = upload(client, _csv("r1,ch_1b,12.50,EUR,2026-04-26"), provider=rail.provider)
    assert resent.status_code == 201
    (waiting,) = _exceptions(client, connection_id=rail.connection["id"], type="restatement")
    assert (waiting["run_id"], waiting["business_date"]) == (None, DAY_ONE)
    assert waiting["amount"] == {"amount": 0, "currency": "EUR"}
    # A run of another provider does not take it; the next run of this one does.
    other = _day_two(client, db)
    assert _exceptions(client, run_id=other["id"]) == []
    rail.book("mv_2", "ch_2", 400, occurred_at=f"{DAY_TWO}T09:00:00Z")
    following = _run(
        client, db, _csv("r2,ch_2,4.00,EUR,2026-04-27"), DAY_TWO, provider=rail.provider
    )
    (adjustment,) = _exceptions(client, run_id=following["id"])
    assert adjustment["id"] == waiting["id"]
