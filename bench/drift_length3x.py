"""Why one window of 500 cannot reliably show "10% of the requests became 3x longer" (issue 12).

    python bench/drift_length3x.py [--reps 400]

On the bench pool (bench/drift_pool.py), a reference window of 500 and a current window of 500 of
which 50 are tripled (chars -> 3 chars + 2, as bench/drift_calibration.py's ``length3x``). The share
of replications with p <= 0.05 for:

* the product's length tests: Anderson-Darling on ``chars`` (permutation null) and the chi-square /
  exact test of the ``length`` bucket;
* tail-sensitive alternatives: the share above the reference window's 90th percentile (Fisher's
  exact test), Welch's t on log(chars);
* an **oracle**: the Neyman-Pearson statistic for this very alternative, sum over the current
  window minus the reference window of h(x) = log(0.9 + 0.1 f3(x) / f(x)), with f the pool's
  density of log(chars) (a Gaussian KDE of the whole pool) and f3 the density of log(3 chars + 2);
  one-sided, its permutation null. It knows the pool's distribution and the exact shape of the
  shift, which no drift test does, so its power bounds what any test of the length of one window
  can reach (up to the KDE's error).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (ROOT / "src", ROOT):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from bench import drift_pool  # noqa: E402

from tailgate.analysis._derive import token_bucket  # noqa: E402
from tailgate.analysis._drift import categorical_test, numeric_test  # noqa: E402

N, SHIFTED, ALPHA = 500, 50, 0.05


def _log_density(pool_log: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A Gaussian KDE of log(chars) over the pool, tabulated on a grid (Silverman's bandwidth)."""
    grid = np.linspace(pool_log.min() - 2, pool_log.max() + 3, 2000)
    bw = 1.06 * pool_log.std() * pool_log.size ** (-1 / 5)
    dens = np.zeros_like(grid)
    for chunk in np.array_split(pool_log, 20):
        dens += np.exp(-0.5 * ((grid[:, None] - chunk[None, :]) / bw) ** 2).sum(axis=1)
    return grid, dens / (pool_log.size * bw * math.sqrt(2 * math.pi))


def study(reps: int) -> dict[str, float]:
    pool = drift_pool.load()
    chars = pool.attrs["chars"]
    sub = drift_pool.tripled_subset(pool)
    grid, dens = _log_density(np.log(chars))
    # log(3c + 2) = log(c) + log(3 + 2/c) ~ log(c) + log 3: f3(y) = f(y - log 3)
    f = np.interp(grid, grid, dens)
    f3 = np.interp(grid - math.log(3), grid, dens, left=0.0)
    h_grid = np.log(0.9 + 0.1 * f3 / np.maximum(f, 1e-300))

    def h(x: np.ndarray) -> np.ndarray:
        return np.asarray(np.interp(np.log(x), grid, h_grid))

    from scipy import stats

    hits: dict[str, int] = {}
    rng = np.random.default_rng(2024)
    for r in range(reps):
        idx = rng.choice(chars.size, 2 * N - SHIFTED, replace=False)
        ref = chars[idx[:N]]
        cur = np.r_[chars[idx[N:]], chars[rng.choice(sub, SHIFTED, replace=False)] * 3 + 2]
        bucket = np.array([token_bucket(int(c) // 4) for c in np.r_[ref, cur]])
        p = {
            "Anderson-Darling: chars (permutation)": numeric_test(ref, cur, seed=r).p_value,
            "chi-square/exact: length bucket": categorical_test(bucket[:N], bucket[N:], seed=r).p_value,
        }
        q90 = np.quantile(ref, 0.9)
        table = [[int((cur > q90).sum()), int((cur <= q90).sum())], [int((ref > q90).sum()), int((ref <= q90).sum())]]
        p["share above the reference's 90th percentile (Fisher, two-sided)"] = float(stats.fisher_exact(table)[1])
        p["Welch t on log(chars), two-sided"] = float(stats.ttest_ind(np.log(cur), np.log(ref), equal_var=False).pvalue)
        hr, hc = h(ref), h(cur)
        obs = hc.mean() - hr.mean()
        both = np.r_[hr, hc]
        perm = np.array([np.subtract(*_split(both, rng)) for _ in range(999)])
        p["oracle: Neyman-Pearson statistic, one-sided (permutation)"] = (1 + float(np.sum(perm >= obs))) / 1000
        for k, v in p.items():
            hits[k] = hits.get(k, 0) + (v <= ALPHA)
    return {k: v / reps for k, v in hits.items()}


def _split(both: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    perm = rng.permutation(both)
    return float(perm[N:].mean()), float(perm[:N].mean())


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=400)
    args = ap.parse_args()
    res = study(args.reps)
    se = {k: math.sqrt(max(v * (1 - v), 1e-12) / args.reps) for k, v in res.items()}
    for k, v in res.items():
        print(f"| {k} | {v:.3f} ± {se[k]:.3f} ({args.reps}) |")
    out = HERE / "results" / "drift_length3x.json"
    out.write_text(json.dumps({"reps": args.reps, "power": res, "mc_se": se}, indent=1) + "\n", encoding="utf-8")
