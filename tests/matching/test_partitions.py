"""Partitioning and memory bounds of the engine never change what it decides."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zentra.kit.canonical import canonical_hash
from zentra.kit.references import reference_key
from zentra.matching.columns import EXTERNAL_SCHEMA, INTERNAL_SCHEMA, signed_amount
from zentra.matching.engine import MatchOutcome, match_records
from zentra.matching.rules import DEFAULT_RULESET, RulesetDefinition
from zentra.matching.workspace import (
    EXACT_ROWS_PER_PARTITION,
    MEMORY_LIMIT_MIB,
    Workspace,
    exact_partitions_for,
    spilling_connection,
    streamed_sha256,
)

DAY = date(2026, 4, 20)

# References repeat across both sides, with the case and spacing that the key removes; po_ and
# bt_ are group keys (payouts by payout id, batches by group key); "" is no reference.
EXTERNAL_REFERENCES = ["", "", "pi_1", " PI_1", "pi_2", "pi 2", "pi_3", "re_4", "po_1", "bt_1"]
INTERNAL_REFERENCES = ["", "pi_1", "pi_2", "PI_2 ", "pi_3", "re_4", "pi_5", "bt_1", "ord-1"]
AMOUNTS = [100, 250, 350, 999, 1000]
CURRENCIES = ["EUR", "EUR", "USD"]
COUNTERPARTIES = [None, "Acme GmbH", "ACME GmbH Berlin", "Globex Corp"]

METADATA_RULESET = RulesetDefinition.model_validate(
    {
        "rules": [
            {"name": "order_id", "kind": "exact_reference", "reference_field": "metadata.order_id"},
            {
                "name": "tolerant",
                "kind": "amount_date",
                "date_window_days": 2,
                "amount_tolerance": {"absolute_minor": 5},
                "fee_aware": True,
            },
            {
                "name": "by_name",
                "kind": "fuzzy",
                "date_window_days": 3,
                "fuzzy": {"threshold": 80},
            },
        ]
    }
)


def external_row(ident: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A provider row whose content hash covers all of its content (equal content, equal hash,
    as ingestion makes them)."""
    kind = fields["kind"]
    return {
        "id": ident,
        "content_hash": canonical_hash({**fields, "booked_on": fields["booked_on"].isoformat()}),
        "provider_reference": fields["reference"],
        "reference_key": reference_key(fields["reference"]),
        "type_class": kind,
        "amount_minor": fields["amount"],
        "signed_amount": signed_amount(kind, fields["amount"]),
        "fee_minor": fields["fee"],
        "currency": fields["currency"],
        "booked_on": fields["booked_on"],
        "description": None,
        "counterparty": fields["counterparty"],
        "group_key": fields["group_key"],
    }


@st.composite
def external_fields(draw: st.DrawFn) -> dict[str, Any]:
    reference = draw(st.sampled_from(EXTERNAL_REFERENCES))
    if reference.startswith("po"):
        kind = "payout"
    else:
        kind = draw(st.sampled_from(["charge", "charge", "refund"]))
    amount = draw(st.sampled_from(AMOUNTS))
    return {
        "reference": reference,
        "kind": kind,
        "amount": -amount if kind in {"payout", "refund"} else amount,
        "currency": draw(st.sampled_from(CURRENCIES)),
        "booked_on": DAY + timedelta(days=draw(st.integers(0, 3))),
        "fee": draw(st.sampled_from([None, None, 50])),
        "counterparty": draw(st.sampled_from(COUNTERPARTIES)),
        "group_key": draw(st.sampled_from([None, None, "bt_1"])),
        # Like a file's row id: the same row sent again under a new id has another hash.
        "row": draw(st.integers(0, 1)),
    }


@st.composite
def internal_row(draw: st.DrawFn, ident: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["charge", "charge", "refund", "fee", "payout"]))
    metadata = {
        key: value
        for key, value in (
            ("payout_id", draw(st.sampled_from([None, "po_1", "po_1", "po_2"]))),
            ("counterparty", draw(st.sampled_from(COUNTERPARTIES))),
            ("order_id", draw(st.sampled_from([None, "pi_1", "PI_2", "bt_1"]))),
        )
        if value is not None
    }
    reference = draw(st.sampled_from(INTERNAL_REFERENCES))
    amount = draw(st.sampled_from(AMOUNTS)) + draw(st.sampled_from([0, 0, 3]))
    return {
        "movement_id": ident,
        "provider_reference": reference,
        "reference_key": reference_key(reference),
        "type_class": kind,
        "amount_minor": amount,
        "signed_amount": signed_amount(kind, amount),
        "currency": draw(st.sampled_from(CURRENCIES)),
        "occurred_on": DAY + timedelta(days=draw(st.integers(-2, 2))),
        "in_window": draw(st.booleans()),
        "metadata_json": json.dumps(metadata),
    }


@st.composite
def inputs(draw: st.DrawFn) -> tuple[pa.Table, pa.Table]:
    """Repeated references, exact copies and resent rows, currency and amount mismatches, rows
    without references, payouts, batches and equal amounts that tie."""
    fields = draw(st.lists(external_fields(), max_size=16))
    # Exact copies of some rows (the same content sent twice).
    copies = draw(st.lists(st.sampled_from(fields), max_size=3)) if fields else []
    external = [external_row(f"e{n:02d}", f) for n, f in enumerate(fields + copies)]
    internal = [draw(internal_row(f"m{n:02d}")) for n in range(draw(st.integers(0, 16)))]
    return (
        pa.Table.from_pylist(external, schema=EXTERNAL_SCHEMA),
        pa.Table.from_pylist(internal, schema=INTERNAL_SCHEMA),
    )


