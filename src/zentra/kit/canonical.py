"""Canonical JSON (RFC 8785, JCS) and the hashes built on it.

Canonical bytes are what Zentra hashes and signs: the same value always gives the same bytes,
whatever the key order or whitespace of the document it came from.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` to RFC 8785 canonical JSON bytes.

    Raises ``rfc8785.CanonicalizationError`` for values JCS cannot represent exactly (floats that
    are not finite, integers beyond 2**53 - 1): money is integers well within that range.
    """
    return rfc8785.dumps(value)


def sha256_hex(data: bytes) -> str:
    """Lower-case hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def canonical_hash(value: Any) -> str:
    """sha256 hex of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))
