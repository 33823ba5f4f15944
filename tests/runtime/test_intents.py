"""Intents over the HTTP API on both databases: replay, policy, trace, events, evidence,
settings, tenancy and roles."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from tests.conftest import TenantHandle, make_tenant
from tests.fixtures.api import ApiClient
from tests.reconciliation.factories import make_key
from tests.runtime.conftest import (
    BACKUP,
    PRIMARY,
    count,
    create_rail,
    intent_body,
    ok,
    rows,
    set_policy,
    set_routes,
    submit,
    submitted,
    two_rails,
)
from zentra.kit.db import Database
from zentra.runtime.evidence import verify_intent_evidence


def intent_events(db: Database) -> list[dict[str, Any]]:
    """The data of every ``runtime.intent.state_changed`` event, in outbox order."""
    events = rows(
        db,
        "SELECT data FROM events WHERE type = 'runtime.intent.state_changed' ORDER BY id",
    )
    return [e["data"] if isinstance(e["data"], dict) else json.loads(e["data"]) for e in events]


STATES = ["accepted", "controlled", "ledgered", "routed", "synchronized", "evidenced"]


def _issue(db: Database, tenant: TenantHandle, *roles: str) -> str:
    return make_key(db, tenant.tenant_id, *roles)


def test_an_intent_runs_every_state_in_order_with_ordered_times(
    db: Database, client: ApiClient
) -> None:
    two_rails(client)
    intent = submitted(client, "intent_042")
    assert intent["status"] == "evidenced"
    assert [step["state"] for step in intent["trace"]] == STATES
    times = [datetime.fromisoformat(step["at"].replace("Z", "+00:00")) for step in intent["trace"]]
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    assert times[-1] - times[0] < timedelta(seconds=30)
    assert intent["route"] == {"rail": PRIMARY}
    assert intent["ledger_entries"] == ["intent:intent_042:reserve"]
    movement = intent["movement"]
    assert movement["movement_id"] == "intent_042"
    assert movement["provider"] == PRIMARY
    assert movement["provider_reference"].startswith("sbx_")
    assert (movement["amount"], movement["currency"], movement["status"]) == (
        125000,
        "EUR",
        "pending",
    )
    evidence = intent["evidence"]
    assert evidence["actor"] == "key:first admin key"
    assert evidence["scope"] == "workspace_scope"
    assert evidence["timestamp"] == intent["trace"][-1]["at"]
    assert "limit_check.not_configured" in evidence["policy"]["evidence"]
    assert evidence["signature"]["algorithm"] == "ed25519"
    # The reservation is in the ledger: customer -> reserved.
    reserved = ok(client.get("/ledger/accounts/reserved_balance"))
    assert (reserved["posted"], reserved["currency"]) == (125000, "EUR")
    assert ok(client.get("/ledger/accounts/customer_balance"))["posted"] == -125000
    assert ok(client.get("/runtime/intents/intent_042")) == intent


def test_replay_answers_the_stored_intent_and_other_content_is_a_conflict(
    db: Database, client: ApiClient
) -> None:
    two_rails(client)
    first = submitted(client, "intent_1")
    again = submit(client, "intent_1")
    assert again.status_code == 200
    assert again.json() == first
    assert count(db, "ledger_entries") == 1
    assert count(db, "movements") == 1
    conflict = submit(client, "intent_1", amount=125001, destination="merchant_other")
    assert conflict.status_code == 409
    problem = conflict.json()
    assert problem["code"] == "duplicate_resource"
    assert problem["fields"] == ["amount", "destination"]
    assert problem["field"] == "amount"
    # A rejected intent replays as rejected: it is not evaluated again.
    set_policy(client, limits=[{"currency": "EUR", "max_amount": 100}])
    rejected = submitted(client, "intent_2", amount=101)
    set_policy(client)
    assert ok(submit(client, "intent_2", amount=101)) == rejected
    assert rejected["status"] == "rejected"


def test_velocity_caps_a_source_per_utc_day(db: Database, client: ApiClient) -> None:
    two_rails(client)
    set_policy(client, velocity=[{"currency": "EUR", "max_amount_per_day": 300_000}])
    assert submitted(client, "v_1", 200_000)["status"] == "evidenced"
    over = submitted(client, "v_2", 100_001)
    assert (over["status"], over["reason"]) == ("rejected", "velocity_exceeded")
    assert "velocity_check.rejected" in over["evidence"]["policy"]["evidence"]
    # The rejected one does not count; another source has its own cap; another currency none.
    assert submitted(client, "v_3", 100_000)["status"] == "evidenced"
    assert submitted(client, "v_4", 300_000, source="customer_other")["status"] == "evidenced"
    assert submitted(client, "v_5", 1, source="customer_balance")["reason"] == "velocity_exceeded"
    # Yesterday's intents count on yesterday: move them back a day and the cap is fresh.
    with db.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE intents SET accepted_on = accepted_on - 1"
            if db.is_postgres
            else "UPDATE intents SET accepted_on = date(accepted_on, '-1 day')"
        )
    assert submitted(client, "v_6", 300_000)["status"] == "evidenced"


def test_blocked_counterparty_and_risk_rule_reject_with_their_reason(
    db: Database, client: ApiClient
) -> None:
    two_rails(client)
    set_policy(
        client,
        blocked_counterparties=["merchant_sanctioned"],
        risk_rules=[
            {
                "name": "no_large_jpy",
                "match": {"currency": "JPY", "min_amount": 1_000_000},
                "action": "reject",
            }
        ],
    )
    blocked = submitted(client, "b_1", destination="merchant_sanctioned")
    assert (blocked["status"], blocked["reason"]) == ("rejected", "blocked_counterparty")
    risky = submitted(client, "r_1", 1_000_000, currency="JPY")
    assert (risky["status"], risky["reason"]) == ("rejected", "risk_rule_rejected")
    assert "risk_check.rejected" in risky["evidence"]["policy"]["evidence"]
    fine = submitted(client, "r_2", 999_999, currency="JPY")
    assert fine["status"] == "evidenced"
    assert count(db, "ledger_entries") == 1  # only the JPY intent that passed


def test_every_transition_is_announced_in_the_outbox(db: Database, client: ApiClient) -> None:
    two_rails(client)
    intent = submitted(client, "e_1")
    data = intent_events(db)
    assert [(d["from"], d["to"]) for d in data] == list(zip([None, *STATES], STATES, strict=False))
    assert all(d["intent_id"] == "e_1" for d in data)
    assert [d["at"] for d in data] == [step["at"] for step in intent["trace"]]
    set_policy(client, limits=[{"currency": "EUR", "max_amount": 1}])
    submitted(client, "e_2")
    rejected = [d for d in intent_events(db) if d["intent_id"] == "e_2"]
    assert [(d["from"], d["to"]) for d in rejected] == [
        (None, "accepted"),
        ("accepted", "rejected"),
    ]
    assert rejected[-1]["reason"] == "limit_exceeded"


def test_evidence_signature_verifies_with_the_workspace_key(
    db: Database, client: ApiClient
) -> None:
    two_rails(client)
    intent = submitted(client, "s_1")
    answer = ok(client.get("/runtime/intents/s_1/evidence"))
    document = answer["document"]
    assert answer["signature_valid"] is True
    assert answer["key_known"] is True
    assert verify_intent_evidence(document)
    assert document["signature"] == intent["evidence"]["signature"]
    assert answer["digest"] == intent["evidence"]["digest"]
    assert [step["state"] for step in document["trace"]] == STATES
    assert document["movement"]["provider_reference"] == intent["movement"]["provider_reference"]
    tampered = {**document, "actor": "key:someone_else"}
    assert not verify_intent_evidence(tampered)
    # The signing key is the tenant's closeout key.
    (key,) = rows(db, "SELECT id, public_key FROM signing_keys")
    assert document["signature"]["key_id"] == key["id"]
    assert document["signature"]["public_key"] == key["public_key"]


def test_settings_are_versioned_audited_and_validated(db: Database, client: ApiClient) -> None:
    assert ok(client.get("/runtime/policy"))["version"] == 0
    assert ok(client.get("/runtime/routes"))["rules"] == []
    create_rail(client, PRIMARY)
    policy = {"limits": [{"currency": "eur", "max_amount": 500000}]}
    first = ok(client.put("/runtime/policy", json=policy))
    assert (first["version"], first["limits"]) == (1, [{"currency": "EUR", "max_amount": 500000}])
    assert ok(client.put("/runtime/policy", json=policy))["version"] == 1  # unchanged: no-op
    assert ok(client.put("/runtime/policy", json={}))["version"] == 2
    assert count(db, "audit_events", "action = 'runtime.policy.updated'") == 2
    unknown = client.put("/runtime/routes", json={"rules": [{"rails": [PRIMARY, "rail_nope"]}]})
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "rules[0].rails[1]"
    assert (
        client.put(
            "/runtime/policy", json={"limits": [{"currency": "EUR", "max_amount": 1.5}]}
        ).status_code
        == 422
    )
    assert ok(client.put("/runtime/routes", json={"rules": [{"rails": [PRIMARY]}]}))["version"] == 1
    down = ok(client.post(f"/runtime/rails/{PRIMARY}/health", json={"status": "down"}))
    assert down["status"] == "down"
    assert (
        client.post("/runtime/rails/rail_nope/health", json={"status": "down"}).status_code == 404
    )
    assert count(db, "audit_events", "action = 'runtime.rail.health_changed'") == 1
    assert count(db, "audit_events", "action = 'runtime.routes.updated'") == 1


def test_no_route_or_no_rail_rejects_without_posting(db: Database, client: ApiClient) -> None:
    create_rail(client, PRIMARY)
    none = submitted(client, "n_1")
    assert (none["status"], none["reason"]) == ("rejected", "no_route_matched")
    set_routes(client, [{"match": {"currency": "EUR"}, "rails": [PRIMARY]}])
    ok(client.post(f"/runtime/rails/{PRIMARY}/health", json={"status": "down"}))
    down = submitted(client, "n_2")
    assert (down["status"], down["reason"]) == ("rejected", "no_rail_available")
    assert [step["state"] for step in down["trace"]] == ["accepted", "controlled", "rejected"]
    assert down["trace"][-1]["detail"]["route"]["tried"] == [{"rail": PRIMARY, "result": "down"}]
    assert count(db, "ledger_entries") == 0
    assert count(db, "ledger_accounts") == 0
    assert count(db, "movements") == 0


def test_a_ledger_refusal_rejects_the_intent_and_rolls_back_its_accounts(
    db: Database, client: ApiClient
) -> None:
    two_rails(client)
    ok(
        client.post(
            "/ledger/accounts",
            json={
                "code": "customer_poor",
                "type": "liability",
                "currency": "EUR",
                "non_negative": True,
            },
        ),
        201,
    )
    refused = submitted(client, "l_1", source="customer_poor")
    assert (refused["status"], refused["reason"]) == ("rejected", "ledger_refused")
    assert refused["trace"][-1]["detail"]["ledger"]["code"] == "ledger.insufficient_balance"
    assert count(db, "ledger_entries") == 0
    # Neither reserved_balance nor merchant_balance was left behind.
    assert [r["code"] for r in rows(db, "SELECT code FROM ledger_accounts")] == ["customer_poor"]
    assert count(db, "movements") == 0


def test_intents_of_another_tenant_are_not_found(db: Database, client: ApiClient) -> None:
    two_rails(client)
    submitted(client, "t_1")
    other = make_tenant(db, "globex")
    stranger = client.with_key(other.api_key)
    assert stranger.get("/runtime/intents/t_1").status_code == 404
    assert stranger.get("/runtime/intents/t_1/evidence").status_code == 404
    assert ok(stranger.get("/runtime/intents"))["data"] == []
    assert (
        stranger.post(f"/runtime/rails/{PRIMARY}/health", json={"status": "down"}).status_code
        == 404
    )
    # The same intent id is free in the other tenant, and its own.
    create_rail(stranger, PRIMARY)
    set_routes(stranger, [{"rails": [PRIMARY]}])
    theirs = submitted(stranger, "t_1", amount=5)
    assert theirs["amount"] == 5
    assert ok(client.get("/runtime/intents/t_1"))["amount"] == 125000


def test_service_creates_intents_and_auditor_only_reads(
    db: Database, client: ApiClient, tenant: TenantHandle
) -> None:
    two_rails(client)
    service = client.with_key(_issue(db, tenant, "service"))
    auditor = client.with_key(_issue(db, tenant, "auditor"))
    created = service.post("/runtime/intents", json=intent_body("ro_1"))
    assert created.status_code == 201, created.text
    assert created.json()["evidence"]["actor"] == "key:service"
    refused = auditor.post("/runtime/intents", json=intent_body("ro_2"))
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert auditor.put("/runtime/policy", json={}).status_code == 403
    assert service.put("/runtime/policy", json={}).status_code == 403
    assert (
        auditor.post(f"/runtime/rails/{BACKUP}/health", json={"status": "down"}).status_code == 403
    )
    assert ok(auditor.get("/runtime/intents/ro_1"))["status"] == "evidenced"
    assert ok(auditor.get("/runtime/policy"))["version"] == 0
    assert count(db, "intents") == 1


def test_list_pages_and_filters(db: Database, client: ApiClient) -> None:
    two_rails(client)
    set_policy(client, limits=[{"currency": "EUR", "max_amount": 1000}])
    for number in range(5):
        submitted(client, f"p_{number}", 500 if number % 2 == 0 else 5000)
    first = ok(client.get("/runtime/intents", params={"limit": 2}))
    assert [i["intent_id"] for i in first["data"]] == ["p_0", "p_1"]
    rest = ok(client.get("/runtime/intents", params={"limit": 10, "cursor": first["next_cursor"]}))
    assert [i["intent_id"] for i in rest["data"]] == ["p_2", "p_3", "p_4"]
    assert rest["next_cursor"] is None
    rejected = ok(client.get("/runtime/intents", params={"status": "rejected"}))
    assert [i["intent_id"] for i in rejected["data"]] == ["p_1", "p_3"]
    assert count(db, "audit_events", "action = 'runtime.intent.submitted'") == 5


def test_system_accounts_are_made_per_currency_when_first_needed(
    db: Database, client: ApiClient
) -> None:
    two_rails(client)
    assert client.get("/ledger/accounts/reserved_balance").status_code == 404
    submitted(client, "c_eur", 1000)
    usd_intent = {"source": "customer_usd", "destination": "merchant_usd", "currency": "USD"}
    submitted(client, "c_usd", 2000, **usd_intent)
    eur = ok(client.get("/ledger/accounts/reserved_balance"))
    usd = ok(client.get("/ledger/accounts/reserved_balance_usd"))
    assert (eur["currency"], eur["posted"], eur["non_negative"]) == ("EUR", 1000, True)
    assert (usd["currency"], usd["posted"], usd["non_negative"]) == ("USD", 2000, True)
    # The intent's own accounts are plain balances in its currency; one in another currency
    # is the ledger's refusal, and the intent is rejected having posted nothing.
    assert ok(client.get("/ledger/accounts/customer_usd"))["non_negative"] is False
    mixed = submitted(client, "c_mixed", 3000, currency="USD")  # customer_balance is EUR
    assert (mixed["status"], mixed["reason"]) == ("rejected", "ledger_refused")
    assert mixed["trace"][-1]["detail"]["ledger"]["code"] == "ledger.account_conflict"
    assert count(db, "ledger_entries") == 2
