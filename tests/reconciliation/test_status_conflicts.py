"""Status conflicts at match time: a booked row paired with a movement that says it failed."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fixtures.api import ApiClient
from tests.fixtures.scenarios import import_movements, movement, reconcile, settlement_csv
from tests.matching.test_engine import ext_row, int_row
from zentra.kit.db import Database
from zentra.matching.columns import EXTERNAL_SCHEMA, INTERNAL_SCHEMA
from zentra.matching.engine import match_records
from zentra.reconciliation.status_conflicts import split_status_conflicts


def _failed(statuses: dict[str, str]) -> pa.Table:
    return pa.table(
        {
            "movement_id": pa.array(list(statuses), pa.string()),
            "status": pa.array(list(statuses.values()), pa.string()),
        }
    )


def _split(
    ext: list[dict[str, Any]], internal: list[dict[str, Any]], failed: dict[str, str]
) -> Any:
    external = pa.Table.from_pylist(ext, schema=EXTERNAL_SCHEMA)
    movements = pa.Table.from_pylist(internal, schema=INTERNAL_SCHEMA)
    outcome = match_records(external, movements)
    return outcome, split_status_conflicts(outcome, external, movements, _failed(failed))


def test_a_booked_row_matched_to_a_failed_movement_becomes_a_status_conflict() -> None:
    engine, split = _split(
        [ext_row("e_ok", "pi_ok", 1000), ext_row("e_bad", "pi_bad", 2500)],
        [int_row("m_ok", "pi_ok", 1000), int_row("m_bad", "pi_bad", 2500)],
        {"m_bad": "failed"},
    )
    assert engine.matches.num_rows == 2
    outcome = split.outcome
    assert [m["movement_ids"] for m in outcome.matches.to_pylist()] == [["m_ok"]]
    (conflict,) = outcome.exceptions.to_pylist()
    assert conflict["type"] == "status_conflict"
    assert (conflict["external_id"], conflict["movement_id"]) == ("e_bad", "m_bad")
    assert (conflict["amount_minor"], conflict["internal_amount_minor"]) == (2500, 2500)
    assert conflict["rule"] == "exact_reference"
    assert conflict["candidate_ids"] == ["m_bad"]
    assert outcome.result_fingerprint != engine.result_fingerprint
    evidence = split.evidence[("e_bad", "m_bad")]
    assert evidence["movement_says"]["status"] == "failed"
    assert evidence["provider_says"]["type"] == "charge"


def test_without_failed_movements_the_outcome_is_the_engine_s() -> None:
    engine, split = _split(
        [ext_row("e", "pi", 1000)], [int_row("m", "pi", 1000)], {"m_elsewhere": "failed"}
    )
    assert split.outcome is engine
    assert split.evidence == {}


def test_a_failed_movement_that_matched_nothing_is_no_conflict() -> None:
    engine, split = _split(
        [ext_row("e", "pi", 1000)], [int_row("m", "other", 500)], {"m": "failed"}
    )
    assert split.outcome is engine


def test_a_payout_matched_to_a_declined_movement_conflicts() -> None:
    payout = ext_row("e_payout", "po_1", -3000, kind="payout")
    engine, split = _split(
        [payout], [int_row("m_po", "po_1", 3000, kind="payout")], {"m_po": "declined"}
    )
    assert engine.matches.num_rows == 1
    (conflict,) = split.outcome.exceptions.to_pylist()
    assert conflict["movement_id"] == "m_po"
    assert split.outcome.matches.num_rows == 0


@settings(max_examples=10, deadline=None)
@given(st.randoms(use_true_random=False), st.sets(st.integers(0, 11), max_size=6))
def test_conflicts_and_fingerprint_do_not_depend_on_input_order(
    rng: random.Random, failed_numbers: set[int]
) -> None:
    ext = [ext_row(f"e{n}", f"pi_{n}", 100 * (n + 1)) for n in range(10)]
    internal = [int_row(f"m{n}", f"pi_{n}", 100 * (n + 1)) for n in range(12)]
    failed = {f"m{n}": "failed" for n in failed_numbers}
    _, first = _split(ext, internal, failed)
    rng.shuffle(ext)
    rng.shuffle(internal)
    shuffled_failed = dict(sorted(failed.items(), key=lambda _item: rng.random()))
    _, second = _split(ext, internal, shuffled_failed)
    assert first.outcome.result_fingerprint == second.outcome.result_fingerprint
    conflicted = {n for n in failed_numbers if n < 10}
    assert {
        row["movement_id"]
        for row in second.outcome.exceptions.to_pylist()
        if row["type"] == "status_conflict"
    } == {f"m{n}" for n in conflicted}
    assert second.outcome.matches.num_rows == 10 - len(conflicted)


def test_run_opens_a_status_conflict_for_a_failed_movement(db: Database, client: ApiClient) -> None:
    import_movements(
        client,
        [
            movement("mv_ok", "pi_ok", 1250),
            {**movement("mv_failed", "pi_failed", 990), "status": "FAILED"},
        ],
    )
    run = reconcile(
        client, db, settlement_csv([("pi_ok", "12.50", "EUR"), ("pi_failed", "9.90", "EUR")])
    )
    assert run["counts"]["matched"] == 1
    exceptions = client.get(f"/reconciliation/runs/{run['id']}/exceptions").json()["data"]
    (conflict,) = exceptions
    assert conflict["type"] == "status_conflict"
    assert conflict["movement_id"] == "mv_failed"
    assert conflict["external_record_id"] is not None
    detail = client.get(f"/reconciliation/exceptions/{conflict['id']}").json()
    details = detail["evidence"]["details"]
    assert details["movement_says"]["status"] == "failed"
    assert details["movement_says"]["callbacks"] == []
    assert details["provider_says"]["type"] == "charge"
    assert details["candidates"] == ["mv_failed"]
    assert detail["evidence"]["movement"]["status"] == "FAILED"
