"""The demo's data: a few hundred movements and the provider's settlement file for one day,
seeded so every demo tells the same story, with four realistic discrepancies planted:

- a payment the provider never reported (``missing_from_settlement``),
- a row whose amount is one unit short (``amount_mismatch``),
- a row with a reference nobody issued (``unmatched_provider_row``),
- a row the provider sent twice (``duplicate_provider_row``),

and one row with three decimals in EUR, which ingestion rejects with its line and reason.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from zentra.kit.money import currency_exponent, format_major

PROVIDER = "rail_primary"
SETTLEMENT_DAY = date(2026, 4, 26)
SETTLEMENT_FILE_ID = "set_2026_04_26"
MOVEMENT_COUNT = 300

CURRENCIES = (("EUR", 0.6), ("USD", 0.25), ("JPY", 0.15))


@dataclass(frozen=True, slots=True)
class DemoData:
    """The movements (NDJSON) and the settlement file (generic CSV), as bytes."""

    movements_ndjson: bytes
    settlement_csv: bytes
    planted: dict[str, str]


def _amount(rng: random.Random, currency: str) -> int:
    exponent = currency_exponent(currency)
    scale: int = 10**exponent
    return rng.randint(5, 2500) * scale + rng.randint(0, scale - 1)


def generate_demo_data(seed: int = 42) -> DemoData:
    """Build the demo's two files; the same seed gives the same bytes."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not a secret
    movements: list[dict[str, Any]] = []
    for number in range(MOVEMENT_COUNT):
        currency = rng.choices([c for c, _ in CURRENCIES], [w for _, w in CURRENCIES])[0]
        is_refund = rng.random() < 0.08
        occurred = datetime.combine(SETTLEMENT_DAY, time(0), tzinfo=UTC) + timedelta(
            seconds=rng.randint(0, 86_399)
        )
        reference = f"{'re' if is_refund else 'pi'}_{rng.getrandbits(48):012x}"
        movements.append(
            {
                "movement_id": f"mv_{number + 1:05d}",
                "type": "refund" if is_refund else rng.choice(["payment", "payment", "card"]),
                "provider": PROVIDER,
                "provider_reference": reference,
                "amount": _amount(rng, currency) // (4 if is_refund else 1),
                "currency": currency,
                "status": "succeeded",
                "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
                "metadata": {"customer": f"cus_{rng.randint(1, 80):04d}"},
            }
        )

    missing, short, duplicated = movements[17], movements[42], movements[99]
    rows: list[dict[str, Any]] = []
    for movement in movements:
        if movement is missing:
            continue
        amount = int(movement["amount"])
        if movement is short:
            amount -= 1
        is_refund = movement["type"] == "refund"
        rows.append(
            {
                "row_id": f"r{len(rows) + 1:05d}",
                "provider_reference": movement["provider_reference"],
                "type": "refund" if is_refund else "charge",
                "amount": format_major(-amount if is_refund else amount, str(movement["currency"])),
                "currency": movement["currency"],
                "booked_at": SETTLEMENT_DAY.isoformat(),
                "description": f"{movement['type']} {movement['movement_id']}",
            }
        )
        if movement is duplicated:
            rows.append(dict(rows[-1]))
    unknown = f"pi_{rng.getrandbits(48):012x}"
    rows.append(
        {
            "row_id": f"r{len(rows) + 1:05d}",
            "provider_reference": unknown,
            "type": "charge",
            "amount": "49.90",
            "currency": "EUR",
            "booked_at": SETTLEMENT_DAY.isoformat(),
            "description": "charge with a reference nobody issued",
        }
    )
    rows.append(
        {
            "row_id": f"r{len(rows) + 1:05d}",
            "provider_reference": "pi_badamount",
            "type": "charge",
            "amount": "12.345",
            "currency": "EUR",
            "booked_at": SETTLEMENT_DAY.isoformat(),
            "description": "three decimals in EUR",
        }
    )
    rng.shuffle(rows)

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    ndjson = "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in movements)
    return DemoData(
        movements_ndjson=ndjson.encode(),
        settlement_csv=buffer.getvalue().encode(),
        planted={
            "missing_from_settlement": str(missing["provider_reference"]),
            "amount_mismatch": str(short["provider_reference"]),
            "duplicate_provider_row": str(duplicated["provider_reference"]),
            "unmatched_provider_row": unknown,
        },
    )
