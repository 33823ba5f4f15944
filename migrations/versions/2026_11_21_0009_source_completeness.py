"""Source completeness and late callbacks: expected-file schedules, exceptions without a run,
and structured fields of external records.

- ``provider_file_schedules``: a tenant table (row-level security on PostgreSQL), one schedule
  per connection.
- ``reconciliation_exceptions``: ``run_id`` becomes nullable; ``connection_id``,
  ``business_date`` and ``natural_key`` are added, with ``UNIQUE (tenant_id, natural_key)`` so
  that a missing file of one connection and date (or a post-close callback) opens one exception,
  never two.
- ``external_records``: ``details`` (JSON, nullable) for structured fields such as a NACHA
  return's reason code, and an index on ``(tenant_id, reference_key)`` through which a late
  callback finds the exceptions of its reference.

Revision ID: 2026_11_21_0009
Revises: 2026_11_21_0008
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_11_21_0009"
down_revision: str | None = "2026_11_21_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "zentra_app"
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

# A schedule is replaced in place (PUT), never deleted by the application.
TENANT_TABLE_RIGHTS = {"provider_file_schedules": "SELECT, INSERT, UPDATE"}


def upgrade() -> None:
    op.create_table(
        "provider_file_schedules",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("connection_id", sa.String(40), nullable=False),
        sa.Column("cadence", sa.String(20), nullable=False),
        sa.Column("cutoff", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("check_job_id", sa.String(40), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["provider_connections.id"],
            name=op.f("fk_provider_file_schedules_connection_id_provider_connections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_file_schedules")),
        sa.UniqueConstraint(
            "tenant_id",
            "connection_id",
            name=op.f("uq_provider_file_schedules_tenant_id_connection_id"),
        ),
    )
    with op.batch_alter_table("reconciliation_exceptions") as batch:
        batch.alter_column("run_id", existing_type=sa.String(40), nullable=True)
        batch.add_column(sa.Column("connection_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("business_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("natural_key", sa.String(200), nullable=True))
        batch.create_foreign_key(
            "fk_reconciliation_exceptions_connection_id_provider_connections",
            "provider_connections",
            ["connection_id"],
            ["id"],
        )
        batch.create_unique_constraint(
            "uq_reconciliation_exceptions_tenant_id_natural_key", ["tenant_id", "natural_key"]
        )
    with op.batch_alter_table("external_records") as batch:
        batch.add_column(sa.Column("details", JSON, nullable=True))
    op.create_index(
        "ix_external_records_reference", "external_records", ["tenant_id", "reference_key"]
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
    raise NotImplementedError(
        "exceptions without a run cannot be given one back; restore from a backup instead"
    )
