"""Rule field names as SQL expressions over the engine's two tables.

Field names are validated by the rule models (``FIELD_PATTERN``), so the expressions built here
only ever contain known column names and ``[A-Za-z0-9_]`` metadata keys.
"""

from __future__ import annotations

from typing import Literal

Side = Literal["external", "internal"]

_EXTERNAL_COLUMNS = {
    "provider_reference": "provider_reference",
    "description": "description",
    "counterparty": "counterparty",
    "group_key": "group_key",
}
# Movements keep these in their metadata.
_INTERNAL_METADATA_ALIASES = {
    "description": "description",
    "counterparty": "counterparty",
    "group_key": "payout_id",
}


def field_sql(side: Side, field: str, alias: str) -> str:
    """The SQL expression of ``field`` on ``side``, for a table aliased ``alias``.

    Raises ``ValueError`` for a field the side does not have (a metadata key on the provider
    side, whose rows have no metadata).
    """
    if side == "external":
        if field in _EXTERNAL_COLUMNS:
            return f"{alias}.{_EXTERNAL_COLUMNS[field]}"
        raise ValueError(f"provider rows have no field {field!r}")
    if field == "provider_reference":
        return f"{alias}.provider_reference"
    key = field.removeprefix("metadata.") if field.startswith("metadata.") else None
    key = key or _INTERNAL_METADATA_ALIASES.get(field)
    if key is None:
        raise ValueError(f"movements have no field {field!r}")
    return f"json_extract_string({alias}.metadata_json, '$.{key}')"


def key_sql(expression: str) -> str:
    """A comparable key: upper-cased with all whitespace removed, '' when missing."""
    return f"upper(regexp_replace(coalesce({expression}, ''), '\\s', '', 'g'))"
