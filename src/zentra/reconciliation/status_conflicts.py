"""Status conflicts at match time: the provider booked money that the movement says never moved.

A settlement row says money moved: whatever its type (charge, refund, payout, fee, adjustment),
the provider booked it. A movement whose ``status`` says the money never moved contradicts it:
``failed`` (what a provider callback sets, :mod:`zentra.providers.movement_state`) or a synonym
an internal system writes (:data:`FAILED_STATUSES`, case ignored). When the engine pairs such a
row with such a movement, the run does not keep the match: the pair becomes a
``status_conflict`` exception, like an amount mismatch carrying both sides, the rule that would
have matched them, the movements of the would-be match as candidates, and as evidence the
movement's status and the callbacks that reported it.

Not conflicts, on purpose:

- a movement ``refunded`` or ``reversed`` matched to its original charge: the refund or
  reversal is a later event with a record of its own, reconciled when the provider books it
  (flagging it would raise an exception for every refunded payment);
- a movement still ``pending`` or ``authorized``: internal systems lag behind their provider.

Determinism: a match conflicts when one of its movements is among the run's failed movements, a
decision over sets that does not depend on input order. The run's ``result_fingerprint`` is the
engine's when nothing conflicts; otherwise the sha256 of the engine's fingerprint and the sorted
digests of the conflicts (rule, the rows' content hashes, the movement ids and their statuses).

Everything is computed over whole columns (DuckDB over the engine's Arrow tables) plus one query
for the run's failed movements: no per-row query.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy.orm import Session

from zentra.config import get_settings
from zentra.matching.engine import MatchOutcome
from zentra.models import ReconciliationRun
from zentra.reconciliation import correlation_repository as repository

FAILED_STATUSES = frozenset(
    {"failed", "declined", "canceled", "cancelled", "rejected", "voided", "expired"}
)
"""Movement statuses (lower case) that say the money never moved."""
CALLBACK_FAILED_STATUS = "failed"
"""The lifecycle status a provider callback reports for a payment that did not go through."""

_FAILED_SCHEMA = pa.schema([("movement_id", pa.string()), ("status", pa.string())])

_SPLIT = """
CREATE TEMP TABLE m AS SELECT row_number() OVER () AS k, * FROM matches;
CREATE TEMP TABLE hit AS
SELECT k, list_sort(list(f.movement_id)) AS failed_ids,
       list(f.status ORDER BY f.movement_id) AS failed_statuses
FROM (SELECT k, unnest(movement_ids) AS movement_id FROM m) u
JOIN failed f USING (movement_id)
GROUP BY k;
"""

_CONFLICTS = """
WITH ext_sum AS (
    SELECT k, sum(e.amount_minor) AS amount_minor
    FROM (SELECT k, unnest(external_ids) AS id FROM m SEMI JOIN hit USING (k)) u
    JOIN ext e USING (id) GROUP BY k),
int_sum AS (
    SELECT k, sum(i.amount_minor) AS amount_minor
    FROM (SELECT k, unnest(movement_ids) AS movement_id FROM m SEMI JOIN hit USING (k)) u
    JOIN int i USING (movement_id) GROUP BY k)
SELECT 'status_conflict' AS type, m.rule, m.external_ids[1] AS external_id,
       m.content_hashes[1] AS content_hash, m.provider_reference,
       h.failed_ids[1] AS movement_id, x.amount_minor, m.currency,
       n.amount_minor AS internal_amount_minor, m.currency AS internal_currency,
       m.amount_delta, m.movement_ids AS candidate_ids,
       CASE WHEN len(m.external_ids) > 1 THEN m.external_ids ELSE []::VARCHAR[] END
           AS candidate_external_ids,
       NULL AS nearest,
       h.failed_ids, h.failed_statuses,
       sha256(concat_ws(chr(31), 'status_conflict', m.rule,
                        array_to_string(m.content_hashes, ';'),
                        array_to_string(m.movement_ids, ';'),
                        array_to_string(h.failed_statuses, ';'))) AS digest
