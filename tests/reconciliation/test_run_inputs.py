"""A run's sides handed over in memory (``RunInputs``) and its report from the rows written
(``WrittenOutcome``): the same columns, results, trail and files as the store path."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from bench.recon.generate import generate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from zentra.ingest.service import import_movements, upload_settlement_file
from zentra.ingest.service.files import UploadResult
from zentra.ingest.service.movements import ImportResult
from zentra.kit.context import system_context
from zentra.kit.db import Database
from zentra.models import AuditEvent, Job, OutboxEvent, ReconciliationRun
from zentra.reconciliation import repository
from zentra.reconciliation.report import (
    stored_report_rows,
    write_run_report,
    written_report_rows,
)
from zentra.reconciliation.runs import (
    RunInputs,
    create_run,
    external_inputs,
    movement_inputs,
    parse_ledger_window,
    process_run,
)
from zentra.tenancy.service import create_tenant
from zentra.worker.runtime import default_worker

PROVIDER = "rail_primary"
WINDOW = {"from": "2026-04-10", "to": "2026-04-22"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ReconBench files at a small size where every fifth settlement row has no ``row_id`` (so
    reports name it by Zentra's id), plus a failed movement the provider booked (a status
    conflict with its evidence) and a refused row on each side."""
    out = tmp_path_factory.mktemp("inputs")
    generate(out, seed=5, rows=800)
    settlement = (out / "settlement.csv").read_text(encoding="utf-8").splitlines()
    for index in range(1, len(settlement), 5):
        settlement[index] = settlement[index][settlement[index].index(",") :]
    settlement.append("r_failed,pi_failed,charge,50.00,EUR,2026-04-15,,,,")
    settlement.append("r_bad,pi_bad,charge,not-an-amount,EUR,2026-04-15,,,,")
    (out / "settlement.csv").write_text("\n".join(settlement) + "\n", encoding="utf-8")
    failed = {
        "movement_id": "mv_failed",
        "type": "payment",
        "provider": PROVIDER,
        "provider_reference": "pi_failed",
        "amount": 5000,
        "currency": "EUR",
        "status": "failed",
        "occurred_at": "2026-04-15T10:00:00Z",
    }
    with (out / "movements.ndjson").open("a", encoding="utf-8") as movements:
        movements.write(json.dumps(failed) + "\n")
        movements.write('{"movement_id": "mv_bad", "amount": "not a number"}\n')
    return out


def _tenant(db: Database, name: str) -> str:
    with db.unit_of_work() as session:
        tenant, _key = create_tenant(session, name)
    return tenant.id


def _import(db: Database, tenant_id: str, body: bytes, **options: Any) -> ImportResult:
    with db.unit_of_work(tenant_id) as session:
        return import_movements(
            session,
            system_context(tenant_id, "reconcile"),
            content=body,
            content_type="application/x-ndjson",
            **options,
        )


def _upload(db: Database, tenant_id: str, content: bytes) -> UploadResult:
    with db.unit_of_work(tenant_id) as session:
        return upload_settlement_file(
            session, system_context(tenant_id, "reconcile"), content=content, provider=PROVIDER
        )


def _create_run(db: Database, tenant_id: str, settlement_file: str) -> ReconciliationRun:
    with db.unit_of_work(tenant_id) as session:
        return create_run(
            session,
            system_context(tenant_id, "reconcile"),
            provider=PROVIDER,
            settlement_file=settlement_file,
            ledger_window=parse_ledger_window(WINDOW),
            owner="finance_ops",
        )


def _stored_run(db: Database, tenant_id: str, run_id: str) -> ReconciliationRun:
    with db.unit_of_work(tenant_id) as session:
        run = repository.get_run(session, tenant_id, run_id)
        assert run is not None
        return run


def _worker_run(db: Database, data: Path) -> ReconciliationRun:
    """The store path: ingest, create the run, the worker processes it."""
    tenant_id = _tenant(db, "worker-path")
    _import(db, tenant_id, (data / "movements.ndjson").read_bytes())
    uploaded = _upload(db, tenant_id, (data / "settlement.csv").read_bytes())
    run = _create_run(db, tenant_id, uploaded.file.id)
    default_worker(db).drain()
    return _stored_run(db, tenant_id, run.id)


def _without_external_ids(details: dict[str, Any]) -> dict[str, Any]:
    """Exception details less Zentra's external record ids, which differ between two uploads
    of the same file."""
    kept = {key: value for key, value in details.items() if key != "candidate_external_records"}
    if "provider_says" in kept:
        kept["provider_says"] = {
            key: value
            for key, value in kept["provider_says"].items()
            if key != "external_record_ids"
        }
    return kept


