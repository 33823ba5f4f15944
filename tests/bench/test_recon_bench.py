"""ReconBench: the generator is deterministic and its labels are consistent; the metrics give
known numbers on hand-made inputs; both baselines run end to end on a tiny data set."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from bench.recon import baseline_rowbyrow
from bench.recon.generate import (
    EXPONENTS,
    SETTLEMENT_HEADER,
    SHARES_PPM,
    data_set,
    format_major,
    generate,
    noisy_reference,
)
from bench.recon.metrics import (
    Label,
    PredictedException,
    PredictedMatch,
    load_labels,
    score,
    score_output,
)

ROWS = 4_000


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("recon")
    generate(out, seed=7, rows=ROWS)
    return out


def _settlement(path: Path) -> list[dict[str, str]]:
    with (path / "settlement.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _movements(path: Path) -> list[dict[str, object]]:
    lines = (path / "movements.ndjson").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_same_seed_and_rows_give_the_same_bytes(dataset: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(again, seed=7, rows=ROWS)
    for name in ("settlement.csv", "movements.ndjson", "labels.jsonl", "manifest.json"):
        assert (again / name).read_bytes() == (dataset / name).read_bytes(), name
    other = tmp_path / "other"
    generate(other, seed=8, rows=ROWS)
    assert (other / "settlement.csv").read_bytes() != (dataset / "settlement.csv").read_bytes()


def test_every_labelled_id_exists_once_and_every_row_is_labelled(dataset: Path) -> None:
    rows = _settlement(dataset)
    movements = _movements(dataset)
    row_ids = [row["row_id"] for row in rows]
    movement_ids = [str(m["movement_id"]) for m in movements]
    assert len(set(row_ids)) == len(row_ids)
    assert len(set(movement_ids)) == len(movement_ids)
    labels = load_labels(dataset / "labels.jsonl")
    labelled_rows = [r for label in labels for r in label.external_row_ids]
    labelled_movements = [m for label in labels for m in label.movement_ids]
    assert sorted(labelled_rows) == sorted(row_ids)
    assert sorted(labelled_movements) == sorted(movement_ids)


def test_shares_are_roughly_as_configured(dataset: Path) -> None:
    manifest = json.loads((dataset / "manifest.json").read_text())
    counts = manifest["case_counts"]
    assert sum(counts.values()) == ROWS
    for kind, ppm in SHARES_PPM.items():
        assert counts[kind] == max(1, ROWS * ppm // 1_000_000), kind
    assert 0.78 < counts["exact"] / ROWS < 0.84
    labels = Counter(label.case for label in load_labels(dataset / "labels.jsonl"))
    assert labels["fuzzy_decoy"] == counts["fuzzy"]
    assert labels["duplicate"] == 2 * counts["duplicate"]
    assert manifest["files"]["settlement.csv"]["lines"] == len(_settlement(dataset))


def test_amounts_are_plain_decimals_with_the_currency_exponent(dataset: Path) -> None:
    header = (dataset / "settlement.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == SETTLEMENT_HEADER
    currencies: Counter[str] = Counter()
    for row in _settlement(dataset):
        currencies[row["currency"]] += 1
        exponent = EXPONENTS[row["currency"]]
        pattern = r"-?\d+" if exponent == 0 else rf"-?\d+\.\d{{{exponent}}}"
        assert re.fullmatch(pattern, row["amount"]), row
        assert row["fee"] == "" or re.fullmatch(pattern, row["fee"]), row
        assert row["type"] in {"charge", "refund", "payout", "fee"}
        if row["type"] in {"refund", "payout"}:
            assert row["amount"].startswith("-")
    assert {"EUR", "USD", "GBP", "JPY", "KWD"} <= set(currencies)
    for movement in _movements(dataset):
        assert isinstance(movement["amount"], int)
        assert movement["amount"] > 0
        assert movement["provider_reference"]
        assert str(movement["occurred_at"]).endswith("Z")


def test_format_major_uses_integer_arithmetic() -> None:
    assert format_major(1, 2) == "0.01"
    assert format_major(-1250, 2) == "-12.50"
    assert format_major(1_000_000_007, 3) == "1000000.007"
    assert format_major(500, 0) == "500"
    assert format_major(10**30 + 1, 2) == "10000000000000000000000000000.01"


def test_planted_cases_have_their_shape(dataset: Path) -> None:
    rows = {row["row_id"]: row for row in _settlement(dataset)}
    movements = {str(m["movement_id"]): m for m in _movements(dataset)}
    for label in load_labels(dataset / "labels.jsonl"):
        if label.case == "noisy_reference":
            row, movement = rows[label.external_row_ids[0]], movements[label.movement_ids[0]]
            normalized = re.sub(r"\s+", "", row["provider_reference"]).upper()
            assert normalized == str(movement["provider_reference"]).upper()
            assert row["provider_reference"] != movement["provider_reference"]
        elif label.case in {"no_reference", "fuzzy"}:
            assert rows[label.external_row_ids[0]]["provider_reference"] == ""
        elif label.case in {"payout_keyed", "payout_unkeyed", "payout_ambiguous"}:
            row = rows[label.external_row_ids[0]]
            members = [movements[m] for m in label.movement_ids]
            net = sum(
                -int(str(m["amount"])) if m["type"] == "fee" else int(str(m["amount"]))
                for m in members
            )
            payout = -int(row["amount"].replace(".", ""))
            if label.case == "payout_ambiguous":
                assert net > payout  # one foreign charge too many: two subsets fit
            else:
                assert net == payout
            if label.case == "payout_keyed":
                expected = {"payout_id": row["provider_reference"]}
            else:
                expected = {"counterparty": row["counterparty"]}
            assert all(m["metadata"] == expected for m in members)


def test_fuzzy_counterparties_meet_the_similarity_contract(dataset: Path) -> None:
    fuzz = pytest.importorskip("rapidfuzz.fuzz")
    utils = pytest.importorskip("rapidfuzz.utils")
    rows = {row["row_id"]: row for row in _settlement(dataset)}
    movements = {str(m["movement_id"]): m for m in _movements(dataset)}
    labels = load_labels(dataset / "labels.jsonl")
    fuzzy = [label for label in labels if label.case == "fuzzy"]
    decoys = [label for label in labels if label.case == "fuzzy_decoy"]
    assert fuzzy
    assert len(fuzzy) == len(decoys)
    for label, decoy in zip(fuzzy, decoys, strict=True):
        name = rows[label.external_row_ids[0]]["counterparty"]
        true = movements[label.movement_ids[0]]
        other = movements[decoy.movement_ids[0]]
        assert (true["amount"], true["currency"]) == (other["amount"], other["currency"])
        meta_true = true["metadata"]
        meta_other = other["metadata"]
        assert isinstance(meta_true, dict)
        assert isinstance(meta_other, dict)
        ratio = fuzz.token_set_ratio
        assert ratio(name, meta_true["counterparty"], processor=utils.default_process) >= 90
        assert ratio(name, meta_other["counterparty"], processor=utils.default_process) < 60


def test_noisy_reference_normalizes_back() -> None:
    import random

    rng = random.Random(1)
    for _ in range(200):
        noisy = noisy_reference(rng, "pi_0123456789abcdef")
        assert " " in noisy
        assert noisy.replace(" ", "").upper() == "PI_0123456789ABCDEF"


def _match(rows: str, movements: str) -> PredictedMatch:
    return PredictedMatch(frozenset(rows.split(";")) - {""}, frozenset(movements.split(";")) - {""})


def test_metrics_on_a_hand_made_result() -> None:
    labels = [
        Label("exact", ("r1",), ("m1",), "match"),
        Label("exact", ("r2",), ("m2",), "match"),
        Label("payout_keyed", ("r3",), ("m3", "m4"), "match"),
        Label("no_reference", ("r4",), ("m5",), "match"),
        Label("orphan_external", ("r5",), (), "unmatched_provider_row"),
        Label("fuzzy_decoy", (), ("m6",), "missing_from_settlement"),
        Label("payout_ambiguous", ("r6",), ("m7", "m8"), "ambiguous_match"),
    ]
    matches = [
        _match("r1", "m1"),  # correct
        _match("r2", "m6"),  # wrong movement: a false positive, and the decoy is matched
        _match("r3", "m3"),  # partial payout: not correct
        _match("r6", "m7"),  # an ambiguous payout matched: wrong
        _match("x9", "y9"),  # unlabelled ids: ignored
    ]
    exceptions = [
        PredictedException("unmatched_provider_row", "r5", ""),
        PredictedException("missing_from_settlement", "", "m6"),
        PredictedException("amount_mismatch", "r6", ""),  # wrong type for r6
    ]
    result = score(labels, matches, exceptions)
    overall = result["overall"]
    assert overall["predicted_matches"] == 4
    assert overall["correct_matches"] == 1
    assert overall["expected_matches"] == 4
    assert overall["precision"] == 0.25
    assert overall["recall"] == 0.25
    assert overall["f1"] == 0.25
    assert overall["exception_labels"] == 3
    assert overall["exception_correct"] == 2
    assert overall["wrongly_matched"] == 2
    by_case = result["by_case"]
    assert by_case["exact"]["recall"] == 0.5
    assert by_case["exact"]["precision"] == 0.5
    assert by_case["payout_keyed"]["recall"] == 0.0
    assert by_case["no_reference"]["predicted_matches"] == 0
    assert by_case["no_reference"]["precision"] is None
    assert by_case["payout_ambiguous"] == {
        "exception_labels": 1,
        "exception_correct": 0,
        "exception_accuracy": 0.0,
        "wrongly_matched": 1,
    }
    assert result["exceptions_by_expect"]["missing_from_settlement"]["wrongly_matched"] == 1


def test_a_duplicate_may_be_matched_through_either_copy() -> None:
    labels = [
        Label("duplicate", ("r1",), ("m1",), "match"),
        Label("duplicate", ("r2",), (), "duplicate_provider_row", duplicate_of="r1"),
    ]
    swapped = score(
        labels, [_match("r2", "m1")], [PredictedException("duplicate_provider_row", "r1", "")]
    )
    assert swapped["overall"]["precision"] == 1.0
    assert swapped["overall"]["recall"] == 1.0
    assert swapped["overall"]["exception_accuracy"] == 1.0
    assert swapped["overall"]["wrongly_matched"] == 0
    both = score(labels, [_match("r1", "m1"), _match("r2", "m1")], [])
    assert both["overall"]["correct_matches"] == 1
    assert both["overall"]["precision"] == 0.5
    assert both["overall"]["wrongly_matched"] == 1


def test_no_prediction_scores_zero_recall_and_no_precision() -> None:
    result = score([Label("exact", ("r1",), ("m1",), "match")], [], [])
    assert result["overall"]["recall"] == 0.0
    assert result["overall"]["precision"] is None
    assert result["overall"]["f1"] is None


def test_pandas_baseline_runs_and_is_scored(dataset: Path, tmp_path: Path) -> None:
    pytest.importorskip("pandas", reason="the bench extra is not installed")
    from bench.recon import baseline_pandas

    output = tmp_path / "pandas"
    result = baseline_pandas.run(dataset / "settlement.csv", dataset / "movements.ndjson", output)
    assert set(result["seconds"]) == {"parse", "match", "report", "total"}
    quality = score_output(load_labels(dataset / "labels.jsonl"), output)
    exact = quality["by_case"]["exact"]
    assert exact["recall"] == 1.0
    assert exact["precision"] == 1.0
    assert quality["by_case"]["amount_delta"]["exception_accuracy"] == 1.0
    assert quality["by_case"]["orphan_external"]["exception_accuracy"] == 1.0
    assert 0.9 < quality["overall"]["recall"] < 1.0


def test_rowbyrow_baseline_runs_on_a_sample_and_extrapolates(dataset: Path, tmp_path: Path) -> None:
    result = baseline_rowbyrow.run(
        dataset / "settlement.csv", dataset / "movements.ndjson", tmp_path / "rbr", sample=500
    )
    assert result["extrapolated"] is True
    assert result["sample_rows"] == 500
    assert result["counts"]["external"] == len(_settlement(dataset))
    assert result["seconds"]["match"] >= result["sample_seconds"]
    assert result["sample_matched"] > 400


def test_the_bucketed_shuffle_is_deterministic_and_loses_no_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.recon import generate as generator

    monkeypatch.setattr(generator, "BUCKET_ROWS", 300)  # 1,000 rows: 4 buckets, as at 10M
    first, second = tmp_path / "first", tmp_path / "second"
    manifest = generator.generate(first, seed=3, rows=1_000)
    generator.generate(second, seed=3, rows=1_000)
    for name in ("settlement.csv", "movements.ndjson", "labels.jsonl"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert not list(first.glob(".*.buckets"))
    rows = _settlement(first)
    assert len(rows) == manifest["external_rows"]
    labelled = sorted(
        r for label in load_labels(first / "labels.jsonl") for r in label.external_row_ids
    )
    assert labelled == sorted(row["row_id"] for row in rows)
    assert [row["row_id"] for row in rows] != sorted(row["row_id"] for row in rows)


def test_a_data_set_is_generated_once_then_reused_until_a_file_changes(tmp_path: Path) -> None:
    first, manifest, reused = data_set(tmp_path, seed=9, rows=500)
    assert not reused
    assert first == tmp_path / "recon-500-seed9"
    again, same, reused = data_set(tmp_path, seed=9, rows=500)
    assert (again, same, reused) == (first, manifest, True)
    with (first / "movements.ndjson").open("a", encoding="utf-8") as movements:
        movements.write("\n")
    _dir, regenerated, reused = data_set(tmp_path, seed=9, rows=500)
    assert not reused
    assert regenerated["files"] == manifest["files"]
