"""The matching engine: every rule kind, explanations, at-most-once, determinism."""

from __future__ import annotations

import json
import random
from datetime import date
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from zentra.kit.canonical import canonical_hash
from zentra.kit.references import reference_key
from zentra.matching.columns import EXTERNAL_SCHEMA, INTERNAL_SCHEMA, signed_amount
from zentra.matching.engine import match_records
from zentra.matching.rules import RulesetDefinition

DAY = date(2026, 4, 26)


def ext_row(
    ident: str,
    reference: str,
    amount: int,
    currency: str = "EUR",
    kind: str = "charge",
    **extra: Any,
) -> dict[str, Any]:
    """A provider row; ``extra`` sets fee_minor, description, counterparty or group_key."""
    content = {"r": reference, "a": amount, "c": currency, "t": kind, **extra}
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
        "fee_minor": None,
        "description": None,
        "counterparty": None,
        "group_key": None,
        **extra,
    }


def int_row(
    movement_id: str,
    reference: str,
    amount: int,
    currency: str = "EUR",
    kind: str = "charge",
    in_window: bool = True,
    occurred_on: date = DAY,
    **metadata: str,
) -> dict[str, Any]:
    """A movement; keyword arguments beyond these become its metadata."""
    return {
        "movement_id": movement_id,
        "provider_reference": reference,
        "reference_key": reference_key(reference),
        "type_class": kind,
        "amount_minor": amount,
        "signed_amount": signed_amount(kind, amount),
        "currency": currency,
        "occurred_on": occurred_on,
        "in_window": in_window,
        "metadata_json": json.dumps(metadata),
    }