def _trail(db: Database, run: ReconciliationRun) -> dict[str, Any]:
    """What a run leaves besides its rows, without ids and times."""
    with db.unit_of_work(run.tenant_id) as session:
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.tenant_id == run.tenant_id).order_by(AuditEvent.seq)
        )
        events = session.scalars(select(OutboxEvent).where(OutboxEvent.tenant_id == run.tenant_id))
        jobs = session.scalars(select(Job).where(Job.tenant_id == run.tenant_id))
        return {
            "state_path": [(step["status"], step["actor"]) for step in run.state_path],
            "audit": [(a.actor, a.action, a.resource_type, a.outcome) for a in audit],
            "events": Counter(event.type for event in events),
            "jobs": [(job.status, job.attempts) for job in jobs],
            "totals": run.totals,
            "counts": run.counts,
            "manifest": run.inputs["internal_manifest"],
            "fingerprint": run.result_fingerprint,
            "conflict_evidence": [
                _without_external_ids(x.details)
                for x in repository.list_run_exceptions(session, run.tenant_id, run.id)
                if x.type == "status_conflict"
            ],
        }


def test_a_run_handed_its_inputs_is_the_workers_run(
    db: Database, dataset: Path, tmp_path: Path
) -> None:
    tenant_id = _tenant(db, "handed-over")
    imported = _import(db, tenant_id, (dataset / "movements.ndjson").read_bytes())
    uploaded = _upload(db, tenant_id, (dataset / "settlement.csv").read_bytes())
    # Only what was stored is handed over: refused rows are in neither table.
    assert imported.fresh
    assert imported.inserted is not None
    assert uploaded.records is not None
    assert len(imported.rejected) == 1
    assert imported.inserted.num_rows == imported.imported
    assert len(uploaded.file.rejected_rows) == 1
    assert uploaded.records.num_rows == uploaded.file.rows
    assert "pi_bad" not in uploaded.records["provider_reference"].to_pylist()

    run = _create_run(db, tenant_id, uploaded.file.id)
    with db.unit_of_work(tenant_id) as session:
        processed = process_run(
            session,
            system_context(tenant_id, "matcher"),
            run.id,
            inputs=RunInputs(
                external=external_inputs(run, uploaded.records),
                internal=movement_inputs(run, imported.inserted),
            ),
        )
    assert processed.written is not None
    assert default_worker(db).drain() == 1  # the run's job: it finds the run processed
    handed = _stored_run(db, tenant_id, run.id)
    worker = _worker_run(db, dataset)

    ours, theirs = _trail(db, handed), _trail(db, worker)
    assert ours == theirs
    assert ours["state_path"] == [
        ("created", "system:reconcile"),
        ("matching", "system:reconcile"),
        ("review", "system:matcher"),
    ]
    assert ours["jobs"] == [("done", 1)]
    assert len(ours["conflict_evidence"]) == 1

    # The report from the rows written is the report read from the store, byte for byte.
    with db.unit_of_work(tenant_id) as session:
        write_run_report(handed, stored_report_rows(session, handed), tmp_path / "stored")
    write_run_report(
        handed, written_report_rows(processed.written, uploaded.records), tmp_path / "written"
    )
    for name in ("matches.csv", "exceptions.csv"):
        written = (tmp_path / "written" / name).read_bytes()
        assert written == (tmp_path / "stored" / name).read_bytes(), name
    # Rows without a row_id are named by Zentra's id, the others by theirs.
    matches = (tmp_path / "written" / "matches.csv").read_text()
    assert "ext_" in matches
    assert ",r0" in matches


