"""The matching engine: a ruleset applied as a waterfall over whole columns.

``match_records`` takes the two sides as Arrow tables and a ruleset, and runs each rule in
order on what the earlier rules left open (``stages/``). Then it classifies what is left:

- provider rows still tied with candidates: ``ambiguous_match`` (never a guess);
- other provider rows: ``unmatched_provider_row``;
- movements of the window that no match or exception accounts for: ``missing_from_settlement``.

Every exception carries its nearest three candidates on the other side (same currency, closest
amount, then closest date) with per-field deltas: the "why not matched". Every match carries
its rule and deltas. No decision depends on input order, thread count or generated ids: ties are
broken on natural keys or not at all, so shuffled input and re-runs give the same
``result_fingerprint``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from zentra.matching.columns import MATCH_SCHEMA
from zentra.matching.rules import DEFAULT_RULESET, Rule, RulesetDefinition
from zentra.matching.stages.exact import run_exact_reference
from zentra.matching.stages.groups import run_group_key, run_subset_sum
from zentra.matching.stages.one_to_one import run_amount_date, run_fuzzy
from zentra.matching.workspace import MEMORY_LIMIT_MIB, Workspace, streamed_sha256

STAGES: dict[str, Callable[[Workspace, Rule], None]] = {
    "exact_reference": run_exact_reference,
    "group_key": run_group_key,
    "amount_date": run_amount_date,
    "fuzzy": run_fuzzy,
    "subset_sum": run_subset_sum,
}

_FINAL = (
    # Rows still tied after every rule: ambiguous, with all their noted candidates.
    """
    INSERT INTO exc_out
    SELECT 'ambiguous_match', min(n.rule), n.external_id, NULL,
           list(DISTINCT n.movement_id ORDER BY n.movement_id), []::VARCHAR[], NULL
    FROM notes n JOIN e_open e ON e.id = n.external_id
    GROUP BY n.external_id
    """,
    """
    INSERT INTO exc_out
    SELECT 'unmatched_provider_row', NULL, e.id, NULL, []::VARCHAR[], []::VARCHAR[], NULL
    FROM e_open e WHERE e.id NOT IN (SELECT external_id FROM notes)
    """,
    """
    INSERT INTO exc_out
    SELECT 'missing_from_settlement', NULL, NULL, i.movement_id, []::VARCHAR[], []::VARCHAR[],
           NULL
    FROM i_open i
    WHERE i.in_window AND i.movement_id NOT IN (
        SELECT unnest(candidate_ids) FROM exc_out WHERE type = 'ambiguous_match')
    """,
)

# The nearest three candidates by amount: in each currency, the three open records below and
# above an anchor's amount (by sorted position on the other side) contain its three nearest.
# Deltas are always provider minus internal, whichever side the anchor is on.
_NEAREST_SIDES = (
    """
    CREATE TEMP TABLE near_i AS
    SELECT movement_id AS id, currency, signed_amount, occurred_on AS day,
           row_number() OVER (PARTITION BY currency ORDER BY signed_amount, movement_id) AS pos
    FROM i_open
    """,
    """
    CREATE TEMP TABLE near_e AS
    SELECT id, currency, signed_amount, booked_on AS day,
           row_number() OVER (PARTITION BY currency ORDER BY signed_amount, id) AS pos
    FROM e_open
    """,
)
_NEAREST_TEMPLATE = """
CREATE TEMP TABLE {target} AS
WITH anchor AS (
    SELECT x.{anchor_id} AS anchor_id, s.currency, s.signed_amount, s.{anchor_day} AS day,
           coalesce(a.pos, 0) AS pos
    FROM exc_out x JOIN {anchor_table} s ON s.{anchor_key} = x.{anchor_id}
    ASOF LEFT JOIN {candidates} a
      ON a.currency = s.currency AND a.signed_amount <= s.signed_amount
    WHERE x.type = '{exception_type}'),
