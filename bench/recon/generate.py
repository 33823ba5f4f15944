"""ReconBench data generator: a settlement CSV, internal movements and their ground truth.

``python -m bench.recon.generate --size 100k --seed 42 --out DIR [--rows N]`` writes into DIR:

- ``settlement.csv``: the generic settlement CSV of SPEC 13 with the header
  ``row_id,provider_reference,type,amount,currency,booked_at,fee,description,counterparty,group_key``;
  rows shuffled;
- ``movements.ndjson``: one internal movement per line (SPEC 13 movements import), shuffled;
- ``labels.jsonl``: the ground truth, one object per planted case
  (``case``, ``external_row_ids``, ``movement_ids``, ``expect``; a ``duplicate_provider_row``
  label also names ``duplicate_of``, the row it repeats);
- ``manifest.json``: seed, rows, counts per case kind, line counts, bytes and sha256 per file.

Contract:

- **Deterministic**: the same seed and row count give the same bytes, on any machine. Every
  random choice comes from :class:`random.Random` instances seeded with strings derived from the
  seed; nothing depends on hash randomisation, dict order of unordered inputs, time or locale.
- **No floats for money**: amounts are integers in minor units, written in major units with
  exactly the currency's ISO 4217 exponent by integer and string arithmetic (:func:`format_major`).
- **Streaming**: rows go to bucket files picked at random as they are generated; each bucket is
  shuffled on its own at the end (a two-pass shuffle), so memory stays bounded by the bucket size
  plus a set of the amounts kept unique (see below), even at 10M rows per side.
- **Unambiguous where it must be**: every row that a reference cannot match (no reference,
  fuzzy, orphans, payout rows and payout members, noisy references) gets a (currency, amount
  magnitude) that no other such row has, so amount + currency + date rules have exactly one
  candidate; the only planted collisions are the fuzzy decoys and the ambiguous payouts.

The case kinds and their shares are :data:`SHARES_PPM`; the research note behind them is
``matching-research.md`` §6 ("ReconBench").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any, TextIO

GENERATOR_VERSION = "1"

SETTLEMENT_HEADER = ",".join(
    (
        "row_id",
        "provider_reference",
        "type",
        "amount",
        "currency",
        "booked_at",
        "fee",
        "description",
        "counterparty",
        "group_key",
    )
)

SIZES: dict[str, int] = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}

# (code, ISO 4217 exponent, weight). JPY has no minor unit; KWD and BHD have three decimals.
CURRENCIES: tuple[tuple[str, int, int], ...] = (
    ("EUR", 2, 40),
    ("USD", 2, 24),
    ("GBP", 2, 12),
    ("JPY", 0, 8),
    ("CHF", 2, 4),
    ("SEK", 2, 4),
    ("CAD", 2, 3),
    ("KWD", 3, 3),
    ("BHD", 3, 2),
)
EXPONENTS: dict[str, int] = {code: exponent for code, exponent, _ in CURRENCIES}
_CURRENCY_INDEX: dict[str, int] = {code: i for i, (code, _, _) in enumerate(CURRENCIES)}
_CUMULATIVE: list[int] = []
for _code, _exp, _weight in CURRENCIES:
    _CUMULATIVE.append((_CUMULATIVE[-1] if _CUMULATIVE else 0) + _weight)
_TWO_DECIMALS = tuple(code for code, exponent, _ in CURRENCIES if exponent == 2)

# Planted case kinds, in parts per million of the row count; ``exact`` takes the remainder.
# Payout kinds count payouts (one settlement row each, several movements).
SHARES_PPM: dict[str, int] = {
    "amount_delta": 30_000,
    "currency_mismatch": 10_000,
    "duplicate": 2_000,
    "noisy_reference": 20_000,
    "no_reference": 60_000,
    "fuzzy": 20_000,
    "orphan_external": 15_000,
    "orphan_internal": 15_000,
    "payout_keyed": 1_000,
    "payout_unkeyed": 1_000,
    "payout_ambiguous": 300,
}
KINDS: tuple[str, ...] = ("exact", *SHARES_PPM)
REFUND_PERCENT = 5  # of exact cases
FEE_PERCENT = 20  # of exact charges that carry a fee column
COUNTERPARTY_PERCENT = 30  # of exact cases that name a counterparty on both sides
DAYS = 28  # movements occur in [START, START + DAYS)
START = date(2026, 4, 1)
BUCKET_ROWS = 250_000  # lines per shuffle bucket (memory bound of the shuffle)
PROVIDER = "rail_primary"

_FIRST = (
    "Northwind", "Bluefin", "Crescent", "Evergreen", "Granite", "Harborview", "Ironwood",
    "Juniper", "Keystone", "Lakeshore", "Meridian", "Nimbus", "Oakridge", "Pinnacle", "Quarry",
    "Redwood", "Silverline", "Summit", "Trident", "Vertex", "Westfield", "Zephyr", "Aurora",
    "Cobalt",
)  # fmt: skip
_SECOND = (
    "Traders", "Logistics", "Foods", "Textiles", "Software", "Analytics", "Pharma", "Motors",
    "Outfitters", "Bakery", "Studios", "Consulting", "Robotics", "Apparel", "Kitchens", "Energy",
)  # fmt: skip
_SUFFIX = ("GmbH", "Ltd", "LLC", "SARL", "BV", "AB", "Inc", "SpA", "Oy", "KK")
_CITY = ("Berlin", "London", "Paris", "Madrid", "Vienna", "Oslo", "Tokyo", "Zurich", "Dublin")
_MASK = (1 << 64) - 1
_POW10: tuple[int, ...] = (1, 10, 100, 1_000, 10_000)


def format_major(minor: int, exponent: int) -> str:
    """Write integer minor units as a major-unit decimal with exactly ``exponent`` decimals.

    >>> format_major(-1250, 2), format_major(7, 3), format_major(500, 0)
    ('-12.50', '0.007', '500')
    """
    sign = "-" if minor < 0 else ""
    if exponent == 0:
        return f"{sign}{abs(minor)}"
    whole, fraction = divmod(abs(minor), 10**exponent)
    return f"{sign}{whole}.{fraction:0{exponent}d}"


def rows_for_size(size: str) -> int:
    """The row count of a named size (``10k``, ``100k``, ``1m``, ``10m``); ValueError otherwise."""
    try:
        return SIZES[size.lower()]
    except KeyError:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}") from None


def case_counts(rows: int) -> dict[str, int]:
    """How many cases of each kind ``rows`` gives; every kind is planted at least once."""
    counts = {kind: max(1, rows * ppm // 1_000_000) for kind, ppm in SHARES_PPM.items()}
    counts = {"exact": max(1, rows - sum(counts.values())), **counts}
    return counts


def _mix64(value: int) -> int:
    """A bijection on 64-bit integers (splitmix64 finaliser): distinct inputs, distinct outputs."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


