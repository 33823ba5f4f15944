"""Drop single-column tenant_id indexes: composite indexes and unique constraints already lead
with tenant_id, and each extra index costs every bulk write (measured on SQLite: an index adds
about a second per million rows).

Revision ID: 2026_11_21_0004
Revises: 2026_11_21_0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "2026_11_21_0004"
down_revision: str | None = "2026_11_21_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "audit_events",
    "audit_heads",
    "closeouts",
    "events",
    "exception_activities",
    "external_records",
    "idempotency_keys",
    "match_links",
    "matches",
    "movements",
    "reconciliation_exceptions",
    "reconciliation_rulesets",
    "reconciliation_runs",
    "settlement_files",
    "signing_keys",
)


def upgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_tenant_id", table_name=table)


def downgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])
