"""Queries on tenants and keys. Authentication runs before a tenant is known (system scope)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from zentra.models import ApiKey, SigningKey, Tenant


def get_tenant(session: Session, tenant_id: str) -> Tenant | None:
    """The tenant with this id, if any."""
    return session.get(Tenant, tenant_id)


def find_tenant_by_name(session: Session, name: str) -> Tenant | None:
    """The first tenant with this name, if any."""
    return session.scalars(select(Tenant).where(Tenant.name == name).order_by(Tenant.id)).first()


def find_key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    """The API key whose secret hashes to ``key_hash``."""
    return session.scalars(select(ApiKey).where(ApiKey.key_hash == key_hash)).first()


def get_signing_key(session: Session, tenant_id: str) -> SigningKey | None:
    """The tenant's newest closeout signing key."""
    return session.scalars(
        select(SigningKey).where(SigningKey.tenant_id == tenant_id).order_by(SigningKey.id.desc())
    ).first()


def get_signing_key_by_id(session: Session, tenant_id: str, key_id: str) -> SigningKey | None:
    """A signing key of the tenant by id."""
    return session.scalars(
        select(SigningKey).where(SigningKey.tenant_id == tenant_id, SigningKey.id == key_id)
    ).first()
