"""The paired sign-flip (permutation) test of a mean of item deltas.

Under the null that a change is noise -- on every item the two runs are exchangeable, so an
item's delta d_i is as likely as -d_i -- the 2^m sign vectors s of the m item deltas are equally
likely given |d_i|, and the two-sided p-value of T = sum d_i is

    p = P(|sum_i s_i |d_i|| >= |T|)   over uniform random signs s

(Fisher 1935, Pitman 1937; the paired permutation test). It needs no normality and no large n,
and it is exact with the item as the unit: it is what a per-slice test of a few items needs,
where the one-sample t-test was liberal in the far tail that Benjamini-Hochberg uses (with
deltas of nearly equal size, all m signs agreeing has probability 2^(1 - m) and gives t near
infinity, far more often than the t distribution's tail admits; see docs/calibration.md).

How the distribution is computed (zero deltas never change the statistic and are left out):

* Deltas on a lattice 1/G (0/1 scores with K samples per item give G = K; fractional scores
  such as 0.5 or 0.25 likewise), G <= ``MAX_LATTICE``: exactly. With a_i = G |d_i| integers,
  the c items of one level a contribute a (2B - c), B ~ Binomial(c, 1/2), and the distribution
  of the sum is the convolution of those over the levels: sums of positive terms, exact to
  rounding, at a cost of about (width of the sum) x m, within ``EXACT_BUDGET``.
* Other deltas (continuous scores) with at most ``ENUMERATE_MAX`` nonzero deltas: all 2^m sign
  vectors, exactly.
* Other deltas whose effective number n_eff = (sum d^2)^2 / sum d^4 is at least ``NORMAL_MIN``:
  the normal limit of the sign-flip distribution, z = T / sqrt(sum d_i^2) (its exact variance).
  The sign-flip sum is platykurtic (excess kurtosis -2 / n_eff), so the limit errs on the
  conservative side in the tails; ``bench/signflip_normal.py`` measures it.
* The rest: Monte Carlo, ``MC_REPLICATES`` sign vectors from a fixed seed, with
  p = (1 + #{|T*| >= |T|}) / (1 + B), valid at every B (and the same p-value on every run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ENUMERATE_MAX", "EXACT_BUDGET", "MAX_LATTICE", "MC_REPLICATES", "NORMAL_MIN", "SignFlip", "sign_flip_test"]

MAX_LATTICE = 120
"""The finest lattice 1/G the exact convolution looks for (3 variants x 10 repeats give 30; a
base at K = 8 and a candidate at K = 5 give 40)."""
EXACT_BUDGET = 2e8
"""Multiply-adds the exact lattice distribution may cost (about 0.3 s)."""
ENUMERATE_MAX = 14
"""Off a lattice, up to this many nonzero deltas are tested with every sign vector (16,384)."""
NORMAL_MIN = 30.0
"""Off a lattice, the normal limit is used from this effective number of deltas (see
``bench/signflip_normal.py``: at n_eff >= 30 its rejection rate stays at or below the level at
0.05, 0.005 and 0.0005 for every delta distribution tried)."""
MC_REPLICATES = 19_999
"""Random sign vectors of the Monte-Carlo test (p-values from 1 / 20,000 up)."""


@dataclass(frozen=True)
class SignFlip:
    """A sign-flip test's two-sided p-value and how it was computed."""

    p_value: float
    method: str


