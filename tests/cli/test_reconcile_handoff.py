"""``zentra reconcile`` hands what it ingested and wrote over in memory instead of reading it
back; the results are those of the store path (the worker's run, the report read from the
store), byte for byte, on either database."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bench.recon.generate import generate

from zentra.cli.reconcile import run_reconcile
from zentra.ingest.service import import_movements, upload_settlement_file
from zentra.kit.context import system_context
from zentra.kit.db import Database
from zentra.kit.errors import InvalidInput
from zentra.reconciliation import repository, runs
from zentra.reconciliation.report import stored_report_rows, write_run_report
from zentra.reconciliation.runs import create_run, parse_ledger_window
from zentra.tenancy.service import create_tenant
from zentra.worker.runtime import default_worker

PROVIDER = "rail_primary"
WINDOW = "2026-04-12..2026-04-24"
"""Inside the generated days (04-01..04-28): some movements are look-back candidates, some
fall before the look-back, some after the window."""
STORE_READS = (
    "load_external_columns",
    "load_movement_columns",
    "match_columns",
    "exception_columns",
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ReconBench files at a small size, plus a movement of another provider, a movement and a
    settlement row that are refused."""
    out = tmp_path_factory.mktemp("handoff")
    generate(out, seed=11, rows=1500)
    other_provider = {
        "movement_id": "mv_elsewhere",
        "type": "payment",
        "provider": "rail_backup",
        "provider_reference": "pi_elsewhere",
        "amount": 1000,
        "currency": "EUR",
        "status": "succeeded",
        "occurred_at": "2026-04-15T10:00:00Z",
    }
    with (out / "movements.ndjson").open("a", encoding="utf-8") as movements:
        movements.write(json.dumps(other_provider) + "\n")
        movements.write('{"movement_id": "mv_bad", "amount": "not a number"}\n')
    with (out / "settlement.csv").open("a", encoding="utf-8") as settlement:
        settlement.write("r_bad,pi_bad,charge,not-an-amount,EUR,2026-04-15,,,,\n")
    return out


def _store_path(database: Database, data: Path, out: Path) -> dict[str, Any]:
    """The same reconciliation as the API and worker do it: ingest, create the run, drain the
    worker (which reads both sides from the store), write the report read from the store."""
    with database.unit_of_work() as session:
        tenant, _key = create_tenant(session, "reference")
    ctx = system_context(tenant.id, "reconcile")
    with database.unit_of_work(tenant.id) as session:
        imported = import_movements(
            session,
            ctx,
            content=(data / "movements.ndjson").read_bytes(),
            content_type="application/x-ndjson",
        )
        uploaded = upload_settlement_file(
            session,
            ctx,
            content=(data / "settlement.csv").read_bytes(),
            provider=PROVIDER,
            filename="settlement.csv",
        )
        start, end = WINDOW.split("..")
        run = create_run(
            session,
            ctx,
            provider=PROVIDER,
            settlement_file=uploaded.file.id,
            ledger_window=parse_ledger_window({"from": start, "to": end}),
            owner="finance_ops",
        )
    default_worker(database).drain()
    with database.unit_of_work(tenant.id) as session:
        stored = repository.get_run(session, tenant.id, run.id)
        assert stored is not None
        write_run_report(stored, stored_report_rows(session, stored), out)
        exceptions = repository.exception_counts_by_status(session, tenant.id, run.id)
        return {
            "status": stored.status,
            "counts": {
                "external": stored.counts["external_records"],
                "internal": stored.counts["internal_records"],
                "matched": stored.counts["matched"],
                "exceptions": sum(exceptions.values()),
            },
            "exceptions_by_type": stored.counts["exceptions_by_type"],
            "rejected_rows": len(uploaded.file.rejected_rows) + len(imported.rejected),
            "result_fingerprint": stored.result_fingerprint,
        }


