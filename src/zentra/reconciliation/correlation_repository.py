"""Queries of late callbacks, restatements, post-close adjustments and status conflicts: the runs
a callback concerns, the open exceptions and matches of a reference in a run, the rows a new
file restates, the adjustments waiting for a run, and the movements whose status says no money
moved. Every query filters by ``tenant_id`` (row-level security repeats it beneath on
PostgreSQL) and reads a bounded set: a run's failed movements, one reference's rows, one file's
row ids."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from zentra.models import (
    ExternalRecord,
    Match,
    MatchLink,
    Movement,
    MovementStateEvent,
    ProviderConnection,
    ReconciliationException,
    ReconciliationRun,
)

OPEN_STATUSES = ("open", "investigating", "reopened")
"""Exception statuses a callback may still change."""


def runs_covering(
    session: Session,
    tenant_id: str,
    provider: str,
    day: date,
    statuses: Iterable[str],
    *,
    share_lock: bool = False,
) -> list[ReconciliationRun]:
    """The provider's runs in one of ``statuses`` whose window contains ``day``, oldest first.

    With ``share_lock`` they are read ``FOR SHARE`` (fresh, in id order) like
    :func:`share_lock_runs`: a closeout in flight finishes first, and a run it sealed meanwhile
    no longer has one of ``statuses`` (PostgreSQL re-checks the condition on the locked row).
    """
    query = (
        select(ReconciliationRun)
        .where(
            ReconciliationRun.tenant_id == tenant_id,
            ReconciliationRun.provider == provider,
            ReconciliationRun.status.in_(list(statuses)),
            ReconciliationRun.window_from <= day,
            ReconciliationRun.window_to >= day,
        )
        .order_by(ReconciliationRun.id)
    )
    if share_lock:
        query = query.with_for_update(read=True).execution_options(populate_existing=True)
    return list(session.scalars(query))


def open_exceptions_of_reference(
    session: Session, tenant_id: str, run: ReconciliationRun, reference_key: str
) -> list[ReconciliationException]:
    """The run's open exceptions about ``reference_key``: those whose external record or
    movement carries that reference key. Locked for this transaction, in id order."""
    records = select(ExternalRecord.id).where(
        ExternalRecord.tenant_id == tenant_id, ExternalRecord.reference_key == reference_key
    )
    movements = select(Movement.movement_id).where(
        Movement.tenant_id == tenant_id,
        Movement.provider == run.provider,
        Movement.reference_key == reference_key,
    )
    query = (
        select(ReconciliationException)
        .where(
            ReconciliationException.tenant_id == tenant_id,
            ReconciliationException.run_id == run.id,
            ReconciliationException.status.in_(OPEN_STATUSES),
            or_(
                ReconciliationException.external_record_id.in_(records),
                ReconciliationException.movement_id.in_(movements),
            ),
        )
        .order_by(ReconciliationException.id)
        .with_for_update()
    )
    return list(session.scalars(query))


def matches_of_reference(
    session: Session, tenant_id: str, run_id: str, reference_key: str
) -> list[tuple[str, str, str, list[str]]]:
    """``(match_id, external_record_id, external type, movement ids)`` for each of the run's
    matches holding a settlement row of ``reference_key``, in match id order."""
    rows = session.execute(
        select(Match.id, ExternalRecord.id, ExternalRecord.type)
        .join(MatchLink, MatchLink.match_id == Match.id)
        .join(ExternalRecord, ExternalRecord.id == MatchLink.external_record_id)
        .where(
            Match.tenant_id == tenant_id,
            Match.run_id == run_id,
            MatchLink.tenant_id == tenant_id,
            ExternalRecord.tenant_id == tenant_id,
            ExternalRecord.reference_key == reference_key,
        )
        .order_by(Match.id, ExternalRecord.id)
    ).all()
    if not rows:
        return []
    first: dict[str, tuple[str, str]] = {}
    for match_id, record_id, record_type in rows:
        first.setdefault(match_id, (record_id, record_type))
    movements: dict[str, list[str]] = {match_id: [] for match_id in first}
    for match_id, movement_id in session.execute(
        select(MatchLink.match_id, MatchLink.movement_id)
        .where(
            MatchLink.tenant_id == tenant_id,
            MatchLink.match_id.in_(list(first)),
            MatchLink.movement_id.is_not(None),
        )
        .order_by(MatchLink.movement_id)
    ):
        if movement_id is not None:
            movements[match_id].append(movement_id)
    return [(match_id, *first[match_id], movements[match_id]) for match_id in first]


def movements_with_status(
    session: Session,
    tenant_id: str,
    provider: str,
    day_from: date,
    day_to: date,
    statuses: Iterable[str],
) -> list[tuple[str, str, str]]:
    """``(movement_id, status, reference_key)`` of the provider's movements dated in
    ``[day_from, day_to]`` whose status (case ignored) is one of ``statuses``, in id order.
    Few rows: the movements that say no money moved."""
    rows = session.execute(
        select(Movement.movement_id, Movement.status, Movement.reference_key)
        .where(
            Movement.tenant_id == tenant_id,
            Movement.provider == provider,
            Movement.occurred_between(day_from, day_to),
            func.lower(Movement.status).in_(sorted(statuses)),
        )
        .order_by(Movement.movement_id)
    )
    return [(movement_id, status, key) for movement_id, status, key in rows]


def status_callbacks(
    session: Session, tenant_id: str, provider: str, reference_keys: Iterable[str], status: str
) -> dict[str, list[str]]:
    """``{reference_key: [callback_id, ...]}``: the callbacks of the provider's connections that
    reported ``status`` for these references (the evidence behind a movement's status)."""
    keys = sorted(set(reference_keys))
    if not keys:
        return {}
    rows = session.execute(
        select(MovementStateEvent.reference_key, MovementStateEvent.callback_id)
        .join(ProviderConnection, ProviderConnection.id == MovementStateEvent.connection_id)
        .where(
            MovementStateEvent.tenant_id == tenant_id,
            ProviderConnection.tenant_id == tenant_id,
            ProviderConnection.name == provider,
            MovementStateEvent.reference_key.in_(keys),
            MovementStateEvent.status == status,
        )
        .order_by(MovementStateEvent.reference_key, MovementStateEvent.callback_id)
    )
    found: dict[str, list[str]] = {}
    for key, callback_id in rows:
        found.setdefault(key, []).append(callback_id)
    return found


def status_conflict_exceptions(
    session: Session, tenant_id: str, run_id: str
) -> list[ReconciliationException]:
    """The run's ``status_conflict`` exceptions, in id order."""
    query = (
        select(ReconciliationException)
        .where(
            ReconciliationException.tenant_id == tenant_id,
            ReconciliationException.run_id == run_id,
            ReconciliationException.type == "status_conflict",
        )
        .order_by(ReconciliationException.id)
    )
    return list(session.scalars(query))


def exception_by_natural_key(
    session: Session, tenant_id: str, natural_key: str, *, lock: bool = False
) -> ReconciliationException | None:
    """The tenant's exception opened under ``natural_key``, if any; with ``lock``, locked
    ``FOR UPDATE`` (re-read, not from the cache) until the transaction ends."""
    query = select(ReconciliationException).where(
        ReconciliationException.tenant_id == tenant_id,
        ReconciliationException.natural_key == natural_key,
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def next_run_after(
    session: Session, tenant_id: str, closed: ReconciliationRun, day: date
) -> ReconciliationRun | None:
    """The first run of ``closed``'s provider created after it, not sealed, whose window covers
    or follows ``day`` (a dry run keeps nothing: never). Read ``FOR SHARE`` so that it cannot be
    sealed before the caller's transaction ends (see :func:`runs_covering`)."""
    query = (
        select(ReconciliationRun)
        .where(
            ReconciliationRun.tenant_id == tenant_id,
            ReconciliationRun.provider == closed.provider,
            ReconciliationRun.id > closed.id,
            ReconciliationRun.status.in_(["created", "matching", "review", "failed"]),
            ReconciliationRun.window_to >= day,
            ReconciliationRun.dry_run.is_(False),
        )
        .order_by(ReconciliationRun.id)
        .limit(1)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).first()


def waiting_post_close_adjustments(
    session: Session, tenant_id: str, provider: str, until: date, types: Iterable[str]
) -> list[ReconciliationException]:
    """Post-close adjustments (exceptions of ``types``) of ``provider`` not attached to a run
    yet, dated on or before ``until``, in id order, locked for this transaction.

    An adjustment belongs to the provider through its connection (a callback's) or, when the
    provider has no connection (a file-only provider), through its settlement row."""
    connections = select(ProviderConnection.id).where(
        ProviderConnection.tenant_id == tenant_id, ProviderConnection.name == provider
    )
    query = (
        select(ReconciliationException)
        .outerjoin(
            ExternalRecord,
            and_(
                ExternalRecord.tenant_id == tenant_id,
                ExternalRecord.id == ReconciliationException.external_record_id,
            ),
        )
        .where(
            ReconciliationException.tenant_id == tenant_id,
            ReconciliationException.type.in_(sorted(set(types))),
            ReconciliationException.run_id.is_(None),
            ReconciliationException.business_date <= until,
            or_(
                ReconciliationException.connection_id.in_(connections),
                ExternalRecord.provider == provider,
            ),
        )
        .order_by(ReconciliationException.id)
        .with_for_update(of=ReconciliationException)
    )
    return list(session.scalars(query))


def connection_of_provider(session: Session, tenant_id: str, provider: str) -> str | None:
    """The id of the tenant's connection named ``provider`` (None for a file-only provider)."""
    query = select(ProviderConnection.id).where(
        ProviderConnection.tenant_id == tenant_id, ProviderConnection.name == provider
    )
    return session.scalars(query).first()


def restated_rows(
    session: Session,
    tenant_id: str,
    settlement_file_id: str,
    provider: str,
    statuses: Iterable[str],
) -> list[tuple[str, str, str]]:
    """``(run_id, earlier record id, new record id)``: for each row of the file whose ``row_id``
    a row of another file of ``provider`` carried with another content hash, where that other
    file is the input of a run (not a dry run) in one of ``statuses``. Sorted by run, row id,
    earlier and new record id.

    Driven by the new file's rows (its index), each probing the earlier rows of its row id;
    skipped at once when the provider has no such run (its first files: a million probes saved).
    """
    run_filter = (
        ReconciliationRun.tenant_id == tenant_id,
        ReconciliationRun.provider == provider,
        ReconciliationRun.status.in_(sorted(set(statuses))),
        ReconciliationRun.dry_run.is_(False),
    )
    if session.scalars(select(ReconciliationRun.id).where(*run_filter).limit(1)).first() is None:
        return []
    new = aliased(ExternalRecord)
    earlier = aliased(ExternalRecord)
    query = (
        select(ReconciliationRun.id, earlier.id, new.id)
        .select_from(new)
        .join(
            earlier,
            and_(
                earlier.tenant_id == tenant_id,
                earlier.row_id == new.row_id,
                earlier.provider == new.provider,
                earlier.content_hash != new.content_hash,
            ),
        )
        .join(ReconciliationRun, ReconciliationRun.settlement_file_id == earlier.settlement_file_id)
        .where(
            new.tenant_id == tenant_id,
            new.settlement_file_id == settlement_file_id,
            new.row_id.is_not(None),
            earlier.row_id.is_not(None),
            earlier.settlement_file_id != settlement_file_id,
            *run_filter,
        )
        .order_by(ReconciliationRun.id, new.row_id, earlier.id, new.id)
    )
    return [(run_id, earlier_id, new_id) for run_id, earlier_id, new_id in session.execute(query)]


def share_lock_runs(
    session: Session, tenant_id: str, run_ids: Iterable[str]
) -> list[ReconciliationRun]:
    """The tenant's runs ``run_ids`` read ``FOR SHARE`` (re-read, not from the cache), in id
    order: a closeout (``FOR UPDATE``) of one of them waits for this transaction, or this one
    waits for it and then sees the run sealed."""
    ids = sorted(set(run_ids))
    if not ids:
        return []
    query = (
        select(ReconciliationRun)
        .where(ReconciliationRun.tenant_id == tenant_id, ReconciliationRun.id.in_(ids))
        .order_by(ReconciliationRun.id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def get_movement(session: Session, tenant_id: str, movement_id: str) -> Movement | None:
    """The tenant's movement with this (client-chosen) ``movement_id``."""
    query = select(Movement).where(
        Movement.tenant_id == tenant_id, Movement.movement_id == movement_id
    )
    return session.scalars(query).first()


def get_external_record(session: Session, tenant_id: str, record_id: str) -> ExternalRecord | None:
    """The tenant's external record ``record_id``."""
    query = select(ExternalRecord).where(
        ExternalRecord.tenant_id == tenant_id, ExternalRecord.id == record_id
    )
    return session.scalars(query).first()
