"""Slice deltas: the paired delta on every slice big enough to test, adjusted for multiplicity.

Every value of every attribute (declared and derived) and every conjunction of two, with at least
``min_items`` shared items, gets a paired delta with a t interval (a slice with exactly the items
of an earlier one is the same test under another name and is left out); so does every variant,
on its units, when the runs have several.

The p-value is not the t-test's: it is the paired sign-flip (permutation) test of the sum of the
slice's item deltas (:mod:`._signflip`), exact on the lattice that 0/1 and fractional scores
put the deltas on, with the item as the unit. The one-sample t-test it replaces was liberal in
the far tail on slices of 10-20 items (BH's error 0.095 under the null in bench/calibration.py):
with item deltas of nearly equal size, all the signs of a small slice agree with probability
2^(1 - m), and t is then near infinity. The interval stays the t interval (the two can disagree
at the margin). p-values are adjusted over all slices with Benjamini-Hochberg and, because slices
overlap (the same item is in many), with Benjamini-Yekutieli, which holds under any dependence.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np

from tailgate.analysis._compare_pairing import Paired
from tailgate.analysis._compare_results import CompareOptions, OverallChange, SliceDelta
from tailgate.analysis._compare_tests import format_p
from tailgate.analysis._data import RunData
from tailgate.analysis._estimate import Estimate, _t_quantile
from tailgate.analysis._signflip import SignFlip, sign_flip_test
from tailgate.analysis._slices import equal_mask, item_features, value_masks
from tailgate.analysis._stats import adjust_bh, adjust_by

__all__ = ["aligned_features", "slice_deltas", "slice_warnings"]

_Values = tuple[np.ndarray, np.ndarray, np.ndarray]
"""A slice's item deltas, base values and candidate values."""


def aligned_features(data: RunData, item_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Each attribute's labels for ``item_ids``, in their order."""
    index = data.items.index_of(item_ids.tolist())
    return {name: labels[index] for name, labels in item_features(data).items()}


def slice_deltas(
    features: dict[str, np.ndarray],
    paired: Paired,
    mean_b: np.ndarray,
    mean_c: np.ndarray,
    options: CompareOptions,
) -> tuple[SliceDelta, ...]:
    """Every slice's paired delta (t interval) with its sign-flip p-value and the BH and BY
    adjusted p-values, largest drop first."""
    tested: list[tuple[str, str, float, float, Estimate, SignFlip]] = []
    for kind, label, (dd, bb, cc) in _slices(features, paired, mean_b, mean_c, options):
        n = int(dd.size)
        mean = float(dd.mean())
        sd = float(dd.std(ddof=1)) if n > 1 else 0.0
        se = sd / math.sqrt(n) if n > 1 else 0.0
        t = _t_quantile(options.confidence, max(n - 1, 1))
        method = f"paired mean difference, t({n - 1}) interval"
        delta = Estimate(mean, mean - t * se, mean + t * se, n, n, method, se, options.confidence)
        tested.append((label, kind, float(bb.mean()), float(cc.mean()), delta, sign_flip_test(dd, seed=options.seed)))
    if not tested:
        return ()
    pvals = np.array([row[5].p_value for row in tested])
    bh, by = adjust_bh(pvals), adjust_by(pvals)
    rows = [
        SliceDelta(label, kind, delta.n_items, b, c, delta, test.p_value, float(a_bh), float(a_by), test.method)
        for (label, kind, b, c, delta, test), a_bh, a_by in zip(tested, bh, by, strict=True)
    ]
    rows.sort(key=lambda r: (r.delta.value, r.p_value))
    return tuple(rows)


def _slices(
    features: dict[str, np.ndarray],
    paired: Paired,
    mean_b: np.ndarray,
    mean_c: np.ndarray,
    options: CompareOptions,
) -> Iterator[tuple[str, str, _Values]]:
    """(kind, name, values) of every slice to test, in a fixed order, without duplicates."""
    d = mean_c - mean_b
    seen: set[bytes] = set()
    for kind, label, mask in _attribute_slices(features, options):
        # the same items under another name (task=json AND x, answer_type=object AND x): one test
        key = np.packbits(mask).tobytes()
        if key in seen:
            continue
        seen.add(key)
        yield kind, label, (d[mask], mean_b[mask], mean_c[mask])
    variants = paired.b["variant"]
    names = sorted(set(variants.tolist()), key=str)
    for value in names:
        unit_mask = equal_mask(variants, value)
        if len(names) > 1 and np.unique(paired.inverse[unit_mask]).size >= options.min_items:
            yield "variant", f"variant={value}", _variant_delta(paired, unit_mask)


def _attribute_slices(features: dict[str, np.ndarray], options: CompareOptions) -> list[tuple[str, str, np.ndarray]]:
    """(kind, name, item mask) of every attribute value and conjunction of two with enough items."""
    singles = []
    for name, labels in features.items():
        for value, mask in value_masks(labels):
            if mask.sum() >= options.min_items:
                singles.append((name, str(value), mask))
    out = [("declared" if not n.startswith("auto:") else "derived", f"{n}={v}", m) for n, v, m in singles]
    if options.max_depth >= 2:
        for (n1, v1, m1), (n2, v2, m2) in itertools.combinations(singles, 2):
            if n1 == n2:
                continue
            mask = m1 & m2
            if options.min_items <= mask.sum() < min(m1.sum(), m2.sum()):
                out.append(("conjunction", f"{n1}={v1} AND {n2}={v2}", mask))
    return out


def _variant_delta(paired: Paired, unit_mask: np.ndarray) -> _Values:
    """A variant's unit deltas: pairs of units of that variant."""
    b = paired.b["s"][unit_mask] / paired.b["n"][unit_mask]
    c = paired.c["s"][unit_mask] / paired.c["n"][unit_mask]
    return c - b, b, c


def slice_warnings(overall: OverallChange, slices: tuple[SliceDelta, ...], options: CompareOptions) -> list[str]:
    """A warning when the mean went up while slices went down significantly (BY at ``fdr``)."""
    out = []
    delta = overall.estimate.value or 0.0
    down = [s for s in slices if s.delta.value is not None and s.delta.value < 0 and s.p_by <= options.fdr]
    if delta > 0 and down:
        worst = down[0]
        low, high = worst.delta.low or 0.0, worst.delta.high or 0.0
        out.append(
            f"the mean went up ({delta:+.3f}) while {len(down)} slice(s) went down significantly; worst: "
            f"{worst.slice} {worst.delta.value:+.3f} [{low:+.3f}, {high:+.3f}], "
            f"n={worst.n_items} items, adjusted p={format_p(worst.p_by)}"
        )
    return out
