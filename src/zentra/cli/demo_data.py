"""The demo's data: a workspace's runtime settings and a day of payment intents, seeded so every
demo tells the same story.

- two sandbox rails, ``rail_primary`` then ``rail_backup`` for every payment;
- a policy: at most 5,000.00 EUR / 5,000.00 USD per payment, a daily cap per customer, one
  blocked merchant and a risk rule on large USD payments to new merchants;
- customers funded in EUR and USD, paying merchants in the same currency;
- one payment over the limit (rejected, posts nothing) and one made while the primary rail is
  down (fails over to the backup);
- the primary rail settles the day with noise: a late callback, duplicate callbacks, a missing
  row, an amount drift, an unknown reference and fees.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from zentra.runtime.schemas import IntentIn, Policy, Routes, SandboxNoise

PRIMARY = "rail_primary"
BACKUP = "rail_backup"
SEED = 42
INTENT_COUNT = 24
FUNDING_MINOR = 5_000_000
"""What each customer deposits before paying (50,000.00)."""

CURRENCIES = ("EUR", "USD")
CUSTOMERS = tuple(f"customer_{n:02d}_{c.lower()}" for c in CURRENCIES for n in range(1, 4))
MERCHANTS = tuple(f"merchant_{n:02d}_{c.lower()}" for c in CURRENCIES for n in range(1, 3))
DEPOSITS = {currency: f"customer_deposits_{currency.lower()}" for currency in CURRENCIES}

POLICY = Policy.model_validate(
    {
        "limits": [
            {"currency": "EUR", "max_amount": 500_000},
            {"currency": "USD", "max_amount": 500_000},
        ],
        "velocity": [
            {"currency": "EUR", "max_amount_per_day": 2_500_000},
            {"currency": "USD", "max_amount_per_day": 2_500_000},
        ],
        "blocked_counterparties": ["merchant_sanctioned_eur"],
        "risk_rules": [
            {
                "name": "large_usd_to_new_merchant",
                "match": {"currency": "USD", "min_amount": 400_000, "destination": "merchant_new"},
                "action": "reject",
            }
        ],
    }
)
ROUTES = Routes.model_validate(
    {
        "rules": [
            {"match": {"currency": "EUR"}, "rails": [PRIMARY, BACKUP]},
            {"match": {"currency": "USD"}, "rails": [PRIMARY, BACKUP]},
        ]
    }
)
NOISE = SandboxNoise(
    late_callbacks=1,
    duplicate_callbacks=2,
    missing_rows=1,
    amount_drift=1,
    unknown_references=1,
    fee_minor=30,
    fee_bps=25,
)


@dataclass(frozen=True, slots=True)
class DemoIntents:
    """The day's intents in the order they are made, and the two that tell a story."""

    regular: tuple[IntentIn, ...]
    over_limit: IntentIn
    failover: IntentIn


def _intent(intent_id: str, amount: int, currency: str, source: str, destination: str) -> IntentIn:
    return IntentIn(
        intent_id=intent_id,
        amount=amount,
        currency=currency,
        source=source,
        destination=destination,
    )


def generate_demo_intents(seed: int = SEED) -> DemoIntents:
    """The demo's intents; the same seed gives the same intents."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not a secret
    regular = []
    for number in range(1, INTENT_COUNT + 1):
        currency = rng.choice(CURRENCIES)
        suffix = currency.lower()
        source = rng.choice([c for c in CUSTOMERS if c.endswith(suffix)])
        destination = rng.choice([m for m in MERCHANTS if m.endswith(suffix)])
        amount = rng.randint(5, 1_500) * 100 + rng.randint(0, 99)
        regular.append(_intent(f"intent_{number:03d}", amount, currency, source, destination))
    return DemoIntents(
        regular=tuple(regular),
        over_limit=_intent(
            "intent_over_limit", 900_000, "EUR", "customer_01_eur", "merchant_01_eur"
        ),
        failover=_intent("intent_failover", 12_000, "EUR", "customer_02_eur", "merchant_02_eur"),
    )
