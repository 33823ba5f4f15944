"""Provider connections, signed inbound callbacks and the security log of refused callbacks.

``provider_connection_routes`` maps a connection id to its tenant without row-level security
(like ``api_keys``): a callback carries no API key, so the tenant is found from the id before
the tenant-scoped transaction opens. The other tables are tenant tables with RLS on PostgreSQL.

Revision ID: 2026_11_21_0005
Revises: 2026_11_21_0004
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_11_21_0005"
down_revision: str | None = "2026_11_21_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "zentra_app"
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

# Rights of the application role per tenant table. Callbacks and the security log are evidence:
# the application appends and reads them, never edits or deletes them.
TENANT_TABLE_RIGHTS = {
    "provider_connections": "SELECT, INSERT, UPDATE",
    "callbacks": "SELECT, INSERT, UPDATE",
    "security_log": "SELECT, INSERT",
}


def upgrade() -> None:
    op.create_table(
        "provider_connections",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("signing_secret", sa.Text(), nullable=False),
        sa.Column("settlement_file_id", sa.String(40), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["settlement_file_id"],
            ["settlement_files.id"],
            name=op.f("fk_provider_connections_settlement_file_id_settlement_files"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_connections")),
        sa.UniqueConstraint(
            "tenant_id", "name", name=op.f("uq_provider_connections_tenant_id_name")
        ),
    )
    op.create_table(
        "provider_connection_routes",
        sa.Column("connection_id", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_provider_connection_routes_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_provider_connection_routes")),
    )
    op.create_table(
        "callbacks",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("connection_id", sa.String(40), nullable=False),
        sa.Column("provider_event_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("headers", JSON, nullable=False),
        sa.Column("external_record_id", sa.String(40), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["provider_connections.id"],
            name=op.f("fk_callbacks_connection_id_provider_connections"),
        ),
        sa.ForeignKeyConstraint(
            ["external_record_id"],
            ["external_records.id"],
            name=op.f("fk_callbacks_external_record_id_external_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
        sa.UniqueConstraint(
            "tenant_id",
            "connection_id",
            "provider_event_id",
            name=op.f("uq_callbacks_tenant_id_connection_id_provider_event_id"),
        ),
    )
    op.create_table(
        "security_log",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("connection_id", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("remote_address", sa.String(100), nullable=True),
        sa.Column("headers_sha256", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["provider_connections.id"],
            name=op.f("fk_security_log_connection_id_provider_connections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_log")),
    )
    op.create_index(
        "ix_security_log_connection", "security_log", ["tenant_id", "connection_id", "at"]
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
        # Written inside the tenant's transaction (connection creation), read in system scope.
        op.execute(f"GRANT SELECT, INSERT ON provider_connection_routes TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_index("ix_security_log_connection", "security_log")
    op.drop_table("security_log")
    op.drop_table("callbacks")
    op.drop_table("provider_connection_routes")
    op.drop_table("provider_connections")
