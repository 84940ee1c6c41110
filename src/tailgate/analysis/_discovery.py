"""Failing-slice discovery: conjunctions of up to three attribute values where items fail more.

Units are items (the unit of independence); each has an error e in [0, 1] (1 - its mean score,
or the share of its samples below the pass threshold for scores outside [0, 1]). A *slice* is a
conjunction of predicates on different attributes (``task=capitals AND lang=fr``).

Scoring follows SliceLine (Sagadeeva & Boehm, SIGMOD 2021):

    sc(S) = alpha * (mean error in S / mean error overall - 1) - (1 - alpha) * (n / |S| - 1)

which trades a slice's error against its size; only slices with at least ``min_support`` items
are considered. The paper's alpha is the ``weight`` argument here (``slice_weight`` in
:class:`tailgate.analysis.ReportOptions`): everywhere else in tailgate alpha is a test's level.
SliceLine's default alpha of 0.95 asks a slice of 10% of the items for an error 1.47 times the
average before its score turns positive; the gaps that matter in LLM evaluations are often
smaller (a category at 1.2x), so ``tailgate report`` uses alpha = 0.99 (1.09x for a 10% slice).
Whether a slice is *reported* is decided by its significance, not by its score.

Search. Slices are enumerated level by level (one predicate more per level) over *cells*, the
distinct combinations of attribute values, so the work depends on the number of distinct value
combinations, not on the number of records. Two prunings, both sound:

1. Support: a slice with fewer than ``min_support`` items has no child with more (sizes only
   shrink when predicates are added), so it is not expanded.
2. Score bound (for the top-k search): every descendant D of a candidate S (S with more
   predicates) has |D| <= |S| <= min over S's parents of their sizes, error sum se(D) <= min
   parent error sum, and max error <= min parent max error. SliceLine's upper bound

       ub = max over s in [min_support, size_ub] of
            alpha * (min(se_ub, s * max_ub) / s / mean_error - 1) - (1 - alpha) * (n / s - 1)

   therefore bounds sc(D) for all of them; the function of s is monotone on each side of the
   breakpoint s = se_ub / max_ub, so the maximum is at s = min_support, the breakpoint or
   size_ub, and evaluating those three points is exact. A candidate whose bound is below the
   current k-th best score cannot have any descendant in the top k and is dropped with them.

Redundancy. A slice with as many units as one of its parents is the same set of units (adding
a predicate can only remove units), so it is dropped with its descendants: ``lang=en AND
task=capitals`` is not reported next to ``task=capitals`` when every capitals item is in
English, and the same set is never tested twice.

Significance. Each slice is tested against its complement with the item as the unit: a
one-sided *exact permutation test* of the slice's error sum (Fisher 1935; Pitman 1937). Under
the null (attributes unrelated to the errors) the slice's items are a uniformly random subset of
its size, so the p-value is P(sum of a random subset of |S| item errors >= the observed sum),
computed exactly -- not by resampling, and with no normal approximation, which is what made the
earlier Welch t-test liberal in the far tail that BH uses for small slices of fractional errors.

* Errors all 0 or 1: the hypergeometric tail (Fisher's exact test).
* Errors on a lattice k/G (K repeats give G = K) with G <= ``MAX_LATTICE``: the distribution of
  the sum of a random j-subset, for every j up to the largest slice (or complement) needed, by a
  dynamic programme over the lattice levels. Adding the c items of one level, the number k taken
  from them by a random j-subset is hypergeometric, so P_new[j, t] = sum_k Hyp(k; N, c, j)
  P_old[j - k, t - level k]: every term is a probability, nothing overflows, and tails are sums of
  positive terms (exact to rounding). A slice larger than half the items is tested through its
  complement (lower tail of the complement's sum).
* Other errors (continuous scores, unequal sample counts): the statistic is the sum of the errors
  rounded to the lattice k/``MAX_LATTICE``; the permutation test of that statistic is exact all the
  same (a little power is lost, no validity).
* The programme costs about (levels x size^2 x G). A slice with more items on both sides than
  ``EXACT_BUDGET`` allows on lattice G (about 120 for G = 10, 230 for G = 3) is tested the same
  exact way on the errors coarsened to thirds (k/3), and past that to halves (error >= 0.5 counts
  as a failure): the hypergeometric tail, for any size. Coarser statistics lose a little power on
  the large slices, where there is the most of it; no p-value is an approximation.

P-values are adjusted over the *whole family* of slices with enough support up to the maximum
depth (Benjamini-Hochberg; Benjamini-Yekutieli, valid for the overlapping, dependent tests of
nested slices, is reported too).
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tailgate.analysis._slices import equal_mask
from tailgate.analysis._stats import adjust_bh, adjust_by

__all__ = [
    "Cells",
    "Predicate",
    "Slice",
    "build_cells",
    "enumerate_slices",
    "score_slices",
    "significance",
    "sliceline_topk",
]


@dataclass(frozen=True, order=True)
class Predicate:
    """``feature = value`` or, for ordered buckets, ``feature >= value``."""

    feature: str
    op: str
    value: str

    def __str__(self) -> str:
        if self.op == "=":
            return f"{self.feature}={self.value}"
        # ordered buckets are labelled "<100", "100-250", ..., ">=8000": show the lower edge
        lower = self.value.removeprefix(">=").split("-")[0]
        return f"{self.feature}>={lower}"


@dataclass
class Cells:
    """Units grouped by which predicates they satisfy."""

    predicates: list[Predicate]
    member: np.ndarray  # cells x predicates, bool
    count: np.ndarray  # units per cell
    err_sum: np.ndarray
    err_sq: np.ndarray
    err_max: np.ndarray
    n_units: int
    total_err: float
    binary: bool
    lattice: int = 1
    """G: the permutation test's statistic is the sum of round(G * error) (exact when errors are
    multiples of 1/G, see the module docstring)."""
    cell_levels: np.ndarray | None = None
    """Cells x (G + 1): a cell's units at each lattice level round(G * error)."""
    level_counts: np.ndarray | None = None
    """Units per lattice level 0..G."""


