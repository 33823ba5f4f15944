"""What a run reports besides its decisions: totals per currency, how many movements it
accounts for, and a manifest hash of those movements. Computed over whole columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from zentra.matching.engine import MatchOutcome
from zentra.matching.workspace import spilling_connection, streamed_sha256

_INVOLVED = """
CREATE TEMP TABLE involved AS
SELECT movement_id FROM int WHERE in_window
UNION
SELECT unnest(movement_ids) FROM matches
UNION
SELECT movement_id FROM exceptions WHERE movement_id IS NOT NULL
UNION
SELECT unnest(candidate_ids) FROM exceptions
"""

# Per currency, signed minor units (outflows negative): the provider's rows, the ledger's
# movements the run accounts for, and the difference.
_TOTALS = """
WITH provider AS (SELECT currency, sum(signed_amount) AS total FROM ext GROUP BY currency),
     ledger AS (SELECT i.currency, sum(i.signed_amount) AS total
                FROM int i SEMI JOIN involved USING (movement_id) GROUP BY i.currency)
SELECT coalesce(p.currency, l.currency) AS currency,
       coalesce(p.total, 0)::BIGINT AS provider_total,
       coalesce(l.total, 0)::BIGINT AS ledger_total,
       (coalesce(p.total, 0) - coalesce(l.total, 0))::BIGINT AS difference
FROM provider p FULL OUTER JOIN ledger l USING (currency)
ORDER BY currency
"""

# sha256 over "movement_id US content_hash LF" lines of the involved movements, in id order,
# streamed into one digest (never one string of every line: 90 bytes a movement).
_MANIFEST_LINES = """
SELECT h.movement_id || chr(31) || h.content_hash || chr(10)
FROM hashes h SEMI JOIN involved USING (movement_id)
ORDER BY h.movement_id
"""


@dataclass(frozen=True, slots=True)
class RunSummary:
    """Totals per currency, the movements accounted for and their manifest hash, and the
    exception counts by type."""

    totals: list[dict[str, Any]]
    internal_records: int
    manifest_sha256: str
    exceptions_by_type: dict[str, int]


def summarize_run(
    external: pa.Table, internal: pa.Table, content_hashes: pa.Table, outcome: MatchOutcome
) -> RunSummary:
    """Summarize a run from the engine's inputs and outcome. ``content_hashes`` has the columns
    ``movement_id`` and ``content_hash`` of the internal records."""
    # Bounded like the engine's workspace: past the limit DuckDB spills to a directory of ours.
    with spilling_connection("zentra-summary-") as db:
        db.register("ext", external)
        db.register("int", internal)
        db.register("hashes", content_hashes)
        db.register("matches", outcome.matches)
        db.register("exceptions", outcome.exceptions)
        db.execute(_INVOLVED)
        totals = db.sql(_TOTALS).to_arrow_table().to_pylist()
        count, manifest = streamed_sha256(db, _MANIFEST_LINES)
        by_type = dict(
            db.sql("SELECT type, count(*) FROM exceptions GROUP BY type ORDER BY type").fetchall()
        )
    return RunSummary(totals, count, manifest, {str(k): int(v) for k, v in by_type.items()})
