"""``create_app``: the FastAPI application with every domain's endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

import zentra
from zentra.api.limits import RequestSizeLimit
from zentra.api.problems import install_problem_handlers
from zentra.audit.endpoints import router as audit_router
from zentra.config import get_settings
from zentra.events.endpoints import router as events_router
from zentra.ingest.endpoints import router as ingest_router
from zentra.kit.db import Database, get_database
from zentra.ledger.endpoints import router as ledger_router
from zentra.providers.endpoints import router as providers_router
from zentra.reconciliation.endpoints import router as reconciliation_router
from zentra.runtime.endpoints import router as runtime_router

health_router = APIRouter(tags=["health"])


@health_router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


def create_app(
    database: Database | None = None, *, max_request_bytes: int | None = None
) -> FastAPI:
    """Build the API on ``database`` (default: ``ZENTRA_DATABASE_URL``), refusing request bodies
    over ``max_request_bytes`` (default: ``ZENTRA_MAX_REQUEST_MB``) with 413."""
    app = FastAPI(
        title="Zentra",
        version=zentra.__version__,
        description="Multi-tenant payments reconciliation runtime.",
    )
    app.state.database = database or get_database()
    install_problem_handlers(app)
    app.add_middleware(
        RequestSizeLimit,
        max_bytes=max_request_bytes or get_settings().max_request_mb * 1024 * 1024,
    )

    @app.get("/readyz", tags=["health"])
    def readyz() -> Any:
        """Readiness: the database answers."""
        try:
            with app.state.database.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure means not ready
            return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
        return {"status": "ok"}

    for router in (
        health_router,
        ingest_router,
        reconciliation_router,
        events_router,
        audit_router,
        providers_router,
        ledger_router,
        runtime_router,
    ):
        app.include_router(router)
    return app
