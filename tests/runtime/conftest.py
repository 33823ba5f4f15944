"""Helpers for runtime tests: sandbox rails, policy and routes, intents over the HTTP API."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from tests.fixtures.api import ApiClient
from zentra.kit.db import Database

PRIMARY, BACKUP = "rail_primary", "rail_backup"


def create_rail(client: ApiClient, name: str, kind: str = "sandbox") -> dict[str, Any]:
    response = client.post("/providers", json={"name": name, "kind": kind})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def set_routes(client: ApiClient, rules: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.put("/runtime/routes", json={"rules": rules})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def set_policy(client: ApiClient, **policy: Any) -> dict[str, Any]:
    response = client.put("/runtime/policy", json=policy)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def two_rails(client: ApiClient) -> None:
    """rail_primary then rail_backup for every intent."""
    create_rail(client, PRIMARY)
    create_rail(client, BACKUP)
    set_routes(client, [{"match": {}, "rails": [PRIMARY, BACKUP]}])


def intent_body(intent_id: str, amount: int = 125000, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "intent_id": intent_id,
        "scope": "workspace_scope",
        "money_model": "minor_units + ledger_currency",
        "primitives": ["policy", "ledger", "events"],
        "amount": amount,
        "currency": "EUR",
        "source": "customer_balance",
        "destination": "merchant_balance",
    }
    body.update(overrides)
    return body


def submit(client: ApiClient, intent_id: str, amount: int = 125000, **overrides: Any) -> Any:
    return client.post("/runtime/intents", json=intent_body(intent_id, amount, **overrides))


def submitted(client: ApiClient, intent_id: str, amount: int = 125000, **overrides: Any) -> Any:
    response = submit(client, intent_id, amount, **overrides)
    assert response.status_code == 201, response.text
    return response.json()


def settle_day(client: ApiClient, day: str, rail: str = PRIMARY, **noise: int) -> dict[str, Any]:
    """Have the sandbox ``rail`` settle ``day`` (seed 42) with ``noise``; its answer."""
    response = client.post(
        f"/runtime/rails/{rail}/sandbox/settle", json={"date": day, "seed": 42, "noise": noise}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def rows(db: Database, query: str, **params: Any) -> list[dict[str, Any]]:
    """Rows across every tenant (read as the owner), as dicts."""
    with db.engine.connect() as connection:
        return [dict(row) for row in connection.execute(text(query), params).mappings()]


def count(db: Database, table: str, where: str = "", **params: Any) -> int:
    query = f"SELECT count(*) AS n FROM {table}" + (f" WHERE {where}" if where else "")
    return int(rows(db, query, **params)[0]["n"])


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()
