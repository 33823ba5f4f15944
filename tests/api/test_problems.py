"""Refusals become application/problem+json with a stable code, in one place."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from tests.fixtures.api import api_client
from zentra.api.problems import install_problem_handlers
from zentra.kit.errors import CloseoutBlocked, NotFound


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/locked")
    def locked() -> None:
        raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))

    @app.get("/missing")
    def missing() -> None:
        raise NotFound("run run_x not found")

    @app.get("/blocked")
    def blocked() -> None:
        raise CloseoutBlocked("2 open", unmet_requirements=[{"id": "exc_1"}])

    return app


def test_a_busy_embedded_store_asks_to_retry() -> None:
    with api_client(_app()) as client:
        answer = client.get("/locked")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "store_busy"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [("/missing", 404, "not_found"), ("/blocked", 409, "closeout_blocked")],
)
def test_domain_errors_map_to_their_status_and_code(path: str, status: int, code: str) -> None:
    with api_client(_app()) as client:
        answer = client.get(path)
    assert answer.status_code == status
    body = answer.json()
    assert (body["code"], body["status"], body["instance"]) == (code, status, path)
    if code == "closeout_blocked":
        assert body["unmet_requirements"] == [{"id": "exc_1"}]
