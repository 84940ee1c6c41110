"""``tailgate compare``: a delta between two runs is a hypothesis, tested on the shared items.

Pairing. Records are joined on (item, variant); an item takes part when both runs scored it on at
least one shared variant, and its score in each run is the mean over those samples. The paired
difference d_i = cand_i - base_i has variance Var(base) + Var(cand) - 2 Cov: when the two runs
agree on which items are hard (correlation > 0), the paired interval is narrower than an unpaired
one, which is reported next to it.

Tests. Binary scores with one sample per (item, variant) in both runs: McNemar's test on the
discordant pairs, exact and mid-p (Fagerland, Lydersen & Laake 2013). Otherwise a paired t-test
on item means (the cluster-level analysis of Miller 2024). Non-linear measures (pass^k, the
never-pass share, latency percentiles) use a paired bootstrap: each replicate draws items with
replacement and computes the measure in both runs on the *same* draw. Its two-sided p-value is
2 x (min(#replicates with delta <= 0, #with delta >= 0) + 1) / (B + 1): ties count on both
sides (">=" not ">"), which is conservative, and the +1 keeps it from ever reading 0.

Slices. Every value of every attribute (declared and derived) and every conjunction of two, with
at least ``min_items`` shared items, gets a paired delta with a t interval (a slice with exactly
the items of an earlier one is the same test under another name and is left out); p-values are
adjusted over all of them with Benjamini-Hochberg and, because slices overlap (the same item is
in many), with Benjamini-Yekutieli, which holds under any dependence.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tailgate.analysis._data import NORMALIZED_ANSWER, OUTPUT_JSON, RunData, exact_sum, load_run, references
from tailgate.analysis._estimate import Estimate, _t_quantile, _z_quantile
from tailgate.analysis._slices import equal_mask, item_features
from tailgate.analysis._stats import Binned, adjust_bh, adjust_by, item_weights, pass_hat_k
from tailgate.errors import UsageError
from tailgate.store import Store

__all__ = ["CompareOptions", "Comparison", "compare_runs", "format_p", "mcnemar", "paired_delta", "power_for"]


def format_p(p: float | None) -> str:
    """A p-value in two significant digits; an exact 0 (below the smallest double) as "<1e-300"."""
    if p is None:
        return "n/a"
    return "<1e-300" if p == 0 else f"{p:.2g}"


@dataclass(frozen=True)
class CompareOptions:
    """What ``tailgate compare`` computes; recorded in its output."""

    confidence: float = 0.95
    pass_threshold: float | None = None
    fdr: float = 0.05
    min_items: int = 10
    max_depth: int = 2
    bootstrap: int = 2000
    seed: int = 0
    power: float = 0.8
    alpha: float = 0.05
    target_delta: float | None = None
    """Smallest change worth detecting, for the sample-size advice (default: the MDE is reported)."""
    allow_changed_items: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Comparison:
    base: dict[str, Any]
    cand: dict[str, Any]
    options: dict[str, Any]
    pairing: dict[str, Any]
    overall: dict[str, Any]
    slices: list[dict[str, Any]]
    warnings: list[str]
    beyond: dict[str, Any]
    newly_failing: list[dict[str, Any]]
    power: dict[str, Any]
    plots: dict[str, Any] = field(default_factory=dict)
    newly_failing_count: int = 0
    """All items that always passed in the base and not in the candidate (the list shows the worst)."""
    unavailable: dict[str, dict[str, str]] = field(default_factory=dict)
    """Beyond-accuracy measures not compared, each with ``reason`` and ``kind``: ``absent`` (neither
    run has what the measure needs: no repeats, no item asking for JSON, no latencies) or
    ``one_run`` (one run has it and the other does not)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "base": self.base,
            "cand": self.cand,
            "options": self.options,
            "pairing": self.pairing,
            "overall": self.overall,
            "slices": self.slices,
            "warnings": self.warnings,
            "beyond_accuracy": self.beyond,
            "newly_failing": self.newly_failing,
            "newly_failing_count": self.newly_failing_count,
            "unavailable": self.unavailable,
            "power": self.power,
            "plots": self.plots,
        }


def paired_delta(base: np.ndarray, cand: np.ndarray, confidence: float = 0.95) -> dict[str, Any]:
    """Mean paired difference of per-item scores with a t interval, the test of delta = 0, and
    the unpaired standard error for comparison."""
    d = cand - base
    n = int(d.size)
    if n < 2:
        return {
            "estimate": Estimate(
                float(d.mean()) if n else None, None, None, n, n, "too few items", None, confidence
            ).as_dict(),
            "p_value": None,
            "n_items": n,
        }
    from scipy import stats

    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    se = sd / math.sqrt(n)
    t = _t_quantile(confidence, n - 1)
    p = float(stats.ttest_rel(cand, base).pvalue) if sd > 0 else (1.0 if mean == 0 else 0.0)
    unpaired = math.sqrt(float(base.var(ddof=1)) / n + float(cand.var(ddof=1)) / n)
    corr = float(np.corrcoef(base, cand)[0, 1]) if base.std() > 0 and cand.std() > 0 else None
    corr_ci = None
    if corr is not None and n > 3 and abs(corr) < 1:
        # Fisher's z: atanh(r) is about normal with SE 1 / sqrt(n - 3)
        half = _z_quantile(confidence) / math.sqrt(n - 3)
        corr_ci = [math.tanh(math.atanh(corr) - half), math.tanh(math.atanh(corr) + half)]
    return {
        "estimate": Estimate(
            mean, mean - t * se, mean + t * se, n, n, f"paired mean difference over items, t({n - 1})", se, confidence
        ).as_dict(),
        "p_value": p,
        "test": "paired t-test on item means (two-sided)",
        "sd_item_delta": sd,
        "paired_se": se,
        "unpaired_se": unpaired,
        "correlation": corr,
        "correlation_ci": corr_ci,
        "n_items": n,
    }


