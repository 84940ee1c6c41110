"""Where the asymptotic chi-square test of a 2 x k table holds its 5% size (docs/drift.md).

    python bench/drift_chisq_size.py [--draws 100000]

``categorical_test`` tests homogeneity conditionally on the pooled counts (an A/A split of the
pooled requests makes the reference row multivariate hypergeometric). This prints the conditional
size of "asymptotic chi-square p <= 0.05" for two equal windows, one dominant category and k - 1
rare ones of expected count e per window (as ShareGPT's languages: 97% English):

* k = 2 (one degree of freedom): exactly, summing the hypergeometric law (scipy.stats.hypergeom)
  over the tables the test rejects;
* k = 5 and 9: by ``--draws`` multivariate hypergeometric draws (MC SE about 0.0007 at 100,000).

The product's rule (every expected count >= 1,000 for the asymptotic p-value, else the exact
randomised test, whose size is 0.05 by construction) is read off this table.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

EXPECTED = (5, 10, 20, 50, 100, 200, 500, 1000, 2000)
WINDOWS = (500, 5_000, 50_000)


def chi2_rows(rows: np.ndarray, col: np.ndarray, n_ref: int, n_cur: int) -> np.ndarray:
    total = n_ref + n_cur
    e_r, e_c = col * n_ref / total, col * n_cur / total
    return np.asarray(np.sum((rows - e_r) ** 2 / e_r + ((col - rows) - e_c) ** 2 / e_c, axis=-1))


def size_2x2(rare: int, n: int) -> float:
    x = np.arange(rare + 1)
    col = np.array([rare, 2 * n - rare], dtype=float)
    x2 = chi2_rows(np.stack([x, n - x], axis=1).astype(float), col, n, n)
    pmf = stats.hypergeom(2 * n, rare, n).pmf(x)
    return float(pmf[x2 >= stats.chi2.ppf(0.95, 1)].sum())


def size_sim(k: int, rare: int, n: int, draws: int, seed: int = 0) -> float:
    col = np.array([2 * n - (k - 1) * rare] + [rare] * (k - 1))
    rows = np.random.default_rng(seed).multivariate_hypergeometric(col, n, size=draws).astype(float)
    return float(np.mean(chi2_rows(rows, col.astype(float), n, n) >= stats.chi2.ppf(0.95, k - 1)))


def main(draws: int) -> None:
    print("| k | expected count e | " + " | ".join(f"n = {n:,}" for n in WINDOWS) + " |")
    print("|---|---|" + "---|" * len(WINDOWS))
    for k in (2, 5, 9):
        for e in EXPECTED:
            cells = []
            for n in WINDOWS:
                rare = 2 * e
                if (k - 1) * rare >= n or (k > 2 and e > 200):  # no dominant category left / settled
                    cells.append("")
                    continue
                cells.append(f"{size_2x2(rare, n):.4f}" if k == 2 else f"{size_sim(k, rare, n, draws):.4f}")
            if any(cells):
                print(f"| {k} | {e:,} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=100_000)
    main(ap.parse_args().draws)
