"""Failing-slice discovery under the global null: how often does it report any slice?

    python bench/discovery_null.py [--reps 1000] [--seed 0]

Each replication draws n items with random attributes unrelated to their errors (four
attributes with 2, 3, 4 and 6 values), a per-item pass probability (homogeneous, or
heterogeneous: Beta with the same mean, a + b = 2.5; means 0.8 and 0.5) and K samples per
item, and runs the report's discovery
(family: every slice of depth <= 3 with support >= max(10, 1% of the items); SliceLine top-k
search with alpha 0.99; slices reported when their BH-adjusted p-value is <= 0.05). The
family-wise "any slice reported" rate must be <= 0.05 (every report is a false discovery
here); the table gives it with its Monte-Carlo standard error, and then the power to find a
planted slice (one value of the 3-valued attribute, pass probability lowered by 0.15).
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import numpy as np

from tailgate.analysis._discovery import build_cells, enumerate_slices, significance, sliceline_topk

ALPHA, FDR, DEPTH, TOP = 0.99, 0.05, 3, 10


def replicate(
    rng: np.random.Generator, n: int, k: int, hetero: bool, effect: float = 0.0, mean: float = 0.8
) -> tuple[bool, bool]:
    """(any slice reported, the planted slice reported)."""
    features = {f"a{j}": rng.choice([f"v{i}" for i in range(m)], n) for j, m in enumerate((2, 3, 4, 6))}
    # heterogeneous: Beta with the given mean and a + b = 2.5 (Beta(2, 0.5) for 0.8)
    p = rng.beta(2.5 * mean, 2.5 * (1 - mean), n) if hetero else np.full(n, mean)
    planted = features["a1"] == "v0"
    p = np.clip(p - effect * planted, 0.0, 1.0)
    errors = 1.0 - rng.binomial(k, p) / k
    support = max(10, math.ceil(0.01 * n))
    if errors.sum() == 0 or n < 2 * support:
        return False, False
    cells = build_cells(features, errors)
    family = enumerate_slices(cells, DEPTH, support, ALPHA)
    significance(cells, family)
    top, _ = sliceline_topk(cells, max(TOP * 3, 30), DEPTH, support, ALPHA)
    by_key = {s.predicates: s for s in family}
    found = [by_key[s.predicates] for s in top if by_key[s.predicates].p_bh <= FDR]
    labels = {" AND ".join(str(cells.predicates[q]) for q in s.predicates) for s in found}
    return bool(found), "a1=v0" in labels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--power-reps", type=int, default=200)
    parser.add_argument("--n", type=int, nargs="*", default=[30, 100, 300, 1000])
    parser.add_argument("--k", type=int, nargs="*", default=[1, 3, 10])
    parser.add_argument("--mean", type=float, nargs="*", default=[0.8, 0.5], help="mean pass probability")
    args = parser.parse_args()
    print("| n | K | items | mean pass | any slice reported (null) | MC SE | power (planted -0.15) | s/rep |")
    print("|---|---|---|---|---|---|---|---|")
    for n, mean in itertools.product(args.n, args.mean):
        for k in args.k:
            for hetero in (False, True) if k > 1 else (False,):  # one sample: Bernoulli(0.8) either way
                rng = np.random.default_rng([args.seed, n, k, int(hetero), round(100 * mean)])
                start = time.perf_counter()
                hits = sum(replicate(rng, n, k, hetero, 0.0, mean)[0] for _ in range(args.reps))
                per = (time.perf_counter() - start) / args.reps
                rate = hits / args.reps
                se = math.sqrt(max(rate * (1 - rate), 0.05 * 0.95) / args.reps)
                power = sum(replicate(rng, n, k, hetero, 0.15, mean)[1] for _ in range(args.power_reps)) / max(
                    args.power_reps, 1
                )
                kind = "heterogeneous" if hetero else "homogeneous"
                print(
                    f"| {n} | {k} | {kind} | {mean:g} | {rate:.4f} | {se:.4f} | {power:.2f} | {per:.3f} |", flush=True
                )


if __name__ == "__main__":
    main()