def mcnemar(base_pass: np.ndarray, cand_pass: np.ndarray) -> dict[str, Any]:
    """McNemar's test on paired 0/1 outcomes: exact (binomial, two-sided) and mid-p."""
    from scipy import stats

    b = int(np.sum((base_pass == 1) & (cand_pass == 0)))  # lost
    c = int(np.sum((base_pass == 0) & (cand_pass == 1)))  # gained
    n = b + c
    if n == 0:
        return {"lost": b, "gained": c, "exact_p": 1.0, "mid_p": 1.0, "method": "McNemar: no discordant pairs"}
    k = min(b, c)
    exact = min(1.0, 2.0 * float(stats.binom.cdf(k, n, 0.5)))
    mid = min(1.0, 2.0 * (float(stats.binom.cdf(k, n, 0.5)) - 0.5 * float(stats.binom.pmf(k, n, 0.5))))
    return {
        "lost": b,
        "gained": c,
        "exact_p": exact,
        "mid_p": mid,
        "method": "McNemar exact (binomial) and mid-p, two-sided",
    }


def power_for(
    sd: float,
    n: int,
    alpha: float = 0.05,
    power: float = 0.8,
    target: float | None = None,
    between: float | None = None,
    within: float | None = None,
    repeats: int = 1,
) -> dict[str, Any]:
    """Minimum detectable effect of a paired comparison, and the items needed for ``target``.

    The test is the two-sided paired t-test on n item deltas, so its power at a true mean delta
    delta is that of Student's t with n - 1 degrees of freedom and noncentrality delta sqrt(n) / sd
    (both tails counted, as statsmodels' ``TTestPower``); the MDE is the delta whose power is
    ``power``. The normal approximation (z_{1-alpha/2} + z_{power}) sd / sqrt(n) is optimistic at
    small n. With the variance of an item's delta split into between-item B and within-item W / K,
    the items needed for a delta with K repeats are the smallest n whose t-test power at sd^2 =
    B + W / K reaches ``power``.
    """
    mde = _t_mde(sd, n, alpha, power) if n > 1 else None
    out: dict[str, Any] = {
        "alpha": alpha,
        "power": power,
        "n_items": n,
        "sd_item_delta": sd,
        "mde": mde,
        "method": f"paired t-test, noncentral t({n - 1}), two-sided" if n > 1 else "too few items",
    }
    if target:
        rows = []
        for k in (1, 3, 5, 10):
            var = (between + within / k) if between is not None and within is not None else sd * sd * repeats / k
            rows.append(
                {"repeats": k, "items_needed": _t_items_needed(math.sqrt(max(var, 1e-12)), target, alpha, power)}
            )
        out["target_delta"] = target
        out["items_needed"] = rows
    return out


def _t_power(effect: float, n: float, alpha: float) -> float:
    """Power of the two-sided one-sample t-test at standardised effect ``effect`` with n units."""
    from scipy import stats

    df = n - 1
    crit = float(stats.t.ppf(1 - alpha / 2, df))
    nc = effect * math.sqrt(n)
    exact = float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))
    if math.isfinite(exact):
        return exact
    # scipy's noncentral t fails far in the tail (tiny df, huge nc): the normal approximation
    # of the noncentral t (Johnson & Welch 1940), ample there, keeps the search monotone
    return float(stats.norm.cdf((nc - crit * (1 - 1 / (4 * df))) / math.sqrt(1 + crit * crit / (2 * df))))


def _t_mde(sd: float, n: int, alpha: float, power: float) -> float:
    from scipy.optimize import brentq

    if sd <= 0:
        return 0.0
    z = (_z_quantile(1 - alpha) + _z_quantile(2 * power - 1)) / math.sqrt(n)  # the normal answer: a lower bound
    hi = z * 2
    while _t_power(hi, n, alpha) < power:
        hi *= 2
    return float(brentq(lambda e: _t_power(e, n, alpha) - power, z * 0.5, hi, xtol=1e-10)) * sd


def _t_items_needed(sd: float, delta: float, alpha: float, power: float) -> int:
    """The smallest n >= 2 whose paired t-test has ``power`` at a true delta of ``delta``."""
    effect = abs(delta) / sd
    z = _z_quantile(1 - alpha) + _z_quantile(2 * power - 1)
    low = max(2, math.ceil((z / effect) ** 2))  # the normal answer; the t answer is at least this
    if _t_power(effect, low, alpha) >= power:
        return low
    high = low + 1
    while _t_power(effect, high, alpha) < power:
        low, high = high, 2 * high
    while high - low > 1:  # power grows with n: the smallest n that reaches it lies in (low, high]
        mid = (low + high) // 2
        low, high = (low, mid) if _t_power(effect, mid, alpha) >= power else (mid, high)
    return high


def compare_runs(store: Store, base_id: str, cand_id: str, options: CompareOptions | None = None) -> Comparison:
    """Compare two stored runs item by item (see the module docstring)."""
    options = options or CompareOptions()
    base = load_run(store, base_id, options.pass_threshold)
    cand = load_run(store, cand_id, options.pass_threshold)
    try:
        return _compare(base, cand, options)
    finally:
        base.close()
        cand.close()


def _units(data: RunData) -> dict[str, np.ndarray]:
    return data.query(
        f"""SELECT item_id, variant, count(score) AS n, coalesce({exact_sum("score")}, 0) AS s,
                   count_if(score >= {float(data.pass_threshold)!r}) AS p
            FROM records WHERE score IS NOT NULL GROUP BY ALL ORDER BY item_id, variant"""
    )


