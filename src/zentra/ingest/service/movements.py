"""Movement imports (NDJSON or CSV): validated per row, stored in bulk, replay-safe.

The same movement imported again with the same content changes nothing; with other content it is
refused per row, naming the fields that differ. Nothing here commits.

A columnar import hands back the ``movements`` rows it inserted as the Arrow table it wrote
(:attr:`ImportResult.inserted`), and says whether any movement it named was stored before it
(:attr:`ImportResult.fresh`): a caller that knows its store held nothing else (``zentra
reconcile`` on its temporary store) can match those rows without reading them back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, Literal, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rfc8785 import CanonicalizationError
from sqlalchemy.orm import Session

from zentra.audit.service import record_audit
from zentra.ingest import movements_columnar, repository
from zentra.ingest.bulk_values import new_ids, reference_keys
from zentra.ingest.hashing import (
    movement_content,
    movement_content_hash,
)
from zentra.ingest.movement_rows import (
    CSV_MEDIA_TYPES,
    NDJSON_MEDIA_TYPES,
    MovementInput,
    SourceRow,
    number_rows,
    read_csv_rows,
    read_movement,
    read_ndjson_rows,
)
from zentra.ingest.movements_columnar import ColumnarMovements
from zentra.kit.context import ActorContext
from zentra.kit.errors import Conflict, InvalidInput
from zentra.kit.ids import new_id
from zentra.kit.pagination import clamp_limit, page_of
from zentra.kit.references import reference_key
from zentra.kit.time import utcnow
from zentra.models import Movement
from zentra.providers.service import apply_held_movement_state

MOVEMENT_CHUNK = 1000
"""Movements validated, looked up (one query) and inserted together."""

_INSERT_ATTEMPTS = 3
_US_PER_DAY = 86_400_000_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class MovementRejection:
    """A row of an import that was refused: its line, its movement id when readable, why."""

    line: int
    movement_id: str | None
    reason: str


@dataclass(slots=True)
class ImportResult:
    """Per-row outcome counts of one import, every refused row with its reason, and what it
    stored.

    ``inserted`` is the ``movements`` rows this import inserted, exactly as written (the bulk
    insert's columns: ``id``, ``provider``, ``occurred_on``, ``metadata`` as JSON text...), from
    the columnar path; None from the per-row path. It is a by-product, not an outcome: results
    compare equal without it. ``fresh`` is False when any movement id of this import was already
    stored (so counted ``unchanged``, or refused for differing from the stored one):
    ``inserted`` then does not hold every movement of the import the store holds.
    """

    imported: int = 0
    unchanged: int = 0
    rejected: list[MovementRejection] = field(default_factory=list)
    inserted: pa.Table | None = field(default=None, compare=False, repr=False)
    fresh: bool = True


@dataclass(frozen=True, slots=True)
class _Candidate:
    line: int
    movement: MovementInput
    content: dict[str, Any]
    content_hash: str


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _stored_content(movement: Movement) -> dict[str, Any]:
    return movement_content(
        movement_id=movement.movement_id,
        type=movement.type,
        provider=movement.provider,
        provider_reference=movement.provider_reference,
        amount_minor=movement.amount_minor,
        currency=movement.currency,
        status=movement.status,
        occurred_at=movement.occurred_at,
        ledger_entry_id=movement.ledger_entry_id,
        metadata=movement.metadata_,
    )


def _differing_fields(new: dict[str, Any], old: dict[str, Any]) -> str:
    return ", ".join(name for name in new if new[name] != old.get(name))


def _movement_row(candidate: _Candidate, tenant_id: str, now: datetime) -> dict[str, Any]:
    movement = candidate.movement
    return {
        "id": new_id("mov"),
        "tenant_id": tenant_id,
        "movement_id": movement.movement_id,
        "type": movement.type,
        "provider": movement.provider,
        "provider_reference": movement.provider_reference,
        "reference_key": reference_key(movement.provider_reference),
        "amount_minor": movement.amount_minor,
        "currency": movement.currency,
        "status": movement.status,
        "occurred_at": movement.occurred_at,
        "occurred_on": movement.occurred_at.date(),  # occurred_at is UTC already
        "ledger_entry_id": movement.ledger_entry_id,
        "metadata_": movement.metadata,
        "content_hash": candidate.content_hash,
        "created_at": now,
    }


def _store_candidates(
    session: Session, tenant_id: str, candidates: list[_Candidate], result: ImportResult
) -> set[str]:
    """Insert the new movements among ``candidates``; return the movement ids refused.

    A movement id already stored with the same content is unchanged; with other content it is
    refused naming the differing fields. Should a concurrent import insert one of these ids
    between lookup and insert, the savepoint is rolled back and the chunk classified again.
    """
    now = utcnow()
    for _attempt in range(_INSERT_ATTEMPTS):
        stored = repository.find_movements(
            session, tenant_id, [c.movement.movement_id for c in candidates]
        )
        new_rows: list[dict[str, Any]] = []
        unchanged = 0
        rejections: list[MovementRejection] = []
        for candidate in candidates:
            existing = stored.get(candidate.movement.movement_id)
            if existing is None:
                new_rows.append(_movement_row(candidate, tenant_id, now))
                continue
            # Compared on content, not on the stored hash: movements created elsewhere (intents)
            # may not carry an import's hash, and the reason must name the fields anyway.
            old = _stored_content(existing)
            if old == candidate.content:
                unchanged += 1
            else:
                rejections.append(
                    MovementRejection(
                        candidate.line,
                        candidate.movement.movement_id,
                        "movement already imported with different content: "
                        f"{_differing_fields(candidate.content, old)} differ",
                    )
                )
        if not new_rows or repository.insert_movements(session, new_rows):
            result.imported += len(new_rows)
            result.unchanged += unchanged
            result.rejected.extend(rejections)
            result.fresh = result.fresh and not stored
            return {r.movement_id for r in rejections if r.movement_id is not None}
    raise Conflict("movements are being imported concurrently with these ids; retry the import")


_UNREPRESENTABLE_METADATA = (
    "metadata holds a number canonical JSON cannot represent exactly "
    "(a non-finite number or an integer beyond 2**53 - 1)"
)


def _read_source_row(row: SourceRow) -> _Candidate | MovementRejection:
    """One source row through the per-row reader: a candidate movement, or why it is refused."""
    if row.fields is None:
        return MovementRejection(row.line, None, row.error or "bad row")
    hint = row.fields.get("movement_id")
    hint = hint.strip() if isinstance(hint, str) and hint.strip() else None
    try:
        movement = read_movement(row.fields)
        content = movement_content(**movement._asdict())
        content_hash = movement_content_hash(**movement._asdict())
    except InvalidInput as exc:
        return MovementRejection(row.line, hint, exc.detail)
    except CanonicalizationError:
        return MovementRejection(row.line, hint, _UNREPRESENTABLE_METADATA)
    return _Candidate(row.line, movement, content, content_hash)


def _import_rows(
    session: Session, ctx: ActorContext, rows: Iterable[SourceRow], *, source: str
) -> ImportResult:
    ctx.require_role("service")
    result = ImportResult()
    # First occurrence of each movement id in this import: (hash, content, line).
    first_seen: dict[str, tuple[str, dict[str, Any], int]] = {}
    refused_ids: set[str] = set()
    for chunk in _batched(rows, MOVEMENT_CHUNK):
        candidates: list[_Candidate] = []
        repeats: list[_Candidate] = []
        for row in chunk:
            candidate = _read_source_row(row)
            if isinstance(candidate, MovementRejection):
                result.rejected.append(candidate)
                continue
            movement = candidate.movement
            if movement.movement_id in first_seen:
                repeats.append(candidate)
            else:
                first_seen[movement.movement_id] = (
                    candidate.content_hash,
                    candidate.content,
                    row.line,
                )
                candidates.append(candidate)
        if candidates:
            refused_ids |= _store_candidates(session, ctx.tenant_id, candidates, result)
        for repeat in repeats:
            first_hash, first_content, first_line = first_seen[repeat.movement.movement_id]
            if repeat.movement.movement_id in refused_ids:
                reason = f"repeats line {first_line}, which was refused"
            elif repeat.content_hash == first_hash:
                result.unchanged += 1
                continue
            else:
                fields = _differing_fields(repeat.content, first_content)
                reason = (
                    f"movement_id appears earlier in this import (line {first_line}) "
                    f"with different {fields}"
                )
            result.rejected.append(
                MovementRejection(repeat.line, repeat.movement.movement_id, reason)
            )
    _finish_import(session, ctx, result, source)
    return result


def _finish_import(session: Session, ctx: ActorContext, result: ImportResult, source: str) -> None:
    result.rejected.sort(key=lambda rejection: rejection.line)
    if result.imported:
        # Provider callbacks may have reported these movements' status before they existed.
        session.flush()
        apply_held_movement_state(session, ctx)
    record_audit(
        session,
        ctx,
        "movements.imported",
        "movement_import",
        ctx.request_id or new_id("req"),
        details={
            "source": source,
            "imported": result.imported,
            "unchanged": result.unchanged,
            "rejected": len(result.rejected),
        },
    )


def _stored_movement_content(row: dict[str, Any]) -> dict[str, Any]:
    """:func:`movement_content` of one row of a columnar movements table (as Python values)."""
    return movement_content(
        movement_id=row["movement_id"],
        type=row["type"],
        provider=row["provider"],
        provider_reference=row["provider_reference"],
        amount_minor=row["amount_minor"],
        currency=row["currency"],
        status=row["status"],
        occurred_at=row["occurred_at"],
        ledger_entry_id=row["ledger_entry_id"],
        metadata=json.loads(row["metadata"]),
    )


def _movement_table_rows(table: pa.Table, tenant_id: str) -> pa.Table:
    """The ``movements`` rows of accepted new movements, as columns for bulk insert.

    Ids are made in line order, as the per-row path makes them.
    """
    count = table.num_rows
    occurred = table.column("occurred_at").combine_chunks()
    micros = pc.cast(occurred, pa.int64()).to_numpy()
    # floor division: occurred_on is the UTC date, also before 1970.
    days = pa.array(np.floor_divide(micros, _US_PER_DAY).astype(np.int32), pa.int32())

    def constant(value: Any, kind: pa.DataType) -> pa.Array:
        return pa.repeat(pa.scalar(value, kind), count)

    return pa.table(
        {
            "id": new_ids("mov", count),
            "tenant_id": constant(tenant_id, pa.string()),
            "movement_id": table.column("movement_id"),
            "type": table.column("type"),
            "provider": table.column("provider"),
            "provider_reference": table.column("provider_reference"),
            "reference_key": reference_keys(table.column("provider_reference")),
            "amount_minor": table.column("amount_minor"),
            "currency": table.column("currency"),
            "status": table.column("status"),
            "occurred_at": occurred,
            "occurred_on": days.view(pa.date32()),
            "ledger_entry_id": table.column("ledger_entry_id"),
            "metadata": table.column("metadata"),
            "content_hash": table.column("content_hash"),
            "created_at": constant(utcnow(), movements_columnar.UTC_MICROS),
        }
    )


def _first_occurrences(ids: pa.Array) -> np.ndarray:
    """For each row, the index of the first row with the same movement id."""
    codes = pc.index_in(ids, value_set=pc.unique(ids)).to_numpy()
    _, first = np.unique(codes, return_index=True)  # ``unique`` lists values by first sight
    return first[codes]  # type: ignore[no-any-return]


def _import_columnar(
    session: Session, ctx: ActorContext, read: ColumnarMovements, *, source: str
) -> ImportResult:
    """Import movements read column-wise; the same outcome as :func:`_import_rows`, row by row.

    Rows the columnar read left to Python go through :func:`_read_source_row`. Then, in line
    order: the first row of each movement id is new (inserted), stored with the same content
    (unchanged) or stored with other content (refused naming the fields); a later row of the
    same id repeats a refused row, equals the first (unchanged) or differs (refused). Only
    movement ids already stored are compared field by field; a tenant without movements skips
    the lookup altogether.
    """
    ctx.require_role("service")
    result = ImportResult()
    python_lines: list[int] = []
    python_movements: list[MovementInput] = []
    python_hashes: list[str] = []
    for row in read.python_rows:
        candidate = _read_source_row(row)
        if isinstance(candidate, MovementRejection):
            result.rejected.append(candidate)
            continue
        python_lines.append(candidate.line)
        python_movements.append(candidate.movement)
        python_hashes.append(candidate.content_hash)
    table = read.table
    if python_movements:
        extra = movements_columnar.movements_table(python_lines, python_movements, python_hashes)
        table = pa.concat_tables([table, extra]).sort_by("line")
    table = table.combine_chunks()
    ids = table.column("movement_id").combine_chunks()
    first = _first_occurrences(ids)
    is_first = first == np.arange(table.num_rows)
    firsts = table.filter(pa.array(is_first))
    first_ids = firsts.column("movement_id").to_pylist()
    first_positions = np.flatnonzero(is_first)
    lines = table.column("line").to_numpy()
    hashes = table.column("content_hash").combine_chunks()
    check_stored = repository.tenant_has_movements(session, ctx.tenant_id)
    for _attempt in range(_INSERT_ATTEMPTS):
        stored = (
            repository.find_movements_chunked(session, ctx.tenant_id, first_ids)
            if check_stored
            else {}
        )
        new = np.ones(firsts.num_rows, dtype=bool)
        unchanged = 0
        rejections: list[MovementRejection] = []
        refused: set[str] = set()
        for position, movement_id in enumerate(first_ids) if stored else ():
            existing = stored.get(movement_id)
            if existing is None:
                continue
            new[position] = False
            content = _stored_movement_content(firsts.slice(position, 1).to_pylist()[0])
            old = _stored_content(existing)
            if old == content:
                unchanged += 1
                continue
            refused.add(movement_id)
            rejections.append(
                MovementRejection(
                    int(lines[first_positions[position]]),
                    movement_id,
                    "movement already imported with different content: "
                    f"{_differing_fields(content, old)} differ",
                )
            )
        rows = _movement_table_rows(firsts.filter(pa.array(new)), ctx.tenant_id)
        if repository.insert_movement_table(session, rows):
            result.imported += rows.num_rows
            result.unchanged += unchanged
            result.rejected.extend(rejections)
            result.inserted = rows
            result.fresh = not stored
            break
        check_stored = True  # a concurrent import stored some of these ids: look them up
    else:
        raise Conflict("movements are being imported concurrently with these ids; retry the import")
    repeats = np.flatnonzero(~is_first)
    if len(repeats):
        same = pc.equal(hashes.take(pa.array(repeats)), hashes.take(pa.array(first[repeats])))
        for index, equal in zip(repeats.tolist(), same.to_pylist(), strict=True):
            head = int(first[index])
            movement_id = ids[index].as_py()
            first_line = int(lines[head])
            if movement_id in refused:
                reason = f"repeats line {first_line}, which was refused"
            elif equal:
                result.unchanged += 1
                continue
            else:
                fields = _differing_fields(
                    _stored_movement_content(table.slice(index, 1).to_pylist()[0]),
                    _stored_movement_content(table.slice(head, 1).to_pylist()[0]),
                )
                reason = (
                    f"movement_id appears earlier in this import (line {first_line}) "
                    f"with different {fields}"
                )
            result.rejected.append(MovementRejection(int(lines[index]), movement_id, reason))
    _finish_import(session, ctx, result, source)
    return result


def import_movements(
    session: Session,
    ctx: ActorContext,
    *,
    content: bytes,
    content_type: str,
    engine: Literal["columnar", "python"] = "columnar",
) -> ImportResult:
    """Import movements from an NDJSON (``application/x-ndjson``, ``application/json-lines``)
    or CSV (``text/csv``, with a header) body.

    Each row is validated on its own: a bad row is refused with its line and reason, the rest
    are imported. A movement id imported before with the same content is ``unchanged``; with
    other content it is refused naming the differing fields. Raises :class:`InvalidInput` for
    another media type or a body that is not UTF-8 text. Requires the ``service`` role; one
    ``movements.imported`` audit record per import.

    ``engine`` chooses how rows are read: ``"columnar"`` (Arrow and DuckDB, a million rows in
    seconds, rows it cannot judge exactly read by the per-row reader) or ``"python"`` (every row
    by the per-row reader). Both give the same result and store the same movements.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in NDJSON_MEDIA_TYPES:
        if engine == "columnar":
            ctx.require_role("service")
            columnar = movements_columnar.read_ndjson_columns(content)
            if columnar is not None:
                return _import_columnar(session, ctx, columnar, source="ndjson")
        return _import_rows(session, ctx, read_ndjson_rows(content), source="ndjson")
    if media_type in CSV_MEDIA_TYPES:
        if engine == "columnar":
            ctx.require_role("service")
            columns = movements_columnar.read_csv_columns(content)
            return _import_columnar(session, ctx, columns, source="csv")
        return _import_rows(session, ctx, read_csv_rows(content), source="csv")
    raise InvalidInput(
        f"unsupported content type {media_type or 'none'!r}; send application/x-ndjson "
        "(or application/json-lines) or text/csv",
        field="content-type",
    )


def import_movement_rows(
    session: Session, ctx: ActorContext, rows: Iterable[dict[str, Any]]
) -> ImportResult:
    """Import already-decoded movement rows (JSON values, e.g. NDJSON lines a CLI parsed).

    Same rules as :func:`import_movements`; a row's ``line`` is its 1-based position.
    """
    return _import_rows(session, ctx, number_rows(rows), source="rows")


def list_movements(
    session: Session,
    ctx: ActorContext,
    *,
    limit: int | None = None,
    cursor: str | None = None,
    provider: str | None = None,
    provider_reference: str | None = None,
) -> tuple[list[Movement], str | None]:
    """One page of the tenant's movements in creation order. ``provider_reference`` matches on
    the normalized reference (case and whitespace ignored)."""
    size = clamp_limit(limit)
    key = reference_key(provider_reference) if provider_reference else None
    rows = repository.list_movements(
        session,
        ctx.tenant_id,
        limit=size + 1,
        after_id=cursor,
        provider=provider,
        reference_key=key,
    )
    return page_of(rows, size, lambda movement: movement.id)
