"""Quality under drift: the score an eval run promises, re-weighted to a traffic window's mix.

Post-stratification (docs/drift.md, "Quality under drift"). The unit is the item: item i's score
y_i is its mean over its scored samples (repeats, variants). Items and requests fall in cells, the
conjunction of the attributes ``by``. With n_h eval items in cell h (mean ybar_h, variance of
item scores s_h^2) and m_h of the window's M covered requests (share w_h = m_h / M), the
estimate over covered traffic is

    theta = sum_h w_h ybar_h

and its variance, the eval's and the window's sampling together (they are independent),

    V = sum_h w_h^2 s_h^2 / n_h  +  sum_h w_h (ybar_h - theta)^2 / M.

The first term is the variance of the cell means at fixed shares; the second is the delta method
for multinomial shares, Var(sum_h w_h mu_h) = (sum_h W_h mu_h^2 - (sum_h W_h mu_h)^2) / M,
evaluated at the estimates. w and ybar are independent, so the exact variance of w . ybar adds
tr(Cov(w) Cov(ybar)) to the true-value version of these two terms; evaluating the second term at
ybar instead of mu adds the same amount in expectation, so V needs no third term. Scores in
[0, 1] get a Wilson interval on the effective sample size theta (1 - theta) / V (Kish), which
stays inside [0, 1] and keeps its coverage near 0 and 1; other scores a normal interval.
bench/quality_drift_calibration.py checks the coverage by simulation.

Cells with fewer than ``min_items`` eval items are pooled with their small siblings (the cells
that share all but the last attributes of ``by``), coarsening from the last attribute towards
the first, never across values of the first. A cell still small, or whose items all score the
same (s_h^2 = 0 says nothing then), takes the largest variance a score in [lo, hi] can have
around its mean shrunk by one pseudo-item at the middle: (p - lo)(hi - p), p = (n_h ybar_h +
(lo + hi) / 2) / (n_h + 1). Cells of the window with no eval item at all are *unknown*: they are
named with their share, the estimate covers the rest of the traffic, and the worst and best
cases give them the lowest and highest score (0 and 1), never a guess.

The change from the suite's score decomposes exactly: with e_h = n_h / n the eval's own mix and
ybar = sum_h e_h ybar_h the mean item score, theta - ybar = sum_h (w_h - e_h)(ybar_h - ybar),
each cell's share change times its score difference. The suite score as the report prints it
weighs items by their scored samples; ``other`` is what that differs from ybar (0 with equal
repeats).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tailgate.analysis._data import AUTO, RunData
from tailgate.analysis._estimate import Estimate, _z_quantile, wilson_interval
from tailgate.analysis._stats import estimate_from_sums

__all__ = [
    "DEFAULT_MIN_ITEMS",
    "CellQuality",
    "QualityUnderDrift",
    "UnknownCell",
    "item_request_attributes",
    "post_stratify",
    "quality_under_drift",
]

DEFAULT_MIN_ITEMS = 5
MISSING = "(none)"
"""The label of a missing attribute value (a declared attribute an item lacks, a user column a
request lacks): a cell of its own, as any other value."""

_Key = tuple[str | None, ...]  # a cell: one value per attribute of `by`; None where pooled


@dataclass(frozen=True)
class CellQuality:
    """One cell of the post-stratification (a conjunction of attribute values, or a pool of them).

    Attributes:
        label: ``lang=de, input_tokens=<100``; a pooled attribute reads ``input_tokens in {a, b}``.
        members: the labels of the cells pooled into this one (empty when it is not a pool).
        n_items: eval items in the cell (with at least one scored sample).
        score: the report's score of the cell's items (its slice estimate: n, interval).
        mean: the mean of the cell's item scores, the value the reweighting uses (equal to
            ``score.value`` when every item has the same number of scored samples).
        variance: how the item variance was obtained: ``estimated``, or ``bounded (...)`` with why.
        eval_share: the cell's share of the eval's items.
        window_count: the window's requests in the cell.
        window_share: their share of the window's covered requests (the reweighting's weight).
        contribution: (window_share - eval_share) x (mean - the eval's mean item score); the
            contributions add up to the change from the suite's score (but ``other``).
    """

    label: str
    members: tuple[str, ...]
    n_items: int
    score: Estimate
    mean: float
    variance: str
    eval_share: float
    window_count: int
    window_share: float
    contribution: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "members": list(self.members),
            "n_items": self.n_items,
            "score": self.score.as_dict(),
            "mean": self.mean,
            "variance": self.variance,
            "eval_share": self.eval_share,
            "window_count": self.window_count,
            "window_share": self.window_share,
            "contribution": self.contribution,
        }


@dataclass(frozen=True)
class UnknownCell:
    """A cell of the window that no eval item covers.

    Attributes:
        label: ``lang=zh, input_tokens=<100``.
        window_count: the window's requests in it.
        window_share: their share of the whole window, with a Wilson interval.
    """

    label: str
    window_count: int
    window_share: Estimate

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "window_count": self.window_count, "window_share": self.window_share.as_dict()}


@dataclass(frozen=True)
class QualityUnderDrift:
    """The suite's score re-weighted to a traffic window's mix over the attributes ``by``.

    Attributes:
        by: the attributes whose conjunction makes the cells.
        sources: for each attribute, where the eval items' values came from.
        suite: the suite's score, as the report gives it.
        reweighted: the score on the window's mix of covered cells, with a confidence interval
            that includes the eval's and the window's sampling uncertainty (None without coverage).
        delta: reweighted minus suite, with its interval (the eval's mix held fixed).
        covered_share: the share of the window's requests in cells the eval covers (Wilson).
        worst: the score over the whole window if the unknown cells scored the lowest score
            (None when every request is covered).
        best: the same with the highest score.
        cells: the cells, largest absolute contribution to ``delta`` first.
        unknown: the window's cells without eval items, most requests first.
        other: the part of ``delta`` that is not a cell's contribution: the suite score weighs
            items by their scored samples, the reweighting by item (0 with equal repeats).
        n_items: scored eval items.
        n_window: the window's requests.
        min_items: cells with fewer eval items were pooled (or have a bounded variance).
        score_range: the lowest and highest score an item can have, used for ``worst``/``best``
            and the variance bounds.
        warnings: what the reader must know: unknown cells, pooled and bounded cells.
        method: how the interval was computed.
        run_id: the eval run ("" when the results were given as arrays).
        window: which requests the window holds, as its reader describes it ("" when not known).
    """

    by: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]
    suite: Estimate
    reweighted: Estimate
    delta: Estimate
    covered_share: Estimate
    worst: Estimate | None
    best: Estimate | None
    cells: tuple[CellQuality, ...]
    unknown: tuple[UnknownCell, ...]
    other: float
    n_items: int
    n_window: int
    min_items: int
    score_range: tuple[float, float]
    warnings: tuple[str, ...]
    method: str
    run_id: str = ""
    window: str = ""

    def drivers(self, share: float = 0.5, most: int = 3) -> tuple[CellQuality, ...]:
        """The cells that explain the change: largest contributions in the direction of
        ``delta`` first, until they make up ``share`` of it (at most ``most``)."""
        total = sum(c.contribution for c in self.cells)
        sign = 1.0 if total >= 0 else -1.0
        picked: list[CellQuality] = []
        running = 0.0
        for cell in sorted(self.cells, key=lambda c: -sign * c.contribution):
            if sign * cell.contribution <= 0 or len(picked) >= most:
                break
            picked.append(cell)
            running += cell.contribution
            if abs(running) >= share * abs(total):
                break
        return tuple(picked)

    def explanation(self) -> str:
        """The result as one plain-text paragraph (attribute values are the data's: a renderer
        escapes them), e.g. "the suite says 0.810 [...]; on this traffic mix that is 0.740
        [0.690, 0.790]; the change comes from lang=de rising from 4% to 19% (score 0.400)"."""
        parts = [f"the suite says {self.suite:.3f}"]
        if self.reweighted.value is None:
            parts.append("no request of the window falls in a cell the eval covers")
        else:
            where = "on this traffic mix" if not self.unknown else "on this traffic mix (the covered part)"
            parts.append(f"{where} that is {self.reweighted:.3f}")
            drivers = self.drivers()
            if drivers and self.delta.value is not None and abs(self.delta.value) >= 0.0005:
                said = [
                    f"{c.label} {'rising' if c.window_share > c.eval_share else 'falling'} from "
                    f"{_pct(c.eval_share)} to {_pct(c.window_share)} (score {c.mean:.3f})"
                    for c in drivers
                ]
                parts.append("the change comes from " + " and ".join(said))
        if self.unknown and self.worst is not None and self.best is not None and self.worst.low is not None:
            names = ", ".join(f"{u.label} {_pct(u.window_share.value or 0.0)}" for u in self.unknown[:3])
            more = f" and {len(self.unknown) - 3} more" if len(self.unknown) > 3 else ""
            uncovered = 1.0 - (self.covered_share.value or 0.0)
            parts.append(
                f"{_pct(uncovered)} of the window has no eval coverage ({names}{more}): over all of it the "
                f"score lies between {self.worst.low:.3f} and {self.best.high:.3f}"
            )
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "window": self.window,
            "by": list(self.by),
            "sources": dict(self.sources),
            "suite": self.suite.as_dict(),
            "reweighted": self.reweighted.as_dict(),
            "delta": self.delta.as_dict(),
            "covered_share": self.covered_share.as_dict(),
            "worst": self.worst.as_dict() if self.worst is not None else None,
            "best": self.best.as_dict() if self.best is not None else None,
            "cells": [c.as_dict() for c in self.cells],
            "unknown": [u.as_dict() for u in self.unknown],
            "other": self.other,
            "n_items": self.n_items,
            "n_window": self.n_window,
            "min_items": self.min_items,
            "score_range": list(self.score_range),
            "warnings": list(self.warnings),
            "method": self.method,
        }


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if x >= 0.095 or x == 0 else f"{100 * x:.1f}%"


def _labels(values: Sequence[Any] | np.ndarray) -> list[str]:
    """Values as cell labels, the same way for items and requests: booleans as ``true``/``false``
    (as stored declared attributes read), None and NaN as :data:`MISSING`, integers without ``.0``."""
    out = []
    for v in np.asarray(values, dtype=object).tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(MISSING)
        elif isinstance(v, bool | np.bool_):
            out.append("true" if v else "false")
        elif isinstance(v, float) and v.is_integer():
            out.append(str(int(v)))
        else:
            out.append(str(v))
    return out


def _keys(attributes: Mapping[str, Sequence[Any] | np.ndarray], by: Sequence[str], what: str) -> list[_Key]:
    missing = [name for name in by if name not in attributes]
    if missing:
        raise ValueError(f"{what} have no attribute {', '.join(missing)} (known: {', '.join(sorted(attributes))})")
    columns = [_labels(attributes[name]) for name in by]
    sizes = {len(c) for c in columns}
    if len(sizes) > 1:
        raise ValueError(f"{what}: the attribute arrays differ in length ({sorted(sizes)})")
    return [tuple(row) for row in zip(*columns, strict=True)] if columns else []


def _pool(item_count: Counter[_Key], depth: int, min_items: int) -> dict[_Key, set[_Key]]:
    """Cells (key -> the full keys pooled into it): small cells merged with their small
    siblings, from the last attribute towards the first (see the module docstring)."""
    cells: dict[_Key, set[_Key]] = {key: {key} for key in item_count}
    for level in range(depth - 1, 0, -1):
        small: dict[_Key, list[_Key]] = {}
        for key, members in cells.items():
            if sum(item_count[m] for m in members) < min_items:
                small.setdefault(key[:level], []).append(key)
        for prefix, keys in small.items():
            if len(keys) < 2:
                continue
            merged: set[_Key] = set()
            for key in keys:
                merged |= cells.pop(key)
            cells[prefix + (None,) * (depth - level)] = merged
    return cells


def _label(by: Sequence[str], key: _Key, members: set[_Key]) -> str:
    parts = []
    for j, name in enumerate(by):
        if key[j] is not None:
            parts.append(f"{name}={key[j]}")
        else:
            values = sorted({str(m[j]) for m in members})
            parts.append(f"{name}={values[0]}" if len(values) == 1 else f"{name} in {{{', '.join(values)}}}")
    return ", ".join(parts)


def _bounded(mean: float, n: int, lo: float, hi: float) -> float:
    """The largest variance of a score in [lo, hi] around the mean shrunk by one pseudo-item at
    the middle of the range (see the module docstring)."""
    p = (n * mean + 0.5 * (lo + hi)) / (n + 1)
    return (p - lo) * (hi - p)


def _interval(
    value: float, var: float, lo: float, hi: float, bounded: bool, n_items: int, n_samples: int, conf: float, what: str
) -> Estimate:
    """Wilson on the effective n for a score in a known range, else value +- z sqrt(var)."""
    se = math.sqrt(max(var, 0.0))
    if not bounded:
        z = _z_quantile(conf)
        return Estimate.from_se(
            value, se, z, n_items=n_items, n_samples=n_samples, method=f"{what}, normal (delta method)", confidence=conf
        )
    width = hi - lo
    p = min(1.0, max(0.0, (value - lo) / width))
    var01 = var / (width * width)
    n_eff = p * (1 - p) / var01 if 0.0 < p < 1.0 and var01 > 0 else float(max(n_items, 1))
    low, high = wilson_interval(p * n_eff, n_eff, conf)
    method = f"{what}, Wilson on n_eff={n_eff:.0f} (delta method)"
    return Estimate(value, lo + width * low, lo + width * high, n_items, n_samples, method, se, conf)


def post_stratify(
    n_scored: np.ndarray,
    sum_score: np.ndarray,
    item_attributes: Mapping[str, Sequence[Any] | np.ndarray],
    window_attributes: Mapping[str, Sequence[Any] | np.ndarray],
    by: Sequence[str],
    *,
    binary: bool,
    min_items: int = DEFAULT_MIN_ITEMS,
    confidence: float = 0.95,
    sources: Mapping[str, str] | None = None,
) -> QualityUnderDrift:
    """Re-weight per-item results to a window's mix of the cells ``by`` (module docstring).

    Args:
        n_scored: scored samples of each item (items with none are left out).
        sum_score: the sum of each item's scores.
        item_attributes: one array per attribute, one value per item.
        window_attributes: one array per attribute, one value per request of the window.
        by: the attributes whose conjunction makes the cells (most important first: pooling
            drops attributes from the end).
        binary: the scores are 0/1 (for the suite's and the cells' estimates, as the report).
        min_items: cells with fewer eval items are pooled, or their variance bounded.
        confidence: of every interval.
        sources: where each attribute's item values came from (reported as given).

    Example:
        >>> items = {"lang": ["en"] * 8 + ["de"] * 8}
        >>> scores = np.array([1.0] * 7 + [0.0] + [1.0] * 2 + [0.0] * 6)
        >>> q = post_stratify(np.ones(16), scores, items, {"lang": ["en"] * 20 + ["de"] * 80}, ["lang"], binary=True)
        >>> round(q.suite.value, 3), round(q.reweighted.value, 3)
        (0.562, 0.375)
    """
    if not by:
        raise ValueError("quality under drift needs at least one attribute to stratify on")
    if min_items < 1:
        raise ValueError(f"min_items={min_items}: must be at least 1")
    counts = np.asarray(n_scored, dtype=float)
    sums = np.asarray(sum_score, dtype=float)
    item_keys = _keys(item_attributes, by, "the eval items")
    window_keys = _keys(window_attributes, by, "the window's requests")
    if len(item_keys) != counts.size or sums.size != counts.size:
        raise ValueError("n_scored, sum_score and the item attributes must have one entry per item")
    if not window_keys:
        raise ValueError("the window holds no request")
    keep = counts > 0
    if not keep.any():
        raise ValueError("no eval item has a scored sample")
    suite = estimate_from_sums(counts, sums, binary, confidence)
    means = sums[keep] / counts[keep]
    kept_keys = [k for k, ok in zip(item_keys, keep.tolist(), strict=True) if ok]
    lo, hi, bounded = (
        (0.0, 1.0, True)
        if means.min() >= 0.0 and means.max() <= 1.0
        else (float(means.min()), float(means.max()), False)
    )
    plan = _Plan(by, kept_keys, means, counts[keep], sums[keep], window_keys, min_items, (lo, hi))
    result = plan.result(suite, binary, bounded, confidence, dict(sources or {}))
    dropped = int((~keep).sum())
    if dropped:
        note = f"{dropped} eval item{'s' if dropped != 1 else ''} without a scored sample left out"
        result = replace(result, warnings=(*result.warnings, note))
    return result


class _Plan:
    """The cells of one post-stratification and the sums the estimates are made of."""

    def __init__(
        self,
        by: Sequence[str],
        item_keys: list[_Key],
        means: np.ndarray,
        counts: np.ndarray,
        sums: np.ndarray,
        window_keys: list[_Key],
        min_items: int,
        score_range: tuple[float, float],
    ) -> None:
        self.by = tuple(by)
        self.min_items = min_items
        self.lo, self.hi = score_range
        self.n_window = len(window_keys)
        item_count = Counter(item_keys)
        pooled = _pool(item_count, len(by), min_items)
        cell_of = {m: key for key, members in pooled.items() for m in members}
        order = sorted(pooled, key=lambda k: _label(by, k, pooled[k]))
        self.cells = order
        self.members = pooled
        index = {key: i for i, key in enumerate(order)}
        self.item_cell = np.array([index[cell_of[k]] for k in item_keys], dtype=np.int64)
        self.means, self.counts, self.sums = means, counts, sums
        window_count = Counter(window_keys)
        self.m = np.zeros(len(order))
        self.unknown: list[tuple[_Key, int]] = []
        for key, c in window_count.items():
            if key in cell_of:
                self.m[index[cell_of[key]]] += c
            else:
                self.unknown.append((key, c))
        self.unknown.sort(key=lambda kc: (-kc[1], str(kc[0])))
        k = len(order)
        self.n = np.bincount(self.item_cell, minlength=k).astype(float)
        self.ybar = np.bincount(self.item_cell, weights=means, minlength=k) / self.n
        self.var, self.how = self._variances()

    def _variances(self) -> tuple[np.ndarray, list[str]]:
        var = np.zeros(len(self.cells))
        how = []
        for h in range(len(self.cells)):
            y = self.means[self.item_cell == h]
            n = y.size
            s2 = float(np.var(y, ddof=1)) if n > 1 else 0.0
            if n >= self.min_items and s2 > 0:
                var[h], reason = s2, "estimated"
            else:
                bound = _bounded(float(y.mean()), n, self.lo, self.hi)
                var[h] = max(s2, bound)
                why = f"{n} item{'s' if n != 1 else ''}" if n < self.min_items else "every item scores the same"
                reason = f"bounded ({why})"
            how.append(reason)
        return var, how

    def combine(
        self, weights: np.ndarray, values: np.ndarray, var_cells: np.ndarray, total: float
    ) -> tuple[float, float]:
        """sum w a and its variance: the cells' variance at fixed shares plus the shares'
        multinomial variance over ``total`` requests (module docstring)."""
        theta = float(np.sum(weights * values))
        var = float(np.sum(weights * weights * var_cells) + np.sum(weights * (values - theta) ** 2) / total)
        return theta, var

    def result(
        self, suite: Estimate, binary: bool, bounded: bool, conf: float, sources: dict[str, str]
    ) -> QualityUnderDrift:
        n_items = int(self.n.sum())
        n_samples = int(self.counts.sum())
        covered = float(self.m.sum())
        var_mean = self.var / self.n
        e = self.n / self.n.sum()
        item_mean = float(np.sum(e * self.ybar))
        warnings: list[str] = []
        if covered > 0:
            w = self.m / covered
            theta, var = self.combine(w, self.ybar, var_mean, covered)
            reweighted = _interval(theta, var, self.lo, self.hi, bounded, n_items, n_samples, conf, "post-stratified")
            d_var = float(np.sum((w - e) ** 2 * var_mean) + np.sum(w * (self.ybar - theta) ** 2) / covered)
            delta_value = theta - (suite.value or 0.0)
            delta = Estimate.from_se(
                delta_value,
                math.sqrt(d_var),
                _z_quantile(conf),
                n_items=n_items,
                n_samples=n_samples,
                method="reweighted - suite, normal (delta method; the eval's mix fixed)",
                confidence=conf,
            )
        else:
            w = np.zeros_like(self.m)
            reason = "no request of the window falls in a cell the eval covers"
            reweighted = Estimate.no_interval(reason, n_items=n_items, n_samples=n_samples, confidence=conf)
            delta = Estimate.no_interval(reason, n_items=n_items, n_samples=n_samples, confidence=conf)
            warnings.append(reason)
        contributions = (w - e) * (self.ybar - item_mean) if covered > 0 else np.zeros_like(e)
        cells = self._cells(w, e, contributions, binary, conf)
        covered_share = Estimate.wilson(covered, self.n_window, method="share of the window, Wilson", confidence=conf)
        unknown = tuple(
            UnknownCell(
                _label(self.by, key, {key}),
                c,
                Estimate.wilson(c, self.n_window, method="share of the window, Wilson", confidence=conf),
            )
            for key, c in self.unknown
        )
        worst = best = None
        if unknown:
            worst, best = self._bounds(bounded, n_items, n_samples, conf)
            warnings.append(self._unknown_warning(unknown, covered_share))
        warnings.extend(self._cell_warnings(cells))
        if not bounded:
            warnings.append(
                f"scores outside [0, 1]: the worst and best cases and the variance bounds use the lowest and "
                f"highest item score ({self.lo:g}, {self.hi:g})"
            )
        return QualityUnderDrift(
            by=self.by,
            sources=tuple((name, sources.get(name, "given")) for name in self.by),
            suite=suite,
            reweighted=reweighted,
            delta=delta,
            covered_share=covered_share,
            worst=worst,
            best=best,
            cells=cells,
            unknown=unknown,
            other=(item_mean - (suite.value or 0.0)) if covered > 0 else 0.0,
            n_items=n_items,
            n_window=self.n_window,
            min_items=self.min_items,
            score_range=(self.lo, self.hi),
            warnings=tuple(warnings),
            method=reweighted.method,
        )

    def _cells(
        self, w: np.ndarray, e: np.ndarray, contributions: np.ndarray, binary: bool, conf: float
    ) -> tuple[CellQuality, ...]:
        out = []
        for h, key in enumerate(self.cells):
            members = self.members[key]
            in_cell = self.item_cell == h
            out.append(
                CellQuality(
                    label=_label(self.by, key, members),
                    members=tuple(sorted(_label(self.by, m, {m}) for m in members)) if len(members) > 1 else (),
                    n_items=int(self.n[h]),
                    score=estimate_from_sums(self.counts[in_cell], self.sums[in_cell], binary, conf),
                    mean=float(self.ybar[h]),
                    variance=self.how[h],
                    eval_share=float(e[h]),
                    window_count=int(self.m[h]),
                    window_share=float(w[h]),
                    contribution=float(contributions[h]),
                )
            )
        return tuple(sorted(out, key=lambda c: (-abs(c.contribution), c.label)))

    def _bounds(self, bounded: bool, n_items: int, n_samples: int, conf: float) -> tuple[Estimate, Estimate]:
        """The whole window's score with the unknown cells at the lowest and at the highest score."""
        u = np.array([c for _, c in self.unknown], dtype=float)
        weights = np.concatenate([self.m, u]) / self.n_window
        var_cells = np.concatenate([self.var / self.n, np.zeros(u.size)])
        out = []
        for score, what in ((self.lo, "worst case"), (self.hi, "best case")):
            values = np.concatenate([self.ybar, np.full(u.size, score)])
            theta, var = self.combine(weights, values, var_cells, float(self.n_window))
            label = f"{what}: unknown cells score {score:g}"
            out.append(_interval(theta, var, self.lo, self.hi, bounded, n_items, n_samples, conf, label))
        return out[0], out[1]

    def _unknown_warning(self, unknown: tuple[UnknownCell, ...], covered: Estimate) -> str:
        names = ", ".join(f"{u.label} ({_pct(u.window_share.value or 0.0)})" for u in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        share = 1.0 - (covered.value or 0.0)
        return (
            f"{_pct(share)} of the window's requests fall in cells no eval item covers: {names}{more}; the "
            f"reweighted score is over the covered {_pct(covered.value or 0.0)} only, and nothing is assumed "
            "about the rest (see worst and best)"
        )

    def _cell_warnings(self, cells: tuple[CellQuality, ...]) -> list[str]:
        out = []
        pooled = [c for c in cells if c.members]
        if pooled:
            listed = "; ".join(f"{c.label} ({c.n_items} items)" for c in pooled[:5])
            out.append(
                f"cells with fewer than {self.min_items} eval items were pooled with their small siblings "
                f"(within a pool the eval's mix stands for the window's): {listed}"
            )
        small = [c for c in cells if c.variance.startswith("bounded") and c.n_items < self.min_items]
        if small:
            listed = "; ".join(f"{c.label} ({c.n_items} items)" for c in small[:5])
            out.append(
                f"cells with fewer than {self.min_items} eval items and nothing to pool with: their variance "
                f"is bounded, not estimated, so the interval is wide: {listed}"
            )
        return out


_DERIVED_SOURCE = "derived from the item's prompt, as the traffic import derives it"


def item_request_attributes(data: RunData, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The traffic table's derived attributes (``tailgate.traffic.DERIVED_COLUMNS``) of each
    item of a run, computed by the traffic import's own derivation on the text a production log
    would hold for it: the user messages of its prompt (variant ``original`` if the run has it,
    else the first), with the tokens the provider counted; the item's fields when the run holds
    no prompts (imported results).

    Example:
        >>> item_request_attributes(data, ["lang"])["lang"][:3]  # doctest: +SKIP
        array(['en', 'fr', 'es'], dtype=object)
    """
    from tailgate.records import LanguageDetector, derive_request_attributes
    from tailgate.traffic import DERIVED_COLUMNS

    wanted = [n for n in (names if names is not None else DERIVED_COLUMNS) if n in DERIVED_COLUMNS]
    rows = data.query(
        "SELECT item_id, variant, arg_min(prompt, repeat) AS prompt, any_value(mode) AS mode, "
        "median(tokens_in) AS tokens FROM records GROUP BY item_id, variant "
        "ORDER BY item_id, variant = 'original' DESC, variant"
    )
    first: dict[str, tuple[Any, Any, Any]] = {}
    for item, prompt, mode, tokens in zip(rows["item_id"], rows["prompt"], rows["mode"], rows["tokens"], strict=True):
        first.setdefault(str(item), (prompt, mode, tokens))
    detect = LanguageDetector()
    out: dict[str, list[Any]] = {n: [] for n in wanted}
    for k, item in enumerate(data.items.item_id.tolist()):
        prompt, mode, tokens = first.get(str(item), (None, None, None))
        request = _request(prompt, mode, data.items.text[k])
        measured = None if tokens is None or (isinstance(tokens, float) and math.isnan(tokens)) else float(tokens)
        derived = derive_request_attributes(request.input_text(), measured, request.turns(), detect)
        for n in wanted:
            out[n].append(derived[n])
    return {n: np.array(v, dtype=object) for n, v in out.items()}


def _request(prompt: Any, mode: Any, fallback: str) -> Any:
    """The item's prompt as a traffic :class:`~tailgate.traffic.Request` (its input, as logged)."""
    import json

    from tailgate.traffic import Request

    if isinstance(prompt, str) and prompt:
        if mode == "chat":
            try:
                messages = json.loads(prompt)
            except ValueError:
                messages = None
            if isinstance(messages, list) and all(isinstance(m, dict) for m in messages):
                return Request(
                    0, messages=[{"role": str(m.get("role")), "content": str(m.get("content", ""))} for m in messages]
                )
        return Request(0, prompt=prompt)
    return Request(0, prompt=fallback)


def quality_under_drift(
    data: RunData,
    window_attributes: Mapping[str, Sequence[Any] | np.ndarray],
    by: Sequence[str],
    *,
    item_attributes: Mapping[str, Sequence[Any] | np.ndarray] | None = None,
    min_items: int = DEFAULT_MIN_ITEMS,
    confidence: float = 0.95,
) -> QualityUnderDrift:
    """The run's score re-weighted to a traffic window's mix over the attributes ``by``.

    Each attribute of ``by`` takes its item values from ``item_attributes`` when given there;
    else a derived attribute of the traffic table (``lang``, ``input_tokens``, ``has_code``...)
    is derived from each item's prompt by the traffic import's own code
    (:func:`item_request_attributes`: so ``lang`` is fastText's on both sides, not the report's
    word-list ``auto:lang``); else a declared attribute of the run's items, matched to the
    window's user column of the same name.

    Args:
        data: the run (:func:`tailgate.analysis.load_run`).
        window_attributes: one array per attribute, one value per request
            (:func:`tailgate.traffic.read_window`).
        by: the attributes whose conjunction makes the cells, most important first.
        item_attributes: item values to use instead (an explicit mapping of names).
        min_items: cells with fewer eval items are pooled (or their variance bounded).
        confidence: of every interval.

    Raises:
        ValueError: an attribute of ``by`` is in neither the run nor the window, or the window is empty.
    """
    given = dict(item_attributes or {})
    from tailgate.traffic import DERIVED_COLUMNS

    derived = [n for n in by if n not in given and n in DERIVED_COLUMNS]
    values = {**given, **(item_request_attributes(data, derived) if derived else {})}
    sources = dict.fromkeys(given, "given") | dict.fromkeys(derived, _DERIVED_SOURCE)
    for name in by:
        if name in values:
            continue
        if name in data.items.attributes and not name.startswith(AUTO):
            values[name] = data.items.attributes[name]
            sources[name] = "declared by the suite"
            continue
        known = sorted(set(DERIVED_COLUMNS) | {a for a in data.items.attributes if not a.startswith(AUTO)})
        raise ValueError(f"the run's items have no attribute {name!r} (known: {', '.join(known)})")
    items = data.items
    result = post_stratify(
        items.n_scored,
        items.sum_score,
        values,
        window_attributes,
        by,
        binary=data.binary,
        min_items=min_items,
        confidence=confidence,
        sources=sources,
    )
    return replace(result, run_id=data.run_id)
