"""``POST /settlement-files``, ``GET /settlement-files/{id}``, ``POST /movements/import``,
``GET /movements``."""

from __future__ import annotations

from fastapi import APIRouter

from zentra.api.route import UnitOfWorkRoute

router = APIRouter(tags=["ingest"], route_class=UnitOfWorkRoute)