class _ShuffledLines:
    """Collects lines and writes them, shuffled, after a header.

    Lines go to one of ``buckets`` temporary files chosen at random; :meth:`finish` shuffles
    each bucket in memory and appends it. With one bucket nothing touches the disk until the end.
    """

    def __init__(self, path: Path, header: str | None, buckets: int, rng: random.Random) -> None:
        self.path = path
        self.header = header
        self.rng = rng
        self.count = 0
        self._buckets = buckets
        self._memory: list[list[str]] = [[] for _ in range(buckets)]
        self._files: list[TextIO] = []
        if buckets > 1:
            tmp = path.parent / f".{path.name}.buckets"
            tmp.mkdir(exist_ok=True)
            self._files = [
                (tmp / f"{i:04d}").open("w", encoding="utf-8", newline="") for i in range(buckets)
            ]

    def add(self, line: str) -> None:
        self.count += 1
        index = self.rng.randrange(self._buckets) if self._buckets > 1 else 0
        bucket = self._memory[index]
        bucket.append(line)
        if self._files and len(bucket) >= 4096:
            self._files[index].write("".join(bucket))
            bucket.clear()

    def finish(self) -> None:
        with self.path.open("w", encoding="utf-8", newline="") as out:
            if self.header is not None:
                out.write(self.header + "\n")
            if not self._files:
                lines = self._memory[0]
                self.rng.shuffle(lines)
                out.write("".join(lines))
                return
            tmp = self.path.parent / f".{self.path.name}.buckets"
            for index, handle in enumerate(self._files):
                handle.write("".join(self._memory[index]))
                handle.close()
                self._memory[index] = []
            for index in range(self._buckets):
                bucket_path = tmp / f"{index:04d}"
                with bucket_path.open(encoding="utf-8", newline="") as handle:
                    lines = handle.readlines()
                self.rng.shuffle(lines)
                out.write("".join(lines))
                bucket_path.unlink()
            shutil.rmtree(tmp)


