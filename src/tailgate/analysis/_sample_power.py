"""How many items a slice of a sampled suite needs to detect a drop, and which slices have too few.

The comparison a sampled suite is made for is ``tailgate compare`` of two models on it: a
paired t-test on item deltas (two-sided), whose power is that of the noncentral t
(:func:`~tailgate.analysis._compare_power.power_for`, the code ``compare`` prints its advice
with). Before any run there is no observed spread of item deltas, so a planning value ``sd`` is
used: 0.5 by default, the sd of the change of a pass/fail score between two models when a
quarter of the items change (for deltas in {-1, 0, 1} with discordant share q and mean d,
sd^2 = q - d^2); ``tailgate compare`` prints the observed one (``sd_item_delta``) for the next time.
For each slice: the items needed to detect ``drop`` with ``power`` at ``alpha``, and the smallest
drop its sampled items detect (the MDE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tailgate.analysis._compare_power import power_for

__all__ = ["DEFAULT_PLANNING_SD", "SamplePower", "SlicePower", "sample_power"]

DEFAULT_PLANNING_SD = 0.5


@dataclass(frozen=True)
class SlicePower:
    """One slice of the sample."""

    slice: str
    """``lang=de`` (one attribute value), ``lang=de, input_tokens=<100`` (a stratum), or ``all``."""
    items: int
    """Items the suite has in it."""
    mde: float | None
    """Smallest drop detected with ``power`` at these items (None: fewer than two items; above 1,
    as with 2-5 items at sd 0.5, no drop of a score in [0, 1] is detectable)."""
    powered: bool
    """``items`` reaches the items needed."""

    def as_dict(self) -> dict[str, Any]:
        return {"slice": self.slice, "items": self.items, "mde": self.mde, "powered": self.powered}


@dataclass(frozen=True)
class SamplePower:
    """The power advice of a sample (``tailgate sample --detect-drop``)."""

    drop: float
    sd: float
    alpha: float
    power: float
    items_needed: int
    """Per slice, to detect ``drop`` (the same for every slice: it depends on drop, sd, alpha, power)."""
    method: str
    slices: tuple[SlicePower, ...]
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "drop": self.drop,
            "sd": self.sd,
            "alpha": self.alpha,
            "power": self.power,
            "items_needed": self.items_needed,
            "method": self.method,
            "slices": [s.as_dict() for s in self.slices],
            "warnings": list(self.warnings),
        }


def sample_power(
    slices: Sequence[tuple[str, int]],
    drop: float,
    sd: float = DEFAULT_PLANNING_SD,
    alpha: float = 0.05,
    power: float = 0.8,
) -> SamplePower:
    """The items each slice needs to detect ``drop``, and the slices that have fewer.

    Args:
        slices: (label, items in the suite) per slice, in the order to report them.
        drop: the smallest drop of the mean score worth detecting (e.g. 0.05).
        sd: planning sd of an item's score change between the two models (see the module docstring).

    Example:
        >>> advice = sample_power([("all", 300), ("lang=de", 40)], drop=0.05)
        >>> advice.items_needed, [s.powered for s in advice.slices]
        (787, [False, False])
    """
    if not 0 < drop <= 1:
        raise ValueError(f"the drop to detect must be in (0, 1], got {drop}")
    if sd <= 0:
        raise ValueError(f"the planning sd must be positive, got {sd}")
    rows_needed = power_for(sd, 2, alpha, power, target=drop).items_needed
    assert rows_needed is not None  # given a target, power_for says the items needed
    needed = rows_needed[0].items_needed
    rows = []
    for label, n in slices:
        mde = power_for(sd, n, alpha, power).mde if n > 1 else None
        rows.append(SlicePower(label, n, mde, n >= needed))
    short = [r for r in rows if not r.powered]
    warnings = []
    if short:
        shown = "; ".join(f"{r.slice} ({r.items} items, detects {_mde(r.mde)})" for r in short[:8])
        more = f"; and {len(short) - 8} more" if len(short) > 8 else ""
        warnings.append(
            f"{len(short)} of {len(rows)} slices cannot detect a drop of {drop:g} with {power:.0%} power "
            f"(each needs {needed} items at sd {sd:g}): {shown}{more}"
        )
    method = f"paired t-test, two-sided alpha {alpha:g}, noncentral t; planning sd {sd:g}"
    return SamplePower(drop, sd, alpha, power, needed, method, tuple(rows), tuple(warnings))


def _mde(mde: float | None) -> str:
    if mde is None:
        return "nothing: fewer than 2 items"
    # a score in [0, 1] cannot drop by more than 1: past that nothing is detectable
    return f"drops of {mde:.3f} or more" if mde <= 1 else f"no drop of a score in [0, 1] (MDE {mde:.2f})"
