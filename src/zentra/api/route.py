"""The edge of every authenticated request: authentication, idempotency and the transaction.

``UnitOfWorkRoute`` wraps each endpoint so that:

1. the bearer key is authenticated and the request gets an :class:`ActorContext`;
2. a mutating request with ``Idempotency-Key`` claims the key (or replays / is refused);
3. the endpoint runs in one tenant-scoped transaction, which commits only when the endpoint
   answers 2xx (together with the stored idempotent response) and rolls back otherwise —
   except for a recorded refusal (``ZentraError.keeps_changes``), whose evidence is kept.

Services never commit: this is the one place a request's transaction ends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from zentra.idempotency.service import (
    StoredResponse,
    claim_key,
    complete_key,
    release_key,
    validate_key,
)
from zentra.kit.context import ActorContext
from zentra.kit.db import Database
from zentra.kit.errors import ZentraError
from zentra.kit.ids import new_id
from zentra.tenancy.service import Principal, authenticate

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REPLAYED_HEADERS = ("content-type", "location")

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _authenticate(database: Database, authorization: str | None) -> Principal:
    with database.unit_of_work(read_only=True) as session:
        return authenticate(session, authorization)


async def _request_fingerprint(request: Request) -> str:
    """sha256 over method, path, query and body. Multipart bodies are fingerprinted by their
    parts (name, filename, content hash), not their bytes: clients pick a new boundary on
    every retry."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.url.path}?{request.url.query}\n".encode())
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        for name, value in sorted(form.multi_items(), key=lambda item: item[0]):
            if isinstance(value, UploadFile):
                content = await value.read()
                await value.seek(0)
                part = f"{name}={value.filename}:{hashlib.sha256(content).hexdigest()}"
            else:
                part = f"{name}={value}"
            digest.update(part.encode() + b"\n")
    else:
        digest.update(await request.body())
    return digest.hexdigest()


def _stored(response: Response) -> StoredResponse:
    headers = {k: v for k, v in response.headers.items() if k.lower() in REPLAYED_HEADERS}
    return StoredResponse(response.status_code, headers, bytes(response.body))


def _replay(stored: StoredResponse) -> Response:
    return Response(
        content=stored.body,
        status_code=stored.status,
        headers={**stored.headers, "Idempotency-Replayed": "true"},
    )


class UnitOfWorkRoute(APIRoute):
    """An API route whose request is authenticated, idempotent and transactional."""

    def get_route_handler(self) -> Handler:
        endpoint_handler = super().get_route_handler()

        async def handler(request: Request) -> Response:
            database: Database = request.app.state.database
            principal = await run_in_threadpool(
                _authenticate, database, request.headers.get("authorization")
            )
            raw_key = request.headers.get("idempotency-key")
            key = validate_key(raw_key) if raw_key is not None else None
            if request.method not in MUTATING_METHODS:
                key = None
            request.state.context = ActorContext(
                tenant_id=principal.tenant_id,
                actor=f"key:{principal.key_name}",
                roles=principal.roles,
                request_id=request.headers.get("x-request-id") or new_id("req"),
                idempotency_key=key,
            )
            record_id = None
            if key is not None:
                fingerprint = await _request_fingerprint(request)
                claim = await run_in_threadpool(
                    claim_key,
                    database,
                    principal.tenant_id,
                    key,
                    request.method,
                    request.url.path,
                    fingerprint,
                )
                if claim.replay is not None:
                    return _replay(claim.replay)
                record_id = claim.record_id
            try:
                response = await self._run_in_transaction(
                    request, database, principal.tenant_id, endpoint_handler, record_id
                )
            except BaseException:
                if record_id is not None:
                    await run_in_threadpool(release_key, database, principal.tenant_id, record_id)
                raise
            if record_id is not None and response.status_code >= 300:
                await run_in_threadpool(release_key, database, principal.tenant_id, record_id)
            return response

        return handler

    @staticmethod
    async def _run_in_transaction(
        request: Request,
        database: Database,
        tenant_id: str,
        endpoint_handler: Handler,
        record_id: str | None,
    ) -> Response:
        # Reads never take SQLite's write lock: they proceed while a worker writes a long run.
        session = database.new_session(tenant_id, read_only=request.method == "GET")
        request.state.session = session
        try:
            session.begin()
            response = await endpoint_handler(request)
            if response.status_code >= 300:
                await run_in_threadpool(session.rollback)
                return response
            if record_id is not None:
                stored = _stored(response)
                await run_in_threadpool(complete_key, session, tenant_id, record_id, stored)
            await run_in_threadpool(session.commit)
            return response
        except ZentraError as error:
            end = session.commit if error.keeps_changes else session.rollback
            await run_in_threadpool(end)
            raise
        except BaseException:
            await run_in_threadpool(session.rollback)
            raise
        finally:
            await run_in_threadpool(session.close)
