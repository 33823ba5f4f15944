"""Many-to-one matching: by group key, then by a unique subset sum.

``group_key`` 1:N: a provider row (a payout) whose reference is the group key that movements
carry in ``group_field`` (``metadata.payout_id``). The payout equals the sum of its charges net
of fees: charges count positive, refunds and fees negative (their signed amounts). When
``fee_aware``, the row's own fee may be on either side of the comparison.

``group_key`` N:1: provider rows sharing a ``group_key`` (a batch) against the one movement
whose reference is that key (the internal payout): the batch's signed sum equals its amount.

A group that exists but does not add up is an ``amount_mismatch`` naming its members: the
group key is an explicit link, like a reference. Two provider rows claiming one group are
noted as an ambiguity.

``subset_sum`` 1:N: for a payout row without a usable group, the open movements of its block
(same currency, equal ``block_on`` fields, occurred within the window before the booked date)
are searched for subsets summing to the payout. Only a unique solution is accepted; several
are an ambiguity; a block larger than ``max_candidates`` is not searched (its answer would not
identify anything).
"""

from __future__ import annotations

from collections import defaultdict

from zentra.matching.fields import field_sql, key_sql
from zentra.matching.rules import Rule
from zentra.matching.subset import find_unique_subset
from zentra.matching.workspace import Workspace


def _types_filter(rule: Rule, alias: str) -> str:
    if not rule.external_types:
        return "TRUE"
    return f"{alias}.type_class IN (" + ", ".join(f"'{t}'" for t in rule.external_types) + ")"


def _fee_aware_equal(rule: Rule, payout: str, fee: str, total: str) -> str:
    """``payout`` equals ``total`` (magnitudes), or net/gross of the row's fee when fee-aware."""
    exact = f"abs({payout}) = {total}"
    if not rule.fee_aware:
        return exact
    return (
        f"({exact} OR ({fee} IS NOT NULL AND (abs({payout}) - abs({fee}) = {total} "
        f"OR abs({payout}) + abs({fee}) = {total})))"
    )


def run_group_key(ws: Workspace, rule: Rule) -> None:
    """Apply a ``group_key`` rule (1:N or N:1); see the module docstring."""
    if rule.cardinality == "1:N":
        _one_row_many_movements(ws, rule)
    else:
        _many_rows_one_movement(ws, rule)


def _one_row_many_movements(ws: Workspace, rule: Rule) -> None:
    assert rule.group_field is not None  # guaranteed by the rule model
    group = key_sql(field_sql("internal", rule.group_field, "i"))
    reference = key_sql(field_sql("external", rule.reference_field, "e"))
    ws.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE g_groups AS
        SELECT {group} AS gk, i.currency, list(i.movement_id ORDER BY i.movement_id) AS ids,
               sum(i.signed_amount) AS total
        FROM i_open i WHERE {group} <> '' GROUP BY ALL
        """
    )
    ws.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE g_claims AS
        SELECT e.id, e.amount_minor, e.fee_minor, g.ids, g.total,
               count(*) OVER (PARTITION BY g.gk, g.currency) AS claims,
               {_fee_aware_equal(rule, "e.amount_minor", "e.fee_minor", "g.total")} AS adds_up
        FROM e_open e JOIN g_groups g ON {reference} = g.gk AND e.currency = g.currency
        WHERE {_types_filter(rule, "e")}
        """
    )
    ws.execute(
        """
        CREATE OR REPLACE TEMP TABLE g_matched AS
        SELECT [id] AS external_ids, ids AS movement_ids,
               abs(amount_minor) - total AS amount_delta
        FROM g_claims WHERE claims = 1 AND adds_up
        """
    )
    _record_unbalanced_and_contested(ws, rule)
    ws.record_groups(rule.name, "1:N", "g_matched")


def _record_unbalanced_and_contested(ws: Workspace, rule: Rule) -> None:
    ws.execute(
        f"""
        INSERT INTO exc_out
        SELECT 'amount_mismatch', '{rule.name}', id, NULL, ids, []::VARCHAR[],
               abs(amount_minor) - total
        FROM g_claims WHERE claims = 1 AND NOT adds_up
        """
    )
    ws.close_external("SELECT id FROM g_claims WHERE claims = 1 AND NOT adds_up")
    ws.close_internal("SELECT unnest(ids) FROM g_claims WHERE claims = 1 AND NOT adds_up")
    ws.execute(
        f"""
        INSERT INTO notes
        SELECT id, unnest(ids), '{rule.name}' FROM g_claims WHERE claims > 1
        """
    )


