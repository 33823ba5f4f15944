"""The reference-matching stage, as SQL over whole columns.

Stage order matters, and each stage sees only what the earlier ones left:

1. **exact** — same reference key, type class, currency and signed amount. Repeated identical
   keys pair up by occurrence rank (externals ordered by content hash, movements by id), so
   two provider rows and two movements with the same key make two matches, never four.
2. **classify the leftover provider rows** in each (reference, type class) group:
   a row whose content was already matched or already seen is a ``duplicate_provider_row``;
   so is a row of a group that matched and has no movement left. A row whose group has no
   movement at all is an ``unmatched_provider_row``. One row against one leftover movement is an
   ``amount_mismatch`` or ``currency_mismatch``; anything else is an ``ambiguous_match`` that
   names its candidates — never a guess.
3. **missing** — movements in the window that no match or exception accounts for become
   ``missing_from_settlement``.

Every tie is broken on natural keys (content hash, movement id), so shuffled input, a re-run
or another thread count give the same tables and the same fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from zentra.matching.columns import EXTERNAL_SCHEMA, INTERNAL_SCHEMA

EXACT_REFERENCE_RULE = "exact_reference"  # the rule name the exact stage writes

_STAGES = (
    # 1. exact matches, paired by occurrence rank within identical keys
    """
    CREATE TEMP TABLE e AS
    SELECT *, row_number() OVER (
        PARTITION BY reference_key, type_class, currency, signed_amount
        ORDER BY content_hash, id) AS occ
    FROM ext
    """,
    """
    CREATE TEMP TABLE i AS
    SELECT *, row_number() OVER (
        PARTITION BY reference_key, type_class, currency, signed_amount
        ORDER BY movement_id) AS occ
    FROM int WHERE reference_key <> ''
    """,
    """
    CREATE TEMP TABLE exact AS
    SELECT 'exact_reference' AS rule, e.id AS external_id, i.movement_id, e.content_hash,
           e.provider_reference,
           e.reference_key, e.type_class, e.currency,
           e.signed_amount - i.signed_amount AS amount_delta,
           date_diff('day', i.occurred_on, e.booked_on) AS days_delta
    FROM e JOIN i USING (reference_key, type_class, currency, signed_amount, occ)
    """,
    "CREATE TEMP TABLE e_left AS SELECT * FROM e WHERE id NOT IN (SELECT external_id FROM exact)",
    """
    CREATE TEMP TABLE i_left AS
    SELECT * FROM i WHERE movement_id NOT IN (SELECT movement_id FROM exact)
    """,
    # 2. classify leftover provider rows per (reference, type class) group
    """
    CREATE TEMP TABLE groups_left AS
    SELECT reference_key, type_class, count(*) AS n_internal,
           list(movement_id ORDER BY movement_id) AS candidate_ids,
           min(movement_id) AS only_movement_id
    FROM i_left GROUP BY reference_key, type_class
    """,
    """
    CREATE TEMP TABLE e_flagged AS
    SELECT l.*, g.n_internal, g.candidate_ids, g.only_movement_id,
           (l.content_hash IN (SELECT content_hash FROM exact)
             OR row_number() OVER (PARTITION BY l.content_hash ORDER BY l.id) > 1
             OR (g.n_internal IS NULL AND EXISTS (
                   SELECT 1 FROM exact x
                   WHERE x.reference_key = l.reference_key AND x.type_class = l.type_class))
           ) AS is_duplicate
    FROM e_left l LEFT JOIN groups_left g USING (reference_key, type_class)
    """,
    """
    CREATE TEMP TABLE e_classified AS
    SELECT *, count(*) FILTER (WHERE NOT is_duplicate) OVER (
                PARTITION BY reference_key, type_class) AS n_external
    FROM e_flagged
    """,
    """
    CREATE TEMP TABLE ext_exceptions AS
    SELECT
        CASE
            WHEN c.is_duplicate THEN 'duplicate_provider_row'
            WHEN c.n_internal IS NULL THEN 'unmatched_provider_row'
            WHEN c.n_internal = 1 AND c.n_external = 1 AND m.currency <> c.currency
                THEN 'currency_mismatch'
            WHEN c.n_internal = 1 AND c.n_external = 1 THEN 'amount_mismatch'
            ELSE 'ambiguous_match'
        END AS type,
        c.id AS external_id, c.content_hash, c.provider_reference, c.reference_key,
        c.type_class,
        CASE WHEN NOT c.is_duplicate AND c.n_internal = 1 AND c.n_external = 1
             THEN c.only_movement_id END AS movement_id,
        c.amount_minor, c.currency,
        m.amount_minor AS internal_amount_minor, m.currency AS internal_currency,
        CASE WHEN NOT c.is_duplicate AND c.n_internal = 1 AND c.n_external = 1
             AND m.currency = c.currency THEN c.signed_amount - m.signed_amount END
            AS amount_delta,
        CASE WHEN NOT c.is_duplicate AND c.n_internal IS NOT NULL
             THEN c.candidate_ids ELSE []::VARCHAR[] END AS candidate_ids
    FROM e_classified c
    LEFT JOIN i_left m ON m.movement_id = c.only_movement_id AND c.n_internal = 1
    """,
    # 3. movements no match or exception accounts for
    """
    CREATE TEMP TABLE consumed AS
    SELECT DISTINCT unnest(candidate_ids) AS movement_id FROM ext_exceptions
    WHERE type <> 'duplicate_provider_row'
    """,
    """
    CREATE TEMP TABLE missing AS
    SELECT 'missing_from_settlement' AS type, NULL::VARCHAR AS external_id,
           NULL::VARCHAR AS content_hash, provider_reference, reference_key, type_class,
           movement_id, amount_minor, currency,
           amount_minor AS internal_amount_minor, currency AS internal_currency,
           NULL::BIGINT AS amount_delta, []::VARCHAR[] AS candidate_ids
    FROM int
    WHERE in_window
      AND movement_id NOT IN (SELECT movement_id FROM exact)
      AND movement_id NOT IN (SELECT movement_id FROM consumed)
    """,
)

_MATCHES_QUERY = """
SELECT external_id, movement_id, content_hash, provider_reference, currency,
       amount_delta, days_delta, rule
