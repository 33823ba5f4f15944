"""Movement state events: lifecycle statuses reported by callbacks, held until they apply.

``movement_state_events`` is a tenant table with row-level security on PostgreSQL. Movements gain
an index on (tenant, provider, reference key): a callback finds its movements by reference.

Revision ID: 2026_11_21_0007
Revises: 2026_11_21_0006
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_21_0007"
down_revision: str | None = "2026_11_21_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "zentra_app"

# Events are appended, then marked applied; never deleted.
TENANT_TABLE_RIGHTS = {"movement_state_events": "SELECT, INSERT, UPDATE"}


def upgrade() -> None:
    op.create_table(
        "movement_state_events",
        sa.Column("callback_id", sa.String(40), nullable=False),
        sa.Column("connection_id", sa.String(40), nullable=False),
        sa.Column("provider_event_id", sa.String(200), nullable=False),
        sa.Column("reference_key", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["provider_connections.id"],
            name=op.f("fk_movement_state_events_connection_id_provider_connections"),
        ),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callbacks.id"],
            name=op.f("fk_movement_state_events_callback_id_callbacks"),
        ),
        sa.PrimaryKeyConstraint("callback_id", name=op.f("pk_movement_state_events")),
        sa.UniqueConstraint(
            "tenant_id",
            "connection_id",
            "provider_event_id",
            name=op.f("uq_movement_state_events_tenant_id_connection_id_provider_event_id"),
        ),
    )
    op.create_index(
        "ix_movement_state_events_reference",
        "movement_state_events",
        ["tenant_id", "connection_id", "reference_key"],
    )
    op.create_index(
        "ix_movements_provider_reference",
        "movements",
        ["tenant_id", "provider", "reference_key"],
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
    op.drop_index("ix_movements_provider_reference", "movements")
    op.drop_index("ix_movement_state_events_reference", "movement_state_events")
    op.drop_table("movement_state_events")
