"""Index external records by row id, for restatements.

A new settlement file looks up, for each of its rows that has a ``row_id``, the earlier rows of
the same id in files that runs used (in review, or closed: a post-close adjustment). Without an
index that lookup reads every earlier file of the provider. The index is partial: rows without
a row id (callbacks, files that carry none) cost nothing more to write.

Revision ID: 2026_11_21_0012
Revises: 2026_11_21_0011
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_21_0012"
down_revision: str | None = "2026_11_21_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_external_records_row",
        "external_records",
        ["tenant_id", "row_id"],
        postgresql_where=sa.text("row_id IS NOT NULL"),
        sqlite_where=sa.text("row_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_external_records_row", table_name="external_records")
