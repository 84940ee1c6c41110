"""Which interval for the ICC? Coverage of candidate methods on the calibration study's cells.

The item bootstrap (percentile) under-covers the ICC at small n and for rare 0/1 outcomes
(docs/calibration.md). Candidates, each on the same simulated runs:

- ``bootstrap``: the percentile item bootstrap of the ANOVA estimator (the old method);
- ``searle``: the normal-theory F interval for the one-way random-effects ICC (Searle 1971);
- ``searle-k``: the same with degrees of freedom adjusted for the kurtosis of item means
  (never below normal theory): the product's method for scores that are not 0/1, 100-299 items;
- ``basic-logf``: the basic (reverse-percentile) item bootstrap of log F, twice Fisher's z of
  the ICC: the product's method for scores that are not 0/1 from 300 items;
- ``bca``: the BCa item bootstrap of the unclipped ICC (jackknife acceleration);
- ``profile``: the beta-binomial profile-likelihood interval for rho = 1 / (a + b + 1), the
  within-item correlation of 0/1 scores: the product's method for 0/1 scores.

Findings (100-500 replications per cell, docs/calibration.md has the product's rows): ``profile``
covers 0.92-1.00 on every 0/1 cell where the bootstrap gave 0.69-0.91; for continuous scores no
method covers at 30 items (0.84-0.93), ``searle-k`` covers 0.95-0.96 at 100 items and
``basic-logf`` 0.94-0.97 from 300, where ``searle-k`` gives 0.91-0.93.

Usage: python bench/icc_interval_choice.py [--reps 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tailgate.analysis._profile import icc_interval_anova, icc_interval_binary

CONCENTRATION = {"low": 20.0, "high": 2.0}
PRECISION = 4.0


def bootstrap(
    n_i: np.ndarray, s1: np.ndarray, s2: np.ndarray, rng: np.random.Generator, reps: int = 400
) -> tuple[float, float]:
    from tailgate.analysis._profile import variance_components

    units = n_i.size
    vals = []
    for _ in range(reps):
        idx = rng.integers(0, units, units)
        c = variance_components(n_i[idx], s1[idx], s2[idx])
        if c is not None and c[0] + c[1] > 0:
            vals.append(c[0] / (c[0] + c[1]))
    if not vals:
        return (float("nan"), float("nan"))
    return float(np.quantile(vals, 0.025)), float(np.quantile(vals, 0.975))


def _icc_unclipped(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """ICC from F = MSB / MSW for each row of item weights ``w`` (replicates x items)."""
    _g, k = x.shape
    m = x.mean(axis=1)
    v = x.var(axis=1, ddof=1)
    tot = w.sum(axis=1)
    grand = (w * m).sum(axis=1) / tot
    msb = k * (w * (m - grand[:, None]) ** 2).sum(axis=1) / (tot - 1)
    msw = (w * v).sum(axis=1) / tot
    f = msb / msw
    return (f - 1) / (f + k - 1)


def basic_logf(x: np.ndarray, rng: np.random.Generator, reps: int = 1000) -> tuple[float, float]:
    """Basic (reverse-percentile) item bootstrap of log F = 2 z (Fisher's z of the ICC)."""
    g, k = x.shape
    w = rng.multinomial(g, np.full(g, 1 / g), size=reps).astype(float)
    to_f = lambda r: (1 + (k - 1) * r) / (1 - r)  # noqa: E731
    point = float(np.log(to_f(_icc_unclipped(x, np.ones((1, g)))[0])))
    boot = np.log(to_f(_icc_unclipped(x, w)))
    boot = boot[np.isfinite(boot)]
    q_lo, q_hi = np.quantile(boot, [0.025, 0.975])
    f_lo, f_hi = np.exp(2 * point - q_hi), np.exp(2 * point - q_lo)
    lo, hi = ((f - 1) / (f + k - 1) for f in (f_lo, f_hi))
    return min(max(float(lo), 0.0), 1.0), min(max(float(hi), 0.0), 1.0)


def bca(x: np.ndarray, rng: np.random.Generator, reps: int = 1000) -> tuple[float, float]:
    g = x.shape[0]
    point = float(_icc_unclipped(x, np.ones((1, g)))[0])
    w = rng.multinomial(g, np.full(g, 1 / g), size=reps).astype(float)
    boot = _icc_unclipped(x, w)
    boot = boot[np.isfinite(boot)]
    jack_w = 1 - np.eye(g)
    jack = _icc_unclipped(x, jack_w)
    d = jack.mean() - jack
    acc = float((d**3).sum() / (6 * ((d**2).sum()) ** 1.5)) if (d**2).sum() > 0 else 0.0
    share = np.clip((boot < point).mean() + 0.5 * (boot == point).mean(), 1 / reps, 1 - 1 / reps)
    z0 = stats.norm.ppf(share)
    qs = []
    for z in (stats.norm.ppf(0.025), stats.norm.ppf(0.975)):
        qs.append(stats.norm.cdf(z0 + (z0 + z) / (1 - acc * (z0 + z))))
    lo, hi = np.quantile(boot, qs)
    return max(float(lo), 0.0), min(max(float(hi), 0.0), 1.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--methods", default="bootstrap,searle,profile")
    ap.add_argument("--kind", default="")
    args = ap.parse_args()
    methods = args.methods.split(",")
    cells = []
    ap_kinds = ("binary", "continuous") if not args.kind else (args.kind,)
    for kind in ap_kinds:
        for n, k, het, mean in [
            (30, 3, "high", 0.7),
            (30, 10, "low", 0.7),
            (30, 10, "low", 0.03),
            (30, 3, "low", 0.9),
            (30, 3, "high", 0.9),
            (100, 3, "low", 0.7),
            (100, 10, "high", 0.7),
            (100, 10, "low", 0.03),
            (100, 3, "high", 0.08),
            (300, 3, "high", 0.7),
            (300, 10, "low", 0.7),
            (300, 10, "low", 0.03),
            (1000, 3, "low", 0.7),
            (1000, 10, "high", 0.7),
        ]:
            if kind == "continuous" and mean < 0.05:
                continue
            cells.append((kind, n, k, het, mean))
    print(f"{'cell':44s} " + " ".join(f"{m:>16s}" for m in methods))
    for kind, n, k, het, mean in cells:
        c = CONCENTRATION[het]
        a, b = mean * c, (1 - mean) * c
        if kind == "binary":
            truth = 1.0 / (a + b + 1.0)
        else:
            var_p = mean * (1 - mean) / (a + b + 1)
            within = (mean * (1 - mean) - var_p) / (PRECISION + 1)
            truth = var_p / (var_p + within)
        rng = np.random.default_rng(hash((kind, n, k, het, mean)) % 2**32)
        hits = dict.fromkeys(methods, 0)
        nulls = dict.fromkeys(methods, 0)
        width = dict.fromkeys(methods, 0.0)
        secs = dict.fromkeys(methods, 0.0)
        for _ in range(args.reps):
            p = rng.beta(a, b, n)
            if kind == "binary":
                x = (rng.random((n, k)) < p[:, None]).astype(float)
            else:
                pp = np.repeat(p[:, None], k, axis=1)
                x = rng.beta(np.maximum(pp * PRECISION, 1e-3), np.maximum((1 - pp) * PRECISION, 1e-3))
            n_i = np.full(n, k, dtype=float)
            s1, s2 = x.sum(axis=1), (x * x).sum(axis=1)
            for m in methods:
                t0 = time.perf_counter()
                if m == "bootstrap":
                    lo, hi = bootstrap(n_i, s1, s2, rng)
                elif m == "searle":
                    r = icc_interval_anova(n_i, s1, s2, np.ones(n), 0.95)
                    lo, hi = (float("nan"), float("nan")) if r is None else r
                elif m == "searle-k":
                    m_i = x.mean(axis=1)
                    r = icc_interval_anova(n_i, s1, s2, np.ones(n), 0.95, (float(stats.kurtosis(m_i)), 0.0))
                    lo, hi = (float("nan"), float("nan")) if r is None else r
                elif m == "basic-logf":
                    lo, hi = basic_logf(x, rng)
                elif m == "bca":
                    lo, hi = bca(x, rng)
                elif m == "profile":
                    if kind != "binary":
                        continue
                    r = icc_interval_binary(n_i, s1, np.ones(n), 0.95)
                    lo, hi = (float("nan"), float("nan")) if r is None else r
                else:
                    raise SystemExit(f"unknown method {m}")
                secs[m] += time.perf_counter() - t0
                if not np.isfinite(lo):
                    nulls[m] += 1
                    continue
                hits[m] += lo <= truth <= hi
                width[m] += hi - lo
        row = []
        for m in methods:
            printed = args.reps - nulls[m]
            if kind != "binary" and m == "profile":
                row.append(f"{'-':>16s}")
                continue
            cov = hits[m] / printed if printed else float("nan")
            row.append(f"{cov:6.3f} w{width[m] / max(printed, 1):5.2f} {1000 * secs[m] / args.reps:4.0f}ms")
        label = f"{kind} n={n} K={k} het={het} mean={mean} (icc {truth:.3f})"
        print(f"{label:44s} " + " ".join(row), flush=True)
    se = np.sqrt(0.95 * 0.05 / args.reps)
    print(f"MC SE of a coverage of 0.95 at {args.reps} replications: {se:.3f}; chi2 {stats.chi2.ppf(0.95, 1):.3f}")


if __name__ == "__main__":
    main()
