"""The pure decisions of the runtime: policy checks, routing with failover, the state machine,
and the settings schemas (floats and unknown currencies refused)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from zentra.kit.errors import InvalidTransition
from zentra.kit.time import utcnow
from zentra.runtime.policy import IntentFacts, evaluate_policy
from zentra.runtime.routing import RailState, choose_rail
from zentra.runtime.schemas import IntentIn, Policy, RiskMatch, RouteMatch, Routes, SandboxNoise
from zentra.runtime.states import STATES, can_transition, trace_step


def facts(amount: int = 1000, **overrides: object) -> IntentFacts:
    values: dict[str, object] = {
        "scope": "workspace_scope",
        "amount": amount,
        "currency": "EUR",
        "source": "customer_balance",
        "destination": "merchant_balance",
        "source_total_today": 0,
    }
    values.update(overrides)
    return IntentFacts(**values)  # type: ignore[arg-type]


def test_every_check_is_kept_in_order_with_its_result() -> None:
    decision = evaluate_policy(
        Policy.model_validate({"limits": [{"currency": "EUR", "max_amount": 5000}]}), facts(1000)
    )
    assert decision.result == "passed"
    assert decision.reason is None
    assert decision.as_json()["evidence"] == [
        "scope_check.passed",
        "limit_check.passed",
        "velocity_check.not_configured",
        "counterparty_check.passed",
        "risk_check.passed",
    ]


@given(
    amount=st.integers(min_value=1, max_value=10**12),
    limit=st.integers(min_value=0, max_value=10**12),
)
def test_limit_rejects_exactly_the_amounts_above_it(amount: int, limit: int) -> None:
    policy = Policy.model_validate({"limits": [{"currency": "EUR", "max_amount": limit}]})
    decision = evaluate_policy(policy, facts(amount))
    assert (decision.reason == "limit_exceeded") == (amount > limit)
    # A limit of another currency never applies.
    assert evaluate_policy(policy, facts(amount, currency="USD")).result == "passed"


@given(
    spent=st.integers(min_value=0, max_value=10**9),
    amount=st.integers(min_value=1, max_value=10**9),
    cap=st.integers(min_value=0, max_value=2 * 10**9),
)
def test_velocity_counts_what_the_source_moved_today(spent: int, amount: int, cap: int) -> None:
    policy = Policy.model_validate({"velocity": [{"currency": "EUR", "max_amount_per_day": cap}]})
    decision = evaluate_policy(policy, facts(amount, source_total_today=spent))
    assert (decision.reason == "velocity_exceeded") == (spent + amount > cap)


def test_blocked_counterparty_on_either_side() -> None:
    policy = Policy.model_validate({"blocked_counterparties": ["merchant_sanctioned"]})
    assert evaluate_policy(policy, facts()).result == "passed"
    to_blocked = evaluate_policy(policy, facts(destination="merchant_sanctioned"))
    from_blocked = evaluate_policy(policy, facts(source="merchant_sanctioned"))
    assert to_blocked.reason == from_blocked.reason == "blocked_counterparty"


def test_risk_rules_need_every_condition_and_flag_without_rejecting() -> None:
    policy = Policy.model_validate(
        {
            "risk_rules": [
                {
                    "name": "big_to_new_merchant",
                    "match": {"currency": "EUR", "min_amount": 10_000, "destination": "m_new"},
                    "action": "reject",
                },
                {"name": "watch_usd", "match": {"currency": "USD"}, "action": "flag"},
            ]
        }
    )
    assert evaluate_policy(policy, facts(10_000, destination="m_new")).reason == (
        "risk_rule_rejected"
    )
    # One condition short: no match.
    assert evaluate_policy(policy, facts(9_999, destination="m_new")).result == "passed"
    assert evaluate_policy(policy, facts(10_000, destination="m_old")).result == "passed"
    flagged = evaluate_policy(policy, facts(10_000, currency="USD"))
    assert flagged.result == "passed"
    assert "risk_check.flagged" in flagged.as_json()["evidence"]


def test_the_first_rejecting_check_names_the_reason() -> None:
    policy = Policy.model_validate(
        {
            "limits": [{"currency": "EUR", "max_amount": 10}],
            "blocked_counterparties": ["merchant_balance"],
        }
    )
    decision = evaluate_policy(policy, facts(11, scope="other_scope"))
    assert decision.reason == "scope_not_allowed"
    labels = decision.as_json()["evidence"]
    assert "limit_check.rejected" in labels
    assert "counterparty_check.rejected" in labels


@pytest.mark.parametrize(
    "body",
    [
        {"limits": [{"currency": "EUR", "max_amount": 100.0}]},
        {"limits": [{"currency": "EUR", "max_amount": "100"}]},
        {"limits": [{"currency": "XXX", "max_amount": 100}]},
        {"limits": [{"currency": "EUR", "max_amount": 1}, {"currency": "eur", "max_amount": 2}]},
        {"velocity": [{"currency": "EUR", "max_amount_per_day": -1}]},
        {"risk_rules": [{"name": "empty", "match": {}, "action": "reject"}]},
        {"risk_rules": [{"name": "r", "match": {"currency": "EUR"}, "action": "allow"}]},
        {"unknown": []},
    ],
)
def test_policy_documents_that_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Policy.model_validate(body)


def test_intent_contract_refuses_floats_and_missing_controls() -> None:
    base = {
        "intent_id": "i_1",
        "amount": 125000,
        "currency": "eur",
        "source": "customer_balance",
        "destination": "merchant_balance",
    }
    intent = IntentIn.model_validate(base)
    assert (intent.currency, intent.scope, intent.primitives) == (
        "EUR",
        "workspace_scope",
        ["policy", "ledger", "events"],
    )
    for bad in (
        {"amount": 1250.0},
        {"amount": 0},
        {"primitives": ["events"]},
        {"money_model": "floats"},
        {"destination": "customer_balance"},
        {"intent_id": "has space"},
    ):
        with pytest.raises(ValidationError):
            IntentIn.model_validate({**base, **bad})
    with pytest.raises(ValidationError):
        SandboxNoise.model_validate({"fee_minor": 2.5})


def routes(*rules: dict[str, object]) -> Routes:
    return Routes.model_validate({"rules": list(rules)})


SANDBOX = RailState(kind="sandbox")


def test_first_matching_rule_wins_and_rails_fail_over_in_order() -> None:
    table = routes(
        {"match": {"currency": "EUR", "max_amount": 1000}, "rails": ["small", "backup"]},
        {"match": {"currency": "EUR"}, "rails": ["big", "backup"]},
    )
    rails = {name: SANDBOX for name in ("small", "big", "backup")}
    assert choose_rail(table, 1000, "EUR", rails).rail == "small"
    assert choose_rail(table, 1001, "EUR", rails).rail == "big"
    down = {**rails, "big": RailState(kind="sandbox", status="down")}
    decision = choose_rail(table, 5000, "EUR", down)
    assert decision.rail == "backup"
    assert decision.rule_index == 1
    assert decision.as_json()["tried"] == [
        {"rail": "big", "result": "down"},
        {"rail": "backup", "result": "chosen"},
    ]
    assert decision.as_json()["failover"] is True


def test_no_usable_rail_and_no_matching_route_are_named() -> None:
    table = routes({"match": {"currency": "EUR"}, "rails": ["a", "b", "c"]})
    rails = {
        "a": RailState(kind="sandbox", status="down"),
        "b": RailState(kind="stripe"),  # receives callbacks, cannot be dispatched to
    }
    decision = choose_rail(table, 10, "EUR", rails)
    assert (decision.rail, decision.reason) == (None, "no_rail_available")
    assert [t["result"] for t in decision.tried] == ["down", "not_dispatchable", "unknown_rail"]
    assert choose_rail(table, 10, "USD", rails).reason == "no_route_matched"
    assert choose_rail(routes(), 10, "EUR", rails).reason == "no_route_matched"


def test_state_machine_only_moves_forward_and_rejects_before_money() -> None:
    assert can_transition(None, "accepted")
    for before, after in itertools.pairwise(STATES):
        assert can_transition(before, after)
        assert not can_transition(after, before)
    assert can_transition("accepted", "rejected")
    assert can_transition("controlled", "rejected")
    assert not can_transition("ledgered", "rejected")
    assert not can_transition("evidenced", "rejected")
    assert not can_transition("accepted", "ledgered")
    trace = trace_step([], "accepted", utcnow(), {})
    with pytest.raises(InvalidTransition):
        trace_step(trace, "routed", utcnow(), {})


@pytest.mark.parametrize("match_type", [RiskMatch, RouteMatch])
def test_an_amount_range_that_ends_before_it_starts_is_refused(
    match_type: type[RiskMatch] | type[RouteMatch],
) -> None:
    assert match_type(min_amount=100, max_amount=100).min_amount == 100
    with pytest.raises(ValidationError, match="min_amount is above max_amount"):
        match_type(min_amount=101, max_amount=100)


def test_a_risk_rule_must_state_a_condition_a_route_need_not() -> None:
    assert RouteMatch().currency is None  # a route without conditions matches every intent
    with pytest.raises(ValidationError, match="at least one condition"):
        RiskMatch()