@dataclass(frozen=True)
class _Paired:
    """The shared (item, variant) units of two runs and their per-item summaries.

    ``b`` and ``c`` are each run's unit rows (n, s = score sum, p = passes, variant) restricted
    to the shared units, in the same order; ``inverse`` maps a unit to its item in ``item_ids``.
    """

    b: dict[str, np.ndarray]
    c: dict[str, np.ndarray]
    item_ids: np.ndarray
    inverse: np.ndarray

    @classmethod
    def of(cls, ub: dict[str, np.ndarray], uc: dict[str, np.ndarray], bi: np.ndarray, ci: np.ndarray) -> _Paired:
        b = {k: v[bi] for k, v in ub.items()}
        c = {k: v[ci] for k, v in uc.items()}
        item_ids, inverse = np.unique(b["item_id"], return_inverse=True)
        return cls(b, c, item_ids, inverse)

    def per_item(self, side: dict[str, np.ndarray], key: str) -> np.ndarray:
        """A unit column summed per item."""
        return np.bincount(self.inverse, weights=side[key].astype(float), minlength=self.item_ids.size)

    @property
    def n_b(self) -> np.ndarray:
        return self.per_item(self.b, "n")

    @property
    def n_c(self) -> np.ndarray:
        return self.per_item(self.c, "n")

    @property
    def mean_b(self) -> np.ndarray:
        return np.asarray(self.per_item(self.b, "s") / self.n_b)

    @property
    def mean_c(self) -> np.ndarray:
        return np.asarray(self.per_item(self.c, "s") / self.n_c)


@dataclass(frozen=True)
class _Matched:
    """The shared units at a common number of repeats: in each unit, both runs' first
    min(K_base, K_cand) samples by repeat index (``paired``), next to every sample (``full``).

    Never-pass, "always passed" and answer consistency change with K alone (more tries, more
    chances to pass once and to answer differently), so they are compared at equal K. Taking the
    first repeats by index, not a random subset, keeps the report byte-identical. When every
    unit has the same number of samples in both runs, ``paired`` is ``full``.
    """

    full: _Paired
    paired: _Paired
    answers: tuple[np.ndarray, np.ndarray]
    """Per shared unit, each run's number of samples with an output."""
    answered: dict[str, np.ndarray] | None = None
    """Per shared unit: item_id, variant and k, the common number of answered samples (for
    consistency); None when the runs have the same number everywhere."""

    @property
    def thinned(self) -> bool:
        return self.paired is not self.full

    def consistency(self, data: RunData, side: str) -> np.ndarray:
        """Per item of ``full.item_ids``: mean over its units of the top answer's share."""
        if self.answered is None:
            return _consistency_per_item(data, self.full.item_ids)
        data.con.register("matched_units", _arrow(self.answered))
        try:
            rows = data.query(
                f"""WITH first AS ({_first_repeats("output IS NOT NULL")}),
                answers AS (SELECT item_id, variant, {NORMALIZED_ANSWER} AS a, count(*)::DOUBLE AS c
                            FROM first GROUP BY ALL),
                units AS (SELECT item_id, variant, max(c) / sum(c) AS share FROM answers
                          GROUP BY ALL HAVING sum(c) >= 2)
                SELECT item_id, avg(share) AS v FROM units GROUP BY item_id"""
            )
        finally:
            data.con.unregister("matched_units")
        lookup = dict(zip(rows["item_id"].tolist(), rows["v"].tolist(), strict=True))
        return np.array([lookup.get(str(i), np.nan) for i in self.full.item_ids.tolist()], dtype=float)


def _first_repeats(where: str) -> str:
    """Records of the units in ``matched_units``, only the first k (by repeat index) that meet ``where``."""
    return (
        'SELECT r.* FROM (SELECT *, row_number() OVER (PARTITION BY item_id, variant ORDER BY "repeat", sample_id) '
        f"AS rank_ FROM records WHERE {where}) r JOIN matched_units m USING (item_id, variant) WHERE r.rank_ <= m.k"
    )


def _arrow(columns: dict[str, np.ndarray]) -> Any:
    import pyarrow as pa

    return pa.table({k: pa.array(v.tolist()) for k, v in columns.items()})


def _matched(base: RunData, cand: RunData, paired: _Paired) -> _Matched:
    """``paired`` at equal numbers of samples per unit (see :class:`_Matched`)."""
    b, c = paired.b, paired.c
    answered_b, answered_c = _answered(base, b), _answered(cand, c)
    same_scored = bool(np.array_equal(b["n"], c["n"]))
    same_answered = bool(np.array_equal(answered_b, answered_c))
    if same_scored and same_answered:
        return _Matched(paired, paired, (answered_b, answered_c))
    thinned = paired
    if not same_scored:
        k = np.minimum(b["n"], c["n"]).astype(np.int64)
        units = {"item_id": b["item_id"], "variant": b["variant"], "k": k}
        sides = []
        for data in (base, cand):
            data.con.register("matched_units", _arrow(units))
            try:
                rows = data.query(
                    f"""SELECT item_id, variant, count(score) AS n, coalesce({exact_sum("score")}, 0) AS s,
                               count_if(score >= {float(data.pass_threshold)!r}) AS p
                        FROM ({_first_repeats("score IS NOT NULL")}) GROUP BY ALL"""
                )
            finally:
                data.con.unregister("matched_units")
            at = {(i, v): j for j, (i, v) in enumerate(zip(rows["item_id"], rows["variant"], strict=True))}
            order = np.array([at[(i, v)] for i, v in zip(b["item_id"], b["variant"], strict=True)], dtype=np.int64)
            sides.append({key: rows[key][order] for key in ("item_id", "variant", "n", "s", "p")})
        thinned = _Paired(sides[0], sides[1], paired.item_ids, paired.inverse)
    answered = None
    if not same_answered:
        answered = {"item_id": b["item_id"], "variant": b["variant"], "k": np.minimum(answered_b, answered_c)}
    return _Matched(paired, thinned, (answered_b, answered_c), answered)


