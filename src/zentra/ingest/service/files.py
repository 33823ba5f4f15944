"""Settlement file uploads: stored byte-exact with their sha256, parsed into external records.

The same bytes uploaded again for the same provider return the file already stored. A file that
cannot be read is stored (as evidence, status ``refused``) before :class:`UnreadableFile` is
raised, which the edge commits all the same. Nothing here commits.

An upload that stores a file hands back the ``external_records`` rows it inserted as the Arrow
table it wrote (:attr:`UploadResult.records`), so that a caller holding them (``zentra
reconcile``) can match them without reading them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from zentra.audit.service import record_audit
from zentra.ingest import repository
from zentra.ingest.bulk_values import new_ids, reference_keys
from zentra.ingest.sources import ColumnarFile, detect_format, get_format, parse_file_columns
from zentra.ingest.sources.columnar import records_table
from zentra.kit.canonical import sha256_hex
from zentra.kit.context import ActorContext
from zentra.kit.errors import Conflict, InvalidInput, NotFound, UnreadableFile
from zentra.kit.ids import new_id
from zentra.kit.pagination import clamp_limit, page_of
from zentra.kit.time import as_utc, utcnow
from zentra.models import ExternalRecord, SettlementFile
from zentra.providers.schedules import record_file_received
from zentra.reconciliation.restatements import open_restatements

STATUS_PARSED = "parsed"
STATUS_REFUSED = "refused"
UNKNOWN_FORMAT = "unknown"
"""The ``format`` stored for a refused file whose format could not be detected."""


@dataclass(frozen=True, slots=True)
class UploadResult:
    """The stored file, whether this upload created it (False: the same bytes were known), and
    the ``external_records`` rows it inserted for the file, exactly as written (the bulk
    insert's columns: ``id``, ``row_id``, ``line``, ``raw``, ``content_hash``...; rejected rows
    are not among them). ``records`` is None when the upload stored no rows because the file
    was known."""

    file: SettlementFile
    created: bool
    records: pa.Table | None = field(default=None, compare=False, repr=False)


def _clean_text(value: str | None, name: str, max_length: int) -> str | None:
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    if len(cleaned) > max_length:
        raise InvalidInput(f"{name} is longer than {max_length} characters", field=name)
    return cleaned


def _known_outcome(file: SettlementFile) -> UploadResult:
    """What uploading a known file's bytes again answers: the file, or its refusal again."""
    if file.status == STATUS_REFUSED:
        raise UnreadableFile(
            file.refusal_reason or "the file cannot be read",
            settlement_file_id=file.id,
            sha256=file.sha256,
        )
    return UploadResult(file, created=False)


def _external_record_rows(
    records: pa.Table, tenant_id: str, settlement_file_id: str, provider: str
) -> pa.Table:
    """The ``external_records`` rows of a parsed file's records, as columns for bulk insert.

    Ids are made in line order, so listing a file's records by id lists them in file order.
    """
    count = records.num_rows

    def constant(value: str) -> pa.Array:
        return pa.repeat(pa.scalar(value, pa.string()), count)

    return (
        records.append_column("id", new_ids("ext", count))
        .append_column("tenant_id", constant(tenant_id))
        .append_column("settlement_file_id", constant(settlement_file_id))
        .append_column("provider", constant(provider))
        .append_column("reference_key", reference_keys(records.column("provider_reference")))
    )


