"""The intent state machine (pure)::

    accepted -> controlled -> ledgered -> routed -> synchronized -> evidenced
        \\____________\\___________________\\_____________________-> rejected

Each state is reached from the one before it, once; ``rejected`` is reached from ``accepted``
(refused by policy) or ``controlled`` (no rail, or the ledger refused), never after money moved.
``evidenced`` and ``rejected`` are final. Every step is kept in the intent's ``trace`` with its
time and a detail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from zentra.kit.errors import InvalidTransition
from zentra.kit.time import isoformat

STATES = ("accepted", "controlled", "ledgered", "routed", "synchronized", "evidenced")
REJECTED = "rejected"
FINAL = frozenset({"evidenced", REJECTED})
_REJECTABLE_FROM = frozenset({"accepted", "controlled"})


def can_transition(current: str | None, target: str) -> bool:
    """True when ``target`` may follow ``current`` (None: a new intent)."""
    if current is None:
        return target == STATES[0]
    if target == REJECTED:
        return current in _REJECTABLE_FROM
    if current not in STATES or target not in STATES:
        return False
    return STATES.index(target) == STATES.index(current) + 1


def trace_step(
    trace: list[dict[str, Any]], target: str, at: datetime, detail: dict[str, Any]
) -> list[dict[str, Any]]:
    """``trace`` with the step to ``target`` appended; :class:`InvalidTransition` when the
    state machine does not allow it."""
    current = trace[-1]["state"] if trace else None
    if not can_transition(current, target):
        raise InvalidTransition(f"an intent cannot go from {current} to {target}")
    return [*trace, {"state": target, "at": isoformat(at), "detail": detail}]
