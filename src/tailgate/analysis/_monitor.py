"""Monitoring mode: one false-alarm guarantee for a whole sequence of windows (docs/drift.md).

Repeating a fixed 5% test on 100 windows raises a false alarm with probability 1 - 0.95^100 =
0.994. Here window t is tested against *all earlier windows pooled* (window 1 is the reference),
and the p-values feed an e-process:

1. p_t: an exact permutation p-value of window t against the pool of windows 1..t, for the
   attributes together: each categorical attribute (a number is first binned at the pooled
   deciles, a label-free choice) gives a chi-square statistic of window t's counts against the
   pool's shares; the window's statistic is the smallest asymptotic chi-square p-value over the
   attributes (a min-p combination); its null law comes from random splits of the pool, drawn
   exactly as multivariate hypergeometric counts over the pool's joint cells. Draws stop once 20
   exceed the observed statistic (Besag & Clifford 1991, "Sequential Monte Carlo p-values",
   Biometrika 78:301): p = 20 / draws, else (1 + #) / (1 + max draws).
2. Under no drift every request is exchangeable, so given the pooled bag of windows 1..t the
   split "window t vs the rest" is uniformly random; p_t is valid given the bag and everything
   after window t. As for conformal p-values (Vovk, Gammerman & Shafer 2005, thm. 8.1) this makes
   randomised versions p'_t <= p_t of the p-values independent and uniform.
3. e_t = f(p_t) with the admissible calibrator f(p) = (1 - p + p ln p) / (p ln^2 p), the
   average of k p^(k-1) over k in (0, 1) (Vovk & Wang 2021, "E-values: calibration, combination
   and applications", Ann. Stat. 49:1736); f is decreasing and integrates to 1, so f(p'_t) are
   independent with mean 1 and f(p_t) <= f(p'_t).
4. M_t = sum_s w_s prod_{i=s..t} e_i (the product is 1 for s > t), w_s = 1 / (s (s + 1)): a
   mixture over the window at which drift might start of test martingales, itself a test
   martingale, so by Ville's inequality P(M_t >= 1/alpha for some t, ever) <= alpha. An alarm is
   raised the first time M_t >= 1/alpha.

The guarantee is for an unbounded sequence; a known horizon would allow a quicker alarm but not
a guarantee past it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["DriftMonitor", "MonitorResult", "MonitorStep", "calibrate_e", "monitor"]

_HITS = 20


def calibrate_e(p: float) -> float:
    """The admissible p-to-e calibrator (module docstring, step 3)."""
    p = min(max(p, 1e-300), 1.0)
    q = 1.0 - p
    lp = math.log1p(-q) if q < 0.5 else math.log(p)
    if q < 1e-3:  # 1 - p + p ln p = q^2/2 + q^3/6 + q^4/12 + ...: no cancellation near p = 1
        if q == 0.0:
            return 0.5
        num = q * q * (0.5 + q / 6 + q * q / 12 + q**3 / 20)
    else:
        num = q + p * lp
    return num / (p * lp * lp)


@dataclass(frozen=True)
class MonitorStep:
    """One window of a monitored sequence.

    Attributes:
        window: its index (0 is the reference, never tested).
        n: requests in the window.
        p_value: the window's permutation p-value against all earlier windows (None for window 0).
        e_value: that p-value calibrated to an e-value (1 for window 0).
        statistic: the e-process M_t after this window.
        threshold: 1 / alpha.
        alarm: whether M_t has reached the threshold (at this window or before).
        most_moved: the attribute with the smallest chi-square p-value in this window.
        draws: permutation draws spent on this window.
    """

    window: int
    n: int
    p_value: float | None
    e_value: float
    statistic: float
    threshold: float
    alarm: bool
    most_moved: str | None
    draws: int


@dataclass(frozen=True)
class MonitorResult:
    """A monitored sequence of windows.

    Attributes:
        steps: one per window, in order.
        alpha: the probability of any false alarm over the whole (unbounded) sequence is at most
            this when nothing drifts.
        alarm_at: the first window whose statistic reached 1/alpha, or None.
        method: how the statistic was built.
    """

    steps: tuple[MonitorStep, ...]
    alpha: float
    alarm_at: int | None
    method: str


def _weight(s: int) -> float:
    return 1.0 / (s * (s + 1))


@dataclass
class DriftMonitor:
    """Streaming form of :func:`monitor`: call :meth:`update` with each window as it closes.

    Attributes:
        alpha: bound on the probability of any false alarm over the whole sequence.
        max_draws: most permutation draws per window (the smallest p-value is 1 / (1 + this)).
        bins: numeric attributes are cut at this many quantiles of the pool.
        seed: seed of the permutation draws.
    """

    alpha: float = 0.05
    max_draws: int = 100_000
    bins: int = 10
    seed: int = 0
    _names: list[str] = field(default_factory=list, repr=False)
    _numeric: list[bool] = field(default_factory=list, repr=False)
    _columns: list[list[np.ndarray]] = field(default_factory=list, repr=False)  # per attribute, per window
    _levels: list[dict[str, int]] = field(default_factory=list, repr=False)
    _steps: list[MonitorStep] = field(default_factory=list, repr=False)
    _cells: dict[tuple[int, ...], int] = field(default_factory=dict, repr=False)  # categorical only
    _counts: list[int] = field(default_factory=list, repr=False)
    _mass: float = field(default=0.0, repr=False)  # sum_{s<=t} w_s prod_{i=s..t} e_i

    def update(self, window: Mapping[str, Sequence[Any] | np.ndarray]) -> MonitorStep:
        """Add one window; returns its step (window 0 is the reference)."""
        cols = {k: np.asarray(v) for k, v in window.items()}
        sizes = {v.size for v in cols.values()}
        if len(sizes) != 1 or 0 in sizes:
            raise ValueError("a window needs the same, non-zero number of values for every attribute")
        if not self._names:
            self._names = sorted(cols)
            self._numeric = [cols[k].dtype.kind in "iuf" for k in self._names]
            self._columns = [[] for _ in self._names]
            self._levels = [{} for _ in self._names]
        elif set(cols) != set(self._names):
            raise ValueError(f"every window needs the attributes {self._names}")
        for j, name in enumerate(self._names):
            v = cols[name]
            if self._numeric[j]:
                self._columns[j].append(v.astype(float))
            else:
                levels = self._levels[j]
                labels, inverse = np.unique(v.astype(str), return_inverse=True)
                ids = np.array([levels.setdefault(str(x), len(levels)) for x in labels], dtype=np.int64)
                self._columns[j].append(ids[inverse.ravel()])
        t = len(self._steps)
        n = sizes.pop()
        if t == 0:
            if not any(self._numeric):
                self._tables(n)
            step = MonitorStep(0, n, None, 1.0, 1.0, 1 / self.alpha, False, None, 0)
        else:
            p, moved, draws = self._p_value(n)
            e = calibrate_e(p)
            self._mass = e * (self._mass + _weight(t))
            stat = self._mass + 1.0 / (t + 1)  # sum_{s>t} w_s = 1/(t+1): martingales not started
            alarm = stat >= 1 / self.alpha or any(s.alarm for s in self._steps)
            step = MonitorStep(t, n, p, e, stat, 1 / self.alpha, alarm, moved, draws)
        self._steps.append(step)
        return step

    def result(self) -> MonitorResult:
        first = next((s.window for s in self._steps if s.alarm), None)
        return MonitorResult(tuple(self._steps), self.alpha, first, _METHOD)

    def _pool_codes(self) -> np.ndarray:
        """One row per pooled request, one integer code per attribute (numbers: pooled deciles,
        a function of the pool only, so the permutation test stays exact)."""
        codes = []
        for j in range(len(self._names)):
            pooled = np.concatenate(self._columns[j])
            if self._numeric[j]:
                edges = np.unique(np.quantile(pooled, np.linspace(0, 1, self.bins + 1)[1:-1]))
                pooled = np.searchsorted(edges, pooled, side="right")
            codes.append(pooled)
        return np.stack(codes, axis=1)

    def _tables(self, n_cur: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The pool's joint cells (one row of codes each), their counts, and the current window's."""
        if any(self._numeric):  # the bins move with the pool: recount everything
            cells, cell_of = np.unique(self._pool_codes(), axis=0, return_inverse=True)
            cell_of = cell_of.ravel()
            total = cell_of.size
            pool = np.bincount(cell_of, minlength=len(cells))
            return cells, pool, np.bincount(cell_of[total - n_cur :], minlength=len(cells))
        rows, inverse = np.unique(np.stack([c[-1] for c in self._columns], axis=1), axis=0, return_inverse=True)
        ids = np.array([self._cells.setdefault(tuple(int(x) for x in r), len(self._cells)) for r in rows])
        cur = np.bincount(ids[inverse.ravel()], minlength=len(self._cells))
        self._counts.extend([0] * (len(self._cells) - len(self._counts)))
        pool = np.asarray(self._counts) + cur
        self._counts = pool.tolist()
        return np.array(list(self._cells), dtype=np.int64).reshape(len(self._cells), -1), pool, cur

    def _p_value(self, n_cur: int) -> tuple[float, str | None, int]:
        from scipy import stats

        cells, pool_counts, cur = self._tables(n_cur)
        cur_counts = cur.astype(float)
        total = int(pool_counts.sum())
        parts = []  # per attribute: cells -> category indicator, expected counts, dof
        for j in range(len(self._names)):
            k = int(cells[:, j].max()) + 1
            ind = np.zeros((len(cells), k))
            ind[np.arange(len(cells)), cells[:, j]] = 1.0
            col = pool_counts @ ind
            keep = col > 0
            parts.append((ind[:, keep], col[keep] * (n_cur / total), max(1, int(keep.sum()) - 1)))
        fpc = total / (total - n_cur)  # sampling without replacement from the pool

        def chi2(counts: np.ndarray) -> list[np.ndarray]:
            return [(np.sum((counts @ ind) ** 2 / exp, axis=-1) - n_cur) * fpc for ind, exp, _ in parts]

        logp = [float(stats.chi2.logsf(x, dof)) for x, (_, _, dof) in zip(chi2(cur_counts), parts, strict=True)]
        which = int(np.argmin(logp))
        # a draw is at least as extreme when some attribute's p-value is at most the observed minimum
        limits = [float(stats.chi2.isf(math.exp(logp[which]), dof)) for _, _, dof in parts]
        rng = np.random.default_rng([self.seed, len(self._steps)])
        hits, draws = 0, 0
        while draws < self.max_draws:
            size = min(max(200, 4 * draws), self.max_draws - draws)
            sim = rng.multivariate_hypergeometric(pool_counts, n_cur, size=size).astype(float)
            extreme = np.zeros(size, dtype=bool)
            for x, limit in zip(chi2(sim), limits, strict=True):
                extreme |= x >= limit * (1 - 1e-9)
            exceed = np.flatnonzero(extreme)
            if hits + exceed.size >= _HITS:
                used = draws + int(exceed[_HITS - hits - 1]) + 1
                return _HITS / used, self._names[which], used
            hits += exceed.size
            draws += size
        return (1.0 + hits) / (1.0 + draws), self._names[which], draws


