"""Apply Alembic migrations programmatically (``zentra db upgrade``, ``serve``, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from zentra.kit.db import Database


def _alembic_config(url: str) -> Config:
    root = Path(__file__).resolve().parents[3]
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade_database(database: Database, revision: str = "head") -> None:
    """Bring ``database`` to ``revision`` with the real migrations."""
    config = _alembic_config(database.url)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
