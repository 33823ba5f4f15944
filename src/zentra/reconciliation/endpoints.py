"""Runs, matches, exceptions and closeouts over HTTP (SPEC 3 and 4)."""

from __future__ import annotations

from fastapi import APIRouter

from zentra.api.route import UnitOfWorkRoute

router = APIRouter(tags=["reconciliation"], route_class=UnitOfWorkRoute)
