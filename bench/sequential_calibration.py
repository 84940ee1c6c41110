"""Calibration and savings of the sequential gate (``tailgate gate --sequential``, issue 16).

    python bench/sequential_calibration.py [--sims 10000] [--items 1000] [--quick]

Simulated paired runs: item pass probabilities p_i ~ Beta(0.7, 0.3) (mean 0.7; the intra-item
correlation of 0/1 repeats is Var(p) / (pbar (1 - pbar)) = 1 / (a + b + 1) = 0.5), K = 3 repeats
per item and run, the item score is the mean of its repeats (the item is the unit).

* A/A: both runs draw from the same p_i. A wrong decision is 'better' or 'worse' at ANY stopping
  time: the CS is checked after every item, up to ``--items``, and the gate stops at its first
  decision ('equivalent' within the margin is a correct one). Beside it, naive peeking: a 5%
  two-sided paired t-test after every 50 items, "wrong" if any look rejects.
* Savings: the fixed-n design's MDE at ``--items`` items (80% power, two-sided 5% paired t:
  (z_.975 + z_.8) sd_d / sqrt(n), sd_d from the A/A runs); the candidate improves each item's
  failure share so that the mean difference equals the MDE. Reported: the share decided 'better'
  within the fixed-n budget, the median items to a decision with the budget n (undecided count n)
  and with a budget of 4n.

Writes bench/results/sequential.json. Monte-Carlo SE of a rate r over S sims: sqrt(r (1-r) / S).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tailgate.analysis._sequential import SequentialOptions, decide_path, prpl_eb_cs

A, B, K = 0.7, 0.3, 3


def item_scores(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    return rng.binomial(K, p) / K


def aa_chunk(
    rng: np.random.Generator, sims: int, n: int, options: SequentialOptions, horizon: int | None
) -> dict[str, np.ndarray]:
    p = rng.beta(A, B, (sims, n))
    d = item_scores(rng, p) - item_scores(rng, p)
    low, high = prpl_eb_cs((d + 1) / 2, options.alpha, horizon=horizon)
    first, code = decide_path(2 * low - 1, 2 * high - 1, options)
    looks = np.arange(50, n + 1, 50)
    csum, csq = np.cumsum(d, axis=1), np.cumsum(d * d, axis=1)
    m = csum[:, looks - 1] / looks
    var = (csq[:, looks - 1] - looks * m * m) / (looks - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = m / np.sqrt(var / looks)
    crit = stats.t.ppf(0.975, looks - 1)
    naive = (np.abs(np.nan_to_num(tstat)) > crit).any(axis=1)
    naive_final = np.abs(np.nan_to_num(tstat[:, -1])) > crit[-1]
    return {"code": code, "first": first, "naive": naive, "naive_final": naive_final, "sd": d.std(axis=1, ddof=1)}


def alt_chunk(
    rng: np.random.Generator, sims: int, n: int, shift: float, options: SequentialOptions, horizon: int | None
) -> tuple[np.ndarray, np.ndarray]:
    p = rng.beta(A, B, (sims, n))
    d = item_scores(rng, p + shift * (1 - p)) - item_scores(rng, p)
    low, high = prpl_eb_cs((d + 1) / 2, options.alpha, horizon=horizon)
    return decide_path(2 * low - 1, 2 * high - 1, options)


def study(sims: int, n: int, options: SequentialOptions, horizon: int | None) -> dict[str, Any]:
    rng = np.random.default_rng(20261203)
    parts = [aa_chunk(rng, min(500, sims - s), n, options, horizon) for s in range(0, sims, 500)]
    aa = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    wrong = float(np.isin(aa["code"], (1, 2)).mean())
    naive = float(aa["naive"].mean())
    sd_d = float(np.mean(aa["sd"]))
    mde = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * sd_d / math.sqrt(n)
    shift = mde / (1 - A / (A + B))  # E[shift (1 - p)] = mde
    alt_sims = max(sims // 5, 200)
    budget = 4 * n
    alts = [alt_chunk(rng, min(250, alt_sims - s), budget, shift, options, horizon) for s in range(0, alt_sims, 250)]
    first = np.concatenate([a[0] for a in alts])
    code = np.concatenate([a[1] for a in alts])
    steps = np.where(first >= 0, first + 1, budget)
    within = (first >= 0) & (first < n)
    at_n = np.where(within, steps, n)
    return {
        "aa": {
            "sims": sims,
            "wrong_decision_rate": wrong,
            "wrong_decision_se": math.sqrt(wrong * (1 - wrong) / sims),
            "equivalent_rate": float((aa["code"] == 3).mean()),
            "naive_peeking_every_50_rate": naive,
            "naive_peeking_se": math.sqrt(naive * (1 - naive) / sims),
            "fixed_n_t_test_rate": float(aa["naive_final"].mean()),
        },
        "savings": {
            "sims": int(first.size),
            "sd_item_difference": sd_d,
            "mde_fixed_n": mde,
            "better_within_n": float((within & (code == 1)).mean()),
            "median_items_budget_n": float(np.median(at_n)),
            "median_share_of_n_budget_n": float(np.median(at_n)) / n,
            "decided_within_4n": float((first >= 0).mean()),
            "median_items_budget_4n": float(np.median(steps)),
            "median_share_of_n_budget_4n": float(np.median(steps)) / n,
            "wrong_decisions": int(np.isin(code, (2, 3)).sum()),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--margin", type=float, default=0.02)
    parser.add_argument("--quick", action="store_true", help="1,000 sims")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "sequential.json"))
    args = parser.parse_args()
    sims, n = (1000 if args.quick else args.sims), args.items
    options = SequentialOptions(margin=args.margin)
    started = time.perf_counter()
    tunings = {"anytime (t log t bets)": None, f"tuned for n = {n}": n}
    rows = {name: study(sims, n, options, horizon) for name, horizon in tunings.items()}
    result = {
        "design": {
            "items": n,
            "repeats": K,
            "beta": [A, B],
            "icc": 1 / (A + B + 1),
            "alpha": options.alpha,
            "margin": options.margin,
            "method": "PrPl-EB CS, checked after every item",
        },
        "tunings": rows,
        "seconds": round(time.perf_counter() - started, 1),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