_METHOD = (
    "each window against all earlier windows pooled: exact permutation p-value (min-p of chi-square "
    "statistics over the attributes, Besag-Clifford), admissible calibrator to e-values, mixture over "
    "start windows w_s = 1/(s(s+1)); Ville's inequality"
)


def monitor(
    windows: Sequence[Mapping[str, Sequence[Any] | np.ndarray]],
    *,
    alpha: float = 0.05,
    max_draws: int = 100_000,
    bins: int = 10,
    seed: int = 0,
    stop_at_alarm: bool = False,
) -> MonitorResult:
    """Monitor a sequence of windows (the first is the reference) for drift in their attributes.

    Every window maps attribute names to one value per request: strings or booleans are
    categories, numbers are binned at the pooled deciles. ``stop_at_alarm`` skips the windows
    after the first alarm.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> same = [{"lang": rng.choice(["en", "de"], 300, p=[0.9, 0.1])} for _ in range(10)]
        >>> moved = [{"lang": rng.choice(["en", "de"], 300, p=[0.6, 0.4])} for _ in range(3)]
        >>> monitor(same + moved).alarm_at
        10
    """
    m = DriftMonitor(alpha=alpha, max_draws=max_draws, bins=bins, seed=seed)
    for w in windows:
        if m.update(w).alarm and stop_at_alarm:
            break
    return m.result()
