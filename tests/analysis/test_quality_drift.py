"""Quality under drift (analysis/_quality_drift.py) against closed forms, statsmodels and
simulation; the attributes of eval items against those the traffic import derives; and a fast
subset of bench/quality_drift_calibration.py that can fail.

References: the post-stratified mean and the variance of a stratified mean at fixed weights,
sum_h W_h^2 s_h^2 / n_h (Cochran 1977, "Sampling Techniques", eq. 5.6 without the finite
population correction); the multinomial covariance (diag(W) - W W^T) / M; the exact variance of a
bilinear form of independent random vectors, Var(w . y) = mu' Cov(w) mu + W' Cov(y) W +
tr(Cov(w) Cov(y)) (Goodman 1960, JASA 55:708, for products of independent variables); Wilson's
interval as ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from bench import quality_drift_calibration as bench
from statsmodels.stats.proportion import proportion_confint

from tailgate.analysis import load_run, post_stratify, quality_under_drift
from tailgate.analysis._quality_drift import item_request_attributes
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store
from tailgate.traffic import DERIVED_COLUMNS, TrafficTable, import_traffic, read_window


def _wilson(p: float, n_eff: float) -> tuple[float, float]:
    low, high = proportion_confint(p * n_eff, n_eff, alpha=0.05, method="wilson")
    return float(low), float(high)


def test_the_estimate_and_its_variance_against_a_hand_computed_example() -> None:
    # en: 4 items 1,1,1,0 (mean 3/4, s^2 = 1/4); de: 4 items 1,0,0,0 (mean 1/4, s^2 = 1/4)
    scores = np.array([1, 1, 1, 0, 1, 0, 0, 0], dtype=float)
    items = {"lang": ["en"] * 4 + ["de"] * 4}
    window = {"lang": ["en"] * 2 + ["de"] * 8}  # w = (en 0.2, de 0.8), M = 10
    q = post_stratify(np.ones(8), scores, items, window, ["lang"], binary=True, min_items=2)
    # theta = 0.2 * 0.75 + 0.8 * 0.25 = 0.35
    # V = 0.2^2 * 0.25 / 4 + 0.8^2 * 0.25 / 4 + (0.2 * 0.4^2 + 0.8 * 0.1^2) / 10 = 0.0425 + 0.004
    assert q.reweighted.value == pytest.approx(0.35, abs=1e-12)
    assert q.reweighted.se == pytest.approx(math.sqrt(0.0465), rel=1e-12)
    low, high = _wilson(0.35, 0.35 * 0.65 / 0.0465)
    assert (q.reweighted.low, q.reweighted.high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))
    # the suite: 4 of 8, Wilson; the change: -0.15 = two contributions of -0.075
    assert q.suite.value == 0.5
    assert (q.suite.low, q.suite.high) == (pytest.approx(_wilson(0.5, 8)[0]), pytest.approx(_wilson(0.5, 8)[1]))
    assert q.delta.value == pytest.approx(-0.15)
    assert [(c.label, c.eval_share, c.window_share) for c in q.cells] == [
        ("lang=de", 0.5, pytest.approx(0.8)),
        ("lang=en", 0.5, pytest.approx(0.2)),
    ]
    assert [c.contribution for c in q.cells] == [pytest.approx(-0.075), pytest.approx(-0.075)]
    # Var(delta) = (0.3^2 + 0.3^2) * 0.25 / 4 + 0.004 (the eval's mix is fixed)
    assert q.delta.se == pytest.approx(math.sqrt(0.18 * 0.0625 + 0.004), rel=1e-12)
    assert q.covered_share.value == 1.0
    assert q.unknown == ()
    assert q.worst is None
    assert q.warnings == ()
    assert "lang=de rising from 50% to 80%" in q.explanation()


def test_the_variance_is_the_exact_variance_of_the_estimator_by_simulation() -> None:
    """Mean of the estimated variance and the simulated variance of the estimate agree with the
    exact variance of w . ybar (Goodman 1960), computed from the true parameters."""
    rng = np.random.default_rng(3)
    mu = np.array([0.8, 0.5, 0.3])
    n_h = np.array([40, 30, 30])
    shares = np.array([0.2, 0.5, 0.3])
    m = 200
    labels = np.repeat(["a", "b", "c"], n_h)
    estimates, variances = [], []
    for _ in range(4000):
        scores = rng.binomial(1, np.repeat(mu, n_h)).astype(float)
        window = rng.choice(["a", "b", "c"], size=m, p=shares)
        q = post_stratify(np.ones(n_h.sum()), scores, {"g": labels}, {"g": window}, ["g"], binary=True)
        estimates.append(q.reweighted.value)
        variances.append(q.reweighted.se**2)
    cov_w = (np.diag(shares) - np.outer(shares, shares)) / m
    cov_y = np.diag(mu * (1 - mu) / n_h)
    exact = float(mu @ cov_w @ mu + shares @ cov_y @ shares + np.trace(cov_w @ cov_y))
    assert np.var(estimates) == pytest.approx(exact, rel=0.08)  # MC error of a variance from 4,000 draws: ~2%
    assert np.mean(variances) == pytest.approx(exact, rel=0.05)
    assert np.mean(estimates) == pytest.approx(float(shares @ mu), abs=0.003)


def test_the_eval_term_is_cochrans_stratified_variance() -> None:
    """With a window so large that its shares are known, the variance is sum W^2 s^2 / n."""
    rng = np.random.default_rng(5)
    scores = rng.random(60)
    labels = np.repeat(["x", "y", "z"], [10, 20, 30])
    window = np.repeat(["x", "y", "z"], [300_000, 500_000, 200_000])
    q = post_stratify(np.ones(60), scores, {"g": labels}, {"g": window}, ["g"], binary=False)
    w = np.array([0.3, 0.5, 0.2])
    parts = [scores[labels == g] for g in "xyz"]
    cochran = sum(wh**2 * np.var(p, ddof=1) / p.size for wh, p in zip(w, parts, strict=True))
    assert q.reweighted.value == pytest.approx(sum(wh * p.mean() for wh, p in zip(w, parts, strict=True)))
    assert q.reweighted.se**2 == pytest.approx(cochran, rel=1e-3)  # the window's term is 1e-6 of it


def test_unknown_cells_are_named_and_bounded_never_extrapolated() -> None:
    scores = np.array([1, 1, 0, 1, 0, 0], dtype=float)
    items = {"lang": ["en"] * 3 + ["de"] * 3}
    window = {"lang": ["en"] * 50 + ["de"] * 30 + ["zh"] * 15 + ["ja"] * 5}
    q = post_stratify(np.ones(6), scores, items, window, ["lang"], binary=True, min_items=2)
    assert [(u.label, u.window_count) for u in q.unknown] == [("lang=zh", 15), ("lang=ja", 5)]
    low, high = _wilson(0.15, 100)
    assert (q.unknown[0].window_share.low, q.unknown[0].window_share.high) == (pytest.approx(low), pytest.approx(high))
    # over the covered 80 requests: 50/80 * 2/3 + 30/80 * 1/3
    covered = 50 / 80 * 2 / 3 + 30 / 80 * 1 / 3
    assert q.reweighted.value == pytest.approx(covered)
    assert q.covered_share.value == pytest.approx(0.8)
    # the whole window with the unknown 20% at 0 and at 1
    assert q.worst is not None
    assert q.best is not None
    assert q.worst.value == pytest.approx(0.8 * covered)
    assert q.best.value == pytest.approx(0.8 * covered + 0.2)
    assert q.worst.low is not None
    assert q.best.high is not None
    assert q.worst.low < q.worst.value < q.best.high
    assert any("no eval item covers: lang=zh (15%), lang=ja (5.0%)" in w for w in q.warnings)
    assert "20% of the window has no eval coverage" in q.explanation()
    # and nothing about zh enters the covered estimate
    assert all("zh" not in c.label for c in q.cells)


def test_small_cells_are_pooled_with_their_siblings_and_said_so() -> None:
    langs = ["en"] * 12 + ["de"] * 4
    lengths = ["short"] * 6 + ["long"] * 6 + ["short"] * 2 + ["long"] * 2
    scores = np.array([1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0], dtype=float)
    items = {"lang": langs, "length": lengths}
    window = {"lang": ["en"] * 40 + ["de"] * 60, "length": ["short", "long"] * 20 + ["short"] * 10 + ["long"] * 50}
    q = post_stratify(np.ones(16), scores, items, window, ["lang", "length"], binary=True, min_items=3)
    labels = sorted(c.label for c in q.cells)
    assert labels == ["lang=de, length in {long, short}", "lang=en, length=long", "lang=en, length=short"]
    pooled = next(c for c in q.cells if c.members)
    assert pooled.members == ("lang=de, length=long", "lang=de, length=short")
    assert (pooled.n_items, pooled.window_count, pooled.mean) == (4, 60, 0.25)
    assert any("were pooled" in w and "lang=de, length in {long, short} (4 items)" in w for w in q.warnings)
    # the estimate with the pooled cell, by hand: 0.2 * 5/6 + 0.2 * 1/2 + 0.6 * 1/4
    assert q.reweighted.value == pytest.approx(0.2 * 5 / 6 + 0.2 * 0.5 + 0.6 * 0.25)


def test_a_cell_too_small_to_pool_gets_the_bounded_variance() -> None:
    scores = np.array([1.0] * 9 + [0.0] * 1 + [0.0, 0.0])
    items = {"lang": ["en"] * 10 + ["de"] * 2}
    window = {"lang": ["en"] * 50 + ["de"] * 50}
    q = post_stratify(np.ones(12), scores, items, window, ["lang"], binary=True, min_items=5)
    de = next(c for c in q.cells if c.label == "lang=de")
    assert de.variance == "bounded (2 items)"
    # p = (2 * 0 + 0.5) / 3, bound p (1 - p); the de cell's mean has variance bound / 2
    p = 0.5 / 3
    en_var = np.var([1.0] * 9 + [0.0], ddof=1) / 10
    expected = 0.25 * en_var + 0.25 * p * (1 - p) / 2 + (0.5 * 0.45**2 + 0.5 * 0.45**2) / 100
    assert q.reweighted.se == pytest.approx(math.sqrt(expected))
    assert any("bounded, not estimated" in w for w in q.warnings)


def test_the_decomposition_adds_up_with_unequal_repeats() -> None:
    rng = np.random.default_rng(9)
    n = rng.integers(1, 6, size=40).astype(float)
    sums = rng.binomial(n.astype(int), 0.6).astype(float)
    items = {"a": rng.choice(["x", "y", "z"], 40), "b": rng.choice(["p", "q"], 40)}
    window = {"a": rng.choice(["x", "y", "z"], 300, p=[0.6, 0.3, 0.1]), "b": rng.choice(["p", "q"], 300)}
    q = post_stratify(n, sums, items, window, ["a", "b"], binary=True, min_items=2)
    assert q.reweighted.value is not None
    assert q.delta.value is not None
    assert q.suite.value == pytest.approx(sums.sum() / n.sum())  # the report's score weighs samples
    assert sum(c.contribution for c in q.cells) + q.other == pytest.approx(q.delta.value, abs=1e-12)
    assert q.other == pytest.approx(np.mean(sums / n) - sums.sum() / n.sum())
    assert abs(q.cells[0].contribution) >= abs(q.cells[-1].contribution)


def test_scores_outside_zero_one_use_a_normal_interval_and_their_range() -> None:
    scores = np.array([2.0, 4.0, 6.0, 8.0, 3.0, 5.0])
    q = post_stratify(np.ones(6), scores, {"g": list("aaabbb")}, {"g": [*list("aab"), "c"]}, ["g"], binary=False)
    assert q.score_range == (2.0, 8.0)
    assert q.reweighted.method.startswith("post-stratified, normal")
    assert any("scores outside [0, 1]" in w for w in q.warnings)
    assert q.worst is not None
    assert q.worst.value == pytest.approx(0.5 * 4 + 0.25 * 16 / 3 + 0.25 * 2)


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="have no attribute lang"):
        post_stratify(np.ones(2), np.ones(2), {"task": ["a", "b"]}, {"lang": ["en"]}, ["lang"], binary=True)
    with pytest.raises(ValueError, match="the window holds no request"):
        post_stratify(np.ones(2), np.ones(2), {"lang": ["a", "b"]}, {"lang": []}, ["lang"], binary=True)
    with pytest.raises(ValueError, match="at least one attribute"):
        post_stratify(np.ones(2), np.ones(2), {"lang": ["a", "b"]}, {"lang": ["a"]}, [], binary=True)


def test_values_are_labelled_alike_on_both_sides() -> None:
    """A boolean column of the traffic table and a declared attribute stored as text meet."""
    items = {"asks_json": ["true", "false", "true", "false"]}
    window = {"asks_json": np.array([True, True, False])}
    q = post_stratify(
        np.ones(4), np.array([1.0, 0.0, 1.0, 0.0]), items, window, ["asks_json"], binary=True, min_items=1
    )
    assert q.unknown == ()
    assert q.reweighted.value == pytest.approx(2 / 3)


# --- the attributes of eval items are those the traffic import derives -------------------------


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


@pytest.fixture(scope="module")
def basic_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str]:
    folder = tmp_path_factory.mktemp("quality-run")
    store = Store(folder / "store")
    result = run_sync(
        RunOptions(suite="basic", model="fake:constant=yes", limit=40, repeats=1, store=str(store.root), run_id="r")
    )
    return store, result.run_id


def test_the_same_text_gets_the_same_attributes_in_a_run_and_in_traffic(
    basic_run: tuple[Store, str], tmp_path: Path
) -> None:
    store, run_id = basic_run
    data = load_run(store, run_id)
    try:
        derived = item_request_attributes(data)
        rows = data.query("SELECT item_id, prompt, tokens_in FROM records WHERE variant = 'original' ORDER BY item_id")
        ids = data.items.item_id.tolist()
    finally:
        data.close()
    log = tmp_path / "log.jsonl"
    with log.open("w", encoding="utf-8") as fh:
        for k, (item, prompt, tokens) in enumerate(
            zip(rows["item_id"], rows["prompt"], rows["tokens_in"], strict=True)
        ):
            line = {
                "timestamp": 1_700_000_000 + k,
                "messages": json.loads(prompt),
                "response": "yes",
                "id": str(item),
                "usage": {"prompt_tokens": None if np.isnan(tokens) else int(tokens)},
            }
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    traffic = Store(tmp_path / "traffic-store")
    import_traffic(traffic.traffic_dir, [str(log)])
    window = read_window(TrafficTable(traffic.traffic_dir), columns=["log_id", *DERIVED_COLUMNS])
    by_item = {str(i): k for k, i in enumerate(window.attributes["log_id"].tolist())}
    assert len(by_item) == len(ids) == 40
    langs = set()
    for name in DERIVED_COLUMNS:
        run_side = [derived[name][ids.index(item)] for item in by_item]
        traffic_side = [_plain(window.attributes[name][k]) for k in by_item.values()]
        assert run_side == traffic_side, name
        if name == "lang":
            langs = set(run_side)
    assert {"en", "de", "fr", "es"} <= langs  # fastText's codes on both sides, not the word-list heuristic


def test_quality_under_drift_on_a_run(basic_run: tuple[Store, str]) -> None:
    store, run_id = basic_run
    data = load_run(store, run_id)
    try:
        window = {"lang": np.array(["en"] * 10 + ["de"] * 30 + ["zh"] * 5), "task": np.array(["arithmetic"] * 45)}
        q = quality_under_drift(data, window, ["lang"])
        declared = quality_under_drift(data, window, ["task"])
        with pytest.raises(ValueError, match="no attribute 'nope'"):
            quality_under_drift(data, {"nope": np.array(["x"])}, ["nope"])
    finally:
        data.close()
    assert q.run_id == run_id
    assert dict(q.sources)["lang"].startswith("derived from the item's prompt")
    assert [u.label for u in q.unknown] == ["lang=zh"]
    assert q.suite.n_items == 40
    assert q.n_window == 45
    assert dict(declared.sources) == {"task": "declared by the suite"}
    assert [c.label for c in declared.cells if c.window_count] == ["task=arithmetic"]


# --- a fast subset of the calibration study (bench/quality_drift_calibration.py) ---------------


@pytest.mark.parametrize("name", ["n=60, N=500", "n=300, N=50", "uncovered: no zh item, N=500"])
def test_calibrated(name: str) -> None:
    """200 replications: coverage >= 0.93 would fail with 0.93 - 2.3 MC SE (0.89) as the floor,
    so the test allows 0.90 and fails on an interval that covers 90% or less."""
    regime = next(r for r in bench.REGIMES if r.name == name)
    result = bench.run_regime(regime, 200, seed=11)
    assert result["coverage"] >= 0.90, result
    assert result["delta_coverage"] >= 0.90, result
    if regime.uncovered:
        assert result["warned"] == 1.0
        assert result["unknown"] == 1.0
        assert result["bounds_cover"] >= 0.95


def test_the_calibration_check_can_fail() -> None:
    """An interval that ignores the window's uncertainty undercovers at N = 50, and the check sees it."""
    regime = next(r for r in bench.REGIMES if r.name == "n=1500, N=50")
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(200):
        row = bench.replicate(regime, rng, eval_only=True)
        covered += bool(row["covered"])
    assert covered / 200 < 0.90