def _answered(data: RunData, units: dict[str, np.ndarray]) -> np.ndarray:
    """For each unit, the run's number of samples with an output."""
    rows = data.query("SELECT item_id, variant, count(*) AS n FROM records WHERE output IS NOT NULL GROUP BY ALL")
    at = {(i, v): int(n) for i, v, n in zip(rows["item_id"], rows["variant"], rows["n"], strict=True)}
    keys = zip(units["item_id"], units["variant"], strict=True)
    return np.array([at.get((i, v), 0) for i, v in keys], dtype=np.int64)


def _repeats_info(paired: _Paired, matched: _Matched) -> dict[str, Any]:
    """Samples per (item, variant) in each run (the median over shared units) and whether the
    measures that depend on it were computed on the first common repeats."""
    return {
        "repeats_base": int(np.median(paired.b["n"])),
        "repeats_cand": int(np.median(paired.c["n"])),
        "repeats_matched": matched.thinned or matched.answered is not None,
    }


def _repeats_warning(pairing: dict[str, Any]) -> list[str]:
    kb, kc = pairing["repeats_base"], pairing["repeats_cand"]
    if kb == kc:
        return []
    k = min(kb, kc)
    return [
        f"the runs have different numbers of repeats (base {kb}, candidate {kc} samples per item-variant): "
        f"never-pass, consistency and newly failing items are compared on the first {k} repeat(s) of each in "
        f"both runs (by repeat index), pass^k at k <= {k}; the mean score uses every sample (unbiased at any "
        "number of repeats), but the two runs' precision differs"
    ]


def _identical(power: dict[str, Any], paired: _Paired) -> dict[str, Any]:
    """Runs with the same score on every shared item: say so instead of "significant change"
    and an MDE of 0 (the item deltas have no spread, so no MDE can be computed from them)."""
    if paired.item_ids.size < 2 or not np.array_equal(paired.mean_b, paired.mean_c):
        return {**power, "identical": False}
    return {
        **power,
        "mde": None,
        "underpowered": False,
        "identical": True,
        "statement": f"identical results: no difference on any of the {paired.item_ids.size} shared items",
    }


def _template_check(base: RunData, cand: RunData) -> list[str]:
    """Variants whose template definitions differ between the runs' suites."""

    a, b = base.manifest.templates, cand.manifest.templates
    changed = {name for name in set(a) & set(b) if a[name] != b[name]}
    # generated variants (formats, perturbations, paraphrases) share names across suites only if
    # their definitions match: the same name with other parameters is another prompt
    if base.manifest.generated_variants != cand.manifest.generated_variants:
        shared = set(base.manifest.variants or ()) & set(cand.manifest.variants or ())
        changed |= {name for name in shared if name not in a or "+" in name}
    return sorted(changed)


def _compare(base: RunData, cand: RunData, options: CompareOptions) -> Comparison:
    if base.binary != cand.binary:
        raise UsageError("one run has 0/1 scores and the other does not: they were not scored the same way")
    changed_templates = _template_check(base, cand)
    if changed_templates:
        raise UsageError(
            f"the runs' suites define variant(s) {', '.join(changed_templates)} differently: the same item "
            "would be asked in different words; compare runs of the same templates"
        )
    ub, uc = _units(base), _units(cand)
    key_b = {(i, v): j for j, (i, v) in enumerate(zip(ub["item_id"], ub["variant"], strict=True))}
    shared = [
        (key_b[(i, v)], j) for j, (i, v) in enumerate(zip(uc["item_id"], uc["variant"], strict=True)) if (i, v) in key_b
    ]
    bi = np.array([s[0] for s in shared], dtype=np.int64)
    ci = np.array([s[1] for s in shared], dtype=np.int64)
    pairing = _pairing(base, cand, ub, uc, bi, options)
    if bi.size == 0:
        for data, units, role in ((base, ub, "base"), (cand, uc, "candidate")):
            if units["item_id"].size == 0:  # the real reason, not "no shared items"
                raise UsageError(f"the {role} run {data.run_id} has no scored sample: {_why_unscored(data)}")
        raise UsageError("the two runs share no (item, variant): nothing to compare")
    paired = _Paired.of(ub, uc, bi, ci)
    mean_b, mean_c = paired.mean_b, paired.mean_c
    matched = _matched(base, cand, paired)
    pairing.update(_repeats_info(paired, matched))
    overall = _overall(base, cand, paired, mean_b, mean_c, options)
    slices = _slice_deltas(_aligned_features(base, paired.item_ids), paired, mean_b, mean_c, options)
    warnings = _repeats_warning(pairing) + _warnings(overall, slices, options)
    beyond, unavailable = _beyond(base, cand, matched, options)
    newly, newly_count = _newly_failing(base, cand, matched.paired)
    power = _identical(_power(overall, paired, mean_c - mean_b, _within(base) + _within(cand), options), paired)
    plots = {"paired_scores": _thin_pairs(mean_b, mean_c)}
    return Comparison(
        _run_info(base),
        _run_info(cand),
        options.as_dict(),
        pairing,
        overall,
        slices,
        warnings,
        beyond,
        newly,
        power,
        plots,
        newly_count,
        unavailable,
    )


def _why_unscored(data: RunData) -> str:
    """Why a run has no scored sample, from its manifest (a failed run says why) or its records."""
    if error := data.manifest.error:
        return str(error)
    rows = data.query("SELECT count(*) AS n, count(error_class) AS errors, count(output) AS answered FROM records")
    n, errors = int(rows["n"][0]), int(rows["errors"][0])
    if n == 0:
        return "it has no records"
    if errors == n:
        return f"every one of its {n} samples failed (see tailgate show {data.run_id})"
    return f"{n - errors} samples were answered but none could be scored (see tailgate show {data.run_id})"


