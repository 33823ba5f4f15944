"""The ``routed`` step's decision: which rail carries an intent. Pure: no database.

The first routing rule whose match holds picks the rails; they are tried in the order listed and
the first that is *usable* wins. A rail is usable when its health is ``up`` (a rail never marked
is up) and Zentra can dispatch to it (a ``sandbox`` connection; other kinds receive callbacks
but have no outbound adapter yet). Every rail tried is kept in the decision with why it was
passed over, so a failover is visible in the intent's trace.

No usable rail: ``no_rail_available``. No rule matches: ``no_route_matched``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zentra.runtime.schemas import RouteMatch, Routes

DISPATCHABLE_KINDS = frozenset({"sandbox"})
"""Connection kinds Zentra can send an intent to."""


@dataclass(frozen=True, slots=True)
class RailState:
    """What routing knows about a rail: its connection kind and its health."""

    kind: str | None
    """None when no provider connection has this name."""
    status: str = "up"


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The chosen rail (None: rejected with ``reason``), the rule and every rail tried."""

    rail: str | None
    rule_index: int | None
    tried: tuple[dict[str, str], ...]
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        """The decision as the trace's detail keeps it."""
        return {
            "rail": self.rail,
            "rule": self.rule_index,
            "tried": list(self.tried),
            "failover": self.rail is not None and len(self.tried) > 1,
        }


def route_matches(match: RouteMatch, amount: int, currency: str) -> bool:
    """True when ``match`` holds for the amount and currency (absent members match all)."""
    return (
        (match.currency is None or match.currency == currency)
        and (match.min_amount is None or amount >= match.min_amount)
        and (match.max_amount is None or amount <= match.max_amount)
    )


def _unusable(state: RailState) -> str | None:
    if state.kind is None:
        return "unknown_rail"
    if state.kind not in DISPATCHABLE_KINDS:
        return "not_dispatchable"
    if state.status != "up":
        return "down"
    return None


def choose_rail(
    routes: Routes, amount: int, currency: str, rails: Mapping[str, RailState]
) -> RouteDecision:
    """Route ``amount`` of ``currency`` (see the module docstring). ``rails`` maps a rail name
    to its state; a name it lacks is an unknown rail."""
    for index, rule in enumerate(routes.rules):
        if not route_matches(rule.match, amount, currency):
            continue
        tried: list[dict[str, str]] = []
        for rail in rule.rails:
            why = _unusable(rails.get(rail, RailState(kind=None)))
            if why is None:
                tried.append({"rail": rail, "result": "chosen"})
                return RouteDecision(rail, index, tuple(tried), None)
            tried.append({"rail": rail, "result": why})
        return RouteDecision(None, index, tuple(tried), "no_rail_available")
    return RouteDecision(None, None, (), "no_route_matched")
