"""Cursor pagination for lists: ``{"data": [...], "next_cursor": ...}``.

Lists are ordered by id (ids are time-sortable); the cursor is the last id returned.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from zentra.kit.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    data: list[T]
    next_cursor: str | None = Field(default=None)


def clamp_limit(limit: int | None) -> int:
    """Validate a requested page size; default 50, at most 500."""
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def page_of(rows: list[Any], limit: int, cursor_of: Any) -> tuple[list[Any], str | None]:
    """Split ``limit + 1`` fetched rows into a page and the next cursor (None at the end)."""
    if len(rows) > limit:
        return rows[:limit], cursor_of(rows[limit - 1])
    return rows, None
