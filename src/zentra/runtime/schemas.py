"""Request bodies and tenant settings of the runtime API (SPEC 5).

Every amount is a ``StrictInt`` in minor units: a JSON float (``1250.0``) or a numeric string is
refused, never coerced. Currencies are ISO 4217 codes with a minor unit, upper-cased on input.

Policy (``PUT /runtime/policy``)::

    {"limits":   [{"currency": "EUR", "max_amount": 500000}],
     "velocity": [{"currency": "EUR", "max_amount_per_day": 2000000}],
     "blocked_counterparties": ["merchant_sanctioned"],
     "risk_rules": [{"name": "big_jpy_payouts",
                     "match": {"currency": "JPY", "min_amount": 1000000},
                     "action": "reject"}]}

- ``limits``: one intent may move at most ``max_amount`` of the currency;
- ``velocity``: the intents of one *source account* accepted in one UTC day (not rejected) may
  move at most ``max_amount_per_day`` of the currency together;
- ``blocked_counterparties``: account codes an intent may neither come from nor go to;
- ``risk_rules``: each rule matches when *every* condition it states holds (``currency``,
  ``min_amount`` and ``max_amount`` inclusive, ``source``, ``destination``); ``reject`` refuses the
  intent, ``flag`` lets it through with ``risk_check.flagged`` in its evidence.

Routes (``PUT /runtime/routes``)::

    {"rules": [{"match": {"currency": "EUR", "min_amount": 1, "max_amount": 1000000},
                "rails": ["rail_primary", "rail_backup"]},
               {"match": {}, "rails": ["rail_backup"]}]}

The first rule whose ``match`` holds (absent members match anything) picks the rails, tried in
the order given: the first one up is used.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    field_validator,
    model_validator,
)

from zentra.kit.errors import UnknownCurrency
from zentra.kit.money import normalize_currency

MAX_AMOUNT = 2**53 - 1
"""The largest amount accepted: canonical JSON (and so every signature) represents it exactly."""

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"
"""Account codes, rail names and intent ids: no spaces, no control characters."""

DEFAULT_SCOPE = "workspace_scope"
MoneyModel = Literal["minor_units + ledger_currency"]
Primitive = Literal["policy", "ledger", "events"]
PRIMITIVES: tuple[Primitive, ...] = ("policy", "ledger", "events")

Amount = StrictInt


def _currency(value: str) -> str:
    try:
        return normalize_currency(value)
    except UnknownCurrency as exc:
        raise ValueError(exc.detail) from exc


Currency = Annotated[str, AfterValidator(_currency)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CurrencyLimit(_Strict):
    """The most one intent may move in ``currency``."""

    currency: Currency
    max_amount: Amount = Field(ge=0, le=MAX_AMOUNT)


class CurrencyVelocity(_Strict):
    """The most one source account's accepted intents may move in ``currency`` per UTC day."""

    currency: Currency
    max_amount_per_day: Amount = Field(ge=0, le=MAX_AMOUNT)


class _AmountMatch(_Strict):
    """A currency and an inclusive amount range; an absent member matches anything."""

    currency: Currency | None = None
    min_amount: Amount | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    max_amount: Amount | None = Field(default=None, ge=0, le=MAX_AMOUNT)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if (
            self.min_amount is not None
            and self.max_amount is not None
            and self.min_amount > self.max_amount
        ):
            raise ValueError("min_amount is above max_amount")
        return self


class RiskMatch(_AmountMatch):
    """Conditions of a risk rule; the rule matches when all stated ones hold."""

    source: str | None = Field(default=None, pattern=NAME_PATTERN)
    destination: str | None = Field(default=None, pattern=NAME_PATTERN)

    @model_validator(mode="after")
    def _states_something(self) -> RiskMatch:
        if all(
            value is None
            for value in (
                self.currency,
                self.min_amount,
                self.max_amount,
                self.source,
                self.destination,
            )
        ):
            raise ValueError("a risk rule must state at least one condition")
        return self


