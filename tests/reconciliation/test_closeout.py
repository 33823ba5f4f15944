"""Sealing a run over HTTP, on SQLite and PostgreSQL: refusals, the seal, its views, verify."""

from __future__ import annotations

import csv
import io
import json
import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import TenantHandle, make_tenant
from tests.fixtures.api import ApiClient
from tests.reconciliation.factories import ReviewRun, make_key, make_review_run
from zentra.evidence.closeout import compute_merkle_root, verify_closeout_document
from zentra.evidence.signing import key_fingerprint
from zentra.kit.db import Database
from zentra.models import Closeout, ReconciliationRun, SigningKey

OUTCOMES = {
    "unmatched_provider_row": ("carried_forward", "next_window", '=HYPERLINK("x") booked 27th'),
    "amount_mismatch": ("resolved", "fee_netted", "<script>alert(1)</script> fee netted"),
    "missing_from_settlement": ("written_off", "provider_loss", "never settled, written off"),
}


def settle_all(client: ApiClient, run: ReviewRun) -> None:
    """Give every exception of the run its outcome (the admin key holds approver)."""
    for kind, (to, decision, note) in OUTCOMES.items():
        answer = client.post(
            f"/reconciliation/exceptions/{run.exception_ids[kind]}/transitions",
            json={"to": to, "decision": decision, "note": note},
        )
        assert answer.status_code == 200, answer.text


def _run_status(db: Database, tenant_id: str, run_id: str) -> str:
    with db.unit_of_work(tenant_id) as session:
        run = session.get(ReconciliationRun, run_id)
        assert run is not None
        return run.status


