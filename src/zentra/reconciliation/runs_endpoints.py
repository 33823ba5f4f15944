"""Endpoints (being built)."""

from __future__ import annotations

from fastapi import APIRouter

from zentra.api.route import UnitOfWorkRoute

router = APIRouter(prefix="/reconciliation", tags=["reconciliation"], route_class=UnitOfWorkRoute)
