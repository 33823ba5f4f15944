"""``POST /settlement-files``, ``GET /settlement-files[/{id}[/records]]``,
``POST /movements/import``, ``GET /movements`` (SPEC 5, 6 and 13).

Writes need the ``service`` role (``admin`` holds it); reads are open to every role. The route
class owns authentication, idempotency and the transaction; these functions only translate
between HTTP and the ingest service.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from zentra.api.deps import Context, DbSession
from zentra.api.route import UnitOfWorkRoute
from zentra.ingest import service
from zentra.ingest.schemas import (
    ExternalRecordOut,
    ExternalRecordPage,
    ImportResultOut,
    MovementOut,
    MovementPage,
    SettlementFileOut,
    SettlementFilePage,
)

router = APIRouter(tags=["ingest"], route_class=UnitOfWorkRoute)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}

_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "application/json-lines": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/settlement-files",
    status_code=201,
    response_model=SettlementFileOut,
    responses={
        200: {"description": "The same bytes were uploaded before: the stored file"},
        422: {"description": "The file cannot be read at all; it is retained", **_PROBLEM},
    },
)
def upload_settlement_file(
    session: DbSession,
    ctx: Context,
    response: Response,
    file: Annotated[UploadFile, File(description="The settlement file, byte-exact")],
    provider: Annotated[str, Form(description="Provider connection name, e.g. rail_primary")],
    format: Annotated[str | None, Form(description="Format name; detected when absent")] = None,
    file_id: Annotated[str | None, Form(description="The provider's id of the file")] = None,
    business_date: Annotated[
        date | None,
        Form(
            description="The day the file reports on (ISO date); when absent, the latest day "
            "any of its rows is booked on (UTC)"
        ),
    ] = None,
) -> SettlementFileOut:
    """Upload a settlement file: 201 when new, 200 with the stored file for the same bytes."""
    content = file.file.read()
    result = service.upload_settlement_file(
        session,
        ctx,
        content=content,
        provider=provider,
        filename=file.filename,
        format=format,
        file_id=file_id,
        business_date=business_date,
    )
    if not result.created:
        response.status_code = 200
    return SettlementFileOut.of(result.file)


@router.get("/settlement-files", response_model=SettlementFilePage)
def list_settlement_files(
    session: DbSession,
    ctx: Context,
    limit: int | None = None,
    cursor: str | None = None,
    provider: str | None = None,
) -> SettlementFilePage:
    """The tenant's settlement files in upload order."""
    files, next_cursor = service.list_settlement_files(
        session, ctx, limit=limit, cursor=cursor, provider=provider
    )
    return SettlementFilePage(
        data=[SettlementFileOut.of(f) for f in files], next_cursor=next_cursor
    )


@router.get(
    "/settlement-files/{settlement_file_id}",
    response_model=SettlementFileOut,
    responses={404: _PROBLEM},
)
def get_settlement_file(
    session: DbSession, ctx: Context, settlement_file_id: str
) -> SettlementFileOut:
    """One settlement file of the tenant (404 for any other id)."""
    return SettlementFileOut.of(service.get_settlement_file(session, ctx, settlement_file_id))


@router.get(
    "/settlement-files/{settlement_file_id}/records",
    response_model=ExternalRecordPage,
    responses={404: _PROBLEM},
)
def list_settlement_file_records(
    session: DbSession,
    ctx: Context,
    settlement_file_id: str,
    limit: int | None = None,
    cursor: str | None = None,
) -> ExternalRecordPage:
    """The file's external records in file order, each with its line and raw text."""
    records, next_cursor = service.list_settlement_file_records(
        session, ctx, settlement_file_id, limit=limit, cursor=cursor
    )
    return ExternalRecordPage(
        data=[ExternalRecordOut.of(r) for r in records], next_cursor=next_cursor
    )


@router.post(
    "/movements/import",
    response_model=ImportResultOut,
    openapi_extra=_IMPORT_BODY,
    responses={422: _PROBLEM},
)
async def import_movements(request: Request, session: DbSession, ctx: Context) -> ImportResultOut:
    """Import movements from an NDJSON or CSV body; per-row outcomes."""
    content = await request.body()
    result = await run_in_threadpool(
        service.import_movements,
        session,
        ctx,
        content=content,
        content_type=request.headers.get("content-type", ""),
    )
    return ImportResultOut.of(result)


@router.get("/movements", response_model=MovementPage)
def list_movements(
    session: DbSession,
    ctx: Context,
    limit: int | None = None,
    cursor: str | None = None,
    provider: str | None = None,
    provider_reference: str | None = None,
) -> MovementPage:
    """The tenant's movements in creation order, filtered by provider and/or reference."""
    movements, next_cursor = service.list_movements(
        session,
        ctx,
        limit=limit,
        cursor=cursor,
        provider=provider,
        provider_reference=provider_reference,
    )
    return MovementPage(data=[MovementOut.of(m) for m in movements], next_cursor=next_cursor)