@dataclass
class _State:
    """Counters and the pool of (currency, amount) keys kept unique among unreferenced rows."""

    rng: random.Random
    seed: int
    row_seq: int = 0
    movement_seq: int = 0
    reference_seq: int = 0
    merchant_seq: int = 0
    unique_amounts: set[int] = field(default_factory=set)

    def row_id(self) -> str:
        self.row_seq += 1
        return f"r{self.row_seq:09d}"

    def movement_id(self) -> str:
        self.movement_seq += 1
        return f"mv_{self.movement_seq:09d}"

    def reference(self, prefix: str) -> str:
        """A reference no other call returns; lower-case hex, so upper-casing stays unique."""
        self.reference_seq += 1
        return f"{prefix}_{_mix64(self.reference_seq ^ (self.seed << 40)):016x}"

    def merchant(self) -> str:
        self.merchant_seq += 1
        return f"Merchant account {_mix64(self.merchant_seq ^ (self.seed << 32)) & 0xFFFFFFFF:08X}"

    def currency(self) -> str:
        return CURRENCIES[bisect_right(_CUMULATIVE, self.rng.randrange(_CUMULATIVE[-1]))][0]

    def amount(self, currency: str) -> int:
        """A positive amount in minor units: 1 to 9,999 major units (JPY: 100 to 999,999)."""
        exponent = EXPONENTS[currency]
        digits = self.rng.choice((1, 2, 2, 3, 3, 3, 4))
        whole = self.rng.randrange(_POW10[digits - 1], _POW10[digits])
        if exponent == 0:
            return whole * 100 + self.rng.randrange(100)
        return whole * _POW10[exponent] + self.rng.randrange(_POW10[exponent])

    def claim(self, currency: str, amount: int) -> bool:
        """Reserve (currency, |amount|) for one unreferenced row; False if already taken."""
        key = abs(amount) * 16 + _CURRENCY_INDEX[currency]
        if key in self.unique_amounts:
            return False
        self.unique_amounts.add(key)
        return True

    def release(self, currency: str, amount: int) -> None:
        """Undo :meth:`claim`."""
        self.unique_amounts.discard(abs(amount) * 16 + _CURRENCY_INDEX[currency])

    def unique_amount(self, currency: str) -> int:
        """An amount whose (currency, magnitude) no other unreferenced row has."""
        while True:
            amount = self.amount(currency)
            if self.claim(currency, amount):
                return amount

    def moment(self, day: int | None = None) -> tuple[int, int]:
        """A (day offset, second of day) inside the window."""
        return (self.rng.randrange(DAYS) if day is None else day), self.rng.randrange(86_400)

    def company(self) -> tuple[int, int, int]:
        return (
            self.rng.randrange(len(_FIRST)),
            self.rng.randrange(len(_SECOND)),
            self.rng.randrange(len(_SUFFIX)),
        )


def _day(offset: int) -> str:
    return (START + timedelta(days=offset)).isoformat()


def _timestamp(offset: int, second: int) -> str:
    hours, rest = divmod(second, 3600)
    return f"{_day(offset)}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


