"""The exception lifecycle over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import TenantHandle, make_tenant
from tests.fixtures.api import ApiClient
from tests.reconciliation.factories import make_key, make_review_run, set_tenant_setting
from zentra.kit.db import Database
from zentra.kit.time import utcnow
from zentra.models import ReconciliationException, ReconciliationRun
from zentra.reconciliation.states import EXCEPTION_STATUSES, EXCEPTION_TRANSITIONS

SETTLED = ("resolved", "written_off", "carried_forward")


def _set_status(db: Database, tenant_id: str, exception_id: str, status: str) -> None:
    with db.unit_of_work(tenant_id) as session:
        exception = session.get(ReconciliationException, exception_id)
        assert exception is not None
        exception.status = status


def _set_run_status(db: Database, tenant_id: str, run_id: str, status: str) -> None:
    with db.unit_of_work(tenant_id) as session:
        run = session.get(ReconciliationRun, run_id)
        assert run is not None
        run.status = status


def _resolve_body(to: str) -> dict[str, str]:
    return {"to": to, "decision": "bank_confirmed", "note": "confirmed with the bank statement"}


def test_queue_filters_and_paginates_in_id_order(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    first = make_review_run(db, tenant.tenant_id)
    second = make_review_run(db, tenant.tenant_id, batch=2)
    everything = client.get("/reconciliation/exceptions").json()
    ids = [e["id"] for e in everything["data"]]
    assert len(ids) == 6
    assert ids == sorted(ids)
    assert everything["next_cursor"] is None

    page_one = client.get("/reconciliation/exceptions", params={"limit": 4}).json()
    page_two = client.get(
        "/reconciliation/exceptions", params={"limit": 4, "cursor": page_one["next_cursor"]}
    ).json()
    assert [e["id"] for e in page_one["data"] + page_two["data"]] == ids
    assert page_two["next_cursor"] is None

    by_type = client.get("/reconciliation/exceptions", params={"type": "amount_mismatch"}).json()
    assert {e["id"] for e in by_type["data"]} == {
        first.exception_ids["amount_mismatch"],
        second.exception_ids["amount_mismatch"],
    }
    by_run = client.get(f"/reconciliation/runs/{second.run_id}/exceptions").json()
    assert {e["id"] for e in by_run["data"]} == set(second.exception_ids.values())
    same_by_filter = client.get("/reconciliation/exceptions", params={"run_id": second.run_id})
    assert [e["id"] for e in same_by_filter.json()["data"]] == [e["id"] for e in by_run["data"]]

    mismatch = by_type["data"][0]
    assert mismatch["amount"] == {"amount": 1000, "currency": "EUR"}
    assert mismatch["owner"] == "finance_ops"
    assert mismatch["status"] == "open"


def test_queue_filters_by_status_owner_assignee_and_age(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    old = make_review_run(db, tenant.tenant_id, created_at=utcnow() - timedelta(hours=30))
    new = make_review_run(db, tenant.tenant_id, batch=2)
    target = new.exception_ids["unmatched_provider_row"]
    client.post(
        f"/reconciliation/exceptions/{target}/assign",
        json={"owner": "support", "assignee": "user:alice"},
    ).raise_for_status()
    client.post(
        f"/reconciliation/exceptions/{target}/transitions", json={"to": "investigating"}
    ).raise_for_status()

    def ids(**params: object) -> set[str]:
        answer = client.get("/reconciliation/exceptions", params=params)
        assert answer.status_code == 200, answer.text
        return {e["id"] for e in answer.json()["data"]}

    assert ids(status="investigating") == {target}
    assert ids(owner="support") == {target}
    assert ids(assignee="user:alice") == {target}
    assert ids(min_age_hours=24) == set(old.exception_ids.values())
    assert ids(min_age_hours=0) == set(old.exception_ids.values()) | set(new.exception_ids.values())
    assert client.get("/reconciliation/exceptions", params={"status": "done"}).status_code == 422
    assert client.get("/reconciliation/exceptions", params={"type": "oops"}).status_code == 422
    assert client.get("/reconciliation/runs/run_nope/exceptions").status_code == 404


def test_detail_carries_the_evidence_and_history(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    answer = client.get(f"/reconciliation/exceptions/{run.exception_ids['amount_mismatch']}")
    assert answer.status_code == 200
    detail = answer.json()
    record = detail["evidence"]["external_record"]
    assert record["raw"] == "r4,REF-4,125000,EUR"
    assert record["line"] == 5
    assert record["settlement_file"]["id"] == run.settlement_file_id
    assert record["settlement_file"]["sha256"] == run.settlement_sha256
    assert record["settlement_file"]["filename"] == "rail_primary_2026-04-26.csv"
    assert detail["evidence"]["movement"]["movement_id"] == "MOV-4"
    assert detail["evidence"]["movement"]["amount"] == {"amount": 124000, "currency": "EUR"}
    assert detail["evidence"]["details"]["candidates"][0]["deltas"]["amount"] == -1000
    assert [(h["kind"], h["to"]) for h in detail["history"]] == [("opened", "open")]

    missing = client.get(
        f"/reconciliation/exceptions/{run.exception_ids['missing_from_settlement']}"
    ).json()
    assert missing["evidence"]["external_record"] is None
    assert missing["evidence"]["movement"]["movement_id"] == "MOV-5"


def test_every_transition_of_the_state_machine_is_allowed_or_refused(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    # The unmatched row is 2,500 minor units: below the write-off threshold, no approver needed.
    exception_id = run.exception_ids["unmatched_provider_row"]
    url = f"/reconciliation/exceptions/{exception_id}/transitions"
    for from_status in EXCEPTION_STATUSES:
        for to in EXCEPTION_STATUSES:
            _set_status(db, tenant.tenant_id, exception_id, from_status)
            answer = client.post(url, json=_resolve_body(to))
            allowed = to in EXCEPTION_TRANSITIONS.get(from_status, frozenset())
            if allowed:
                assert answer.status_code == 200, (from_status, to, answer.text)
                assert answer.json()["status"] == to
            else:
                assert answer.status_code == 409, (from_status, to, answer.text)
                problem = answer.json()
                assert problem["code"] == "invalid_transition"
                assert problem["current_status"] == from_status


@pytest.mark.parametrize("to", SETTLED)
@pytest.mark.parametrize(
    "body",
    [{}, {"decision": "ok"}, {"note": "checked"}, {"decision": " ", "note": "checked"}],
    ids=["neither", "no-note", "no-decision", "blank-decision"],
)
def test_an_outcome_needs_a_decision_and_a_note(
    db: Database, tenant: TenantHandle, client: ApiClient, to: str, body: dict[str, str]
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    exception_id = run.exception_ids["unmatched_provider_row"]
    answer = client.post(
        f"/reconciliation/exceptions/{exception_id}/transitions", json={"to": to, **body}
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_input"
    detail = client.get(f"/reconciliation/exceptions/{exception_id}").json()
    assert detail["status"] == "open"
    assert len(detail["history"]) == 1


def test_resolving_keeps_the_decision_emits_an_event_and_reopening_clears_it(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    exception_id = run.exception_ids["amount_mismatch"]
    url = f"/reconciliation/exceptions/{exception_id}/transitions"
    assert client.post(url, json={"to": "investigating", "note": "asked"}).status_code == 200
    resolved = client.post(url, json=_resolve_body("resolved")).json()
    assert resolved["decision"] == "bank_confirmed"
    assert resolved["resolved_at"] is not None
    reopened = client.post(url, json={"to": "reopened", "note": "bank disagrees"}).json()
    assert (reopened["status"], reopened["decision"], reopened["resolved_at"]) == (
        "reopened",
        None,
        None,
    )

    history = client.get(f"/reconciliation/exceptions/{exception_id}").json()["history"]
    assert [(h["kind"], h["from"], h["to"]) for h in history] == [
        ("opened", None, "open"),
        ("transition", "open", "investigating"),
        ("transition", "investigating", "resolved"),
        ("transition", "resolved", "reopened"),
    ]
    assert history[2]["decision"] == "bank_confirmed"
    assert history[2]["actor"] == "key:first admin key"

    events = client.get(
        "/events", params={"type": "reconciliation.exception.resolved", "resource_id": exception_id}
    ).json()["data"]
    assert len(events) == 1
    assert events[0]["data"]["status"] == "resolved"
    assert events[0]["data"]["decision"] == "bank_confirmed"
    audit = client.get("/audit/events", params={"resource_id": exception_id}).json()["data"]
    assert [a["details"]["to"] for a in audit] == ["investigating", "resolved", "reopened"]
    assert client.get("/audit/verify").json()["valid"] is True


def test_large_write_off_needs_an_approver(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    operator = client.with_key(make_key(db, tenant.tenant_id, "operator"))
    both = client.with_key(make_key(db, tenant.tenant_id, "operator", "approver"))
    large = run.exception_ids["missing_from_settlement"]  # 50,000 > threshold 10,000
    small = run.exception_ids["unmatched_provider_row"]  # 2,500

    refused = operator.post(
        f"/reconciliation/exceptions/{large}/transitions", json=_resolve_body("written_off")
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert refused.json()["threshold_minor"] == 10_000
    assert client.get(f"/reconciliation/exceptions/{large}").json()["status"] == "open"

    # The same operator may resolve it or write off a small one; an approver may write it off.
    small_write_off = operator.post(
        f"/reconciliation/exceptions/{small}/transitions", json=_resolve_body("written_off")
    )
    assert small_write_off.status_code == 200
    approved = both.post(
        f"/reconciliation/exceptions/{large}/transitions", json=_resolve_body("written_off")
    )
    assert approved.status_code == 200
    assert approved.json()["status"] == "written_off"


def test_write_off_threshold_is_the_tenants_setting(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    operator = client.with_key(make_key(db, tenant.tenant_id, "operator"))
    set_tenant_setting(db, tenant.tenant_id, "write_off_approval_threshold_minor", 2_499)
    small = run.exception_ids["unmatched_provider_row"]  # 2,500: now above
    url = f"/reconciliation/exceptions/{small}/transitions"
    assert operator.post(url, json=_resolve_body("written_off")).status_code == 403
    set_tenant_setting(db, tenant.tenant_id, "write_off_approval_threshold_minor", 2_500)
    assert operator.post(url, json=_resolve_body("written_off")).status_code == 200


def test_assignment_is_recorded_audited_and_announced(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    exception_id = run.exception_ids["unmatched_provider_row"]
    url = f"/reconciliation/exceptions/{exception_id}/assign"
    answer = client.post(url, json={"owner": "support", "assignee": "user:bob"})
    assert answer.status_code == 200
    assert (answer.json()["owner"], answer.json()["assignee"]) == ("support", "user:bob")
    # Owner only keeps the assignee; an explicit null unassigns.
    kept = client.post(url, json={"owner": "finance_ops"}).json()
    assert (kept["owner"], kept["assignee"]) == ("finance_ops", "user:bob")
    cleared = client.post(url, json={"assignee": None}).json()
    assert (cleared["owner"], cleared["assignee"]) == ("finance_ops", None)
    assert client.post(url, json={}).status_code == 422

    events = client.get(
        "/events", params={"type": "reconciliation.exception.assigned", "resource_id": exception_id}
    ).json()["data"]
    assert [(e["data"]["owner"], e["data"]["assignee"]) for e in events] == [
        ("support", "user:bob"),
        ("finance_ops", "user:bob"),
        ("finance_ops", None),
    ]
    assert events[0]["data"]["previous_owner"] == "finance_ops"
    history = client.get(f"/reconciliation/exceptions/{exception_id}").json()["history"]
    assert [h["kind"] for h in history] == ["opened", "assigned", "assigned", "assigned"]
    assert history[1]["data"]["to"] == {"owner": "support", "assignee": "user:bob"}
    audit = client.get(
        "/audit/events",
        params={"resource_id": exception_id, "action": "reconciliation.exception.assigned"},
    ).json()["data"]
    assert len(audit) == 3


def test_comments_join_the_history(db: Database, tenant: TenantHandle, client: ApiClient) -> None:
    run = make_review_run(db, tenant.tenant_id)
    exception_id = run.exception_ids["amount_mismatch"]
    url = f"/reconciliation/exceptions/{exception_id}/comments"
    answer = client.post(url, json={"body": "  Provider says fee was netted.  "})
    assert answer.status_code == 201
    assert answer.json()["note"] == "Provider says fee was netted."
    assert client.post(url, json={"body": "   "}).status_code == 422
    history = client.get(f"/reconciliation/exceptions/{exception_id}").json()["history"]
    assert [(h["kind"], h["note"]) for h in history] == [
        ("opened", None),
        ("comment", "Provider says fee was netted."),
    ]
    audit = client.get(
        "/audit/events",
        params={"resource_id": exception_id, "action": "reconciliation.exception.commented"},
    ).json()["data"]
    assert audit[0]["details"]["body"] == "Provider says fee was netted."


def test_readers_may_read_but_only_operators_change(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    auditor = client.with_key(make_key(db, tenant.tenant_id, "auditor"))
    exception_id = run.exception_ids["amount_mismatch"]
    assert auditor.get(f"/reconciliation/exceptions/{exception_id}").status_code == 200
    assert auditor.get("/reconciliation/exceptions").status_code == 200
    for path, body in (
        ("assign", {"assignee": "user:eve"}),
        ("transitions", {"to": "investigating"}),
        ("comments", {"body": "hi"}),
    ):
        answer = auditor.post(f"/reconciliation/exceptions/{exception_id}/{path}", json=body)
        assert answer.status_code == 403, path
    detail = client.get(f"/reconciliation/exceptions/{exception_id}").json()
    assert (detail["assignee"], detail["status"], len(detail["history"])) == (None, "open", 1)


def test_another_tenants_exception_is_not_found(
    db: Database, tenant: TenantHandle, client: ApiClient
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    other = client.with_key(make_tenant(db, "globex").api_key)
    exception_id = run.exception_ids["amount_mismatch"]
    assert other.get(f"/reconciliation/exceptions/{exception_id}").status_code == 404
    assert other.get("/reconciliation/exceptions").json()["data"] == []
    assert other.get(f"/reconciliation/runs/{run.run_id}/exceptions").status_code == 404
    assert other.get("/reconciliation/exceptions", params={"run_id": run.run_id}).status_code == 404
    for path, body in (
        ("assign", {"assignee": "user:eve"}),
        ("transitions", _resolve_body("resolved")),
        ("comments", {"body": "hi"}),
    ):
        answer = other.post(f"/reconciliation/exceptions/{exception_id}/{path}", json=body)
        assert answer.status_code == 404, path
        assert answer.json()["code"] == "not_found"
    with db.unit_of_work(tenant.tenant_id) as session:
        exception = session.scalars(
            select(ReconciliationException).where(ReconciliationException.id == exception_id)
        ).one()
        assert (exception.status, exception.assignee) == ("open", None)


@pytest.mark.parametrize("run_status", ["closing", "closed"])
def test_sealed_runs_refuse_every_change(
    db: Database, tenant: TenantHandle, client: ApiClient, run_status: str
) -> None:
    run = make_review_run(db, tenant.tenant_id)
    exception_id = run.exception_ids["unmatched_provider_row"]
    _set_status(db, tenant.tenant_id, exception_id, "resolved")
    _set_run_status(db, tenant.tenant_id, run.run_id, run_status)
    for path, body in (
        ("assign", {"assignee": "user:eve"}),
        ("transitions", {"to": "reopened"}),
        ("comments", {"body": "too late"}),
    ):
        answer = client.post(f"/reconciliation/exceptions/{exception_id}/{path}", json=body)
        assert answer.status_code == 409, path
        assert answer.json()["run_status"] == run_status
    detail = client.get(f"/reconciliation/exceptions/{exception_id}").json()
    assert (detail["status"], detail["assignee"], len(detail["history"])) == ("resolved", None, 1)
