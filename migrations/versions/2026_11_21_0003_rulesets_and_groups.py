"""Versioned rulesets per tenant; external records carry a group key and a counterparty.

Revision ID: 2026_11_21_0003
Revises: 2026_11_21_0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_11_21_0003"
down_revision: str | None = "2026_11_21_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "zentra_app"


def upgrade() -> None:
    with op.batch_alter_table("external_records") as batch:
        batch.add_column(sa.Column("group_key", sa.String(200), nullable=True))
        batch.add_column(sa.Column("counterparty", sa.String(500), nullable=True))
    op.create_table(
        "reconciliation_rulesets",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "definition",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("definition_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_rulesets")),
        sa.UniqueConstraint(
            "tenant_id",
            "name",
            "version",
            name=op.f("uq_reconciliation_rulesets_tenant_id_name_version"),
        ),
    )
    op.create_index(
        op.f("ix_reconciliation_rulesets_tenant_id"), "reconciliation_rulesets", ["tenant_id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        table = "reconciliation_rulesets"
        # A ruleset version is immutable: new versions are new rows.
        op.execute(f"GRANT SELECT, INSERT ON {table} TO {APP_ROLE}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            "USING (tenant_id = current_setting('zentra.tenant_id', true)) "
            "WITH CHECK (tenant_id = current_setting('zentra.tenant_id', true))"
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_reconciliation_rulesets_tenant_id"), "reconciliation_rulesets")
    op.drop_table("reconciliation_rulesets")
    with op.batch_alter_table("external_records") as batch:
        batch.drop_column("counterparty")
        batch.drop_column("group_key")
