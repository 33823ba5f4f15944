"""A Merkle tree over canonical JSON leaves (RFC 6962 hashing).

Leaves are hashed with a 0x00 prefix and inner nodes with 0x01, so a leaf can never pass for a
node; an odd node at the end of a level is promoted unchanged, as in RFC 6962.
"""

from __future__ import annotations

import hashlib
from typing import Any

from zentra.kit.canonical import canonical_json

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def leaf_hash(leaf: Any) -> bytes:
    """Hash of one leaf: sha256(0x00 || canonical JSON)."""
    return hashlib.sha256(b"\x00" + canonical_json(leaf)).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: list[Any]) -> str:
    """Hex root over ``leaves`` in the given order (the caller fixes a canonical order)."""
    level = [leaf_hash(leaf) for leaf in leaves]
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [_node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0].hex()
