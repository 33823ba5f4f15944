"""Writing a run's outcome: matches, links, exceptions, their opening activity and events.

The engine's Arrow tables are turned into the rows of each table by SQL over whole columns (on an
in-process DuckDB) and written with :func:`zentra.kit.bulk.bulk_insert` — ``COPY`` on PostgreSQL,
one ``executemany`` on SQLite. Nothing here loops over records in Python.

Ids of the rows written together share one freshly generated id as a base and end in a
ten-digit counter (``mat_01JD...0000000042``): unique, and sorted after every earlier id.

Events: each exception announces itself (``reconciliation.exception.opened``). Matches made by the
engine are announced once per rule (``reconciliation.match.created`` with the rule, its count and
where to list them), not once per match: a million-row run would otherwise send a million
webhooks about one decision.

:func:`persist_outcome` hands back the match, link and exception rows it wrote
(:class:`WrittenOutcome`), so that the process that wrote them can report on them without
reading them back (``zentra reconcile --output``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import duckdb
import pyarrow as pa
from sqlalchemy.orm import Session

from zentra.kit.bulk import bulk_insert
from zentra.kit.ids import Prefix, new_id
from zentra.kit.time import utcnow
from zentra.matching.engine import MatchOutcome
from zentra.models import (
    ExceptionActivity,
    Match,
    MatchLink,
    OutboxEvent,
    ReconciliationException,
    ReconciliationRun,
)

MATCHER: Final = "system:matcher"


def _id_bases(*prefixes: Prefix) -> dict[str, str]:
    return {prefix: new_id(prefix) for prefix in prefixes}


def _with_constants(table: pa.Table, **columns: object) -> pa.Table:
    """Append columns holding one value on every row (timestamps as UTC)."""
    for name, value in columns.items():
        if isinstance(value, datetime):
            scalar = pa.scalar(value, type=pa.timestamp("us", tz="UTC"))
        elif value is None:
            scalar = pa.scalar(None, type=pa.string())
        else:
            scalar = pa.scalar(value)
        table = table.append_column(name, pa.repeat(scalar, table.num_rows))
    return table


@dataclass(frozen=True, slots=True)
class WrittenOutcome:
    """The rows :func:`persist_outcome` wrote for a run, exactly as written, ids included:
    ``matches`` (``matches`` rows), ``links`` (``match_links`` rows: ``match_id`` with one
    ``external_record_id`` or one ``movement_id``) and ``exceptions``
    (``reconciliation_exceptions`` rows, ``status`` and ``owner`` included). What the same
    transaction changes afterwards (a status conflict's evidence added to its ``details``) is
    not in them."""

    matches: pa.Table
    links: pa.Table
    exceptions: pa.Table


def persist_outcome(
    session: Session, run: ReconciliationRun, outcome: MatchOutcome
) -> WrittenOutcome:
    """Write everything the engine decided for ``run`` in the session's transaction; return the
    match, link and exception rows written."""
    now = utcnow()
    db = duckdb.connect()
    try:
        db.register("matches", outcome.matches)
        db.register("exceptions", outcome.exceptions)
        db.execute(
            """
            CREATE TEMP TABLE m AS
            SELECT $mat || lpad(CAST(n AS VARCHAR), 10, '0') AS id, *
            FROM (SELECT *, row_number() OVER (ORDER BY content_hashes, movement_ids) AS n
                  FROM matches)
            """,
            _id_bases("mat"),
        )
        db.execute(
            """
            CREATE TEMP TABLE x AS
            SELECT $exc || lpad(CAST(n AS VARCHAR), 10, '0') AS id,
                   $exa || lpad(CAST(n AS VARCHAR), 10, '0') AS activity_id,
                   $evt || lpad(CAST(n AS VARCHAR), 10, '0') AS event_id, *
            FROM (SELECT *, row_number() OVER (
                      ORDER BY type, content_hash NULLS LAST, movement_id NULLS LAST,
                               external_id) AS n
                  FROM exceptions)
            """,
            _id_bases("exc", "exa", "evt"),
        )
        match_rows = db.sql(
            """
            SELECT id, rule, kind,
                   to_json({'amount': amount_delta, 'days': days_delta,
                            'similarity_hundredths': similarity})::VARCHAR AS deltas
            FROM m
            """
        ).to_arrow_table()
        link_rows = db.sql(
            """
            SELECT id AS match_id, unnest(external_ids) AS external_record_id,
                   NULL::VARCHAR AS movement_id FROM m
            UNION ALL
            SELECT id, NULL, unnest(movement_ids) FROM m
            """
        ).to_arrow_table()
        exception_rows = db.sql(
            """
            SELECT id, type, provider_reference, external_id AS external_record_id, movement_id,
                   amount_minor, currency,
                   to_json({
                       'rule': rule,
                       'candidates': candidate_ids,
                       'candidate_external_records': candidate_external_ids,
                       'nearest': coalesce(nearest, []),
                       'internal': CASE WHEN internal_amount_minor IS NOT NULL THEN
                           {'movement_id': movement_id, 'amount_minor': internal_amount_minor,
                            'currency': internal_currency} END,
                       'deltas': CASE
                           WHEN type = 'currency_mismatch' THEN to_json({'currency': {
                               'external': currency, 'internal': internal_currency}})
                           WHEN amount_delta IS NOT NULL THEN to_json({'amount': amount_delta})
                           END
                   })::VARCHAR AS details
            FROM x
            """
        ).to_arrow_table()
        run_params = {"run_id": run.id, "owner": run.owner}
        activity_rows = db.sql(
            """
            SELECT activity_id AS id, id AS exception_id,
                   to_json({'run_id': $run_id, 'owner': $owner, 'rule': rule})::VARCHAR AS data
            FROM x
            """,
            params=run_params,
        ).to_arrow_table()
        event_rows = db.sql(
            """
            SELECT event_id AS id, 'reconciliation.exception.opened' AS type,
                   id AS resource_id,
                   to_json({'run_id': $run_id, 'exception_id': id, 'type': type,
                            'owner': $owner, 'provider_reference': provider_reference})::VARCHAR
                       AS data
            FROM x
            UNION ALL
            SELECT $evt || lpad(CAST(n AS VARCHAR), 10, '0'), 'reconciliation.match.created',
                   $run_id,
                   to_json({'run_id': $run_id, 'rule': rule, 'count': count,
                            'matches': '/reconciliation/runs/' || $run_id || '/matches'})::VARCHAR
            FROM (SELECT rule, count(*) AS count, row_number() OVER (ORDER BY rule) AS n
                  FROM m GROUP BY rule)
            """,
            params={**run_params, **_id_bases("evt")},
        ).to_arrow_table()
    finally:
        db.close()

    scope = {"tenant_id": run.tenant_id}
    written = WrittenOutcome(
        matches=_with_constants(
            match_rows, **scope, run_id=run.id, created_by=MATCHER, reason=None, created_at=now
        ),
        links=_with_constants(link_rows, **scope, run_id=run.id),
        exceptions=_with_constants(
            exception_rows,
            **scope,
            run_id=run.id,
            status="open",
            owner=run.owner,
            assignee=None,
            decision=None,
            note=None,
            created_at=now,
            updated_at=now,
            resolved_at=None,
        ),
    )
    bulk_insert(session, Match.__table__, written.matches)  # type: ignore[arg-type]
    bulk_insert(session, MatchLink.__table__, written.links)  # type: ignore[arg-type]
    bulk_insert(
        session,
        ReconciliationException.__table__,  # type: ignore[arg-type]
        written.exceptions,
    )
    bulk_insert(
        session,
        ExceptionActivity.__table__,  # type: ignore[arg-type]
        _with_constants(
            activity_rows,
            **scope,
            kind="opened",
            actor=MATCHER,
            from_status=None,
            to_status="open",
            decision=None,
            note=None,
            at=now,
        ),
    )
    bulk_insert(
        session,
        OutboxEvent.__table__,  # type: ignore[arg-type]
        _with_constants(event_rows, **scope, created_at=now, published_at=None),
    )
    return written
