"""Rulesets as versioned tenant resources (``/reconciliation/rulesets``).

A ruleset has a name; every change is a new immutable version. The built-in ``default``
ruleset is version 1 of ``default`` in every tenant; a tenant may publish ``default`` version 2
and later to change what runs use by default. A run records the name, version and definition
hash it used, so its result can always be explained by the exact rules that made it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zentra.audit.service import record_audit
from zentra.kit.context import ActorContext
from zentra.kit.errors import InvalidInput, NotFound
from zentra.kit.ids import new_id
from zentra.kit.time import utcnow
from zentra.matching.rules import DEFAULT_RULESET, DEFAULT_RULESET_NAME, RulesetDefinition
from zentra.models import Ruleset

BUILT_IN_VERSION = 1


@dataclass(frozen=True, slots=True)
class ResolvedRuleset:
    """A ruleset version ready to run."""

    name: str
    version: int
    definition: RulesetDefinition
    built_in: bool = False

    @property
    def definition_hash(self) -> str:
        """sha256 of the canonical definition."""
        return self.definition.definition_hash()


def parse_definition(document: object) -> RulesetDefinition:
    """Validate a ruleset definition (``{"rules": [...]}``); :class:`InvalidInput` listing
    each problem otherwise."""
    try:
        return RulesetDefinition.model_validate(document)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]) or None, "reason": err["msg"]}
            for err in exc.errors()
        ]
        raise InvalidInput("the ruleset is not valid", errors=problems) from exc


def _built_in() -> ResolvedRuleset:
    return ResolvedRuleset(DEFAULT_RULESET_NAME, BUILT_IN_VERSION, DEFAULT_RULESET, True)


def _latest_version(session: Session, tenant_id: str, name: str) -> int | None:
    return session.scalar(
        select(func.max(Ruleset.version)).where(
            Ruleset.tenant_id == tenant_id, Ruleset.name == name
        )
    )


def publish_ruleset(
    session: Session, ctx: ActorContext, name: str, definition: RulesetDefinition
) -> ResolvedRuleset:
    """Store ``definition`` as the next version of ``name``. Publishing a definition identical
    to the latest version returns that version (idempotent)."""
    ctx.require_role("service")
    latest = resolve_ruleset(session, ctx.tenant_id, name, None, missing_ok=True)
    if latest is not None and latest.definition_hash == definition.definition_hash():
        return latest
    version = (latest.version if latest else 0) + 1
    row = Ruleset(
        id=new_id("rls"),
        tenant_id=ctx.tenant_id,
        name=name,
        version=version,
        definition=definition.model_dump(mode="json"),
        definition_hash=definition.definition_hash(),
        created_by=ctx.actor,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        ctx,
        "reconciliation.ruleset.published",
        "ruleset",
        f"{name}@{version}",
        details={"definition_hash": row.definition_hash},
    )
    return ResolvedRuleset(name, version, definition)


def resolve_ruleset(
    session: Session,
    tenant_id: str,
    name: str,
    version: int | None,
    *,
    missing_ok: bool = False,
) -> ResolvedRuleset | None:
    """The named ruleset at ``version`` (the latest when None). Raises :class:`NotFound` for
    an unknown name or version unless ``missing_ok``."""
    query = select(Ruleset).where(Ruleset.tenant_id == tenant_id, Ruleset.name == name)
    if version is not None:
        query = query.where(Ruleset.version == version)
    row = session.scalars(query.order_by(Ruleset.version.desc())).first()
    if row is not None:
        return ResolvedRuleset(
            row.name, row.version, RulesetDefinition.model_validate(row.definition)
        )
    if name == DEFAULT_RULESET_NAME and version in (None, BUILT_IN_VERSION):
        return _built_in()
    if missing_ok:
        return None
    suffix = f" version {version}" if version is not None else ""
    raise NotFound(f"ruleset {name}{suffix} not found", field="ruleset")


def require_ruleset(
    session: Session, tenant_id: str, name: str, version: int | None = None
) -> ResolvedRuleset:
    """Like :func:`resolve_ruleset`, never None."""
    resolved = resolve_ruleset(session, tenant_id, name, version)
    assert resolved is not None  # resolve_ruleset raises instead
    return resolved


def list_rulesets(session: Session, tenant_id: str) -> list[ResolvedRuleset]:
    """Every version of every ruleset of the tenant, plus the built-in default, by name."""
    rows = session.scalars(
        select(Ruleset)
        .where(Ruleset.tenant_id == tenant_id)
        .order_by(Ruleset.name, Ruleset.version)
    )
    stored = [
        ResolvedRuleset(r.name, r.version, RulesetDefinition.model_validate(r.definition))
        for r in rows
    ]
    return [_built_in(), *stored]
