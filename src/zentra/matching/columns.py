"""The Arrow schemas the engine reads, and how amounts are signed for comparison."""

from __future__ import annotations

from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

# Settlement-row types and movement types fall into comparable classes: a provider "charge" is
# an internal "payment", "transfer" or "card" transaction.
EXTERNAL_TYPE_CLASS: Final = {
    "charge": "charge",
    "refund": "refund",
    "payout": "payout",
    "fee": "fee",
    "adjustment": "adjustment",
    "reversal": "reversal",
}
MOVEMENT_TYPE_CLASS: Final = {
    "payment": "charge",
    "transfer": "charge",
    "card": "charge",
    "refund": "refund",
    "payout": "payout",
    "fee": "fee",
}
# Money leaving the merchant. Providers write these negative, internal systems often positive:
# both sides are compared as negative magnitudes. Charges and adjustments keep their own sign, so
# a charge reported negative is a visible amount mismatch, not silently matched.
OUTFLOW_CLASSES: Final = frozenset({"refund", "payout", "fee"})


def signed_amount(type_class: str, amount_minor: int) -> int:
    """The amount as the engine compares it: outflows negative, others as given."""
    return -abs(amount_minor) if type_class in OUTFLOW_CLASSES else amount_minor


EXTERNAL_SCHEMA: Final = pa.schema(
    [
        ("id", pa.string()),
        ("content_hash", pa.string()),
        ("provider_reference", pa.string()),
        ("reference_key", pa.string()),
        ("type_class", pa.string()),
        ("amount_minor", pa.int64()),
        ("signed_amount", pa.int64()),
        ("fee_minor", pa.int64()),
        ("currency", pa.string()),
        ("booked_on", pa.date32()),
        ("description", pa.string()),
        ("counterparty", pa.string()),
        ("group_key", pa.string()),
    ]
)

INTERNAL_SCHEMA: Final = pa.schema(
    [
        ("movement_id", pa.string()),
        ("provider_reference", pa.string()),
        ("reference_key", pa.string()),
        ("type_class", pa.string()),
        ("amount_minor", pa.int64()),
        ("signed_amount", pa.int64()),
        ("currency", pa.string()),
        ("occurred_on", pa.date32()),
        # False for movements loaded only as candidates from before the ledger window: they
        # may match, but are never reported missing by this run.
        ("in_window", pa.bool_()),
        # The movement's metadata as JSON text; rules read keys of it (``metadata.payout_id``).
        ("metadata_json", pa.string()),
    ]
)


_IDS = pa.list_(pa.field("l", pa.string()))  # DuckDB's name for a list's items
MATCH_SCHEMA: Final = pa.schema(
    [
        ("rule", pa.string()),
        ("kind", pa.string()),
        ("amount_delta", pa.int64()),
        ("days_delta", pa.int32()),
        ("similarity", pa.int32()),
        ("external_ids", _IDS),
        ("content_hashes", _IDS),
        ("movement_ids", _IDS),
        ("provider_reference", pa.string()),
        ("currency", pa.string()),
    ]
)
"""The engine's matches, one row per match (``MatchOutcome.matches``)."""


def _type_classes(types: pa.ChunkedArray | pa.Array, mapping: dict[str, str]) -> pa.Array:
    keys = pa.array(list(mapping))
    values = pa.array(list(mapping.values()))
    return pc.take(values, pc.index_in(types, value_set=keys))


def _signed(type_class: pa.Array, amount: pa.ChunkedArray | pa.Array) -> pa.Array:
    outflow = pc.is_in(type_class, value_set=pa.array(sorted(OUTFLOW_CLASSES)))
    return pc.if_else(outflow, pc.negate(pc.abs(amount)), amount)


def _column(raw: pa.Table, name: str, type_: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """``raw[name]`` when present, else nulls (older sources lack optional columns)."""
    if name in raw.column_names:
        return raw[name]
    return pa.nulls(raw.num_rows, type=type_)


def prepare_external(raw: pa.Table) -> pa.Table:
    """Engine input from raw external columns: id, content_hash, provider_reference,
    reference_key, type, amount_minor, currency, booked_at (UTC timestamp or null), and
    optionally fee_minor, description, counterparty, group_key."""
    type_class = _type_classes(raw["type"], EXTERNAL_TYPE_CLASS)
    table = pa.table(
        {
            "id": raw["id"],
            "content_hash": raw["content_hash"],
            "provider_reference": raw["provider_reference"],
            "reference_key": raw["reference_key"],
            "type_class": type_class,
            "amount_minor": raw["amount_minor"],
            "signed_amount": _signed(type_class, raw["amount_minor"]),
            "fee_minor": _column(raw, "fee_minor", pa.int64()),
            "currency": raw["currency"],
            "booked_on": pc.cast(raw["booked_at"], pa.date32()),
            "description": _column(raw, "description", pa.string()),
            "counterparty": _column(raw, "counterparty", pa.string()),
            "group_key": _column(raw, "group_key", pa.string()),
        }
    )
    return table.cast(EXTERNAL_SCHEMA)


def prepare_internal(raw: pa.Table) -> pa.Table:
    """Engine input from raw movement columns: movement_id, provider_reference, reference_key,
    type, amount_minor, currency, occurred_on (date), in_window (bool), metadata_json."""
    type_class = _type_classes(raw["type"], MOVEMENT_TYPE_CLASS)
    table = pa.table(
        {
            "movement_id": raw["movement_id"],
            "provider_reference": raw["provider_reference"],
            "reference_key": raw["reference_key"],
            "type_class": type_class,
            "amount_minor": raw["amount_minor"],
            "signed_amount": _signed(type_class, raw["amount_minor"]),
            "currency": raw["currency"],
            "occurred_on": raw["occurred_on"],
            "in_window": raw["in_window"],
            "metadata_json": _column(raw, "metadata_json", pa.string()),
        }
    )
    return table.cast(INTERNAL_SCHEMA)