@dataclass
class Slice:
    """A slice with its statistics (sizes in units)."""

    predicates: tuple[int, ...]
    size: int
    err_sum: float
    err_sq: float
    err_max: float
    score: float = 0.0
    p_value: float = 1.0
    p_bh: float = 1.0
    p_by: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)


def build_cells(
    features: dict[str, np.ndarray],
    errors: np.ndarray,
    ordinal: dict[str, list[str]] | None = None,
) -> Cells:
    """Cells from per-unit feature labels (None = missing) and per-unit errors in [0, 1].

    ``ordinal`` maps a feature to its values in order; such a feature also gets ``>=`` predicates
    for each value but the first (e.g. ``input_tokens>=2000``).
    """
    ordinal = ordinal or {}
    predicates: list[Predicate] = []
    columns: list[np.ndarray] = []
    for name, labels in features.items():
        values = sorted({v for v in labels.tolist() if v is not None}, key=str)
        for value in values:
            predicates.append(Predicate(name, "=", str(value)))
            columns.append(equal_mask(labels, value))
        order = ordinal.get(name)
        if order:
            rank = {v: i for i, v in enumerate(order)}
            ranks = np.array([rank.get(v, -1) if v is not None else -1 for v in labels])
            for i, value in enumerate(order[1:], start=1):
                at_least = ranks >= i
                if at_least.any() and not (at_least == equal_mask(labels, value)).all():
                    predicates.append(Predicate(name, ">=", value))
                    columns.append(at_least)
    n = int(errors.size)
    member_units = np.column_stack(columns) if columns else np.zeros((n, 0), dtype=bool)
    packed = np.packbits(member_units, axis=1) if columns else np.zeros((n, 1), dtype=np.uint8)
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    cells = first.size
    e = np.asarray(errors, dtype=float)
    err_max = np.zeros(cells)
    np.maximum.at(err_max, inverse, e)
    lattice = _lattice(e)
    steps = np.floor(e * lattice + 0.5).astype(np.int64)
    cell_levels = np.zeros((cells, lattice + 1), dtype=np.int64)
    np.add.at(cell_levels, (inverse, steps), 1)
    return Cells(
        predicates=predicates,
        member=member_units[first],
        count=np.bincount(inverse, minlength=cells),
        err_sum=np.bincount(inverse, weights=e, minlength=cells),
        err_sq=np.bincount(inverse, weights=e * e, minlength=cells),
        err_max=err_max,
        n_units=n,
        total_err=float(e.sum()),
        binary=bool(np.isin(e, (0.0, 1.0)).all()),
        lattice=lattice,
        cell_levels=cell_levels,
        level_counts=np.bincount(steps, minlength=lattice + 1),
    )


MAX_LATTICE = 10
"""The finest lattice of the exact test; errors off every lattice k/G, G <= this, are rounded to it."""
EXACT_BUDGET = 1.5e8
"""Multiply-adds the exact permutation distribution may cost (about 0.2 s)."""


