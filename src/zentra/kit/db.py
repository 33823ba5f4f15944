"""Database engines and units of work, with tenant scoping beneath the application.

A unit of work is one transaction: the edge (a request, a job, a command) opens it, services
flush, and the edge commits or rolls back. A unit of work opened for a tenant is confined to it:

- on PostgreSQL each transaction runs ``SET LOCAL ROLE zentra_app`` (a role that is neither
  superuser nor table owner, so row-level security applies) and ``set_config('zentra.tenant_id',
  ..., true)`` — transaction-local, so a pooled connection never carries a tenant over;
- on every database, repositories filter by ``tenant_id`` as well.

SQLite transactions start with ``BEGIN IMMEDIATE`` so that concurrent writers queue on the
database lock instead of failing when a read transaction tries to upgrade. Read-only units of
work (``read_only=True``: GET requests) start with a plain ``BEGIN`` instead, so in WAL mode they
read while a long write (a million-row run) holds the lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from zentra.config import get_settings
from zentra.kit.errors import ZentraError

APP_ROLE = "zentra_app"
READ_ONLY_OPTION = "zentra_read_only"
TENANT_SETTING = "zentra.tenant_id"


def is_postgres(engine: Engine | Connection) -> bool:
    """True when ``engine`` talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # SQLite's default page cache is 2 MiB: a bulk load of a million rows into indexed
        # tables then evicts index pages on nearly every insert. Pages are only allocated as
        # they are used, so a generous bound costs memory only on large runs.
        cursor.execute(f"PRAGMA cache_size=-{get_settings().sqlite_cache_mb * 1024}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_db_engine(url: str) -> Engine:
    """Create an engine for ``url`` (``sqlite:///...`` or ``postgresql+psycopg://...``)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_pre_ping=True
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    """An engine plus the units of work opened on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        self._read_only_sessions = sessionmaker(
            self.engine.execution_options(**{READ_ONLY_OPTION: True}),
            expire_on_commit=False,
            autoflush=True,
        )
        for factory in (self._sessions, self._read_only_sessions):
            event.listen(factory, "after_begin", _scope_transaction_to_tenant)

    @property
    def is_postgres(self) -> bool:
        """True when this database is PostgreSQL."""
        return is_postgres(self.engine)

    def new_session(self, tenant_id: str | None = None, *, read_only: bool = False) -> Session:
        """A session whose transactions are confined to ``tenant_id`` (None: system scope)."""
        session = (self._read_only_sessions if read_only else self._sessions)()
        session.info["tenant_id"] = tenant_id
        return session

    @contextmanager
    def unit_of_work(
        self, tenant_id: str | None = None, *, read_only: bool = False
    ) -> Iterator[Session]:
        """One transaction: commit when the block ends, roll back when it raises — except for a
        recorded refusal (``ZentraError.keeps_changes``), whose evidence is committed before the
        error goes on."""
        session = self.new_session(tenant_id, read_only=read_only)
        try:
            session.begin()
            try:
                yield session
            except ZentraError as error:
                if error.keeps_changes:
                    session.commit()
                else:
                    session.rollback()
                raise
            except BaseException:
                session.rollback()
                raise
            session.commit()
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _scope_transaction_to_tenant(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    tenant_id = session.info.get("tenant_id")
    if tenant_id is None or not is_postgres(connection):
        return
    # SET LOCAL only: both settings end with the transaction, so nothing leaks across the pool.
    connection.exec_driver_sql(f"SET LOCAL ROLE {APP_ROLE}")
    connection.execute(
        text("SELECT set_config(:name, :tenant, true)"),
        {"name": TENANT_SETTING, "tenant": tenant_id},
    )


def scope_transaction(session: Session, tenant_id: str) -> None:
    """Set the tenant of the session's current transaction without switching role.

    For system work that creates a tenant's first rows (tenant creation): on PostgreSQL the
    row-level security ``WITH CHECK`` then admits rows of that tenant only.
    """
    if is_postgres(session.connection()):
        session.execute(
            text("SELECT set_config(:name, :tenant, true)"),
            {"name": TENANT_SETTING, "tenant": tenant_id},
        )


@lru_cache(maxsize=8)
def get_database(url: str | None = None) -> Database:
    """The process-wide :class:`Database` for ``url`` (default: ``ZENTRA_DATABASE_URL``)."""
    return Database(url or get_settings().database_url)
