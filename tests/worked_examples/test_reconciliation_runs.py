"""Worked examples of a reconciliation run, end to end over the HTTP API, on both databases."""

from __future__ import annotations

import random
import threading

from tests.conftest import make_tenant
from tests.fixtures.api import ApiClient
from tests.fixtures.scenarios import (
    import_movements,
    movement,
    reconcile,
    settlement_csv,
    start_run,
    upload,
)
from zentra.kit.db import Database
from zentra.worker.runtime import default_worker


def _exceptions(client: ApiClient, run_id: str) -> list[dict[str, object]]:
    response = client.get("/reconciliation/exceptions", params={"run_id": run_id})
    assert response.status_code == 200, response.text
    data: list[dict[str, object]] = response.json()["data"]
    return data


def test_settlement_row_with_unknown_reference_becomes_an_owned_exception(
    db: Database, client: ApiClient
) -> None:
    import_movements(client, [movement("mv_1", "pi_1", 125000)])
    run = reconcile(
        client, db, settlement_csv([("pi_1", "1250.00", "EUR"), ("pi_ghost", "49.90", "EUR")])
    )
    assert run["status"] == "review"
    assert [step["status"] for step in run["state_path"]] == ["created", "matching", "review"]
    assert run["counts"]["matched"] == 1
    (exception,) = _exceptions(client, run["id"])
    assert exception["type"] == "unmatched_provider_row"
    assert exception["provider_reference"] == "pi_ghost"
    assert exception["owner"] == "finance_ops"  # the run's owner owns it by default
    assert exception["status"] == "open"
    assert exception["amount"] == {"amount": 4990, "currency": "EUR"}


def test_duplicate_provider_row(db: Database, client: ApiClient) -> None:
    import_movements(client, [movement("mv_1", "pi_1", 125000), movement("mv_2", "pi_2", 990)])
    run = reconcile(
        client,
        db,
        settlement_csv(
            [("pi_1", "1250.00", "EUR"), ("pi_2", "9.90", "EUR"), ("pi_1", "1250.00", "EUR")]
        ),
    )
    assert run["counts"]["matched"] == 2
    (exception,) = _exceptions(client, run["id"])
    assert exception["type"] == "duplicate_provider_row"
    assert exception["provider_reference"] == "pi_1"
    matches = client.get(f"/reconciliation/runs/{run['id']}/matches").json()["data"]
    assert sorted(m["movement_ids"][0] for m in matches) == ["mv_1", "mv_2"]


def test_amount_currency_and_missing_are_compared(db: Database, client: ApiClient) -> None:
    import_movements(
        client,
        [
            movement("mv_1", "pi_1", 125000),
            movement("mv_2", "pi_2", 5000, "USD"),
            movement("mv_3", "pi_3", 700, "JPY"),
        ],
    )
    run = reconcile(
        client, db, settlement_csv([("pi_1", "1249.00", "EUR"), ("pi_2", "50.00", "EUR")])
    )
    kinds = {e["type"]: e for e in _exceptions(client, run["id"])}
    assert set(kinds) == {"amount_mismatch", "currency_mismatch", "missing_from_settlement"}
    assert kinds["amount_mismatch"]["movement_id"] == "mv_1"
    assert kinds["missing_from_settlement"]["movement_id"] == "mv_3"
    totals = {t["currency"]: t for t in run["totals"]}
    assert totals["EUR"] == {
        "currency": "EUR",
        "provider_total": 129900,
        "ledger_total": 125000,
        "difference": 4900,
    }
    assert totals["JPY"]["ledger_total"] == 700


def test_shuffled_settlement_file_gives_the_same_result_fingerprint(
    db: Database, client: ApiClient
) -> None:
    rng = random.Random(7)
    movements = [movement(f"mv_{n}", f"pi_{n}", 1000 + n) for n in range(60)]
    import_movements(client, movements)
    rows = [(f"pi_{n}", f"{(1000 + n) / 100:.2f}", "EUR") for n in range(0, 60, 2)]
    rows += [("pi_3", "10.03", "EUR"), ("pi_unknown", "5.00", "EUR"), ("pi_5", "10.06", "EUR")]
    first = reconcile(client, db, settlement_csv(rows))
    shuffled = rows[:]
    rng.shuffle(shuffled)
    second = reconcile(client, db, settlement_csv(shuffled))
    assert second["id"] != first["id"]
    assert second["result_fingerprint"] == first["result_fingerprint"]
    assert first["counts"]["exceptions"] == second["counts"]["exceptions"]
    # and a re-run of the same file, too
    again = reconcile(client, db, settlement_csv(rows))
    assert again["result_fingerprint"] == first["result_fingerprint"]