def test_a_no_op_reimport_hands_nothing_over_and_the_store_path_stays_right(
    db: Database, dataset: Path
) -> None:
    movements = (dataset / "movements.ndjson").read_bytes()
    lines = movements.splitlines(keepends=True)
    tenant_id = _tenant(db, "re-imports")
    first = _import(db, tenant_id, b"".join(lines[: len(lines) // 2]))
    assert first.fresh
    assert first.inserted is not None
    again = _import(db, tenant_id, movements)
    # Some movements were already stored: the rows inserted are not all the import names.
    assert not again.fresh
    assert again.inserted is not None
    assert again.inserted.num_rows == again.imported == len(lines) - 1 - first.imported
    no_op = _import(db, tenant_id, movements)
    assert not no_op.fresh
    assert no_op.imported == 0
    assert no_op.inserted is not None
    assert no_op.inserted.num_rows == 0
    per_row = _import(db, tenant_id, movements, engine="python")
    assert per_row.inserted is None
    assert not per_row.fresh

    uploaded = _upload(db, tenant_id, (dataset / "settlement.csv").read_bytes())
    assert uploaded.records is not None
    known = _upload(db, tenant_id, (dataset / "settlement.csv").read_bytes())
    assert not known.created
    assert known.records is None

    run = _create_run(db, tenant_id, uploaded.file.id)
    with db.unit_of_work(tenant_id) as session:
        ctx = system_context(tenant_id, "matcher")
        with pytest.raises(ValueError, match="preloaded external columns"):
            process_run(session, ctx, run.id, inputs=RunInputs(external=uploaded.records))
    with db.unit_of_work(tenant_id) as session:
        # Movements not fresh: read from the store; the file's records from the first upload.
        external = repository.external_columns_of(uploaded.records)
        processed = process_run(
            session,
            system_context(tenant_id, "matcher"),
            run.id,
            inputs=RunInputs(external=external),
        )
    default_worker(db).drain()
    worker = _worker_run(db, dataset)
    assert processed.run.result_fingerprint == worker.result_fingerprint
    assert processed.run.counts == worker.counts


WINDOW_PROVIDERS = ("rail_primary", "rail_backup", "acquirer")
FIRST_DAY = date(2026, 3, 20)
DAYS = 40


def test_rows_of_another_tenant_or_file_are_never_handed_over(db: Database, dataset: Path) -> None:
    tenant_id = _tenant(db, "owner")
    imported = _import(db, tenant_id, (dataset / "movements.ndjson").read_bytes())
    uploaded = _upload(db, tenant_id, (dataset / "settlement.csv").read_bytes())
    assert imported.inserted is not None
    assert uploaded.records is not None
    run = _create_run(db, tenant_id, uploaded.file.id)
    assert external_inputs(run, uploaded.records).num_rows == uploaded.records.num_rows

    def with_value(table: pa.Table, column: str, value: str) -> pa.Table:
        index = table.schema.get_field_index(column)
        values = [value, *table[column].to_pylist()[1:]]
        return table.set_column(index, column, pa.array(values, pa.string()))

    with pytest.raises(ValueError, match="tenant_id"):
        external_inputs(run, with_value(uploaded.records, "tenant_id", "ten_other"))
    with pytest.raises(ValueError, match="settlement_file_id"):
        external_inputs(run, with_value(uploaded.records, "settlement_file_id", "fil_other"))
    with pytest.raises(ValueError, match="tenant_id"):
        movement_inputs(run, with_value(imported.inserted, "tenant_id", "ten_other"))


def _window_movements() -> bytes:
    """Movements of three providers, one a day or more, with metadata of several keys (which
    PostgreSQL's jsonb keeps in its own order)."""
    lines = []
    for number in range(240):
        day = FIRST_DAY + timedelta(days=(number * 7) % DAYS)
        movement = {
            "movement_id": f"mv_{number:04d}",
            "type": "payment",
            "provider": WINDOW_PROVIDERS[number % 3],
            "provider_reference": f"pi_{number:04d}",
            "amount": 100 + number,
            "currency": "EUR",
            "status": "succeeded",
            "occurred_at": f"{day.isoformat()}T{number % 24:02d}:30:00Z",
            "metadata": {"zeta": number, "a": f"x{number}", "payout_id": f"po_{number % 9}"}
            if number % 4
            else {},
        }
        lines.append(json.dumps(movement) + "\n")
    return "".join(lines).encode()


def _comparable(table: pa.Table, *, metadata_as_text: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.sort_by("movement_id").to_pylist()
    if not metadata_as_text:
        for row in rows:
            row["metadata_json"] = json.loads(row["metadata_json"])
    return rows


def test_the_arrow_window_is_the_stores(db: Database) -> None:
    tenant_id = _tenant(db, "windows")
    imported = _import(db, tenant_id, _window_movements())
    assert imported.imported == 240
    assert imported.inserted is not None
    rows = imported.inserted
    on_sqlite = db.url.startswith("sqlite")
    days = st.integers(min_value=-5, max_value=DAYS + 5).map(
        lambda offset: FIRST_DAY + timedelta(days=offset)
    )

    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        provider=st.sampled_from([*WINDOW_PROVIDERS, "nobody"]),
        first=days,
        last=days,
        lookback=st.integers(min_value=0, max_value=12),
    )
    def check(provider: str, first: date, last: date, lookback: int) -> None:
        window_from, window_to = min(first, last), max(first, last)
        candidates_from = window_from - timedelta(days=lookback)
        in_memory = repository.movement_columns_of(
            rows, provider, candidates_from, window_from, window_to
        )
        with db.unit_of_work(tenant_id) as session:
            stored = repository.load_movement_columns(
                session, tenant_id, provider, candidates_from, window_from, window_to
            )
        assert in_memory.schema.equals(stored.schema)
        assert _comparable(in_memory, metadata_as_text=on_sqlite) == _comparable(
            stored, metadata_as_text=on_sqlite
        )
        for row in in_memory.to_pylist():
            assert candidates_from <= row["occurred_on"] <= window_to
            assert row["in_window"] == (row["occurred_on"] >= window_from)

    check()