def _run_info(data: RunData) -> dict[str, Any]:
    m = data.manifest
    return {
        "run_id": data.run_id,
        "suite": m.suite.name,
        "model": m.model.spec,
        "mode": m.mode,
        "repeats": m.repeats,
        "variants": None if m.variants is None else list(m.variants),
    }


def _pairing(
    base: RunData,
    cand: RunData,
    ub: dict[str, np.ndarray],
    uc: dict[str, np.ndarray],
    bi: np.ndarray,
    options: CompareOptions,
) -> dict[str, Any]:
    items_b, items_c = set(ub["item_id"].tolist()), set(uc["item_id"].tolist())
    shared_items = set(ub["item_id"][bi].tolist())
    # the same dataset id with a different content hash: the question or the reference changed
    src_b = {str(s): str(i) for i, s in zip(base.items.item_id, base.items.source_id, strict=True) if s is not None}
    src_c = {str(s): str(i) for i, s in zip(cand.items.item_id, cand.items.source_id, strict=True) if s is not None}
    changed = sorted(s for s in set(src_b) & set(src_c) if src_b[s] != src_c[s])
    if changed and not options.allow_changed_items:
        raise UsageError(
            f"{len(changed)} item(s) have the same dataset id but a different question or reference in the two "
            f"runs (e.g. {', '.join(changed[:3])}): the suites do not match. Use --allow-changed-items to compare "
            "the unchanged items only"
        )
    return {
        "shared_items": len(shared_items),
        "shared_units": int(bi.size),
        "only_in_base": len(items_b - items_c),
        "only_in_cand": len(items_c - items_b),
        "changed_items": changed[:50],
        "n_changed_items": len(changed),
        "examples_only_in_base": _names(base, sorted(items_b - items_c)[:10]),
        "examples_only_in_cand": _names(cand, sorted(items_c - items_b)[:10]),
    }


def _names(data: RunData, item_ids: list[str]) -> list[str]:
    """Dataset ids where the items have them (what a user recognises), else the content hash."""
    source = data.items.source_id
    rows = data.items.index_of(item_ids)
    return [i if source[k] is None else str(source[k]) for i, k in zip(item_ids, rows, strict=True)]


def _overall(
    base: RunData,
    cand: RunData,
    paired: _Paired,
    mean_b: np.ndarray,
    mean_c: np.ndarray,
    options: CompareOptions,
) -> dict[str, Any]:
    from tailgate.analysis._stats import estimate_from_sums

    b, c = paired.b, paired.c
    n_b, n_c = paired.n_b, paired.n_c
    delta = paired_delta(mean_b, mean_c, options.confidence)
    out = {
        "base": estimate_from_sums(n_b, mean_b * n_b, base.binary, options.confidence).as_dict(),
        "cand": estimate_from_sums(n_c, mean_c * n_c, cand.binary, options.confidence).as_dict(),
        **delta,
        "mcnemar": None,
    }
    one_each = bool((b["n"] == 1).all() and (c["n"] == 1).all())
    if base.binary and one_each:
        test = mcnemar((b["s"] >= 1).astype(int), (c["s"] >= 1).astype(int))
        out["mcnemar"] = test
        out["p_value"] = test["mid_p"]
        out["test"] = "McNemar mid-p on (item, variant) pairs (two-sided)"
    return out


def _aligned_features(data: RunData, item_ids: np.ndarray) -> dict[str, np.ndarray]:
    index = data.items.index_of(item_ids.tolist())
    return {name: labels[index] for name, labels in item_features(data).items()}


def _slice_deltas(
    features: dict[str, np.ndarray],
    paired: _Paired,
    mean_b: np.ndarray,
    mean_c: np.ndarray,
    options: CompareOptions,
) -> list[dict[str, Any]]:
    from scipy import stats

    d = mean_c - mean_b
    candidates: list[tuple[str, str, Any]] = []
    singles = []
    for name, labels in features.items():
        for value in sorted({v for v in labels.tolist() if v is not None}, key=str):
            mask = equal_mask(labels, value)
            if mask.sum() >= options.min_items:
                singles.append((name, str(value), mask))
    candidates.extend(("declared" if not n.startswith("auto:") else "derived", f"{n}={v}", m) for n, v, m in singles)
    if options.max_depth >= 2:
        for (n1, v1, m1), (n2, v2, m2) in itertools.combinations(singles, 2):
            if n1 == n2:
                continue
            mask = m1 & m2
            if options.min_items <= mask.sum() < min(m1.sum(), m2.sum()):
                candidates.append(("conjunction", f"{n1}={v1} AND {n2}={v2}", mask))
    # variants: pairs of units of that variant
    variants = paired.b["variant"]
    for value in sorted(set(variants.tolist()), key=str):
        unit_mask = equal_mask(variants, value)
        if len(set(variants.tolist())) > 1 and np.unique(paired.inverse[unit_mask]).size >= options.min_items:
            candidates.append(("variant", f"variant={value}", _variant_delta(paired, unit_mask)))
    rows: list[dict[str, Any]] = []
    pvals = []
    seen: set[bytes] = set()
    for kind, label, mask_or_delta in candidates:
        if kind != "variant":
            # the same items under another name (task=json AND x, answer_type=object AND x): one test
            key = np.packbits(mask_or_delta).tobytes()
            if key in seen:
                continue
            seen.add(key)
        if kind == "variant":
            dd, bb, cc = mask_or_delta
        else:
            dd, bb, cc = d[mask_or_delta], mean_b[mask_or_delta], mean_c[mask_or_delta]
        n = dd.size
        mean = float(dd.mean())
        sd = float(dd.std(ddof=1)) if n > 1 else 0.0
        se = sd / math.sqrt(n) if n > 1 else 0.0
        t = _t_quantile(options.confidence, max(n - 1, 1))
        p = float(stats.ttest_1samp(dd, 0.0).pvalue) if sd > 0 else (1.0 if mean == 0 else 0.0)
        pvals.append(p)
        rows.append(
            {
                "slice": label,
                "kind": kind,
                "n_items": int(n),
                "base": float(bb.mean()),
                "cand": float(cc.mean()),
                "delta": Estimate(
                    mean,
                    mean - t * se,
                    mean + t * se,
                    int(n),
                    int(n),
                    f"paired mean difference, t({n - 1})",
                    se,
                    options.confidence,
                ).as_dict(),
                "p_value": p,
            }
        )
    if rows:
        bh, by = adjust_bh(np.array(pvals)), adjust_by(np.array(pvals))
        for row, a, b in zip(rows, bh, by, strict=True):
            row["p_bh"], row["p_by"] = float(a), float(b)
    rows.sort(key=lambda r: (r["delta"]["value"], r["p_value"]))
    return rows


