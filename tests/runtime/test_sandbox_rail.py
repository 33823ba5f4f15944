"""The sandbox rail on both databases: signed callbacks through the real callback path that
settle each intent once under duplicates, late callbacks delivered later, and a settlement file
that a reconciliation run matches against the intents' movements, noise becoming exceptions."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.conftest import TenantHandle
from tests.fixtures.api import ApiClient
from tests.reconciliation.factories import make_key
from tests.runtime.conftest import (
    BACKUP,
    PRIMARY,
    count,
    create_rail,
    ok,
    rows,
    submitted,
    two_rails,
)
from zentra.kit.db import Database
from zentra.worker.runtime import default_worker


def burst(client: ApiClient, count_: int, prefix: str = "sb") -> tuple[list[dict[str, Any]], str]:
    """``count_`` intents routed to the primary rail, and the UTC day they were routed on."""
    intents = [submitted(client, f"{prefix}_{n:02d}", 10_000 + 137 * n) for n in range(count_)]
    days = {intent["movement"]["occurred_at"][:10] for intent in intents}
    assert len(days) == 1, f"the burst straddled midnight: {days}"
    return intents, days.pop()


def settle(client: ApiClient, day: str, rail: str = PRIMARY, **noise: int) -> dict[str, Any]:
    return ok(
        client.post(
            f"/runtime/rails/{rail}/sandbox/settle",
            json={"date": day, "seed": 42, "noise": noise},
        )
    )


def balance(client: ApiClient, code: str) -> int:
    posted: int = ok(client.get(f"/ledger/accounts/{code}"))["posted"]
    return posted


def test_duplicate_callbacks_settle_each_intent_once(db: Database, client: ApiClient) -> None:
    two_rails(client)
    intents, day = burst(client, 6)
    answer = settle(client, day, duplicate_callbacks=3, fee_minor=25)
    assert answer["intents"] == 6
    assert answer["callbacks"] == {
        "delivered": 6,
        "duplicates": 3,
        "held_late": 0,
        "outcomes": {"settled": sorted(i["movement"]["provider_reference"] for i in intents)},
    }
    # Every delivery was signed and verified: nothing refused, one stored callback per event.
    assert count(db, "security_log") == 0
    assert count(db, "callbacks") == 6
    assert count(db, "audit_events", "action = 'callback.received'") == 6
    # Four entries per intent, no more: reserve, settle, credit, payout.
    assert count(db, "ledger_entries") == 24
    total = sum(i["amount"] for i in intents)
    assert balance(client, "reserved_balance") == 0
    assert balance(client, "settlement_account") == 0
    assert balance(client, "provider_fees") == 6 * 25
    assert balance(client, "merchant_balance") == 0
    assert balance(client, "payout_clearing") == total - 6 * 25
    settled = ok(client.get(f"/runtime/intents/{intents[0]['intent_id']}"))
    assert settled["ledger_entries"] == [
        f"intent:{settled['intent_id']}:{step}"
        for step in ("reserve", "settle", "credit", "payout")
    ]
    assert settled["settled_at"] is not None
    assert settled["movement"]["status"] == "captured"  # moved by the callback path

    # The same day again: the same file, every callback a duplicate, nothing posted.
    again = settle(client, day, duplicate_callbacks=3, fee_minor=25)
    assert again["settlement_file"]["id"] == answer["settlement_file"]["id"]
    assert again["settlement_file"]["created"] is False
    assert (again["callbacks"]["delivered"], again["callbacks"]["duplicates"]) == (0, 9)
    assert count(db, "ledger_entries") == 24
    assert count(db, "callbacks") == 6


def test_settlement_file_reconciles_against_the_intents_with_noise_as_exceptions(
    db: Database, client: ApiClient
) -> None:
    two_rails(client)
    intents, day = burst(client, 10)
    answer = settle(
        client,
        day,
        missing_rows=1,
        amount_drift=1,
        unknown_references=1,
        late_callbacks=2,
        duplicate_callbacks=1,
        fee_minor=10,
    )
    noise = answer["noise"]
    assert answer["settlement_file"]["rows"] == 10 - 1 + 1
    assert answer["callbacks"]["held_late"] == 2
    assert answer["callbacks"]["delivered"] == 8
    late = set(noise["late"])
    by_reference = {i["movement"]["provider_reference"]: i for i in intents}
    for reference in late:
        held = ok(client.get(f"/runtime/intents/{by_reference[reference]['intent_id']}"))
        assert held["settled_at"] is None
        assert held["ledger_entries"] == [f"intent:{held['intent_id']}:reserve"]

    run = ok(
        client.post(
            "/reconciliation/runs",
            json={
                "provider": PRIMARY,
                "settlement_file": answer["settlement_file"]["id"],
                "ledger_window": day,
                "owner": "finance_ops",
            },
        ),
        201,
    )
    default_worker(db).drain()
    run = ok(client.get(f"/reconciliation/runs/{run['id']}"))
    assert run["status"] == "review"
    assert run["counts"]["internal_records"] == 10
    assert run["counts"]["matched"] == 8
    exceptions = ok(client.get(f"/reconciliation/runs/{run['id']}/exceptions"))["data"]
    found = {(e["type"], e["provider_reference"]) for e in exceptions}
    assert found == {
        ("missing_from_settlement", noise["missing"][0]),
        ("amount_mismatch", noise["drifted"][0]),
        ("unmatched_provider_row", noise["unknown"][0]),
    }
    # Fees are the provider's: a fee on a row is not an amount mismatch.
    assert Counter(e["type"] for e in exceptions)["amount_mismatch"] == 1

    # The provider finally sends the late callbacks: they settle their intents and are
    # correlated into the run in review.
    delivered = ok(client.post(f"/runtime/rails/{PRIMARY}/sandbox/deliver-late"))
    assert delivered["delivered"] == len(late)
    assert delivered["outcomes"] == {"settled": sorted(late)}
    for reference in late:
        assert ok(client.get(f"/runtime/intents/{by_reference[reference]['intent_id']}"))[
            "settled_at"
        ]
    correlated = rows(
        db, "SELECT resource_id FROM events WHERE type = 'reconciliation.callback.correlated'"
    )
    assert [row["resource_id"] for row in correlated] == [run["id"]] * len(late)
    assert ok(client.post(f"/runtime/rails/{PRIMARY}/sandbox/deliver-late"))["delivered"] == 0
    assert count(db, "ledger_entries") == 10 * 4


def test_only_the_rails_own_intents_of_the_day_settle(db: Database, client: ApiClient) -> None:
    two_rails(client)
    ok(client.post(f"/runtime/rails/{PRIMARY}/health", json={"status": "down"}))
    on_backup = submitted(client, "on_backup")
    assert on_backup["route"] == {"rail": BACKUP}
    day = on_backup["movement"]["occurred_at"][:10]
    assert settle(client, day)["intents"] == 0
    assert settle(client, "2001-01-01", rail=BACKUP)["intents"] == 0
    assert settle(client, day, rail=BACKUP)["intents"] == 1


def test_settle_is_for_sandbox_rails_and_service_keys(
    db: Database, client: ApiClient, tenant: TenantHandle
) -> None:
    create_rail(client, "stripe_live", kind="stripe")
    body = {"date": "2026-04-26"}
    assert client.post("/runtime/rails/stripe_live/sandbox/settle", json=body).status_code == 422
    assert client.post("/runtime/rails/rail_nope/sandbox/settle", json=body).status_code == 404
    create_rail(client, PRIMARY)
    auditor = client.with_key(make_key(db, tenant.tenant_id, "auditor"))
    assert auditor.post(f"/runtime/rails/{PRIMARY}/sandbox/settle", json=body).status_code == 403
    service = client.with_key(make_key(db, tenant.tenant_id, "service"))
    assert service.post(f"/runtime/rails/{PRIMARY}/sandbox/settle", json=body).status_code == 200
