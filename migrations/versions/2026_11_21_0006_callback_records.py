"""External records from callbacks belong to no settlement file; connections keep no stream file.

A callback's record is found through ``callbacks.external_record_id``; its ``settlement_file_id``
is NULL.

Revision ID: 2026_11_21_0006
Revises: 2026_11_21_0005
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_21_0006"
down_revision: str | None = "2026_11_21_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("external_records") as batch:
        batch.alter_column("settlement_file_id", existing_type=sa.String(40), nullable=True)
    with op.batch_alter_table("provider_connections") as batch:
        batch.drop_constraint(
            "fk_provider_connections_settlement_file_id_settlement_files", type_="foreignkey"
        )
        batch.drop_column("settlement_file_id")


def downgrade() -> None:
    raise NotImplementedError("callback records cannot be given back a settlement file")
