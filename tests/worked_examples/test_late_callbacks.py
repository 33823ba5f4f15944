"""Worked examples: provider callbacks against reconciliation runs, end to end over the HTTP API
on both databases. One Stripe connection; its name is the provider of movements and files."""

from __future__ import annotations

from tests.fixtures.api import ApiClient
from tests.fixtures.rails import StripeRail
from tests.providers.conftest import count
from zentra.kit.db import Database

CORRELATED = "reconciliation.callback.correlated"


def _status_of(rail: StripeRail, reference: str) -> str:
    answer = rail.client.get("/movements", params={"provider_reference": reference})
    (movement,) = [m for m in answer.json()["data"] if m["provider"] == rail.provider]
    status: str = movement["status"]
    return status


def test_stripe_callback_replayed_five_times_posts_once(db: Database, client: ApiClient) -> None:
    rail = StripeRail.connect(client, db)
    rail.book("mv_paid", "ch_paid", 1250)
    rail.book("mv_late", "ch_late", 990)
    run = rail.run(rail.settle([("ch_paid", "12.50")]))
    answers = [rail.send("evt_late", "charge.succeeded", "ch_late", 990) for _ in range(5)]
    assert [answer.json()["duplicate"] for answer in answers] == [False, True, True, True, True]
    assert count(db, "callbacks") == 1
    assert count(db, "external_records", "settlement_file_id IS NULL") == 1
    # Posted once into the run too: one correlation, one piece of evidence, one resolution.
    assert len(rail.events(run["id"], CORRELATED)) == 1
    (missing,) = rail.exceptions(run["id"])
    detail = rail.detail(missing["id"])
    assert len(detail["evidence"]["details"]["callbacks"]) == 1
    assert [a["kind"] for a in detail["history"]].count("transition") == 1


def test_refund_callback_before_capture_is_applied_in_order(
    db: Database, client: ApiClient
) -> None:
    rail = StripeRail.connect(client, db)
    rail.book("mv_order", "ch_order", 5000, status="authorized")
    rail.send("evt_refund", "refund.created", "re_order", 5000, charge="ch_order")
    assert _status_of(rail, "ch_order") == "authorized"  # held: no capture seen yet
    rail.send("evt_capture", "charge.succeeded", "ch_order", 5000)
    assert _status_of(rail, "ch_order") == "refunded"
    # A refunded payment matched to its settled charge is history, not a status conflict.
    run = rail.run(rail.settle([("ch_order", "50.00")]))
    assert run["counts"]["matched"] == 1
    assert rail.exceptions(run["id"]) == []


def test_callback_arriving_after_review_started_is_correlated_into_the_run(
    db: Database, client: ApiClient
) -> None:
    rail = StripeRail.connect(client, db)
    rail.book("mv_paid", "ch_paid", 1250)
    run = rail.run(rail.settle([("ch_paid", "12.50"), ("ch_ghost", "3.00")]))
    (unmatched,) = rail.exceptions(run["id"])
    assert unmatched["type"] == "unmatched_provider_row"
    callback = rail.send("evt_ghost", "charge.succeeded", "ch_ghost", 300).json()
    (correlated,) = rail.events(run["id"], CORRELATED)
    assert correlated["data"]["exception_ids"] == [unmatched["id"]]
    assert correlated["data"]["outcomes"][0]["outcome"] == "evidence"
    # The callback brings no internal activity: the row stays unmatched, now with evidence.
    detail = rail.detail(unmatched["id"])
    assert (detail["type"], detail["status"]) == ("unmatched_provider_row", "open")
    (evidence,) = detail["evidence"]["details"]["callbacks"]
    assert evidence["callback_id"] == callback["id"]


