"""Uniqueness of match links and movements as unique indexes instead of table constraints.

The same guarantees (a record in at most one match per run; one movement per ``movement_id``
and tenant), held by an index of the same name. On SQLite a constraint written into the table
can only go with the table, while an index can be dropped and built again: a bulk load into an
empty table (``zentra.kit.bulk``) builds these indexes once after the rows are in, which costs
a fraction of keeping them up to date row by row (measured on a 1M-row run: the links' two
unique keys were 60 % of the run's persist time). On PostgreSQL a unique index enforces exactly
what the constraint did.

Revision ID: 2026_11_21_0013
Revises: 2026_11_21_0012
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "2026_11_21_0013"
down_revision: str | None = "2026_11_21_0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNIQUE_KEYS: dict[str, dict[str, list[str]]] = {
    "match_links": {
        "uq_match_links_run_id_external_record_id": ["run_id", "external_record_id"],
        "uq_match_links_run_id_movement_id": ["run_id", "movement_id"],
    },
    "movements": {"uq_movements_tenant_id_movement_id": ["tenant_id", "movement_id"]},
}


def upgrade() -> None:
    for table, keys in UNIQUE_KEYS.items():
        with op.batch_alter_table(table) as batch:
            for name in keys:
                batch.drop_constraint(name, type_="unique")
        for name, columns in keys.items():
            op.create_index(name, table, columns, unique=True)


def downgrade() -> None:
    for table, keys in UNIQUE_KEYS.items():
        for name in keys:
            op.drop_index(name, table_name=table)
        with op.batch_alter_table(table) as batch:
            for name, columns in keys.items():
                batch.create_unique_constraint(name, columns)
