"""Prefixed, sortable identifiers: ``run_01JD...``.

The suffix is a ULID (48 bits of millisecond time, 80 random bits, Crockford base32). Ids made
in one process are strictly increasing: within one millisecond the random part is incremented
(monotonic ULIDs), so ordering by id is ordering by creation.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Literal

from ulid import ULID

Prefix = Literal[
    "ten",
    "key",
    "run",
    "evt",
    "exc",
    "exa",
    "set",
    "ext",
    "mov",
    "mat",
    "aud",
    "job",
    "clo",
    "idk",
    "sig",
    "req",
    "rls",
    "prv",
    "cb",
    "sec",
    "acc",
    "ent",
    "itn",
    "fsc",
    "sbx",
]

_lock = threading.Lock()
_last_ms = 0
_last_random = 0
_RANDOM_MAX = (1 << 80) - 1


def _next_ulid() -> ULID:
    global _last_ms, _last_random
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms and _last_random < _RANDOM_MAX:
            now_ms = _last_ms
            _last_random += 1
        else:
            _last_ms = now_ms
            _last_random = int.from_bytes(os.urandom(10), "big") >> 1  # room to increment
        value = (now_ms << 80) | _last_random
    return ULID.from_int(value)


def new_id(prefix: Prefix) -> str:
    """Return a new id such as ``run_01JD3Q4X...``."""
    return f"{prefix}_{_next_ulid()}"
