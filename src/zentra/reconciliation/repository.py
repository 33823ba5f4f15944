"""Queries on runs, matches and the records a run reads. Bulk reads and writes only: nothing
on the matching path runs one query per record.

A run's two sides come as raw Arrow columns (:data:`EXTERNAL_COLUMNS`, :data:`MOVEMENT_COLUMNS`
plus ``in_window``) either read from the store (:func:`load_external_columns`,
:func:`load_movement_columns`) or projected from the rows an ingest just wrote and still holds
(:func:`external_columns_of`, :func:`movement_columns_of`): the same columns and values, the
window decided by one function (:func:`movements_in_window`) on both paths."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from zentra.kit.columnar import fetch_arrow
from zentra.models import (
    ExternalRecord,
    Match,
    MatchLink,
    Movement,
    OutboxEvent,
    ReconciliationException,
    ReconciliationRun,
    SettlementFile,
)


def get_run(session: Session, tenant_id: str, run_id: str) -> ReconciliationRun | None:
    """The tenant's run with this id, if any."""
    return session.scalars(
        select(ReconciliationRun).where(
            ReconciliationRun.tenant_id == tenant_id, ReconciliationRun.id == run_id
        )
    ).first()


def lock_run(session: Session, tenant_id: str, run_id: str) -> ReconciliationRun | None:
    """The tenant's run, locked until the transaction ends."""
    return session.scalars(
        select(ReconciliationRun)
        .where(ReconciliationRun.tenant_id == tenant_id, ReconciliationRun.id == run_id)
        .with_for_update()
    ).first()


def list_runs(
    session: Session,
    tenant_id: str,
    *,
    limit: int,
    after_id: str | None,
    status: str | None,
    provider: str | None,
    owner: str | None,
    covering: date | None,
) -> list[ReconciliationRun]:
    """Runs in id order, filtered; ``covering`` keeps runs whose window contains that date."""
    query = select(ReconciliationRun).where(ReconciliationRun.tenant_id == tenant_id)
    if after_id is not None:
        query = query.where(ReconciliationRun.id > after_id)
    if status is not None:
        query = query.where(ReconciliationRun.status == status)
    if provider is not None:
        query = query.where(ReconciliationRun.provider == provider)
    if owner is not None:
        query = query.where(ReconciliationRun.owner == owner)
    if covering is not None:
        query = query.where(
            ReconciliationRun.window_from <= covering, ReconciliationRun.window_to >= covering
        )
    return list(session.scalars(query.order_by(ReconciliationRun.id).limit(limit)))


def find_settlement_file(session: Session, tenant_id: str, reference: str) -> SettlementFile | None:
    """A settlement file by its id or by the client's ``file_id`` (the newest such upload)."""
    return session.scalars(
        select(SettlementFile)
        .where(
            SettlementFile.tenant_id == tenant_id,
            or_(SettlementFile.id == reference, SettlementFile.file_id == reference),
        )
        .order_by(SettlementFile.id.desc())
    ).first()


def get_settlement_file(session: Session, tenant_id: str, file_id: str) -> SettlementFile | None:
    """A settlement file by id."""
    return session.scalars(
        select(SettlementFile).where(
            SettlementFile.tenant_id == tenant_id, SettlementFile.id == file_id
        )
    ).first()


EXTERNAL_COLUMNS = pa.schema(
    [
        ("id", pa.string()),
        ("content_hash", pa.string()),
        ("provider_reference", pa.string()),
        ("reference_key", pa.string()),
        ("type", pa.string()),
        ("amount_minor", pa.int64()),
        ("fee_minor", pa.int64()),
        ("currency", pa.string()),
        ("booked_at", pa.timestamp("us", tz="UTC")),
        ("description", pa.string()),
        ("counterparty", pa.string()),
        ("group_key", pa.string()),
    ]
)

MOVEMENT_COLUMNS = pa.schema(
    [
        ("movement_id", pa.string()),
        ("provider_reference", pa.string()),
        ("reference_key", pa.string()),
        ("type", pa.string()),
        ("amount_minor", pa.int64()),
        ("currency", pa.string()),
        ("occurred_on", pa.date32()),
        ("content_hash", pa.string()),
        ("metadata_json", pa.string()),
    ]
)


def load_external_columns(session: Session, tenant_id: str, settlement_file_id: str) -> pa.Table:
    """The file's external records as raw Arrow columns (``EXTERNAL_COLUMNS``), in one query."""
    query = select(*(getattr(ExternalRecord, name) for name in EXTERNAL_COLUMNS.names)).where(
        ExternalRecord.tenant_id == tenant_id,
        ExternalRecord.settlement_file_id == settlement_file_id,
    )
    return fetch_arrow(session, query, EXTERNAL_COLUMNS)


def external_columns_of(records: pa.Table) -> pa.Table:
    """:func:`load_external_columns`' answer from the ``external_records`` rows of one file as
    they were inserted (an upload's :attr:`~zentra.ingest.service.files.UploadResult.records`),
    without reading the store. Rows come in insertion order; a run does not depend on order."""
    return records.select(EXTERNAL_COLUMNS.names).cast(EXTERNAL_COLUMNS)


