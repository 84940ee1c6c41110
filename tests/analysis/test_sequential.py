"""The sequential gate's confidence sequence (PrPl-EB, Waudby-Smith & Ramdas 2024, JRSS-B, Theorem 2)
against independent computations: a scalar loop written from the paper's formulas, the ``confseq``
package's ``predmix_empbern_twosided_cs`` (its authors' code, the pure-Python modules of its sdist:
the package does not build on Python 3.11, see the test), and a fast A/A simulation with
repeats and intra-item correlation 0.5 that fails if the error rate under continuous monitoring
exceeds alpha (and checks that the same harness does catch naive peeking)."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from tailgate.analysis import (
    SequentialOptions,
    adjust_bh,
    ordered_decision,
    prpl_eb_cs,
    sequential_decision,
    sequential_order,
)
from tailgate.analysis._sequential import decide_path, e_bh, regression_e_value


def _loop_lower(x: list[float], alpha: float, c: float, horizon: int | None) -> list[float]:
    """WSR 2024 eq. (13)-(15), one observation at a time (one-sided lower CS at level alpha)."""
    out, s_x, s_sq, s_lx, s_pen, s_l = [], 0.0, 0.0, 0.0, 0.0, 0.0
    sigma2_prev, xbar_prev = 0.25, 0.0
    for t, xt in enumerate(x, start=1):
        spread = t * math.log(1 + t) if horizon is None else horizon
        lam = min(math.sqrt(2 * math.log(1 / alpha) / (spread * sigma2_prev)), c)
        s_l += lam
        s_lx += lam * xt
        s_pen += (xt - xbar_prev) ** 2 * (-math.log(1 - lam) - lam)
        out.append(min((s_lx - math.log(1 / alpha) - s_pen) / s_l, 1.0))
        s_x += xt
        mhat = (0.5 + s_x) / (t + 1)
        s_sq += (xt - mhat) ** 2
        sigma2_prev = (0.25 + s_sq) / (t + 1)
        xbar_prev = s_x / t
    return out


@pytest.mark.parametrize("horizon", [None, 150])
@pytest.mark.parametrize("seed", [0, 1])
def test_the_cs_matches_a_loop_over_the_papers_formulas(seed: int, horizon: int | None) -> None:
    x = np.random.default_rng(seed).beta(2, 3, 300)
    low, high = prpl_eb_cs(x, 0.05, running_intersection=False, horizon=horizon)
    want_low = np.maximum(_loop_lower(x.tolist(), 0.025, 0.5, horizon), 0)
    want_high = 1 - np.maximum(_loop_lower((1 - x).tolist(), 0.025, 0.5, horizon), 0)
    np.testing.assert_allclose(low, want_low, rtol=0, atol=1e-12)
    np.testing.assert_allclose(high, want_high, rtol=0, atol=1e-12)


CONFSEQ_SRC = Path(__file__).resolve().parents[2] / ".venv" / "oracles" / "confseq-0.0.11" / "src"


@pytest.mark.parametrize("fixed_n", [None, 200])
def test_the_cs_matches_confseq(fixed_n: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """confseq's own pure-Python ``predmix`` from its PyPI sdist (0.0.11; ``make install`` unpacks
    it into .venv/oracles: the package's C++ part does not build on Python 3.11, its Python part
    needs only numpy and ``multiprocess``; it still names ``np.float_``, gone in NumPy 2)."""
    assert CONFSEQ_SRC.is_dir(), f"{CONFSEQ_SRC} missing: run make install (it unpacks confseq's sdist there)"
    monkeypatch.syspath_prepend(str(CONFSEQ_SRC))
    monkeypatch.setattr(np, "float_", np.float64, raising=False)
    predmix = importlib.import_module("confseq.predmix")
    x = np.random.default_rng(3).binomial(3, 0.7, 400) / 3
    # predmix_empbern_twosided_cs in recent confseq (predmix_empbern_cs, now deprecated, before)
    cs = getattr(predmix, "predmix_empbern_twosided_cs", None) or predmix.predmix_empbern_cs
    theirs_low, theirs_high = cs(x, alpha=0.05, truncation=0.5, running_intersection=False, fixed_n=fixed_n)
    low, high = prpl_eb_cs(x, 0.05, running_intersection=False, horizon=fixed_n)
    np.testing.assert_allclose(low, np.clip(theirs_low, 0, 1), atol=1e-9)
    np.testing.assert_allclose(high, np.clip(theirs_high, 0, 1), atol=1e-9)


def test_a_vectorised_call_equals_one_call_per_row() -> None:
    x = np.random.default_rng(4).uniform(size=(3, 120))
    low, high = prpl_eb_cs(x)
    for row in range(3):
        one = prpl_eb_cs(x[row])
        np.testing.assert_array_equal(low[row], one[0])
        np.testing.assert_array_equal(high[row], one[1])


def test_the_running_intersection_is_monotone_and_inside_the_plain_cs() -> None:
    x = np.random.default_rng(5).uniform(size=500)
    low, high = prpl_eb_cs(x)
    plain_low, plain_high = prpl_eb_cs(x, running_intersection=False)
    assert np.all(np.diff(low) >= 0)
    assert np.all(np.diff(high) <= 0)
    assert np.all(low >= plain_low)
    assert np.all(high <= plain_high)


def _aa(rng: np.random.Generator, sims: int, n: int) -> np.ndarray:
    """Per-item paired differences of A/A runs: p_i ~ Beta(0.7, 0.3) (ICC 0.5), 3 repeats."""
    p = rng.beta(0.7, 0.3, (sims, n))
    return np.asarray(rng.binomial(3, p) / 3 - rng.binomial(3, p) / 3)


def test_aa_wrong_decisions_at_any_stopping_time_stay_below_alpha() -> None:
    """500 A/A runs checked after every item up to 400; the bound fails at 0.05 + 3 MC SE. The same
    runs under naive peeking (a 5% paired t-test every 50 items) must exceed 0.10, so the harness
    does see an inflated error when there is one."""
    sims, n = 500, 400
    d = _aa(np.random.default_rng(2026), sims, n)
    options = SequentialOptions()
    for horizon in (None, n):
        low, high = prpl_eb_cs((d + 1) / 2, options.alpha, horizon=horizon)
        _, code = decide_path(2 * low - 1, 2 * high - 1, options)
        wrong = float(np.isin(code, (1, 2)).mean())
        assert wrong <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sims), (horizon, wrong)
    looks = np.arange(50, n + 1, 50)
    rejects = np.zeros(sims, dtype=bool)
    for k in looks:
        rejects |= stats.ttest_1samp(d[:, :k], 0, axis=1).pvalue < 0.05
    assert rejects.mean() > 0.10


def test_a_clear_improvement_is_decided_early_and_covered() -> None:
    rng = np.random.default_rng(7)
    base = rng.binomial(3, 0.5, 3000) / 3
    cand = rng.binomial(3, 0.75, 3000) / 3
    result = sequential_decision(base, cand, SequentialOptions(seed=1))
    assert result.decision == "better"
    assert result.n_items < 1000
    assert result.low > 0
    assert result.low <= 0.25 <= result.high
    assert len(result.path) == result.n_items
    assert result.exit_code == 0
    assert 0 < result.savings < 1
    assert result.as_dict()["decision"] == "better"


def test_a_clear_regression_is_worse_and_exits_1() -> None:
    rng = np.random.default_rng(8)
    base = rng.binomial(1, 0.8, 2000).astype(float)
    cand = rng.binomial(1, 0.5, 2000).astype(float)
    result = sequential_decision(base, cand)
    assert (result.decision, result.exit_code) == ("worse", 1)
    assert result.high < 0


def test_identical_runs_are_equivalent_within_the_margin() -> None:
    scores = np.random.default_rng(9).binomial(3, 0.6, 3000) / 3
    result = sequential_decision(scores, scores, SequentialOptions(margin=0.05))
    assert result.decision == "equivalent"
    assert -0.05 < result.low <= 0 <= result.high < 0.05


def test_too_few_items_are_inconclusive_and_exit_3() -> None:
    rng = np.random.default_rng(10)
    result = sequential_decision(rng.binomial(1, 0.5, 30).astype(float), rng.binomial(1, 0.5, 30).astype(float))
    assert (result.decision, result.n_items, result.exit_code) == ("inconclusive", 30, 3)


def test_the_order_is_seeded() -> None:
    rng = np.random.default_rng(11)
    base, cand = rng.binomial(1, 0.5, 800).astype(float), rng.binomial(1, 0.6, 800).astype(float)
    a, b = sequential_decision(base, cand), sequential_decision(base, cand)
    assert a == b
    assert sequential_decision(base, cand, SequentialOptions(seed=5)).path != a.path


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sequential_decision(np.array([0.0, 2.0]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="same"):
        sequential_decision(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="alpha"):
        SequentialOptions(alpha=0)


# --- per-slice rule: e-processes and e-BH --------------------------------------------------------


def _loop_e_value(d: list[float]) -> float:
    """The aGRAPA e-process against mean(d) >= 0, one item at a time."""
    k, s_x, s_sq = 1.0, 0.0, 0.0
    mhat_prev, sigma2_prev = 0.5, 0.25
    for t, dt in enumerate(d, start=1):
        x = (dt + 1) / 2
        gap = 0.5 - mhat_prev
        lam = min(max(gap / (sigma2_prev + gap * gap), 0.0), 1.0)
        k *= 1 + lam * (0.5 - x)
        s_x += x
        mhat = (0.5 + s_x) / (t + 1)
        s_sq += (x - mhat) ** 2
        mhat_prev, sigma2_prev = mhat, (0.25 + s_sq) / (t + 1)
    return k


def test_the_slice_e_value_matches_a_loop_and_grows_under_a_regression() -> None:
    rng = np.random.default_rng(12)
    d = rng.binomial(3, 0.5, 200) / 3 - rng.binomial(3, 0.7, 200) / 3
    assert regression_e_value(d) == pytest.approx(_loop_e_value(d.tolist()), rel=1e-10)
    assert regression_e_value(d) > 1e3
    assert regression_e_value(-d) <= 1  # an improvement: the bets stay at 0


def test_the_slice_e_value_is_an_e_value_under_the_null() -> None:
    """A/A: E[K] <= 1 (to Monte-Carlo error) and Ville's bound P(K >= 20) <= 0.05."""
    d = _aa(np.random.default_rng(13), 2000, 150)
    e = np.array([regression_e_value(row) for row in d])
    assert e.mean() <= 1 + 3 * e.std() / math.sqrt(e.size)
    assert (e >= 20).mean() <= 0.05


