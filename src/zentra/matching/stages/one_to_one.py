"""``amount_date`` and ``fuzzy``: 1:1 matching without a reference, by mutual best.

Candidates are pairs of open records with the same currency and type class, amounts within the
rule's tolerance (or equal net of the provider's fee, when fee-aware), dates within the window,
and equal ``block_on`` fields. Each pair has a score (lower is better): the amount difference,
then the day difference; a fuzzy rule puts text dissimilarity first.

Assignment is iterative mutual best: a pair is accepted when it is the *only* best pair of its
row and the *only* best pair of its movement; accepted records leave, and the next round sees
what remains. Ties are never broken by ids: what is still tied at the end is noted as an
ambiguity, which a later rule may resolve (the counterparty tells two equal amounts apart) or
which ends as ``ambiguous_match``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process, utils

from zentra.matching.fields import field_sql, key_sql
from zentra.matching.rules import Rule
from zentra.matching.workspace import Workspace

# Scores combine integers lexicographically: dissimilarity (fuzzy rules), then the amount
# difference (below 10**9 minor units in any tolerated pair), then days (a window is <= 366).
_DAYS = 1000
_SIMILARITY_WEIGHT = 10**12
_MAX_ROUNDS = 64


def _amount_condition(rule: Rule) -> tuple[str, str]:
    """(ON clause for the join, WHERE condition) comparing e.signed_amount with i's."""
    tolerance = rule.amount_tolerance
    if tolerance.is_exact and not rule.fee_aware:
        return "e.signed_amount = i.signed_amount", "TRUE"
    numerator, denominator = tolerance.ratio_fraction()
    absolute = tolerance.absolute_minor
    fee = "coalesce(abs(e.fee_minor), 0)"
    # |delta| <= max(absolute, ratio * |internal|), exactly, in integers.
    within = (
        f"abs(d) * {denominator} <= greatest({absolute} * {denominator}, "
        f"{numerator} * abs(i.signed_amount))"
    )
    # A loose band for the range join (|internal| <= |external| + |delta| bounds delta).
    band = (
        f"({absolute} * {denominator} + {numerator} * (abs(e.signed_amount) + {fee})) "
        f"// greatest({denominator} - {numerator}, 1) + {fee} + 1"
    )
    on = f"i.signed_amount BETWEEN e.signed_amount - ({band}) AND e.signed_amount + ({band})"
    gross = within.replace("abs(d)", "abs(e.signed_amount - i.signed_amount)")
    if not rule.fee_aware:
        return on, gross
    net = within.replace("abs(d)", f"abs(abs(e.signed_amount) - {fee} - abs(i.signed_amount))")
    return on, f"({gross} OR (e.fee_minor IS NOT NULL AND {net}))"


