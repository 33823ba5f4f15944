"""Queries of the providers domain. Every tenant query filters by ``tenant_id`` as well as
relying on row-level security; the route lookup is the one system-scope read."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from zentra.models import (
    Callback,
    Movement,
    MovementStateEvent,
    ProviderConnection,
    ProviderConnectionRoute,
)


def find_route_tenant(session: Session, connection_id: str) -> str | None:
    """The tenant of ``connection_id`` (system scope: no tenant is known yet)."""
    query = select(ProviderConnectionRoute.tenant_id).where(
        ProviderConnectionRoute.connection_id == connection_id
    )
    return session.execute(query).scalar_one_or_none()


def get_connection(
    session: Session, tenant_id: str, connection_id: str
) -> ProviderConnection | None:
    """The tenant's connection ``connection_id``, if any."""
    query = select(ProviderConnection).where(
        ProviderConnection.tenant_id == tenant_id, ProviderConnection.id == connection_id
    )
    return session.execute(query).scalar_one_or_none()


def find_connection_by_name(
    session: Session, tenant_id: str, name: str
) -> ProviderConnection | None:
    """The tenant's connection named ``name``, if any."""
    query = select(ProviderConnection).where(
        ProviderConnection.tenant_id == tenant_id, ProviderConnection.name == name
    )
    return session.execute(query).scalar_one_or_none()


def list_connections(
    session: Session, tenant_id: str, *, limit: int, after_id: str | None
) -> list[ProviderConnection]:
    """Up to ``limit`` of the tenant's connections in id order, after ``after_id``."""
    query = select(ProviderConnection).where(ProviderConnection.tenant_id == tenant_id)
    if after_id is not None:
        query = query.where(ProviderConnection.id > after_id)
    return list(session.execute(query.order_by(ProviderConnection.id).limit(limit)).scalars())


def find_callback(
    session: Session, tenant_id: str, connection_id: str, provider_event_id: str
) -> Callback | None:
    """The stored callback of this provider event on this connection, if any."""
    query = select(Callback).where(
        Callback.tenant_id == tenant_id,
        Callback.connection_id == connection_id,
        Callback.provider_event_id == provider_event_id,
    )
    return session.execute(query).scalar_one_or_none()


def movements_of_reference(
    session: Session, tenant_id: str, provider: str, key: str
) -> list[Movement]:
    """The movements of ``provider`` with reference ``key``, locked for this transaction.

    The row lock (PostgreSQL; SQLite serializes writers anyway) makes two callbacks of one
    reference apply one after the other, never from the same stale status.
    """
    query = (
        select(Movement)
        .where(
            Movement.tenant_id == tenant_id,
            Movement.provider == provider,
            Movement.reference_key == key,
        )
        .order_by(Movement.id)
        .with_for_update()
    )
    return list(session.execute(query).scalars())


def unapplied_state_events(
    session: Session, tenant_id: str, connection_id: str, key: str
) -> list[MovementStateEvent]:
    """The reference's state events not applied yet, in arrival order."""
    query = select(MovementStateEvent).where(
        MovementStateEvent.tenant_id == tenant_id,
        MovementStateEvent.connection_id == connection_id,
        MovementStateEvent.reference_key == key,
        MovementStateEvent.applied.is_(False),
    )
    return list(session.execute(query.order_by(MovementStateEvent.callback_id)).scalars())


def mark_state_events_applied(session: Session, tenant_id: str, callback_ids: list[str]) -> None:
    """Mark the state events of these callbacks applied, in one statement."""
    if not callback_ids:
        return
    session.execute(
        update(MovementStateEvent)
        .where(
            MovementStateEvent.tenant_id == tenant_id,
            MovementStateEvent.callback_id.in_(callback_ids),
        )
        .values(applied=True)
        .execution_options(synchronize_session="fetch")
    )


def held_references_with_movements(
    session: Session, tenant_id: str
) -> list[tuple[ProviderConnection, str]]:
    """(connection, reference key) pairs whose state events are still unapplied and for which a
    movement of the connection's provider now exists: what an import may have unblocked. The
    held events are few, so this is one small join."""
    query = (
        select(ProviderConnection, MovementStateEvent.reference_key)
        .join(ProviderConnection, ProviderConnection.id == MovementStateEvent.connection_id)
        .where(
            MovementStateEvent.tenant_id == tenant_id,
            ProviderConnection.tenant_id == tenant_id,
            MovementStateEvent.applied.is_(False),
            select(Movement.id)
            .where(
                Movement.tenant_id == tenant_id,
                Movement.provider == ProviderConnection.name,
                Movement.reference_key == MovementStateEvent.reference_key,
            )
            .exists(),
        )
        .distinct()
        .order_by(ProviderConnection.id, MovementStateEvent.reference_key)
    )
    return [(connection, key) for connection, key in session.execute(query)]
