"""Where the normal limit of the sign-flip test is accurate: the threshold ``NORMAL_MIN``.

    python bench/signflip_normal.py [--configs 60] [--signs 40000] [--seed 0]

Off a lattice (continuous scores) and past ``ENUMERATE_MAX`` nonzero deltas, the sign-flip
p-value of a slice is either Monte Carlo or, when the slice is large enough, the normal limit
z = sum d / sqrt(sum d^2). This measures that limit under the sign-flip null itself: for a
configuration of |d_i|, the signs are uniform, and the normal p-value's rejection rate at
alpha over random signs is its conditional type-I error. Configurations come from delta
distributions with light to heavy tails (|N(0,1)|, Uniform(0,1), Exp(1), log-normal(0,1), the
difference of two continuous scores Beta(p c, (1 - p) c) as in bench/calibration.py, and deltas
that are mostly tiny with a few large), over slice sizes of 15-400 items; they are binned by
their effective number n_eff = (sum d^2)^2 / sum d^4, the quantity the product's rule reads.
Printed: rejection rate / alpha at alpha = 0.05, 0.005 and 0.0005 per n_eff bin, the worst
over the distributions, with the Monte-Carlo SE of that ratio.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy import special

ALPHAS = (0.05, 0.005, 0.0005)
BINS = (10, 15, 20, 30, 50, 100, 10_000)
SIZES = (15, 20, 30, 45, 70, 100, 150, 250, 400)


def draw(rng: np.random.Generator, kind: str, m: int) -> np.ndarray:
    if kind == "normal":
        return np.abs(rng.normal(size=m))
    if kind == "uniform":
        return rng.random(m)
    if kind == "exponential":
        return rng.exponential(size=m)
    if kind == "lognormal":
        return np.exp(rng.normal(size=m))
    if kind == "beta scores":
        p = rng.beta(0.7 * 2, 0.3 * 2, m)
        a, b = np.maximum(p * 4, 1e-3), np.maximum((1 - p) * 4, 1e-3)
        return np.abs(rng.beta(a, b) - rng.beta(a, b))
    # mostly tiny, a few large: a slice where a handful of items moved
    big = rng.random(m) < 0.1
    return np.where(big, rng.random(m) + 0.5, 0.01 * rng.random(m))


def rates(rng: np.random.Generator, w: np.ndarray, signs: int) -> np.ndarray:
    """Rejections of the normal p-value at each alpha over ``signs`` uniform sign vectors."""
    scale = math.sqrt(float(np.sum(w * w)))
    hits = np.zeros(len(ALPHAS))
    done = 0
    block = max(1, 2**20 // w.size)
    while done < signs:
        size = min(block, signs - done)
        s = 1.0 - 2.0 * rng.integers(0, 2, (size, w.size))
        p = special.erfc(np.abs(s @ w) / scale / math.sqrt(2.0))
        hits += [(p <= a).sum() for a in ALPHAS]
        done += size
    return hits


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", type=int, default=60, help="configurations of |d| per size and distribution")
    parser.add_argument("--signs", type=int, default=40_000, help="sign vectors per configuration")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    kinds = ("normal", "uniform", "exponential", "lognormal", "beta scores", "few large")
    # bin -> kind -> [hits per alpha, sign vectors]
    table: dict[int, dict[str, list[np.ndarray | int]]] = {b: {} for b in range(len(BINS) - 1)}
    for kind in kinds:
        for m in SIZES:
            for _ in range(args.configs):
                w = draw(rng, kind, m)
                w = w[w > 0]
                n_eff = float(np.sum(w * w)) ** 2 / float(np.sum(w**4))
                b = int(np.searchsorted(BINS, n_eff, side="right")) - 1
                if not 0 <= b < len(BINS) - 1:
                    continue
                cell = table[b].setdefault(kind, [np.zeros(len(ALPHAS)), 0])
                cell[0] = cell[0] + rates(rng, w, args.signs)  # type: ignore[operator]
                cell[1] = int(cell[1]) + args.signs
    print(f"normal limit of the sign-flip test: rejection rate / alpha ({args.signs} sign vectors per configuration)")
    print("| n_eff | " + " | ".join(f"alpha {a:g}: worst (distribution)" for a in ALPHAS) + " | configurations |")
    print("|---|" + "---|" * (len(ALPHAS) + 1))
    for b in range(len(BINS) - 1):
        if not table[b]:
            continue
        cols = []
        for j, a in enumerate(ALPHAS):
            worst = max(table[b].items(), key=lambda kv: kv[1][0][j] / kv[1][1])  # type: ignore[index,operator]
            hits, total = worst[1][0][j], int(worst[1][1])  # type: ignore[index]
            se = math.sqrt(a / total) / a
            cols.append(f"{hits / total / a:.2f} +- {se:.2f} ({worst[0]})")
        configs = sum(int(v[1]) // args.signs for v in table[b].values())
        print(f"| {BINS[b]}-{BINS[b + 1]} | " + " | ".join(cols) + f" | {configs} |", flush=True)


if __name__ == "__main__":
    main()
