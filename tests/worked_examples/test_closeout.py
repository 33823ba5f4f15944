"""Worked examples of closing a reconciliation, end to end over the HTTP API, on both databases.

The run is made by the real pipeline (upload, run, worker); the exceptions are worked through
the queue; the closeout is sealed, downloaded and checked offline the way an auditor would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fixtures.api import ApiClient
from tests.fixtures.scenarios import import_movements, movement, reconcile, settlement_csv
from zentra.evidence.closeout import verify_closeout_document
from zentra.kit.db import Database


def _run_with_two_exceptions(client: ApiClient, db: Database) -> dict[str, Any]:
    """pi_1 matches; pi_ghost is a provider row nobody booked; mv_2 never settled."""
    import_movements(client, [movement("mv_1", "pi_1", 125000), movement("mv_2", "pi_2", 3000)])
    run = reconcile(
        client, db, settlement_csv([("pi_1", "1250.00", "EUR"), ("pi_ghost", "49.90", "EUR")])
    )
    assert run["status"] == "review"
    return run


def _exceptions(client: ApiClient, run_id: str) -> list[dict[str, Any]]:
    answer = client.get(f"/reconciliation/runs/{run_id}/exceptions")
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def _settle(client: ApiClient, exception: dict[str, Any], to: str, decision: str) -> None:
    answer = client.post(
        f"/reconciliation/exceptions/{exception['id']}/transitions",
        json={"to": to, "decision": decision, "note": f"{decision} after review with the bank"},
    )
    assert answer.status_code == 200, answer.text


def test_closeout_refused_while_exceptions_are_open(db: Database, client: ApiClient) -> None:
    run = _run_with_two_exceptions(client, db)
    exceptions = _exceptions(client, run["id"])
    assert len(exceptions) >= 2
    closeout_url = f"/reconciliation/runs/{run['id']}/closeout"

    refused = client.post(closeout_url)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "closeout_blocked"
    assert {u["id"] for u in refused.json()["unmet_requirements"]} == {e["id"] for e in exceptions}

    # Settling all but one still refuses, naming exactly the one left.
    *settled, last = exceptions
    for exception in settled:
        _settle(client, exception, "carried_forward", "next_window")
    still = client.post(closeout_url)
    assert still.status_code == 409
    (unmet,) = still.json()["unmet_requirements"]
    assert (unmet["id"], unmet["type"], unmet["status"], unmet["owner"]) == (
        last["id"],
        last["type"],
        "open",
        "finance_ops",
    )
    assert client.get(f"/reconciliation/runs/{run['id']}").json()["status"] == "review"

    _settle(client, last, "resolved", "bank_confirmed")
    sealed = client.post(closeout_url)
    assert sealed.status_code == 201, sealed.text
    assert client.get(f"/reconciliation/runs/{run['id']}").json()["status"] == "closed"


def test_sealed_closeout_verifies_offline_and_fails_after_one_byte_changes(
    db: Database, client: ApiClient, tmp_path: Path
) -> None:
    run = _run_with_two_exceptions(client, db)
    for exception in _exceptions(client, run["id"]):
        _settle(client, exception, "resolved", "bank_confirmed")
    summary = client.post(f"/reconciliation/runs/{run['id']}/closeout").json()

    # The auditor downloads the document and keeps it as a file.
    download = client.get(f"/reconciliation/runs/{run['id']}/closeout")
    assert download.status_code == 200
    path = tmp_path / "closeout.json"
    path.write_bytes(download.content)

    offline = verify_closeout_document(path.read_bytes())
    assert offline.valid, offline.problems
    assert offline.merkle_root == summary["merkle_root"]
    # The key that signed is the tenant's, as the server confirms with its stored key.
    online = client.get(f"/reconciliation/closeouts/{summary['id']}/verify").json()
    assert online["valid"] is True
    assert online["embedded_key_is_tenant_key"] is True
    assert offline.key_fingerprint == online["key_fingerprint"]

    # One changed byte is detected: in a decision, a total, an exception amount, the root.
    raw = path.read_bytes()
    for needle in (b"bank_confirmed", b"129990", b"4990", summary["merkle_root"].encode()):
        position = raw.index(needle)
        tampered = bytearray(raw)
        tampered[position] = ord("X") if tampered[position] != ord("X") else ord("Y")
        path.write_bytes(bytes(tampered))
        result = verify_closeout_document(path.read_bytes())
        assert not result.valid, needle
        assert result.problems
    signature_at = raw.index(b'"value":"') + len(b'"value":"')
    flipped = bytearray(raw)
    flipped[signature_at] = ord("A") if flipped[signature_at] != ord("A") else ord("B")
    result = verify_closeout_document(bytes(flipped))
    assert not result.signature_valid
    assert not result.valid
