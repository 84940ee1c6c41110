"""Why the per-slice paired t-test was liberal under BH, and what the sign-flip test does instead.

    python bench/slice_test_tail.py [--reps 2000] [--seed 0]

Compare's slice family under the null, as in ``bench/calibration.py``: n items with p_i ~
Beta(0.7 k, 0.3 k) (``low`` heterogeneity k = 20, ``high`` k = 2), both runs K Bernoulli(p_i)
samples per item, four random attributes with 2, 3, 4 and 5 values; every value and every
conjunction of two with >= 10 items is a slice (duplicates dropped, as compare does). For each
slice the two-sided p-value of the one-sample t-test on its item deltas (the old code) and of
the paired sign-flip test (``tailgate.analysis._signflip``, the new code).

Printed per cell: the per-slice rejection rate at alpha = 0.05, 0.005 and 0.0005 (the far tail:
BH's smallest threshold is 0.05 / the number of slices, about 0.0006 here) for both tests, with
its ratio to alpha; the share of the t-test's far-tail rejections where every nonzero delta of
the slice has the same sign; the mean coefficient of variation of |d| over nonzero deltas in
the slice; and the "any BH <= 0.05" rate of each test with its Monte-Carlo SE.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from scipy import stats  # noqa: E402

from tailgate.analysis._signflip import sign_flip_test  # noqa: E402
from tailgate.analysis._stats import adjust_bh  # noqa: E402

ATTRIBUTES = (2, 3, 4, 5)
ALPHAS = (0.05, 0.005, 0.0005)
MIN_ITEMS = 10


def slice_masks(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    labels = [rng.integers(0, m, n) for m in ATTRIBUTES]
    singles = [(a, lab == v) for a, lab in enumerate(labels) for v in range(ATTRIBUTES[a])]
    singles = [(a, m) for a, m in singles if m.sum() >= MIN_ITEMS]
    out = [m for _, m in singles]
    for (a1, m1), (a2, m2) in itertools.combinations(singles, 2):
        both = m1 & m2
        if a1 != a2 and MIN_ITEMS <= both.sum() < min(m1.sum(), m2.sum()):
            out.append(both)
    seen: set[bytes] = set()
    unique = []
    for m in out:
        key = np.packbits(m).tobytes()
        if key not in seen:
            seen.add(key)
            unique.append(m)
    return unique


def t_p(d: np.ndarray) -> float:
    sd = float(d.std(ddof=1))
    if sd == 0:
        return 1.0 if float(d.mean()) == 0 else 0.0  # what the old code did
    return float(stats.ttest_1samp(d, 0.0).pvalue)


def cell(rng: np.random.Generator, n: int, k: int, het: str, reps: int) -> dict[str, float]:
    conc = {"low": 20.0, "high": 2.0}[het]
    counts = {f"{name}@{a}": 0 for name in ("t", "flip") for a in ALPHAS}
    tested = 0
    same_sign = far_t = 0
    cv_sum = 0.0
    any_bh = {"t": 0, "flip": 0}
    for _ in range(reps):
        p = rng.beta(0.7 * conc, 0.3 * conc, n)
        d = (rng.binomial(k, p) - rng.binomial(k, p)) / k
        ps: dict[str, list[float]] = {"t": [], "flip": []}
        for mask in slice_masks(rng, n):
            dd = d[mask]
            pt, pf = t_p(dd), sign_flip_test(dd).p_value
            ps["t"].append(pt)
            ps["flip"].append(pf)
            tested += 1
            nz = np.abs(dd[dd != 0])
            cv_sum += float(nz.std() / nz.mean()) if nz.size > 1 else 0.0
            for a in ALPHAS:
                counts[f"t@{a}"] += pt <= a
                counts[f"flip@{a}"] += pf <= a
            if pt <= ALPHAS[-1]:
                far_t += 1
                same_sign += bool(np.all(dd >= 0) or np.all(dd <= 0))
        for name in ("t", "flip"):
            any_bh[name] += bool(ps[name]) and bool(np.any(adjust_bh(np.array(ps[name])) <= 0.05))
    out = {key: value / tested for key, value in counts.items()}
    out.update(
        slices_per_run=tested / reps,
        same_sign_share=same_sign / far_t if far_t else math.nan,
        far_t=far_t,
        mean_cv=cv_sum / tested,
        bh_t=any_bh["t"] / reps,
        bh_flip=any_bh["flip"] / reps,
        se=math.sqrt(0.05 * 0.95 / reps),
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cells = [(30, 1, "low"), (100, 3, "high"), (100, 10, "low"), (100, 10, "high"), (100, 3, "low"), (300, 1, "high")]
    print(f"per-slice rejection rate / alpha (t-test | sign-flip), {args.reps} null replications per cell")
    head = " | ".join(f"a={a:g}" for a in ALPHAS)
    print(
        f"| cell | slices/run | {head} | t far-tail rejections: same sign | mean CV of abs(d) | any BH: t | "
        "any BH: sign-flip |"
    )
    print("|---|---:|" + "---:|" * len(ALPHAS) + "---:|---:|---:|---:|")
    for i, (n, k, het) in enumerate(cells):
        r = cell(np.random.default_rng(args.seed + i), n, k, het, args.reps)
        rates = " | ".join(f"{r[f't@{a}'] / a:.2f} / {r[f'flip@{a}'] / a:.2f}" for a in ALPHAS)
        print(
            f"| n={n} K={k} het={het} | {r['slices_per_run']:.0f} | {rates} | {r['same_sign_share']:.2f} of "
            f"{r['far_t']:.0f} | {r['mean_cv']:.2f} | {r['bh_t']:.3f} | {r['bh_flip']:.3f} (SE {r['se']:.3f}) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
