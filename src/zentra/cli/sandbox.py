"""``zentra sandbox settle`` and ``zentra sandbox deliver-late``: the sandbox rail on command,
in one tenant unit of work each (the same services as ``POST /runtime/rails/{name}/sandbox/...``).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from zentra.kit.context import system_context
from zentra.kit.db import Database
from zentra.runtime.sandbox_service import deliver_late_callbacks, settle_sandbox_rail
from zentra.runtime.schemas import SandboxNoise, SandboxSettleIn


def settle(
    database: Database,
    tenant_id: str,
    rail: str,
    day: date,
    *,
    seed: int,
    noise_json: str | None,
    file_id: str | None,
) -> dict[str, Any]:
    """Settle ``day`` on the sandbox rail ``rail`` of the tenant; the API's answer as a dict.

    ``noise_json`` is a :class:`SandboxNoise` object as JSON (``{"missing_rows": 1}``).
    Raises ``pydantic.ValidationError`` for a bad noise object and the services' refusals.
    """
    noise = SandboxNoise.model_validate(json.loads(noise_json or "{}"))
    request = SandboxSettleIn(date=day, seed=seed, noise=noise, file_id=file_id)
    with database.unit_of_work(tenant_id) as session:
        result = settle_sandbox_rail(session, system_context(tenant_id, "cli"), rail, request)
        return result.as_json()


def deliver_late(database: Database, tenant_id: str, rail: str) -> dict[str, Any]:
    """Deliver the callbacks the sandbox rail ``rail`` held back; the report as a dict."""
    with database.unit_of_work(tenant_id) as session:
        return deliver_late_callbacks(session, system_context(tenant_id, "cli"), rail).as_json()
