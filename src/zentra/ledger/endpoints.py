"""The ledger API (SPEC 5): ``/ledger/accounts`` and ``/ledger/entries``.

Writes need the ``service`` role (``admin`` holds it); reads are open to every role. A create
answers 201 when it created, 200 with the stored resource for a replay of the same content. The
route class owns authentication, idempotency and the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Body, Response

from zentra.api.deps import Context, DbSession
from zentra.api.route import UnitOfWorkRoute
from zentra.kit.errors import ZentraError
from zentra.ledger import service
from zentra.ledger.schemas import (
    AccountOut,
    AccountPage,
    AccountRequest,
    BatchItemOut,
    BatchOut,
    BatchRequest,
    EntryOut,
    EntryPage,
    EntryRequest,
    ReverseRequest,
)

router = APIRouter(prefix="/ledger", tags=["ledger"], route_class=UnitOfWorkRoute)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_REPLAY = {"description": "The same request was recorded before: the stored resource"}


def _entry_out(result: service.EntryResult) -> EntryOut:
    return EntryOut.of(result.entry, result.postings)


@router.post(
    "/accounts",
    status_code=201,
    response_model=AccountOut,
    responses={200: _REPLAY, 409: _PROBLEM, 422: _PROBLEM},
)
def create_account(
    body: AccountRequest, session: DbSession, ctx: Context, response: Response
) -> AccountOut:
    """Create an account; its code is unique in the tenant and has one currency."""
    result = service.open_account(session, ctx, body)
    if not result.created:
        response.status_code = 200
    return AccountOut.of(result.account)


@router.get("/accounts", response_model=AccountPage)
def list_accounts(
    session: DbSession, ctx: Context, limit: int | None = None, cursor: str | None = None
) -> AccountPage:
    """The tenant's accounts in creation order, with their balances."""
    rows, next_cursor = service.list_accounts(session, ctx, limit=limit, cursor=cursor)
    return AccountPage(data=[AccountOut.of(row) for row in rows], next_cursor=next_cursor)


@router.get("/accounts/{code}", response_model=AccountOut, responses={404: _PROBLEM})
def get_account(code: str, session: DbSession, ctx: Context) -> AccountOut:
    """One account with its ``posted``, ``pending`` and ``available`` balances."""
    return AccountOut.of(service.get_account(session, ctx, code))


@router.post(
    "/entries",
    status_code=201,
    response_model=EntryOut,
    responses={200: _REPLAY, 409: _PROBLEM, 422: _PROBLEM},
)
def create_entry(
    body: EntryRequest, session: DbSession, ctx: Context, response: Response
) -> EntryOut:
    """Record a balanced entry (``pending: true`` for two-phase). Unbalanced: 422."""
    result = service.create_entry(session, ctx, body)
    if not result.created:
        response.status_code = 200
    return _entry_out(result)


def _problem(error: ZentraError) -> dict[str, Any]:
    return {"code": error.code, "title": error.title, "detail": error.detail, **error.extensions}


@router.post("/entries/batch", response_model=BatchOut, responses={409: _PROBLEM, 422: _PROBLEM})
def post_entries_batch(body: BatchRequest, session: DbSession, ctx: Context) -> BatchOut:
    """Record up to 8,000 entries: atomic (all or nothing, the first refusal named with its
    ``index``) or, with ``atomic: false``, one result per entry."""
    result = service.post_entries_batch(session, ctx, body.entries, atomic=body.atomic)
    return BatchOut(
        atomic=result.atomic,
        created=result.count("created"),
        existing=result.count("existing"),
        refused=result.count("refused"),
        results=[
            BatchItemOut(
                index=item.index,
                entry_id=item.entry_id,
                outcome=item.outcome,
                id=item.id,
                status=item.status,
                error=_problem(item.error) if item.error is not None else None,
            )
            for item in result.items
        ],
    )


@router.get("/entries", response_model=EntryPage)
def list_entries(
    session: DbSession,
    ctx: Context,
    limit: int | None = None,
    cursor: str | None = None,
    effective_from: datetime | None = None,
    effective_to: datetime | None = None,
    account: str | None = None,
    provider_reference: str | None = None,
    status: Literal["pending", "posted", "voided"] | None = None,
) -> EntryPage:
    """Entries in creation order, filtered by the window ``effective_from <= effective_at <
    effective_to``, an account code they post to, a provider reference, a status."""
    results, next_cursor = service.list_entries(
        session,
        ctx,
        limit=limit,
        cursor=cursor,
        effective_from=effective_from,
        effective_to=effective_to,
        account=account,
        provider_reference=provider_reference,
        status=status,
    )
    return EntryPage(data=[_entry_out(r) for r in results], next_cursor=next_cursor)


@router.get("/entries/{entry_id}", response_model=EntryOut, responses={404: _PROBLEM})
def get_entry(entry_id: str, session: DbSession, ctx: Context) -> EntryOut:
    """One entry with its postings."""
    return _entry_out(service.get_entry(session, ctx, entry_id))


@router.post(
    "/entries/{entry_id}/post", response_model=EntryOut, responses={404: _PROBLEM, 409: _PROBLEM}
)
def post_entry(entry_id: str, session: DbSession, ctx: Context) -> EntryOut:
    """Post a pending entry."""
    return _entry_out(service.post_entry(session, ctx, entry_id))


@router.post(
    "/entries/{entry_id}/void", response_model=EntryOut, responses={404: _PROBLEM, 409: _PROBLEM}
)
def void_entry(entry_id: str, session: DbSession, ctx: Context) -> EntryOut:
    """Void a pending entry; a posted entry cannot be voided (409: reverse it)."""
    return _entry_out(service.void_entry(session, ctx, entry_id))


@router.post(
    "/entries/{entry_id}/reverse",
    status_code=201,
    response_model=EntryOut,
    responses={200: _REPLAY, 404: _PROBLEM, 409: _PROBLEM, 422: _PROBLEM},
)
def reverse_entry(
    entry_id: str,
    session: DbSession,
    ctx: Context,
    response: Response,
    body: ReverseRequest | None = Body(default=None),
) -> EntryOut:
    """Reverse a posted entry with its mirror entry (``{entry_id}:reversal`` by default); the
    answer is the reversal."""
    options = body or ReverseRequest()
    result = service.reverse_entry(
        session,
        ctx,
        entry_id,
        reversal_entry_id=options.entry_id,
        description=options.description,
        effective_at=options.effective_at,
    )
    if not result.created:
        response.status_code = 200
    return _entry_out(result)
