"""The payment runtime: intents, policy and routes, rail health, sandbox rail callbacks.

Four tenant tables, each with row-level security on PostgreSQL:

- ``intents``: one row per intent, unique per (tenant, intent_id), indexed for the velocity
  sum (source, currency, UTC day) and for settlement by (rail, provider reference);
- ``runtime_settings``: the tenant's ``policy`` and ``routes`` documents, versioned;
- ``rail_health``: the status set for a rail (a rail without a row is up);
- ``sandbox_callbacks``: what a sandbox rail sent or still holds back (late callbacks).

Revision ID: 2026_11_21_0010
Revises: 2026_11_21_0009
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_11_21_0010"
down_revision: str | None = "2026_11_21_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "zentra_app"
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

# Intents move through their states and settle; settings are replaced in place; sandbox
# callbacks are marked delivered. Nothing here is deleted by the application.
TENANT_TABLE_RIGHTS = {
    "intents": "SELECT, INSERT, UPDATE",
    "runtime_settings": "SELECT, INSERT, UPDATE",
    "rail_health": "SELECT, INSERT, UPDATE",
    "sandbox_callbacks": "SELECT, INSERT, UPDATE",
}


def upgrade() -> None:
    op.create_table(
        "intents",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("intent_id", sa.String(200), nullable=False),
        sa.Column("content", JSON, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("destination", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(100), nullable=True),
        sa.Column("rail", sa.String(100), nullable=True),
        sa.Column("provider_reference", sa.String(200), nullable=True),
        sa.Column("movement_id", sa.String(200), nullable=True),
        sa.Column("ledger_entries", JSON, nullable=False),
        sa.Column("trace", JSON, nullable=False),
        sa.Column("policy", JSON, nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("accepted_on", sa.Date(), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intents")),
        sa.UniqueConstraint("tenant_id", "intent_id", name=op.f("uq_intents_tenant_id_intent_id")),
    )
    op.create_index(
        "ix_intents_velocity", "intents", ["tenant_id", "source", "currency", "accepted_on"]
    )
    op.create_index(
        "ix_intents_rail_reference", "intents", ["tenant_id", "rail", "provider_reference"]
    )
    op.create_table(
        "runtime_settings",
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("document", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "kind", name=op.f("pk_runtime_settings")),
    )
    op.create_table(
        "rail_health",
        sa.Column("rail", sa.String(100), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "rail", name=op.f("pk_rail_health")),
    )
    op.create_table(
        "sandbox_callbacks",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("connection_id", sa.String(40), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("provider_reference", sa.String(200), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("settlement_date", sa.Date(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["provider_connections.id"],
            name=op.f("fk_sandbox_callbacks_connection_id_provider_connections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_callbacks")),
        sa.UniqueConstraint(
            "tenant_id",
            "connection_id",
            "event_id",
            name=op.f("uq_sandbox_callbacks_tenant_id_connection_id_event_id"),
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table, rights in TENANT_TABLE_RIGHTS.items():
            op.execute(f"GRANT {rights} ON {table} TO {APP_ROLE}")
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                "USING (tenant_id = current_setting('zentra.tenant_id', true)) "
                "WITH CHECK (tenant_id = current_setting('zentra.tenant_id', true))"
            )


def downgrade() -> None:
    op.drop_table("sandbox_callbacks")
    op.drop_table("rail_health")
    op.drop_table("runtime_settings")
    op.drop_index("ix_intents_rail_reference", "intents")
    op.drop_index("ix_intents_velocity", "intents")
    op.drop_table("intents")