ranked AS (
    SELECT a.anchor_id, n.id,
           {sign} * (a.signed_amount - n.signed_amount) AS amount_delta,
           {sign} * date_diff('day', n.day, a.day) AS days_delta,
           row_number() OVER (
               PARTITION BY a.anchor_id
               ORDER BY abs(a.signed_amount - n.signed_amount),
                        abs(date_diff('day', n.day, a.day)), n.id) AS rank
    FROM anchor a JOIN {candidates} n
      ON n.currency = a.currency AND n.pos BETWEEN a.pos - 2 AND a.pos + 3)
SELECT anchor_id AS {anchor_id},
       list({{'id': id, 'amount_delta': amount_delta, 'days_delta': days_delta}}
            ORDER BY rank) AS nearest
FROM ranked WHERE rank <= 3 GROUP BY anchor_id
"""
_NEAREST = (
    *_NEAREST_SIDES,
    _NEAREST_TEMPLATE.format(
        target="near_for_rows",
        anchor_id="external_id",
        anchor_table="ext",
        anchor_key="id",
        anchor_day="booked_on",
        candidates="near_i",
        exception_type="unmatched_provider_row",
        sign=1,
    ),
    _NEAREST_TEMPLATE.format(
        target="near_for_movements",
        anchor_id="movement_id",
        anchor_table="int",
        anchor_key="movement_id",
        anchor_day="occurred_on",
        candidates="near_e",
        exception_type="missing_from_settlement",
        sign=-1,
    ),
)

# Matches of the rules after exact_reference (which keeps its own in their final shape). One-row
# matches take their row's content hash by a plain join; matches of several rows gather theirs.
# Lists are sorted, so the output does not depend on the order of stages.
_MATCHES_QUERY = """
WITH hashes AS (
    SELECT m.match_key, list_sort(list(e.content_hash)) AS content_hashes,
           min(e.provider_reference) AS provider_reference, min(e.currency) AS currency
    FROM (SELECT match_key, unnest(external_ids) AS id FROM match_info
          WHERE len(external_ids) <> 1) m
    JOIN ext e USING (id) GROUP BY m.match_key
)
SELECT m.rule, m.kind, m.amount_delta, m.days_delta, m.similarity,
       list_sort(m.external_ids) AS external_ids, [e.content_hash] AS content_hashes,
       list_sort(m.movement_ids) AS movement_ids, e.provider_reference, e.currency
FROM match_info m JOIN ext e ON e.id = m.external_ids[1]
WHERE len(m.external_ids) = 1
UNION ALL
SELECT m.rule, m.kind, m.amount_delta, m.days_delta, m.similarity,
       list_sort(m.external_ids), h.content_hashes, list_sort(m.movement_ids),
       h.provider_reference, h.currency
FROM match_info m JOIN hashes h USING (match_key)
"""

# The records exceptions name, looked up once: a LEFT JOIN of the exceptions with a whole side
# would build a hash table of that side (measured: +480 MB at 2M rows).
_EXCEPTION_RECORDS = (
    """
    CREATE TEMP TABLE exc_ext AS
    SELECT id, content_hash, provider_reference, amount_minor, currency FROM ext
    WHERE id IN (SELECT external_id FROM exc_out
                 UNION ALL SELECT unnest(candidate_external_ids) FROM exc_out)
    """,
    """
    CREATE TEMP TABLE exc_int AS
    SELECT movement_id, provider_reference, amount_minor, currency FROM int
    WHERE movement_id IN (SELECT movement_id FROM exc_out)
    """,
)

_EXCEPTIONS_QUERY = """
SELECT x.type, x.rule, x.external_id, e.content_hash,
       coalesce(e.provider_reference, i.provider_reference) AS provider_reference,
       x.movement_id,
       coalesce(e.amount_minor, i.amount_minor) AS amount_minor,
       coalesce(e.currency, i.currency) AS currency,
       CASE WHEN e.id IS NOT NULL THEN i.amount_minor END AS internal_amount_minor,
       CASE WHEN e.id IS NOT NULL THEN i.currency END AS internal_currency,
       x.amount_delta, x.candidate_ids, x.candidate_external_ids,
       coalesce(nr.nearest, nm.nearest) AS nearest
