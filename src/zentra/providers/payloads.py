"""Reading callback bodies as JSON without ever making a float.

A JSON number with a fraction or an exponent (``11.30``, ``1e3``) is kept as a
:class:`FloatLiteral`, its exact text, so a signature over it can be checked and an amount
written that way is refused rather than rounded. ``NaN`` and ``Infinity`` are not JSON.
"""

from __future__ import annotations

import json
from typing import Any


class FloatLiteral(str):
    """A JSON number with a fraction or exponent, kept as the text the sender wrote."""

    __slots__ = ()


class NotJson(ValueError):
    """The body is not UTF-8 JSON (or nests deeper than Python can read)."""


def _refuse_constant(name: str) -> Any:
    raise NotJson(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body`` with numbers as ``int`` or :class:`FloatLiteral`.

    Raises :class:`NotJson` for anything that is not UTF-8 JSON.
    """
    try:
        text = body.decode("utf-8")
        return json.loads(text, parse_float=FloatLiteral, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, digits
        raise NotJson(str(exc)) from exc
