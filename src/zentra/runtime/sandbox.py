"""The sandbox rail's provider side (pure): references, callbacks and settlement files.

A ``sandbox`` provider connection is a rail Zentra can dispatch to without leaving the process.
It behaves like a payment provider:

- it assigns each routed intent a provider reference (:func:`sandbox_reference`, a stable
  function of the rail and the intent id, so a replay gets the same reference);
- when it settles a day it plans (:func:`plan_settlement`) one ``charge.succeeded`` callback per
  intent, in the generic Standard Webhooks shape the callback path reads, and one settlement
  file in the generic CSV format (SPEC 13) booked on that day.

Noise (:class:`~zentra.runtime.schemas.SandboxNoise`) is chosen by a random generator seeded
with ``(seed, rail, day)`` over the intents sorted by reference, so the same call plans the same
bytes: *late* callbacks are held back for a later delivery, *duplicate* callbacks are delivered
twice with the same event id, *missing* rows are left out of the file, *drifted* rows carry
``drift_minor`` more (or less) than the intent, *unknown* references are rows nobody issued,
and fees (``fee_minor + amount * fee_bps // 10000``) are charged on every row and callback.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from zentra.kit.canonical import sha256_hex
from zentra.kit.money import format_major
from zentra.runtime.schemas import SandboxNoise

CALLBACK_TYPE = "charge.succeeded"
CALLBACK_STATUS = "captured"
FILE_COLUMNS = (
    "row_id",
    "provider_reference",
    "type",
    "amount",
    "fee",
    "currency",
    "booked_at",
    "description",
)


def sandbox_reference(rail: str, intent_id: str) -> str:
    """The provider reference the sandbox rail ``rail`` assigns to ``intent_id``."""
    return "sbx_" + sha256_hex(f"{rail}\x1f{intent_id}".encode())[:24]


def sandbox_event_id(reference: str) -> str:
    """The provider event id of the settlement callback of ``reference``."""
    return "sbxevt_" + sha256_hex(f"settled\x1f{reference}".encode())[:24]


def fee_for(amount: int, noise: SandboxNoise) -> int:
    """The fee the sandbox charges on ``amount`` (integer arithmetic, rounded down)."""
    return noise.fee_minor + amount * noise.fee_bps // 10_000


@dataclass(frozen=True, slots=True)
class SettlingIntent:
    """An intent routed to the rail on the day being settled."""

    intent_id: str
    provider_reference: str
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class PlannedCallback:
    """One callback the rail will send: its event id, exact body and how it is delivered."""

    provider_reference: str
    event_id: str
    body: bytes
    late: bool
    copies: int
    """1, or 2 for a duplicate delivery of the same event."""


@dataclass(frozen=True, slots=True)
class SettlementPlan:
    """Everything the rail sends for one day, and which noise landed where."""

    callbacks: tuple[PlannedCallback, ...]
    file_content: bytes
    file_rows: int
    noise: dict[str, list[str]] = field(default_factory=dict)
    """References per noise kind: late, duplicate, missing, drifted, unknown."""


def callback_body(intent: SettlingIntent, day: dt.date, fee: int) -> bytes:
    """The settlement callback of ``intent``: compact JSON with sorted keys (stable bytes)."""
    body: dict[str, Any] = {
        "id": sandbox_event_id(intent.provider_reference),
        "type": CALLBACK_TYPE,
        "data": {
            "reference": intent.provider_reference,
            "amount": intent.amount,
            "currency": intent.currency,
            "status": CALLBACK_STATUS,
            "fee": fee,
            "settlement_date": day.isoformat(),
        },
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def _rng(seed: int, rail: str, day: dt.date) -> random.Random:
    # A string seed is hashed (sha512) by ``random``: the same on every run and platform.
    return random.Random(f"{seed}:{rail}:{day.isoformat()}")  # noqa: S311 - a simulation


def _pick(rng: random.Random, population: Sequence[str], count: int) -> list[str]:
    return sorted(rng.sample(list(population), min(count, len(population))))


def plan_settlement(
    rail: str,
    day: dt.date,
    intents: Sequence[SettlingIntent],
    noise: SandboxNoise,
    seed: int,
) -> SettlementPlan:
    """Plan the callbacks and the settlement file of ``day`` (see the module docstring)."""
    ordered = sorted(intents, key=lambda intent: intent.provider_reference)
    references = [intent.provider_reference for intent in ordered]
    rng = _rng(seed, rail, day)
    late = set(_pick(rng, references, noise.late_callbacks))
    duplicate = set(_pick(rng, references, noise.duplicate_callbacks))
    file_noise = _pick(rng, references, noise.missing_rows + noise.amount_drift)
    rng.shuffle(file_noise)
    missing = set(file_noise[: noise.missing_rows])
    drifted = set(file_noise[noise.missing_rows :])

    callbacks = tuple(
        PlannedCallback(
            provider_reference=intent.provider_reference,
            event_id=sandbox_event_id(intent.provider_reference),
            body=callback_body(intent, day, fee_for(intent.amount, noise)),
            late=intent.provider_reference in late,
            copies=2 if intent.provider_reference in duplicate else 1,
        )
        for intent in ordered
    )

    rows: list[dict[str, str]] = []
    for intent in ordered:
        if intent.provider_reference in missing:
            continue
        amount = intent.amount
        if intent.provider_reference in drifted:
            lower = amount - noise.drift_minor
            amount = lower if lower > 0 and rng.random() < 0.5 else amount + noise.drift_minor
        rows.append(
            _row(intent.provider_reference, amount, fee_for(amount, noise), intent.currency, day)
        )
    unknown: list[str] = []
    currency = ordered[0].currency if ordered else "EUR"
    for _ in range(noise.unknown_references):
        reference = f"sbx_unknown_{rng.getrandbits(64):016x}"
        amount = rng.randint(100, 100_000)
        unknown.append(reference)
        rows.append(_row(reference, amount, fee_for(amount, noise), currency, day))
    rng.shuffle(rows)
    for number, row in enumerate(rows, start=1):
        row["row_id"] = f"{rail}-{day:%Y%m%d}-{number:05d}"

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FILE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return SettlementPlan(
        callbacks=callbacks,
        file_content=buffer.getvalue().encode(),
        file_rows=len(rows),
        noise={
            "late": sorted(late),
            "duplicate": sorted(duplicate),
            "missing": sorted(missing),
            "drifted": sorted(drifted),
            "unknown": sorted(unknown),
        },
    )


def _row(reference: str, amount: int, fee: int, currency: str, day: dt.date) -> dict[str, str]:
    return {
        "row_id": "",
        "provider_reference": reference,
        "type": "charge",
        "amount": format_major(amount, currency),
        "fee": format_major(fee, currency),
        "currency": currency,
        "booked_at": day.isoformat(),
        "description": f"sandbox charge {reference}",
    }