def matches_of(outcome: MatchOutcome) -> list[dict[str, Any]]:
    """The matches in a canonical order (the engine returns them in no particular order)."""
    return sorted(
        outcome.matches.to_pylist(),
        key=lambda m: (m["rule"], m["external_ids"], m["movement_ids"]),
    )


@settings(max_examples=20, deadline=None)
@given(inputs(), st.sampled_from([DEFAULT_RULESET, METADATA_RULESET]))
def test_partition_and_thread_counts_decide_nothing(
    tables: tuple[pa.Table, pa.Table], ruleset: RulesetDefinition
) -> None:
    external, internal = tables
    baseline = match_records(external, internal, ruleset, partitions=1, threads=1)
    for partitions in (1, 2, 3, 7):
        for threads in (1, 2):
            outcome = match_records(
                external, internal, ruleset, partitions=partitions, threads=threads
            )
            assert outcome.result_fingerprint == baseline.result_fingerprint
            assert matches_of(outcome) == matches_of(baseline)
            assert outcome.exceptions.to_pylist() == baseline.exceptions.to_pylist()


def test_a_reference_split_from_its_movement_by_no_partition_still_matches() -> None:
    """Keys spread over several partitions: each one's decisions are taken whole."""
    references = [f"pi_{n}" for n in range(40)]
    external = pa.Table.from_pylist(
        [
            external_row(
                f"e{n}",
                {
                    "reference": f" {ref.upper()} ",
                    "kind": "charge",
                    "amount": 100 + n,
                    "currency": "EUR",
                    "booked_on": DAY,
                    "fee": None,
                    "counterparty": None,
                    "group_key": None,
                    "row": 0,
                },
            )
            for n, ref in enumerate(references)
        ],
        schema=EXTERNAL_SCHEMA,
    )
    internal = pa.Table.from_pylist(
        [
            {
                "movement_id": f"m{n}",
                "provider_reference": ref,
                "reference_key": reference_key(ref),
                "type_class": "charge",
                "amount_minor": 100 + n,
                "signed_amount": 100 + n,
                "currency": "EUR",
                "occurred_on": DAY,
                "in_window": True,
                "metadata_json": "{}",
            }
            for n, ref in enumerate(references)
        ],
        schema=INTERNAL_SCHEMA,
    )
    outcome = match_records(external, internal, partitions=7)
    assert sorted((m["external_ids"][0], m["movement_ids"][0]) for m in matches_of(outcome)) == (
        sorted((f"e{n}", f"m{n}") for n in range(40))
    )
    assert outcome.exceptions.num_rows == 0


def test_the_partition_count_follows_the_input_size() -> None:
    assert exact_partitions_for(0) == 1
    assert exact_partitions_for(EXACT_ROWS_PER_PARTITION) == 1
    assert exact_partitions_for(EXACT_ROWS_PER_PARTITION + 1) == 2
    assert exact_partitions_for(20_000_000) == 20_000_000 // EXACT_ROWS_PER_PARTITION


def empty_workspace(**options: Any) -> Workspace:
    return Workspace(EXTERNAL_SCHEMA.empty_table(), INTERNAL_SCHEMA.empty_table(), None, **options)


def memory_limit(workspace: Workspace) -> str:
    return str(workspace.scalar("SELECT current_setting('memory_limit')"))


def test_the_workspace_bounds_duckdb_memory_and_removes_what_it_spilled() -> None:
    workspace = empty_workspace(memory_limit_mib=300)
    spill = str(workspace.scalar("SELECT current_setting('temp_directory')"))
    try:
        assert memory_limit(workspace) == "300.0 MiB"
        assert os.path.isdir(spill)
        assert workspace.exact_partitions == 1
    finally:
        workspace.close()
    assert not os.path.exists(spill)


def test_the_default_memory_limit_is_the_engines_not_duckdbs() -> None:
    bounded, unbounded = empty_workspace(), empty_workspace(memory_limit_mib=None)
    try:
        assert memory_limit(bounded) == f"{MEMORY_LIMIT_MIB / 1024:.1f} GiB"
        assert memory_limit(unbounded) != memory_limit(bounded)
    finally:
        bounded.close()
        unbounded.close()


def test_partition_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        empty_workspace(exact_partitions=0)


@pytest.mark.parametrize(
    ("external", "options"),
    [
        (pa.table({"id": ["e1"]}), {}),  # not the engine's columns
        (EXTERNAL_SCHEMA.empty_table(), {"threads": 0}),  # refused by DuckDB once connected
    ],
)
def test_a_workspace_that_fails_to_set_up_leaves_no_spill_directory(
    external: pa.Table,
    options: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises((KeyError, duckdb.Error)):
        match_records(external, INTERNAL_SCHEMA.empty_table(), **options)
    assert list(tmp_path.iterdir()) == []


def test_the_streamed_sha256_hashes_every_value_in_order_across_batches() -> None:
    rows = 250_000  # more than two of the batches it reads
    with spilling_connection("zentra-test-") as connection:
        count, digest = streamed_sha256(
            connection, "SELECT 'v' || range || chr(10) FROM range(250000) ORDER BY range"
        )
    expected = "".join(f"v{n}\n" for n in range(rows))
    assert (count, digest) == (rows, hashlib.sha256(expected.encode()).hexdigest())