FROM exc_out x
LEFT JOIN exc_ext e ON e.id = x.external_id
LEFT JOIN exc_int i ON i.movement_id = x.movement_id
LEFT JOIN near_for_rows nr ON nr.external_id = x.external_id
LEFT JOIN near_for_movements nm ON nm.movement_id = x.movement_id
ORDER BY x.type, e.content_hash NULLS LAST, x.movement_id NULLS LAST, x.external_id
"""

# The fingerprint covers decisions by natural keys only: content hashes, movement ids,
# references, types and rules. Each entry is hashed alone; the sorted hashes are hashed together
# (streamed in order into one sha256, never concatenated into one string: 64 bytes an entry).
_DIGESTS_QUERY = """
WITH batch_hashes AS (
    SELECT x.rowid AS exception_row,
           string_agg(e.content_hash, ';' ORDER BY e.content_hash) AS hashes
    FROM (SELECT rowid, unnest(candidate_external_ids) AS id FROM exc_out) x
    JOIN exc_ext e USING (id) GROUP BY x.rowid
),
entries AS (
    SELECT sha256(concat_ws(chr(31), 'match', rule, kind,
                            array_to_string(content_hashes, ';'),
                            array_to_string(movement_ids, ';'))) AS digest
    FROM matches_out
    UNION ALL
    SELECT sha256(concat_ws(chr(31), 'exception', x.type, coalesce(e.provider_reference, ''),
                            coalesce(e.content_hash, ''), coalesce(x.movement_id, ''),
                            array_to_string(x.candidate_ids, ';'), coalesce(b.hashes, '')
                            )) AS digest
    FROM exc_out x LEFT JOIN exc_ext e ON e.id = x.external_id
    LEFT JOIN batch_hashes b ON b.exception_row = x.rowid
)
SELECT digest FROM entries ORDER BY digest
"""


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    """What the engine decided.

    ``matches``: rule, kind (1:1, 1:N, N:1), amount_delta, days_delta, similarity (hundredths,
    fuzzy rules), external_ids, content_hashes, movement_ids, provider_reference, currency.
    ``exceptions``: type, rule, external_id, content_hash, provider_reference, movement_id,
    amount_minor, currency, internal_amount_minor, internal_currency, amount_delta,
    candidate_ids, candidate_external_ids, nearest (up to three ``{id, amount_delta,
    days_delta}``).
    """

    matches: pa.Table
    exceptions: pa.Table
    result_fingerprint: str


def match_records(
    external: pa.Table,
    internal: pa.Table,
    ruleset: RulesetDefinition = DEFAULT_RULESET,
    *,
    threads: int | None = None,
    partitions: int | None = None,
    memory_limit_mib: int | None = MEMORY_LIMIT_MIB,
) -> MatchOutcome:
    """Match provider rows to movements with ``ruleset``; see the module docstring.

    ``external`` and ``internal`` have the columns of ``EXTERNAL_SCHEMA`` and
    ``INTERNAL_SCHEMA``; provider rows with equal ``content_hash`` have equal content. The
    result never depends on the tuning arguments: ``threads`` fixes DuckDB's thread count,
    ``partitions`` the number of reference-hash partitions of the ``exact_reference`` stage
    (default: from the input size, see ``EXACT_ROWS_PER_PARTITION``), ``memory_limit_mib`` the
    memory DuckDB may use before it spills to a temporary directory (None: DuckDB's default).
    """
    ws = Workspace(
        external,
        internal,
        threads,
        memory_limit_mib=memory_limit_mib,
        exact_partitions=partitions,
    )
    try:
        for rule in ruleset.rules:
            STAGES[rule.kind](ws, rule)
            ws.settle()
        for statement in _FINAL + _NEAREST + _EXCEPTION_RECORDS:
            ws.execute(statement)
        matches = pa.concat_tables([*ws.final_matches, ws.arrow(_MATCHES_QUERY).cast(MATCH_SCHEMA)])
        ws.final_matches.clear()
        ws.drop("match_info")
        ws.connection.register("matches_out", matches)
        exceptions = ws.arrow(_EXCEPTIONS_QUERY)
        _entries, fingerprint = streamed_sha256(ws.connection, _DIGESTS_QUERY)
    finally:
        ws.close()
    return MatchOutcome(matches, exceptions, fingerprint)
