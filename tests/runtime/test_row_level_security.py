"""On PostgreSQL, the runtime's tables are confined to the transaction's tenant beneath the
application: a query that forgets its tenant filter still sees its own rows only."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import make_tenant
from tests.fixtures.api import api_client
from tests.runtime.conftest import PRIMARY, settle_day, submitted, two_rails
from zentra.api.app import create_app
from zentra.kit.db import Database

RUNTIME_TABLES = ("intents", "runtime_settings", "rail_health", "sandbox_callbacks")


def test_unfiltered_queries_see_only_their_tenant(postgres_db: Database) -> None:
    tenants = [make_tenant(postgres_db, name) for name in ("tenant-a", "tenant-b")]
    with api_client(create_app(postgres_db)) as anonymous:
        for tenant in tenants:
            client = anonymous.with_key(tenant.api_key)
            two_rails(client)
            client.post(f"/runtime/rails/{PRIMARY}/health", json={"status": "down"})
            client.post(f"/runtime/rails/{PRIMARY}/health", json={"status": "up"})
            intent = submitted(client, "intent_1")
            settle_day(client, intent["movement"]["occurred_at"][:10])
    first = tenants[0].tenant_id
    for table in RUNTIME_TABLES:
        query = text(f"SELECT DISTINCT tenant_id FROM {table}")
        with postgres_db.unit_of_work(first) as session:
            assert session.execute(query).scalars().all() == [first], table
        with postgres_db.engine.connect() as owner:  # the owner sees both: the rows exist
            assert len(owner.execute(query).scalars().all()) == 2, table