class RiskRule(_Strict):
    """A named declarative rule: when ``match`` holds, ``reject`` the intent or ``flag`` it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    match: RiskMatch
    action: Literal["reject", "flag"] = "reject"


class Policy(_Strict):
    """A tenant's runtime policy (see the module docstring)."""

    limits: list[CurrencyLimit] = Field(default_factory=list, max_length=200)
    velocity: list[CurrencyVelocity] = Field(default_factory=list, max_length=200)
    blocked_counterparties: list[str] = Field(default_factory=list, max_length=10_000)
    risk_rules: list[RiskRule] = Field(default_factory=list, max_length=200)

    @field_validator("blocked_counterparties")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        cleaned = [name.strip() for name in value]
        if any(not name or len(name) > 200 for name in cleaned):
            raise ValueError("counterparties are 1 to 200 characters")
        return sorted(set(cleaned))

    @model_validator(mode="after")
    def _one_entry_per_currency(self) -> Policy:
        for members, name in ((self.limits, "limits"), (self.velocity, "velocity")):
            currencies = [member.currency for member in members]
            if len(currencies) != len(set(currencies)):
                raise ValueError(f"{name} names a currency twice")
        names = [rule.name for rule in self.risk_rules]
        if len(names) != len(set(names)):
            raise ValueError("risk rule names must be unique")
        return self


class RouteMatch(_AmountMatch):
    """When a route applies; an absent member matches anything, amounts are inclusive."""


class RouteRule(_Strict):
    """A route: when ``match`` holds, try ``rails`` in this order (failover order)."""

    match: RouteMatch = Field(default_factory=RouteMatch)
    rails: list[str] = Field(min_length=1, max_length=20)

    @field_validator("rails")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(value) != len(set(value)):
            raise ValueError("a rail is listed twice")
        return value


class Routes(_Strict):
    """A tenant's routing rules; the first that matches wins."""

    rules: list[RouteRule] = Field(default_factory=list, max_length=200)


class RailHealthIn(_Strict):
    """``POST /runtime/rails/{name}/health``."""

    status: Literal["up", "down"]


class IntentIn(_Strict):
    """``POST /runtime/intents``: the intent's contract. A body that does not satisfy it is
    refused with 422 and leaves nothing behind (the intent is never ``accepted``)."""

    intent_id: str = Field(pattern=NAME_PATTERN)
    scope: str = Field(default=DEFAULT_SCOPE, min_length=1, max_length=100)
    money_model: MoneyModel = "minor_units + ledger_currency"
    primitives: list[Primitive] = Field(
        default_factory=lambda: list(PRIMITIVES),
        description="The runtime primitives the intent runs through; policy and ledger are "
        "never optional, and every transition is announced as an event.",
    )
    amount: Amount = Field(gt=0, le=MAX_AMOUNT)
    currency: Currency
    source: str = Field(pattern=NAME_PATTERN)
    destination: str = Field(pattern=NAME_PATTERN)

    @field_validator("primitives")
    @classmethod
    def _controls_present(cls, value: list[Primitive]) -> list[Primitive]:
        missing = [name for name in ("policy", "ledger") if name not in value]
        if missing:
            raise ValueError(f"primitives must include {' and '.join(missing)}")
        return sorted(set(value), key=PRIMITIVES.index)

    @model_validator(mode="after")
    def _two_accounts(self) -> IntentIn:
        if self.source == self.destination:
            raise ValueError("source and destination are the same account")
        return self

    def content(self) -> dict[str, object]:
        """The intent's content as its idempotency compares it (every member but the id)."""
        return self.model_dump(mode="json", exclude={"intent_id"})


class SandboxNoise(_Strict):
    """What goes wrong on purpose when a sandbox rail settles (all off by default).

    Counts pick that many distinct intents of the day (a seeded choice); ``fee_minor`` and
    ``fee_bps`` charge every settled intent ``fee_minor + amount * fee_bps // 10000``.
    """

    late_callbacks: int = Field(default=0, ge=0, le=10_000)
    duplicate_callbacks: int = Field(default=0, ge=0, le=10_000)
    missing_rows: int = Field(default=0, ge=0, le=10_000)
    amount_drift: int = Field(default=0, ge=0, le=10_000)
    drift_minor: Amount = Field(default=1, ge=1, le=MAX_AMOUNT)
    unknown_references: int = Field(default=0, ge=0, le=10_000)
    fee_minor: Amount = Field(default=0, ge=0, le=MAX_AMOUNT)
    fee_bps: Amount = Field(default=0, ge=0, le=10_000)


class SandboxSettleIn(_Strict):
    """``POST /runtime/rails/{name}/sandbox/settle``: settle the rail's intents routed on
    ``date`` (UTC)."""

    date: dt.date
    seed: Amount = 0
    noise: SandboxNoise = Field(default_factory=SandboxNoise)
    file_id: str | None = Field(default=None, pattern=NAME_PATTERN)
