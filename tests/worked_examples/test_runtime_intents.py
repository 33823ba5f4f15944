"""Worked examples of the payment runtime, over the HTTP API, on both databases.

A workspace with two sandbox rails (``rail_primary`` then ``rail_backup`` for every payment)
and a per-payment limit of 5,000.00 EUR.
"""

from __future__ import annotations

from typing import Any

from tests.fixtures.api import ApiClient
from tests.runtime.conftest import BACKUP, PRIMARY, count, ok, set_policy, submitted, two_rails
from zentra.kit.db import Database
from zentra.runtime.evidence import verify_intent_evidence


def _workspace(client: ApiClient) -> None:
    two_rails(client)
    set_policy(client, limits=[{"currency": "EUR", "max_amount": 500_000}])


def _audit(client: ApiClient, action: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = ok(client.get("/audit/events", params={"limit": 500}))["data"]
    return [event for event in events if event["action"] == action]


def test_intent_over_the_limit_is_rejected_and_posts_nothing(
    db: Database, client: ApiClient
) -> None:
    _workspace(client)
    intent = submitted(client, "intent_over_limit", amount=900_000)

    assert intent["status"] == "rejected"
    assert intent["reason"] == "limit_exceeded"
    assert [step["state"] for step in intent["trace"]] == ["accepted", "rejected"]
    assert intent["trace"][-1]["detail"]["stage"] == "controlled"
    assert intent["evidence"]["policy"]["result"] == "rejected"
    assert "limit_check.rejected" in intent["evidence"]["policy"]["evidence"]
    assert (intent["route"], intent["ledger_entries"], intent["movement"]) == (None, [], None)

    # The ledger, read through its own API, holds nothing: no entry, no account, no movement.
    assert ok(client.get("/ledger/entries"))["data"] == []
    assert client.get("/ledger/accounts/reserved_balance").status_code == 404
    assert client.get("/ledger/accounts/customer_balance").status_code == 404
    assert ok(client.get("/movements"))["data"] == []
    assert count(db, "ledger_postings") == 0

    # The refusal itself is kept: sealed evidence, an audit record with its policy result.
    evidence = ok(client.get("/runtime/intents/intent_over_limit/evidence"))
    assert evidence["signature_valid"] is True
    assert verify_intent_evidence(evidence["document"])
    (audited,) = _audit(client, "runtime.intent.submitted")
    assert (audited["policy_result"], audited["outcome"]) == ("rejected", "rejected")

    # Within the limit the same workspace moves money.
    accepted = submitted(client, "intent_within_limit", amount=500_000)
    assert accepted["status"] == "evidenced"
    assert [entry["entry_id"] for entry in ok(client.get("/ledger/entries"))["data"]] == [
        "intent:intent_within_limit:reserve"
    ]


def test_primary_rail_down_routes_to_the_backup(db: Database, client: ApiClient) -> None:
    _workspace(client)
    assert submitted(client, "intent_before")["route"] == {"rail": PRIMARY}

    ok(client.post(f"/runtime/rails/{PRIMARY}/health", json={"status": "down"}))
    intent = submitted(client, "intent_failover")

    assert intent["status"] == "evidenced"
    assert intent["route"] == {"rail": BACKUP}
    routed = next(step for step in intent["trace"] if step["state"] == "routed")
    assert routed["detail"]["tried"] == [
        {"rail": PRIMARY, "result": "down"},
        {"rail": BACKUP, "result": "chosen"},
    ]
    assert routed["detail"]["failover"] is True
    movement = intent["movement"]
    assert movement["provider"] == BACKUP
    assert routed["detail"]["provider_reference"] == movement["provider_reference"]
    movements = {m["movement_id"]: m for m in ok(client.get("/movements"))["data"]}
    assert movements["intent_failover"]["provider"] == BACKUP

    # The backup rail settles it; the primary rail's day does not know it.
    day = movement["occurred_at"][:10]
    settled = ok(client.post(f"/runtime/rails/{BACKUP}/sandbox/settle", json={"date": day}), 200)
    assert settled["callbacks"]["outcomes"] == {"settled": [movement["provider_reference"]]}
    assert ok(client.get("/runtime/intents/intent_failover"))["settled_at"] is not None

    # Back up: the next payment takes the primary rail again.
    ok(client.post(f"/runtime/rails/{PRIMARY}/health", json={"status": "up"}))
    assert submitted(client, "intent_after")["route"] == {"rail": PRIMARY}
