"""Calibration study: does every interval and test tailgate prints mean what it says?

    python bench/calibration.py [--quick] [--only FAMILY[,FAMILY]] [--reps R] [--workers 2]

Runs with a known truth are drawn from generative models (item difficulty from a Beta,
K repeats as Bernoulli(p_i) or Beta scores, latencies log-normal with item random effects,
templates with equal or different effects, two models with a known paired delta, random slice
attributes) and passed, in memory, through the product's own code paths (``_overview``,
``_percentiles``, ``_discovery``, ``pass_k_table``, ``consistency``, ``failure_profile``,
``robustness``, ``slice_estimates``, ``_compare``). Each row of the table is one measure in one
regime: the share of replications whose interval covers the truth (target 0.95 +- 0.02), or
whose test rejects a true null (target <= 0.05 + MC error), or the power at a true delta equal
to the reported MDE (target 0.80), with its Monte-Carlo standard error. Where the product
printed no number (no interval, with its reason), the replication counts as "warning printed".

The full study writes ``docs/calibration.md`` (the table between the generated markers) and
``bench/results/calibration.json``; ``--quick`` prints a small subset and writes nothing. The
estimands (what "the truth" is for each measure) are documented in ``docs/calibration.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from scipy import special, stats  # noqa: E402

from tailgate.analysis import consistency, failure_profile, pass_k_table, robustness, slice_estimates  # noqa: E402
from tailgate.analysis._compare import CompareOptions, _compare  # noqa: E402
from tailgate.analysis._compare_pairing import pair_units  # noqa: E402
from tailgate.analysis._compare_results import SliceDelta  # noqa: E402
from tailgate.analysis._compare_slices import aligned_features, slice_deltas  # noqa: E402
from tailgate.analysis._data import RunData  # noqa: E402
from tailgate.analysis._memory import run_from_tables  # noqa: E402
from tailgate.analysis._report import ReportOptions, _discovery, _overview, _percentiles  # noqa: E402

ATTRIBUTES = {"a": 2, "b": 3, "c": 4, "d": 5}  # random slice attributes: name -> number of values
WRONG = ("b", "c", "d")  # wrong answers; the right one is "a"
LATENCY_MEDIAN_MS = 400.0
LATENCY_WITHIN_SD = 0.5  # sd of log latency within an item
CONTINUOUS_PRECISION = 4.0  # a continuous score is Beta(p c, (1 - p) c) with c = 4
TRUTH_DRAWS = 400_000
CONCENTRATION = {"low": 20.0, "high": 2.0}  # Beta(mu k, (1 - mu) k): item ICC 1 / (k + 1)
LATENCY_ITEM_SD = {"low": 0.3, "high": 1.0}
REPORT = ReportOptions()
COMPARE = CompareOptions()


# --------------------------------------------------------------------------------------------
# tallies


@dataclass
class Tally:
    """Outcomes of one row: ``hits`` of ``printed`` replications (covered, rejected), ``warned``
    replications where the product printed no number, ``total`` replications; ``extra`` sums
    (e.g. the reported MDE) for information."""

    kind: str  # coverage | error | power | warning
    hits: int = 0
    printed: int = 0
    warned: int = 0
    total: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        self.hits += other.hits
        self.printed += other.printed
        self.warned += other.warned
        self.total += other.total
        for k, v in other.extra.items():
            self.extra[k] = self.extra.get(k, 0.0) + v


Tallies = dict[tuple[str, str], Tally]


def _tally(t: Tallies, measure: str, regime: str, kind: str) -> Tally:
    key = (measure, regime)
    if key not in t:
        t[key] = Tally(kind)
    return t[key]


def cover(t: Tallies, measure: str, regime: str, est: Any, truth: float) -> None:
    """An interval (Estimate, dict or Percentile) against the truth; no interval = warning."""
    row = _tally(t, measure, regime, "coverage")
    row.total += 1
    low, high = _bounds(est)
    if low is None or high is None:
        row.warned += 1
        return
    row.printed += 1
    row.hits += int(low - 1e-12 <= truth <= high + 1e-12)


def cluster_sums(row: Tally, hits: int, printed: int) -> None:
    """One replication's ``hits`` of ``printed`` intervals of a pooled row (every slice of one
    run): the sums that give its Monte-Carlo SE with the replication as the cluster
    (:func:`pooled_se`), since slices of one run are not independent."""
    for key, value in (("_hh", hits * hits), ("_hp", hits * printed), ("_pp", printed * printed), ("_reps", 1)):
        row.extra[key] = row.extra.get(key, 0.0) + value


def pooled_se(tally: Tally, rate: float) -> float | None:
    """The MC SE of a pooled row's rate, clustered on replications (the ratio estimator's
    variance, R / (R - 1) sum_r (h_r - rate p_r)^2 / P^2), or None when the row has no sums."""
    reps = tally.extra.get("_reps", 0.0)
    if reps < 2 or tally.printed == 0:
        return None
    ss = tally.extra["_hh"] - 2 * rate * tally.extra["_hp"] + rate * rate * tally.extra["_pp"]
    return math.sqrt(max(ss, 0.0) * reps / (reps - 1)) / tally.printed


def reject(t: Tallies, measure: str, regime: str, p: float | None, kind: str = "error", alpha: float = 0.05) -> None:
    """A test's p-value: counts a rejection at ``alpha``; no p-value = warning."""
    row = _tally(t, measure, regime, kind)
    row.total += 1
    if p is None or (isinstance(p, float) and math.isnan(p)):
        row.warned += 1
        return
    row.printed += 1
    row.hits += int(p <= alpha)


def flag(t: Tallies, measure: str, regime: str, happened: bool, kind: str = "error") -> None:
    """An event (a slice reported under the null; a warning that must be there)."""
    row = _tally(t, measure, regime, kind)
    row.total += 1
    row.printed += 1
    row.hits += int(happened)


def _bounds(est: Any) -> tuple[float | None, float | None]:
    if est is None:
        return None, None
    if isinstance(est, dict):
        return est.get("low"), est.get("high")
    return getattr(est, "low", None), getattr(est, "high", None)


def _value(est: Any) -> float | None:
    if est is None:
        return None
    return est.get("value") if isinstance(est, dict) else getattr(est, "value", None)


