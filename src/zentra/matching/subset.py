"""Exact subset sums over small blocks, counting solutions so that only a unique one is used.

With realistic amounts, more than ~20 candidates admit many subsets with the same sum (see
notes on subset-sum matching), so callers bound the block size and accept a solution only when
it is the only one. Meet in the middle: each half's subset sums are enumerated (2**(n/2) each)
and paired, so 20 candidates cost about 2 * 1024 sums.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SubsetSearch:
    """How many non-empty subsets reach the target (counted up to 2), and the one if unique."""

    solutions: int
    members: tuple[int, ...] = ()


def _subset_sums(amounts: Sequence[int]) -> dict[int, list[int]]:
    """Every subset of ``amounts`` by its sum, as bit masks."""
    sums: dict[int, list[int]] = defaultdict(list)
    for mask in range(1 << len(amounts)):
        total = 0
        for bit, amount in enumerate(amounts):
            if mask >> bit & 1:
                total += amount
        sums[total].append(mask)
    return sums


def find_unique_subset(amounts: Sequence[int], target: int) -> SubsetSearch:
    """Search the non-empty subsets of ``amounts`` (integers, any sign) summing to ``target``.

    Returns the number of solutions, capped at 2 (``2`` means "two or more": ambiguous), and
    the member indexes (ascending) when there is exactly one.
    """
    half = len(amounts) // 2
    left, right = amounts[:half], amounts[half:]
    left_sums = _subset_sums(left)
    found: list[tuple[int, int]] = []
    for right_sum, right_masks in _subset_sums(right).items():
        for left_mask in left_sums.get(target - right_sum, ()):
            for right_mask in right_masks:
                if left_mask == 0 and right_mask == 0:
                    continue  # the empty subset never settles anything
                found.append((left_mask, right_mask))
                if len(found) > 1:
                    return SubsetSearch(2)
    if not found:
        return SubsetSearch(0)
    left_mask, right_mask = found[0]
    members = [i for i in range(half) if left_mask >> i & 1]
    members += [half + i for i in range(len(right)) if right_mask >> i & 1]
    return SubsetSearch(1, tuple(members))