def test_closeout_lists_every_unsettled_exception(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    resolved = run.exception_ids["amount_mismatch"]
    client.post(
        f"/reconciliation/exceptions/{resolved}/transitions",
        json={"to": "resolved", "decision": "fee_netted", "note": "ok"},
    ).raise_for_status()
    investigating = run.exception_ids["unmatched_provider_row"]
    client.post(
        f"/reconciliation/exceptions/{investigating}/transitions", json={"to": "investigating"}
    ).raise_for_status()

    answer = client.post(f"/reconciliation/runs/{run.run_id}/closeout")
    assert answer.status_code == 409
    problem = answer.json()
    assert problem["code"] == "closeout_blocked"
    unmet = {u["id"]: u for u in problem["unmet_requirements"]}
    assert set(unmet) == {investigating, run.exception_ids["missing_from_settlement"]}
    assert (unmet[investigating]["type"], unmet[investigating]["status"]) == (
        "unmatched_provider_row",
        "investigating",
    )
    assert unmet[investigating]["owner"] == "finance_ops"
    assert _run_status(db, tenant.tenant_id, run.run_id) == "review"
    assert client.get(f"/reconciliation/runs/{run.run_id}/closeout").status_code == 404


def test_only_an_approver_seals(db: Database, tenant: TenantHandle, client: ApiClient) -> None:
    run = make_review_run(db, tenant.tenant_id)
    settle_all(client, run)
    operator = client.with_key(make_key(db, tenant.tenant_id, "operator"))
    approver = client.with_key(make_key(db, tenant.tenant_id, "approver"))
    assert operator.post(f"/reconciliation/runs/{run.run_id}/closeout").status_code == 403
    assert _run_status(db, tenant.tenant_id, run.run_id) == "review"
    assert approver.post(f"/reconciliation/runs/{run.run_id}/closeout").status_code == 201


def test_seal_stores_a_signed_document_and_closes_the_run(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    settle_all(client, run)
    answer = client.post(f"/reconciliation/runs/{run.run_id}/closeout")
    assert answer.status_code == 201, answer.text
    summary = answer.json()
    assert summary["status"] == "closed"
    assert summary["roll_forward"] == {
        "opening_open_items": 0,
        "new": 3,
        "resolved": 1,
        "written_off": 1,
        "carried_forward": 1,
    }
    assert _run_status(db, tenant.tenant_id, run.run_id) == "closed"

    served = client.get(f"/reconciliation/runs/{run.run_id}/closeout")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/json")
    with db.unit_of_work(tenant.tenant_id) as session:
        stored = session.scalars(select(Closeout).where(Closeout.run_id == run.run_id)).one()
        key = session.scalars(select(SigningKey)).one()
        assert served.content == stored.document.encode()
        assert stored.id == summary["id"]
        assert stored.signing_key_id == key.id
        public_key = key.public_key

    document = json.loads(served.content)
    assert verify_closeout_document(served.content).valid
    assert document["merkle_root"] == summary["merkle_root"] == compute_merkle_root(document)
    assert document["signature"]["public_key"] == public_key
    assert document["signature"]["key_fingerprint"] == key_fingerprint(public_key)
    assert document["run"]["ledger_window"] == {"from": "2026-04-26", "to": "2026-04-26"}
    assert [step["status"] for step in document["run"]["state_path"]][-1] == "closing"
    inputs = document["inputs"]
    assert inputs["settlement_file"]["sha256"] == run.settlement_sha256
    assert inputs["movement_ids"] == ["MOV-1", "MOV-2", "MOV-4", "MOV-5"]
    assert inputs["ledger_entry_ids"] == ["le_mov-1", "le_mov-2", "le_mov-4", "le_mov-5"]
    assert inputs["callback_ids"] == []
    assert document["totals"][0]["difference"] == -46500
    # Matches are in natural-key order (the external rows' content hashes), not insertion order.
    hashes = [m["external_records"][0]["content_hash"] for m in document["matches"]]
    assert hashes == sorted(hashes)
    assert sorted(m["movement_ids"][0] for m in document["matches"]) == ["MOV-1", "MOV-2"]
    decisions = {e["type"]: (e["status"], e["decision"]) for e in document["exceptions"]}
    assert decisions == {kind: (to, decision) for kind, (to, decision, _) in OUTCOMES.items()}
    mismatch = next(e for e in document["exceptions"] if e["type"] == "amount_mismatch")
    assert mismatch["external_content_hash"] is not None
    assert mismatch["movement_id"] == "MOV-4"

    # The document holds the chain head as it was when sealed; the chain then names the root.
    audit = client.get("/audit/events", params={"action": "reconciliation.closeout.sealed"}).json()[
        "data"
    ]
    assert len(audit) == 1
    assert audit[0]["details"]["merkle_root"] == document["merkle_root"]
    assert audit[0]["seq"] > document["audit_chain_head"]["seq"]
    closing = client.get("/audit/events", params={"action": "reconciliation.run.closing"}).json()[
        "data"
    ]
    assert document["audit_chain_head"] == {"seq": closing[0]["seq"], "hash": closing[0]["hash"]}
    assert client.get("/audit/verify").json()["valid"] is True

    events = client.get("/events", params={"type": "reconciliation.closeout.completed"}).json()[
        "data"
    ]
    assert [e["data"]["closeout_id"] for e in events] == [summary["id"]]
    statuses = client.get(
        "/events", params={"type": "reconciliation.run.status_changed", "resource_id": run.run_id}
    ).json()["data"]
    assert [e["data"]["to"] for e in statuses][-2:] == ["closing", "closed"]


def test_csv_has_a_row_per_match_and_exception(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    settle_all(client, run)
    client.post(f"/reconciliation/runs/{run.run_id}/closeout").raise_for_status()
    answer = client.get(f"/reconciliation/runs/{run.run_id}/closeout", params={"format": "csv"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["record"] for r in rows] == ["match", "match", "exception", "exception", "exception"]
    matched = sorted((r["external_row_ids"], r["movement_ids"]) for r in rows[:2])
    assert matched == [("r1", "MOV-1"), ("r2", "MOV-2")]
    by_type = {r["type"]: r for r in rows[2:]}
    assert by_type["missing_from_settlement"]["amount_minor"] == "50000"
    assert by_type["missing_from_settlement"]["decision"] == "provider_loss"
    # A note that a spreadsheet would run as a formula is defused.
    assert by_type["unmatched_provider_row"]["note"] == '\'=HYPERLINK("x") booked 27th'


def test_html_report_is_readable_and_escaped(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    settle_all(client, run)
    summary = client.post(f"/reconciliation/runs/{run.run_id}/closeout").json()
    answer = client.get(f"/reconciliation/runs/{run.run_id}/closeout", params={"format": "html"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert summary["merkle_root"] in page
    assert summary["signature"]["key_fingerprint"] in page
    assert "2 matches sealed" in page
    assert "1575.00 EUR" in page  # provider total shown in major units
    assert "provider_loss" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; fee netted" in page
    assert '<span class="valid">valid</span>' in page
    bad = client.get(f"/reconciliation/runs/{run.run_id}/closeout", params={"format": "pdf"})
    assert bad.status_code == 422


def test_verify_endpoint_checks_with_the_tenants_key_and_sees_tampering(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    settle_all(client, run)
    summary = client.post(f"/reconciliation/runs/{run.run_id}/closeout").json()
    answer = client.get(f"/reconciliation/closeouts/{summary['id']}/verify")
    assert answer.status_code == 200
    verdict = answer.json()
    assert verdict["valid"] is True
    assert verdict["merkle_root_valid"] is True
    assert verdict["signature_valid"] is True
    assert verdict["embedded_key_is_tenant_key"] is True
    assert verdict["closeout_id"] == summary["id"]
    assert verdict["key_id"] == summary["signature"]["key_id"]
    assert verdict["key_fingerprint"] == summary["signature"]["key_fingerprint"]
    assert verdict["checked_at"].endswith("Z")

    # Someone with owner access to the database drops the guards and rewrites one decision.
    with db.engine.begin() as conn:
        if not db.is_postgres:
            conn.execute(text("DROP TRIGGER closeouts_no_update"))
        conn.execute(
            text(
                "UPDATE closeouts "
                "SET document = replace(document, 'provider_loss', 'provider_lost')"
            )
        )
    tampered = client.get(f"/reconciliation/closeouts/{summary['id']}/verify").json()
    assert tampered["valid"] is False
    assert tampered["merkle_root_valid"] is False
    assert tampered["signature_valid"] is False
    html = client.get(f"/reconciliation/runs/{run.run_id}/closeout", params={"format": "html"})
    assert "INVALID" in html.text


def test_a_sealed_run_cannot_be_sealed_again_or_changed(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    settle_all(client, run)
    first = client.post(f"/reconciliation/runs/{run.run_id}/closeout").json()
    again = client.post(f"/reconciliation/runs/{run.run_id}/closeout")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    exception_id = run.exception_ids["amount_mismatch"]
    reopen = client.post(
        f"/reconciliation/exceptions/{exception_id}/transitions", json={"to": "reopened"}
    )
    assert reopen.status_code == 409
    assert reopen.json()["run_status"] == "closed"
    comment = client.post(
        f"/reconciliation/exceptions/{exception_id}/comments", json={"body": "after the fact"}
    )
    assert comment.status_code == 409
    assert client.get(f"/reconciliation/closeouts/{first['id']}/verify").json()["valid"] is True


def test_a_run_not_in_review_cannot_be_sealed(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    settle_all(client, run)
    with db.unit_of_work(tenant.tenant_id) as session:
        row = session.get(ReconciliationRun, run.run_id)
        assert row is not None
        row.status = "matching"
    answer = client.post(f"/reconciliation/runs/{run.run_id}/closeout")
    assert answer.status_code == 409
    assert answer.json()["current_status"] == "matching"
    assert client.post("/reconciliation/runs/run_missing/closeout").status_code == 404


def test_another_tenants_closeout_is_not_found(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    settle_all(client, run)
    summary = client.post(f"/reconciliation/runs/{run.run_id}/closeout").json()
    other = client.with_key(make_tenant(db, "globex").api_key)
    for fmt in ("json", "csv", "html"):
        answer = other.get(f"/reconciliation/runs/{run.run_id}/closeout", params={"format": fmt})
        assert answer.status_code == 404, fmt
    assert other.get(f"/reconciliation/closeouts/{summary['id']}/verify").status_code == 404
    assert other.post(f"/reconciliation/runs/{run.run_id}/closeout").status_code == 404
    assert client.get(f"/reconciliation/closeouts/{summary['id']}/verify").json()["valid"] is True


def _race_seal_and_reopen(client: ApiClient, run_id: str, exception_id: str) -> dict[str, int]:
    barrier = threading.Barrier(2)
    answers: dict[str, int] = {}

    def seal() -> None:
        barrier.wait()
        answers["seal"] = client.post(f"/reconciliation/runs/{run_id}/closeout").status_code

    def reopen() -> None:
        barrier.wait()
        answers["reopen"] = client.post(
            f"/reconciliation/exceptions/{exception_id}/transitions", json={"to": "reopened"}
        ).status_code

    threads = [threading.Thread(target=seal), threading.Thread(target=reopen)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_a_reopen_racing_the_seal_never_leaves_a_reopened_exception_in_a_sealed_run(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    for batch in range(1, 5):
        run = make_review_run(db, tenant.tenant_id, batch=batch)
        settle_all(client, run)
        answers = _race_seal_and_reopen(client, run.run_id, run.exception_ids["amount_mismatch"])
        # Either the reopen landed first (the seal is then blocked) or the seal did (the reopen
        # is then refused); never both, never neither.
        assert (answers["seal"], answers["reopen"]) in {(201, 409), (409, 200)}, answers
        document = client.get(f"/reconciliation/runs/{run.run_id}/closeout")
        if answers["seal"] == 201:
            statuses = {e["status"] for e in json.loads(document.content)["exceptions"]}
            assert "reopened" not in statuses
        else:
            assert document.status_code == 404


def test_two_concurrent_seals_make_one_closeout(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    settle_all(client, run)
    barrier = threading.Barrier(3)
    codes: list[int] = []

    def seal() -> None:
        barrier.wait()
        codes.append(client.post(f"/reconciliation/runs/{run.run_id}/closeout").status_code)

    threads = [threading.Thread(target=seal) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [201, 409, 409]
    with db.unit_of_work(tenant.tenant_id) as session:
        assert len(session.scalars(select(Closeout)).all()) == 1


def test_the_application_cannot_change_a_sealed_closeout(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    settle_all(client, run)
    assert client.post(f"/reconciliation/runs/{run.run_id}/closeout").status_code == 201
    for statement in ("UPDATE closeouts SET document = '{}'", "DELETE FROM closeouts"):
        with pytest.raises(DBAPIError, match=r"sealed|permission denied"):  # noqa: SIM117
            with db.unit_of_work(tenant.tenant_id) as session:
                session.execute(text(statement))
