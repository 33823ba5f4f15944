"""A settlement file's business date, stored once at upload.

``settlement_files.business_date`` is the day the file reports on: given by the uploader, or the
latest day any of its rows is booked on (UTC). Expected-file schedules look files up by it
through ``ix_settlement_files_business_date`` instead of aggregating every external record of
the provider at each check. Existing files are backfilled from their records.

Revision ID: 2026_11_21_0011
Revises: 2026_11_21_0010
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_21_0011"
down_revision: str | None = "2026_11_21_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("settlement_files", sa.Column("business_date", sa.Date(), nullable=True))
    op.create_index(
        "ix_settlement_files_business_date",
        "settlement_files",
        ["tenant_id", "provider", "business_date"],
    )
    # SQLite keeps timestamps as text ("YYYY-MM-DD HH:MM:SS.ffffff", UTC); PostgreSQL as
    # timestamptz, whose date is taken in UTC.
    latest_day = (
        "date(max(booked_at))"
        if op.get_bind().dialect.name == "sqlite"
        else "(max(booked_at) AT TIME ZONE 'UTC')::date"
    )
    op.execute(
        f"""
        UPDATE settlement_files SET business_date = (
            SELECT {latest_day} FROM external_records
            WHERE external_records.settlement_file_id = settlement_files.id
        )
        WHERE status = 'parsed'
        """  # noqa: S608 - a constant expression per dialect
    )


def downgrade() -> None:
    op.drop_index("ix_settlement_files_business_date", table_name="settlement_files")
    op.drop_column("settlement_files", "business_date")