def _variant_delta(paired: _Paired, unit_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    b = paired.b["s"][unit_mask] / paired.b["n"][unit_mask]
    c = paired.c["s"][unit_mask] / paired.c["n"][unit_mask]
    return c - b, b, c


def _warnings(overall: dict[str, Any], slices: list[dict[str, Any]], options: CompareOptions) -> list[str]:
    out = []
    delta = overall["estimate"]["value"] or 0.0
    down = [s for s in slices if s["delta"]["value"] < 0 and s.get("p_by", 1.0) <= options.fdr]
    if delta > 0 and down:
        worst = down[0]
        out.append(
            f"the mean went up ({delta:+.3f}) while {len(down)} slice(s) went down significantly; worst: "
            f"{worst['slice']} {worst['delta']['value']:+.3f} [{worst['delta']['low']:+.3f}, "
            f"{worst['delta']['high']:+.3f}], n={worst['n_items']} items, adjusted p={format_p(worst['p_by'])}"
        )
    return out


def _beyond(
    base: RunData, cand: RunData, matched: _Matched, options: CompareOptions
) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """Measures beyond the mean, and why any of them could not be compared. Those that depend on
    the number of repeats K (never-pass, consistency) use the first common K repeats of each
    unit in both runs (``matched``)."""
    paired, full = matched.paired, matched.full
    b, c, item_ids = paired.b, paired.c, paired.item_ids
    items = item_ids.size
    out: dict[str, Any] = {}
    unavailable: dict[str, dict[str, str]] = {}
    # per-item values that the paired bootstrap averages with item weights
    per_item: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "never_pass": ((paired.per_item(b, "p") == 0).astype(float), (paired.per_item(c, "p") == 0).astype(float)),
    }
    # pass^k's estimator is unbiased at any K >= k: every sample of each unit is used
    k = int(min(full.b["n"].min(), full.c["n"].min(), 10))
    if k >= 2:
        units = np.bincount(full.inverse)
        per_item[f"pass_hat_{k}"] = (
            np.bincount(full.inverse, pass_hat_k(full.b["n"], full.b["p"], k)) / units,
            np.bincount(full.inverse, pass_hat_k(full.c["n"], full.c["p"], k)) / units,
        )
    else:
        unavailable["pass_hat_k"] = _why(
            bool(full.b["n"].max() >= 2), bool(full.c["n"].max() >= 2), "2 or more scored samples per item-variant"
        )
    cons_b, cons_c = matched.consistency(base, "b"), matched.consistency(cand, "c")
    keep = ~np.isnan(cons_b) & ~np.isnan(cons_c)
    if keep.sum() >= 2:
        out["consistency"] = _paired_levels(cons_b[keep], cons_c[keep], options.confidence)
    else:
        answers_b, answers_c = matched.answers
        unavailable["consistency"] = _why(
            bool((answers_b >= 2).any()), bool((answers_c >= 2).any()), "2 or more answers per item-variant"
        )
    json_b, json_c = _json_validity_per_item(base, item_ids), _json_validity_per_item(cand, item_ids)
    keep = ~np.isnan(json_b) & ~np.isnan(json_c)
    if keep.sum() >= 2:
        out["json_validity"] = _paired_levels(json_b[keep], json_c[keep], options.confidence)
    else:
        unavailable["json_validity"] = _why(
            bool((~np.isnan(json_b)).any()), bool((~np.isnan(json_c)).any()), "items asking for JSON (with outputs)"
        )
    lat_b, lat_c = _latency(base, item_ids), _latency(cand, item_ids)
    if not (lat_b[0].size and lat_c[0].size):
        unavailable["latency"] = _why(bool(lat_b[0].size), bool(lat_c[0].size), "latencies")
    out.update(_paired_bootstrap(per_item, lat_b, lat_c, items, options))
    return out, unavailable


def _why(in_base: bool, in_cand: bool, needs: str) -> dict[str, str]:
    """Why a measure was not compared: neither run has what it needs, or only one has."""
    if not in_base and not in_cand:
        return {"kind": "absent", "reason": f"neither run has {needs}"}
    if in_base and in_cand:
        return {"kind": "absent", "reason": f"fewer than 2 shared items have {needs} in both runs"}
    missing = "candidate" if in_base else "base"
    return {"kind": "one_run", "reason": f"the {missing} run has no {needs} (the other run has)"}


def _level_estimate(values: np.ndarray, confidence: float) -> dict[str, Any]:
    """Mean of per-item values in [0, 1] with a t interval over items."""
    n = int(values.size)
    mean = float(values.mean()) if n else float("nan")
    if n < 2:
        return Estimate(mean if n else None, None, None, n, n, "too few items", None, confidence).as_dict()
    se = float(values.std(ddof=1)) / math.sqrt(n)
    t = _t_quantile(confidence, n - 1)
    return Estimate(
        mean, max(0.0, mean - t * se), min(1.0, mean + t * se), n, n, f"mean over items, t({n - 1})", se, confidence
    ).as_dict()


