"""The runtime's tenant settings: policy, routes and rail health. Nothing here commits.

Policy and routes are whole documents, replaced by ``PUT`` and versioned: each change bumps the
version and is audited with the document's hash; putting the same document again changes
nothing (no new version, no audit record). A tenant that never set them has an empty policy
(nothing limited) and no routes (every intent rejected ``no_route_matched``).

Rail health is per rail (a provider connection's name); a rail never marked is ``up``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from zentra.audit.service import record_audit
from zentra.kit.canonical import canonical_hash
from zentra.kit.context import ActorContext
from zentra.kit.errors import InvalidInput, NotFound
from zentra.kit.time import isoformat, utcnow
from zentra.models.runtime import RailHealth, RuntimeSetting
from zentra.runtime import repository
from zentra.runtime.schemas import Policy, Routes

READ_ROLES = ("admin", "service", "operator", "approver", "auditor")
POLICY, ROUTES = "policy", "routes"


@dataclass(frozen=True, slots=True)
class VersionedSettings:
    """A settings document with its version (0: never set) and who set it when."""

    document: dict[str, Any]
    version: int
    updated_by: str | None
    updated_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            **self.document,
            "version": self.version,
            "updated_by": self.updated_by,
            "updated_at": None if self.updated_at is None else isoformat(self.updated_at),
        }


def _versioned(row: RuntimeSetting | None, empty: dict[str, Any]) -> VersionedSettings:
    if row is None:
        return VersionedSettings(empty, 0, None, None)
    return VersionedSettings(row.document, row.version, row.updated_by, row.updated_at)


def load_policy(session: Session, tenant_id: str) -> Policy:
    """The tenant's policy (empty when never set)."""
    row = repository.get_setting(session, tenant_id, POLICY)
    return Policy() if row is None else Policy.model_validate(row.document)


def load_routes(session: Session, tenant_id: str) -> Routes:
    """The tenant's routes (none when never set)."""
    row = repository.get_setting(session, tenant_id, ROUTES)
    return Routes() if row is None else Routes.model_validate(row.document)


def get_policy(session: Session, ctx: ActorContext) -> VersionedSettings:
    """``GET /runtime/policy``."""
    ctx.require_role(*READ_ROLES)
    row = repository.get_setting(session, ctx.tenant_id, POLICY)
    return _versioned(row, Policy().model_dump(mode="json"))


def get_routes(session: Session, ctx: ActorContext) -> VersionedSettings:
    """``GET /runtime/routes``."""
    ctx.require_role(*READ_ROLES)
    row = repository.get_setting(session, ctx.tenant_id, ROUTES)
    return _versioned(row, Routes().model_dump(mode="json"))


def _put(
    session: Session, ctx: ActorContext, kind: str, document: dict[str, Any]
) -> VersionedSettings:
    row = repository.get_setting(session, ctx.tenant_id, kind)
    if row is not None and row.document == document:
        return _versioned(row, document)
    now = utcnow()
    if row is None:
        row = RuntimeSetting(
            tenant_id=ctx.tenant_id,
            kind=kind,
            document=document,
            version=1,
            updated_by=ctx.actor,
            updated_at=now,
        )
        session.add(row)
    else:
        row.document = document
        row.version += 1
        row.updated_by = ctx.actor
        row.updated_at = now
    session.flush()
    record_audit(
        session,
        ctx,
        f"runtime.{kind}.updated",
        f"runtime_{kind}",
        ctx.tenant_id,
        details={"version": row.version, "sha256": canonical_hash(document)},
    )
    return _versioned(row, document)


def put_policy(session: Session, ctx: ActorContext, policy: Policy) -> VersionedSettings:
    """Replace the tenant's policy. Requires ``admin``. Audited as ``runtime.policy.updated``."""
    ctx.require_role("admin")
    return _put(session, ctx, POLICY, policy.model_dump(mode="json"))


def put_routes(session: Session, ctx: ActorContext, routes: Routes) -> VersionedSettings:
    """Replace the tenant's routes. Every rail must name one of the tenant's provider
    connections (else :class:`InvalidInput` naming the member). Requires ``admin``. Audited
    as ``runtime.routes.updated``."""
    ctx.require_role("admin")
    names = sorted({rail for rule in routes.rules for rail in rule.rails})
    known = repository.connections_by_name(session, ctx.tenant_id, names)
    for index, rule in enumerate(routes.rules):
        for position, rail in enumerate(rule.rails):
            if rail not in known:
                raise InvalidInput(
                    f"rail {rail!r} is not a provider connection of this workspace",
                    field=f"rules[{index}].rails[{position}]",
                )
    return _put(session, ctx, ROUTES, routes.model_dump(mode="json"))


@dataclass(frozen=True, slots=True)
class RailStatus:
    """A rail's health as answered by the API."""

    rail: str
    status: str
    updated_by: str | None
    updated_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "rail": self.rail,
            "status": self.status,
            "updated_by": self.updated_by,
            "updated_at": None if self.updated_at is None else isoformat(self.updated_at),
        }


def set_rail_health(session: Session, ctx: ActorContext, rail: str, status: str) -> RailStatus:
    """Mark ``rail`` up or down. :class:`NotFound` unless it names one of the tenant's provider
    connections. Requires ``admin`` or ``service`` (a monitor). Audited as
    ``runtime.rail.health_changed`` when the status changes."""
    ctx.require_role("admin", "service")
    if status not in ("up", "down"):
        raise InvalidInput("status is up or down", field="status")
    if rail not in repository.connections_by_name(session, ctx.tenant_id, [rail]):
        raise NotFound(f"no rail {rail}")
    row = repository.get_rail_health(session, ctx.tenant_id, rail)
    before = "up" if row is None else row.status
    if before == status:
        return RailStatus(
            rail,
            status,
            None if row is None else row.updated_by,
            None if row is None else row.updated_at,
        )
    now = utcnow()
    if row is None:
        row = RailHealth(
            tenant_id=ctx.tenant_id, rail=rail, status=status, updated_by=ctx.actor, updated_at=now
        )
        session.add(row)
    else:
        row.status, row.updated_by, row.updated_at = status, ctx.actor, now
    session.flush()
    record_audit(
        session,
        ctx,
        "runtime.rail.health_changed",
        "rail",
        rail,
        details={"from": before, "to": status},
    )
    return RailStatus(rail, status, ctx.actor, now)
