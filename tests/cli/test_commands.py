"""The ``zentra`` command line, run as a user runs it: a real process on a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.scenarios import movement, settlement_csv

ZENTRA = [sys.executable, "-m", "zentra.cli.main"]


def zentra(
    *args: str, database_url: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZENTRA_")}
    if database_url is not None:
        env["ZENTRA_DATABASE_URL"] = database_url
    return subprocess.run(
        [*ZENTRA, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        cwd=cwd,
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_tenants_and_keys_are_created_as_json(sqlite_url: str) -> None:
    created = zentra("tenants", "create", "acme", "--json", database_url=sqlite_url)
    assert created.returncode == 0, created.stderr
    tenant = json.loads(created.stdout)
    assert tenant["tenant_id"].startswith("ten_")
    assert tenant["api_key"].startswith("zk_")
    key = zentra(
        "keys",
        "create",
        "--tenant",
        tenant["tenant_id"],
        "--role",
        "operator",
        "--role",
        "auditor",
        "--name",
        "ops",
        "--json",
        database_url=sqlite_url,
    )
    assert key.returncode == 0, key.stderr
    issued = json.loads(key.stdout)
    assert issued["roles"] == ["auditor", "operator"]
    assert issued["api_key"] != tenant["api_key"]
    bad = zentra(
        "keys",
        "create",
        "--tenant",
        tenant["tenant_id"],
        "--role",
        "root",
        "--name",
        "x",
        database_url=sqlite_url,
    )
    assert bad.returncode == 2
    assert "roles must be" in bad.stderr


def test_reconcile_prints_json_and_writes_the_report(tmp_path: Path) -> None:
    movements = tmp_path / "movements.ndjson"
    movements.write_text(
        "".join(
            json.dumps(m) + "\n"
            for m in (movement("mv_1", "pi_1", 125000), movement("mv_2", "pi_2", 990))
        )
    )
    settlement = tmp_path / "settlement.csv"
    settlement.write_bytes(settlement_csv([("pi_1", "1250.00", "EUR"), ("pi_9", "3.00", "EUR")]))
    out = tmp_path / "out"
    result = zentra(
        "reconcile",
        "--settlement",
        str(settlement),
        "--movements",
        str(movements),
        "--provider",
        "rail_primary",
        "--output",
        str(out),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "review"
    assert summary["counts"] == {"external": 2, "internal": 2, "matched": 1, "exceptions": 2}
    assert summary["exceptions_by_type"] == {
        "missing_from_settlement": 1,
        "unmatched_provider_row": 1,
    }
    assert len(summary["result_fingerprint"]) == 64
    assert {"parse", "match", "persist", "total"} <= set(summary["seconds"])
    matches = (out / "matches.csv").read_text().splitlines()
    assert matches[0] == "rule,kind,external_row_ids,movement_ids"
    assert matches[1].endswith(",mv_1")
    exceptions = (out / "exceptions.csv").read_text().splitlines()
    assert exceptions[1:] == [
        "missing_from_settlement,pi_2,,mv_2",
        f"unmatched_provider_row,pi_9,{exceptions[2].split(',')[2]},",
    ]
    assert "Reconciliation run" in (out / "report.html").read_text()


def test_demo_tells_the_whole_story(sqlite_url: str, tmp_path: Path) -> None:
    result = zentra("demo", database_url=sqlite_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # The runtime: one intent over the limit, one failing over, the rest through every state.
    assert "intent_over_limit 9000.00 EUR → rejected (limit_exceeded), 0 ledger entries" in out
    assert "intent_failover 120.00 EUR → evidenced via rail_backup" in out
    assert "rail_primary down → rail_backup chosen" in out
    assert "accepted → controlled → ledgered → routed → synchronized → evidenced" in out
    assert "Ed25519 signature valid (ed25519:" in out
    # The sandbox rail settles with noise, through the callback path and a settlement file.
    assert "2 duplicate ignored, 1 held back (late)" in out
    assert "24 rows kept, 0 rejected" in out
    assert "1 late callback delivered through the callback path (settled 1)" in out
    # Reconciliation finds what the noise planted, and the run is sealed.
    for planted in ("missing_from_settlement", "amount_mismatch", "unmatched_provider_row"):
        assert planted in out
    assert "created → matching → review" in out
    assert "22 matched" in out
    assert "zk_" in out  # the API key to explore with
    assert "closeout refused (409): 3 exceptions still open" in out
    assert "run closed and sealed" in out
    (closeout,) = (tmp_path / "zentra-output").glob("closeout_*.json")
    verified = zentra("verify", str(closeout), "--json")
    assert verified.returncode == 0
    assert json.loads(verified.stdout)["valid"] is True
    tampered = closeout.read_bytes().replace(b'"resolved"', b'"resolvee"', 1)
    assert tampered != closeout.read_bytes()
    closeout.write_bytes(tampered)
    assert zentra("verify", str(closeout)).returncode == 1


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_answers_health_openapi_and_runs_the_worker_in_process(sqlite_url: str) -> None:
    import time

    import httpx

    tenant = json.loads(
        zentra("tenants", "create", "acme", "--json", database_url=sqlite_url).stdout
    )
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZENTRA_")}
    env["ZENTRA_DATABASE_URL"] = sqlite_url
    server = subprocess.Popen(
        [*ZENTRA, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        assert httpx.get(f"{base}/readyz").json() == {"status": "ok"}
        paths = httpx.get(f"{base}/openapi.json").json()["paths"]
        assert "/reconciliation/runs" in paths
        assert "/settlement-files" in paths
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {tenant['api_key']}"}
        ) as api:
            file_id = api.post(
                "/settlement-files",
                data={"provider": "rail_primary"},
                files={"file": ("s.csv", settlement_csv([("pi_1", "1.00", "EUR")]))},
            ).json()["id"]
            run = api.post(
                "/reconciliation/runs",
                json={
                    "provider": "rail_primary",
                    "settlement_file": file_id,
                    "ledger_window": "2026-04-26",
                },
            ).json()
            deadline = time.monotonic() + 30
            while api.get(f"/reconciliation/runs/{run['id']}").json()["status"] != "review":
                assert time.monotonic() < deadline, "the in-process worker did not run"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_reconcile_with_a_ruleset_file(tmp_path: Path) -> None:
    movements = tmp_path / "movements.ndjson"
    movements.write_text(json.dumps(movement("mv_1", "pi_1", 1000)) + "\n")
    settlement = tmp_path / "settlement.csv"
    settlement.write_bytes(settlement_csv([("", "10.02", "EUR")]))
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps(
            {
                "rules": [
                    {"name": "exact_reference", "kind": "exact_reference"},
                    {
                        "name": "near_amount",
                        "kind": "amount_date",
                        "only_without_reference": True,
                        "date_window_days": 1,
                        "amount_tolerance": {"absolute_minor": 2},
                    },
                ]
            }
        )
    )
    base = [
        "reconcile",
        "--settlement",
        str(settlement),
        "--movements",
        str(movements),
        "--provider",
        "rail_primary",
        "--json",
    ]
    default = json.loads(zentra(*base).stdout)
    tolerant = zentra(*base, "--ruleset", str(rules))
    assert tolerant.returncode == 0, tolerant.stderr
    assert default["counts"]["matched"] == 0
    assert json.loads(tolerant.stdout)["counts"]["matched"] == 1
    rules.write_text('{"rules": [{"name": "x", "kind": "fuzzy"}]}')
    refused = zentra(*base, "--ruleset", str(rules))
    assert refused.returncode == 2
    assert "the ruleset is not valid" in refused.stderr