def test_a_callback_confirming_a_missing_from_settlement_movement_resolves_it(
    db: Database, client: ApiClient
) -> None:
    rail = StripeRail.connect(client, db)
    rail.book("mv_paid", "ch_paid", 1250)
    rail.book("mv_late", "ch_late", 990)
    run = rail.run(rail.settle([("ch_paid", "12.50")]))
    (missing,) = rail.exceptions(run["id"])
    assert missing["type"] == "missing_from_settlement"

    callback = rail.send("evt_late", "charge.succeeded", "ch_late", 990).json()

    detail = rail.detail(missing["id"])
    assert (detail["status"], detail["decision"]) == ("resolved", "confirmed_by_callback")
    assert callback["id"] in detail["note"]
    transition = next(a for a in detail["history"] if a["kind"] == "transition")
    assert transition["actor"] == f"provider:{rail.connection['id']}"
    resolved = rail.events(run["id"], "reconciliation.exception.resolved")
    assert [e["data"]["exception_id"] for e in resolved] == [missing["id"]]
    audit = client.get("/audit/events", params={"limit": 500}).json()["data"]
    assert any(
        a["action"] == "reconciliation.exception.transitioned"
        and a["resource"]["id"] == missing["id"]
        for a in audit
    )
    # Nothing left open: the run closes.
    rail.close(run["id"])


def test_a_callback_of_another_amount_leaves_the_missing_movement_open(
    db: Database, client: ApiClient
) -> None:
    rail = StripeRail.connect(client, db)
    rail.book("mv_late", "ch_late", 990)
    run = rail.run(rail.settle([("ch_other", "1.00")]), window="2026-11-21")
    missing = next(e for e in rail.exceptions(run["id"]) if e["movement_id"] == "mv_late")
    rail.send("evt_late", "charge.succeeded", "ch_late", 900)
    detail = rail.detail(missing["id"])
    assert (detail["type"], detail["status"]) == ("missing_from_settlement", "open")
    assert len(detail["evidence"]["details"]["callbacks"]) == 1


def test_callback_says_failed_settlement_says_paid_is_a_status_conflict(
    db: Database, client: ApiClient
) -> None:
    rail = StripeRail.connect(client, db)
    rail.book("mv_ok", "ch_ok", 1250)
    rail.book("mv_failed", "ch_failed", 990)
    # The failure arrives first: the movement's status becomes failed...
    rail.send("evt_fail", "charge.failed", "ch_failed", 990)
    assert _status_of(rail, "ch_failed") == "failed"
    # ...and the settlement books the payment all the same.
    run = rail.run(rail.settle([("ch_ok", "12.50"), ("ch_failed", "9.90")]))
    assert run["counts"]["matched"] == 1
    (conflict,) = rail.exceptions(run["id"])
    assert (conflict["type"], conflict["movement_id"]) == ("status_conflict", "mv_failed")
    details = rail.detail(conflict["id"])["evidence"]["details"]
    assert details["movement_says"]["status"] == "failed"
    assert len(details["movement_says"]["callbacks"]) == 1
    assert details["provider_says"] == {
        "status": "booked",
        "type": "charge",
        "external_record_ids": [conflict["external_record_id"]],
    }


def test_failed_callback_during_review_turns_an_unmatched_row_into_a_status_conflict(
    db: Database, client: ApiClient
) -> None:
    rail = StripeRail.connect(client, db)
    rail.book("mv_paid", "ch_paid", 1250)
    run = rail.run(rail.settle([("ch_paid", "12.50"), ("ch_ghost", "3.00")]))
    (unmatched,) = rail.exceptions(run["id"])

    rail.send("evt_ghost_failed", "charge.failed", "ch_ghost", 300)
    # The matched payment's provider says it failed too: a conflict for the matched pair.
    rail.send("evt_paid_failed", "charge.failed", "ch_paid", 1250)
    rail.send("evt_paid_failed_again", "charge.failed", "ch_paid", 1250)

    retyped = rail.detail(unmatched["id"])
    assert (retyped["type"], retyped["status"]) == ("status_conflict", "open")
    assert retyped["evidence"]["details"]["previous_types"] == ["unmatched_provider_row"]
    (change,) = [a for a in retyped["history"] if a["kind"] == "retyped"]
    assert (change["data"]["from_type"], change["data"]["to_type"]) == (
        "unmatched_provider_row",
        "status_conflict",
    )
    conflicts = rail.exceptions(run["id"], type="status_conflict")
    opened = [e for e in conflicts if e["id"] != unmatched["id"]]
    assert [(e["movement_id"], e["provider_reference"]) for e in opened] == [("mv_paid", "ch_paid")]
    outcomes = [o for e in rail.events(run["id"], CORRELATED) for o in e["data"]["outcomes"]]
    assert [o["outcome"] for o in outcomes] == ["retyped", "opened", "evidence"]


