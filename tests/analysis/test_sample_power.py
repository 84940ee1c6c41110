"""The power advice of ``tailgate sample``: checked against statsmodels and by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tailgate.analysis import sample_power


def test_items_needed_and_mde_match_statsmodels() -> None:
    from statsmodels.stats.power import TTestPower

    advice = sample_power([("all", 300), ("lang=de", 40), ("tiny", 1)], drop=0.05, sd=0.5)
    # statsmodels' one-sample (paired) t-test power, two-sided: the effect is drop / sd = 0.1
    n = TTestPower().solve_power(effect_size=0.1, alpha=0.05, power=0.8, alternative="two-sided")
    assert advice.items_needed == math.ceil(n) == 787
    for row in advice.slices[:2]:
        effect = TTestPower().solve_power(nobs=row.items, alpha=0.05, power=0.8, alternative="two-sided")
        assert row.mde == pytest.approx(effect * 0.5, rel=1e-6)
        assert not row.powered
    assert advice.slices[2].mde is None
    assert "3 of 3 slices cannot detect a drop of 0.05 with 80% power (each needs 787 items" in advice.warnings[0]
    assert sample_power([("all", 800)], drop=0.05).warnings == ()
    (few,) = sample_power([("lang=id", 2)], drop=0.05).warnings
    assert few.endswith("lang=id (2 items, detects no drop of a score in [0, 1] (MDE 6.00))")


def test_the_advice_holds_for_pass_fail_scores_by_simulation() -> None:
    """Deltas in {-1, 0, 1}: a quarter of the items change (sd 0.5 at no change), the candidate
    loses 0.1 on average; at the items the advice names for sd 0.5 the paired t-test rejects
    in about 80% of 4,000 simulated comparisons (Monte-Carlo sd 0.006)."""
    from scipy import stats

    drop, q = 0.1, 0.25
    # P(-1) - P(+1) = drop, P(-1) + P(+1) = q: sd^2 = q - drop^2
    sd = math.sqrt(q - drop * drop)
    n = sample_power([("all", 1)], drop=drop, sd=sd).items_needed
    rng = np.random.default_rng(0)
    draws = rng.choice([-1.0, 0.0, 1.0], p=[(q + drop) / 2, 1 - q, (q - drop) / 2], size=(4000, n))
    p = stats.ttest_1samp(draws, 0.0, axis=1).pvalue
    rate = float(np.mean(p < 0.05))
    assert 0.78 <= rate <= 0.83, rate


@pytest.mark.parametrize(("drop", "sd"), [(0.0, 0.5), (1.5, 0.5), (0.05, 0.0)])
def test_bad_arguments(drop: float, sd: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        sample_power([("all", 10)], drop=drop, sd=sd)