def _lattice(errors: np.ndarray) -> int:
    """The smallest G <= MAX_LATTICE with every error a multiple of 1/G, else MAX_LATTICE."""
    for g in range(1, MAX_LATTICE + 1):
        if np.allclose(errors * g, np.rint(errors * g), rtol=0.0, atol=1e-9):
            return g
    return MAX_LATTICE


def _stats(cells: Cells, preds: tuple[int, ...]) -> Slice:
    mask = cells.member[:, list(preds)].all(axis=1)
    size = int(cells.count[mask].sum())
    return Slice(
        predicates=preds,
        size=size,
        err_sum=float(cells.err_sum[mask].sum()),
        err_sq=float(cells.err_sq[mask].sum()),
        err_max=float(cells.err_max[mask].max()) if size else 0.0,
    )


def _score(cells: Cells, size: float, err_sum: float, weight: float) -> float:
    mean_err = cells.total_err / cells.n_units if cells.n_units else 0.0
    if size <= 0 or mean_err <= 0:
        return -math.inf
    return weight * ((err_sum / size) / mean_err - 1.0) - (1.0 - weight) * (cells.n_units / size - 1.0)


def _upper_bound(cells: Cells, size_ub: float, err_ub: float, max_ub: float, min_support: int, weight: float) -> float:
    if size_ub < min_support or err_ub <= 0:
        return -math.inf
    points = {float(min_support), float(size_ub)}
    if max_ub > 0:
        points.add(min(max(err_ub / max_ub, min_support), size_ub))
    return max(_score(cells, s, min(err_ub, s * max_ub), weight) for s in points)


def _features_of(cells: Cells, preds: tuple[int, ...]) -> set[str]:
    return {cells.predicates[p].feature for p in preds}


def _children(cells: Cells, level: dict[tuple[int, ...], Slice]) -> dict[tuple[int, ...], list[Slice]]:
    """Candidates one predicate deeper: unions of two slices sharing all but one predicate, on
    distinct features, whose every sub-slice one level up is present (apriori)."""
    out: dict[tuple[int, ...], list[Slice]] = {}
    keys = sorted(level)
    by_prefix: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
    for key in keys:
        by_prefix.setdefault(key[:-1], []).append(key)
    for group in by_prefix.values():
        for a, b in itertools.combinations(group, 2):
            if cells.predicates[a[-1]].feature == cells.predicates[b[-1]].feature:
                continue
            cand = tuple(sorted(set(a) | set(b)))
            if len(_features_of(cells, cand)) != len(cand):
                continue
            parents = [cand[:i] + cand[i + 1 :] for i in range(len(cand))]
            if all(p in level for p in parents):
                out[cand] = [level[p] for p in parents]
    return out


def _redundant(s: Slice, parents: list[Slice]) -> bool:
    """A slice with as many units as one of its parents *is* that parent (it is a subset of it):
    the extra predicate says nothing, so it is neither reported nor tested again, and neither are
    its descendants (they equal the parent's descendants)."""
    return any(p.size == s.size for p in parents)


def enumerate_slices(cells: Cells, max_depth: int, min_support: int, weight: float = 0.95) -> list[Slice]:
    """Every slice of depth <= ``max_depth`` with at least ``min_support`` units, scored."""
    level: dict[tuple[int, ...], Slice] = {}
    for p in range(len(cells.predicates)):
        s = _stats(cells, (p,))
        if s.size >= min_support:
            level[(p,)] = s
    found = list(level.values())
    for _ in range(max_depth - 1):
        nxt: dict[tuple[int, ...], Slice] = {}
        for cand, parents in _children(cells, level).items():
            s = _stats(cells, cand)
            if s.size >= min_support and not _redundant(s, parents):
                nxt[cand] = s
        found.extend(nxt.values())
        level = nxt
        if not level:
            break
    for s in found:
        s.score = _score(cells, s.size, s.err_sum, weight)
    return found


