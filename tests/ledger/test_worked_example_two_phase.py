"""Worked example: a pending entry is posted, and then it cannot be voided.

A merchant's payout is reserved while the rail processes it (a pending entry: the money is no
longer available, not yet gone), then the rail confirms and the entry is posted. A late
attempt to void it is refused with 409: a posted entry is only ever corrected by a reversal.
"""

from __future__ import annotations

from tests.conftest import TenantHandle
from tests.fixtures.api import ApiClient
from tests.ledger.scenarios import (
    balances,
    ledger_state,
    open_account,
    sums_recomputed_from_postings,
    transfer,
)
from zentra.kit.db import Database


def test_a_pending_payout_is_posted_then_cannot_be_voided(
    db: Database, client: ApiClient, tenant: TenantHandle
) -> None:
    open_account(client, "settlement_account", "asset")
    open_account(client, "merchant_balance", "liability", non_negative=True)
    # The merchant earned 5,000.00 EUR.
    earned = transfer("sale_1", "settlement_account", "merchant_balance", 500_000)
    assert client.post("/ledger/entries", json=earned).status_code == 201

    # The payout of 1,250.00 is reserved: pending, not available, not posted yet.
    payout = transfer("payout_1", "merchant_balance", "settlement_account", 125_000, pending=True)
    reserved = client.post("/ledger/entries", json=payout)
    assert reserved.status_code == 201
    assert reserved.json()["status"] == "pending"
    assert balances(client, "merchant_balance") == (500_000, -125_000, 375_000)

    # The rail confirms: the entry is posted.
    posted = client.post("/ledger/entries/payout_1/post")
    assert posted.status_code == 200
    assert posted.json()["status"] == "posted"
    assert balances(client, "merchant_balance") == (375_000, 0, 375_000)
    posted_events = client.get("/events", params={"type": "ledger.entry.posted"}).json()["data"]
    assert [e["data"]["entry_id"] for e in posted_events] == ["sale_1", "payout_1"]

    # A late void is refused, and changes nothing.
    before = ledger_state(db, tenant.tenant_id)
    refused = client.post("/ledger/entries/payout_1/void")
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["code"] == "ledger.invalid_transition"
    assert problem["entry_status"] == "posted"
    assert "reverse it" in problem["detail"]
    assert ledger_state(db, tenant.tenant_id) == before
    assert client.get("/ledger/entries/payout_1").json()["status"] == "posted"

    # The correction that is allowed: a reversal, which gives the money back.
    reversal = client.post("/ledger/entries/payout_1/reverse")
    assert reversal.status_code == 201
    assert balances(client, "merchant_balance") == (500_000, 0, 500_000)
    assert sums_recomputed_from_postings(db, tenant.tenant_id)["merchant_balance"] == [
        125_000,
        625_000,
        0,
        0,
    ]
