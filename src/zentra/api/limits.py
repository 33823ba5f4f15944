"""A bound on the size of a request body, enforced before anything reads it whole.

Uploads (settlement files, movement imports) and callbacks are read into memory by the endpoints
and hashed whole by the idempotency layer, so an unbounded body is an unbounded allocation. The
middleware answers ``413`` (problem+json, code ``request_too_large``) when ``Content-Length``
declares more than the bound, and stops a body sent without one (chunked) as soon as it passes
the bound: the endpoint never runs to completion, and its transaction rolls back.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zentra.api.problems import problem_response

TOO_LARGE_CODE = "request_too_large"


class _BodyTooLarge(Exception):
    """Raised from ``receive`` when a streamed body passes the bound."""


class RequestSizeLimit:
    """Pure ASGI middleware refusing HTTP request bodies over ``max_bytes`` with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracking_send)
        except _BodyTooLarge:
            if started:  # pragma: no cover - endpoints read their body before answering
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            TOO_LARGE_CODE,
            "Request too large",
            f"the request body is larger than the limit of {self.max_bytes} bytes",
            scope.get("path", ""),
            max_bytes=self.max_bytes,
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
