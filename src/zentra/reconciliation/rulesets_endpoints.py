"""Rulesets over HTTP: publish a version, list, read (SPEC 8)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from zentra.api.deps import Context, DbSession
from zentra.api.route import UnitOfWorkRoute
from zentra.reconciliation.rulesets import (
    ResolvedRuleset,
    list_rulesets,
    parse_definition,
    publish_ruleset,
    require_ruleset,
    resolve_ruleset,
)

router = APIRouter(prefix="/reconciliation", tags=["rulesets"], route_class=UnitOfWorkRoute)


class RulesetPublish(BaseModel):
    """``POST /reconciliation/rulesets``: a name and the ordered rules (see docs/matching.md)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,99}$")
    rules: list[dict[str, Any]]


def ruleset_json(ruleset: ResolvedRuleset) -> dict[str, Any]:
    """The public shape of one ruleset version."""
    return {
        "name": ruleset.name,
        "version": ruleset.version,
        "built_in": ruleset.built_in,
        "definition_hash": ruleset.definition_hash,
        "rules": ruleset.definition.model_dump(mode="json")["rules"],
    }


@router.post("/rulesets", status_code=201)
def publish_reconciliation_ruleset(
    body: RulesetPublish, session: DbSession, ctx: Context
) -> JSONResponse:
    """Publish the next version of a ruleset (200 with the latest when nothing changed)."""
    definition = parse_definition({"rules": body.rules})
    before = resolve_ruleset(session, ctx.tenant_id, body.name, None, missing_ok=True)
    published = publish_ruleset(session, ctx, body.name, definition)
    unchanged = before is not None and before.version == published.version
    return JSONResponse(ruleset_json(published), status_code=200 if unchanged else 201)


@router.get("/rulesets")
def list_reconciliation_rulesets(session: DbSession, ctx: Context) -> dict[str, Any]:
    """Every version of every ruleset, the built-in default first."""
    return {
        "data": [ruleset_json(r) for r in list_rulesets(session, ctx.tenant_id)],
        "next_cursor": None,
    }


@router.get("/rulesets/{name}")
def get_reconciliation_ruleset(
    name: str, session: DbSession, ctx: Context, version: int | None = None
) -> dict[str, Any]:
    """A ruleset's latest version, or the one asked for."""
    return ruleset_json(require_ruleset(session, ctx.tenant_id, name, version))
