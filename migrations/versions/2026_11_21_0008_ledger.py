"""The double-entry ledger: accounts, entries, postings, and the database's balance check.

Three tenant tables with row-level security on PostgreSQL. The database refuses an unbalanced
entry by itself, on both engines, with one rule (ADR 0007): *an entry row is inserted after its
postings, and inserting it checks them*:

- inserting an entry refuses it unless it has postings and, per currency, its debits equal its
  credits (PostgreSQL: one statement-level trigger over the inserted rows, so a bulk insert of
  8,000 entries is checked in one set-based query; SQLite: a row-level trigger);
- inserting a posting for an entry that is already recorded is refused (an entry is complete
  the moment it is inserted), and so is a posting whose account is not an account of the
  posting's tenant in the posting's currency;
- accounts are never deleted, and their id, tenant and currency never change;
- postings are never updated or deleted, entries never deleted.

A posting is keyed by (entry, position); its ``entry_id`` is no foreign key, since postings are
written before their entry (a deferred key would cost a referential check per posting at
commit, ADR 0007).

Revision ID: 2026_11_21_0008
Revises: 2026_11_21_0007
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2026_11_21_0008"
down_revision: str | None = "2026_11_21_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "zentra_app"
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

# Postings are append-only for the application; entries and accounts change, never disappear.
TENANT_TABLE_RIGHTS = {
    "ledger_accounts": "SELECT, INSERT, UPDATE",
    "ledger_entries": "SELECT, INSERT, UPDATE",
    "ledger_postings": "SELECT, INSERT",
}

AVAILABLE_SQL = (
    "CASE WHEN normal_side = 'debit' "
    "THEN posted_debits - posted_credits - pending_credits "
    "ELSE posted_credits - posted_debits - pending_debits END"
)

# The PostgreSQL checks are written as correlated scalar subqueries over the transition table:
# one index lookup per inserted row, whatever the planner's statistics say. (A join lets a
# planner without statistics on a freshly filled table drive from the big table instead.)
POSTGRES_TRIGGERS = [
    """
    CREATE FUNCTION ledger_refuse_unbalanced_entries() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        unbalanced text;
    BEGIN
        -- Unbalanced: no posting at all (bool_and of nothing is NULL), or a currency whose
        -- debits and credits differ.
        SELECT e.entry_id INTO unbalanced FROM inserted_entries e
        WHERE (
            SELECT bool_and(s.net = 0) FROM (
                SELECT sum(CASE p.direction WHEN 'debit' THEN p.amount ELSE -p.amount END) AS net
                FROM ledger_postings p WHERE p.entry_id = e.id GROUP BY p.currency
            ) s
        ) IS NOT TRUE
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger entry % is not balanced per currency', unbalanced
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS inserted_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_unbalanced_entries()
    """,
    """
    CREATE FUNCTION ledger_refuse_postings_of_recorded_entries() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        recorded text;
        stray text;
    BEGIN
        SELECT s.recorded INTO recorded FROM (
            SELECT (SELECT e.entry_id FROM ledger_entries e WHERE e.id = p.entry_id) AS recorded
            FROM inserted_postings p
        ) s
        WHERE s.recorded IS NOT NULL
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger entry % is recorded: its postings cannot change', recorded
                USING ERRCODE = 'check_violation';
        END IF;
        -- What a foreign key would say, and more: the account is the posting's tenant's (a key
        -- check would bypass row-level security) and holds the posting's currency. Accounts
        -- are never deleted and keep their id, tenant and currency, so this holds for good.
        -- Looked up by id alone (the primary key, one row): a tenant condition inside would
        -- let the planner walk the tenant's (tenant_id, code) index instead.
        SELECT p.account_id INTO stray FROM inserted_postings p
        WHERE (
            SELECT ROW(a.tenant_id, a.currency) FROM ledger_accounts a WHERE a.id = p.account_id
        ) IS DISTINCT FROM ROW(p.tenant_id, p.currency)
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'posting to %: no account of its tenant in its currency', stray
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER ledger_postings_of_new_entries AFTER INSERT ON ledger_postings
    REFERENCING NEW TABLE AS inserted_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_postings_of_recorded_entries()
    """,
    """
    CREATE FUNCTION ledger_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% of % is not allowed: the ledger is append-only', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'check_violation';
    END $$
    """,
    """
    CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()
    """,
    """
    CREATE TRIGGER ledger_entries_kept BEFORE DELETE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()
    """,
    """
    CREATE TRIGGER ledger_accounts_kept BEFORE DELETE ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()
    """,
    """
    CREATE TRIGGER ledger_accounts_identity BEFORE UPDATE OF id, tenant_id, currency
    ON ledger_accounts FOR EACH ROW
    WHEN (
        OLD.id IS DISTINCT FROM NEW.id
        OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id
        OR OLD.currency IS DISTINCT FROM NEW.currency
    )
    EXECUTE FUNCTION ledger_refuse_change()
    """,
]

SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
    WHEN NOT EXISTS (SELECT 1 FROM ledger_postings p WHERE p.entry_id = NEW.id)
    OR EXISTS (
        SELECT 1 FROM ledger_postings p WHERE p.entry_id = NEW.id
        GROUP BY p.currency
        HAVING sum(CASE p.direction WHEN 'debit' THEN p.amount ELSE -p.amount END) <> 0
    )
    BEGIN SELECT RAISE(ABORT, 'ledger entry is not balanced per currency'); END
    """,
    """
    CREATE TRIGGER ledger_postings_of_new_entries BEFORE INSERT ON ledger_postings
    WHEN EXISTS (SELECT 1 FROM ledger_entries e WHERE e.id = NEW.entry_id)
    BEGIN SELECT RAISE(ABORT, 'ledger entry is recorded: its postings cannot change'); END
    """,
    """
    CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings
    BEGIN SELECT RAISE(ABORT, 'ledger_postings is append-only'); END
    """,
    """
    CREATE TRIGGER ledger_postings_no_delete BEFORE DELETE ON ledger_postings
    BEGIN SELECT RAISE(ABORT, 'ledger_postings is append-only'); END
    """,
    """
    CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger entries are never deleted'); END
    """,
    """
    CREATE TRIGGER ledger_postings_account BEFORE INSERT ON ledger_postings
    WHEN NOT EXISTS (
        SELECT 1 FROM ledger_accounts a
        WHERE a.id = NEW.account_id AND a.tenant_id = NEW.tenant_id AND a.currency = NEW.currency
    )
    BEGIN SELECT RAISE(ABORT, 'posting: no account of its tenant in its currency'); END
    """,
    """
    CREATE TRIGGER ledger_accounts_no_delete BEFORE DELETE ON ledger_accounts
    BEGIN SELECT RAISE(ABORT, 'ledger accounts are never deleted'); END
    """,
    """
    CREATE TRIGGER ledger_accounts_identity BEFORE UPDATE OF id, tenant_id, currency
    ON ledger_accounts
    WHEN OLD.id IS NOT NEW.id OR OLD.tenant_id IS NOT NEW.tenant_id
        OR OLD.currency IS NOT NEW.currency
    BEGIN SELECT RAISE(ABORT, 'a ledger account keeps its id, tenant and currency'); END
    """,
]


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("code", sa.String(200), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("normal_side", sa.String(6), nullable=False),
        sa.Column("non_negative", sa.Boolean(), nullable=False),
        sa.Column("posted_debits", sa.BigInteger(), nullable=False),
        sa.Column("posted_credits", sa.BigInteger(), nullable=False),
        sa.Column("pending_debits", sa.BigInteger(), nullable=False),
        sa.Column("pending_credits", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.CheckConstraint(
            "type IN ('asset', 'liability', 'equity', 'revenue', 'expense')",
            name=op.f("ck_ledger_accounts_type"),
        ),
        sa.CheckConstraint(
            "normal_side IN ('debit', 'credit')", name=op.f("ck_ledger_accounts_normal_side")
        ),
        sa.CheckConstraint(
            "posted_debits >= 0 AND posted_credits >= 0 "
            "AND pending_debits >= 0 AND pending_credits >= 0",
            name=op.f("ck_ledger_accounts_sums"),
        ),
        sa.CheckConstraint(
            f"NOT non_negative OR ({AVAILABLE_SQL}) >= 0",
            name=op.f("ck_ledger_accounts_non_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_ledger_accounts_tenant_id_code")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("entry_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("two_phase", sa.Boolean(), nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("references", JSON, nullable=False),
        sa.Column("reference_key", sa.String(200), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("reverses_entry_id", sa.String(200), nullable=True),
        sa.Column("reversed_by_entry_id", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_by", sa.String(200), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_by", sa.String(200), nullable=True),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'posted', 'voided')", name=op.f("ck_ledger_entries_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint(
            "tenant_id", "entry_id", name=op.f("uq_ledger_entries_tenant_id_entry_id")
        ),
    )
    op.create_index("ix_ledger_entries_reference", "ledger_entries", ["tenant_id", "reference_key"])
    op.create_index("ix_ledger_entries_effective", "ledger_entries", ["tenant_id", "effective_at"])
    op.create_table(
        "ledger_postings",
        sa.Column("entry_id", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("direction", sa.String(6), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("tenant_id", sa.String(40), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_postings_amount")),
        sa.CheckConstraint(
            "direction IN ('debit', 'credit')", name=op.f("ck_ledger_postings_direction")
        ),
        sa.PrimaryKeyConstraint("entry_id", "position", name=op.f("pk_ledger_postings")),
    )
    # Not led by tenant_id: account ids are unique across tenants, and a tenant-led index here
    # is one a planner without statistics may AND with the entry_id lookup of the balance
    # check, reading every posting of the tenant per entry.
    op.create_index("ix_ledger_postings_account", "ledger_postings", ["account_id"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_TRIGGERS:
            op.execute(statement)
        for table, rights in TENANT_TABLE_RIGHTS.items():
            op.execute(f"GRANT {rights} ON {table} TO {APP_ROLE}")
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY tenant_isolation ON {table} "
                "USING (tenant_id = current_setting('zentra.tenant_id', true)) "
                "WITH CHECK (tenant_id = current_setting('zentra.tenant_id', true))"
            )
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_index("ix_ledger_postings_account", "ledger_postings")
    op.drop_table("ledger_postings")
    op.drop_index("ix_ledger_entries_effective", "ledger_entries")
    op.drop_index("ix_ledger_entries_reference", "ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("ledger_accounts")
    if postgres:
        for function in (
            "ledger_refuse_unbalanced_entries",
            "ledger_refuse_postings_of_recorded_entries",
            "ledger_refuse_change",
        ):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
