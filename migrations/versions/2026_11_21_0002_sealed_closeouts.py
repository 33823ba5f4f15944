"""Sealed closeouts are append-only; settlement files are found by the client's file id.

Revision ID: 2026_11_21_0002
Revises: 2026_11_21_0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "2026_11_21_0002"
down_revision: str | None = "2026_11_21_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "zentra_app"


def upgrade() -> None:
    op.create_index(
        "ix_settlement_files_file_id", "settlement_files", ["tenant_id", "file_id"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        # Sealed evidence never changes: the application may read and add closeouts only.
        op.execute(f"REVOKE UPDATE, DELETE ON closeouts FROM {APP_ROLE}")
    else:
        op.execute(
            "CREATE TRIGGER closeouts_no_update BEFORE UPDATE ON closeouts "
            "BEGIN SELECT RAISE(ABORT, 'closeouts are sealed'); END"
        )
        op.execute(
            "CREATE TRIGGER closeouts_no_delete BEFORE DELETE ON closeouts "
            "BEGIN SELECT RAISE(ABORT, 'closeouts are sealed'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT UPDATE, DELETE ON closeouts TO {APP_ROLE}")
    else:
        op.execute("DROP TRIGGER IF EXISTS closeouts_no_update")
        op.execute("DROP TRIGGER IF EXISTS closeouts_no_delete")
    op.drop_index("ix_settlement_files_file_id", table_name="settlement_files")
