"""Domain errors to ``application/problem+json`` (RFC 9457): the only place that knows both."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from zentra.kit import errors
from zentra.providers.errors import MalformedCallback

PROBLEM_MEDIA_TYPE = "application/problem+json"

# Most specific class first: the first entry the error is an instance of wins.
STATUS_BY_ERROR: tuple[tuple[type[errors.ZentraError], int], ...] = (
    # A provider retries any 4xx but 400, and a malformed callback body never gets better.
    (MalformedCallback, 400),
    (errors.IdempotencyKeyReused, 422),
    (errors.UnreadableFile, 422),
    (errors.InvalidInput, 422),
    (errors.AuthenticationFailed, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
)


def status_for(error: errors.ZentraError) -> int:
    """The HTTP status of a domain error (400 for anything unlisted)."""
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    return 400


def problem_response(
    status: int, code: str, title: str, detail: str, instance: str, **extensions: Any
) -> JSONResponse:
    """A problem+json response with Zentra's stable ``code`` member."""
    body = {
        "type": f"https://zentra.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        **extensions,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every refusal into problem+json."""

    @app.exception_handler(errors.ZentraError)
    async def _domain_error(request: Request, exc: errors.ZentraError) -> JSONResponse:
        return problem_response(
            status_for(exc), exc.code, exc.title, exc.detail, request.url.path, **exc.extensions
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"][1:]) or None, "reason": err["msg"]}
            for err in exc.errors()
        ]
        return problem_response(
            422,
            "invalid_request",
            "Invalid request",
            "the request does not match its schema",
            request.url.path,
            errors=problems,
        )

    @app.exception_handler(OperationalError)
    async def _store_busy(request: Request, exc: OperationalError) -> JSONResponse:
        # The embedded SQLite store has one writer at a time; a write that waited out the busy
        # timeout behind a long run is asked to retry, not told the server broke.
        if "database is locked" not in str(exc.orig):
            raise exc
        response = problem_response(
            503,
            "store_busy",
            "Store busy",
            "another write holds the embedded store; retry",
            request.url.path,
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem_response(
            exc.status_code, code, str(exc.detail), str(exc.detail), request.url.path
        )