def load_movement_columns(
    session: Session,
    tenant_id: str,
    provider: str,
    candidates_from: date,
    window_from: date,
    window_to: date,
) -> pa.Table:
    """The provider's movements from ``candidates_from`` to ``window_to`` as raw Arrow columns
    (``MOVEMENT_COLUMNS``, metadata as JSON text), with ``in_window`` true for those inside
    ``[window_from, window_to]``; one query."""
    query = select(
        Movement.movement_id,
        Movement.provider_reference,
        Movement.reference_key,
        Movement.type,
        Movement.amount_minor,
        Movement.currency,
        Movement.occurred_on,
        Movement.content_hash,
        cast(Movement.metadata_, Text),
    ).where(
        Movement.tenant_id == tenant_id,
        Movement.provider == provider,
        Movement.occurred_between(candidates_from, window_to),
    )
    table = fetch_arrow(session, query, MOVEMENT_COLUMNS)
    return movements_in_window(table, candidates_from, window_from, window_to)


def movement_columns_of(
    rows: pa.Table,
    provider: str,
    candidates_from: date,
    window_from: date,
    window_to: date,
) -> pa.Table:
    """:func:`load_movement_columns`' answer from ``movements`` rows as they were inserted (a
    columnar import's :attr:`~zentra.ingest.service.movements.ImportResult.inserted`: metadata
    as the JSON text written), without reading the store: the provider's rows, then the same
    window as the query. Only a caller whose store holds no other movements of the tenant may
    use it. The metadata text is what SQLite hands back; PostgreSQL's ``jsonb`` renders the same
    JSON value in its own key order and spacing. Rows come in insertion order."""
    mine = _keep(rows, pc.equal(rows["provider"], pa.scalar(provider, pa.string())))
    stored_as = {"metadata_json": "metadata"}  # the column's name in the movements table
    columns = pa.table(
        {name: mine[stored_as.get(name, name)] for name in MOVEMENT_COLUMNS.names}
    ).cast(MOVEMENT_COLUMNS)
    return movements_in_window(columns, candidates_from, window_from, window_to)


def movements_in_window(
    table: pa.Table, candidates_from: date, window_from: date, window_to: date
) -> pa.Table:
    """The rows of ``table`` (``MOVEMENT_COLUMNS``) with ``occurred_on`` from ``candidates_from``
    to ``window_to`` inclusive, with ``in_window`` appended: true for those inside
    ``[window_from, window_to]``, false for look-back candidates. Both the store's and the
    in-memory path go through here, so they cannot disagree on a boundary."""

    def between(column: pa.ChunkedArray, first: date, last: date) -> pa.ChunkedArray:
        return pc.and_(
            pc.greater_equal(column, pa.scalar(first, pa.date32())),
            pc.less_equal(column, pa.scalar(last, pa.date32())),
        )

    kept = _keep(table, between(table["occurred_on"], candidates_from, window_to))
    return kept.append_column("in_window", between(kept["occurred_on"], window_from, window_to))


def _keep(table: pa.Table, mask: pa.ChunkedArray) -> pa.Table:
    """``table.filter(mask)``, without copying a table the mask keeps whole (the store's rows
    are in range already; a one-shot's movements are usually all of one provider)."""
    return table if pc.all(mask, skip_nulls=False).as_py() else table.filter(mask)


def exception_counts_by_status(session: Session, tenant_id: str, run_id: str) -> dict[str, int]:
    """``{status: count}`` of the run's exceptions."""
    rows = session.execute(
        select(ReconciliationException.status, func.count())
        .where(
            ReconciliationException.tenant_id == tenant_id,
            ReconciliationException.run_id == run_id,
        )
        .group_by(ReconciliationException.status)
    ).all()
    return {status: int(count) for status, count in rows}


def exception_counts_by_run(
    session: Session, tenant_id: str, run_ids: list[str]
) -> dict[str, dict[str, int]]:
    """``{run_id: {status: count}}`` for several runs, in one query."""
    counts: dict[str, dict[str, int]] = {run_id: {} for run_id in run_ids}
    if not run_ids:
        return counts
    rows = session.execute(
        select(ReconciliationException.run_id, ReconciliationException.status, func.count())
        .where(
            ReconciliationException.tenant_id == tenant_id,
            ReconciliationException.run_id.in_(run_ids),
        )
        .group_by(ReconciliationException.run_id, ReconciliationException.status)
    ).all()
    for run_id, status, count in rows:
        if run_id is not None:  # always, given the filter; exceptions without a run exist
            counts[run_id][status] = int(count)
    return counts


