"""Create tenants and keys; authenticate a bearer key."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from zentra.audit.service import record_audit, start_chain
from zentra.evidence.signing import generate_signing_key
from zentra.kit.context import ROLES, ActorContext, system_context
from zentra.kit.db import scope_transaction
from zentra.kit.errors import AuthenticationFailed, InvalidInput, NotFound
from zentra.kit.ids import new_id
from zentra.kit.time import utcnow
from zentra.models import ApiKey, SigningKey, Tenant
from zentra.tenancy import repository

KEY_PREFIX = "zk_"

DEFAULT_SETTINGS: dict[str, Any] = {
    # Write-offs above this many minor units need an approver (SPEC 4).
    "write_off_approval_threshold_minor": 10_000,
}


def hash_api_key(secret: str) -> str:
    """The stored form of an API key secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A newly created key; ``secret`` is shown once and never stored."""

    key_id: str
    tenant_id: str
    roles: tuple[str, ...]
    secret: str


def _validate_roles(roles: list[str]) -> list[str]:
    unknown = sorted(set(roles) - set(ROLES))
    if not roles or unknown:
        raise InvalidInput(
            f"roles must be a non-empty subset of {', '.join(ROLES)}", unknown_roles=unknown
        )
    return sorted(set(roles))


def create_api_key(
    session: Session, ctx: ActorContext, *, roles: list[str], name: str
) -> IssuedKey:
    """Issue a key for the context's tenant, audited. Raises :class:`NotFound` for no tenant."""
    if repository.get_tenant(session, ctx.tenant_id) is None:
        raise NotFound(f"tenant {ctx.tenant_id} does not exist")
    valid_roles = _validate_roles(roles)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id=new_id("key"),
        tenant_id=ctx.tenant_id,
        name=name,
        key_hash=hash_api_key(secret),
        roles=valid_roles,
        created_at=utcnow(),
        revoked_at=None,
    )
    session.add(key)
    session.flush()
    record_audit(
        session,
        ctx,
        "api_key.created",
        "api_key",
        key.id,
        details={"name": name, "roles": valid_roles},
    )
    return IssuedKey(key.id, ctx.tenant_id, tuple(valid_roles), secret)


def create_tenant(session: Session, name: str) -> tuple[Tenant, IssuedKey]:
    """Create a tenant with its audit chain, its closeout signing key and a first admin key."""
    if not name.strip():
        raise InvalidInput("tenant name must not be empty", field="name")
    tenant = Tenant(
        id=new_id("ten"), name=name.strip(), settings=dict(DEFAULT_SETTINGS), created_at=utcnow()
    )
    session.add(tenant)
    session.flush()
    scope_transaction(session, tenant.id)
    start_chain(session, tenant.id)
    ctx = system_context(tenant.id, "tenancy")
    public_key, private_key = generate_signing_key()
    signing_key = SigningKey(
        id=new_id("sig"),
        tenant_id=tenant.id,
        algorithm="ed25519",
        public_key=public_key,
        private_key=private_key,
        created_at=utcnow(),
    )
    session.add(signing_key)
    record_audit(session, ctx, "tenant.created", "tenant", tenant.id, details={"name": tenant.name})
    issued = create_api_key(session, ctx, roles=["admin"], name="first admin key")
    return tenant, issued


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: its key, tenant and roles."""

    key_id: str
    key_name: str
    tenant_id: str
    roles: frozenset[str]


def authenticate(session: Session, authorization: str | None) -> Principal:
    """Resolve an ``Authorization: Bearer <key>`` header to a principal.

    Raises :class:`AuthenticationFailed` for a missing, malformed, unknown or revoked key.
    """
    if not authorization:
        raise AuthenticationFailed("missing Authorization header (Bearer API key)")
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip().startswith(KEY_PREFIX):
        raise AuthenticationFailed("Authorization must be 'Bearer <API key>'")
    key = repository.find_key_by_hash(session, hash_api_key(secret.strip()))
    if key is None or key.revoked_at is not None:
        raise AuthenticationFailed("unknown or revoked API key")
    return Principal(key.id, key.name, key.tenant_id, frozenset(key.roles))