def test_e_bh_is_bh_on_the_reciprocal_e_values() -> None:
    """Wang & Ramdas (2022) section 3: e-BH rejects what BH rejects on p_i = min(1, 1/e_i)."""
    rng = np.random.default_rng(14)
    for _ in range(200):
        e = np.exp(rng.normal(0, 3, rng.integers(1, 12)))
        p = np.minimum(1, 1 / e)
        assert np.array_equal(e_bh(e, 0.1), adjust_bh(p) <= 0.1)
    assert e_bh(np.array([100.0, 45, 1, 0.5]), 0.05).tolist() == [True, True, False, False]
    assert not e_bh(np.array([40.0, 30, 1, 0.5]), 0.05).any()


def test_aa_slices_are_flagged_at_most_alpha_of_the_time() -> None:
    """Global null (A/A), 5 overlapping slices: P(any flagged) = FDR <= alpha (+3 MC SE)."""
    sims, n = 300, 300
    rng = np.random.default_rng(15)
    masks = {f"s{j}": rng.uniform(size=n) < 0.3 for j in range(5)}
    flagged = 0
    for row in _aa(rng, sims, n):
        result = sequential_decision(np.zeros(n) + 0.5, 0.5 + row / 2, SequentialOptions(), masks)
        flagged += bool(result.regressed_slices)
    assert flagged / sims <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sims)