def _paired_levels(base: np.ndarray, cand: np.ndarray, confidence: float) -> dict[str, Any]:
    """A paired delta with each run's own level (mean over the same items)."""
    delta = paired_delta(base, cand, confidence)
    return {
        **delta,
        "delta": delta["estimate"],
        "base_estimate": _level_estimate(base, confidence),
        "cand_estimate": _level_estimate(cand, confidence),
    }


def _consistency_per_item(data: RunData, item_ids: np.ndarray) -> np.ndarray:
    from tailgate.analysis._consistency import _unit_rows

    rows = _unit_rows(data)
    out = np.full(item_ids.size, np.nan)
    if rows["n"].size == 0:
        return out
    frac = rows["top"] / rows["n"]
    codes = rows["code"].astype(np.int64)
    per_code_sum = np.bincount(codes, weights=frac, minlength=data.items.size)
    per_code_n = np.bincount(codes, minlength=data.items.size)
    codes_of = data.items.index_of(item_ids.tolist())
    found = codes_of >= 0
    seen = found.copy()
    seen[found] = per_code_n[codes_of[found]] > 0
    out[seen] = per_code_sum[codes_of[seen]] / per_code_n[codes_of[seen]]
    return out


def _json_validity_per_item(data: RunData, item_ids: np.ndarray) -> np.ndarray:
    rows = data.query(
        f"SELECT item_id, avg(CASE WHEN {OUTPUT_JSON} = 'valid' THEN 1.0 ELSE 0.0 END) AS v FROM records "
        "WHERE output IS NOT NULL AND item_id IN (SELECT item_id FROM items "
        "WHERE lower(input) LIKE '%json%') GROUP BY item_id"
    )
    lookup = dict(zip(rows["item_id"].tolist(), rows["v"].tolist(), strict=True))
    return np.array([lookup.get(str(i), np.nan) for i in item_ids.tolist()], dtype=float)


def _positions(data: RunData, item_ids: np.ndarray) -> np.ndarray:
    """For each of the run's item codes, its index in the sorted ``item_ids`` (or -1)."""
    ids = data.items.item_id.astype(str)
    sorted_ids = item_ids.astype(str)
    at = np.clip(np.searchsorted(sorted_ids, ids), 0, max(sorted_ids.size - 1, 0))
    found = sorted_ids[at] == ids if sorted_ids.size else np.zeros(ids.size, dtype=bool)
    return np.where(found, at, -1)


