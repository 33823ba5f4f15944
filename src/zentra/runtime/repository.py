"""Queries of the runtime domain. Every query filters by tenant."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from zentra.kit.db import is_postgres
from zentra.models import LedgerAccount, Movement, ProviderConnection, SigningKey
from zentra.models.runtime import Intent, RailHealth, RuntimeSetting, SandboxCallback


def get_setting(session: Session, tenant_id: str, kind: str) -> RuntimeSetting | None:
    """The tenant's settings document of ``kind`` (``policy``, ``routes``), if set."""
    return session.scalars(
        select(RuntimeSetting).where(
            RuntimeSetting.tenant_id == tenant_id, RuntimeSetting.kind == kind
        )
    ).first()


def get_rail_health(session: Session, tenant_id: str, rail: str) -> RailHealth | None:
    """The health row of ``rail``, if one was ever set."""
    return session.scalars(
        select(RailHealth).where(RailHealth.tenant_id == tenant_id, RailHealth.rail == rail)
    ).first()


def rail_health(session: Session, tenant_id: str, rails: list[str]) -> dict[str, str]:
    """``{rail: status}`` of the rails among ``rails`` that have a health row."""
    rows = session.execute(
        select(RailHealth.rail, RailHealth.status).where(
            RailHealth.tenant_id == tenant_id, RailHealth.rail.in_(rails)
        )
    )
    return {rail: status for rail, status in rows}


def connections_by_name(
    session: Session, tenant_id: str, names: list[str]
) -> dict[str, ProviderConnection]:
    """The tenant's provider connections among ``names``, by name."""
    rows = session.scalars(
        select(ProviderConnection).where(
            ProviderConnection.tenant_id == tenant_id, ProviderConnection.name.in_(names)
        )
    )
    return {row.name: row for row in rows}


def find_intent(session: Session, tenant_id: str, intent_id: str) -> Intent | None:
    """The tenant's intent with the client's ``intent_id``."""
    return session.scalars(
        select(Intent).where(Intent.tenant_id == tenant_id, Intent.intent_id == intent_id)
    ).first()


def list_intents(
    session: Session,
    tenant_id: str,
    *,
    limit: int,
    after_id: str | None,
    status: str | None,
    source: str | None,
    rail: str | None,
) -> list[Intent]:
    """Up to ``limit`` intents in creation order after ``after_id``, optionally filtered."""
    query = select(Intent).where(Intent.tenant_id == tenant_id)
    if after_id is not None:
        query = query.where(Intent.id > after_id)
    if status is not None:
        query = query.where(Intent.status == status)
    if source is not None:
        query = query.where(Intent.source == source)
    if rail is not None:
        query = query.where(Intent.rail == rail)
    return list(session.scalars(query.order_by(Intent.id).limit(limit)))


def lock_source_day(session: Session, tenant_id: str, source: str, currency: str) -> None:
    """Serialize the velocity checks of one source and currency until the transaction ends.

    Two intents of one source checked at once would each see the other missing from the day's
    total. On PostgreSQL a transaction-scoped advisory lock makes them take turns; SQLite's
    write transactions (``BEGIN IMMEDIATE``) take turns already.
    """
    if not is_postgres(session.connection()):
        return
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"zentra.velocity\x1f{tenant_id}\x1f{source}\x1f{currency}"},
    )


def source_total_on(
    session: Session, tenant_id: str, source: str, currency: str, day: date, *, excluding: str
) -> int:
    """Sum of ``source``'s accepted (not rejected) intents in ``currency`` on ``day``, the
    intent ``excluding`` (the one being checked) left out."""
    total = session.scalar(
        select(func.coalesce(func.sum(Intent.amount_minor), 0)).where(
            Intent.tenant_id == tenant_id,
            Intent.source == source,
            Intent.currency == currency,
            Intent.accepted_on == day,
            Intent.status != "rejected",
            Intent.id != excluding,
        )
    )
    return int(total or 0)


