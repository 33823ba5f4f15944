"""Worked example: a provider re-sends its settlement file with one row changed."""

from __future__ import annotations

from typing import Any

from tests.fixtures.api import ApiClient
from tests.fixtures.scenarios import import_movements, movement, reconcile, start_run, upload
from zentra.kit.db import Database
from zentra.worker.runtime import default_worker

HEADER = "row_id,provider_reference,amount,currency,booked_at"


def _csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def _exceptions(client: ApiClient, run_id: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = client.get(
        "/reconciliation/exceptions", params={"run_id": run_id}
    ).json()["data"]
    return data


def test_settlement_file_re_sent_with_a_changed_row_becomes_a_restatement(
    db: Database, client: ApiClient
) -> None:
    import_movements(client, [movement("mv_1", "pi_1", 1000), movement("mv_2", "pi_2", 2000)])
    first = _csv("r1,pi_1,10.00,EUR,2026-04-26", "r2,pi_2,20.00,EUR,2026-04-26")
    run = reconcile(client, db, first)
    assert run["status"] == "review"
    assert _exceptions(client, run["id"]) == []

    # The provider re-sends the file: r2 now says 19.50, r1 is unchanged.
    resent = _csv("r1,pi_1,10.00,EUR,2026-04-26", "r2,pi_2,19.50,EUR,2026-04-26")
    answer = upload(client, resent)
    assert answer.status_code == 201

    (restatement,) = _exceptions(client, run["id"])
    assert restatement["type"] == "restatement"
    assert restatement["owner"] == "finance_ops"
    assert restatement["provider_reference"] == "pi_2"
    detail = client.get(f"/reconciliation/exceptions/{restatement['id']}").json()
    details = detail["evidence"]["details"]
    assert details["row_id"] == "r2"
    assert details["previous"]["amount_minor"] == 2000
    assert details["restated_by"]["amount_minor"] == 1950
    assert details["restated_by"]["settlement_file_id"] == answer.json()["id"]
    # The run cannot be sealed while the restatement is undecided.
    sealed = client.post(f"/reconciliation/runs/{run['id']}/closeout")
    assert sealed.status_code == 409
    # The same bytes again are a no-op: no second restatement.
    assert upload(client, resent).status_code == 200
    assert len(_exceptions(client, run["id"])) == 1


def test_an_unchanged_resend_restates_nothing(db: Database, client: ApiClient) -> None:
    import_movements(client, [movement("mv_1", "pi_1", 1000)])
    run = reconcile(client, db, _csv("r1,pi_1,10.00,EUR,2026-04-26"))
    # Same rows, one more row: nothing the run used has changed.
    assert (
        upload(
            client, _csv("r1,pi_1,10.00,EUR,2026-04-26", "r9,pi_9,1.00,EUR,2026-04-26")
        ).status_code
        == 201
    )
    assert _exceptions(client, run["id"]) == []


def test_a_row_restated_during_review_and_re_sent_in_another_file_opens_one_restatement(
    db: Database, client: ApiClient
) -> None:
    import_movements(client, [movement("mv_1", "pi_1", 1000), movement("mv_2", "pi_2", 2000)])
    run = reconcile(
        client, db, _csv("r1,pi_1,10.00,EUR,2026-04-26", "r2,pi_2,20.00,EUR,2026-04-26")
    )
    assert upload(client, _csv("r2,pi_2,19.50,EUR,2026-04-26")).status_code == 201
    # Other bytes, the same version of r2: nothing new to decide.
    resent = _csv("r2,pi_2,19.50,EUR,2026-04-26", "r7,pi_7,7.00,EUR,2026-04-26")
    assert upload(client, resent).status_code == 201
    (restatement,) = _exceptions(client, run["id"])
    details = client.get(f"/reconciliation/exceptions/{restatement['id']}").json()["evidence"][
        "details"
    ]
    assert details["amount_delta"] == {"amount": -50, "currency": "EUR"}
    assert details["previous"]["raw"] == "r2,pi_2,20.00,EUR,2026-04-26"
    assert "post_close_of" not in details


def test_a_dry_run_is_not_given_restatements(db: Database, client: ApiClient) -> None:
    import_movements(client, [movement("mv_1", "pi_1", 1000)])
    uploaded = upload(client, _csv("r1,pi_1,10.00,EUR,2026-04-26"))
    created = start_run(client, uploaded.json()["id"], dry_run=True)
    assert created.status_code == 201, created.text
    default_worker(db).drain()
    assert client.get(f"/reconciliation/runs/{created.json()['id']}").json()["status"] == "review"
    assert upload(client, _csv("r1,pi_1,9.00,EUR,2026-04-26")).status_code == 201
    # A dry run keeps nothing and is never sealed: there is nothing to restate in it.
    assert client.get("/reconciliation/exceptions").json()["data"] == []
