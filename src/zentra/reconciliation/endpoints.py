"""Runs, matches, exceptions and closeouts over HTTP (SPEC 3 and 4).

One router per area, each in its own module; this module gathers them.
"""

from __future__ import annotations

from fastapi import APIRouter

from zentra.reconciliation.closeout_endpoints import router as closeout_router
from zentra.reconciliation.exceptions_endpoints import router as exceptions_router
from zentra.reconciliation.rulesets_endpoints import router as rulesets_router
from zentra.reconciliation.runs_endpoints import router as runs_router

router = APIRouter()
router.include_router(runs_router)
router.include_router(exceptions_router)
router.include_router(closeout_router)
router.include_router(rulesets_router)
