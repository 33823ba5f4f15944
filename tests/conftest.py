"""Test-wide fixtures. Every database test runs on SQLite and on PostgreSQL.

``db`` is a fresh, migrated database per test, parametrized over both engines. When PostgreSQL
is not reachable the suite says so in its header and runs on SQLite only — unless
``ZENTRA_REQUIRE_POSTGRES=1`` (CI), where a missing PostgreSQL is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.api import ApiClient, api_client
from tests.fixtures.databases import (
    POSTGRES_ADMIN_URL,
    PostgresFactory,
    SqliteFactory,
    database_per_test,
    postgres_available,
)
from zentra.api.app import create_app
from zentra.kit.db import Database
from zentra.tenancy.service import create_tenant

_POSTGRES_UP = postgres_available()


def pytest_report_header(config: pytest.Config) -> str:
    if _POSTGRES_UP:
        return f"databases: SQLite and PostgreSQL ({POSTGRES_ADMIN_URL})"
    return (
        f"databases: SQLite only. PostgreSQL is NOT reachable at {POSTGRES_ADMIN_URL}; "
        "the PostgreSQL half of the suite is not run."
    )


def pytest_configure(config: pytest.Config) -> None:
    if not _POSTGRES_UP and os.environ.get("ZENTRA_REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError(
            f"ZENTRA_REQUIRE_POSTGRES=1 but PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Without PostgreSQL, its parametrizations are deselected (said in the header), not skipped.
    if _POSTGRES_UP:
        return

    def needs_postgres(item: pytest.Item) -> bool:
        return "[postgresql" in item.nodeid or "postgres_db" in getattr(item, "fixturenames", ())

    kept = [item for item in items if not needs_postgres(item)]
    deselected = [item for item in items if needs_postgres(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(scope="session")
def sqlite_factory(tmp_path_factory: pytest.TempPathFactory) -> SqliteFactory:
    return SqliteFactory(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(scope="session")
def postgres_factory(worker_id: str) -> Iterator[PostgresFactory]:
    factory = PostgresFactory(worker_id)
    yield factory
    factory.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A fresh migrated database; the test runs once on each engine."""
    factory_name = "sqlite_factory" if request.param == "sqlite" else "postgres_factory"
    factory = request.getfixturevalue(factory_name)
    yield from database_per_test(factory)


@pytest.fixture
def sqlite_db(sqlite_factory: SqliteFactory) -> Iterator[Database]:
    """A fresh migrated SQLite database (for SQLite-only mechanisms)."""
    yield from database_per_test(sqlite_factory)


@pytest.fixture
def postgres_db(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A fresh migrated PostgreSQL database (for PostgreSQL-only mechanisms)."""
    if not _POSTGRES_UP:
        pytest.fail("PostgreSQL is required for this test")
    yield from database_per_test(request.getfixturevalue("postgres_factory"))


@dataclass
class TenantHandle:
    """A tenant created for a test, with its admin API key."""

    tenant_id: str
    api_key: str


def make_tenant(database: Database, name: str) -> TenantHandle:
    with database.unit_of_work() as session:
        tenant, issued = create_tenant(session, name)
    return TenantHandle(tenant.id, issued.secret)


@pytest.fixture
def tenant(db: Database) -> TenantHandle:
    return make_tenant(db, "acme")


@pytest.fixture
def client(db: Database, tenant: TenantHandle) -> Iterator[ApiClient]:
    """An HTTP client authenticated as the ``tenant`` fixture's admin key."""
    with api_client(create_app(db)) as anonymous:
        yield anonymous.with_key(tenant.api_key)


@pytest.fixture
def corpus_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "shared" / "corpus"
