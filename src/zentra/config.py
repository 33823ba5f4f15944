"""One Settings object, read from ``ZENTRA_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration. Every field maps to ``ZENTRA_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="ZENTRA_", extra="ignore")

    database_url: str = "sqlite:///./zentra.db"
    host: str = "127.0.0.1"
    port: int = 8000
    # Seconds a claimed job stays leased to its worker; an unfinished job is claimable again after.
    job_lease_seconds: int = 300
    # Seconds an in-flight Idempotency-Key blocks a retry with 409 before it may be taken over.
    idempotency_lock_seconds: int = 60
    # Hours a completed Idempotency-Key replays its stored response.
    idempotency_ttl_hours: int = 24
    # Days before a run's ledger window in which movements are still match candidates
    # (a provider settles today what was captured a few days ago).
    settlement_lookback_days: int = 7
    # Largest request body the API accepts (uploads, imports, callbacks), in MiB; larger: 413.
    max_request_mb: int = Field(default=512, ge=1)
    # Upper bound of each SQLite connection's page cache, in MiB (allocated only as used).
    sqlite_cache_mb: int = Field(default=256, ge=2)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (environment is read once)."""
    return Settings()