def _company_name(parts: tuple[int, int, int]) -> str:
    return f"{_FIRST[parts[0]]} {_SECOND[parts[1]]} {_SUFFIX[parts[2]]}"


def noisy_counterparty(rng: random.Random, parts: tuple[int, int, int]) -> str:
    """A variant of a company name that rapidfuzz ``token_set_ratio`` (with
    ``utils.default_process``) scores >= 90 against the original: a city appended, tokens
    reordered, the legal suffix dropped, or two adjacent letters of the trade word swapped."""
    first, second, suffix = _FIRST[parts[0]], _SECOND[parts[1]], _SUFFIX[parts[2]]
    variant = rng.randrange(4)
    if variant == 0:
        return f"{first.upper()} {second.upper()} {suffix} {rng.choice(_CITY)}"
    if variant == 1:
        return f"{second} {first} {suffix}"
    if variant == 2:
        return f"{first.lower()} {second.lower()}"
    position = rng.randrange(1, len(second) - 2)
    typo = second[:position] + second[position + 1] + second[position] + second[position + 2 :]
    return f"{first} {typo} {suffix}"


DECOY_SCORE_BELOW = 50  # the decoy's similarity ceiling, a margin under the contract's 60


@lru_cache(maxsize=1 << 16)
def disjoint_similarity(a: tuple[int, int, int], b: tuple[int, int, int]) -> int:
    """rapidfuzz ``token_set_ratio`` (``utils.default_process``) of two company names that share
    no word, floored to an integer: with no common token it is the Indel similarity of the sorted,
    lower-cased token strings, 200 * LCS / (len(a) + len(b))."""
    left = " ".join(sorted(_company_name(a).lower().split()))
    right = " ".join(sorted(_company_name(b).lower().split()))
    previous = [0] * (len(right) + 1)
    for char in left:
        current = [0]
        for j, other in enumerate(right):
            current.append(previous[j] + 1 if char == other else max(previous[j + 1], current[j]))
        previous = current
    return 200 * previous[-1] // (len(left) + len(right))


def decoy_company(rng: random.Random, parts: tuple[int, int, int]) -> tuple[int, int, int]:
    """A company sharing no word with ``parts`` whose name scores below
    :data:`DECOY_SCORE_BELOW` against it (redrawn until it does)."""

    def other(count: int, taken: int) -> int:
        pick = rng.randrange(count - 1)
        return pick + 1 if pick >= taken else pick

    while True:
        decoy = (
            other(len(_FIRST), parts[0]),
            other(len(_SECOND), parts[1]),
            other(len(_SUFFIX), parts[2]),
        )
        if disjoint_similarity(parts, decoy) < DECOY_SCORE_BELOW:
            return decoy