FROM m JOIN hit h USING (k)
JOIN ext_sum x USING (k) JOIN int_sum n USING (k)
"""


@dataclass(frozen=True, slots=True)
class StatusConflicts:
    """The outcome with conflicting matches turned into ``status_conflict`` exceptions, and the
    evidence of each conflict by ``(external_record_id, movement_id)``."""

    outcome: MatchOutcome
    evidence: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


def split_status_conflicts(
    outcome: MatchOutcome, external: pa.Table, internal: pa.Table, failed: pa.Table
) -> StatusConflicts:
    """Turn every match with a movement in ``failed`` (columns ``movement_id``, ``status``) into
    a ``status_conflict`` exception; see the module docstring. Pure: no database.

    ``external`` and ``internal`` are the engine's inputs (``EXTERNAL_SCHEMA``,
    ``INTERNAL_SCHEMA``). The outcome is returned unchanged when nothing conflicts.
    """
    if failed.num_rows == 0 or outcome.matches.num_rows == 0:
        return StatusConflicts(outcome)
    db = duckdb.connect()
    try:
        db.register("matches", outcome.matches)
        db.register("failed", failed)
        db.register("ext", external.select(["id", "amount_minor", "type_class"]))
        db.register("int", internal.select(["movement_id", "amount_minor"]))
        db.execute(_SPLIT)
        if db.sql("SELECT count(*) FROM hit").fetchall()[0][0] == 0:
            return StatusConflicts(outcome)
        kept = db.sql("SELECT * EXCLUDE (k) FROM m ANTI JOIN hit USING (k)").to_arrow_table()
        conflicts = db.sql(_CONFLICTS).to_arrow_table()
        types = dict(
            db.sql(
                "SELECT e.id, e.type_class FROM ext e "
                "SEMI JOIN (SELECT unnest(external_ids) AS id FROM m SEMI JOIN hit USING (k)) "
                "USING (id)"
            ).fetchall()
        )
    finally:
        db.close()
    schema = outcome.exceptions.schema
    added = pa.table(
        [conflicts[name].cast(schema.field(name).type) for name in schema.names], schema=schema
    )
    digests = sorted(str(digest) for digest in conflicts["digest"].to_pylist())
    fingerprint = hashlib.sha256(
        (outcome.result_fingerprint + "".join(digests)).encode()
    ).hexdigest()
    evidence = {
        (str(row["external_id"]), str(row["movement_id"])): {
            "provider_says": {
                "status": "booked",
                "type": types.get(row["external_id"]),
                "external_record_ids": row["candidate_external_ids"] or [row["external_id"]],
            },
            "movement_says": {
                "status": row["failed_statuses"][0],
                "movement_ids": row["failed_ids"],
                "statuses": dict(zip(row["failed_ids"], row["failed_statuses"], strict=True)),
            },
            "rule": row["rule"],
            "provider_reference": row["provider_reference"],
        }
        for row in conflicts.select(
            [
                "external_id",
                "movement_id",
                "rule",
                "provider_reference",
                "candidate_external_ids",
                "failed_ids",
                "failed_statuses",
            ]
        ).to_pylist()
    }
    return StatusConflicts(
        MatchOutcome(
            matches=kept.cast(outcome.matches.schema),
            exceptions=pa.concat_tables([outcome.exceptions, added]),
            result_fingerprint=fingerprint,
        ),
        evidence,
    )


def find_status_conflicts(
    session: Session,
    run: ReconciliationRun,
    outcome: MatchOutcome,
    external: pa.Table,
    internal: pa.Table,
) -> StatusConflicts:
    """Read the run's movements whose status says no money moved (one query, same dates as the
    run's load) and split the outcome with :func:`split_status_conflicts`."""
    lookback = timedelta(days=get_settings().settlement_lookback_days)
    rows = repository.movements_with_status(
        session,
        run.tenant_id,
        run.provider,
        run.window_from - lookback,
        run.window_to,
        FAILED_STATUSES,
    )
    failed = pa.table(
        [
            pa.array([movement_id for movement_id, _status, _key in rows], pa.string()),
            pa.array([status.strip().lower() for _id, status, _key in rows], pa.string()),
        ],
        schema=_FAILED_SCHEMA,
    )
    conflicts = split_status_conflicts(outcome, external, internal, failed)
    if not conflicts.evidence:
        return conflicts
    # The callbacks that reported the failure, by the movements' reference keys.
    keys = {movement_id: key for movement_id, _status, key in rows}
    reported = repository.status_callbacks(
        session,
        run.tenant_id,
        run.provider,
        {keys[movement_id] for _external, movement_id in conflicts.evidence},
        CALLBACK_FAILED_STATUS,
    )
    for (_external, movement_id), evidence in conflicts.evidence.items():
        evidence["movement_says"]["callbacks"] = reported.get(keys[movement_id], [])
    return conflicts


def record_status_conflict_evidence(
    session: Session, run: ReconciliationRun, conflicts: StatusConflicts
) -> None:
    """Add each conflict's evidence to the details of the ``status_conflict`` exception the run
    persisted for it (one read of the run's status conflicts, updates batched at flush)."""
    if not conflicts.evidence:
        return
    for exception in repository.status_conflict_exceptions(session, run.tenant_id, run.id):
        evidence = conflicts.evidence.get(
            (exception.external_record_id or "", exception.movement_id or "")
        )
        if evidence is not None:
            exception.details = {**exception.details, **evidence}
    session.flush()
