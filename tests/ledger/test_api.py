"""The ledger API (SPEC 5) over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import TenantHandle, make_tenant
from tests.fixtures.api import ApiClient
from tests.ledger.scenarios import (
    DAY,
    balances,
    ledger_state,
    leg,
    open_account,
    sums_recomputed_from_postings,
    transfer,
)
from zentra.audit.service import verify_chain
from zentra.kit.context import system_context
from zentra.kit.db import Database
from zentra.ledger.errors import BatchTooLarge
from zentra.ledger.schemas import EntryRequest
from zentra.ledger.service import post_entries_batch
from zentra.tenancy.service import create_api_key


def _setup(client: ApiClient) -> None:
    open_account(client, "cash", "asset")
    open_account(client, "customer_balance", "liability")
    open_account(client, "wallet", "liability", non_negative=True)


def _key(db: Database, tenant: TenantHandle, role: str) -> str:
    with db.unit_of_work() as session:
        issued = create_api_key(
            session, system_context(tenant.tenant_id), roles=[role], name=f"{role} key"
        )
    return issued.secret


def test_an_account_is_created_once_and_answers_its_balances(
    db: Database, client: ApiClient
) -> None:
    created = client.post(
        "/ledger/accounts", json={"code": "cash", "type": "asset", "currency": "EUR"}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["normal_side"] == "debit"
    assert (body["posted"], body["pending"], body["available"]) == (0, 0, 0)
    again = client.post(
        "/ledger/accounts", json={"code": "cash", "type": "asset", "currency": "EUR"}
    )
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    other = client.post(
        "/ledger/accounts", json={"code": "cash", "type": "asset", "currency": "USD"}
    )
    assert other.status_code == 409
    assert other.json()["code"] == "ledger.account_conflict"
    assert other.json()["fields"] == ["currency"]
    assert client.get("/ledger/accounts/cash").json()["id"] == body["id"]
    assert client.get("/ledger/accounts/nope").status_code == 404
    assert (
        client.post(
            "/ledger/accounts", json={"code": "x", "type": "asset", "currency": "EURO"}
        ).status_code
        == 422
    )
    liability = open_account(client, "customer_balance", "liability")
    assert liability["normal_side"] == "credit"
    listed = client.get("/ledger/accounts", params={"limit": 1})
    assert [a["code"] for a in listed.json()["data"]] == ["cash"]
    rest = client.get("/ledger/accounts", params={"cursor": listed.json()["next_cursor"]})
    assert [a["code"] for a in rest.json()["data"]] == ["customer_balance"]


def test_an_entry_is_recorded_once_and_replayed_by_its_entry_id(
    db: Database, client: ApiClient
) -> None:
    _setup(client)
    body = transfer(
        "e1", "cash", "customer_balance", 1250, references={"provider_reference": "pi_1"}
    )
    created = client.post("/ledger/entries", json=body)
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["status"] == "posted"
    assert entry["postings"] == body["postings"]
    assert balances(client, "cash") == (1250, 0, 1250)
    assert balances(client, "customer_balance") == (1250, 0, 1250)

    replay = client.post("/ledger/entries", json=body)
    assert replay.status_code == 200
    assert replay.json()["id"] == entry["id"]
    assert balances(client, "cash") == (1250, 0, 1250)

    changed = client.post("/ledger/entries", json={**body, "description": "other"})
    assert changed.status_code == 409
    assert changed.json()["code"] == "ledger.entry_conflict"
    assert changed.json()["fields"] == ["description"]
    moved = transfer(
        "e1", "cash", "customer_balance", 999, references={"provider_reference": "pi_1"}
    )
    answer = client.post("/ledger/entries", json=moved).json()
    assert (answer["fields"], answer["field"]) == (["postings"], "postings")
    assert client.get("/ledger/entries/e1").json() == entry


def test_an_unbalanced_entry_is_refused_with_its_code_and_changes_nothing(
    db: Database, client: ApiClient, tenant: TenantHandle
) -> None:
    _setup(client)
    before = ledger_state(db, tenant.tenant_id)
    body = {
        "entry_id": "bad",
        "effective_at": DAY,
        "postings": [leg("cash", "debit", 100), leg("customer_balance", "credit", 90)],
    }
    answer = client.post("/ledger/entries", json=body)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["code"] == "ledger.unbalanced_entry"
    assert answer.headers["content-type"] == "application/problem+json"
    assert problem["violations"] == [
        {
            "code": "ledger.unbalanced_entry",
            "message": "EUR: debits exceed credits by 10",
            "currency": "EUR",
        }
    ]
    assert client.get("/ledger/entries/bad").status_code == 404
    assert ledger_state(db, tenant.tenant_id) == before


def test_malformed_postings_are_refused_by_name(db: Database, client: ApiClient) -> None:
    _setup(client)
    open_account(client, "cash_usd", "asset", "USD")

    def refused(postings: list[dict[str, Any]]) -> Any:
        answer = client.post(
            "/ledger/entries", json={"entry_id": "x", "effective_at": DAY, "postings": postings}
        )
        assert answer.status_code == 422, answer.text
        return answer.json()

    wrong = refused([leg("cash_usd", "debit", 100, "USD"), leg("cash", "credit", 100, "USD")])
    assert wrong["code"] == "ledger.currency_mismatch"
    assert wrong["violations"][0]["account"] == "cash"
    assert refused([leg("cash", "debit", 1), leg("ghost", "credit", 1)])["code"] == (
        "ledger.unknown_account"
    )
    assert refused([leg("cash", "debit", 1)])["code"] == "ledger.too_few_postings"
    assert refused([leg("cash", "debit", 0), leg("wallet", "credit", 0)])["code"] == (
        "ledger.invalid_amount"
    )
    # A float never becomes an amount: the schema refuses it before any check.
    float_amount = [leg("cash", "debit", 1), {**leg("wallet", "credit", 1), "amount": 1.0}]
    assert refused(float_amount)["code"] == "invalid_request"


def test_a_pending_entry_reserves_then_posts(db: Database, client: ApiClient) -> None:
    _setup(client)
    client.post("/ledger/entries", json=transfer("fund", "cash", "customer_balance", 1000))
    # The customer pays out 300 in two phases: reserved at once, posted later.
    hold = transfer("payout", "customer_balance", "cash", 300, pending=True)
    created = client.post("/ledger/entries", json=hold)
    assert created.status_code == 201
    assert created.json()["status"] == "pending"
    assert balances(client, "customer_balance") == (1000, -300, 700)
    assert balances(client, "cash") == (1000, -300, 700)
    posted = client.post("/ledger/entries/payout/post")
    assert posted.status_code == 200
    assert posted.json()["status"] == "posted"
    assert posted.json()["posted_at"] is not None
    assert balances(client, "customer_balance") == (700, 0, 700)
    # Posting again changes nothing.
    assert client.post("/ledger/entries/payout/post").json()["status"] == "posted"
    assert balances(client, "customer_balance") == (700, 0, 700)


def test_voiding_releases_a_pending_entry(db: Database, client: ApiClient) -> None:
    _setup(client)
    client.post("/ledger/entries", json=transfer("fund", "cash", "wallet", 500))
    client.post("/ledger/entries", json=transfer("hold", "wallet", "cash", 200, pending=True))
    assert balances(client, "wallet") == (500, -200, 300)
    voided = client.post("/ledger/entries/hold/void")
    assert voided.status_code == 200
    assert (voided.json()["status"], voided.json()["voided_by"]) == (
        "voided",
        "key:first admin key",
    )
    assert balances(client, "wallet") == (500, 0, 500)
    assert client.post("/ledger/entries/hold/post").status_code == 409
    assert client.post("/ledger/entries/nope/void").status_code == 404


def test_reversal_mirrors_a_posted_entry_and_links_both(db: Database, client: ApiClient) -> None:
    _setup(client)
    client.post("/ledger/entries", json=transfer("e1", "cash", "customer_balance", 400))
    reversed_ = client.post("/ledger/entries/e1/reverse")
    assert reversed_.status_code == 201, reversed_.text
    reversal = reversed_.json()
    assert reversal["entry_id"] == "e1:reversal"
    assert reversal["reverses_entry_id"] == "e1"
    assert [(p["account"], p["direction"]) for p in reversal["postings"]] == [
        ("cash", "credit"),
        ("customer_balance", "debit"),
    ]
    assert client.get("/ledger/entries/e1").json()["reversed_by_entry_id"] == "e1:reversal"
    assert balances(client, "cash") == (0, 0, 0)
    again = client.post("/ledger/entries/e1/reverse")
    assert (again.status_code, again.json()["id"]) == (200, reversal["id"])
    other = client.post("/ledger/entries/e1/reverse", json={"entry_id": "e1-fix"})
    assert other.status_code == 409
    # A chosen id, and a pending entry that cannot be reversed.
    client.post("/ledger/entries", json=transfer("e2", "cash", "customer_balance", 50))
    chosen = client.post(
        "/ledger/entries/e2/reverse",
        json={"entry_id": "e2-undo", "description": "duplicate charge"},
    )
    assert (chosen.status_code, chosen.json()["description"]) == (201, "duplicate charge")
    client.post("/ledger/entries", json=transfer("e3", "cash", "customer_balance", 5, pending=True))
    assert client.post("/ledger/entries/e3/reverse").json()["code"] == "ledger.invalid_transition"


def test_a_non_negative_account_cannot_spend_what_it_has_not(
    db: Database, client: ApiClient, tenant: TenantHandle
) -> None:
    _setup(client)
    client.post("/ledger/entries", json=transfer("fund", "cash", "wallet", 100))
    # wallet is a liability: it holds credits; debiting it spends.
    hold = client.post("/ledger/entries", json=transfer("h1", "wallet", "cash", 80, pending=True))
    assert hold.status_code == 201
    before = ledger_state(db, tenant.tenant_id)
    over = client.post("/ledger/entries", json=transfer("h2", "wallet", "cash", 21))
    assert over.status_code == 422
    assert over.json()["code"] == "ledger.insufficient_balance"
    assert over.json()["violations"][0]["account"] == "wallet"
    assert ledger_state(db, tenant.tenant_id) == before
    assert (
        client.post("/ledger/entries", json=transfer("h3", "wallet", "cash", 20)).status_code == 201
    )
    assert balances(client, "wallet") == (80, -80, 0)
    # Reversing the funding would take back money the wallet has reserved.
    refused = client.post("/ledger/entries/fund/reverse")
    assert refused.json()["code"] == "ledger.insufficient_balance"


def _batch(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        transfer(f"b{i}", "cash", "customer_balance", 10 + i) for i in range(start, start + count)
    ]


def test_an_atomic_batch_is_all_or_nothing(
    db: Database, client: ApiClient, tenant: TenantHandle
) -> None:
    _setup(client)
    entries = _batch(100)
    entries[70]["postings"][0]["amount"] += 1
    before = ledger_state(db, tenant.tenant_id)
    refused = client.post("/ledger/entries/batch", json={"entries": entries})
    assert refused.status_code == 422
    problem = refused.json()
    assert (problem["code"], problem["index"], problem["entry_id"]) == (
        "ledger.unbalanced_entry",
        70,
        "b70",
    )
    assert ledger_state(db, tenant.tenant_id) == before

    entries[70]["postings"][0]["amount"] -= 1
    done = client.post("/ledger/entries/batch", json={"entries": entries})
    assert done.status_code == 200, done.text
    assert (done.json()["created"], done.json()["existing"]) == (100, 0)
    expected = sum(10 + i for i in range(100))
    assert balances(client, "cash") == (expected, 0, expected)
    replay = client.post("/ledger/entries/batch", json={"entries": entries[:10] + _batch(5, 100)})
    assert (replay.json()["created"], replay.json()["existing"]) == (5, 10)
    assert [r["outcome"] for r in replay.json()["results"]][9:11] == ["existing", "created"]
    assert sums_recomputed_from_postings(db, tenant.tenant_id)["cash"][0] == expected + sum(
        10 + i for i in range(100, 105)
    )


def test_a_non_atomic_batch_answers_per_entry(db: Database, client: ApiClient) -> None:
    _setup(client)
    client.post("/ledger/entries", json=transfer("known", "cash", "wallet", 50))
    entries = [
        transfer("n0", "cash", "customer_balance", 5),
        transfer("n1", "ghost", "customer_balance", 5),
        transfer("known", "cash", "wallet", 50),
        transfer("known", "cash", "wallet", 51),
        transfer("n2", "wallet", "cash", 50),
        transfer("n3", "wallet", "cash", 1),  # the wallet is empty after n2
        transfer("n0", "cash", "customer_balance", 6),
    ]
    answer = client.post("/ledger/entries/batch", json={"entries": entries, "atomic": False})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert [r["outcome"] for r in result["results"]] == [
        "created",
        "refused",
        "existing",
        "refused",
        "created",
        "refused",
        "refused",
    ]
    errors = [r["error"]["code"] for r in result["results"] if r["error"]]
    assert errors == [
        "ledger.unknown_account",
        "ledger.entry_conflict",
        "ledger.insufficient_balance",
        "ledger.entry_conflict",
    ]
    assert result["results"][3]["error"]["fields"] == ["postings"]
    assert (result["created"], result["existing"], result["refused"]) == (2, 1, 4)
    audited = client.get("/audit/events", params={"limit": 500}).json()["data"]
    (batch,) = [e for e in audited if e["action"] == "ledger.entries.batch_recorded"]
    details = batch["details"]
    assert (details["created"], details["existing"], details["refused"]) == (2, 1, 4)
    assert (details["first_entry_id"], details["last_entry_id"]) == ("n0", "n2")
    assert balances(client, "cash") == (5, 0, 5)  # +50 known, +5 n0, -50 n2
    assert balances(client, "wallet") == (0, 0, 0)


def test_entries_are_listed_by_window_account_and_reference(
    db: Database, client: ApiClient
) -> None:
    _setup(client)
    for index, day in enumerate(("2026-04-25", "2026-04-26", "2026-04-27")):
        client.post(
            "/ledger/entries",
            json={
                **transfer(f"w{index}", "cash", "customer_balance", 10),
                "effective_at": f"{day}T12:00:00Z",
                "references": {"provider_reference": f"pi_{index}"},
            },
        )
    open_account(client, "fees", "expense")
    client.post("/ledger/entries", json=transfer("other", "fees", "customer_balance", 1))

    def ids(**params: Any) -> list[str]:
        answer = client.get("/ledger/entries", params=params)
        assert answer.status_code == 200, answer.text
        return [entry["entry_id"] for entry in answer.json()["data"]]

    window = ids(effective_from="2026-04-26T00:00:00Z", effective_to="2026-04-27T00:00:00Z")
    assert window == ["w1", "other"]
    assert ids(account="fees") == ["other"]
    assert ids(account="cash") == ["w0", "w1", "w2"]
    assert ids(account="ghost") == []
    assert ids(provider_reference=" PI_2 ") == ["w2"]
    first = client.get("/ledger/entries", params={"limit": 2}).json()
    assert [e["entry_id"] for e in first["data"]] == ["w0", "w1"]
    assert ids(cursor=first["next_cursor"]) == ["w2", "other"]


def test_posted_entries_are_announced_and_audited(
    db: Database, client: ApiClient, tenant: TenantHandle
) -> None:
    _setup(client)
    client.post("/ledger/entries", json=transfer("e1", "cash", "customer_balance", 7))
    client.post("/ledger/entries", json=transfer("p1", "cash", "customer_balance", 3, pending=True))
    client.post("/ledger/entries/batch", json={"entries": _batch(70)})

    def posted_events() -> list[dict[str, Any]]:
        answer = client.get("/events", params={"type": "ledger.entry.posted", "limit": 500})
        assert answer.status_code == 200, answer.text
        data: list[dict[str, Any]] = answer.json()["data"]
        return data

    events = posted_events()
    assert len(events) == 71
    first = events[0]["data"]
    assert (first["entry_id"], first["amounts"]) == ("e1", [{"currency": "EUR", "amount": 7}])
    assert {e["data"]["entry_id"] for e in events[1:]} == {f"b{i}" for i in range(70)}
    client.post("/ledger/entries/p1/post")
    assert posted_events()[-1]["data"]["entry_id"] == "p1"
    actions = [
        e["action"] for e in client.get("/audit/events", params={"limit": 500}).json()["data"]
    ]
    assert actions.count("ledger.account.created") == 3
    assert {"ledger.entry.created", "ledger.entries.batch_recorded", "ledger.entry.posted"} <= set(
        actions
    )
    with db.unit_of_work(tenant.tenant_id, read_only=True) as session:
        assert verify_chain(session, tenant.tenant_id).valid


def test_an_auditor_reads_the_ledger_and_changes_nothing(
    db: Database, client: ApiClient, tenant: TenantHandle
) -> None:
    _setup(client)
    client.post("/ledger/entries", json=transfer("e1", "cash", "customer_balance", 7, pending=True))
    auditor = client.with_key(_key(db, tenant, "auditor"))
    assert auditor.get("/ledger/accounts/cash").status_code == 200
    assert auditor.get("/ledger/entries/e1").status_code == 200
    assert auditor.get("/ledger/entries").status_code == 200
    writes = [
        ("/ledger/accounts", {"code": "x", "type": "asset", "currency": "EUR"}),
        ("/ledger/entries", transfer("e2", "cash", "customer_balance", 1)),
        ("/ledger/entries/e1/post", None),
        ("/ledger/entries/e1/void", None),
        ("/ledger/entries/batch", {"entries": [transfer("e3", "cash", "customer_balance", 1)]}),
    ]
    for path, body in writes:
        answer = auditor.post(path, json=body)
        assert answer.status_code == 403, (path, answer.text)
    service = client.with_key(_key(db, tenant, "service"))
    assert service.post("/ledger/entries/e1/post").status_code == 200


def test_another_tenants_ledger_is_not_found(db: Database, client: ApiClient) -> None:
    _setup(client)
    client.post("/ledger/entries", json=transfer("e1", "cash", "customer_balance", 7))
    other = client.with_key(make_tenant(db, "globex").api_key)
    assert other.get("/ledger/accounts/cash").status_code == 404
    assert other.get("/ledger/entries/e1").status_code == 404
    assert other.post("/ledger/entries/e1/reverse").status_code == 404
    assert other.get("/ledger/entries").json()["data"] == []
    # The same codes and entry ids are free in another tenant.
    open_account(other, "cash", "asset")
    open_account(other, "customer_balance", "liability")
    mine = client.get("/ledger/entries/e1").json()
    theirs = other.post("/ledger/entries", json=transfer("e1", "cash", "customer_balance", 9))
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine["id"]
    assert balances(client, "cash") == (7, 0, 7)


def test_a_batch_holds_at_most_8000_entries(db: Database, client: ApiClient) -> None:
    _setup(client)
    too_many = [transfer(f"x{i}", "cash", "customer_balance", 1) for i in range(8001)]
    answer = client.post("/ledger/entries/batch", json={"entries": too_many})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "entries"
    requests = [EntryRequest.model_validate(body) for body in too_many]
    with pytest.raises(BatchTooLarge), db.unit_of_work(make_tenant(db, "t").tenant_id) as session:
        post_entries_batch(session, system_context("ten_x", "test"), requests)