class _Writers:
    """The three output streams of one generation."""

    def __init__(self, out: Path, seed: int, rows: int) -> None:
        buckets = max(1, -(-rows // BUCKET_ROWS))
        self.settlement = _ShuffledLines(
            out / "settlement.csv", SETTLEMENT_HEADER, buckets, random.Random(f"{seed}:settlement")
        )
        self.movements = _ShuffledLines(
            out / "movements.ndjson", None, buckets, random.Random(f"{seed}:movements")
        )
        self.labels_path = out / "labels.jsonl"
        self.labels = self.labels_path.open("w", encoding="utf-8", newline="")
        self.label_count = 0
        self.last_row = ""  # the last settlement line written, for repeating it

    def row(
        self,
        state: _State,
        *,
        reference: str,
        kind: str,
        amount: int,
        currency: str,
        booked_day: int,
        fee: int | None = None,
        counterparty: str = "",
        group_key: str = "",
        row_id: str | None = None,
    ) -> str:
        """Write one settlement row; ``amount`` in signed minor units. Returns its row_id."""
        row_id = row_id or state.row_id()
        exponent = EXPONENTS[currency]
        fee_text = "" if fee is None else format_major(fee, exponent)
        description = _DESCRIPTIONS[kind]
        self.last_row = (
            f"{row_id},{reference},{kind},{format_major(amount, exponent)},{currency},"
            f"{_day(booked_day)},{fee_text},{description},{counterparty},{group_key}\n"
        )
        self.settlement.add(self.last_row)
        return row_id

    def movement(
        self,
        state: _State,
        *,
        kind: str,
        reference: str,
        amount: int,
        currency: str,
        moment: tuple[int, int],
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Write one internal movement; ``amount`` positive minor units. Returns its id."""
        movement_id = state.movement_id()
        meta = json.dumps(metadata or {}, separators=(",", ":"))
        self.movements.add(
            f'{{"movement_id":"{movement_id}","type":"{kind}","provider":"{PROVIDER}",'
            f'"provider_reference":"{reference}","amount":{amount},"currency":"{currency}",'
            f'"status":"succeeded","occurred_at":"{_timestamp(*moment)}","metadata":{meta}}}\n'
        )
        return movement_id

    def label(
        self,
        case: str,
        external: list[str],
        movements: list[str],
        expect: str,
        **extra: str,
    ) -> None:
        self.label_count += 1
        record: dict[str, Any] = {
            "case": case,
            "external_row_ids": external,
            "movement_ids": movements,
            "expect": expect,
            **extra,
        }
        self.labels.write(json.dumps(record, separators=(",", ":")) + "\n")

    def finish(self) -> None:
        self.labels.close()
        self.settlement.finish()
        self.movements.finish()


_DESCRIPTIONS = {
    "charge": "Card payment",
    "refund": "Refund",
    "payout": "Payout",
    "fee": "Processing fee",
}
_CHARGE_TYPES = ("payment", "card", "card", "transfer")


def _plant_exact(state: _State, w: _Writers, case: str = "exact") -> tuple[str, str]:
    """One referenced charge (or, 5 %, a refund) on both sides; returns (row_id, movement_id)."""
    rng = state.rng
    currency = state.currency()
    amount = state.amount(currency)
    moment = state.moment()
    booked = moment[0] + rng.randrange(2)
    refund = rng.randrange(100) < REFUND_PERCENT
    reference = state.reference("re" if refund else "pi")
    counterparty = (
        _company_name(state.company()) if rng.randrange(100) < COUNTERPARTY_PERCENT else ""
    )
    fee = None
    if not refund and rng.randrange(100) < FEE_PERCENT:
        fee = amount * 29 // 1000 + 1
    row_id = w.row(
        state,
        reference=reference,
        kind="refund" if refund else "charge",
        amount=-amount if refund else amount,
        currency=currency,
        booked_day=booked,
        fee=fee,
        counterparty=counterparty,
    )
    movement_id = w.movement(
        state,
        kind="refund" if refund else rng.choice(_CHARGE_TYPES),
        reference=reference,
        amount=amount,
        currency=currency,
        moment=moment,
        metadata={"counterparty": counterparty} if counterparty else None,
    )
    if case == "exact":
        w.label("exact", [row_id], [movement_id], "match")
    return row_id, movement_id


def _plant_duplicate(state: _State, w: _Writers) -> None:
    row_id, movement_id = _plant_exact(state, w, case="duplicate")
    # The provider sends the same row again under a new row id.
    duplicate_id = state.row_id()
    w.settlement.add(duplicate_id + w.last_row[len(row_id) :])
    w.label("duplicate", [row_id], [movement_id], "match")
    w.label("duplicate", [duplicate_id], [], "duplicate_provider_row", duplicate_of=row_id)


def _plant_amount_delta(state: _State, w: _Writers) -> None:
    currency = state.currency()
    amount = state.amount(currency) + 5_000
    delta = state.rng.randrange(1, 5_000) * state.rng.choice((-1, 1))
    moment = state.moment()
    reference = state.reference("pi")
    row_id = w.row(
        state,
        reference=reference,
        kind="charge",
        amount=amount + delta,
        currency=currency,
        booked_day=moment[0] + state.rng.randrange(2),
    )
    movement_id = w.movement(
        state,
        kind=state.rng.choice(_CHARGE_TYPES),
        reference=reference,
        amount=amount,
        currency=currency,
        moment=moment,
    )
    w.label("amount_delta", [row_id], [movement_id], "amount_mismatch")


def _plant_currency_mismatch(state: _State, w: _Writers) -> None:
    rng = state.rng
    currency = rng.choice(_TWO_DECIMALS)
    other = rng.choice([c for c in _TWO_DECIMALS if c != currency])
    amount = state.amount(currency)
    moment = state.moment()
    reference = state.reference("pi")
    row_id = w.row(
        state,
        reference=reference,
        kind="charge",
        amount=amount,
        currency=other,
        booked_day=moment[0] + rng.randrange(2),
    )
    movement_id = w.movement(
        state,
        kind=rng.choice(_CHARGE_TYPES),
        reference=reference,
        amount=amount,
        currency=currency,
        moment=moment,
    )
    w.label("currency_mismatch", [row_id], [movement_id], "currency_mismatch")


def noisy_reference(rng: random.Random, reference: str) -> str:
    """The reference with random letters upper-cased and 1..3 spaces inserted; upper-casing and
    removing whitespace gives ``reference.upper()``."""
    chars = [c.upper() if c.isalpha() and rng.randrange(2) else c for c in reference]
    if not any(c.isupper() for c in chars):
        chars[0] = chars[0].upper()
    for _ in range(rng.randrange(1, 4)):
        chars.insert(rng.randrange(1, len(chars)), " ")
    return "".join(chars)


def _plant_noisy_reference(state: _State, w: _Writers) -> None:
    rng = state.rng
    currency = state.currency()
    amount = state.unique_amount(currency)
    moment = state.moment()
    reference = state.reference("pi")
    row_id = w.row(
        state,
        reference=noisy_reference(rng, reference),
        kind="charge",
        amount=amount,
        currency=currency,
        booked_day=moment[0] + rng.randrange(2),
    )
    movement_id = w.movement(
        state,
        kind=rng.choice(_CHARGE_TYPES),
        reference=reference,
        amount=amount,
        currency=currency,
        moment=moment,
    )
    w.label("noisy_reference", [row_id], [movement_id], "match")


def _plant_no_reference(state: _State, w: _Writers) -> None:
    rng = state.rng
    currency = state.currency()
    amount = state.unique_amount(currency)
    moment = state.moment()
    row_id = w.row(
        state,
        reference="",
        kind="charge",
        amount=amount,
        currency=currency,
        booked_day=moment[0] + rng.randrange(3),
    )
    movement_id = w.movement(
        state,
        kind=rng.choice(_CHARGE_TYPES),
        reference=state.reference("pi"),
        amount=amount,
        currency=currency,
        moment=moment,
    )
    w.label("no_reference", [row_id], [movement_id], "match")


def _plant_fuzzy(state: _State, w: _Writers) -> None:
    rng = state.rng
    currency = state.currency()
    amount = state.unique_amount(currency)
    day = rng.randrange(DAYS)
    company = state.company()
    decoy = decoy_company(rng, company)
    row_id = w.row(
        state,
        reference="",
        kind="charge",
        amount=amount,
        currency=currency,
        booked_day=day,
        counterparty=_company_name(company),
    )
    movement_id = w.movement(
        state,
        kind=rng.choice(_CHARGE_TYPES),
        reference=state.reference("pi"),
        amount=amount,
        currency=currency,
        moment=state.moment(day),
        metadata={"counterparty": noisy_counterparty(rng, company)},
    )
    decoy_id = w.movement(
        state,
        kind=rng.choice(_CHARGE_TYPES),
        reference=state.reference("pi"),
        amount=amount,
        currency=currency,
        moment=state.moment(day),
        metadata={"counterparty": _company_name(decoy)},
    )
    w.label("fuzzy", [row_id], [movement_id], "match")
    w.label("fuzzy_decoy", [], [decoy_id], "missing_from_settlement")


def _plant_orphan_external(state: _State, w: _Writers) -> None:
    currency = state.currency()
    day = state.rng.randrange(DAYS)
    row_id = w.row(
        state,
        reference=state.reference("pi"),
        kind="charge",
        amount=state.unique_amount(currency),
        currency=currency,
        booked_day=day,
    )
    w.label("orphan_external", [row_id], [], "unmatched_provider_row")


def _plant_orphan_internal(state: _State, w: _Writers) -> None:
    currency = state.currency()
    movement_id = w.movement(
        state,
        kind=state.rng.choice(_CHARGE_TYPES),
        reference=state.reference("pi"),
        amount=state.unique_amount(currency),
        currency=currency,
        moment=state.moment(),
    )
    w.label("orphan_internal", [], [movement_id], "missing_from_settlement")


def _payout_fee(state: _State, currency: str, charges: list[int], below: int | None) -> int:
    """A fee such that the fee and the payout (charges minus fee) have unique magnitudes;
    strictly below ``below`` when given. Both are claimed. RuntimeError if none exists."""
    total = sum(charges)
    start = max(1, total * 15 // 1000)
    if below is not None:
        start = max(1, min(start, below // 4))
    stop = below if below is not None else total
    for fee in chain(range(start, stop), range(start - 1, 0, -1)):
        if state.claim(currency, fee):
            if state.claim(currency, total - fee):
                return fee
            state.release(currency, fee)
    raise RuntimeError(f"no unique payout fee for {currency} {total}")


def _plant_payout(state: _State, w: _Writers, case: str) -> None:
    """A payout row against its charges and one fee movement (see the module docstring).

    ``payout_keyed``: 5..40 movements carrying ``metadata.payout_id``. ``payout_unkeyed``: 3..12
    movements sharing a merchant-account counterparty with the row, charges 1..2 days before
    the payout; the fee is below every charge, so the whole block is the only subset that sums
    to the payout. ``payout_ambiguous``: the same plus one foreign charge equal to a member
    charge, so two subsets fit.
    """
    rng = state.rng
    currency = state.currency()
    keyed = case == "payout_keyed"
    size = rng.randrange(5, 41) if keyed else rng.randrange(3, 13)
    booked = rng.randrange(7 if keyed else 2, DAYS)
    charges = [state.unique_amount(currency) for _ in range(size - 1)]
    fee = _payout_fee(state, currency, charges, None if keyed else min(charges))
    reference = state.reference("po")
    counterparty = "" if keyed else state.merchant()
    metadata = {"payout_id": reference} if keyed else {"counterparty": counterparty}
    back = 7 if keyed else 2
    movement_ids = [
        w.movement(
            state,
            kind=rng.choice(_CHARGE_TYPES),
            reference=state.reference("pi"),
            amount=amount,
            currency=currency,
            moment=state.moment(booked - rng.randrange(1, back + 1)),
            metadata=metadata,
        )
        for amount in charges
    ]
    movement_ids.append(
        w.movement(
            state,
            kind="fee",
            reference=state.reference("fee"),
            amount=fee,
            currency=currency,
            moment=state.moment(booked - 1),
            metadata=metadata,
        )
    )
    if case == "payout_ambiguous":
        movement_ids.append(
            w.movement(
                state,
                kind=rng.choice(_CHARGE_TYPES),
                reference=state.reference("pi"),
                amount=rng.choice(charges),
                currency=currency,
                moment=state.moment(booked - rng.randrange(1, back + 1)),
                metadata=metadata,
            )
        )
    row_id = w.row(
        state,
        reference=reference,
        kind="payout",
        amount=-(sum(charges) - fee),
        currency=currency,
        booked_day=booked,
        counterparty=counterparty,
        group_key=reference if keyed else "",
    )
    expect = "ambiguous_match" if case == "payout_ambiguous" else "match"
    w.label(case, [row_id], movement_ids, expect)


_PLANTERS: dict[str, Callable[[_State, _Writers], object]] = {
    "exact": _plant_exact,
    "duplicate": _plant_duplicate,
    "amount_delta": _plant_amount_delta,
    "currency_mismatch": _plant_currency_mismatch,
    "noisy_reference": _plant_noisy_reference,
    "no_reference": _plant_no_reference,
    "fuzzy": _plant_fuzzy,
    "orphan_external": _plant_orphan_external,
    "orphan_internal": _plant_orphan_internal,
}


def _kind_sequence(counts: dict[str, int], seed: int) -> bytearray:
    """The planting order: one byte per case (index into :data:`KINDS`), shuffled."""
    sequence = bytearray()
    for index, kind in enumerate(KINDS):
        sequence.extend(bytes([index]) * counts[kind])
    random.Random(f"{seed}:kinds").shuffle(sequence)
    return sequence


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def generate(out: Path, *, seed: int, rows: int) -> dict[str, Any]:
    """Write the four files for ``rows`` cases into ``out`` (created); return the manifest.

    Same ``seed`` and ``rows`` give byte-identical files. Raises ValueError for rows < 1.
    """
    if rows < 1:
        raise ValueError("rows must be >= 1")
    out.mkdir(parents=True, exist_ok=True)
    counts = case_counts(rows)
    state = _State(rng=random.Random(f"{seed}:data"), seed=seed)
    writers = _Writers(out, seed, rows)
    for code in _kind_sequence(counts, seed):
        kind = KINDS[code]
        planter = _PLANTERS.get(kind)
        if planter is None:
            _plant_payout(state, writers, kind)
        else:
            planter(state, writers)
    writers.finish()
    files = {
        name: {
            "lines": lines,
            "bytes": (out / name).stat().st_size,
            "sha256": _sha256(out / name),
        }
        for name, lines in (
            ("settlement.csv", writers.settlement.count),
            ("movements.ndjson", writers.movements.count),
            ("labels.jsonl", writers.label_count),
        )
    }
    manifest: dict[str, Any] = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "rows": rows,
        "external_rows": writers.settlement.count,
        "internal_rows": writers.movements.count,
        "case_counts": counts,
        "currencies": [code for code, _, _ in CURRENCIES],
        "window": {"from": _day(0), "to": _day(DAYS - 1)},
        "files": files,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def cached_manifest(out: Path, *, seed: int, rows: int) -> dict[str, Any] | None:
    """The manifest of an earlier generation in ``out`` for the same seed, rows and generator
    version whose files still have their recorded sizes; None when it must be regenerated."""
    path = out / "manifest.json"
    if not path.exists():
        return None
    manifest: dict[str, Any] = json.loads(path.read_text())
    if (manifest.get("seed"), manifest.get("rows"), manifest.get("generator_version")) != (
        seed,
        rows,
        GENERATOR_VERSION,
    ):
        return None
    for name, info in manifest["files"].items():
        file = out / name
        if not file.exists() or file.stat().st_size != info["bytes"]:
            return None
    return manifest


def data_set(workdir: Path, *, seed: int, rows: int) -> tuple[Path, dict[str, Any], bool]:
    """The data set of ``seed`` and ``rows`` under ``workdir``: its directory, its manifest, and
    whether an earlier generation was reused (:func:`cached_manifest`) rather than made anew."""
    out = workdir / f"recon-{rows}-seed{seed}"
    manifest = cached_manifest(out, seed=seed, rows=rows)
    if manifest is not None:
        return out, manifest, True
    shutil.rmtree(out, ignore_errors=True)
    return out, generate(out, seed=seed, rows=rows), False


def iter_labels(path: Path) -> Iterator[dict[str, Any]]:
    """The label objects of a ``labels.jsonl``, in file order."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="10k", help=f"one of {', '.join(SIZES)}")
    parser.add_argument("--rows", type=int, help="exact row count (overrides --size)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    rows = args.rows if args.rows is not None else rows_for_size(args.size)
    manifest = generate(args.out, seed=args.seed, rows=rows)
    print(json.dumps({k: manifest[k] for k in ("seed", "rows", "external_rows", "internal_rows")}))


if __name__ == "__main__":
    main()
