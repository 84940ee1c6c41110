"""Judge agreement (Cohen's kappa, Scott's pi, Krippendorff's alpha, sensitivity/specificity) and
PPI++, against independent implementations on real data and against closed forms."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa
from statsmodels.stats.proportion import proportion_confint

from tailgate.analysis import agreement, cohen_kappa, judge_accuracy, krippendorff_alpha, ppi_mean, scott_pi

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("agreement_calibration", ROOT / "bench" / "agreement_calibration.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def wildbench() -> tuple[list[int], list[int], np.ndarray]:
    """The two WildBench v2 judges' 1-10 scores of the same 6,133 (model, task) pairs (real data,
    ../shared/data/wildbench, Apache-2.0)."""
    scores, task = _bench().wildbench_pairs()  # type: ignore[attr-defined]
    return scores[:, 1].astype(int).tolist(), scores[:, 0].astype(int).tolist(), task


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_equals_scikit_learn_on_real_judges(
    wildbench: tuple[list[int], list[int], np.ndarray], weights: str | None
) -> None:
    turbo, gpt4o, _ = wildbench
    assert len(turbo) == 6133
    ours = cohen_kappa(turbo, gpt4o, weights=weights)  # type: ignore[arg-type]
    assert ours is not None
    assert ours == pytest.approx(cohen_kappa_score(turbo, gpt4o, weights=weights), abs=1e-9)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_equals_the_krippendorff_package_on_real_judges(
    wildbench: tuple[list[int], list[int], np.ndarray], level: str
) -> None:
    turbo, gpt4o, _ = wildbench
    theirs = krippendorff.alpha(reliability_data=np.array([turbo, gpt4o], float), level_of_measurement=level)
    assert krippendorff_alpha(turbo, gpt4o, level=level) == pytest.approx(theirs, abs=1e-9)  # type: ignore[arg-type]


def test_alpha_leaves_unpairable_ratings_out_as_the_package_does(
    wildbench: tuple[list[int], list[int], np.ndarray],
) -> None:
    turbo, gpt4o, _ = wildbench
    a = [None if i % 7 == 0 else v for i, v in enumerate(turbo[:800])]
    b = [float("nan") if i % 11 == 0 else float(v) for i, v in enumerate(gpt4o[:800])]
    data = np.array([[np.nan if v is None else v for v in a], b], float)
    for level in ("nominal", "ordinal", "interval"):
        theirs = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
        assert krippendorff_alpha(a, b, level=level) == pytest.approx(theirs, abs=1e-9)  # type: ignore[arg-type]


def test_scott_pi_is_fleiss_kappa_for_two_raters(wildbench: tuple[list[int], list[int], np.ndarray]) -> None:
    """Fleiss' kappa (statsmodels) generalises Scott's pi: with two raters they are equal."""
    turbo, gpt4o, _ = wildbench
    table, _ = aggregate_raters(np.array([turbo, gpt4o]).T)
    assert scott_pi(turbo, gpt4o) == pytest.approx(fleiss_kappa(table, method="fleiss"), abs=1e-9)


def test_string_labels_and_a_worked_example() -> None:
    """2x2 table [[20, 5], [10, 15]]: p_o = 0.7, p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa = 0.4;
    pooled marginals 0.55 / 0.45: pi = (0.7 - 0.505) / 0.495."""
    a = ["pass"] * 25 + ["fail"] * 25
    b = ["pass"] * 20 + ["fail"] * 5 + ["pass"] * 10 + ["fail"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-12)
    assert scott_pi(a, b) == pytest.approx((0.7 - 0.505) / 0.495, abs=1e-12)
    r = agreement(a, b)
    assert r.labels == ("fail", "pass")
    assert r.kappa.value == pytest.approx(0.4, abs=1e-12)
    assert r.observed.value == pytest.approx(0.7)
    assert r.kappa.low is not None
    assert r.kappa.high is not None
    assert r.kappa.low < 0.4 < r.kappa.high
    assert r.weighted_kappa is None


def test_one_label_only_is_undefined_not_perfect() -> None:
    r = agreement(["yes"] * 30, ["yes"] * 30)
    assert r.kappa.value is None
    assert "undefined" in r.kappa.method
    assert any("undefined" in w for w in r.warnings)
    assert cohen_kappa(["yes"] * 5, ["yes"] * 5) is None


def test_a_rater_with_one_label_has_kappa_zero_and_a_warning_not_a_precise_interval() -> None:
    # bench/judge_peers.py: SmolLM2 as judge_reference said "no" to all 57 outputs it judged
    judge = [False] * 57
    truth = [True] * 3 + [False] * 54
    r = agreement(judge, truth)
    assert r.kappa.value == pytest.approx(cohen_kappa_score(judge, truth), abs=1e-12)
    assert r.kappa.value == 0.0
    assert (r.kappa.low, r.kappa.high) == (0.0, 0.0)  # every jackknife replicate is 0 too
    assert any("0 by construction" in w and "no precision" in w for w in r.warnings)
    assert not any("by construction" in w for w in agreement([0, 1, 1, 0] * 5, [0, 1, 0, 0] * 5).warnings)


def test_the_item_is_the_jackknife_unit_and_the_output_is_deterministic(
    wildbench: tuple[list[int], list[int], np.ndarray],
) -> None:
    turbo, gpt4o, task = wildbench
    clustered = agreement(turbo, gpt4o, items=task, level="ordinal")
    naive = agreement(turbo, gpt4o, level="ordinal")
    assert clustered.n_items == 1024
    assert naive.n_items == 6133
    assert clustered.kappa.value == naive.kappa.value
    width = {r.n_items: r.alpha.high - r.alpha.low for r in (clustered, naive)}  # type: ignore[operator]
    assert width[1024] > width[6133]  # scores of one task's answers are correlated
    assert agreement(turbo, gpt4o, items=task, level="ordinal").as_dict() == clustered.as_dict()


def test_judge_accuracy_is_wilson_per_class() -> None:
    truth = [True] * 40 + [False] * 60
    judge = [True] * 34 + [False] * 6 + [True] * 12 + [False] * 48
    r = judge_accuracy(judge, truth)
    assert r.sensitivity.value == pytest.approx(34 / 40)
    low, high = proportion_confint(34, 40, method="wilson")
    assert (r.sensitivity.low, r.sensitivity.high) == pytest.approx((low, high), abs=1e-12)
    low, high = proportion_confint(48, 60, method="wilson")
    assert (r.specificity.low, r.specificity.high) == pytest.approx((low, high), abs=1e-12)
    assert r.accuracy.value == pytest.approx(0.82)


def test_ppi_point_estimate_is_the_closed_form() -> None:
    """theta = lambda mean(f_u) + mean(y - lambda f_l), lambda = Cov(y, f) / ((1 + n/N) Var(f))
    (Angelopoulos, Duchi & Zrnic 2023, PPI++, the mean example)."""
    rng = np.random.default_rng(7)
    y = rng.normal(5, 2, 80)
    fl = y + rng.normal(0.6, 1, 80)
    fu = rng.normal(5.6, 2.2, 2000)
    r = ppi_mean(y, fl, fu)
    f_all = np.concatenate([fl, fu])
    lam = np.cov(y, fl, ddof=1)[0, 1] / ((1 + 80 / 2000) * f_all.var(ddof=1))
    assert r.lam == pytest.approx(min(1.0, lam), abs=1e-12)
    assert r.estimate.value == pytest.approx(r.lam * fu.mean() + (y - r.lam * fl).mean(), abs=1e-12)
    se = math.sqrt(r.lam**2 * fu.var(ddof=1) / 2000 + (y - r.lam * fl).var(ddof=1) / 80)
    assert r.estimate.se == pytest.approx(se, abs=1e-12)
    assert r.judge_bias.value == pytest.approx((fl - y).mean())
    assert r.width_ratio is not None
    assert r.width_ratio < 0.8
    # lambda 0 is the labelled mean; lambda 1 the original PPI
    assert ppi_mean(y, fl, fu, lam=0.0).estimate.value == pytest.approx(y.mean(), abs=1e-12)
    assert ppi_mean(y, fl, fu, lam=1.0).estimate.value == pytest.approx(fu.mean() + (y - fl).mean(), abs=1e-12)
    assert ppi_mean(y, fl, fu).as_dict() == r.as_dict()


def test_ppi_with_a_useless_judge_gains_nothing() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(60) < 0.4).astype(float)
    r = ppi_mean(y, rng.random(60), rng.random(500))
    assert r.lam < 0.2
    assert r.estimate.low is not None
    assert r.estimate.low >= 0.0
    assert r.estimate.high is not None
    assert r.estimate.high <= 1.0


def test_ppi_rejects_mismatched_labels() -> None:
    with pytest.raises(ValueError, match="one of each per item"):
        ppi_mean([1, 0, 1], [1, 0], [1, 1, 1])


def test_calibration_subset_covers() -> None:
    """The quick cells of bench/agreement_calibration.py (60 replications each): a broken interval
    (the plain t PPI interval covers 0.92 there, a naive per-sample kappa bootstrap on clustered
    data far less) falls below these bounds often; a calibrated one almost never (P < 0.01)."""
    bench = _bench()
    rows = bench.agreement_cells(60, (100,), 11) + bench.ppi_cells(60, ((50, 2000),), 11)  # type: ignore[attr-defined]
    for row in rows:
        assert row["coverage"] is not None, row
        assert row["coverage"] >= 0.85, row
    score = next(r for r in rows if "score," in r["cell"])
    assert score["median_width_ratio"] < 0.8  # at least 20% narrower than the labels alone
