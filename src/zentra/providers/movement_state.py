"""The provider status of a movement, as callbacks move it. Pure: no database, no clock.

The lifecycle is ordered, with one terminal side exit::

    pending < authorized < captured < refunded        failed (terminal)

Rules of one step, from the ``current`` state to an event's ``status``:

- the same status again is a no-op;
- a terminal state (``refunded``, ``failed``) never changes: a later event is *consumed* and
  ignored;
- an event earlier in the lifecycle than ``current`` never regresses it: consumed and ignored
  (``authorized`` after ``captured`` arrived late);
- ``refunded`` is reached only from ``captured``: before that it is *held*, to be applied once
  ``captured`` has been seen (a refund callback that overtook its capture);
- ``failed`` is reached only before capture (from no state, ``pending`` or ``authorized``); after
  ``captured`` it contradicts the provider's own history and is consumed without effect;
- ``pending``, ``authorized`` and ``captured`` move forward from any earlier state.

:func:`apply_events` applies a batch in lifecycle order (``failed`` last), so the outcome does
not depend on the order the provider delivered it in, and returns what is still held. Feeding
the events of one lifecycle one at a time (carrying the held ones forward) ends in the same state
as applying them all at once; ``tests/providers/test_movement_state.py`` holds this as a property.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

__all__ = [
    "LIFECYCLE",
    "STATUSES",
    "TERMINAL",
    "Step",
    "apply_events",
    "parse_status",
    "step",
]

LIFECYCLE = ("pending", "authorized", "captured", "refunded")
"""The ordered lifecycle; ``failed`` stands outside it."""
STATUSES = (*LIFECYCLE, "failed")
"""Every status a callback can name for a movement."""
TERMINAL = frozenset({"refunded", "failed"})
"""States that never change again."""

# Position in the order a batch is applied in: the lifecycle, then ``failed`` (so that a batch
# holding both ``captured`` and ``failed`` ends captured, as the two would in delivery order).
_ORDER = {status: position for position, status in enumerate(STATUSES)}
_FAILS_FROM = frozenset({None, "pending", "authorized"})


class Step(Enum):
    """What one event does to a state."""

    APPLIED = "applied"
    """The state moved to the event's status."""
    IGNORED = "ignored"
    """Consumed without effect: a repeat, a regression, or an event after a terminal state."""
    HELD = "held"
    """Not applicable yet: its predecessor has not been seen."""


def parse_status(text: str | None) -> str | None:
    """``text`` when it is a lifecycle status (case and spaces ignored), else None.

    A movement imported with a status outside the lifecycle (``succeeded``, ``settled``...) has
    no known position: every event moves it forward as from the start.
    """
    if text is None:
        return None
    status = text.strip().lower()
    return status if status in _ORDER else None


def step(current: str | None, status: str) -> Step:
    """What the event ``status`` does to ``current`` (see the module docstring).

    Raises :class:`ValueError` for a status outside :data:`STATUSES`.
    """
    if status not in _ORDER:
        raise ValueError(f"unknown movement status {status!r}")
    if current == status or current in TERMINAL:
        return Step.IGNORED
    if status == "failed":
        return Step.APPLIED if current in _FAILS_FROM else Step.IGNORED
    if status == "refunded":
        return Step.APPLIED if current == "captured" else Step.HELD
    if current is not None and _ORDER[status] < _ORDER[current]:
        return Step.IGNORED
    return Step.APPLIED


def apply_events(current: str | None, events: Iterable[str]) -> tuple[str | None, list[str]]:
    """Apply ``events`` (statuses) to ``current`` in lifecycle order.

    Returns ``(new_state, held)``: the state reached and the events still waiting for their
    predecessor, in lifecycle order. Sorting puts every predecessor first, so one pass suffices:
    a ``refunded`` is held only when no ``captured`` came before it. Repeats are no-ops; terminal
    states never change. Raises :class:`ValueError` for an unknown status.
    """
    state = current
    held: list[str] = []
    for status in sorted(events, key=lambda name: _ORDER.get(name, -1)):
        outcome = step(state, status)
        if outcome is Step.APPLIED:
            state = status
        elif outcome is Step.HELD:
            held.append(status)
    return state, held
