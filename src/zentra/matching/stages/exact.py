"""``exact_reference``: the same reference decides, and amounts must then be equal.

Repeated identical keys pair up by occurrence rank (rows ordered by content hash, movements by
id), so two rows and two movements with one key make two matches, never four. Leftover rows of
a reference that has movements are decided here, because a reference is an explicit link:

- content already matched or already seen, or a matched reference with no movement left:
  ``duplicate_provider_row``;
- one row against one leftover movement: ``currency_mismatch`` or ``amount_mismatch`` (any
  difference; a reference match is never tolerated into a match);
- anything else: ``ambiguous_match`` naming the candidates.

Rows whose reference no movement carries stay open for the later rules.

Every decision above is taken among records of one reference key (rows with equal content
hashes have equal content, hence equal keys), so the stage runs per partition of the key's hash,
``hash(key) % P`` on both sides, and a partition's working tables are dropped before the next:
its memory is that of one partition, and the result is the same for every ``P``.

How a partition finds its records depends on the key. The stored ``reference_key`` is hashed
as the open records are read, partition after partition: a scan of one column, about 25 ms per
million rows, and nothing held beyond the partition. Any other key (a ``metadata.<key>`` or a
text field: JSON extraction and normalisation per row) is computed once, with its partition,
into a table sorted by partition, of which each partition reads only its own blocks (DuckDB
skips the others by their min/max): one computation instead of ``P``, for the memory of that
table (spilled past the workspace's limit).
"""

from __future__ import annotations

from zentra.matching.fields import Side, field_sql, key_sql
from zentra.matching.rules import Rule
from zentra.matching.workspace import Workspace


def _reference(rule: Rule, side: Side, alias: str) -> str:
    """The reference key of a side. A ``metadata.<key>`` field exists on movements only and is
    compared with the provider row's own reference."""
    field = rule.reference_field
    if field == "provider_reference" or (side == "external" and field.startswith("metadata.")):
        return f"{alias}.reference_key"
    return key_sql(field_sql(side, field, alias))


_WORKING_TABLES = (
    "x_e_keys",
    "x_i_keys",
    "x_e",
    "x_i",
    "x_exact",
    "x_i_left",
    "x_groups",
    "x_flagged",
    "x_decided",
)


_EXTERNAL_KEYS = """
SELECT e.id, e.content_hash, {ref} AS rk, e.type_class, e.currency, e.signed_amount,
       e.booked_on, e.provider_reference
FROM e_open e WHERE {ref} <> ''
"""
_INTERNAL_KEYS = """
SELECT i.movement_id, {ref} AS rk, i.type_class, i.currency, i.signed_amount, i.occurred_on
FROM i_open i WHERE {ref} <> ''
"""


