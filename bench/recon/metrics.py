"""Quality metrics of a reconciliation result against ReconBench's ground truth.

Inputs are the generator's ``labels.jsonl`` and a system's ``matches.csv``
(``rule,kind,external_row_ids,movement_ids``, ids joined by ``;``) and ``exceptions.csv``
(``type,provider_reference,external_row_id,movement_id``), the files ``zentra reconcile
--output`` writes; the baselines write the same two files.

Definitions (also in ``bench/README.md``):

- A **predicted match** is one row of ``matches.csv``: a set of external row ids and a set of
  movement ids. Only predictions touching at least one labelled id count (every generated row
  is labelled, so in practice all of them).
- A predicted match is **correct** when its two sets equal those of a label whose ``expect`` is
  ``match``. A ``duplicate`` pair is symmetric: the provider sent the same row twice, so matching
  either copy to the movement is correct (once), and the other copy is expected to be a
  ``duplicate_provider_row``.
- **precision** = correct / predicted; **recall** = correct / labels expecting a match;
  **F1** = their harmonic mean (0 when both are 0).
- Per case kind: recall over that kind's match labels; precision over the predictions touching
  an id of that kind (a prediction touching two kinds counts for both).
- For a label whose ``expect`` is an exception type: the **exception is correct** when a row of
  ``exceptions.csv`` of that type names one of the label's external row ids (or, for labels
  with no external row, one of its movement ids). **wrongly matched**: some predicted match holds
  one of the label's external row ids (for movement-only labels, one of its movement ids); for a
  duplicate it is wrongly matched only when both copies are matched.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.recon.generate import iter_labels

MATCH = "match"


@dataclass(frozen=True, slots=True)
class Label:
    """One planted case: the rows involved and the expected outcome."""

    case: str
    external_row_ids: tuple[str, ...]
    movement_ids: tuple[str, ...]
    expect: str
    duplicate_of: str | None = None


@dataclass(frozen=True, slots=True)
class PredictedMatch:
    """One row of a ``matches.csv``."""

    external_row_ids: frozenset[str]
    movement_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class PredictedException:
    """One row of an ``exceptions.csv`` (empty ids as ``""``)."""

    type: str
    external_row_id: str
    movement_id: str


def label_from_json(record: dict[str, Any]) -> Label:
    """A :class:`Label` from one ``labels.jsonl`` object."""
    return Label(
        case=record["case"],
        external_row_ids=tuple(record["external_row_ids"]),
        movement_ids=tuple(record["movement_ids"]),
        expect=record["expect"],
        duplicate_of=record.get("duplicate_of"),
    )


def load_labels(path: Path) -> list[Label]:
    """Every label of a ``labels.jsonl``."""
    return [label_from_json(record) for record in iter_labels(path)]


def _ids(text: str | None) -> frozenset[str]:
    return frozenset(part for part in (text or "").split(";") if part)


def read_matches(path: Path) -> list[PredictedMatch]:
    """The predicted matches of a ``matches.csv``; an absent file means none."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            PredictedMatch(_ids(row.get("external_row_ids")), _ids(row.get("movement_ids")))
            for row in csv.DictReader(handle)
        ]


