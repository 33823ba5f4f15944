"""The reference-matching stage: classifications, at-most-once, determinism."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from zentra.kit.canonical import canonical_hash
from zentra.kit.references import reference_key
from zentra.matching.columns import EXTERNAL_SCHEMA, INTERNAL_SCHEMA, signed_amount
from zentra.matching.engine import match_by_reference

DAY = date(2026, 4, 26)


def ext_row(
    ident: str, reference: str, amount: int, currency: str = "EUR", kind: str = "charge"
) -> dict[str, Any]:
    content = {"r": reference, "a": amount, "c": currency, "t": kind}
    return {
        "id": ident,
        "content_hash": canonical_hash(content),
        "provider_reference": reference,
        "reference_key": reference_key(reference),
        "type_class": kind,
        "amount_minor": amount,
        "signed_amount": signed_amount(kind, amount),
        "currency": currency,
        "booked_on": DAY,
    }


def int_row(
    movement_id: str,
    reference: str,
    amount: int,
    currency: str = "EUR",
    kind: str = "charge",
    in_window: bool = True,
) -> dict[str, Any]:
    return {
        "movement_id": movement_id,
        "provider_reference": reference,
        "reference_key": reference_key(reference),
        "type_class": kind,
        "amount_minor": amount,
        "signed_amount": signed_amount(kind, amount),
        "currency": currency,
        "occurred_on": DAY,
        "in_window": in_window,
    }


def run(ext: list[dict[str, Any]], internal: list[dict[str, Any]], **kw: Any) -> Any:
    return match_by_reference(
        pa.Table.from_pylist(ext, schema=EXTERNAL_SCHEMA),
        pa.Table.from_pylist(internal, schema=INTERNAL_SCHEMA),
        **kw,
    )


def exception_types(outcome: Any) -> dict[str, str]:
    return {
        (row["external_id"] or row["movement_id"]): row["type"]
        for row in outcome.exceptions.to_pylist()
    }


def test_every_mismatch_kind_is_classified() -> None:
    outcome = run(
        [
            ext_row("e_ok", "pi_ok", 1000),
            ext_row("e_dup", "pi_ok", 1000),
            ext_row("e_amount", "pi_amount", 999),
            ext_row("e_ccy", "pi_ccy", 500, "USD"),
            ext_row("e_unknown", "pi_unknown", 5),
        ],
        [
            int_row("m_ok", "PI_OK ", 1000),
            int_row("m_amount", "pi_amount", 1000),
            int_row("m_ccy", "pi_ccy", 500, "EUR"),
            int_row("m_missing", "pi_missing", 700),
            int_row("m_old", "pi_old", 700, in_window=False),
        ],
    )
    ((matched, movement),) = [
        (m["external_id"], m["movement_id"]) for m in outcome.matches.to_pylist()
    ]
    # Two identical rows: either may be the match, the other is the duplicate.
    duplicate = ({"e_ok", "e_dup"} - {matched}).pop()
    assert movement == "m_ok"
    assert exception_types(outcome) == {
        duplicate: "duplicate_provider_row",
        "e_amount": "amount_mismatch",
        "e_ccy": "currency_mismatch",
        "e_unknown": "unmatched_provider_row",
        "m_missing": "missing_from_settlement",
    }
    amount = next(r for r in outcome.exceptions.to_pylist() if r["type"] == "amount_mismatch")
    assert amount["movement_id"] == "m_amount"
    assert amount["amount_delta"] == -1


def test_refund_reported_negative_matches_a_positive_internal_refund() -> None:
    outcome = run(
        [ext_row("e", "re_1", -2500, kind="refund")], [int_row("m", "re_1", 2500, kind="refund")]
    )
    assert outcome.matches.num_rows == 1
    assert outcome.exceptions.num_rows == 0


def test_negative_charge_is_an_amount_mismatch_not_a_match() -> None:
    outcome = run([ext_row("e", "pi_1", -1000)], [int_row("m", "pi_1", 1000)])
    assert outcome.matches.num_rows == 0
    assert exception_types(outcome) == {"e": "amount_mismatch"}


def test_two_movements_fitting_one_row_differently_are_ambiguous_not_guessed() -> None:
    outcome = run(
        [ext_row("e", "pi_1", 1000)],
        [int_row("m1", "pi_1", 900), int_row("m2", "pi_1", 1100)],
    )
    assert outcome.matches.num_rows == 0
    (row,) = outcome.exceptions.to_pylist()
    assert row["type"] == "ambiguous_match"
    assert row["candidate_ids"] == ["m1", "m2"]


def test_repeated_keys_pair_up_once_each() -> None:
    outcome = run(
        [ext_row("e1", "pi_1", 1000), ext_row("e2", "pi_1", 1000), ext_row("e3", "pi_1", 1000)],
        [int_row("m1", "pi_1", 1000), int_row("m2", "pi_1", 1000)],
    )
    matches = outcome.matches.to_pylist()
    assert sorted(m["movement_id"] for m in matches) == ["m1", "m2"]
    assert len({m["external_id"] for m in matches}) == 2
    assert [r["type"] for r in outcome.exceptions.to_pylist()] == ["duplicate_provider_row"]


references = st.sampled_from([f"pi_{n}" for n in range(12)])
amounts = st.sampled_from([100, 250, 999, 1000, -500])
currencies = st.sampled_from(["EUR", "USD", "JPY"])


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ext = [
        ext_row(f"e{n}", draw(references), draw(amounts), draw(currencies))
        for n in range(draw(st.integers(0, 25)))
    ]
    internal = [
        int_row(
            f"m{n}",
            draw(references),
            draw(amounts),
            draw(currencies),
            in_window=draw(st.booleans()),
        )
        for n in range(draw(st.integers(0, 25)))
    ]
    return ext, internal


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.randoms(use_true_random=False))
def test_shuffled_input_and_thread_count_give_the_same_fingerprint(
    scenario: tuple[list[dict[str, Any]], list[dict[str, Any]]], rnd: random.Random
) -> None:
    ext, internal = scenario
    baseline = run(ext, internal, threads=1)
    # Shuffle the rows and rename the generated external ids: neither may change the result.
    shuffled_ext = [dict(row, id=f"x{n:03d}") for n, row in enumerate(rnd.sample(ext, len(ext)))]
    shuffled_int = rnd.sample(internal, len(internal))
    again = run(shuffled_ext, shuffled_int, threads=2)
    assert again.result_fingerprint == baseline.result_fingerprint


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_every_record_is_matched_at_most_once_and_accounted_for(
    scenario: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    ext, internal = scenario
    outcome = run(ext, internal)
    matched_ext = outcome.matches["external_id"].to_pylist()
    matched_int = outcome.matches["movement_id"].to_pylist()
    assert len(matched_ext) == len(set(matched_ext))
    assert len(matched_int) == len(set(matched_int))
    excepted_ext = [e for e in outcome.exceptions["external_id"].to_pylist() if e]
    # Every provider row is matched or an exception, never both, never neither.
    assert sorted(matched_ext + excepted_ext) == sorted(row["id"] for row in ext)
    for match in outcome.matches.to_pylist():
        assert match["amount_delta"] == 0