def sliceline_topk(
    cells: Cells, k: int, max_depth: int, min_support: int, weight: float = 0.95
) -> tuple[list[Slice], int]:
    """The ``k`` best-scoring slices with a positive score (SliceLine's search, with support and
    score-bound pruning; see the module docstring). Returns them and how many slices it
    evaluated."""
    top: list[tuple[float, tuple[int, ...], Slice]] = []

    def offer(s: Slice) -> None:
        if s.score <= 0:
            return
        item = (s.score, tuple(-p for p in s.predicates), s)
        if len(top) < k:
            heapq.heappush(top, item)
        elif item[:2] > top[0][:2]:
            heapq.heapreplace(top, item)

    def threshold() -> float:
        return top[0][0] if len(top) >= k else 0.0

    evaluated = 0
    level: dict[tuple[int, ...], Slice] = {}
    for p in range(len(cells.predicates)):
        s = _stats(cells, (p,))
        evaluated += 1
        if s.size >= min_support:
            s.score = _score(cells, s.size, s.err_sum, weight)
            offer(s)
            level[(p,)] = s
    for _ in range(max_depth - 1):
        nxt: dict[tuple[int, ...], Slice] = {}
        for cand, parents in _children(cells, level).items():
            size_ub = min(p.size for p in parents)
            err_ub = min(p.err_sum for p in parents)
            max_ub = min(p.err_max for p in parents)
            if _upper_bound(cells, size_ub, err_ub, max_ub, min_support, weight) < threshold():
                continue  # neither it nor any descendant can enter the top k
            s = _stats(cells, cand)
            evaluated += 1
            if s.size >= min_support and not _redundant(s, parents):
                s.score = _score(cells, s.size, s.err_sum, weight)
                offer(s)
                nxt[cand] = s
        level = nxt
        if not level:
            break
    ranked = [entry[2] for entry in sorted(top, key=lambda t: (-t[0], tuple(-x for x in t[1])))]
    return ranked, evaluated


def score_slices(slices: list[Slice], k: int) -> list[Slice]:
    """The ``k`` best by score (positive scores only); ties broken by predicate ids."""
    ranked = sorted((s for s in slices if s.score > 0), key=lambda s: (-s.score, s.predicates))
    return ranked[:k]


def significance(cells: Cells, slices: list[Slice]) -> None:
    """Fill each slice's one-sided p-value against its complement (the exact permutation test
    of the module docstring) and the BH and BY adjusted p-values over all of ``slices`` (the
    family)."""
    from tailgate.analysis._distributions import hypergeom_sf

    if not slices:
        return
    n = cells.n_units
    size = np.array([s.size for s in slices], dtype=np.int64)
    if cells.binary:
        fails_total = round(cells.total_err)
        se = np.array([s.err_sum for s in slices])
        p = hypergeom_sf(np.round(se) - 1, n, fails_total, size)
    else:
        p = _permutation_p(cells, slices, size)
    p = np.where((size > 0) & (size < n), p, 1.0)
    p = np.clip(np.nan_to_num(p, nan=1.0), 0.0, 1.0)
    bh = adjust_bh(p)
    by = adjust_by(p)
    for s, pv, b1, b2 in zip(slices, p, bh, by, strict=True):
        s.p_value, s.p_bh, s.p_by = float(pv), float(b1), float(b2)


def _permutation_p(cells: Cells, slices: list[Slice], size: np.ndarray) -> np.ndarray:
    """One-sided exact permutation p-values of the slices' lattice error sums: on the finest
    lattice whose exact distribution fits the budget for the slice's size (see the module
    docstring), ending at two levels (the hypergeometric tail, any size)."""
    from tailgate.analysis._distributions import hypergeom_sf

    if cells.cell_levels is None or cells.level_counts is None:
        raise ValueError("cells built without lattice levels (use build_cells)")
    n = cells.n_units
    g = cells.lattice
    levels_in = _levels_in(cells, slices)
    small = np.minimum(size, n - size)
    p = np.ones(size.size)
    todo = (size > 0) & (size < n)
    for coarse in sorted({g, min(g, 3), 1}, reverse=True):
        if not todo.any():
            break
        mapping = np.floor(np.arange(g + 1) * coarse / g + 0.5).astype(np.int64)
        counts = np.bincount(mapping, weights=cells.level_counts, minlength=coarse + 1).astype(np.int64)
        t = levels_in @ mapping
        if coarse == 1:
            p[todo] = hypergeom_sf(t[todo] - 1, n, int(counts[1]), size[todo])
            break
        budget = _exact_reach(counts, coarse, int(small[todo].max()))
        now = todo & (small <= budget)
        if now.any():
            p[now] = _exact_tails(counts, coarse, size[now], t[now], n)
            todo &= ~now
    return p