def sign_flip_test(deltas: np.ndarray, *, seed: int = 0) -> SignFlip:
    """Two-sided paired sign-flip test of mean(deltas) = 0 (see the module docstring).

    Example:
        >>> test = sign_flip_test(np.array([0.1] * 8))  # 2 of the 256 sign vectors are as extreme
        >>> round(test.p_value * 256, 9), test.method
        (2.0, 'exact sign-flip test (deltas on the lattice 1/10)')
    """
    d = np.asarray(deltas, dtype=float)
    d = d[d != 0.0]
    m = int(d.size)
    if m == 0:
        return SignFlip(1.0, "exact sign-flip test: every delta is 0")
    lattice = _lattice(np.abs(d))
    if lattice is not None:
        steps = np.rint(np.abs(d) * lattice).astype(np.int64)
        if _lattice_cost(steps) <= EXACT_BUDGET:
            observed = int(np.sum(np.sign(d).astype(np.int64) * steps))
            return SignFlip(_lattice_p(steps, observed), f"exact sign-flip test (deltas on the lattice 1/{lattice})")
    if m <= ENUMERATE_MAX:
        return SignFlip(_enumerated_p(d), f"exact sign-flip test (all {2**m} sign vectors)")
    n_eff = float(np.sum(d * d)) ** 2 / float(np.sum(d**4))
    if n_eff >= NORMAL_MIN:
        z = abs(float(d.sum())) / math.sqrt(float(np.sum(d * d)))
        return SignFlip(math.erfc(z / math.sqrt(2.0)), f"sign-flip test, normal limit (n_eff {n_eff:.0f})")
    return SignFlip(_monte_carlo_p(d, seed), f"sign-flip test, Monte Carlo ({MC_REPLICATES} sign vectors, seed {seed})")


def _lattice(a: np.ndarray) -> int | None:
    """The smallest G <= MAX_LATTICE with every value a multiple of 1/G, else None."""
    for g in range(1, MAX_LATTICE + 1):
        scaled = a * g
        if np.all(np.abs(scaled - np.rint(scaled)) <= 1e-9 * max(1.0, g)):
            return g
    return None


def _lattice_cost(steps: np.ndarray) -> float:
    """Multiply-adds of :func:`_lattice_p`: each item adds one shifted copy of the distribution so far."""
    return float(steps.size) * float(2 * steps.sum() + 1)


def _lattice_p(steps: np.ndarray, observed: int) -> float:
    """P(|sum_i s_i steps_i| >= |observed|) for uniform random signs s (integer steps >= 1)."""
    from scipy.special import gammaln

    levels, counts = np.unique(steps, return_counts=True)
    pmf = np.ones(1)  # the distribution of the sum so far on -half..half
    half = 0
    for a, c in zip(levels.tolist(), counts.tolist(), strict=True):
        k = np.arange(c + 1)
        weights = np.exp(gammaln(c + 1.0) - gammaln(k + 1.0) - gammaln(c - k + 1.0) - c * math.log(2.0))
        grown = np.zeros(pmf.size + 2 * a * c)
        for taken, w in enumerate(weights.tolist()):  # `taken` of the c signs positive: shift by a (2 taken - c)
            if w > 0.0:
                grown[2 * a * taken : 2 * a * taken + pmf.size] += w * pmf
        pmf, half = grown, half + a * c
    values = np.arange(-half, half + 1)
    return float(min(1.0, pmf[np.abs(values) >= abs(observed)].sum()))


def _enumerated_p(d: np.ndarray) -> float:
    """The share of all 2^m sign vectors whose |sum| reaches the observed |sum|."""
    m = d.size
    codes = np.arange(2**m, dtype=np.int64)[:, None]
    signs = 1.0 - 2.0 * ((codes >> np.arange(m)) & 1)
    sums = np.abs(signs @ np.abs(d))
    return float(np.mean(sums >= _reach(d)))


def _monte_carlo_p(d: np.ndarray, seed: int) -> float:
    """(1 + #{|T*| >= |T|}) / (1 + B) over B random sign vectors (in blocks of about 4 MB)."""
    rng = np.random.default_rng(seed)
    a = np.abs(d)
    reach = _reach(d)
    block = max(1, 2**19 // a.size)
    exceed = done = 0
    while done < MC_REPLICATES:
        size = min(block, MC_REPLICATES - done)
        signs = 1.0 - 2.0 * rng.integers(0, 2, (size, a.size))
        exceed += int(np.sum(np.abs(signs @ a) >= reach))
        done += size
    return (exceed + 1) / (MC_REPLICATES + 1)


def _reach(d: np.ndarray) -> float:
    """|sum d| less a rounding margin: a sign vector that gives the same sum in another order ties."""
    return abs(float(d.sum())) - 1e-9 * float(np.abs(d).sum())