def read_exceptions(path: Path) -> list[PredictedException]:
    """The exceptions of an ``exceptions.csv``; an absent file means none."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            PredictedException(
                type=row.get("type") or "",
                external_row_id=row.get("external_row_id") or "",
                movement_id=row.get("movement_id") or "",
            )
            for row in csv.DictReader(handle)
        ]


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def _f1(precision: float | None, recall: float | None) -> float | None:
    if precision is None or recall is None:
        return None
    if precision + recall == 0:
        return 0.0
    return round(2 * precision * recall / (precision + recall), 6)


def score(
    labels: Iterable[Label],
    matches: Iterable[PredictedMatch],
    exceptions: Iterable[PredictedException],
) -> dict[str, Any]:
    """Precision, recall and F1 of ``matches`` and exception accuracy, overall and per case kind.

    Returns ``{"overall": {...}, "by_case": {case: {...}}, "exceptions_by_expect": {...}}``;
    ratios with a zero denominator are None. Pure: no I/O.
    """
    labels = list(labels)
    expected: dict[tuple[frozenset[str], frozenset[str]], int] = {}
    case_of_id: dict[str, str] = {}
    for index, label in enumerate(labels):
        for row_id in label.external_row_ids:
            case_of_id.setdefault("e:" + row_id, label.case)
        for movement_id in label.movement_ids:
            case_of_id.setdefault("m:" + movement_id, label.case)
        if label.expect == MATCH:
            expected[(frozenset(label.external_row_ids), frozenset(label.movement_ids))] = index
    # A duplicate's copy may take the original's place in its match.
    copies: dict[str, str] = {}
    for label in labels:
        if label.duplicate_of is not None:
            for copy in label.external_row_ids:
                copies[label.duplicate_of] = copy
    for (external, movements), index in list(expected.items()):
        if len(external) == 1 and (original := next(iter(external))) in copies:
            expected[(frozenset({copies[original]}), movements)] = index

    predicted = correct = 0
    credited: set[int] = set()
    predicted_by_case: Counter[str] = Counter()
    correct_by_case: Counter[str] = Counter()
    matched_external: set[str] = set()
    matched_movements: set[str] = set()
    for match in matches:
        cases = {case_of_id.get("e:" + i) for i in match.external_row_ids} | {
            case_of_id.get("m:" + i) for i in match.movement_ids
        }
        cases.discard(None)
        if not cases:
            continue
        predicted += 1
        matched_external.update(match.external_row_ids)
        matched_movements.update(match.movement_ids)
        for case in cases:
            predicted_by_case[str(case)] += 1
        hit = expected.get((match.external_row_ids, match.movement_ids))
        if hit is not None and hit not in credited:
            credited.add(hit)
            correct += 1
            correct_by_case[labels[hit].case] += 1

    flagged_external: dict[str, set[str]] = defaultdict(set)
    flagged_movements: dict[str, set[str]] = defaultdict(set)
    for exception in exceptions:
        if exception.external_row_id:
            flagged_external[exception.type].add(exception.external_row_id)
        if exception.movement_id:
            flagged_movements[exception.type].add(exception.movement_id)

    match_labels: Counter[str] = Counter()
    exception_stats: dict[str, Counter[str]] = defaultdict(Counter)
    by_expect: dict[str, Counter[str]] = defaultdict(Counter)
    for label in labels:
        if label.expect == MATCH:
            match_labels[label.case] += 1
            continue
        if label.duplicate_of is not None:
            rows = {*label.external_row_ids, label.duplicate_of}
            flagged = bool(rows & flagged_external[label.expect])
            wrong = rows <= matched_external
        elif label.external_row_ids:
            rows = set(label.external_row_ids)
            flagged = bool(rows & flagged_external[label.expect])
            wrong = bool(rows & matched_external)
        else:
            rows = set(label.movement_ids)
            flagged = bool(rows & flagged_movements[label.expect])
            wrong = bool(rows & matched_movements)
        for stats in (exception_stats[label.case], by_expect[label.expect]):
            stats["labels"] += 1
            stats["exception_correct"] += flagged
            stats["wrongly_matched"] += wrong

    expected_matches = sum(match_labels.values())
    precision = _ratio(correct, predicted)
    recall = _ratio(correct, expected_matches)
    exception_labels = sum(s["labels"] for s in by_expect.values())
    exception_correct = sum(s["exception_correct"] for s in by_expect.values())
    overall = {
        "predicted_matches": predicted,
        "correct_matches": correct,
        "expected_matches": expected_matches,
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "exception_labels": exception_labels,
        "exception_correct": exception_correct,
        "exception_accuracy": _ratio(exception_correct, exception_labels),
        "wrongly_matched": sum(s["wrongly_matched"] for s in by_expect.values()),
    }
    by_case: dict[str, dict[str, Any]] = {}
    for case in sorted({label.case for label in labels}):
        entry: dict[str, Any] = {}
        if match_labels[case]:
            case_precision = _ratio(correct_by_case[case], predicted_by_case[case])
            case_recall = _ratio(correct_by_case[case], match_labels[case])
            entry.update(
                expected_matches=match_labels[case],
                predicted_matches=predicted_by_case[case],
                correct_matches=correct_by_case[case],
                precision=case_precision,
                recall=case_recall,
                f1=_f1(case_precision, case_recall),
            )
        case_stats = exception_stats.get(case)
        if case_stats:
            entry.update(
                exception_labels=case_stats["labels"],
                exception_correct=case_stats["exception_correct"],
                exception_accuracy=_ratio(case_stats["exception_correct"], case_stats["labels"]),
                wrongly_matched=case_stats["wrongly_matched"],
            )
        by_case[case] = entry
    return {
        "overall": overall,
        "by_case": by_case,
        "exceptions_by_expect": {
            expect: {
                "labels": stats["labels"],
                "exception_correct": stats["exception_correct"],
                "exception_accuracy": _ratio(stats["exception_correct"], stats["labels"]),
                "wrongly_matched": stats["wrongly_matched"],
            }
            for expect, stats in sorted(by_expect.items())
        },
    }


def score_output(labels: list[Label], output: Path) -> dict[str, Any]:
    """:func:`score` of the ``matches.csv`` and ``exceptions.csv`` in directory ``output``."""
    return score(
        labels, read_matches(output / "matches.csv"), read_exceptions(output / "exceptions.csv")
    )
