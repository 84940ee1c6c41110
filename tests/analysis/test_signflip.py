"""The paired sign-flip test of compare's slices against independent computations: a brute force
over every sign vector (``itertools.product``), ``scipy.stats.permutation_test`` with
``permutation_type='samples'`` (it swaps base and candidate within each pair: the same null),
and the two-sided binomial sign test (``scipy.stats.binomtest``) for deltas of -1, 0 and 1."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from tailgate.analysis import CompareOptions, _signflip
from tailgate.analysis._compare import _compare
from tailgate.analysis._data import RunData
from tailgate.analysis._memory import run_from_tables
from tailgate.analysis._signflip import sign_flip_test


def _brute_force(d: np.ndarray) -> float:
    """P(|sum s_i d_i| >= |sum d_i|) over all 2^m sign vectors, one by one."""
    observed = abs(float(d.sum()))
    hits = sum(
        abs(sum(s * x for s, x in zip(signs, d.tolist(), strict=True))) >= observed - 1e-9
        for signs in itertools.product((1, -1), repeat=d.size)
    )
    return hits / 2**d.size


def _scipy_paired(base: np.ndarray, cand: np.ndarray) -> float:
    def mean_delta(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
        return np.asarray(np.mean(x - y, axis=axis))

    res = stats.permutation_test(
        (cand, base), mean_delta, permutation_type="samples", alternative="two-sided", n_resamples=np.inf
    )
    return float(res.pvalue)


@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lattice_deltas_match_the_brute_force_and_scipy(k: int, seed: int) -> None:
    """0/1 scores with K samples per item: item means on 1/K, deltas on 1/K (exact convolution)."""
    rng = np.random.default_rng(seed)
    p = rng.beta(7, 3, 12)
    base, cand = rng.binomial(k, p) / k, rng.binomial(k, p) / k
    cand[:3] = np.minimum(cand[:3] + 0.5, 1.0)  # some real change, so p-values are not all near 1
    result = sign_flip_test(cand - base)
    assert result.method.startswith("exact sign-flip test (deltas on the lattice")
    assert result.p_value == pytest.approx(_brute_force(cand - base), rel=1e-9, abs=1e-12)
    assert result.p_value == pytest.approx(_scipy_paired(base, cand), rel=1e-9, abs=1e-12)


def test_continuous_deltas_enumerate_every_sign_vector() -> None:
    rng = np.random.default_rng(5)
    base, cand = rng.beta(2, 2, 13), rng.beta(2.6, 2, 13)
    result = sign_flip_test(cand - base)
    assert result.method == "exact sign-flip test (all 8192 sign vectors)"
    assert result.p_value == pytest.approx(_brute_force(cand - base), rel=1e-12)
    assert result.p_value == pytest.approx(_scipy_paired(base, cand), rel=1e-9)


def test_large_binary_slices_are_the_binomial_sign_test() -> None:
    """One 0/1 sample per item: deltas -1, 0, 1; the exact sign-flip test of their sum is the
    two-sided sign test on the discordant items (McNemar's exact test), here with 2,400 of them."""
    rng = np.random.default_rng(3)
    d = rng.choice([-1.0, 0.0, 1.0], size=6000, p=[0.19, 0.6, 0.21])
    result = sign_flip_test(d)
    gained, discordant = int((d > 0).sum()), int((d != 0).sum())
    assert result.method == "exact sign-flip test (deltas on the lattice 1/1)"
    assert result.p_value == pytest.approx(stats.binomtest(gained, discordant, 0.5).pvalue, rel=1e-9)


def test_equal_deltas_are_not_certain() -> None:
    """All of a slice's deltas equal (sd 0): the t-test's p was 0; two of 2^m sign vectors are as extreme."""
    assert sign_flip_test(np.full(10, 0.1)).p_value == pytest.approx(2 / 2**10)
    assert sign_flip_test(np.zeros(10)).p_value == 1.0
    assert sign_flip_test(np.array([0.0, 0.0, 0.3])).p_value == 1.0  # one nonzero delta: both signs


def test_monte_carlo_is_deterministic_valid_and_close_to_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off the lattice with 18 nonzero deltas (too many to enumerate, n_eff below the normal
    limit's threshold): Monte Carlo with a fixed seed, within 4 MC SE of the 2^18 brute force."""
    rng = np.random.default_rng(11)
    d = np.exp(rng.normal(0, 1.5, 18)) * rng.choice([-1, 1], 18)  # heavy tails: small n_eff
    d[:6] = np.abs(d[:6])
    first, again = sign_flip_test(d, seed=4), sign_flip_test(d, seed=4)
    assert first.method.startswith("sign-flip test, Monte Carlo")
    assert first == again
    exact = _brute_force(d)
    b = _signflip.MC_REPLICATES
    se = math.sqrt(exact * (1 - exact) / b)
    assert abs(first.p_value - exact) <= 4 * se + 1 / b
    assert first.p_value >= 1 / (b + 1)


def test_the_normal_limit_only_for_many_effective_deltas() -> None:
    rng = np.random.default_rng(2)
    base = rng.beta(2, 2, 400)
    cand = np.clip(base + rng.normal(0.02, 0.2, 400), 0.0, 1.0)
    result = sign_flip_test(cand - base)
    assert result.method.startswith("sign-flip test, normal limit")
    # against scipy's randomised paired permutation test (20,000 resamples: SE about 0.003)
    res = stats.permutation_test(
        (cand, base),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        n_resamples=20_000,
        random_state=np.random.default_rng(0),
    )
    assert 0.02 < res.pvalue < 0.5  # a p-value in the range where the comparison says something
    assert result.p_value == pytest.approx(float(res.pvalue), abs=0.015)
    few = rng.normal(size=20) * np.r_[np.ones(19), 30.0]  # one delta dominates: n_eff near 1
    assert not sign_flip_test(few).method.startswith("sign-flip test, normal limit")


def test_a_lattice_too_wide_for_the_budget_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_signflip, "EXACT_BUDGET", 10.0)
    d = np.array([0.1, 0.2, -0.1, 0.3, 0.1, 0.2, 0.4, -0.2, 0.1, 0.3])
    result = sign_flip_test(d)
    assert result.method == "exact sign-flip test (all 1024 sign vectors)"
    assert result.p_value == pytest.approx(_brute_force(d))


def test_small_slices_keep_their_level_in_the_far_tail() -> None:
    """Why the t-test failed BH at 100 items x 10 repeats: a slice of 10 item deltas of nearly equal
    size (this one is from the study's replication 2, where t = -6.7, p = 8.8e-5). Under the null
    every one of its 1,024 sign vectors is equally likely; at alpha = 1e-4 (the far tail BH reaches
    into) the t-test rejects the two with all signs agreeing, with probability 2 / 1,024, 20 times
    alpha; the sign-flip test never (its smallest p-value is 2 / 1,024)."""
    d = np.array([-0.3, -0.2, -0.2, -0.2, -0.1, -0.1, -0.1, -0.1, -0.1, -0.1])
    alpha = 1e-4
    t_rejects = flip_rejects = 0
    for signs in itertools.product((1.0, -1.0), repeat=d.size):
        x = np.abs(d) * np.array(signs)
        t_rejects += bool(stats.ttest_1samp(x, 0.0).pvalue <= alpha) if np.ptp(x) > 0 else True
        flip_rejects += sign_flip_test(x).p_value <= alpha
    assert t_rejects / 2**d.size > 10 * alpha
    assert flip_rejects / 2**d.size <= alpha
    assert sign_flip_test(d).p_value == pytest.approx(2 / 2**10)
    rng = np.random.default_rng(0)  # and unconditionally, under the study's null at 10 items
    reps = 20_000
    p = rng.beta(14, 6, (reps, 10))
    null = (rng.binomial(10, p) - rng.binomial(10, p)) / 10
    flip = np.array([sign_flip_test(row).p_value for row in null])
    assert float(np.mean(flip <= 0.002)) <= 0.002 + 4 * math.sqrt(0.002 / reps)


def _run(ids: list[str], groups: list[str], scores: np.ndarray) -> RunData:
    n, k = scores.shape
    records = {
        "item_id": np.repeat(np.array(ids, dtype=object), k),
        "variant": np.full(n * k, "original", dtype=object),
        "repeat": np.tile(np.arange(k), n),
        "score": scores.ravel(),
        "output": np.full(n * k, "x", dtype=object),
    }
    items = {"item_id": ids, "attributes": [f'{{"g":"{g}"}}' for g in groups]}
    manifest = {"suite": {"name": "s", "config": {"dataset": {"attributes": ["g"]}}}, "repeats": k}
    return run_from_tables(records, items, manifest)


def test_compare_slices_carry_the_sign_flip_p_and_the_t_interval() -> None:
    """Two runs of 24 items x 3 repeats, attribute g with two values (12 items each): each
    slice's p-value is scipy's exact paired permutation test on the per-item means computed here,
    its interval the one-sample t interval."""
    rng = np.random.default_rng(8)
    ids = [f"q{i:02d}" for i in range(24)]
    groups = ["x" if i % 2 else "y" for i in range(24)]
    base = (rng.random((24, 3)) < 0.7).astype(float)
    cand = (rng.random((24, 3)) < np.where(np.array(groups) == "x", 0.2, 0.7)[:, None]).astype(float)
    b, c = _run(ids, groups, base), _run(ids, groups, cand)
    try:
        slices = {s.slice: s for s in _compare(b, c, CompareOptions()).slices}
    finally:
        b.close()
        c.close()
    for value in ("x", "y"):
        mask = np.array(groups) == value
        mb, mc = base[mask].mean(axis=1), cand[mask].mean(axis=1)
        s = slices[f"g={value}"]
        assert s.test == "exact sign-flip test (deltas on the lattice 1/3)"
        assert s.p_value == pytest.approx(_scipy_paired(mb, mc), rel=1e-9)
        low, high = stats.ttest_1samp(mc - mb, 0.0).confidence_interval(0.95)
        assert (s.delta.low, s.delta.high) == (pytest.approx(low), pytest.approx(high))
    assert slices["g=x"].p_value < 0.05  # the planted drop