def test_a_regressed_slice_fails_the_gate_even_when_the_mean_is_better() -> None:
    rng = np.random.default_rng(16)
    n = 3000
    base = rng.binomial(3, 0.5, n) / 3
    bad = np.arange(n) < 600
    cand = np.where(bad, 0.0, np.minimum(base + 0.5, 1.0))
    result = sequential_decision(base, cand, SequentialOptions(), {"bad": bad, "rest": ~bad})
    assert result.decision == "better"
    assert [s.slice for s in result.regressed_slices] == ["bad"]
    assert not result.passed
    assert result.exit_code == 1


# -- run --until-decided: the looks after each batch, on the items in a fixed order ---------------


def test_looks_after_batches_keep_the_wrong_decision_rate_below_alpha() -> None:
    """400 A/A runs of 300 items looked at after every batch of 20 (as run --until-decided
    looks, stopping at the first look that decides): the wrong decisions ('better' or 'worse')
    stay below alpha + 3 MC SE, and every decision a look makes stays the same at later looks
    (the path of the first n items does not change when more items come)."""
    sims, n, batch = 400, 300, 20
    d = _aa(np.random.default_rng(2027), sims, n)
    options = SequentialOptions(margin=0.02)
    wrong = 0
    for row in d:
        verdicts = [ordered_decision(row[:k], n, options) for k in range(batch, n + 1, batch)]
        decided = [v for v in verdicts if v.decision != "inconclusive"]
        if decided:
            first = decided[0]
            wrong += first.decision in ("better", "worse")
            later = verdicts[verdicts.index(first) :]
            assert {(v.decision, v.n_items) for v in later} == {(first.decision, first.n_items)}
    assert wrong / sims <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sims)


def test_the_ordered_decision_is_the_shuffled_one_in_its_order() -> None:
    rng = np.random.default_rng(12)
    base, cand = rng.binomial(1, 0.5, 500).astype(float), rng.binomial(1, 0.7, 500).astype(float)
    options = SequentialOptions(seed=9)
    order = np.random.default_rng(9).permutation(500)
    assert ordered_decision((cand - base)[order], 500, options) == sequential_decision(base, cand, options)
    # with no item yet: inconclusive on the whole range, n = 0
    empty = ordered_decision(np.zeros(0), 500, options)
    assert (empty.decision, empty.n_items, empty.low, empty.high, empty.exit_code) == ("inconclusive", 0, -1, 1, 3)
    with pytest.raises(ValueError, match="budget"):
        ordered_decision(np.zeros(10), 5, options)


def test_the_item_order_depends_on_the_ids_and_the_seed_only() -> None:
    ids = [f"item-{i}" for i in range(50)]
    order = sequential_order(ids, seed=3)
    assert sorted(order) == sorted(ids)
    assert sequential_order(reversed(ids), seed=3) == order  # not on the order they come in
    assert sequential_order(ids, seed=4) != order
    expected = np.array(sorted(ids))[np.random.default_rng(3).permutation(50)]
    assert list(order) == list(expected)