FROM exact ORDER BY content_hash, movement_id, external_id
"""

_EXCEPTIONS_QUERY = """
SELECT * FROM (SELECT * FROM ext_exceptions UNION ALL SELECT * FROM missing)
ORDER BY type, reference_key, content_hash NULLS LAST, movement_id NULLS LAST, external_id
"""

# The fingerprint covers natural keys only: content hashes, movement ids, references, types.
# Each entry is hashed alone; the sorted entry hashes are hashed together.
_FINGERPRINT_QUERY = """
WITH entries AS (
    SELECT sha256(concat_ws(chr(31), 'match', rule, provider_reference, content_hash,
                            movement_id)) AS digest
    FROM exact
    UNION ALL
    SELECT sha256(concat_ws(chr(31), 'exception', type, provider_reference,
                            coalesce(content_hash, ''), coalesce(movement_id, ''),
                            array_to_string(candidate_ids, ';'))) AS digest
    FROM (SELECT * FROM ext_exceptions UNION ALL SELECT * FROM missing)
)
SELECT sha256(coalesce(string_agg(digest, '' ORDER BY digest), '')) FROM entries
"""


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    """What the engine decided.

    ``matches``: external_id, movement_id, content_hash, provider_reference, currency,
    amount_delta, days_delta, rule. ``exceptions``: type, external_id, content_hash,
    provider_reference, reference_key, type_class, movement_id, amount_minor, currency,
    internal_amount_minor, internal_currency, amount_delta, candidate_ids.
    """

    matches: pa.Table
    exceptions: pa.Table
    result_fingerprint: str


def match_by_reference(
    external: pa.Table, internal: pa.Table, *, threads: int | None = None
) -> MatchOutcome:
    """Match external records to movements by reference; see the module docstring.

    ``external`` and ``internal`` must have the columns of ``EXTERNAL_SCHEMA`` and
    ``INTERNAL_SCHEMA``. ``threads`` fixes DuckDB's thread count (the result never depends on it).
    """
    connection = duckdb.connect()
    try:
        if threads is not None:
            connection.execute(f"SET threads TO {int(threads)}")
        connection.register("ext", external.select(EXTERNAL_SCHEMA.names).cast(EXTERNAL_SCHEMA))
        connection.register("int", internal.select(INTERNAL_SCHEMA.names).cast(INTERNAL_SCHEMA))
        for statement in _STAGES:
            connection.execute(statement)
        matches = connection.sql(_MATCHES_QUERY).to_arrow_table()
        exceptions = connection.sql(_EXCEPTIONS_QUERY).to_arrow_table()
        fingerprint = connection.sql(_FINGERPRINT_QUERY).fetchall()[0][0]
    finally:
        connection.close()
    return MatchOutcome(matches, exceptions, str(fingerprint))
