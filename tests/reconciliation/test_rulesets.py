"""Rulesets are versioned tenant resources, and a run records the version it used."""

from __future__ import annotations

from tests.conftest import make_tenant
from tests.fixtures.api import ApiClient
from tests.fixtures.scenarios import import_movements, movement, settlement_csv, start_run, upload
from zentra.kit.db import Database
from zentra.worker.runtime import default_worker

STRICT = [{"name": "exact_reference", "kind": "exact_reference"}]
TOLERANT = [
    {"name": "exact_reference", "kind": "exact_reference"},
    {
        "name": "near_amount",
        "kind": "amount_date",
        "only_without_reference": True,
        "date_window_days": 2,
        "amount_tolerance": {"absolute_minor": 5},
    },
]


def test_the_built_in_default_is_version_1(db: Database, client: ApiClient) -> None:
    listed = client.get("/reconciliation/rulesets").json()["data"]
    assert [(r["name"], r["version"], r["built_in"]) for r in listed] == [("default", 1, True)]
    default = client.get("/reconciliation/rulesets/default").json()
    assert [rule["kind"] for rule in default["rules"]] == [
        "exact_reference",
        "group_key",
        "group_key",
        "subset_sum",
        "amount_date",
        "fuzzy",
    ]
    assert len(default["definition_hash"]) == 64


def test_publishing_makes_immutable_versions(db: Database, client: ApiClient) -> None:
    first = client.post("/reconciliation/rulesets", json={"name": "bank", "rules": STRICT})
    assert first.status_code == 201
    assert first.json()["version"] == 1
    same = client.post("/reconciliation/rulesets", json={"name": "bank", "rules": STRICT})
    assert same.status_code == 200
    assert same.json()["version"] == 1
    second = client.post("/reconciliation/rulesets", json={"name": "bank", "rules": TOLERANT})
    assert second.json()["version"] == 2
    assert client.get("/reconciliation/rulesets/bank").json()["version"] == 2
    old = client.get("/reconciliation/rulesets/bank", params={"version": 1}).json()
    assert [rule["name"] for rule in old["rules"]] == ["exact_reference"]
    assert client.get("/reconciliation/rulesets/bank", params={"version": 9}).status_code == 404


def test_invalid_rules_are_refused_with_their_problems(db: Database, client: ApiClient) -> None:
    answer = client.post(
        "/reconciliation/rulesets",
        json={
            "name": "bad",
            "rules": [
                {"name": "exact_reference", "kind": "exact_reference"},
                {"name": "tolerant", "kind": "amount_date", "amount_tolerance": {"ratio": 0.01}},
            ],
        },
    )
    assert answer.status_code == 422
    reasons = " ".join(problem["reason"] for problem in answer.json()["errors"])
    assert "not a float" in reasons
    assert "date_window_days" in reasons or "decimal string" in reasons


def test_a_run_records_and_uses_the_ruleset_version(db: Database, client: ApiClient) -> None:
    client.post("/reconciliation/rulesets", json={"name": "bank", "rules": TOLERANT})
    import_movements(client, [movement("mv_1", "pi_1", 1000)])
    file_id = upload(client, settlement_csv([("", "10.03", "EUR")])).json()["id"]
    strict_run = start_run(client, file_id, ruleset="default").json()["id"]
    tolerant_run = start_run(client, file_id, ruleset="bank").json()["id"]
    default_worker(db).drain()
    strict = client.get(f"/reconciliation/runs/{strict_run}").json()
    tolerant = client.get(f"/reconciliation/runs/{tolerant_run}").json()
    assert strict["ruleset"]["name"] == "default"
    assert tolerant["ruleset"]["name"] == "bank"
    assert tolerant["ruleset"]["version"] == 1
    assert strict["counts"]["matched"] == 0
    assert tolerant["counts"]["matched"] == 1
    (match,) = client.get(f"/reconciliation/runs/{tolerant_run}/matches").json()["data"]
    assert match["rule"] == "near_amount"
    assert match["deltas"]["amount"] == 3
    assert strict["result_fingerprint"] != tolerant["result_fingerprint"]


def test_rulesets_are_tenant_scoped(db: Database, client: ApiClient) -> None:
    client.post("/reconciliation/rulesets", json={"name": "bank", "rules": STRICT})
    other = client.with_key(make_tenant(db, "tenant-b").api_key)
    assert other.get("/reconciliation/rulesets/bank").status_code == 404
    assert [r["name"] for r in other.get("/reconciliation/rulesets").json()["data"]] == ["default"]
