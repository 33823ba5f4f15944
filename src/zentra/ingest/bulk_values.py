"""Column-at-a-time versions of per-row helpers, for a million rows at once.

Each function returns exactly what calling its per-row counterpart on every row would return
(:func:`zentra.kit.ids.new_id`, :func:`zentra.kit.references.reference_key`); tests hold them
equal.
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ulid import ULID

from zentra.kit.ids import Prefix, new_id
from zentra.kit.references import reference_key

_CROCKFORD = np.frombuffer(b"0123456789ABCDEFGHJKMNPQRSTVWXYZ", dtype=np.uint8)
_MASK64 = (1 << 64) - 1
_WHITESPACE_CLASS = (
    "[\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)


def new_ids(prefix: Prefix, count: int) -> pa.Array:
    """``count`` new ids of ``prefix``, strictly increasing, as :func:`new_id` makes them.

    The first is a real :func:`new_id`; the others continue its monotonic ULID sequence (same
    millisecond, random part + 1 each). Before returning, this waits for the clock to pass that
    millisecond (at most one), so the next :func:`new_id` sorts after all of them.
    """
    if count == 0:
        return pa.array([], pa.string())
    first = new_id(prefix)
    base = ULID.from_str(first.split("_", 1)[1])
    value = int(base)
    high, low = value >> 64, value & _MASK64
    if low + count - 1 > _MASK64:  # pragma: no cover - a carry into the high word: 1 in 2**44
        values = [first] + [f"{prefix}_{ULID.from_int(value + i)}" for i in range(1, count)]
        return pa.array(values, pa.string())
    lows = np.uint64(low) + np.arange(count, dtype=np.uint64)
    width = len(prefix) + 1 + 26
    out = np.empty((count, width), dtype=np.uint8)
    out[:, : len(prefix) + 1] = np.frombuffer(f"{prefix}_".encode(), dtype=np.uint8)
    for index in range(26):
        shift = 5 * (25 - index)
        if shift >= 64:
            digit = np.full(count, (high >> (shift - 64)) & 31, dtype=np.uint64)
        elif shift + 5 <= 64:
            digit = (lows >> np.uint64(shift)) & np.uint64(31)
        else:
            carry = np.uint64((high << (64 - shift)) & 31)
            digit = ((lows >> np.uint64(shift)) | carry) & np.uint64(31)
        out[:, len(prefix) + 1 + index] = _CROCKFORD[digit]
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    ids = pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(out.tobytes()))
    while time.time_ns() // 1_000_000 <= base.milliseconds:
        time.sleep(0.0002)
    return ids


def reference_keys(references: pa.Array | pa.ChunkedArray) -> pa.Array:
    """:func:`reference_key` of every reference: whitespace removed, upper-cased.

    ASCII references are keyed by Arrow; any other goes through :func:`reference_key` itself,
    since Python's ``str.upper`` changes some non-ASCII lengths (``"ß"`` -> ``"SS"``).
    """
    if isinstance(references, pa.ChunkedArray):
        references = references.combine_chunks()
    keys = pc.ascii_upper(pc.replace_substring_regex(references, _WHITESPACE_CLASS, ""))
    ascii_rows = pc.string_is_ascii(references)
    if pc.all(ascii_rows).as_py() is not False:
        return keys
    other = pc.invert(ascii_rows)
    indices = pc.indices_nonzero(other).to_pylist()
    fixed = [reference_key(text) for text in references.filter(other).to_pylist()]
    values = keys.to_pylist()
    for index, key in zip(indices, fixed, strict=True):
        values[index] = key
    return pa.array(values, pa.string())