def movement_exists(session: Session, tenant_id: str, movement_id: str) -> bool:
    """True when the tenant has a movement with this ``movement_id``."""
    return (
        session.scalar(
            select(Movement.id).where(
                Movement.tenant_id == tenant_id, Movement.movement_id == movement_id
            )
        )
        is not None
    )


def get_movement(session: Session, tenant_id: str, movement_id: str) -> Movement | None:
    """The tenant's movement with this ``movement_id``."""
    return session.scalars(
        select(Movement).where(Movement.tenant_id == tenant_id, Movement.movement_id == movement_id)
    ).first()


def movements_by_id(
    session: Session, tenant_id: str, movement_ids: list[str]
) -> dict[str, Movement]:
    """The tenant's movements among ``movement_ids``, by movement id."""
    if not movement_ids:
        return {}
    rows = session.scalars(
        select(Movement).where(
            Movement.tenant_id == tenant_id, Movement.movement_id.in_(movement_ids)
        )
    )
    return {row.movement_id: row for row in rows}


def intents_routed_on(session: Session, tenant_id: str, rail: str, day: date) -> list[Intent]:
    """The intents routed to ``rail`` whose movement occurred on ``day`` (UTC)."""
    query = (
        select(Intent)
        .join(
            Movement,
            (Movement.tenant_id == Intent.tenant_id) & (Movement.movement_id == Intent.movement_id),
        )
        .where(
            Intent.tenant_id == tenant_id,
            Intent.rail == rail,
            Intent.status == "evidenced",
            Movement.provider == rail,
            Movement.occurred_between(day, day),
        )
        .order_by(Intent.id)
    )
    return list(session.scalars(query))


def find_intent_by_reference(
    session: Session, tenant_id: str, rail: str, provider_reference: str
) -> Intent | None:
    """The intent ``rail`` knows as ``provider_reference``, row-locked (PostgreSQL) and read
    afresh under the lock: an intent already in the session must not keep its older state."""
    return session.scalars(
        select(Intent)
        .where(
            Intent.tenant_id == tenant_id,
            Intent.rail == rail,
            Intent.provider_reference == provider_reference,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def sandbox_callbacks(
    session: Session, tenant_id: str, connection_id: str, event_ids: list[str]
) -> dict[str, SandboxCallback]:
    """The sandbox callbacks of a connection among ``event_ids``, by event id."""
    if not event_ids:
        return {}
    rows = session.scalars(
        select(SandboxCallback).where(
            SandboxCallback.tenant_id == tenant_id,
            SandboxCallback.connection_id == connection_id,
            SandboxCallback.event_id.in_(event_ids),
        )
    )
    return {row.event_id: row for row in rows}


def held_sandbox_callbacks(
    session: Session, tenant_id: str, connection_id: str
) -> list[SandboxCallback]:
    """A connection's late callbacks not delivered yet, oldest first, row-locked."""
    return list(
        session.scalars(
            select(SandboxCallback)
            .where(
                SandboxCallback.tenant_id == tenant_id,
                SandboxCallback.connection_id == connection_id,
                SandboxCallback.delivered_at.is_(None),
            )
            .order_by(SandboxCallback.id)
            .with_for_update()
        )
    )


def latest_signing_key(session: Session, tenant_id: str) -> SigningKey | None:
    """The tenant's newest signing key (the one new evidence is signed with)."""
    return session.scalars(
        select(SigningKey).where(SigningKey.tenant_id == tenant_id).order_by(SigningKey.id.desc())
    ).first()


def signing_key(session: Session, tenant_id: str, key_id: str) -> SigningKey | None:
    """One of the tenant's signing keys."""
    return session.scalars(
        select(SigningKey).where(SigningKey.tenant_id == tenant_id, SigningKey.id == key_id)
    ).first()


def account_currencies(session: Session, tenant_id: str, codes: list[str]) -> dict[str, str]:
    """``{code: currency}`` of the tenant's ledger accounts among ``codes``."""
    rows = session.execute(
        select(LedgerAccount.code, LedgerAccount.currency).where(
            LedgerAccount.tenant_id == tenant_id, LedgerAccount.code.in_(codes)
        )
    )
    return {code: currency for code, currency in rows}