def _levels_in(cells: Cells, slices: list[Slice], chunk: int = 256) -> np.ndarray:
    """Slices x (G + 1): each slice's units per lattice level (in chunks: slices x cells is big)."""
    assert cells.cell_levels is not None
    levels = cells.cell_levels.astype(float)
    out = np.empty((len(slices), levels.shape[1]), dtype=np.int64)
    for start in range(0, len(slices), chunk):
        part = slices[start : start + chunk]
        mask = np.stack([cells.member[:, list(s.predicates)].all(axis=1) for s in part])
        out[start : start + len(part)] = np.rint(mask.astype(float) @ levels).astype(np.int64)
    return out


def _exact_tails(counts: np.ndarray, g: int, size: np.ndarray, t: np.ndarray, n: int) -> np.ndarray:
    """P(sum of a random subset of ``size`` units >= ``t``), each slice of size at most n / 2
    directly, a larger one through its complement (P(complement sum <= total - t))."""
    total = int((np.arange(g + 1) * counts).sum())
    small = np.minimum(size, n - size)
    reach = int(small.max())
    upper, lower = _subset_sum_tails(counts, g, reach)
    direct = size <= n - size
    out = np.empty(size.size)
    out[direct] = upper[size[direct], np.clip(t[direct], 0, upper.shape[1] - 1)]
    r, u = n - size[~direct], total - t[~direct]
    out[~direct] = np.where(u >= 0, lower[r, np.clip(u, 0, lower.shape[1] - 1)], 0.0)
    return out


def _exact_reach(counts: np.ndarray, g: int, needed: int) -> int:
    """The largest subset size up to ``needed`` whose exact distribution fits ``EXACT_BUDGET``."""
    levels = int((counts > 0).sum())
    reach = needed
    while reach > 0 and float(levels) * (reach + 1) ** 2 * (reach * g + 1) > EXACT_BUDGET:
        reach = int(reach * 0.9)
    return reach


def _subset_sum_tails(counts: np.ndarray, g: int, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """For a uniformly random j-subset (j <= ``reach``) of units with ``counts[v]`` units at
    lattice level v: P(sum >= t) and P(sum <= t), as (reach + 1) x (reach * g + 1) arrays.

    Adding level v's c units: P_new[j, t] = sum_k Hyp(k; pool, c, j) P_old[j - k, t - v k]. In
    coordinates sheared by v (u = t - v j) the shift along t disappears, so the step is one
    matrix product P_new = H @ P_old with H[j, i] = Hyp(j - i; pool, c, j), done by BLAS.
    """
    from scipy.special import gammaln

    width = reach * g + 1
    prob = np.zeros((reach + 1, width))
    prob[0, 0] = 1.0
    seen = 0
    j = np.arange(reach + 1)
    rows, cols = j[:, None], j[None, :]
    for level, c in enumerate(counts.tolist()):
        if c == 0:
            continue
        pool = seen + c
        k = rows - cols  # taken from this level
        ok = (k >= 0) & (k <= c) & (cols <= seen) & (rows <= pool)
        logw = (
            _log_choose(c, np.clip(k, 0, c), gammaln)
            + _log_choose(seen, np.minimum(cols, seen), gammaln)
            - _log_choose(pool, np.minimum(rows, pool), gammaln)
        )
        hyp = np.where(ok, np.exp(np.where(ok, logw, 0.0)), 0.0)
        prob = _unshear(hyp @ _shear(prob, level, reach), level, reach, width)
        seen = pool
    upper = np.cumsum(prob[:, ::-1], axis=1)[:, ::-1]
    lower = np.cumsum(prob, axis=1)
    return np.minimum(upper, 1.0), np.minimum(lower, 1.0)


def _shear(prob: np.ndarray, level: int, reach: int) -> np.ndarray:
    """out[j, u] = prob[j, u - level * (reach - j)] (zero outside): row j moved right by level * (reach - j)."""
    if level == 0:
        return prob
    rows, width = prob.shape
    out = np.zeros((rows, width + level * reach))
    for r in range(rows):
        start = level * (reach - r)
        out[r, start : start + width] = prob[r]
    return out


def _unshear(sheared: np.ndarray, level: int, reach: int, width: int) -> np.ndarray:
    if level == 0:
        return sheared
    out = np.empty((sheared.shape[0], width))
    for r in range(sheared.shape[0]):
        start = level * (reach - r)
        out[r] = sheared[r, start : start + width]
    return out


def _log_choose(n: Any, k: Any, gammaln: Any) -> Any:
    k = np.clip(k, 0, None)
    return gammaln(np.asarray(n, dtype=float) + 1) - gammaln(k + 1.0) - gammaln(np.maximum(n - k, 0) + 1.0)
