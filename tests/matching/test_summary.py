"""matching.summary: what a run accounts for, computed independently here."""

from __future__ import annotations

import hashlib

import pyarrow as pa

from tests.matching.test_engine import ext_row, int_row
from zentra.matching.columns import EXTERNAL_SCHEMA, INTERNAL_SCHEMA
from zentra.matching.engine import match_records
from zentra.matching.summary import summarize_run


def test_the_manifest_covers_the_window_matches_and_exceptions_in_id_order() -> None:
    external = [
        ext_row("e_ok", "pi_ok", 1000),
        ext_row("e_old", "pi_old", 700),  # matches a movement outside the window
        ext_row("e_amount", "pi_amount", 999),
        ext_row("e_usd", "pi_usd", 500, "USD"),
    ]
    internal = [
        int_row("m_ok", "pi_ok", 1000),
        int_row("m_old", "pi_old", 700, in_window=False),
        int_row("m_amount", "pi_amount", 1000),
        int_row("m_missing", "pi_missing", 300),
        int_row("m_unrelated_old", "pi_unrelated", 50, in_window=False),
    ]
    ext_table = pa.Table.from_pylist(external, schema=EXTERNAL_SCHEMA)
    int_table = pa.Table.from_pylist(internal, schema=INTERNAL_SCHEMA)
    hashes = pa.table(
        {
            "movement_id": [row["movement_id"] for row in internal],
            "content_hash": [f"h_{row['movement_id']}" for row in internal],
        }
    )
    outcome = match_records(ext_table, int_table)
    summary = summarize_run(ext_table, int_table, hashes, outcome)

    # Every in-window movement, plus the old one a provider row matched; not the unrelated one.
    involved = sorted(["m_amount", "m_missing", "m_ok", "m_old"])
    lines = "".join(f"{movement}\x1fh_{movement}\n" for movement in involved)
    assert summary.internal_records == len(involved)
    assert summary.manifest_sha256 == hashlib.sha256(lines.encode()).hexdigest()
    totals = {total["currency"]: total for total in summary.totals}
    assert totals["EUR"]["provider_total"] == 1000 + 700 + 999
    assert totals["EUR"]["ledger_total"] == 1000 + 700 + 1000 + 300
    assert totals["USD"] == {
        "currency": "USD",
        "provider_total": 500,
        "ledger_total": 0,
        "difference": 500,
    }