def run_exact_reference(ws: Workspace, rule: Rule) -> None:
    """Apply an ``exact_reference`` rule, one reference-hash partition at a time; see the
    module docstring."""
    keys = {
        "x_e": _EXTERNAL_KEYS.format(ref=_reference(rule, "external", "e")),
        "x_i": _INTERNAL_KEYS.format(ref=_reference(rule, "internal", "i")),
    }
    partitions = ws.exact_partitions
    computed_once = partitions > 1 and rule.reference_field != "provider_reference"
    if computed_once:
        for side, query in keys.items():
            ws.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE {side}_all AS
                SELECT * FROM (SELECT *, hash(rk) % {partitions} AS part FROM ({query}))
                ORDER BY part
                """
            )
    for partition in range(partitions):
        for side, query in keys.items():
            source = (
                f"SELECT * EXCLUDE (part) FROM {side}_all WHERE part = {partition}"
                if computed_once
                else f"SELECT * FROM ({query}) WHERE {_in_partition(partition, partitions)}"
            )
            ws.execute(f"CREATE OR REPLACE TEMP TABLE {side}_keys AS {source}")
        _decide_partition(ws, rule.name)
        ws.drop(*_WORKING_TABLES)
    if computed_once:
        ws.drop(*(f"{side}_all" for side in keys))


def _in_partition(partition: int, partitions: int) -> str:
    return "TRUE" if partitions == 1 else f"hash(rk) % {partitions} = {partition}"


def _decide_partition(ws: Workspace, name: str) -> None:
    """Match, classify and close the records of ``x_e_keys`` and ``x_i_keys``."""
    # Occurrence ranks pair up repeated keys. Almost every key is unique on its side: those
    # rank 1 without a sort; only repeated keys are ranked by a window.
    for table, order in (("x_e", "content_hash, id"), ("x_i", "movement_id")):
        ws.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {table} AS
            WITH repeated AS (
                SELECT rk, type_class, currency, signed_amount FROM {table}_keys
                GROUP BY ALL HAVING count(*) > 1)
            SELECT k.*, 1 AS occ FROM {table}_keys k
            ANTI JOIN repeated USING (rk, type_class, currency, signed_amount)
            UNION ALL
            SELECT k.*, row_number() OVER (
                PARTITION BY rk, type_class, currency, signed_amount ORDER BY {order}) AS occ
            FROM {table}_keys k SEMI JOIN repeated USING (rk, type_class, currency, signed_amount)
            """
        )
    ws.execute(
        """
        CREATE OR REPLACE TEMP TABLE x_exact AS
        SELECT e.id AS external_id, i.movement_id, e.content_hash, e.rk, e.type_class,
               e.signed_amount - i.signed_amount AS amount_delta,
               date_diff('day', i.occurred_on, e.booked_on) AS days_delta,
               e.provider_reference, currency
        FROM x_e e JOIN x_i i USING (rk, type_class, currency, signed_amount, occ)
        """
    )
    ws.execute(
        """
        CREATE OR REPLACE TEMP TABLE x_i_left AS
        SELECT * FROM x_i ANTI JOIN x_exact USING (movement_id)
        """
    )
    ws.execute(
        """
        CREATE OR REPLACE TEMP TABLE x_groups AS
        SELECT rk, type_class, count(*) AS n_internal,
               list(movement_id ORDER BY movement_id) AS candidate_ids,
               min(movement_id) AS only_movement_id
        FROM x_i_left GROUP BY rk, type_class
        """
    )
    ws.execute(
        """
        CREATE OR REPLACE TEMP TABLE x_flagged AS
        SELECT l.*, g.n_internal, g.candidate_ids, g.only_movement_id,
               (l.content_hash IN (SELECT content_hash FROM x_exact)
                 OR row_number() OVER (PARTITION BY l.content_hash ORDER BY l.id) > 1
                 OR (g.n_internal IS NULL AND EXISTS (
                       SELECT 1 FROM x_exact x
                       WHERE x.rk = l.rk AND x.type_class = l.type_class))
               ) AS is_duplicate
        FROM (SELECT * FROM x_e ANTI JOIN x_exact ON x_e.id = x_exact.external_id) l
        LEFT JOIN x_groups g USING (rk, type_class)
        """
    )
    ws.execute(
        """
        CREATE OR REPLACE TEMP TABLE x_decided AS
        SELECT f.*, m.currency AS m_currency, m.signed_amount AS m_signed,
               count(*) FILTER (WHERE NOT f.is_duplicate) OVER (
                   PARTITION BY f.rk, f.type_class) AS n_external
        FROM x_flagged f
        LEFT JOIN x_i_left m ON m.movement_id = f.only_movement_id AND f.n_internal = 1
        WHERE f.is_duplicate OR f.n_internal IS NOT NULL
        """
    )
    ws.execute(
        f"""
        INSERT INTO exc_out
        SELECT
            CASE
                WHEN is_duplicate THEN 'duplicate_provider_row'
                WHEN n_internal = 1 AND n_external = 1 AND m_currency <> currency
                    THEN 'currency_mismatch'
                WHEN n_internal = 1 AND n_external = 1 THEN 'amount_mismatch'
                ELSE 'ambiguous_match'
            END,
            '{name}', id,
            CASE WHEN NOT is_duplicate AND n_internal = 1 AND n_external = 1
                 THEN only_movement_id END,
            CASE WHEN is_duplicate THEN []::VARCHAR[] ELSE candidate_ids END,
            []::VARCHAR[],
            CASE WHEN NOT is_duplicate AND n_internal = 1 AND n_external = 1
                 AND m_currency = currency THEN signed_amount - m_signed END
        FROM x_decided
        """
    )
    ws.record_final_matches(
        f"""
        SELECT '{name}' AS rule, '1:1' AS kind, amount_delta, days_delta, NULL AS similarity,
               [external_id] AS external_ids, [content_hash] AS content_hashes,
               [movement_id] AS movement_ids, provider_reference, currency
        FROM x_exact
        """
    )
    ws.close_external("SELECT external_id FROM x_exact")
    ws.close_internal("SELECT movement_id FROM x_exact")
    ws.close_external("SELECT id FROM x_decided")
    ws.close_internal("SELECT unnest(candidate_ids) FROM x_decided WHERE NOT is_duplicate")