# --------------------------------------------------------------------------------------------
# generative models


@dataclass(frozen=True)
class Cell:
    family: str
    n: int
    k: int
    het: str = "low"
    mean: float = 0.7
    effect: str = "none"  # robustness: identical | better; compare: null | shift
    reps: int = 1000
    parts: tuple[str, ...] = ()
    """Only these measures of the family (empty: all); the test subset uses it to stay fast."""

    def wants(self, part: str) -> bool:
        return not self.parts or part in self.parts

    @property
    def regime(self) -> str:
        parts = [f"n={self.n}", f"K={self.k}", f"het={self.het}"]
        if self.mean != 0.7:
            parts.append(f"mean={self.mean:g}")
        if self.effect != "none":
            parts.append(self.effect)
        return " ".join(parts)

    @property
    def ab(self) -> tuple[float, float]:
        c = CONCENTRATION[self.het]
        return self.mean * c, (1 - self.mean) * c


def _ids(n: int) -> list[str]:
    return [f"i{j:05d}" for j in range(n)]


def _attributes(rng: np.random.Generator, n: int) -> tuple[list[str], dict[str, np.ndarray]]:
    values = {name: rng.integers(0, m, n) for name, m in ATTRIBUTES.items()}
    rows = ["{" + ",".join(f'"{name}":"{name}{int(values[name][j])}"' for name in ATTRIBUTES) + "}" for j in range(n)]
    return rows, values