def list_matches(
    session: Session, tenant_id: str, run_id: str, *, limit: int, after_id: str | None
) -> list[tuple[Match, list[MatchLink]]]:
    """A page of the run's matches with their links (two queries per page)."""
    query = select(Match).where(Match.tenant_id == tenant_id, Match.run_id == run_id)
    if after_id is not None:
        query = query.where(Match.id > after_id)
    matches = list(session.scalars(query.order_by(Match.id).limit(limit)))
    links_by_match: dict[str, list[MatchLink]] = {m.id: [] for m in matches}
    if matches:
        links = session.scalars(
            select(MatchLink)
            .where(MatchLink.tenant_id == tenant_id, MatchLink.match_id.in_(links_by_match))
            .order_by(MatchLink.id)
        )
        for link in links:
            links_by_match[link.match_id].append(link)
    return [(m, links_by_match[m.id]) for m in matches]


def list_run_events(
    session: Session, tenant_id: str, run_id: str, *, limit: int, after_id: str | None
) -> list[OutboxEvent]:
    """Events about the run itself or about its exceptions, in creation order."""
    exception_ids = select(ReconciliationException.id).where(
        ReconciliationException.tenant_id == tenant_id, ReconciliationException.run_id == run_id
    )
    query = select(OutboxEvent).where(
        OutboxEvent.tenant_id == tenant_id,
        or_(OutboxEvent.resource_id == run_id, OutboxEvent.resource_id.in_(exception_ids)),
    )
    if after_id is not None:
        query = query.where(OutboxEvent.id > after_id)
    return list(session.scalars(query.order_by(OutboxEvent.id).limit(limit)))


MATCH_COLUMNS = pa.schema(
    [
        ("rule", pa.string()),
        ("kind", pa.string()),
        ("external_row_ids", pa.string()),
        ("movement_ids", pa.string()),
    ]
)


EXCEPTION_COLUMNS = pa.schema(
    [
        ("type", pa.string()),
        ("provider_reference", pa.string()),
        ("external_row_id", pa.string()),
        ("movement_id", pa.string()),
        ("amount_minor", pa.int64()),
        ("currency", pa.string()),
        ("owner", pa.string()),
        ("status", pa.string()),
    ]
)


def match_columns(session: Session, tenant_id: str, run_id: str) -> pa.Table:
    """One row per match of the run (``MATCH_COLUMNS``) with its members joined by ``;`` in no
    particular order; an external row is named by its file's ``row_id`` where it has one.
    Aggregated in the database, so each match crosses the driver once."""
    query = (
        select(
            Match.rule,
            Match.kind,
            func.aggregate_strings(func.coalesce(ExternalRecord.row_id, ExternalRecord.id), ";"),
            func.aggregate_strings(MatchLink.movement_id, ";"),
        )
        .select_from(MatchLink)
        .join(Match, Match.id == MatchLink.match_id)
        .outerjoin(ExternalRecord, ExternalRecord.id == MatchLink.external_record_id)
        .where(MatchLink.tenant_id == tenant_id, MatchLink.run_id == run_id)
        .group_by(MatchLink.match_id, Match.rule, Match.kind)
    )
    return fetch_arrow(session, query, MATCH_COLUMNS)


def exception_columns(session: Session, tenant_id: str, run_id: str) -> pa.Table:
    """The run's exceptions (``EXCEPTION_COLUMNS``) for reports."""
    query = (
        select(
            ReconciliationException.type,
            ReconciliationException.provider_reference,
            func.coalesce(ExternalRecord.row_id, ExternalRecord.id),
            ReconciliationException.movement_id,
            ReconciliationException.amount_minor,
            ReconciliationException.currency,
            ReconciliationException.owner,
            ReconciliationException.status,
        )
        .outerjoin(ExternalRecord, ExternalRecord.id == ReconciliationException.external_record_id)
        .where(
            ReconciliationException.tenant_id == tenant_id,
            ReconciliationException.run_id == run_id,
        )
    )
    return fetch_arrow(session, query, EXCEPTION_COLUMNS)


def list_run_exceptions(
    session: Session, tenant_id: str, run_id: str
) -> list[ReconciliationException]:
    """All of the run's exceptions, ordered by type and reference."""
    return list(
        session.scalars(
            select(ReconciliationException)
            .where(
                ReconciliationException.tenant_id == tenant_id,
                ReconciliationException.run_id == run_id,
            )
            .order_by(
                ReconciliationException.type,
                ReconciliationException.provider_reference,
                ReconciliationException.id,
            )
        )
    )


def movement_date_span(session: Session, tenant_id: str, provider: str) -> tuple[date, date] | None:
    """The first and last ``occurred_on`` of the provider's movements, if it has any.

    Read as the days of the earliest and latest ``occurred_at`` (``occurred_on`` is its UTC
    day, so it orders the same): two probes at the ends of the provider's time index instead
    of a scan of every movement (6 s at a million on SQLite)."""
    scope = select(Movement.occurred_on).where(
        Movement.tenant_id == tenant_id, Movement.provider == provider
    )
    first = session.scalars(scope.order_by(Movement.occurred_at).limit(1)).first()
    if first is None:
        return None
    last = session.scalars(scope.order_by(Movement.occurred_at.desc()).limit(1)).one()
    return first, last