def _one_shot(data: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code = run_reconcile(
        settlement=data / "settlement.csv",
        movements=data / "movements.ndjson",
        provider=PROVIDER,
        file_format=None,
        window=WINDOW,
        ruleset=None,
        output=out,
        as_json=True,
        console=None,
    )
    assert code == 0
    summary: dict[str, Any] = json.loads(capsys.readouterr().out)
    return summary


def _count_store_reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = dict.fromkeys(STORE_READS, 0)

    def counting(name: str, read: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return read(*args, **kwargs)

        return wrapper

    for name in STORE_READS:
        monkeypatch.setattr(repository, name, counting(name, getattr(repository, name)))
    return calls


def _assert_same_results(summary: dict[str, Any], reference: dict[str, Any]) -> None:
    for key, value in reference.items():
        assert summary[key] == value, key
    assert summary["rejected_rows"] == 2
    assert summary["counts"]["exceptions"] > 0
    assert summary["counts"]["matched"] > 0
    assert set(summary["seconds"]) == {"parse", "load", "match", "persist", "report", "total"}
    assert all(seconds >= 0 for seconds in summary["seconds"].values())


def _assert_same_files(ours: Path, reference: Path) -> None:
    for name in ("matches.csv", "exceptions.csv"):
        assert (ours / name).read_bytes() == (reference / name).read_bytes(), name


def test_on_its_own_store_nothing_is_read_back_and_the_results_are_the_store_paths(
    db: Database,
    dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reference = _store_path(db, dataset, tmp_path / "reference")
    monkeypatch.delenv("ZENTRA_DATABASE_URL", raising=False)
    reads = _count_store_reads(monkeypatch)
    summary = _one_shot(dataset, tmp_path / "one-shot", capsys)
    assert reads == dict.fromkeys(STORE_READS, 0)
    _assert_same_results(summary, reference)
    _assert_same_files(tmp_path / "one-shot", tmp_path / "reference")
    # Another provider's movement is in neither side; window and look-back cut the rest.
    assert "mv_elsewhere" not in (tmp_path / "one-shot" / "exceptions.csv").read_text()


def test_on_a_named_store_movements_are_read_from_it(
    db: Database,
    dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """ZENTRA_DATABASE_URL names a store others may write to: the run's movements come from it;
    the file's records and the report still come from memory."""
    reference = _store_path(db, dataset, tmp_path / "reference")
    monkeypatch.setenv("ZENTRA_DATABASE_URL", db.url)
    reads = _count_store_reads(monkeypatch)
    summary = _one_shot(dataset, tmp_path / "one-shot", capsys)
    assert reads == {**dict.fromkeys(STORE_READS, 0), "load_movement_columns": 1}
    _assert_same_results(summary, reference)
    _assert_same_files(tmp_path / "one-shot", tmp_path / "reference")


def test_when_the_handed_over_run_fails_the_worker_processes_it_from_the_store(
    db: Database,
    dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Nothing of the failed attempt is committed; the worker's own attempt reads both sides
    from the store and the command ends as it would have without the hand-off."""
    reference = _store_path(db, dataset, tmp_path / "reference")
    monkeypatch.delenv("ZENTRA_DATABASE_URL", raising=False)
    engine = runs.match_records
    attempts: list[int] = []

    def failing_once(*args: Any, **kwargs: Any) -> Any:
        attempts.append(len(attempts))
        if len(attempts) == 1:
            raise RuntimeError("engine out of memory")
        return engine(*args, **kwargs)

    monkeypatch.setattr(runs, "match_records", failing_once)
    reads = _count_store_reads(monkeypatch)
    summary = _one_shot(dataset, tmp_path / "one-shot", capsys)
    assert attempts == [0, 1]
    assert reads["load_external_columns"] == 1
    assert reads["load_movement_columns"] == 1
    _assert_same_results(summary, reference)
    _assert_same_files(tmp_path / "one-shot", tmp_path / "reference")


def test_the_window_defaults_to_the_providers_movements_and_is_read_only_then(
    dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("ZENTRA_DATABASE_URL", raising=False)
    spans: list[str] = []
    span_of = repository.movement_date_span

    def counting(session: Any, tenant_id: str, provider: str) -> Any:
        spans.append(provider)
        return span_of(session, tenant_id, provider)

    monkeypatch.setattr(repository, "movement_date_span", counting)
    _one_shot(dataset, tmp_path / "given", capsys)
    assert spans == []

    def one_shot(provider: str) -> int:
        return run_reconcile(
            settlement=dataset / "settlement.csv",
            movements=dataset / "movements.ndjson",
            provider=provider,
            file_format=None,
            window=None,
            ruleset=None,
            output=None,
            as_json=True,
            console=None,
        )

    assert one_shot(PROVIDER) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"]["internal"] > 0
    with pytest.raises(InvalidInput, match="give --window"):
        one_shot("rail_unknown")
    assert spans == [PROVIDER, "rail_unknown"]