def _answers(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """Right answer "a" with probability p, else one of the wrong ones uniformly."""
    right = rng.random(p.shape) < p
    wrong = np.array(WRONG, dtype=object)[rng.integers(0, len(WRONG), p.shape)]
    return np.where(right, "a", wrong)


def _manifest(k: int, variants: list[str]) -> dict[str, Any]:
    return {
        "suite": {"name": "calibration", "config": {"dataset": {"attributes": list(ATTRIBUTES)}}},
        "model": {"spec": "simulated"},
        "repeats": k,
        "variants": variants,
    }


def make_run(
    ids: list[str],
    attrs: list[str],
    *,
    answers: np.ndarray | None = None,
    scores: np.ndarray | None = None,
    latency: np.ndarray | None = None,
    variants: list[str] | None = None,
) -> RunData:
    """A run from items x variants x repeats arrays (answers give 0/1 scores; else ``scores``)."""
    variants = variants or ["original"]
    base = answers if answers is not None else scores
    assert base is not None
    n, v, k = base.shape
    item = np.repeat(np.array(ids, dtype=object), v * k)
    variant = np.tile(np.repeat(np.array(variants, dtype=object), k), n)
    repeat = np.tile(np.arange(k), n * v)
    records: dict[str, Any] = {"item_id": item, "variant": variant, "repeat": repeat}
    if answers is not None:
        flat = answers.ravel()
        records.update(answer=flat, output=flat, score=(flat == "a").astype(float))
    else:
        assert scores is not None
        records.update(score=scores.ravel(), output=np.full(n * v * k, "x", dtype=object))
    if latency is not None:
        records["latency_ms"] = latency.ravel()
    items = {"item_id": ids, "attributes": attrs}
    return run_from_tables(records, items, _manifest(k, variants))


def _latency(
    rng: np.random.Generator, n: int, shape: tuple[int, ...], het: str, effect: np.ndarray | None = None
) -> Any:
    u = effect if effect is not None else rng.normal(0.0, LATENCY_ITEM_SD[het], n)
    e = rng.normal(0.0, LATENCY_WITHIN_SD, (n, *shape))
    return LATENCY_MEDIAN_MS * np.exp(u.reshape((n,) + (1,) * len(shape)) + e), u


# --------------------------------------------------------------------------------------------
# truths


def beta_moment(a: float, b: float, k: int) -> float:
    """E[p^k] for p ~ Beta(a, b)."""
    return float(math.exp(special.betaln(a + k, b) - special.betaln(a, b)))


def latency_quantile(q: float, het: str) -> float:
    """The q-th percentile of one call's latency on a random item: log-normal with variance
    item sd^2 + within sd^2 (a closed form)."""
    sd = math.hypot(LATENCY_ITEM_SD[het], LATENCY_WITHIN_SD)
    return float(LATENCY_MEDIAN_MS * math.exp(stats.norm.ppf(q / 100) * sd))


_TRUTHS: dict[tuple[Any, ...], Any] = {}


def _memo(key: tuple[Any, ...], fn: Callable[[], Any]) -> Any:
    if key not in _TRUTHS:
        _TRUTHS[key] = fn()
    return _TRUTHS[key]


def consistency_truth(cell: Cell) -> tuple[float, float]:
    """Mean over items of E[share of the modal answer in K samples], and the share of items whose
    K samples have a modal share below the report's threshold (Monte Carlo, 400k items)."""

    def compute() -> tuple[float, float]:
        rng = np.random.default_rng(12345)
        a, b = cell.ab
        p = rng.beta(a, b, TRUTH_DRAWS)
        probs = np.column_stack([p] + [(1 - p) / len(WRONG)] * len(WRONG))
        counts = _multinomial_rows(rng, cell.k, probs)
        top = counts.max(axis=1) / cell.k
        return float(top.mean()), float((top < REPORT.consistency_threshold).mean())

    return tuple(_memo(("consistency", cell.k, cell.het, cell.mean), compute))  # type: ignore[return-value]


def _multinomial_rows(rng: np.random.Generator, k: int, probs: np.ndarray) -> np.ndarray:
    cum = np.cumsum(probs, axis=1)
    draws = rng.random((probs.shape[0], k))
    cls = (draws[:, :, None] > cum[:, None, :]).sum(axis=2)
    cls = np.minimum(cls, probs.shape[1] - 1)
    return np.stack([(cls == j).sum(axis=1) for j in range(probs.shape[1])], axis=1)


def score_quantiles(cell: Cell) -> np.ndarray:
    """Percentiles of one continuous score on a random item (Monte Carlo, 4M draws)."""

    def compute() -> np.ndarray:
        rng = np.random.default_rng(999)
        a, b = cell.ab
        p = rng.beta(a, b, 4_000_000)
        c = CONTINUOUS_PRECISION
        x = rng.beta(np.maximum(p * c, 1e-3), np.maximum((1 - p) * c, 1e-3))
        return np.percentile(x, list(REPORT.percentiles))

    return np.asarray(_memo(("scoreq", cell.het, cell.mean), compute))


BOUNDARY_EDGE = 1e-3
"""A truth this close to 0 or 1 is at the boundary: see :func:`boundary_edge`."""


def boundary_edge(measure: str, regime: str) -> float | None:
    """How far a row's truth is from 0 or 1, for the measures whose truth can sit there
    (pass@k, pass^k, the never-pass share, percentiles of [0, 1] scores); None for the others.

    When the truth is within :data:`BOUNDARY_EDGE` of an edge the data almost never contradict it
    (every item passes all k, or none does; continuous scores pile up at 1.0 in floating point), so
    every interval that is valid on such data covers nearly always: 0.95 cannot be reached without
    excluding, at random, a value the data support. Those rows are judged on validity alone
    (coverage >= 0.95 - tolerance) and marked ``boundary`` (docs/calibration.md)."""
    fields = dict(part.split("=", 1) for part in regime.split() if "=" in part)
    if "n" not in fields or "K" not in fields:
        return None
    n, k, het, mean = int(fields["n"]), int(fields["K"]), fields.get("het", "low"), float(fields.get("mean", 0.7))
    passes = re.fullmatch(r"pass([@^])(\d+)", measure)
    percentile = re.fullmatch(r"score p([\d.]+) \(continuous\)", measure)
    if passes is not None:
        a, b = Cell("run", n, k, het, mean).ab
        j = int(passes.group(2))
        truth = 1.0 - beta_moment(b, a, j) if passes.group(1) == "@" else beta_moment(a, b, j)
    elif measure == "never-pass share":
        a, b = Cell("run", n, k, het, mean).ab
        truth = beta_moment(b, a, k)
    elif percentile is not None:
        qs = [float(q) for q in REPORT.percentiles]
        q = float(percentile.group(1))
        if q not in qs:
            return None
        truth = float(score_quantiles(Cell("continuous", n, k, het, mean))[qs.index(q)])
    else:
        return None
    return min(truth, 1.0 - truth)


def lattice_gap(n: int, p: float, low: float = 0.93, high: float = 0.97) -> bool:
    """True when no interval can cover ``p`` with a probability in [``low``, ``high``] on a
    Binomial(``n``, ``p``) count: an interval covers ``p`` on a run of consecutive counts (its
    ends move monotonically with the count), so its coverage is the mass of such a run, and here
    no run of counts has a mass inside the band. With 30 items and p = 0.006, P(0) = 0.84 and
    P(0 or 1) = 0.986: an interval either covers at 0.986 or more, or misses at one pass and
    covers at most 0.85 (Wilson: 0.84). Such a row's attainable coverages jump over 0.95."""
    from scipy import stats

    mass = stats.binom.pmf(np.arange(n + 1), n, p)
    cum = np.concatenate([[0.0], np.cumsum(mass)])
    for start in range(n + 1):
        runs = cum[start + 1 :] - cum[start]
        if np.any((runs >= low) & (runs <= high)):
            return False
    return True


def at_boundary(row: Row) -> Row:
    """``row`` with a ``conservative`` coverage verdict turned ``boundary`` when its truth is at
    an edge (:func:`boundary_edge`), or ``lattice`` when the items' own binomial lattice leaves no
    coverage in 0.95 +- 0.02 to attain (:func:`lattice_gap`, for the pass@k / pass^k / never-pass
    rows whose truth :func:`boundary_edge` knows, with n the number of items); every other row
    unchanged."""
    if row.kind != "coverage" or not row.status.startswith("conservative"):
        return row
    edge = boundary_edge(row.measure, row.regime)
    if edge is None:
        return row
    if edge < BOUNDARY_EDGE:
        return replace(row, status="boundary" + row.status[len("conservative") :])
    n = int(dict(part.split("=", 1) for part in row.regime.split() if "=" in part)["n"])
    if not row.measure.startswith("score p") and lattice_gap(n, edge):
        return replace(row, status="lattice" + row.status[len("conservative") :])
    return row


def template_effects(cell: Cell) -> np.ndarray:
    """Logit shifts of the three templates: identical, or the last one better by 0.5."""
    return np.array([0.0, 0.0, 0.5]) if cell.effect == "better" else np.zeros(3)


def robustness_truth(cell: Cell) -> dict[str, Any]:
    """Population template means; the shares of items whose majority verdicts (K samples per
    template) differ, and (K = 1) whose answers differ (Monte Carlo, 400k items)."""

    def compute() -> dict[str, Any]:
        rng = np.random.default_rng(777)
        a, b = cell.ab
        p = rng.beta(a, b, TRUTH_DRAWS)
        q = _shifted(p, template_effects(cell))
        passes = rng.random((TRUTH_DRAWS, 3, cell.k)) < q[:, :, None]
        majority = passes.mean(axis=2) >= 0.5
        flips = majority.any(axis=1) & ~majority.all(axis=1)
        out: dict[str, Any] = {"means": q.mean(axis=0), "flip": float(flips.mean())}
        if cell.k == 1:
            ans = _answers(rng, q)
            out["answer_flip"] = float(((ans != ans[:, :1]).any(axis=1)).mean())
        return out

    return dict(_memo(("robust", cell.k, cell.het, cell.mean, cell.effect), compute))


def _shifted(p: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    logit = np.log(np.clip(p, 1e-12, 1 - 1e-12) / np.clip(1 - p, 1e-12, 1))
    return np.asarray(special.expit(logit[:, None] + shifts[None, :]))


COMPARE_SHIFT = 0.4  # candidate's logit shift in the "shift" regime


def compare_truth(cell: Cell) -> float:
    def compute() -> float:
        rng = np.random.default_rng(4242)
        a, b = cell.ab
        p = rng.beta(a, b, 4_000_000)
        return float((_shifted(p, np.array([COMPARE_SHIFT]))[:, 0] - p).mean())

    return float(_memo(("compare", cell.het, cell.mean), compute)) if cell.effect == "shift" else 0.0


# --------------------------------------------------------------------------------------------
# families: one replication each


def rep_run(cell: Cell, rng: np.random.Generator, t: Tallies) -> None:
    """One binary run: headline, latency percentiles, pass@k/pass^k, consistency, ICC,
    never-pass, slice scores and failing-slice discovery (attributes are random: a null)."""
    n, k, reg = cell.n, cell.k, cell.regime
    a, b = cell.ab
    p = rng.beta(a, b, n)
    answers = _answers(rng, np.repeat(p[:, None, None], k, axis=2))
    lat, _ = _latency(rng, n, (1, k), cell.het)
    attrs, _ = _attributes(rng, n)
    data = make_run(_ids(n), attrs, answers=answers, latency=lat)
    try:
        if cell.wants("score"):
            cover(t, "score (0/1)", reg, _overview(data, REPORT).score, cell.mean)
        if cell.wants("latency"):
            _, latency, _ = _percentiles(data, REPORT)
            for pct in latency:
                cover(t, f"latency p{pct.q:g}", reg, pct, latency_quantile(pct.q, cell.het))
        if cell.wants("pass_k"):
            _pass_k_rows(t, data, cell)
        if k >= 2 and cell.wants("consistency"):
            cons = consistency(data, REPORT.consistency_threshold, REPORT.confidence)
            truth_mean, truth_below = consistency_truth(cell)
            cover(t, "consistency mean", reg, cons.mean, truth_mean)
            cover(t, "consistency share below 0.8", reg, cons.share_below, truth_below)
        if cell.wants("profile"):
            prof = failure_profile(data.items, data.pass_threshold, REPORT.confidence, REPORT.bootstrap, REPORT.seed)
            cover(t, "never-pass share", reg, prof.never_pass, beta_moment(b, a, k))
            if k >= 2:
                cover(t, "ICC (0/1)", reg, prof.icc, 1.0 / (a + b + 1.0))
        if cell.wants("slices"):
            row = _tally(t, POOLED, reg, "coverage")
            hits, printed = row.hits, row.printed
            for s in slice_estimates(data, REPORT.confidence):
                if s.feature in ATTRIBUTES:
                    cover(t, POOLED, reg, s.estimate, cell.mean)
            cluster_sums(row, row.hits - hits, row.printed - printed)
        if cell.wants("discovery"):
            disc = _discovery(data, REPORT)
            flag(t, "discovery: any slice reported (null)", reg, bool(disc.slices))
    finally:
        data.close()


def _pass_k_rows(t: Tallies, data: RunData, cell: Cell) -> None:
    a, b = cell.ab
    for row in pass_k_table(data, confidence=REPORT.confidence):
        if row.k == 1 and cell.k > 1:
            continue
        cover(t, f"pass@{row.k}", cell.regime, row.pass_at_k, 1 - beta_moment(b, a, row.k))
        if row.k > 1:
            cover(t, f"pass^{row.k}", cell.regime, row.pass_hat_k, beta_moment(a, b, row.k))


def rep_continuous(cell: Cell, rng: np.random.Generator, t: Tallies) -> None:
    """One run with continuous scores in (0, 1): headline, score percentiles, ICC, discovery."""
    n, k, reg = cell.n, cell.k, cell.regime
    a, b = cell.ab
    p = rng.beta(a, b, n)
    c = CONTINUOUS_PRECISION
    pp = np.repeat(p[:, None, None], k, axis=2)
    scores = rng.beta(np.maximum(pp * c, 1e-3), np.maximum((1 - pp) * c, 1e-3))
    attrs, _ = _attributes(rng, n)
    data = make_run(_ids(n), attrs, scores=scores)
    try:
        if cell.wants("score"):
            over = _overview(data, REPORT)
            cover(t, "score (continuous)", reg, over.score, cell.mean)
        if cell.wants("percentiles"):
            score_pct, _, _ = _percentiles(data, REPORT)
            truth = score_quantiles(cell)
            for pct, q in zip(score_pct, truth, strict=True):
                cover(t, f"score p{pct.q:g} (continuous)", reg, pct, float(q))
        if k >= 2 and cell.wants("profile"):
            prof = failure_profile(data.items, data.pass_threshold, REPORT.confidence, REPORT.bootstrap, REPORT.seed)
            var_p = cell.mean * (1 - cell.mean) / (a + b + 1)
            within = (cell.mean * (1 - cell.mean) - var_p) / (c + 1)
            cover(t, "ICC (continuous)", reg, prof.icc, var_p / (var_p + within))
        if cell.wants("discovery"):
            disc = _discovery(data, REPORT)
            flag(t, "discovery: any slice reported (null)", reg + " continuous", bool(disc.slices))
    finally:
        data.close()


def rep_robust(cell: Cell, rng: np.random.Generator, t: Tallies) -> None:
    """Three templates (identical, or the last one better): format spread, the paired difference
    of the named best and worst, flip rates, and the "any spread" test when the product has one."""
    n, k, reg = cell.n, cell.k, cell.regime
    a, b = cell.ab
    p = rng.beta(a, b, n)
    q = _shifted(p, template_effects(cell))
    answers = _answers(rng, np.repeat(q[:, :, None], k, axis=2))
    attrs, _ = _attributes(rng, n)
    names = ["t1", "t2", "t3"]
    data = make_run(_ids(n), attrs, answers=answers, variants=names)
    truth = robustness_truth(cell)
    try:
        rob = robustness(data, REPORT.confidence, REPORT.seed)
        assert rob is not None
        assert rob.spread is not None
        means = truth["means"]
        cover(t, "format spread (best - worst)", reg, rob.spread.spread, float(means.max() - means.min()))
        named = means[names.index(rob.spread.best)] - means[names.index(rob.spread.worst)]
        cover(t, "named best - worst (paired)", reg, rob.spread.best_vs_worst, float(named))
        p_any = _spread_p(rob.spread.as_dict())
        if p_any is not None or cell.effect == "identical":
            # with a real spread the rejection rate is the test's power at that effect: reported,
            # not judged (no level is "right"); under identical templates it is the error rate
            kind = "error" if cell.effect == "identical" else "rate"
            reject(t, "any-spread test", reg, p_any, kind=kind)
        cover(t, "flip rate (majority verdict)", reg, rob.flip_rate, truth["flip"])
        if k == 1:
            cover(t, "answer flip rate", reg, rob.answer_flip_rate, truth["answer_flip"])
    finally:
        data.close()


def _spread_p(spread: dict[str, Any]) -> float | None:
    """The p-value of a test of "is there any spread", wherever the product puts it."""
    for key in ("any_spread", "test", "spread_test", "homogeneity"):
        block = spread.get(key)
        if isinstance(block, dict) and block.get("p_value") is not None:
            return float(block["p_value"])
    value = spread.get("p_value")
    return None if value is None else float(value)


def _pair(cell: Cell, rng: np.random.Generator, p: np.ndarray, q: np.ndarray) -> tuple[RunData, RunData]:
    """Two runs of the same items (same attributes, same item latency effects)."""
    n, k = cell.n, cell.k
    attrs, _ = _attributes(rng, n)
    ids = _ids(n)
    lat_b, u = _latency(rng, n, (1, k), cell.het)
    lat_c, _ = _latency(rng, n, (1, k), cell.het, effect=u)
    base = make_run(ids, attrs, answers=_answers(rng, np.repeat(p[:, None, None], k, axis=2)), latency=lat_b)
    cand = make_run(ids, attrs, answers=_answers(rng, np.repeat(q[:, None, None], k, axis=2)), latency=lat_c)
    return base, cand


def rep_compare(cell: Cell, rng: np.random.Generator, t: Tallies) -> None:
    """Two paired runs, equal (null) or the candidate shifted: the delta's interval, its test,
    slice deltas (BH and BY) and the beyond-accuracy paired bootstraps under the null."""
    reg = cell.regime
    a, b = cell.ab
    p = rng.beta(a, b, cell.n)
    q = _shifted(p, np.array([COMPARE_SHIFT]))[:, 0] if cell.effect == "shift" else p
    base, cand = _pair(cell, rng, p, q)
    if cell.parts == ("slices",):  # compare's slice tests alone (the test subset), the same code path
        try:
            if cell.effect == "null":  # with a real change a significant slice is no error
                _slice_rows(t, reg, _compare_slices(base, cand))
        finally:
            base.close()
            cand.close()
        return
    try:
        c = _compare(base, cand, COMPARE)
    finally:
        base.close()
        cand.close()
    o = c.overall
    test = "McNemar mid-p" if o.mcnemar else "paired t"
    cover(t, "compare delta", reg, o.estimate, compare_truth(cell))
    if cell.effect != "null":
        return
    reject(t, f"compare test ({test})", reg, o.p_value)
    _slice_rows(t, reg, c.slices)
    for name, block in sorted(c.beyond.measures(), key=lambda named: named[0]):
        label = "pass^k" if name.startswith("pass_hat_") else name
        reject(t, f"compare {label} delta test", reg, block.p_value)


def _compare_slices(base: RunData, cand: RunData) -> tuple[SliceDelta, ...]:
    """The slice deltas ``_compare`` computes, without the rest of the comparison."""
    paired, _, _ = pair_units(base, cand, COMPARE)
    return slice_deltas(aligned_features(base, paired.item_ids), paired, paired.mean_b, paired.mean_c, COMPARE)


def _slice_rows(t: Tallies, reg: str, slices: tuple[SliceDelta, ...]) -> None:
    """Under the null: any slice significant after BH / BY is an error."""
    flag(t, "compare slices: any BH <= 0.05 (null)", reg, any(s.p_bh <= COMPARE.fdr for s in slices))
    flag(t, "compare slices: any BY <= 0.05 (null)", reg, any(s.p_by <= COMPARE.fdr for s in slices))


def rep_mde(cell: Cell, rng: np.random.Generator, t: Tallies, delta: float) -> None:
    """Power at a true delta equal to the MDE the product reports: item p in [0.1, 0.6], the
    candidate's p + delta (an additive shift, so the true delta is exactly ``delta``)."""
    a, b = cell.ab
    p = 0.1 + 0.5 * rng.beta(a, b, cell.n)
    base, cand = _pair(cell, rng, p, p + delta)
    try:
        c = _compare(base, cand, COMPARE)
    finally:
        base.close()
        cand.close()
    row = _tally(t, "power at the reported MDE", cell.regime, "power")
    pv = c.overall.p_value
    row.total += 1
    row.printed += 1
    row.hits += int(pv is not None and pv <= COMPARE.alpha and (c.overall.estimate.value or 0) > 0)
    row.extra["delta"] = row.extra.get("delta", 0.0) + delta
    row.extra["mde_at_alternative"] = row.extra.get("mde_at_alternative", 0.0) + float(c.power.mde or math.nan)


def pilot_mde(cell: Cell, reps: int, seed: int) -> float:
    """The median MDE the product reports for this design under the null (delta 0)."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(reps):
        a, b = cell.ab
        p = 0.1 + 0.5 * rng.beta(a, b, cell.n)
        base, cand = _pair(cell, rng, p, p)
        try:
            values.append(float(_compare(base, cand, COMPARE).power.mde or math.nan))
        finally:
            base.close()
            cand.close()
    return float(np.median(values))


def _pilot(cell: Cell) -> float:
    return pilot_mde(cell, max(20, min(100, cell.reps // 5)), seed=cell.n * 31 + cell.k)


def rep_temperature0(cell: Cell, rng: np.random.Generator, t: Tallies) -> None:
    """Repeats that cannot differ (temperature 0: each item always right or always wrong): the
    profile must say so instead of "ICC 1.00: systematic"."""
    n, k, reg = cell.n, cell.k, cell.regime
    p = (rng.random(n) < cell.mean).astype(float)
    answers = _answers(rng, np.repeat(p[:, None, None], k, axis=2))
    attrs, _ = _attributes(rng, n)
    data = make_run(_ids(n), attrs, answers=answers)
    try:
        prof = failure_profile(data.items, data.pass_threshold, REPORT.confidence, REPORT.bootstrap, REPORT.seed)
    finally:
        data.close()
    text = " ".join([prof.verdict, prof.advice, prof.icc.method, *getattr(prof, "warnings", [])]).lower()
    warned = prof.icc.low is None or any(w in text for w in ("identical", "cannot differ", "temperature"))
    flag(t, "ICC warns when repeats cannot differ", reg, warned, kind="warning")


FAMILIES: dict[str, Callable[[Cell, np.random.Generator, Tallies], None]] = {
    "run": rep_run,
    "continuous": rep_continuous,
    "robust": rep_robust,
    "compare": rep_compare,
    "temperature0": rep_temperature0,
}


# --------------------------------------------------------------------------------------------
# grid


REPS_QUICK_SLICES = 600

QUICK = [
    # the test subset (tests/analysis/test_calibration.py): cells where a broken interval or test
    # shows, each with enough replications for a 4-MC-SE tolerance to tell
    Cell("run", 50, 10, "low", reps=400, parts=("score", "pass_k")),
    Cell("run", 50, 1, "high", reps=400, parts=("latency",)),
    Cell("run", 100, 3, "high", reps=600, parts=("discovery",)),
    Cell("robust", 100, 1, "low", effect="identical", reps=300),
    Cell("run", 30, 10, "low", mean=0.03, reps=400, parts=("profile",)),  # the item bootstrap covered 0.69
    # the paired t-test per slice: BH's error 0.095 at 200 replications (the sign-flip test fixed it)
    Cell("compare", 100, 10, "low", effect="null", reps=REPS_QUICK_SLICES, parts=("slices",)),
]

# (n, K, het) of the binary and continuous runs: every n with every K, heterogeneity alternating
RUN_CELLS = [
    (n, k, ("low", "high")[(i + j) % 2]) for i, n in enumerate((30, 100, 300, 1000)) for j, k in enumerate((1, 3, 10))
]


def grid(quick: bool, reps: int | None) -> list[Cell]:
    """The cells of the study (``quick``: the test subset); ``reps`` overrides every cell's
    replications."""
    if quick:
        cells = list(QUICK)
    else:
        cells = []
        for n, k, het in RUN_CELLS:
            cells.append(Cell("run", n, k, het))
            cells.append(Cell("continuous", n, k, het))
        for n in (30, 100, 300, 1000):
            for k in (1, 10):
                cells.append(Cell("run", n, k, "low", mean=0.03, parts=("score", "pass_k", "profile")))
        for n, k, het in ((30, 1, "low"), (100, 3, "high"), (300, 1, "high"), (1000, 3, "low"), (100, 1, "low")):
            for effect in ("identical", "better"):
                cells.append(Cell("robust", n, k, het, effect=effect))
        for n, k, het in ((30, 1, "low"), (100, 3, "high"), (100, 10, "low"), (300, 1, "high"), (1000, 3, "low")):
            for effect in ("null", "shift"):
                cells.append(Cell("compare", n, k, het, effect=effect))
        for n, k in ((30, 3), (100, 10), (300, 3)):
            cells.append(Cell("temperature0", n, k, "low", reps=50))
    if reps is not None:
        cells = [replace(c, reps=reps if c.family != "temperature0" else min(reps, 50)) for c in cells]
    seeds = [_seed(c) for c in cells]
    if len(set(seeds)) != len(seeds):  # two equal cells would draw the same replications twice
        raise ValueError("the grid lists a cell twice: its replications would be counted twice")
    return cells


MDE_CELLS = [(30, 1, "low"), (100, 1, "high"), (100, 3, "low"), (300, 3, "high")]


def tasks(cells: list[Cell], chunk: int = 50) -> list[tuple[Cell, int, int]]:
    """(cell, seed, replications) chunks, round robin over the cells (every cell's first chunk,
    then every cell's second...), so a study stopped early has every cell at about the same
    number of replications. A chunk's seed depends on the cell and the chunk only."""
    out = []
    for start in range(0, max((c.reps for c in cells), default=0), chunk):
        for cell in cells:
            if start < cell.reps:
                seed = _seed(cell) * 1_000_003 + start
                out.append((cell, seed, min(chunk, cell.reps - start)))
    return out


def _seed(cell: Cell) -> int:
    import zlib

    return zlib.crc32(repr((cell.family, cell.n, cell.k, cell.het, cell.mean, cell.effect, cell.parts)).encode())


def run_task(task: tuple[Cell, int, int]) -> Tallies:
    cell, seed, reps = task
    rng = np.random.default_rng(seed)
    t: Tallies = {}
    fn = FAMILIES[cell.family]
    for _ in range(reps):
        try:
            fn(cell, rng, t)
        except Exception as exc:  # a crash is a finding, not the end of the study
            row = _tally(t, f"{cell.family}: crashed ({type(exc).__name__}: {str(exc)[:60]})", cell.regime, "error")
            row.total += 1
            row.printed += 1
            row.hits += 1
    return t


def run_mde_task(task: tuple[Cell, int, int, float]) -> Tallies:
    cell, seed, reps, delta = task
    rng = np.random.default_rng(seed)
    t: Tallies = {}
    for _ in range(reps):
        rep_mde(cell, rng, t, delta)
    return t


def _map(fn: Callable[[Any], Any], items: list[Any], workers: int) -> list[Any]:
    if workers <= 1:
        return [fn(x) for x in items]
    import multiprocessing as mp

    with mp.get_context("fork").Pool(workers) as pool:
        return pool.map(fn, items, chunksize=1)


def run_any(task: tuple[Any, ...]) -> Tallies:
    return run_mde_task(task) if len(task) == 4 else run_task(task)  # type: ignore[arg-type]


def study(
    cells: list[Cell],
    workers: int,
    mde: bool,
    mde_reps: int = 1000,
    log: Callable[[str], None] | None = None,
    checkpoint: Callable[[Tallies, int, int], None] | None = None,
) -> Tallies:
    """Every cell (and the MDE power cells): totals over all replications. ``checkpoint`` is
    called with the totals so far, the chunks done and the chunks planned, every 20 chunks."""
    started = time.perf_counter()
    by_cell: dict[Cell, float] = {}
    if mde:
        mde_cells = [Cell("mde", n, k, het, mean=0.5, reps=mde_reps) for n, k, het in MDE_CELLS]
        deltas = _map(_pilot, mde_cells, workers)  # pilot: max(20, min(100, reps / 5)) runs at delta 0
        if log:
            log(f"MDE pilots done in {time.perf_counter() - started:.0f} s: " + ", ".join(f"{d:.3f}" for d in deltas))
        by_cell = {c: min(d, 0.4) for c, d in zip(mde_cells, deltas, strict=True)}
    work: list[tuple[Any, ...]] = [
        (c, seed, r, by_cell[c]) if c in by_cell else (c, seed, r) for c, seed, r in tasks(cells + list(by_cell))
    ]
    total: Tallies = {}
    results: Iterator[Tallies]
    if workers <= 1:
        results = (run_any(w) for w in work)
    else:
        import multiprocessing as mp

        pool = mp.get_context("fork").Pool(workers)
        results = pool.imap_unordered(run_any, work, chunksize=1)
    for done, part in enumerate(results, start=1):
        _merge(total, part)
        if checkpoint and done % 20 == 0:
            checkpoint(total, done, len(work))
        if log and done % 20 == 0:
            log(f"{done}/{len(work)} chunks in {time.perf_counter() - started:.0f} s")
    if workers > 1:
        pool.close()
        pool.join()
    if checkpoint:
        checkpoint(total, len(work), len(work))
    return total


def _merge(total: Tallies, part: Tallies) -> None:
    for key, row in part.items():
        if key not in total:
            total[key] = Tally(row.kind)
        total[key].add(row)


# --------------------------------------------------------------------------------------------
# verdicts and output

TARGET = {"coverage": 0.95, "error": 0.05, "power": 0.80, "warning": 1.0, "rate": 0.5}


@dataclass(frozen=True)
class Row:
    measure: str
    regime: str
    kind: str
    rate: float | None
    mc_se: float | None
    reps: int
    """Replications that printed a number (all of them when none did): the rate's denominator."""
    warned: float
    status: str
    note: str = ""
    replications: int = 0
    """Replications run in the row's cell (``reps`` plus those that printed a warning instead)."""

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        """A row of ``bench/results/calibration.json`` (files written before ``replications``
        existed: it is ``reps`` / (1 - warned), rounded)."""
        row = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        if not row.replications:
            total = row.reps if row.warned >= 1 or row.rate is None else round(row.reps / (1.0 - row.warned))
            row = replace(row, replications=int(total))
        return row


def verdict(measure: str, regime: str, tally: Tally) -> Row:
    """PASS / FAIL / conservative / warning printed, with the rules of docs/calibration.md."""
    warned = tally.warned / tally.total if tally.total else 0.0
    note = ""
    if any(not k.startswith("_") for k in tally.extra):
        note = ", ".join(
            f"mean {k} {v / max(tally.total, 1):.3f}" for k, v in sorted(tally.extra.items()) if not k.startswith("_")
        )
    if tally.printed == 0:
        return Row(measure, regime, tally.kind, None, None, tally.total, warned, "warning printed", note, tally.total)
    rate = tally.hits / tally.printed
    target = TARGET[tally.kind]
    se = math.sqrt(max(target * (1 - target), 0.0025 * 0.9975) / tally.printed)
    clustered = pooled_se(tally, rate) if tally.kind == "coverage" else None
    if clustered is not None:  # slices of one run share its data: the replication is the unit
        se = max(se, clustered)
    if tally.kind == "coverage":
        tol = max(0.02, 2.5 * se)
        status = "PASS" if abs(rate - target) <= tol else ("conservative" if rate > target else "FAIL")
    elif tally.kind == "error":
        status = "PASS" if rate <= target + 2 * se else "FAIL"
    elif tally.kind == "power":
        status = "PASS" if rate >= target - max(0.02, 2 * se) else "FAIL"
    elif tally.kind == "rate":
        status = "reported"  # a test's power at a chosen effect: information, not a calibration target
    else:
        status = "PASS" if rate >= 0.99 else "FAIL"
    if warned > 0 and status != "FAIL":
        status += f" (warning in {warned:.0%})"
    return at_boundary(Row(measure, regime, tally.kind, rate, se, tally.printed, warned, status, note, tally.total))


def _order(key: tuple[str, str]) -> tuple[str, int, int, str]:
    measure, regime = key
    fields = dict(part.split("=", 1) for part in regime.split() if "=" in part)
    return measure, int(fields.get("n", 0)), int(fields.get("K", 0)), regime


def rows_of(total: Tallies) -> list[Row]:
    return [verdict(m, r, total[(m, r)]) for m, r in sorted(total, key=_order)]


def merged(old: list[Row], new: list[Row]) -> list[Row]:
    """``old`` with every row that ``new`` has again (same measure and regime) replaced by it."""
    rows = {(r.measure, r.regime): r for r in old}
    rows.update({(r.measure, r.regime): r for r in new})
    return [rows[key] for key in sorted(rows, key=_order)]


def markdown(rows: list[Row]) -> str:
    out = [
        "| measure | regime | kind | rate | MC SE | reps | no number | status |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        rate = "—" if r.rate is None else f"{r.rate:.3f}"
        se = "—" if r.mc_se is None else f"{r.mc_se:.3f}"
        status = r.status if not r.note else f"{r.status}; {r.note}"
        out.append(f"| {r.measure} | {r.regime} | {r.kind} | {rate} | {se} | {r.reps} | {r.warned:.0%} | {status} |")
    return "\n".join(out)


def summary(rows: list[Row]) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        key = r.status.split(" (")[0]
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))


POOLED = "slice score (each slice, null)"
"""The measure whose rows count every slice of every replication, not replications."""


def replications_summary(rows: list[Row]) -> str:
    """How many rows ran how many replications (one count when all did), pooled rows apart."""
    counts: dict[int, int] = {}
    for r in rows:
        if r.measure != POOLED:
            counts[r.replications] = counts.get(r.replications, 0) + 1
    pooled = sum(r.measure == POOLED for r in rows)
    tail = f" ({pooled} pooled `{POOLED}` rows count slices)" if pooled else ""
    if len(counts) == 1:
        return f"every row {next(iter(counts)):,} replications{tail}"
    parts = [f"{reps:,} ({n} rows)" for reps, n in sorted(counts.items())]
    return "replications per row differ (the `reps` column): " + ", ".join(parts) + tail


@dataclass(frozen=True)
class Study:
    """What ``bench/results/calibration.json`` holds: the rows and how they were made (the full
    study, then each merged re-run of chosen cells)."""

    rows: list[Row]
    runs: list[dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> Study:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = [at_boundary(Row.from_dict(r)) for r in data["rows"]]
        # a file from before merges existed: its header describes the one full study
        legacy = data["header"].split(". ", 1)[-1]  # without its row counts, which merges change
        runs = data.get("runs") or [{"kind": "full", "description": legacy, "seconds": data.get("seconds")}]
        return cls(rows, runs)

    def header(self) -> str:
        text = f"{len(self.rows)} rows: {summary(self.rows)}; {replications_summary(self.rows)}."
        for run in self.runs:
            if run["kind"] == "full":
                text += f" Full study: {run['description']}"
            else:
                minutes = f"{run['seconds'] / 60:.0f} min with {run['workers']} worker(s)"
                if run["done"] < run["planned"]:
                    minutes += f", unfinished: {run['done']} of {run['planned']} chunks"
                text += f" Merged re-run of {run['cells']} cell(s), {run['rows']} rows (`{run['args']}`, {minutes})."
        return text

    def save(self, root: Path) -> None:
        write_docs(root / "docs" / "calibration.md", markdown(self.rows), self.header())
        results = root / "bench" / "results" / "calibration.json"
        tmp = results.with_suffix(".json.tmp")
        payload = {"header": self.header(), "runs": self.runs, "rows": [r.as_dict() for r in self.rows]}
        tmp.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
        tmp.replace(results)


def cell_filter(specs: list[str]) -> Callable[[Cell], bool]:
    """Cells matching any of ``specs``, each ``FAMILY [key=value ...]`` with keys n, K, het, mean
    and effect (``compare``: every compare cell; ``robust n=300 K=1 het=high effect=identical``)."""
    wanted = []
    for spec in specs:
        family, *pairs = spec.split()
        fields: dict[str, str] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or key not in ("n", "K", "het", "mean", "effect"):
                raise SystemExit(f"--cells {spec!r}: {pair!r} is not key=value with a key of n, K, het, mean, effect")
            fields[key] = value
        if family not in FAMILIES:
            raise SystemExit(f"--cells {spec!r}: no family {family!r} (one of {', '.join(FAMILIES)})")
        wanted.append((family, fields))

    def match(cell: Cell) -> bool:
        have = {"n": str(cell.n), "K": str(cell.k), "het": cell.het, "mean": f"{cell.mean:g}", "effect": cell.effect}
        return any(cell.family == f and all(have[k] == v for k, v in fields.items()) for f, fields in wanted)

    return match


BEGIN, END = "<!-- calibration table: begin (generated by bench/calibration.py) -->", "<!-- calibration table: end -->"


def write_docs(path: Path, table: str, header: str) -> None:
    text = path.read_text(encoding="utf-8") if path.is_file() else f"# Calibration\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    before, rest = text.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(f"{before}{BEGIN}\n{header}\n\n{table}\n{END}{after}", encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the small subset the tests run; writes nothing")
    parser.add_argument("--only", help="comma-separated families: " + ", ".join([*FAMILIES, "mde"]))
    parser.add_argument(
        "--cells",
        action="append",
        metavar="SPEC",
        help="only the grid's cells matching 'FAMILY [n=N] [K=K] [het=H] [mean=M] [effect=E]' (repeatable)",
    )
    parser.add_argument("--reps", type=int, help="replications per cell (default: the grid's)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="replace the rows these cells produce in bench/results/calibration.json and docs/calibration.md, "
        "keep the others",
    )
    parser.add_argument(
        "--parts", help="comma-separated measures of a family only (e.g. profile); writes only with --merge"
    )
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    cells = [c for c in grid(args.quick, args.reps) if only is None or c.family in only]
    if args.cells:
        cells = [c for c in cells if cell_filter(args.cells)(c)]
        if not cells:
            raise SystemExit(f"no cell of the grid matches --cells {args.cells}")
    if args.parts:
        cells = [replace(c, parts=tuple(args.parts.split(","))) for c in cells]
    partial = only is not None or bool(args.cells)
    mde = not args.quick and (only is None or "mde" in only) and not args.parts and not args.cells
    # --parts changes the cells' seeds and drops rows: only a merge (its rows replace theirs) writes it
    write = not args.quick and not args.no_write and (args.merge or not (partial or args.parts))
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    log(f"{len(cells)} cells, {sum(c.reps for c in cells)} replications, {args.workers} worker(s)")
    if partial and not args.merge and not args.no_write:
        log("a part of the grid: the table is printed, not written (--merge replaces its rows in the study)")
    results = ROOT / "bench" / "results" / "calibration.json"
    if args.merge and not results.is_file():
        raise SystemExit(f"--merge: no {results} to merge into (run the full study first)")
    command = shlex.join(sys.argv[1:] if argv is None else argv) or "default grid"
    run_id = f"{os.getpid()}-{time.time():.0f}"
    headers: list[str] = []

    def save(total: Tallies, done: int, planned: int) -> None:
        rows = rows_of(total)
        elapsed = time.perf_counter() - started
        progress = f"{done} of {planned} chunks of replications done in {elapsed / 60:.0f} min"
        if args.merge:
            # read again at every save: another merge may have written its rows in the meantime
            base = Study.load(results)
            run = {"kind": "merge", "id": run_id, "args": command, "cells": len(cells), "rows": len(rows)}
            run.update(done=done, planned=planned, seconds=round(elapsed), workers=args.workers)
            others = [r for r in base.runs if r.get("id") != run_id]
            study_now = Study(merged(base.rows, rows), [*others, run])
        else:
            description = f"{progress} with {args.workers} worker(s) (`{command}`)."
            study_now = Study(rows, [{"kind": "full", "description": description, "seconds": round(elapsed)}])
        if write:
            study_now.save(ROOT)
        headers.append(study_now.header())

    total = study(cells, args.workers, mde, mde_reps=args.reps or 1000, log=log, checkpoint=save)
    print(markdown(rows_of(total)))
    print("\n" + headers[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
