"""The ``controlled`` step: an intent against the tenant's policy. Pure: no database, no clock.

Every check runs and leaves its result in the evidence, in this order:

``scope_check``         the intent acts within the workspace (``workspace_scope``)
``limit_check``         the amount is within the currency's ``max_amount``
``velocity_check``      with the source's accepted intents of the UTC day, within the day's cap
``counterparty_check``  neither account is a blocked counterparty
``risk_check``          no ``reject`` risk rule matches (a ``flag`` rule is recorded, not refused)

Each result is ``passed``, ``rejected``, ``flagged`` or ``not_configured`` (no limit or cap for
the currency): ``limit_check.passed``. The intent is rejected when any check is, with the
reason of the first rejecting check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zentra.runtime.schemas import DEFAULT_SCOPE, Policy, RiskMatch

ALLOWED_SCOPES = frozenset({DEFAULT_SCOPE})
"""Scopes an API key of a tenant can act in: the workspace it belongs to."""

REJECTION_REASONS = {
    "scope_check": "scope_not_allowed",
    "limit_check": "limit_exceeded",
    "velocity_check": "velocity_exceeded",
    "counterparty_check": "blocked_counterparty",
    "risk_check": "risk_rule_rejected",
}


@dataclass(frozen=True, slots=True)
class IntentFacts:
    """What the policy looks at: the intent, and what its source already moved today."""

    scope: str
    amount: int
    currency: str
    source: str
    destination: str
    source_total_today: int
    """Sum of the source's accepted (not rejected) intents in this currency this UTC day."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome: ``limit_check`` ``passed``, with a short human detail."""

    check: str
    result: str
    detail: str

    @property
    def label(self) -> str:
        """``limit_check.passed``: the form evidence lists."""
        return f"{self.check}.{self.result}"

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "result": self.result, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """Every check's result; rejected when any check rejected."""

    checks: tuple[CheckResult, ...]

    @property
    def rejected_by(self) -> CheckResult | None:
        """The first rejecting check, or None."""
        return next((check for check in self.checks if check.result == "rejected"), None)

    @property
    def result(self) -> str:
        """``passed`` or ``rejected``."""
        return "rejected" if self.rejected_by is not None else "passed"

    @property
    def reason(self) -> str | None:
        """The stable rejection reason (``limit_exceeded``...), None when passed."""
        rejected = self.rejected_by
        return None if rejected is None else REJECTION_REASONS[rejected.check]

    def as_json(self) -> dict[str, Any]:
        """The policy result as evidence keeps it."""
        return {
            "result": self.result,
            "reason": self.reason,
            "checks": [check.as_json() for check in self.checks],
            "evidence": [check.label for check in self.checks],
        }


def _scope_check(facts: IntentFacts) -> CheckResult:
    if facts.scope in ALLOWED_SCOPES:
        return CheckResult("scope_check", "passed", f"{facts.scope} is the key's workspace")
    return CheckResult("scope_check", "rejected", f"scope {facts.scope!r} is not the workspace's")


def _limit_check(policy: Policy, facts: IntentFacts) -> CheckResult:
    limit = next((item for item in policy.limits if item.currency == facts.currency), None)
    if limit is None:
        return CheckResult("limit_check", "not_configured", f"no limit for {facts.currency}")
    if facts.amount > limit.max_amount:
        return CheckResult(
            "limit_check",
            "rejected",
            f"{facts.amount} is above the {facts.currency} limit {limit.max_amount}",
        )
    return CheckResult("limit_check", "passed", f"{facts.amount} within the {facts.currency} limit")


def _velocity_check(policy: Policy, facts: IntentFacts) -> CheckResult:
    cap = next((item for item in policy.velocity if item.currency == facts.currency), None)
    if cap is None:
        return CheckResult("velocity_check", "not_configured", f"no cap for {facts.currency}")
    total = facts.source_total_today + facts.amount
    if total > cap.max_amount_per_day:
        return CheckResult(
            "velocity_check",
            "rejected",
            f"{facts.source} would move {total} {facts.currency} today, above "
            f"{cap.max_amount_per_day}",
        )
    return CheckResult(
        "velocity_check",
        "passed",
        f"{facts.source} moves {total} of {cap.max_amount_per_day} {facts.currency} today",
    )


def _counterparty_check(policy: Policy, facts: IntentFacts) -> CheckResult:
    blocked = [
        account
        for account in (facts.source, facts.destination)
        if account in policy.blocked_counterparties
    ]
    if blocked:
        return CheckResult("counterparty_check", "rejected", f"{blocked[0]} is blocked")
    return CheckResult("counterparty_check", "passed", "no blocked counterparty")


def risk_rule_matches(match: RiskMatch, facts: IntentFacts) -> bool:
    """True when every condition ``match`` states holds for the intent."""
    return (
        (match.currency is None or match.currency == facts.currency)
        and (match.min_amount is None or facts.amount >= match.min_amount)
        and (match.max_amount is None or facts.amount <= match.max_amount)
        and (match.source is None or match.source == facts.source)
        and (match.destination is None or match.destination == facts.destination)
    )


def _risk_check(policy: Policy, facts: IntentFacts) -> CheckResult:
    matched = [rule for rule in policy.risk_rules if risk_rule_matches(rule.match, facts)]
    rejecting = [rule.name for rule in matched if rule.action == "reject"]
    if rejecting:
        return CheckResult("risk_check", "rejected", f"risk rule {rejecting[0]} rejects it")
    if matched:
        names = ", ".join(rule.name for rule in matched)
        return CheckResult("risk_check", "flagged", f"flagged by {names}")
    return CheckResult("risk_check", "passed", "no risk rule matches")


def evaluate_policy(policy: Policy, facts: IntentFacts) -> PolicyDecision:
    """Run every check of ``policy`` on ``facts`` (see the module docstring)."""
    return PolicyDecision(
        (
            _scope_check(facts),
            _limit_check(policy, facts),
            _velocity_check(policy, facts),
            _counterparty_check(policy, facts),
            _risk_check(policy, facts),
        )
    )