def run(ext: list[dict[str, Any]], internal: list[dict[str, Any]], **kw: Any) -> Any:
    return match_records(
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
        (m["external_ids"][0], m["movement_ids"][0]) for m in outcome.matches.to_pylist()
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
    assert sorted(m["movement_ids"][0] for m in matches) == ["m1", "m2"]
    assert len({m["external_ids"][0] for m in matches}) == 2
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


@settings(max_examples=25, deadline=None)
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


@settings(max_examples=25, deadline=None)
@given(scenarios())
def test_every_record_is_matched_at_most_once_and_accounted_for(
    scenario: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    ext, internal = scenario
    outcome = run(ext, internal)
    matched_ext = [e for ids in outcome.matches["external_ids"].to_pylist() for e in ids]
    matched_int = [m for ids in outcome.matches["movement_ids"].to_pylist() for m in ids]
    assert len(matched_ext) == len(set(matched_ext))
    assert len(matched_int) == len(set(matched_int))
    excepted_ext = [e for e in outcome.exceptions["external_id"].to_pylist() if e]
    # Every provider row is matched or an exception, never both, never neither.
    assert sorted(matched_ext + excepted_ext) == sorted(row["id"] for row in ext)
    for match in outcome.matches.to_pylist():
        assert match["amount_delta"] == 0


def test_payout_equals_the_sum_of_its_charges_net_of_fees() -> None:
    outcome = run(
        [ext_row("payout", "po_1", -2900, kind="payout")],
        [
            int_row("c1", "pi_c1", 1000, payout_id="po_1"),
            int_row("c2", "pi_c2", 2000, payout_id="po_1"),
            int_row("fee", "fe_1", 100, kind="fee", payout_id="po_1"),
        ],
    )
    (match,) = outcome.matches.to_pylist()
    assert (match["rule"], match["kind"]) == ("payout_by_group_key", "1:N")
    assert match["external_ids"] == ["payout"]
    assert match["movement_ids"] == ["c1", "c2", "fee"]
    assert outcome.exceptions.num_rows == 0


def test_payout_that_does_not_add_up_is_an_amount_mismatch_naming_its_group() -> None:
    outcome = run(
        [ext_row("payout", "po_1", -3000, kind="payout")],
        [
            int_row("c1", "pi_c1", 1000, payout_id="po_1"),
            int_row("c2", "pi_c2", 1900, payout_id="po_1"),
        ],
    )
    assert outcome.matches.num_rows == 0
    (exception,) = outcome.exceptions.to_pylist()
    assert exception["type"] == "amount_mismatch"
    assert exception["candidate_ids"] == ["c1", "c2"]
    assert exception["amount_delta"] == 100


def test_two_equal_candidates_make_an_ambiguous_match_not_a_guess() -> None:
    outcome = run(
        [ext_row("line", "", 4242)],
        [int_row("m1", "pi_1", 4242), int_row("m2", "pi_2", 4242)],
    )
    assert outcome.matches.num_rows == 0
    (exception,) = outcome.exceptions.to_pylist()
    assert exception["type"] == "ambiguous_match"
    assert exception["candidate_ids"] == ["m1", "m2"]


def test_counterparty_tells_two_equal_amounts_apart() -> None:
    outcome = run(
        [ext_row("line", "", 4242, counterparty="ACME GmbH")],
        [
            int_row("true", "pi_1", 4242, counterparty="Acme GmbH Berlin"),
            int_row("decoy", "pi_2", 4242, counterparty="Initech Ltd"),
        ],
    )
    (match,) = outcome.matches.to_pylist()
    assert (match["rule"], match["movement_ids"]) == ("counterparty_fuzzy", ["true"])
    assert match["similarity"] >= 8500
    (missing,) = outcome.exceptions.to_pylist()
    assert (missing["type"], missing["movement_id"]) == ("missing_from_settlement", "decoy")


def test_line_without_reference_matches_by_amount_currency_and_date() -> None:
    outcome = run(
        [ext_row("line", "", 1999)],
        [
            int_row("near", "pi_1", 1999, occurred_on=date(2026, 4, 24)),
            int_row("far", "pi_2", 1999, occurred_on=date(2026, 4, 1), in_window=False),
            int_row("other", "pi_3", 1998),
        ],
    )
    (match,) = outcome.matches.to_pylist()
    assert (match["rule"], match["movement_ids"], match["days_delta"]) == (
        "amount_currency_date",
        ["near"],
        2,
    )


def test_unkeyed_payout_is_found_by_its_unique_subset() -> None:
    merchant = {"counterparty": "Merchant A"}
    outcome = run(
        [ext_row("payout", "po_9", -350, kind="payout", counterparty="Merchant A")],
        [
            int_row("s1", "pi_1", 100, **merchant),
            int_row("s2", "pi_2", 250, **merchant),
            int_row("s3", "pi_3", 999, **merchant),
            int_row("elsewhere", "pi_4", 350, counterparty="Merchant B"),
        ],
    )
    (match,) = outcome.matches.to_pylist()
    assert (match["rule"], match["movement_ids"]) == ("payout_subset_sum", ["s1", "s2"])


def test_payout_with_two_fitting_subsets_is_ambiguous() -> None:
    merchant = {"counterparty": "Merchant A"}
    outcome = run(
        [ext_row("payout", "po_9", -350, kind="payout", counterparty="Merchant A")],
        [
            int_row("s1", "pi_1", 100, **merchant),
            int_row("s2", "pi_2", 250, **merchant),
            int_row("s3", "pi_3", 350, **merchant),
        ],
    )
    assert outcome.matches.num_rows == 0
    (exception,) = [e for e in outcome.exceptions.to_pylist() if e["external_id"]]
    assert exception["type"] == "ambiguous_match"
    assert exception["candidate_ids"] == ["s1", "s2", "s3"]


def test_every_exception_names_its_nearest_candidates() -> None:
    outcome = run(
        [ext_row("ghost", "pi_ghost", 1000)],
        [
            int_row(f"m{n}", f"pi_{n}", amount)
            for n, amount in enumerate([990, 1003, 5000, 1010, 20])
        ],
    )
    ghost = next(e for e in outcome.exceptions.to_pylist() if e["external_id"] == "ghost")
    assert ghost["type"] == "unmatched_provider_row"
    assert [(c["id"], c["amount_delta"]) for c in ghost["nearest"]] == [
        ("m1", -3),
        ("m0", 10),
        ("m3", -10),
    ]
    missing = next(e for e in outcome.exceptions.to_pylist() if e["movement_id"] == "m2")
    assert [c["id"] for c in missing["nearest"]] == ["ghost"]


@st.composite
def rich_scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows with and without references, payouts with and without group keys."""
    refs = st.sampled_from(["", "", "pi_1", "pi_2", "pi_3", "po_1", "po_2"])
    ext = []
    for n in range(draw(st.integers(0, 14))):
        reference = draw(refs)
        kind = (
            "payout" if reference.startswith("po") else draw(st.sampled_from(["charge", "refund"]))
        )
        ext.append(
            ext_row(
                f"e{n}",
                reference,
                draw(amounts),
                kind=kind,
                counterparty=draw(st.sampled_from(["Acme", "Globex", None])),
            )
        )
    internal = [
        int_row(
            f"m{n}",
            draw(st.sampled_from(["pi_1", "pi_2", "pi_3", "pi_4"])),
            abs(draw(amounts)),
            payout_id=draw(st.sampled_from(["po_1", "po_2", ""])),
            counterparty=draw(st.sampled_from(["Acme", "Globex Corp", ""])),
        )
        for n in range(draw(st.integers(0, 14)))
    ]
    return ext, internal


@settings(max_examples=25, deadline=None)
@given(rich_scenarios(), st.randoms(use_true_random=False))
def test_the_whole_waterfall_is_order_and_thread_independent(
    scenario: tuple[list[dict[str, Any]], list[dict[str, Any]]], rnd: random.Random
) -> None:
    ext, internal = scenario
    baseline = run(ext, internal, threads=1)
    shuffled_ext = [dict(row, id=f"x{n:03d}") for n, row in enumerate(rnd.sample(ext, len(ext)))]
    again = run(shuffled_ext, rnd.sample(internal, len(internal)), threads=2)
    assert again.result_fingerprint == baseline.result_fingerprint
    members = [m for ids in baseline.matches["movement_ids"].to_pylist() for m in ids]
    assert len(members) == len(set(members))


def test_reference_can_live_in_movement_metadata() -> None:
    ruleset = RulesetDefinition.model_validate(
        {
            "rules": [
                {
                    "name": "order_id",
                    "kind": "exact_reference",
                    "reference_field": "metadata.order_id",
                }
            ]
        }
    )
    outcome = run(
        [ext_row("row", "ORD-1001", 1000)],
        [int_row("m1", "pi_1", 1000, order_id="ord-1001"), int_row("m2", "pi_2", 1000)],
        ruleset=ruleset,
    )
    (match,) = outcome.matches.to_pylist()
    assert (match["rule"], match["movement_ids"]) == ("order_id", ["m1"])
