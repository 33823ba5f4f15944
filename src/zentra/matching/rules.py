"""The rule language: declarative, versioned rulesets applied as a waterfall (SPEC 8).

A ruleset is an ordered list of rules. Each rule sees only the records that earlier rules left
unmatched, and says:

- ``kind``: how candidates are found and compared (see :data:`RuleKind`);
- ``block_on``: which fields must be equal for two records to be compared at all
  (``currency`` is always implied);
- ``amount_tolerance``: an absolute tolerance in minor units and/or a ratio of the internal
  amount (a decimal string such as ``"0.001"``, never a float);
- ``date_window_days``: how far the booked date may be from the occurrence date;
- ``fee_aware``: compare the provider's amount net of its fee with the internal amount as well;
- ``fuzzy``: a similarity threshold (0-100, rapidfuzz ``token_set_ratio``) on a text field;
- ``cardinality``: ``1:1``, ``1:N`` (one provider row, several movements) or ``N:1``;
- ``group_field``: for grouping rules, the movement field that holds the group key
  (``metadata.payout_id``);
- ``only_without_reference``: consider only provider rows that carry no usable reference.

Field names are ``provider_reference``, ``description``, ``counterparty``, ``group_key`` or
``metadata.<key>`` (a key of the movement's metadata). Models are frozen: a ruleset version,
once stored, never changes.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from zentra.kit.canonical import canonical_hash

RuleKind = Literal["exact_reference", "amount_date", "fuzzy", "group_key", "subset_sum"]
Cardinality = Literal["1:1", "1:N", "N:1"]

FIELD_PATTERN = r"^(provider_reference|description|counterparty|group_key|metadata\.[A-Za-z0-9_]+)$"
MAX_SUBSET_CANDIDATES = 24


class AmountTolerance(BaseModel):
    """How far two amounts may differ and still match: within ``absolute_minor`` minor units
    or within ``ratio`` of the internal amount, whichever is larger."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    absolute_minor: int = Field(default=0, ge=0)
    ratio: str = Field(default="0", description='A decimal string such as "0.001" (0.1%).')

    @field_validator("ratio", mode="before")
    @classmethod
    def _ratio_is_a_decimal_string(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError('ratio must be a decimal string such as "0.001", not a float')
        return value

    @field_validator("ratio")
    @classmethod
    def _ratio_in_range(cls, value: str) -> str:
        try:
            ratio = Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a decimal") from exc
        if not ratio.is_finite() or ratio < 0 or ratio >= 1:
            raise ValueError("ratio must be at least 0 and below 1")
        return str(ratio)

    def ratio_fraction(self) -> tuple[int, int]:
        """The ratio as an exact fraction ``(numerator, denominator)``."""
        numerator, denominator = Decimal(self.ratio).as_integer_ratio()
        return numerator, denominator

    @property
    def is_exact(self) -> bool:
        """True when amounts must be equal."""
        return self.absolute_minor == 0 and Decimal(self.ratio) == 0


class FuzzyComparison(BaseModel):
    """Compare a provider text field with a movement field by similarity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    external_field: Annotated[str, Field(pattern=FIELD_PATTERN)] = "counterparty"
    internal_field: Annotated[str, Field(pattern=FIELD_PATTERN)] = "metadata.counterparty"
    threshold: int = Field(default=85, ge=50, le=100)


class Rule(BaseModel):
    """One stage of the waterfall."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    kind: RuleKind
    cardinality: Cardinality = "1:1"
    reference_field: Annotated[str, Field(pattern=FIELD_PATTERN)] = "provider_reference"
    block_on: tuple[Annotated[str, Field(pattern=FIELD_PATTERN)], ...] = ()
    amount_tolerance: AmountTolerance = AmountTolerance()
    date_window_days: int | None = Field(default=None, ge=0, le=366)
    fee_aware: bool = False
    fuzzy: FuzzyComparison | None = None
    group_field: Annotated[str, Field(pattern=FIELD_PATTERN)] | None = None
    external_types: tuple[
        Literal["charge", "refund", "payout", "fee", "adjustment", "reversal"], ...
    ] = ()
    only_without_reference: bool = False
    max_candidates: int = Field(default=20, ge=2, le=MAX_SUBSET_CANDIDATES)

    @model_validator(mode="after")
    def _kind_needs(self) -> Rule:
        if self.kind == "exact_reference" and self.cardinality != "1:1":
            raise ValueError("exact_reference rules are 1:1")
        if self.kind in {"amount_date", "fuzzy"} and self.cardinality != "1:1":
            raise ValueError(f"{self.kind} rules are 1:1")
        if self.kind == "fuzzy" and self.fuzzy is None:
            raise ValueError("a fuzzy rule needs a 'fuzzy' comparison")
        if self.kind in {"amount_date", "fuzzy", "subset_sum"} and self.date_window_days is None:
            raise ValueError(f"a {self.kind} rule needs date_window_days")
        if self.kind == "group_key":
            if self.cardinality == "1:1":
                raise ValueError("group_key rules are 1:N or N:1")
            if self.cardinality == "1:N" and self.group_field is None:
                raise ValueError("a 1:N group_key rule needs group_field (a movement field)")
        if self.kind == "subset_sum" and self.cardinality != "1:N":
            raise ValueError("subset_sum rules are 1:N (one provider row, several movements)")
        return self


class RulesetDefinition(BaseModel):
    """An ordered list of rules; rule names are unique within the ruleset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[Rule, ...] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _unique_names(self) -> RulesetDefinition:
        names = [rule.name for rule in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("rule names must be unique within a ruleset")
        if self.rules[0].kind != "exact_reference":
            raise ValueError("the first rule must be exact_reference (references decide first)")
        return self

    def definition_hash(self) -> str:
        """sha256 of the canonical JSON of the definition: what a run records."""
        return canonical_hash(self.model_dump(mode="json"))


DEFAULT_RULESET_NAME = "default"
DEFAULT_RULESET = RulesetDefinition(
    rules=(
        # References decide first: any amount difference is an amount_mismatch, never tolerated.
        Rule(name="exact_reference", kind="exact_reference"),
        # A provider payout that groups movements by payout id, net of fees.
        Rule(
            name="payout_by_group_key",
            kind="group_key",
            cardinality="1:N",
            group_field="metadata.payout_id",
            external_types=("payout",),
            fee_aware=True,
        ),
        # Settlement rows of one batch against one internal payout.
        Rule(name="batch_to_payout", kind="group_key", cardinality="N:1", fee_aware=True),
        # A payout without a group key: the unique subset of the merchant's recent movements.
        Rule(
            name="payout_subset_sum",
            kind="subset_sum",
            cardinality="1:N",
            block_on=("counterparty",),
            external_types=("payout",),
            date_window_days=3,
            max_candidates=20,
        ),
        # Bank lines without a usable reference: same amount and currency, close in time.
        Rule(
            name="amount_currency_date",
            kind="amount_date",
            only_without_reference=True,
            date_window_days=3,
        ),
        # What amount and date alone cannot tell apart, the counterparty can.
        Rule(
            name="counterparty_fuzzy",
            kind="fuzzy",
            only_without_reference=True,
            date_window_days=3,
            fuzzy=FuzzyComparison(threshold=85),
        ),
    )
)
