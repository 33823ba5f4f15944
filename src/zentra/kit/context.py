"""Who is acting, for which tenant, in which request: carried into every service call."""

from __future__ import annotations

from dataclasses import dataclass, field

from zentra.kit.errors import PermissionDenied

ROLES = ("admin", "service", "operator", "approver", "auditor")


@dataclass(frozen=True, slots=True)
class ActorContext:
    """The tenant and actor of one operation, with the request that carried it (if any).

    ``actor`` is ``key:<name>`` for API keys, ``user:<name>`` for operators and ``system:<name>``
    for Zentra's own work (the worker, the demo).
    """

    tenant_id: str
    actor: str
    roles: frozenset[str] = field(default_factory=frozenset)
    request_id: str | None = None
    idempotency_key: str | None = None

    def has_role(self, role: str) -> bool:
        """True when the actor holds ``role``; ``admin`` holds every role's rights."""
        return "admin" in self.roles or role in self.roles

    def require_role(self, *roles: str) -> None:
        """Raise :class:`PermissionDenied` unless the actor holds one of ``roles``."""
        if not any(self.has_role(role) for role in roles):
            raise PermissionDenied(
                f"this action needs one of the roles {', '.join(roles)}", required_roles=roles
            )


def system_context(tenant_id: str, name: str = "worker") -> ActorContext:
    """The context Zentra itself acts in (workers, scheduled work, the demo)."""
    return ActorContext(tenant_id=tenant_id, actor=f"system:{name}", roles=frozenset({"admin"}))
