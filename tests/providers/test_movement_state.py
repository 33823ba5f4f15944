"""A movement's provider status: the pure state machine, and callbacks moving it on both
databases, out of order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zentra.providers.movement_state import (
    LIFECYCLE,
    STATUSES,
    Step,
    apply_events,
    parse_status,
    step,
)

# ---- the pure state machine ------------------------------------------------------------------


def test_refund_before_capture_is_held_then_applied() -> None:
    assert apply_events("authorized", ["refunded"]) == ("authorized", ["refunded"])
    assert apply_events("authorized", ["refunded", "captured"]) == ("refunded", [])


def test_terminal_states_never_regress() -> None:
    for status in STATUSES:
        assert apply_events("failed", [status]) == ("failed", [])
        assert apply_events("refunded", [status]) == ("refunded", [])


def test_failed_is_reached_only_before_capture() -> None:
    assert apply_events(None, ["failed"]) == ("failed", [])
    assert apply_events("authorized", ["failed"]) == ("failed", [])
    assert apply_events("captured", ["failed"]) == ("captured", [])
    assert apply_events("failed", ["captured", "refunded"]) == ("failed", [])


def test_repeats_and_regressions_are_no_ops() -> None:
    assert step("captured", "captured") is Step.IGNORED
    assert step("captured", "authorized") is Step.IGNORED
    assert step("captured", "pending") is Step.IGNORED
    assert apply_events("captured", ["authorized", "captured"]) == ("captured", [])


def test_forward_steps_may_skip_states() -> None:
    assert apply_events(None, ["captured"]) == ("captured", [])
    assert apply_events("pending", ["captured"]) == ("captured", [])
    assert step(None, "refunded") is Step.HELD


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown movement status"):
        step("pending", "settled")


def test_statuses_outside_the_lifecycle_have_no_position() -> None:
    assert parse_status(" Captured ") == "captured"
    assert parse_status("succeeded") is None
    assert parse_status(None) is None


# A lifecycle's events: any sub-sequence of the ordered lifecycle, or of the failing path.
_lifecycles = st.one_of(
    st.lists(st.sampled_from(LIFECYCLE), max_size=6),
    st.lists(st.sampled_from(("pending", "authorized", "failed")), max_size=6),
)
_starts = st.one_of(st.none(), st.sampled_from(STATUSES))


def _one_at_a_time(current: str | None, arrivals: list[str]) -> tuple[str | None, list[str]]:
    """Events delivered one by one, each applied with whatever is still held."""
    state, held = current, list[str]()
    for status in arrivals:
        state, held = apply_events(state, [*held, status])
    return state, held


@given(start=_starts, events=_lifecycles, data=st.data())
def test_any_arrival_order_ends_where_the_sorted_order_does(
    start: str | None, events: list[str], data: st.DataObject
) -> None:
    arrivals = data.draw(st.permutations(events))
    in_order = apply_events(start, sorted(events, key=STATUSES.index))
    assert apply_events(start, arrivals) == in_order
    state, held = _one_at_a_time(start, arrivals)
    assert (state, sorted(held)) == (in_order[0], sorted(in_order[1]))