def test_daily_file_missing_after_its_cutoff_opens_missing_settlement_file_once(
    db: Database, client: ApiClient
) -> None:
    rail = StripeRail.connect(client, db)
    schedule = client.put(
        f"/providers/{rail.connection['id']}/schedule",
        json={"cadence": "daily", "cutoff": "06:00", "timezone": "UTC", "starts_on": "2026-11-19"},
    )
    assert schedule.status_code == 200, schedule.text
    check = f"/providers/{rail.connection['id']}/schedule/check"
    # 2026-11-21 at 07:00 UTC: the files of the 19th, 20th and 21st are all past their cutoff.
    rail.settle([("ch_1", "1.00")], day="2026-11-20")
    first = client.post(check, json={"at": "2026-11-21T07:00:00Z"})
    assert first.status_code == 200, first.text
    assert sorted(first.json()["opened"]) == ["2026-11-19", "2026-11-21"]
    again = client.post(check, json={"at": "2026-11-21T08:00:00Z"})
    assert again.json()["opened"] == []
    missing = rail.exceptions(type="missing_settlement_file")
    assert sorted(e["business_date"] for e in missing) == ["2026-11-19", "2026-11-21"]
    assert {e["run_id"] for e in missing} == {None}
    assert {e["connection_id"] for e in missing} == {rail.connection["id"]}
    # The file of the 21st arrives late: its exception resolves by itself.
    rail.settle([("ch_2", "2.00")], day="2026-11-21")
    late = next(
        e
        for e in rail.exceptions(type="missing_settlement_file")
        if e["business_date"] == "2026-11-21"
    )
    assert (late["status"], late["decision"]) == ("resolved", "file_received")


def test_callback_after_close_becomes_a_post_close_adjustment_of_the_next_run(
    db: Database, client: ApiClient
) -> None:
    rail = StripeRail.connect(client, db)
    rail.book("mv_paid", "ch_paid", 1250)
    closed = rail.run(rail.settle([("ch_paid", "12.50")]))
    rail.close(closed["id"])
    sealed = client.get(f"/reconciliation/runs/{closed['id']}/closeout").content

    callback = rail.send("evt_after_close", "charge.succeeded", "ch_after", 700).json()
    # No next run yet: the adjustment waits in the queue, without a run.
    (waiting,) = rail.exceptions(type="late_callback")
    assert waiting["run_id"] is None
    assert rail.detail(waiting["id"])["evidence"]["details"]["post_close_of"] == closed["id"]

    rail.book("mv_next", "ch_next", 400, occurred_at="2026-11-22T09:00:00Z")
    following = rail.run(rail.settle([("ch_next", "4.00")], day="2026-11-22"), window="2026-11-22")
    (adjustment,) = rail.exceptions(following["id"], type="late_callback")
    assert adjustment["id"] == waiting["id"]
    detail = rail.detail(adjustment["id"])
    assert detail["evidence"]["details"]["post_close_of"] == closed["id"]
    assert detail["evidence"]["details"]["callbacks"][0]["callback_id"] == callback["id"]
    assert "attached" in [a["kind"] for a in detail["history"]]
    (correlated,) = rail.events(following["id"], CORRELATED)
    assert correlated["data"]["post_close_of"] == closed["id"]
    # The closed run and its sealed evidence are untouched; the next run cannot close over it.
    assert rail.exceptions(closed["id"], type="late_callback") == []
    assert client.get(f"/reconciliation/runs/{closed['id']}/closeout").content == sealed
    refused = client.post(f"/reconciliation/runs/{following['id']}/closeout")
    assert refused.status_code == 409
    assert adjustment["id"] in {u["id"] for u in refused.json()["unmet_requirements"]}
