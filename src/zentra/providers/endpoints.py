"""``/providers`` (admin, API key) and ``/callbacks/{connection_id}`` (provider signature).

Callbacks carry no API key, so they do not use :class:`UnitOfWorkRoute`: the endpoint resolves
the connection id to its tenant in system scope, then owns one tenant-scoped transaction the
same way — commit on success and on a recorded refusal (the security-log row of a bad
signature), roll back otherwise. Providers read the status: 401 invalid signature, 400 a body
that will never be usable, 404 unknown connection, 200 received (duplicates included).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from zentra.api.deps import Context, DbSession
from zentra.api.problems import problem_response, status_for
from zentra.api.route import UnitOfWorkRoute
from zentra.kit.db import Database
from zentra.kit.errors import ZentraError
from zentra.kit.ids import new_id
from zentra.providers import service
from zentra.providers.schedule_endpoints import router as schedule_router
from zentra.providers.schemas import (
    CallbackReceived,
    ProviderConnectionCreated,
    ProviderConnectionIn,
    ProviderConnectionOut,
    ProviderConnectionPage,
)

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}

providers_router = APIRouter(tags=["providers"], route_class=UnitOfWorkRoute)
callbacks_router = APIRouter(tags=["providers"])


@providers_router.post("/providers", status_code=201, response_model=ProviderConnectionCreated)
def create_provider(
    body: ProviderConnectionIn, session: DbSession, ctx: Context
) -> ProviderConnectionCreated:
    """Create a connection; the answer carries its signing secret, shown this once."""
    created = service.create_connection(
        session, ctx, name=body.name, kind=body.kind, signing_secret=body.signing_secret
    )
    out = ProviderConnectionOut.of(created.connection)
    return ProviderConnectionCreated(**out.model_dump(), signing_secret=created.signing_secret)


@providers_router.get("/providers", response_model=ProviderConnectionPage)
def list_providers(
    session: DbSession, ctx: Context, limit: int | None = None, cursor: str | None = None
) -> ProviderConnectionPage:
    """The tenant's connections in creation order."""
    rows, next_cursor = service.list_connections(session, ctx, limit=limit, cursor=cursor)
    return ProviderConnectionPage(
        data=[ProviderConnectionOut.of(row) for row in rows], next_cursor=next_cursor
    )


@providers_router.get(
    "/providers/{connection_id}", response_model=ProviderConnectionOut, responses={404: _PROBLEM}
)
def get_provider(connection_id: str, session: DbSession, ctx: Context) -> ProviderConnectionOut:
    """One connection of the tenant (without its secret)."""
    return ProviderConnectionOut.of(service.get_connection(session, ctx, connection_id))


def _receive(
    database: Database, connection_id: str, delivery: service.Delivery
) -> service.Received:
    """Resolve the tenant, then receive the callback in one tenant transaction."""
    with database.unit_of_work(read_only=True) as lookup:
        tenant_id = service.resolve_connection_tenant(lookup, connection_id)
    # A refused signature is a recorded refusal: its security-log row commits with the 401.
    with database.unit_of_work(tenant_id) as session:
        return service.receive_callback(session, tenant_id, connection_id, delivery)


@callbacks_router.post(
    "/callbacks/{connection_id}",
    response_model=CallbackReceived,
    responses={400: _PROBLEM, 401: _PROBLEM, 404: _PROBLEM},
)
async def receive_callback(connection_id: str, request: Request) -> Response:
    """Receive one signed provider callback (see the module docstring for the statuses)."""
    delivery = service.Delivery(
        body=await request.body(),
        headers={name.lower(): value for name, value in request.headers.items()},
        remote_address=request.client.host if request.client else None,
        request_id=request.headers.get("x-request-id") or new_id("req"),
    )
    try:
        received = await run_in_threadpool(
            _receive, request.app.state.database, connection_id, delivery
        )
    except ZentraError as error:
        problem = problem_response(
            status_for(error),
            error.code,
            error.title,
            error.detail,
            request.url.path,
            **error.extensions,
        )
        # A callback is authenticated by its signature, never by a bearer key: no challenge.
        if "www-authenticate" in problem.headers:
            del problem.headers["www-authenticate"]
        return problem
    return JSONResponse({"id": received.callback_id, "duplicate": received.duplicate})


router = APIRouter()
router.include_router(providers_router)
router.include_router(schedule_router)
router.include_router(callbacks_router)
