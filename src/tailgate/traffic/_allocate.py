"""How many items each stratum gets: proportional to its traffic, with floors.

A stratum ``h`` has ``requests`` N_h (its share of the traffic mix) and ``inputs`` M_h (distinct
inputs, the most it can give). Its floor is ``min(M_h, max(min_per_slice, oversampled share))``.
The allocation is the water-filling ``n_h = clip(lam * N_h, floor_h, M_h)`` with the ``lam``
at which the n_h add up to ``n``, rounded by largest remainder (never below a floor nor above
M_h): strata above their floors keep their traffic proportions, small strata get their floor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tailgate.errors import UsageError

__all__ = ["Stratum", "allocate", "spread_floor"]


@dataclass(frozen=True)
class Stratum:
    """One stratum of the window: its attribute values, requests and distinct inputs."""

    values: tuple[str, ...]
    requests: int
    inputs: int


def _filled(strata: Sequence[Stratum], floors: Sequence[int], lam: float) -> list[float]:
    return [min(float(s.inputs), max(float(f), lam * s.requests)) for s, f in zip(strata, floors, strict=True)]


def spread_floor(strata: Sequence[Stratum], total: int) -> list[int]:
    """``total`` items spread over ``strata`` in proportion to their requests, each capped at its
    inputs (the floors an ``--oversample SLICE=N`` puts on the strata of SLICE)."""
    zero = [0] * len(strata)
    return _round(strata, zero, min(total, sum(s.inputs for s in strata)))


def _round(strata: Sequence[Stratum], floors: Sequence[int], n: int) -> list[int]:
    """Integer n_h adding up to ``n`` (``n`` at most the inputs, at least the floors)."""
    lo, hi = 0.0, 1.0
    while sum(_filled(strata, floors, hi)) < n and hi < 1e18:
        hi *= 2
    for _ in range(200):  # bisection on lam: the fill grows with lam
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(_filled(strata, floors, mid)) < n else (lo, mid)
    exact = _filled(strata, floors, hi)
    counts = [max(f, min(s.inputs, math.floor(x))) for s, f, x in zip(strata, floors, exact, strict=True)]
    # largest remainder, then the largest strata, for what rounding down left over (or took too much)
    order = sorted(range(len(strata)), key=lambda i: (-(exact[i] - math.floor(exact[i])), -strata[i].requests, i))
    short = n - sum(counts)
    while short > 0:
        grew = False
        for i in order:
            if short and counts[i] < strata[i].inputs:
                counts[i] += 1
                short -= 1
                grew = True
        if not grew:
            break
    for i in reversed(order):
        while short < 0 and counts[i] > floors[i]:
            counts[i] -= 1
            short += 1
    return counts


def allocate(
    strata: Sequence[Stratum],
    n: int,
    min_per_slice: int = 0,
    extra_floors: Mapping[int, int] | None = None,
) -> list[int]:
    """Items per stratum (see the module docstring).

    Args:
        strata: the window's strata.
        n: items wanted in all.
        min_per_slice: each stratum gets at least this many (or all its inputs, if fewer).
        extra_floors: stratum index -> a larger floor (from oversampling).

    Raises:
        UsageError: ``n`` is smaller than the floors add up to (naming both).

    Example:
        >>> allocate([Stratum(("en",), 900, 900), Stratum(("de",), 100, 100)], 100, min_per_slice=20)
        [80, 20]
    """
    floors = [min(s.inputs, max(min_per_slice, (extra_floors or {}).get(i, 0))) for i, s in enumerate(strata)]
    needed = sum(floors)
    if needed > n:
        over = sum(max(0, f - min(s.inputs, min_per_slice)) for s, f in zip(strata, floors, strict=True))
        detail = f"{len(strata)} slices with at least {min_per_slice} each" if min_per_slice else "the slices"
        extra = f" and --oversample {over} more, {needed} in all" if over else ""
        raise UsageError(
            f"--n {n} is smaller than the per-slice minimums: {detail} need {needed - over} items{extra}; "
            f"raise --n to at least {needed}, or lower --min-per-slice / --oversample, or stratify on fewer columns"
        )
    available = sum(s.inputs for s in strata)
    return _round(strata, floors, min(n, available))
