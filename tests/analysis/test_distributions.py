"""The distribution functions the report uses without importing scipy.stats give scipy.stats'
own values, bit for bit (``np.testing.assert_array_equal``: equal floats, NaN where NaN),
over grids that include the support's edges and the report's sizes (347,215 rows)."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy import stats

from tailgate.analysis import _distributions as d

QS = [0.0, 1e-300, 1e-12, 0.001, 0.005, 0.025, 0.05, 0.1, 0.3, 0.5, 0.7, 0.95, 0.975, 0.995, 1 - 1e-12, 1.0]


@pytest.mark.parametrize(
    ("total", "good"), [(10, 3), (10, 0), (10, 10), (120, 37), (12_032, 4_117), (347_215, 98_765), (10**6, 1)]
)
def test_hypergeom_sf(total: int, good: int) -> None:
    rng = np.random.default_rng(total + good)
    draws = np.concatenate([[0, 1, total // 2, total - 1, total], rng.integers(0, total + 1, 40)])
    draws = np.repeat(draws, 8)
    mean = draws * good / total
    spread = np.sqrt(np.maximum(mean, 1.0)) * rng.normal(0, 3, draws.size)
    k = np.round(mean + spread) - 1
    k[:5] = [-5, -1, 0, good, total + 3]
    k = np.concatenate([k, [np.nan]])
    draws = np.concatenate([draws, [1]])
    np.testing.assert_array_equal(d.hypergeom_sf(k, total, good, draws), stats.hypergeom.sf(k, total, good, draws))


def test_hypergeom_sf_array_of_good() -> None:
    good = np.array([0, 5, 50, 99, 100])
    k, draws = np.array([0.0, 2, 20, 60, 99]), np.array([3, 10, 40, 70, 100])
    np.testing.assert_array_equal(d.hypergeom_sf(k, 100, good, draws), stats.hypergeom.sf(k, 100, good, draws))


@pytest.mark.parametrize("dof", [1, 2, 3, 28, 405, 10_000])
def test_chi2_sf_and_ppf(dof: int) -> None:
    for x in [-1.0, 0.0, 1e-9, 0.5, 1.0, 3.84, dof, 5.0 * dof + 30, 1e4, np.inf, np.nan]:
        np.testing.assert_array_equal(d.chi2_sf(x, dof), float(stats.chi2.sf(x, dof)))
    for q in QS:
        assert d.chi2_ppf(q, dof) == float(stats.chi2.ppf(q, dof)), q


@pytest.mark.parametrize(("dfn", "dfd"), [(1, 1), (2, 10), (28.5, 12_031.7), (1_000, 3), (12_031, 336_000)])
def test_f_ppf(dfn: float, dfd: float) -> None:
    for q in QS:
        assert d.f_ppf(q, dfn, dfd) == float(stats.f.ppf(q, dfn, dfd)), q


@pytest.mark.parametrize(("a", "b"), [(0.5, 2.0), (1, 1), (3, 998), (37.5, 12_000.5), (347_000, 215), (1, 347_215)])
def test_beta_ppf(a: float, b: float) -> None:
    for q in QS:
        with warnings.catch_warnings():  # Boost's root finding gives up in the far tails, in scipy.stats too
            warnings.simplefilter("ignore", RuntimeWarning)
            assert d.beta_ppf(q, a, b) == float(stats.beta.ppf(q, a, b)), q


BINOM = list(itertools.product([1, 2, 17, 500, 12_032, 10**6], [1e-6, 0.01, 0.5, 0.95, 0.999]))


@pytest.mark.parametrize(("n", "p"), BINOM)
def test_binom_ppf(n: int, p: float) -> None:
    for q in QS:
        assert d.binom_ppf(q, n, p) == float(stats.binom.ppf(q, n, p)), q


def test_norm_ppf() -> None:
    q = np.concatenate([np.array(QS), np.random.default_rng(1).random(1000)])
    np.testing.assert_array_equal(d.norm_ppf(q), stats.norm.ppf(q))


@pytest.mark.parametrize("kind", ["distinct", "ties", "constant", "one", "empty"])
def test_rankdata(kind: str) -> None:
    rng = np.random.default_rng(7)
    x = {
        "distinct": rng.lognormal(5, 1, 10_000),
        "ties": np.round(rng.lognormal(5, 1, 10_000), -1),
        "constant": np.full(100, 3.0),
        "one": np.array([2.5]),
        "empty": np.array([]),
    }[kind]
    np.testing.assert_array_equal(d.rankdata(x), stats.rankdata(x))


@pytest.mark.parametrize("n", [2, 3, 17, 300, 1500, 200_000])
def test_ttest_rel_p(n: int) -> None:
    rng = np.random.default_rng(n)
    for kind in ("binary", "continuous", "shifted", "quarters"):
        base = {
            "binary": (rng.random(n) < 0.4).astype(float),
            "continuous": rng.normal(0.5, 0.2, n),
            "shifted": rng.normal(0.5, 0.2, n),
            "quarters": rng.integers(0, 5, n) / 4,
        }[kind]
        noise = rng.normal(0.0, 0.3, n) if kind != "quarters" else rng.integers(-1, 2, n) / 4
        cand = base + noise + (0.05 if kind == "shifted" else 0.0)
        if np.std(cand - base) == 0:
            continue
        assert d.ttest_rel_p(cand, base) == float(stats.ttest_rel(cand, base).pvalue), kind


@pytest.mark.parametrize("n", [1, 2, 5, 40, 1001, 150_000])
def test_binom_cdf_and_pmf(n: int) -> None:
    for k in sorted({-1, 0, 1, n // 3, n // 2, n - 1, n, n + 1}):
        for p in (0.5, 0.01, 0.9):
            assert d.binom_cdf(k, n, p) == float(stats.binom.cdf(k, n, p)), (k, p)
            assert d.binom_pmf(k, n, p) == float(stats.binom.pmf(k, n, p)), (k, p)


@pytest.mark.parametrize("dof", [1, 2.5, 29, 999, 1e4, 2e5])
def test_t_and_noncentral_t(dof: float) -> None:
    for x in (-np.inf, -40.0, -1.96, -0.1, 0.0, 0.7, 2.5, 37.0, np.inf, np.nan):
        np.testing.assert_array_equal(d.t_cdf(x, dof), float(stats.t.cdf(x, dof)))
        for nc in (0.0, 0.3, 2.8, 15.0):
            np.testing.assert_array_equal(d.nct_sf(x, dof, nc), float(stats.nct.sf(x, dof, nc)))
            np.testing.assert_array_equal(d.nct_cdf(x, dof, nc), float(stats.nct.cdf(x, dof, nc)))
    for q in QS:
        assert d.t_ppf(q, dof) == float(stats.t.ppf(q, dof)), q


def test_norm_cdf() -> None:
    for x in (-np.inf, -40.0, -8.5, -1.96, 0.0, 1e-9, 1.2, 6.0, np.inf):
        assert d.norm_cdf(x) == float(stats.norm.cdf(x)), x
