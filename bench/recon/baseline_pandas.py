"""Baseline: the pandas script a user would write to reconcile the two files.

``python -m bench.recon.baseline_pandas --settlement S --movements M --output DIR [--json]``

Steps, as a user writes them (``matching-research.md`` §6, baseline 1):

1. read both files with pandas (pyarrow engine);
2. ``merge(on="provider_reference", how="outer", indicator=True)`` of the rows that have a
   reference: ``both`` rows are matched unless the currency or the amount differs
   (``currency_mismatch``, ``amount_mismatch``); ``left_only`` rows are unmatched provider rows;
3. rows without a reference: a second ``merge(on=["currency", "amount"])`` against the movements
   nobody matched, kept when the booked date is within 3 days of the movement's date, then
   ``drop_duplicates`` on each side (first wins: not a 1:1-safe assignment);
4. the movements left over are ``missing_from_settlement``; a second provider row that lands on an
   already matched movement is a ``duplicate_provider_row``;
5. write ``matches.csv`` and ``exceptions.csv`` in the same columns as ``zentra reconcile``.

**Amounts are floats here**, on purpose: that is what such scripts do (``amount / 10**exponent``
against ``float("12.34")``). References are compared as they are (no normalisation), there is no
fuzzy, payout or subset-sum logic. It is a baseline, not product code.

With ``--json`` it prints one object: ``seconds`` per stage (parse, match, report, total) and
row counts.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bench.recon.generate import EXPONENTS

DATE_WINDOW_DAYS = 3


def read_settlement(path: Path) -> pd.DataFrame:
    """The settlement CSV, ids and references as strings, amounts as float magnitudes."""
    frame = pd.read_csv(
        path,
        engine="pyarrow",
        dtype={
            "row_id": "string",
            "provider_reference": "string",
            "currency": "string",
            "type": "string",
            "counterparty": "string",
            "group_key": "string",
            "description": "string",
        },
    )
    frame["amount"] = frame["amount"].astype("float64").abs()
    frame["booked_at"] = pd.to_datetime(frame["booked_at"])
    return frame


def read_movements(path: Path) -> pd.DataFrame:
    """The movements NDJSON, amounts converted to float major units."""
    frame = pd.read_json(path, lines=True, engine="pyarrow")
    frame = frame.drop(columns=["metadata"], errors="ignore")
    divisor = frame["currency"].map({code: 10.0**exp for code, exp in EXPONENTS.items()})
    frame["amount"] = frame["amount"] / divisor.fillna(100.0)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"]).dt.tz_localize(None)
    return frame


def reconcile(
    settlement: pd.DataFrame, movements: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Matches (rule, kind, external_row_ids, movement_ids) and exceptions (type,
    provider_reference, external_row_id, movement_id), as the user's script computes them."""
    with_ref = settlement[settlement["provider_reference"].notna()]
    without_ref = settlement[settlement["provider_reference"].isna()]

    merged = with_ref.merge(
        movements,
        on="provider_reference",
        how="outer",
        indicator=True,
        suffixes=("_ext", "_int"),
    )
    both = merged[merged["_merge"] == "both"]
    currency_off = both["currency_ext"] != both["currency_int"]
    amount_off = (both["amount_ext"] - both["amount_int"]).abs().round(6) != 0
    matched = both[~currency_off & ~amount_off]
    duplicated = matched.duplicated(subset="movement_id", keep="first")
    duplicates = matched[duplicated]
    matched = matched[~duplicated]
    mismatched = both[currency_off | amount_off]
    unmatched_ext = merged[merged["_merge"] == "left_only"]

    used = set(both["movement_id"])
    residual = movements[~movements["movement_id"].isin(used)]
    candidates = without_ref.merge(residual, on=["currency", "amount"], suffixes=("_ext", "_int"))
    delta = (candidates["booked_at"] - candidates["occurred_at"].dt.normalize()).dt.days.abs()
    candidates = candidates[delta <= DATE_WINDOW_DAYS]
    second = candidates.drop_duplicates(subset="row_id").drop_duplicates(subset="movement_id")
    no_ref_unmatched = without_ref[~without_ref["row_id"].isin(second["row_id"])]
    missing = residual[~residual["movement_id"].isin(second["movement_id"])]

    matches = pd.concat(
        [
            pd.DataFrame(
                {
                    "rule": "reference",
                    "kind": "1:1",
                    "external_row_ids": matched["row_id"],
                    "movement_ids": matched["movement_id"],
                }
            ),
            pd.DataFrame(
                {
                    "rule": "amount_currency_date",
                    "kind": "1:1",
                    "external_row_ids": second["row_id"],
                    "movement_ids": second["movement_id"],
                }
            ),
        ],
        ignore_index=True,
    )
    mismatch_type = currency_off[currency_off | amount_off].map(
        {True: "currency_mismatch", False: "amount_mismatch"}
    )
    exceptions = pd.concat(
        [
            pd.DataFrame(
                {
                    "type": mismatch_type,
                    "provider_reference": mismatched["provider_reference"],
                    "external_row_id": mismatched["row_id"],
                    "movement_id": mismatched["movement_id"],
                }
            ),
            pd.DataFrame(
                {
                    "type": "duplicate_provider_row",
                    "provider_reference": duplicates["provider_reference"],
                    "external_row_id": duplicates["row_id"],
                    "movement_id": "",
                }
            ),
            pd.DataFrame(
                {
                    "type": "unmatched_provider_row",
                    "provider_reference": unmatched_ext["provider_reference"],
                    "external_row_id": unmatched_ext["row_id"],
                    "movement_id": "",
                }
            ),
            pd.DataFrame(
                {
                    "type": "unmatched_provider_row",
                    "provider_reference": "",
                    "external_row_id": no_ref_unmatched["row_id"],
                    "movement_id": "",
                }
            ),
            pd.DataFrame(
                {
                    "type": "missing_from_settlement",
                    "provider_reference": missing["provider_reference"],
                    "external_row_id": "",
                    "movement_id": missing["movement_id"],
                }
            ),
        ],
        ignore_index=True,
    )
    return matches, exceptions


def run(settlement_path: Path, movements_path: Path, output: Path) -> dict[str, Any]:
    """Run the baseline end to end; write the two CSVs into ``output``; return timings/counts."""
    started = time.perf_counter()
    settlement = read_settlement(settlement_path)
    movements = read_movements(movements_path)
    parsed = time.perf_counter()
    matches, exceptions = reconcile(settlement, movements)
    matched = time.perf_counter()
    output.mkdir(parents=True, exist_ok=True)
    matches.to_csv(output / "matches.csv", index=False)
    exceptions.to_csv(output / "exceptions.csv", index=False)
    done = time.perf_counter()
    return {
        "seconds": {
            "parse": round(parsed - started, 6),
            "match": round(matched - parsed, 6),
            "report": round(done - matched, 6),
            "total": round(done - started, 6),
        },
        "counts": {
            "external": len(settlement),
            "internal": len(movements),
            "matched": len(matches),
            "exceptions": len(exceptions),
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settlement", type=Path, required=True)
    parser.add_argument("--movements", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(args.settlement, args.movements, args.output)
    print(json.dumps(result) if args.json else result)


if __name__ == "__main__":
    main()