def _latency(data: RunData, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = data.query(
        "SELECT c.code, r.latency_ms FROM records r JOIN item_codes c USING (item_id) "
        "WHERE r.error_class IS NULL AND r.latency_ms IS NOT NULL"
    )
    codes = _positions(data, item_ids)[rows["code"].astype(np.int64)]
    keep = codes >= 0
    return rows["latency_ms"][keep].astype(float), codes[keep]


def _paired_bootstrap(
    per_item: dict[str, tuple[np.ndarray, np.ndarray]],
    lat_b: tuple[np.ndarray, np.ndarray],
    lat_c: tuple[np.ndarray, np.ndarray],
    items: int,
    options: CompareOptions,
) -> dict[str, Any]:
    reps = options.bootstrap
    qs = [95.0, 99.0]
    has_latency = lat_b[0].size > 0 and lat_c[0].size > 0
    if has_latency:
        edges = None
        both = np.concatenate([lat_b[0], lat_c[0]])
        distinct = np.unique(both)
        exact = distinct.size <= 8192
        edges = distinct if exact else np.quantile(both, np.linspace(0.0, 1.0, 4097))
        bin_b = Binned.of(lat_b[0], lat_b[1], items, edges, exact)
        bin_c = Binned.of(lat_c[0], lat_c[1], items, edges, exact)
        reps = min(reps, bin_b.replicates(reps, 2e9), bin_c.replicates(reps, 2e9))
    names = list(per_item)
    deltas = {name: np.empty(reps) for name in names}
    lat_deltas = np.empty((reps, len(qs)))
    for start, w in item_weights(items, reps, options.seed):
        stop = start + w.shape[0]
        total = w.sum(axis=1)
        for name in names:
            b, c = per_item[name]
            deltas[name][start:stop] = (w @ c - w @ b) / total
        if has_latency:
            lat_deltas[start:stop] = bin_c.percentiles(w, qs) - bin_b.percentiles(w, qs)
    out = {}
    method = (
        f"paired item bootstrap, {reps} replicates, seed {options.seed}; two-sided p = "
        "2 (min(#delta* <= 0, #delta* >= 0) + 1) / (B + 1), ties counted on both sides"
    )
    for name in names:
        b, c = per_item[name]
        out[name] = {
            **_bootstrap_summary(float(b.mean()), float(c.mean()), deltas[name], items, method, options),
            "base_estimate": _level_estimate(b, options.confidence),
            "cand_estimate": _level_estimate(c, options.confidence),
        }
    if has_latency:
        for j, q in enumerate(qs):
            point_b = float(np.percentile(lat_b[0], q))
            point_c = float(np.percentile(lat_c[0], q))
            block = _bootstrap_summary(point_b, point_c, lat_deltas[:, j], items, method, options)
            if (short := _too_few_for_quantile(lat_b, lat_c, items, q / 100, options.confidence)) is not None:
                block["delta"].update(low=None, high=None, method=short)
                block["p_value"] = None
            out[f"latency_p{q:g}_ms"] = block
    return out


def _too_few_for_quantile(
    lat_b: tuple[np.ndarray, np.ndarray],
    lat_c: tuple[np.ndarray, np.ndarray],
    items: int,
    q: float,
    confidence: float,
) -> str | None:
    """Why the change of a latency quantile gets no interval or test: as the report's percentiles
    (an order-statistic interval needs n_eff >= log(alpha/2) / log(q) clustered samples), a run
    with fewer has no honest interval for its own p99, so neither has the difference; the paired
    bootstrap rejected a true null 14% (p95) and 24% (p99) of the time at 30 items x 1 sample."""
    from tailgate.analysis._stats import _quantile_n_eff

    need = math.log((1 - confidence) / 2) / math.log(max(q, 1 - q))
    for (values, codes), role in ((lat_b, "base"), (lat_c, "candidate")):
        _, inverse = np.unique(codes, return_inverse=True)
        n_eff, _ = _quantile_n_eff(values, inverse, int(inverse.max()) + 1, confidence)
        if n_eff < need:
            return (
                f"too few samples for a p{100 * q:g} change: needs a clustered n_eff >= {math.ceil(need)} in "
                f"each run, the {role} run has {n_eff:.0f} (no interval, no test; the values are shown)"
            )
    return None


def _bootstrap_summary(
    base: float, cand: float, deltas: np.ndarray, items: int, method: str, options: CompareOptions
) -> dict[str, Any]:
    alpha = (1 - options.confidence) / 2
    point = cand - base
    low, high = float(np.quantile(deltas, alpha)), float(np.quantile(deltas, 1 - alpha))
    # (count + 1) / (B + 1): a bootstrap p-value is never exactly 0 (Davison & Hinkley 1997, eq. 4.11)
    reps = deltas.size
    below, above = int(np.sum(deltas <= 0)), int(np.sum(deltas >= 0))
    p = min(1.0, 2 * (min(below, above) + 1) / (reps + 1))
    return {
        "base": base,
        "cand": cand,
        "delta": Estimate(point, low, high, items, items, method, None, options.confidence).as_dict(),
        "p_value": p,
        "ties": "counted (<= 0 and >= 0)",
    }


def _newly_failing(base: RunData, cand: RunData, paired: _Paired, limit: int = 20) -> tuple[list[dict[str, Any]], int]:
    """Items that always passed in the base and do not always pass in the candidate: the worst
    ``limit`` of them with both outputs, and how many there are."""
    item_ids = paired.item_ids
    always_before = paired.per_item(paired.b, "p") == paired.n_b
    now = paired.per_item(paired.c, "p") / paired.n_c
    newly = np.flatnonzero(always_before & (now < 1))
    chosen = newly[np.argsort(now[newly], kind="stable")][:limit]
    if chosen.size == 0:
        return [], 0
    ids = [str(item_ids[i]) for i in chosen]
    outputs_b = _outputs(base, ids, best=True)
    outputs_c = _outputs(cand, ids, best=False)
    rows = base.items.index_of(ids)
    refs = references(base, ids)
    return [
        {
            "item_id": i,
            "source_id": None if base.items.source_id[k] is None else str(base.items.source_id[k]),
            "base_pass_rate": 1.0,
            "cand_pass_rate": float(now[j]),
            "input": base.items.text[k][:500],
            "reference": refs.get(i),
            "base_output": outputs_b.get(i),
            "cand_output": outputs_c.get(i),
        }
        for i, j, k in zip(ids, chosen, rows.tolist(), strict=True)
    ], int(newly.size)


def _outputs(data: RunData, ids: list[str], best: bool) -> dict[str, str | None]:
    # the best (worst) sample; among tied ones the first by sample id (arg_max would pick any)
    order = "DESC" if best else "ASC"
    rows = data.query(
        f"SELECT item_id, first(output ORDER BY coalesce(score, -1) {order}, sample_id) AS o FROM records "
        f"WHERE item_id IN ({', '.join('?' for _ in ids)}) GROUP BY item_id ORDER BY item_id",
        ids,
    )
    return {str(i): (None if o is None else str(o)[:500]) for i, o in zip(rows["item_id"], rows["o"], strict=True)}


def _within(data: RunData) -> float:
    """Mean within-item variance of one run's scores (0 without repeats)."""
    from tailgate.analysis._profile import variance_components

    comps = variance_components(data.items.n_scored, data.items.sum_score, data.items.sum_sq)
    return 0.0 if comps is None else comps[1]


def _power(
    overall: dict[str, Any], paired: _Paired, deltas: np.ndarray, within: float, options: CompareOptions
) -> dict[str, Any]:
    n = int(deltas.size)
    sd = float(deltas.std(ddof=1)) if n > 1 else 0.0
    repeats = max(int(np.median(np.minimum(paired.b["n"], paired.c["n"]))), 1)
    # Var(d_i) = B_d + (W_base + W_cand) / K: split the observed variance of item deltas
    between = max(sd * sd - within / repeats, 0.0)
    result = power_for(
        sd, n, options.alpha, options.power, options.target_delta, between=between, within=within, repeats=repeats
    )
    est = overall["estimate"]
    mde = result["mde"]
    inconclusive = est["low"] is not None and est["low"] < 0 < est["high"]
    if mde is None:
        statement = "too few shared items to say anything"
    elif inconclusive:
        statement = (
            (
                f"no significant change, and the comparison is underpowered for changes smaller than "
                f"{mde:.3f}: it cannot rule out a real change of that size"
            )
            if mde > abs(est["value"] or 0)
            else ("no significant change")
        )
    else:
        statement = f"significant change; changes of {mde:.3f} or more are detected with {options.power:.0%} power"
    result["underpowered"] = bool(inconclusive and mde is not None)
    result["statement"] = statement
    return result


def _thin_pairs(mean_b: np.ndarray, mean_c: np.ndarray, points: int = 1500) -> list[list[float]]:
    idx = np.arange(mean_b.size)
    if idx.size > points:
        idx = np.random.default_rng(0).choice(idx, points, replace=False)
    return [[float(mean_b[i]), float(mean_c[i])] for i in idx]