def _candidate_pairs(ws: Workspace, rule: Rule, extra_columns: str = "") -> None:
    on_amount, where_amount = _amount_condition(rule)
    blocks = "".join(
        f" AND {key_sql(field_sql('external', f, 'e'))} = {key_sql(field_sql('internal', f, 'i'))}"
        for f in rule.block_on
    )
    no_reference = "e.reference_key = ''" if rule.only_without_reference else "TRUE"
    types = (
        "e.type_class IN (" + ", ".join(f"'{t}'" for t in rule.external_types) + ")"
        if rule.external_types
        else "TRUE"
    )
    ws.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE pairs AS
        SELECT e.id AS external_id, i.movement_id,
               e.signed_amount - i.signed_amount AS amount_delta,
               date_diff('day', i.occurred_on, e.booked_on) AS days_delta,
               abs(e.signed_amount - i.signed_amount) * {_DAYS}
                 + abs(date_diff('day', i.occurred_on, e.booked_on)) AS score,
               NULL::INTEGER AS similarity
               {extra_columns}
        FROM e_open e JOIN i_open i
          ON e.currency = i.currency AND e.type_class = i.type_class AND {on_amount}{blocks}
        WHERE {no_reference} AND {types} AND {where_amount}
          AND abs(date_diff('day', i.occurred_on, e.booked_on)) <= {rule.date_window_days}
        """
    )


def assign_mutual_best(ws: Workspace, rule: Rule) -> None:
    """Accept unique mutual-best pairs of ``pairs`` round by round; note what stays tied."""
    ws.execute(
        """
        CREATE OR REPLACE TEMP TABLE accepted (
            external_id VARCHAR, movement_id VARCHAR, amount_delta BIGINT,
            days_delta INTEGER, score BIGINT, similarity INTEGER)
        """
    )
    for _round in range(_MAX_ROUNDS):
        ws.execute(
            """
            CREATE OR REPLACE TEMP TABLE accepted_round AS
            WITH r1 AS (
                SELECT *, min(score) OVER (PARTITION BY external_id) AS e_best,
                          min(score) OVER (PARTITION BY movement_id) AS i_best
                FROM pairs),
            r2 AS (
                SELECT *, sum(CASE WHEN score = e_best THEN 1 ELSE 0 END)
                              OVER (PARTITION BY external_id) AS e_ties,
                          sum(CASE WHEN score = i_best THEN 1 ELSE 0 END)
                              OVER (PARTITION BY movement_id) AS i_ties
                FROM r1)
            SELECT external_id, movement_id, amount_delta, days_delta, score, similarity
            FROM r2
            WHERE score = e_best AND score = i_best AND e_ties = 1 AND i_ties = 1
            """
        )
        if ws.scalar("SELECT count(*) FROM accepted_round") == 0:
            break
        ws.execute("INSERT INTO accepted SELECT * FROM accepted_round")
        ws.execute(
            """
            DELETE FROM pairs
            WHERE external_id IN (SELECT external_id FROM accepted_round)
               OR movement_id IN (SELECT movement_id FROM accepted_round)
            """
        )
    # What is left is tied: each row's best candidates, and each movement's best rows.
    ws.execute(
        f"""
        INSERT INTO notes
        SELECT external_id, movement_id, '{rule.name}' FROM (
            SELECT *, min(score) OVER (PARTITION BY external_id) AS e_best FROM pairs)
        WHERE score = e_best
        """
    )
    ws.record_one_to_one(rule.name, "accepted")


def run_amount_date(ws: Workspace, rule: Rule) -> None:
    """Apply an ``amount_date`` rule; see the module docstring."""
    _candidate_pairs(ws, rule)
    assign_mutual_best(ws, rule)


def run_fuzzy(ws: Workspace, rule: Rule) -> None:
    """Apply a ``fuzzy`` rule: candidates as for ``amount_date``, scored by text similarity
    (rapidfuzz ``token_set_ratio``); pairs below the threshold are no candidates."""
    assert rule.fuzzy is not None  # guaranteed by the rule model
    external_text = field_sql("external", rule.fuzzy.external_field, "e")
    internal_text = field_sql("internal", rule.fuzzy.internal_field, "i")
    _candidate_pairs(ws, rule, f", {external_text} AS e_text, {internal_text} AS i_text")
    pairs = ws.arrow("SELECT * FROM pairs WHERE e_text <> '' AND i_text <> ''")
    similarity = process.cpdist(
        pairs["e_text"].to_pylist(),
        pairs["i_text"].to_pylist(),
        scorer=fuzz.token_set_ratio,
        processor=utils.default_process,
        workers=1,
    )
    # Similarity 0-100 as an integer in hundredths: scores stay integers and exact.
    hundredths = pa.array(np.rint(similarity * 100).astype(np.int64))
    scored = pairs.drop_columns(["similarity"]).append_column("similarity_hundredths", hundredths)
    scored = scored.filter(pc.greater_equal(hundredths, rule.fuzzy.threshold * 100))
    ws.connection.register("fuzzy_scored", scored)
    ws.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE pairs AS
        SELECT external_id, movement_id, amount_delta, days_delta,
               (10000 - similarity_hundredths) * {_SIMILARITY_WEIGHT}
                 + abs(amount_delta) * {_DAYS} + abs(days_delta) AS score,
               similarity_hundredths::INTEGER AS similarity
        FROM fuzzy_scored
        """
    )
    ws.connection.unregister("fuzzy_scored")
    assign_mutual_best(ws, rule)
