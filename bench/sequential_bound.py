"""How few calls can any valid sequential test need at the fixed-n design's minimum detectable
effect? (issue 16's savings target: a median <= 40% of the fixed-n count)

Wald's sequential probability ratio test is the optimal sequential test for its two simple
hypotheses (Wald & Wolfowitz 1948: no test with the same error rates has a smaller expected
sample size under either), and it is told the true effect, which a real gate is not. At the
effect that a two-sided 5% fixed-n test detects with power 0.8 (n = (z_0.975 + z_0.8)^2 / d^2),
an SPRT of "no effect" (alpha 0.025, the one side) against "effect d" (beta 0.2) on unit-variance
paired differences gives the stopping times printed here: a floor for every anytime-valid gate,
ours included.

    python bench/sequential_bound.py [--reps 20000]
"""

from __future__ import annotations

import argparse
import math

import numpy as np


def sprt_stopping(d: float, reps: int, seed: int = 0) -> tuple[float, float, float, float]:
    """(fixed n, median and mean SPRT stopping time as shares of it, power)."""
    z = 1.959963984540054 + 0.8416212335729143
    n_fixed = z * z / (d * d)
    upper, lower = math.log(0.8 / 0.025), math.log(0.2 / 0.975)
    rng = np.random.default_rng(seed)
    horizon = int(n_fixed * 5)
    stops, wins = np.empty(reps), np.empty(reps, dtype=bool)
    for r in range(reps):
        llr = np.cumsum(d * rng.normal(d, 1.0, horizon) - d * d / 2)
        hit = np.flatnonzero((llr >= upper) | (llr <= lower))
        i = int(hit[0]) if hit.size else horizon - 1
        stops[r], wins[r] = i + 1, llr[i] >= upper
    return n_fixed, float(np.median(stops) / n_fixed), float(stops.mean() / n_fixed), float(wins.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=20_000)
    args = parser.parse_args()
    for d in (0.2, 0.1):
        n_fixed, median, mean, power = sprt_stopping(d, args.reps)
        print(
            f"effect {d} SD: fixed n {n_fixed:.0f}; SPRT told the effect stops at a median {median:.2f} and a "
            f"mean {mean:.2f} of it (power {power:.3f}, {args.reps} runs)"
        )


if __name__ == "__main__":
    main()