def _many_rows_one_movement(ws: Workspace, rule: Rule) -> None:
    group = key_sql("e.group_key")
    reference = key_sql(field_sql("internal", rule.reference_field, "i"))
    ws.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE g_batches AS
        SELECT {group} AS gk, e.currency,
               list(e.id ORDER BY e.content_hash, e.id) AS external_ids,
               sum(e.signed_amount) AS total
        FROM e_open e WHERE {group} <> '' AND {_types_filter(rule, "e")} GROUP BY ALL
        """
    )
    ws.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE g_targets AS
        SELECT b.external_ids, i.movement_id, i.amount_minor, b.total,
               count(*) OVER (PARTITION BY b.gk, b.currency) AS claims
        FROM g_batches b JOIN i_open i ON {reference} = b.gk AND i.currency = b.currency
        """
    )
    ws.execute(
        """
        CREATE OR REPLACE TEMP TABLE g_matched AS
        SELECT external_ids, [movement_id] AS movement_ids,
               total - abs(amount_minor) AS amount_delta
        FROM g_targets WHERE claims = 1 AND abs(amount_minor) = abs(total)
        """
    )
    ws.execute(
        f"""
        INSERT INTO exc_out
        SELECT 'amount_mismatch', '{rule.name}', NULL, movement_id, []::VARCHAR[],
               external_ids, abs(total) - abs(amount_minor)
        FROM g_targets WHERE claims = 1 AND abs(amount_minor) <> abs(total)
        """
    )
    ws.close_internal(
        "SELECT movement_id FROM g_targets WHERE claims = 1 AND abs(amount_minor) <> abs(total)"
    )
    ws.close_external(
        "SELECT unnest(external_ids) FROM g_targets "
        "WHERE claims = 1 AND abs(amount_minor) <> abs(total)"
    )
    ws.record_groups(rule.name, "N:1", "g_matched")


def run_subset_sum(ws: Workspace, rule: Rule) -> None:
    """Apply a ``subset_sum`` rule; see the module docstring."""
    blocks = "".join(
        f" AND {key_sql(field_sql('external', f, 'e'))} = {key_sql(field_sql('internal', f, 'i'))}"
        for f in rule.block_on
    )
    ws.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE s_block AS
        SELECT e.id AS external_id, e.content_hash, e.amount_minor, i.movement_id,
               i.signed_amount, count(*) OVER (PARTITION BY e.id) AS block_size
        FROM e_open e JOIN i_open i
          ON e.currency = i.currency{blocks}
         AND i.occurred_on BETWEEN e.booked_on - {rule.date_window_days} AND e.booked_on
        WHERE {_types_filter(rule, "e")}
          AND i.type_class IN ('charge', 'refund', 'fee')
        """
    )
    rows = ws.arrow(
        f"""
        SELECT external_id, content_hash, amount_minor, movement_id, signed_amount
        FROM s_block WHERE block_size <= {rule.max_candidates}
        ORDER BY content_hash, external_id, movement_id
        """
    ).to_pylist()
    blocks_by_row: dict[str, list[tuple[str, int]]] = defaultdict(list)
    targets: dict[str, int] = {}
    for row in rows:
        blocks_by_row[row["external_id"]].append((row["movement_id"], row["signed_amount"]))
        targets[row["external_id"]] = abs(row["amount_minor"])
    taken: set[str] = set()
    matched: list[tuple[str, list[str]]] = []
    ambiguous: list[tuple[str, str]] = []
    # Rows in content-hash order, so overlapping blocks are decided the same way every time.
    for external_id, block in blocks_by_row.items():
        open_block = [(m, a) for m, a in block if m not in taken]
        search = find_unique_subset([a for _, a in open_block], targets[external_id])
        if search.solutions == 1:
            members = sorted(open_block[i][0] for i in search.members)
            taken.update(members)
            matched.append((external_id, members))
        elif search.solutions > 1:
            ambiguous.extend((external_id, m) for m, _ in open_block)
    ws.execute(
        """
        CREATE OR REPLACE TEMP TABLE s_matched (
            external_ids VARCHAR[], movement_ids VARCHAR[], amount_delta BIGINT)
        """
    )
    if matched:
        ws.connection.executemany(
            "INSERT INTO s_matched VALUES (?, ?, 0)", [[[e], members] for e, members in matched]
        )
    if ambiguous:
        ws.connection.executemany(
            "INSERT INTO notes VALUES (?, ?, ?)", [[e, m, rule.name] for e, m in ambiguous]
        )
    ws.record_groups(rule.name, "1:N", "s_matched")