def test_tenant_b_cannot_see_tenant_a_s_run(db: Database, client: ApiClient) -> None:
    import_movements(client, [movement("mv_1", "pi_1", 125000)])
    run = reconcile(client, db, settlement_csv([("pi_ghost", "1.00", "EUR")]))
    other = client.with_key(make_tenant(db, "tenant-b").api_key)
    for path in (
        f"/reconciliation/runs/{run['id']}",
        f"/reconciliation/runs/{run['id']}/matches",
        f"/reconciliation/runs/{run['id']}/events",
        f"/reconciliation/runs/{run['id']}/evidence",
    ):
        response = other.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"
    assert other.get("/reconciliation/runs").json()["data"] == []
    assert other.get("/reconciliation/exceptions").json()["data"] == []
    assert other.post(f"/reconciliation/runs/{run['id']}/retry").status_code == 404
    # Tenant B may not start a run on tenant A's settlement file either.
    assert start_run(other, run["settlement_file"]).status_code == 404


def test_same_run_request_replayed_with_the_same_idempotency_key(
    db: Database, client: ApiClient
) -> None:
    file_id = upload(client, settlement_csv([("pi_1", "1.00", "EUR")])).json()["id"]
    body = {
        "provider": "rail_primary",
        "settlement_file": file_id,
        "ledger_window": "2026-04-26",
        "owner": "finance_ops",
    }
    headers = {"Idempotency-Key": "run-2026-04-26"}
    first = client.post("/reconciliation/runs", json=body, headers=headers)
    replay = client.post("/reconciliation/runs", json=body, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotency-Replayed"] == "true"
    assert "Idempotency-Replayed" not in first.headers
    assert replay.json() == first.json()
    assert len(client.get("/reconciliation/runs").json()["data"]) == 1
    other_body = client.post(
        "/reconciliation/runs", json={**body, "owner": "support"}, headers=headers
    )
    assert other_body.status_code == 422
    assert other_body.json()["code"] == "idempotency_key_reused"
    assert len(client.get("/reconciliation/runs").json()["data"]) == 1
    default_worker(db).drain()


def test_concurrent_requests_with_one_idempotency_key_create_one_run(
    db: Database, client: ApiClient
) -> None:
    file_id = upload(client, settlement_csv([("pi_1", "1.00", "EUR")])).json()["id"]
    body = {"provider": "rail_primary", "settlement_file": file_id, "ledger_window": "2026-04-26"}
    answers: list[tuple[int, str | None, str]] = []

    def send() -> None:
        response = client.post(
            "/reconciliation/runs", json=body, headers={"Idempotency-Key": "same-key"}
        )
        answers.append(
            (response.status_code, response.headers.get("Idempotency-Replayed"), response.text)
        )

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 8
    created = [a for a in answers if a[0] == 201 and a[1] is None]
    replays = [a for a in answers if a[0] == 201 and a[1] == "true"]
    in_flight = [a for a in answers if a[0] == 409]
    assert len(created) == 1
    assert len(created) + len(replays) + len(in_flight) == 8
    assert all(a[2] == created[0][2] for a in replays)
    assert all('"idempotency_key_in_flight"' in a[2] for a in in_flight)
    assert len(client.get("/reconciliation/runs").json()["data"]) == 1


def test_settlement_file_with_no_internal_activity_at_all(db: Database, client: ApiClient) -> None:
    run = reconcile(client, db, settlement_csv([("pi_1", "1.00", "EUR")]))
    assert run["status"] == "review"
    assert run["counts"]["exceptions"]["by_type"] == {"unmatched_provider_row": 1}
    assert run["totals"] == [
        {"currency": "EUR", "provider_total": 100, "ledger_total": 0, "difference": 100}
    ]


def test_dry_run_reports_but_keeps_nothing_and_cannot_be_sealed(
    db: Database, client: ApiClient
) -> None:
    import_movements(client, [movement("mv_1", "pi_1", 125000)])
    file_id = upload(client, settlement_csv([("pi_1", "1250.00", "EUR"), ("pi_x", "1", "EUR")]))
    created = start_run(client, file_id.json()["id"], dry_run=True)
    default_worker(db).drain()
    run = client.get(f"/reconciliation/runs/{created.json()['id']}").json()
    assert run["status"] == "review"
    assert run["dry_run"] is True
    assert run["counts"]["matched"] == 1
    assert run["counts"]["exceptions"]["by_type"] == {"unmatched_provider_row": 1}
    assert len(run["result_fingerprint"]) == 64
    assert client.get(f"/reconciliation/runs/{run['id']}/matches").json()["data"] == []
    assert _exceptions(client, run["id"]) == []
    sealed = client.post(f"/reconciliation/runs/{run['id']}/closeout")
    assert sealed.status_code == 409
    assert sealed.json()["unmet_requirements"] == [{"requirement": "not_a_dry_run"}]
