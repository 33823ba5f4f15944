"""Queries on settlement files, external records and movements. Every query filters tenant_id.

Bulk writes go through ``session.execute(insert(Model), rows)``: one executemany per chunk, no
ORM object per row. A file's raw bytes are loaded only when asked for (``content`` is deferred).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, cast

import psycopg
import pyarrow as pa
from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from zentra.kit.bulk import bulk_insert
from zentra.models import ExternalRecord, Movement, SettlementFile

INSERT_CHUNK = 5000
"""Rows per executemany: large enough to amortize round trips, small enough to bound memory."""


def find_file_by_sha256(
    session: Session, tenant_id: str, provider: str, sha256: str
) -> SettlementFile | None:
    """The tenant's file of ``provider`` with these exact bytes, if any."""
    query = (
        select(SettlementFile)
        .options(defer(SettlementFile.content))
        .where(
            SettlementFile.tenant_id == tenant_id,
            SettlementFile.provider == provider,
            SettlementFile.sha256 == sha256,
        )
    )
    return session.scalars(query).first()


def file_ids_with_file_id(
    session: Session, tenant_id: str, provider: str, file_id: str
) -> list[str]:
    """Ids of the tenant's earlier files of ``provider`` uploaded under the same ``file_id``."""
    query = (
        select(SettlementFile.id)
        .where(
            SettlementFile.tenant_id == tenant_id,
            SettlementFile.provider == provider,
            SettlementFile.file_id == file_id,
        )
        .order_by(SettlementFile.id)
    )
    return list(session.scalars(query))


def add_file(session: Session, file: SettlementFile) -> bool:
    """Insert ``file`` in a savepoint; False when the same bytes of the same provider already
    exist (a concurrent upload committed first), leaving the transaction usable."""
    try:
        with session.begin_nested():
            session.add(file)
    except IntegrityError:
        return False
    return True


def get_file(session: Session, tenant_id: str, file_id: str) -> SettlementFile | None:
    """The tenant's file with id ``file_id`` (None for another tenant's id)."""
    query = (
        select(SettlementFile)
        .options(defer(SettlementFile.content))
        .where(SettlementFile.tenant_id == tenant_id, SettlementFile.id == file_id)
    )
    return session.scalars(query).first()


def list_files(
    session: Session,
    tenant_id: str,
    *,
    limit: int,
    after_id: str | None = None,
    provider: str | None = None,
) -> list[SettlementFile]:
    """Up to ``limit`` files in id (upload) order after ``after_id``."""
    query = (
        select(SettlementFile)
        .options(defer(SettlementFile.content))
        .where(SettlementFile.tenant_id == tenant_id)
    )
    if after_id is not None:
        query = query.where(SettlementFile.id > after_id)
    if provider is not None:
        query = query.where(SettlementFile.provider == provider)
    return list(session.scalars(query.order_by(SettlementFile.id).limit(limit)))


def insert_external_records(session: Session, rows: pa.Table) -> None:
    """Insert external record rows (an Arrow table keyed by column names) in bulk."""
    bulk_insert(session, cast(Table, ExternalRecord.__table__), rows)


def list_external_records(
    session: Session,
    tenant_id: str,
    settlement_file_id: str,
    *,
    limit: int,
    after_id: str | None = None,
) -> list[ExternalRecord]:
    """Up to ``limit`` records of one file in id order (the file's row order) after ``after_id``."""
    query = select(ExternalRecord).where(
        ExternalRecord.tenant_id == tenant_id,
        ExternalRecord.settlement_file_id == settlement_file_id,
    )
    if after_id is not None:
        query = query.where(ExternalRecord.id > after_id)
    return list(session.scalars(query.order_by(ExternalRecord.id).limit(limit)))


def find_movements(
    session: Session, tenant_id: str, movement_ids: Sequence[str]
) -> dict[str, Movement]:
    """The tenant's movements among ``movement_ids`` (one query; callers chunk), by movement id."""
    if not movement_ids:
        return {}
    query = select(Movement).where(
        Movement.tenant_id == tenant_id, Movement.movement_id.in_(movement_ids)
    )
    return {movement.movement_id: movement for movement in session.scalars(query)}


LOOKUP_CHUNK = 30_000
"""Movement ids per lookup query: under SQLite's 32766 bound parameters."""


def tenant_has_movements(session: Session, tenant_id: str) -> bool:
    """Whether the tenant has any movement at all (one indexed probe)."""
    query = select(Movement.id).where(Movement.tenant_id == tenant_id).limit(1)
    return session.scalars(query).first() is not None


def find_movements_chunked(
    session: Session, tenant_id: str, movement_ids: Sequence[str]
) -> dict[str, Movement]:
    """:func:`find_movements` over any number of ids, :data:`LOOKUP_CHUNK` per query."""
    found: dict[str, Movement] = {}
    for start in range(0, len(movement_ids), LOOKUP_CHUNK):
        found.update(find_movements(session, tenant_id, movement_ids[start : start + LOOKUP_CHUNK]))
    return found


def insert_movement_table(session: Session, rows: pa.Table) -> bool:
    """Insert movement rows (an Arrow table keyed by column names) in bulk, in a savepoint.

    False (nothing inserted, the transaction usable) when one of their movement ids was
    inserted meanwhile by a concurrent import.
    """
    if rows.num_rows == 0:
        return True
    try:
        with session.begin_nested():
            bulk_insert(session, cast(Table, Movement.__table__), rows)
    except (IntegrityError, sqlite3.IntegrityError, psycopg.errors.UniqueViolation):
        # bulk_insert runs beneath SQLAlchemy: the driver's own error, not IntegrityError.
        return False
    return True


def insert_movements(session: Session, rows: Sequence[dict[str, Any]]) -> bool:
    """Insert movement rows in a savepoint; False (nothing inserted) when one of their movement
    ids was inserted meanwhile by a concurrent import."""
    try:
        with session.begin_nested():
            for start in range(0, len(rows), INSERT_CHUNK):
                session.execute(insert(Movement), list(rows[start : start + INSERT_CHUNK]))
    except IntegrityError:
        return False
    return True


def list_movements(
    session: Session,
    tenant_id: str,
    *,
    limit: int,
    after_id: str | None = None,
    provider: str | None = None,
    reference_key: str | None = None,
) -> list[Movement]:
    """Up to ``limit`` movements in id order after ``after_id``, optionally filtered."""
    query = select(Movement).where(Movement.tenant_id == tenant_id)
    if after_id is not None:
        query = query.where(Movement.id > after_id)
    if provider is not None:
        query = query.where(Movement.provider == provider)
    if reference_key is not None:
        query = query.where(Movement.reference_key == reference_key)
    return list(session.scalars(query.order_by(Movement.id).limit(limit)))