def upload_settlement_file(
    session: Session,
    ctx: ActorContext,
    *,
    content: bytes,
    provider: str,
    filename: str | None = None,
    format: str | None = None,
    file_id: str | None = None,
    business_date: date | None = None,
) -> UploadResult:
    """Store a settlement file byte-exact and its rows as external records.

    - The same bytes for the same provider in the tenant return the stored file
      (``created=False``) and change nothing.
    - ``format`` is detected from the content when not given. An unknown ``format`` name raises
      :class:`InvalidInput` and stores nothing.
    - A file that cannot be read at all is stored with status ``refused`` and its reason,
      audited, then :class:`UnreadableFile` is raised (a recorded refusal: the caller commits).
    - Rows that cannot be read exactly are listed in ``rejected_rows``; the others are kept.
    - ``business_date`` (the day the file reports on) defaults to the latest day any of its
      rows is booked on (UTC); None for a refused file or one without booked dates.

    Requires the ``service`` role. Audited as ``settlement_file.uploaded``.
    """
    ctx.require_role("service")
    provider_name = _clean_text(provider, "provider", 100)
    if provider_name is None:
        raise InvalidInput("provider is required", field="provider")
    file_id = _clean_text(file_id, "file_id", 200)
    filename = _clean_text(filename, "filename", 500)
    requested = (format or "").strip().lower() or None
    if requested is not None:
        get_format(requested)  # an unknown name is the request's mistake, not the file's

    sha256 = sha256_hex(content)
    known = repository.find_file_by_sha256(session, ctx.tenant_id, provider_name, sha256)
    if known is not None:
        return _known_outcome(known)

    format_name = requested or UNKNOWN_FORMAT
    parsed = ColumnarFile(records_table([], []))
    refusal: UnreadableFile | None = None
    try:
        format_name = requested or detect_format(content)
        parsed = parse_file_columns(content, format_name)
    except UnreadableFile as exc:
        refusal = exc
    else:
        business_date = business_date or _latest_booked_day(parsed.table)

    restates = (
        repository.file_ids_with_file_id(session, ctx.tenant_id, provider_name, file_id)
        if file_id is not None
        else []
    )
    file = SettlementFile(
        id=new_id("set"),
        tenant_id=ctx.tenant_id,
        provider=provider_name,
        file_id=file_id,
        filename=filename,
        format=format_name,
        sha256=sha256,
        size_bytes=len(content),
        content=content,
        status=STATUS_REFUSED if refusal is not None else STATUS_PARSED,
        refusal_reason=refusal.detail if refusal is not None else None,
        rows=parsed.table.num_rows,
        rejected_rows=[{"line": row.line, "reason": row.reason} for row in parsed.rejected],
        business_date=business_date if refusal is None else None,
        uploaded_by=ctx.actor,
        created_at=utcnow(),
    )
    if not repository.add_file(session, file):
        # A concurrent upload of the same bytes committed between our lookup and our insert.
        known = repository.find_file_by_sha256(session, ctx.tenant_id, provider_name, sha256)
        if known is None:  # pragma: no cover - the unique key that refused us names this row
            raise Conflict("the settlement file is being uploaded concurrently; retry")
        return _known_outcome(known)

    records = _external_record_rows(parsed.table, ctx.tenant_id, file.id, provider_name)
    repository.insert_external_records(session, records)
    if refusal is None:
        # Before the upload's own audit record: what these lock (the runs a restatement lands
        # in, a missing-file exception) is locked before the tenant's audit chain, the order a
        # closeout or an operator's transition takes too, so they cannot deadlock with it. (A
        # file that does both takes the second lock after the first's audit record: rare, and
        # PostgreSQL would refuse such a deadlock with a retryable error, never a wrong state.)
        session.flush()
        open_restatements(session, ctx, file.id, provider_name)
        record_file_received(session, ctx, file)
    record_audit(
        session,
        ctx,
        "settlement_file.uploaded",
        "settlement_file",
        file.id,
        details={
            "provider": provider_name,
            "file_id": file_id,
            "filename": filename,
            "format": format_name,
            "sha256": sha256,
            "size_bytes": len(content),
            "rows": file.rows,
            "rejected_rows": len(parsed.rejected),
            "restates": restates,
            "refusal_reason": file.refusal_reason,
        },
        outcome="refused" if refusal is not None else "success",
    )
    if refusal is not None:
        raise UnreadableFile(refusal.detail, settlement_file_id=file.id, sha256=sha256)
    return UploadResult(file, created=True, records=records)


def _latest_booked_day(records: pa.Table) -> date | None:
    """The latest UTC day any record is booked on; None when no record has a booked date."""
    latest = pc.max(records["booked_at"]).as_py()
    return as_utc(latest).date() if latest is not None else None


def get_settlement_file(session: Session, ctx: ActorContext, file_id: str) -> SettlementFile:
    """The tenant's file ``file_id``. Raises :class:`NotFound` (also for other tenants' ids)."""
    file = repository.get_file(session, ctx.tenant_id, file_id)
    if file is None:
        raise NotFound(f"settlement file {file_id} not found")
    return file


def list_settlement_files(
    session: Session,
    ctx: ActorContext,
    *,
    limit: int | None = None,
    cursor: str | None = None,
    provider: str | None = None,
) -> tuple[list[SettlementFile], str | None]:
    """One page of the tenant's files in upload order, and the next cursor (None at the end)."""
    size = clamp_limit(limit)
    rows = repository.list_files(
        session, ctx.tenant_id, limit=size + 1, after_id=cursor, provider=provider
    )
    return page_of(rows, size, lambda file: file.id)


def list_settlement_file_records(
    session: Session,
    ctx: ActorContext,
    file_id: str,
    *,
    limit: int | None = None,
    cursor: str | None = None,
) -> tuple[list[ExternalRecord], str | None]:
    """One page of a file's external records in file order. Raises :class:`NotFound`."""
    get_settlement_file(session, ctx, file_id)
    size = clamp_limit(limit)
    rows = repository.list_external_records(
        session, ctx.tenant_id, file_id, limit=size + 1, after_id=cursor
    )
    return page_of(rows, size, lambda record: record.id)
