"""tailgate compare: paired statistics against independent computations and published examples,
and on real per-item results (MMLU-Pro, 12,032 questions per model)."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.power import TTestPower

from tailgate.analysis import CompareOptions, compare_runs, mcnemar, paired_delta, power_for
from tailgate.errors import UsageError
from tailgate.runner import RunOptions, run_sync
from tailgate.store import ImportSpec, Store, import_records
from tests.support.suites import make_suite

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


# --- McNemar -------------------------------------------------------------------------------


def _pairs(b: int, c: int, both: int = 5, neither: int = 9) -> tuple[np.ndarray, np.ndarray]:
    base = np.array([1] * b + [0] * c + [1] * both + [0] * neither)
    cand = np.array([0] * b + [1] * c + [1] * both + [0] * neither)
    return base, cand


def test_mcnemar_published_example() -> None:
    """Fagerland, Lydersen & Laake (2013), BMC Med Res Methodol 13:91, Table 1 example: discordant
    pairs b=1, c=7 -> exact conditional p = 0.070, mid-p = 0.039."""
    result = mcnemar(*_pairs(1, 7))
    assert (result.lost, result.gained) == (1, 7)
    assert result.exact_p == pytest.approx(0.0703, abs=5e-4)
    assert result.mid_p == pytest.approx(0.0391, abs=5e-4)


@pytest.mark.parametrize(("b", "c"), [(0, 5), (3, 3), (2, 11), (15, 4), (40, 61), (1, 0)])
def test_mcnemar_exact_matches_statsmodels_and_mid_p_closed_form(b: int, c: int) -> None:
    result = mcnemar(*_pairs(b, c))
    table = [[5, b], [c, 9]]  # rows: base right/wrong; cols: candidate right/wrong
    assert result.exact_p == pytest.approx(sm_mcnemar(table, exact=True).pvalue)
    # mid-p: the exact p minus the probability of the observed table (closed form)
    n, k = b + c, min(b, c)
    mid = min(1.0, 2 * sum(math.comb(n, i) for i in range(k)) / 2**n + math.comb(n, k) / 2**n)
    assert result.mid_p == pytest.approx(mid)
    assert result.mid_p <= result.exact_p


def test_mcnemar_without_discordant_pairs() -> None:
    assert mcnemar(*_pairs(0, 0)).mid_p == 1.0


# --- paired delta ----------------------------------------------------------------------------


def test_paired_delta_against_scipy_and_the_variance_identity() -> None:
    rng = np.random.default_rng(1)
    difficulty = rng.uniform(0, 1, 400)
    base = (rng.uniform(0, 1, 400) < difficulty).astype(float)
    cand = (rng.uniform(0, 1, 400) < np.clip(difficulty + 0.05, 0, 1)).astype(float)
    result = paired_delta(base, cand)
    assert result.p_value == pytest.approx(stats.ttest_rel(cand, base).pvalue)
    cov = np.cov(base, cand, ddof=1)
    # Var(cand - base) = Var(base) + Var(cand) - 2 Cov(base, cand)
    assert result.paired_se == pytest.approx(math.sqrt((cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]) / 400))
    assert result.unpaired_se == pytest.approx(math.sqrt((cov[0, 0] + cov[1, 1]) / 400))
    assert result.paired_se < result.unpaired_se  # the runs agree on which items are hard
    low, high = stats.ttest_rel(cand, base).confidence_interval(0.95)
    assert (result.estimate.low, result.estimate.high) == pytest.approx((low, high))
    pearson = stats.pearsonr(base, cand)
    assert result.correlation == pytest.approx(pearson.statistic)
    assert result.correlation_ci == pytest.approx(tuple(pearson.confidence_interval(0.95)))  # Fisher z


# --- power ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("sd", "n"), [(0.5, 100), (0.3, 2000), (1.2, 37), (0.4, 30)])
def test_mde_matches_statsmodels_paired_t_power(sd: float, n: int) -> None:
    """The MDE is the effect the two-sided paired t-test detects with 80% power: statsmodels'
    TTestPower (one-sample / paired t, noncentral t with n - 1 df) is the oracle."""
    result = power_for(sd, n, target=0.05)
    effect = TTestPower().solve_power(nobs=n, alpha=0.05, power=0.8, alternative="two-sided")
    assert result.mde == pytest.approx(effect * sd, rel=1e-4)
    needed = TTestPower().solve_power(effect_size=0.05 / sd, alpha=0.05, power=0.8, alternative="two-sided")
    assert result.items_needed is not None
    one = next(r for r in result.items_needed if r.repeats == 1)
    assert one.items_needed == math.ceil(needed)


def test_mde_of_very_few_items_is_finite_and_shrinks() -> None:
    """Two or three shared items: scipy's noncentral t gives NaN far in the tail; the MDE is still
    a number (TTestPower agrees at n = 3) and falls with n."""
    mdes = [power_for(1.0, n).mde or math.nan for n in (2, 3, 5, 10)]
    assert all(math.isfinite(m) for m in mdes)
    assert mdes == sorted(mdes, reverse=True)
    assert mdes[1] == pytest.approx(TTestPower().solve_power(nobs=3, alpha=0.05, power=0.8), rel=1e-3)


@pytest.mark.parametrize("n", [30, 100])
def test_power_at_the_mde_is_at_least_the_promised_power(n: int) -> None:
    """Simulated: paired item deltas with a true mean equal to the reported MDE (from the true sd)
    are detected by the paired t-test at least 80% of the time (the normal-approximation MDE gave
    0.77 at n = 30). 4,000 replications: MC SE 0.006."""
    rng = np.random.default_rng(n)
    sd = 0.45
    mde = power_for(sd, n).mde
    assert mde is not None
    deltas = rng.normal(mde, sd, size=(4000, n))
    t = deltas.mean(axis=1) / (deltas.std(axis=1, ddof=1) / math.sqrt(n))
    power = float(np.mean(np.abs(t) > stats.t.ppf(0.975, n - 1)))
    assert power >= 0.8 - 2 * 0.006


def test_repeats_only_shrink_within_item_variance() -> None:
    """n(K) from the t-test power at sd^2 = B + W/K: with no within-item noise repeats do not help."""
    rows = power_for(0.4, 200, target=0.05, between=0.16, within=0.0).items_needed or ()
    assert len({r.items_needed for r in rows}) == 1
    rows = power_for(0.4, 200, target=0.05, between=0.04, within=0.12).items_needed or ()
    needed = [r.items_needed for r in rows]
    assert needed == sorted(needed, reverse=True)
    sd10 = math.sqrt(0.04 + 0.12 / 10)
    assert needed[-1] == math.ceil(TTestPower().solve_power(effect_size=0.05 / sd10, alpha=0.05, power=0.8))


# --- whole comparisons on small suites --------------------------------------------------------


def test_same_mean_opposite_profiles(seed_runs: tuple[Store, dict[str, str]]) -> None:
    store, ids = seed_runs
    c = compare_runs(store, ids["random_failures"], ids["systematic_failures"]).as_dict()
    overall = c["overall"]
    assert overall["estimate"]["low"] < 0 < overall["estimate"]["high"]  # no overall change
    assert overall["mcnemar"] is None  # 5 samples per item: the paired t-test on item means
    assert "paired t-test" in overall["test"]
    down = {s["slice"] for s in c["slices"] if s["p_by"] < 0.05 and s["delta"]["value"] < 0}
    assert "auto:names=non_english" in down
    beyond = c["beyond_accuracy"]
    # B is perfectly consistent (always the same answer), A is not
    assert beyond["consistency"]["delta"]["low"] > 0
    assert beyond["never_pass"]["cand"] == pytest.approx(0.1)  # B never passes 20 of 200 items
    assert beyond["never_pass"]["base"] < 0.01
    assert beyond["never_pass"]["p_value"] < 0.01
    assert "pass_hat_5" in beyond
    assert beyond["pass_hat_5"]["ties"].startswith("counted")
    # newly failing: B's 20 items that A got right on all 5 tries (A fails 10% at random: ~59% of them)
    assert 0 < c["newly_failing_count"] <= 20
    assert all(n["cand_pass_rate"] == 0 for n in c["newly_failing"])
    assert all(n["cand_output"] == "nobody knows" for n in c["newly_failing"])
    assert c["power"]["underpowered"] is True
    assert "underpowered" in c["power"]["statement"]


def test_identical_runs_compare_to_zero(seed_runs: tuple[Store, dict[str, str]]) -> None:
    store, ids = seed_runs
    c = compare_runs(store, ids["systematic_failures"], ids["systematic_failures"]).as_dict()
    assert c["overall"]["estimate"]["value"] == 0
    assert c["overall"]["p_value"] == 1.0
    for name in ("never_pass", "pass_hat_5"):
        block = c["beyond_accuracy"][name]
        assert block["delta"]["low"] == block["delta"]["high"] == 0
        assert block["p_value"] == 1.0  # every replicate ties; ties count on both sides
    assert c["newly_failing_count"] == 0
    assert c["warnings"] == []
    # issue 9, item 10: not "significant change; changes of 0.000 or more are detected"
    assert c["power"]["statement"] == "identical results: no difference on any of the 200 shared items"
    assert c["power"]["mde"] is None
    assert c["power"]["identical"] is True


@pytest.fixture(scope="module")
def repeat_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[int, str]]:
    """Model A (fails 10% of samples at random) on 200 items with 5, 2 and 1 repeats: repeat r
    of an item gets the same seed, hence the same output, in every run."""
    from tests.support.seed_models import seed_items

    folder = tmp_path_factory.mktemp("repeat-runs")
    store = Store(folder / "store")
    ids = {}
    for k in (5, 2, 1):
        suite = make_suite(
            folder / f"k{k}",
            seed_items(),
            scorers=[{"type": "exact"}],
            repeats=k,
            extra={"dataset": {"path": "items.jsonl", "id": "id", "reference": "answer"}},
        )
        model = "python:tests.support.seed_models:random_failures"
        ids[k] = run_sync(RunOptions(suite=str(suite), model=model, store=str(store.root), cache=False)).run_id
    return store, ids


@pytest.mark.parametrize("fewer", [1, 2])
def test_repeats_alone_change_nothing_that_depends_on_them(
    repeat_runs: tuple[Store, dict[int, str]], fewer: int
) -> None:
    """The same model with 5 repeats against 1 or 2: before the fix, never-pass went from ~0 to
    ~0.1 "significantly" (p < 0.01) from the repeats alone. Compared on the first common repeats
    the K-dependent measures are exactly equal, and a warning says K differs."""
    store, ids = repeat_runs
    for base, cand in ((ids[5], ids[fewer]), (ids[fewer], ids[5])):
        c = compare_runs(store, base, cand).as_dict()
        beyond = c["beyond_accuracy"]
        assert beyond["never_pass"]["delta"]["value"] == 0
        assert beyond["never_pass"]["p_value"] == 1.0
        assert c["newly_failing_count"] == 0
        assert c["pairing"]["repeats_matched"] is True
        assert {c["pairing"]["repeats_base"], c["pairing"]["repeats_cand"]} == {5, fewer}
        assert any("different numbers of repeats" in w for w in c["warnings"])
        if fewer == 2:
            assert beyond["consistency"]["delta"]["value"] == 0
            assert beyond["pass_hat_2"]["delta"]["value"] == pytest.approx(0, abs=0.03)  # unbiased at any K
        else:
            assert "consistency" not in beyond
            assert c["unavailable"]["consistency"]["kind"] == "one_run"
        # the mean uses every sample: unbiased, but not equal
        assert abs(c["overall"]["estimate"]["value"]) < 0.03


def test_equal_repeats_are_compared_on_every_sample(repeat_runs: tuple[Store, dict[int, str]]) -> None:
    store, ids = repeat_runs
    c = compare_runs(store, ids[5], ids[5]).as_dict()
    assert c["pairing"]["repeats_matched"] is False
    assert not any("repeats" in w for w in c["warnings"])
    # nothing in the seed suite asks for JSON: not compared, and the comparison says why
    assert c["unavailable"] == {
        "json_validity": {"kind": "absent", "reason": "neither run has items asking for JSON (with outputs)"}
    }


def _suite(folder: Path, rows: list[dict[str, object]], template: str = "{{ question }}") -> Path:
    return make_suite(
        folder,
        rows,
        scorers=[{"type": "exact"}],
        templates=[{"name": "original", "messages": [{"role": "user", "content": template}]}],
        extra={"dataset": {"path": "items.jsonl", "id": "id", "reference": "answer"}},
    )


def _run(store: Store, suite: Path) -> str:
    return run_sync(
        RunOptions(suite=str(suite), model="python:tests.support.models:oracle", store=str(store.root), cache=False)
    ).run_id


def test_refuses_mismatched_suites_and_reports_unpaired_items(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    rows = [{"id": f"q{i}", "question": f"Say {i}. The answer is {i}.", "answer": str(i)} for i in range(30)]
    base = _run(store, _suite(tmp_path / "a", rows))
    changed = [dict(r) for r in rows]
    changed[3]["answer"] = "nope"  # same id, different reference
    other = _run(store, _suite(tmp_path / "b", changed))
    with pytest.raises(UsageError, match="same dataset id but a different question or reference"):
        compare_runs(store, base, other)
    c = compare_runs(store, base, other, CompareOptions(allow_changed_items=True)).as_dict()
    assert c["pairing"]["n_changed_items"] == 1
    assert c["pairing"]["shared_items"] == 29
    assert c["pairing"]["examples_only_in_base"] == ["q3"]
    reworded = _run(store, _suite(tmp_path / "c", rows, template="Question: {{ question }}"))
    with pytest.raises(UsageError, match="define variant"):
        compare_runs(store, base, reworded)
    fewer = _run(store, _suite(tmp_path / "d", rows[:20]))
    c = compare_runs(store, base, fewer).as_dict()
    assert (c["pairing"]["shared_items"], c["pairing"]["only_in_base"], c["pairing"]["only_in_cand"]) == (20, 10, 0)


# --- MMLU-Pro: real per-item results of real models ----------------------------------------------


PAIRS = [
    ("Yi-34B", "Meta-Llama-3_1-8B-Instruct"),
    ("Phi-3-mini-4k-instruct", "mathstral-7B"),
    ("Mixtral-8x7B-Instruct-v0.1", "Qwen1.5-72B-Chat"),
    ("Meta-Llama-3-70B", "Meta-Llama-3_1-70B"),
]


@pytest.fixture(scope="module")
def mmlu(tmp_path_factory: pytest.TempPathFactory) -> Store:
    folder = tmp_path_factory.mktemp("mmlu")
    store = Store(folder / "store")
    models = sorted({m for pair in PAIRS for m in pair})
    con = duckdb.connect()
    for model in models:
        path = folder / f"{model}.csv"
        con.execute(
            f"COPY (SELECT * FROM read_csv('{DATA / 'mmlu-pro' / 'responses.csv.gz'}') WHERE model = ?) TO '{path}'",
            [model],
        )
        spec = ImportSpec(
            file=str(path), item="question_id", score="correct", output="pred", slices=["category"], run_id=model
        )
        import_records(store, spec)
    return store


@pytest.mark.parametrize(("base", "cand"), PAIRS)
def test_mmlu_pro_pairing_narrows_the_interval(mmlu: Store, base: str, cand: str) -> None:
    c = compare_runs(mmlu, base, cand).as_dict()
    o = c["overall"]
    assert c["pairing"]["shared_items"] == 12032
    # the unpaired two-proportion interval, computed independently from the raw file
    rows = duckdb.sql(
        f"SELECT model, avg(correct::INT), var_samp(correct::INT), count(*) FROM "
        f"read_csv('{DATA / 'mmlu-pro' / 'responses.csv.gz'}') WHERE model IN ('{base}', '{cand}') GROUP BY model"
    ).fetchall()
    by = {r[0]: r for r in rows}
    unpaired_se = math.sqrt(by[base][2] / by[base][3] + by[cand][2] / by[cand][3])
    assert o["unpaired_se"] == pytest.approx(unpaired_se, rel=1e-6)
    assert o["estimate"]["value"] == pytest.approx(by[cand][1] - by[base][1], abs=1e-12)
    assert o["paired_se"] < 0.85 * unpaired_se  # models agree on which questions are hard
    assert o["correlation"] > 0.3
    # binary, one sample each: McNemar (mid-p) on the discordant questions
    assert o["mcnemar"]["lost"] + o["mcnemar"]["gained"] < 12032
    assert o["test"].startswith("McNemar mid-p")


def test_mmlu_pro_finds_category_regressions_hidden_by_a_gain(mmlu: Store) -> None:
    """Llama-3.1-8B-Instruct beats Yi-34B overall (+2.1 points, significant) but loses on 'other',
    'history' and 'law'; the comparison must say so."""
    c = compare_runs(mmlu, "Yi-34B", "Meta-Llama-3_1-8B-Instruct").as_dict()
    assert c["overall"]["estimate"]["low"] > 0
    down = {s["slice"]: s for s in c["slices"] if s["p_by"] < 0.05 and s["delta"]["value"] < 0}
    assert {"category=other", "category=history", "category=law"} <= set(down)
    # each category delta equals the difference of the raw per-category accuracies
    raw = dict(
        duckdb.sql(
            f"SELECT model, avg(correct::INT) FROM read_csv('{DATA / 'mmlu-pro' / 'responses.csv.gz'}') "
            "WHERE category = 'history' AND model IN ('Yi-34B', 'Meta-Llama-3_1-8B-Instruct') GROUP BY model"
        ).fetchall()
    )
    assert down["category=history"]["delta"]["value"] == pytest.approx(
        raw["Meta-Llama-3_1-8B-Instruct"] - raw["Yi-34B"]
    )
    assert c["warnings"]
    assert "mean went up" in c["warnings"][0]
    assert "category=other" in c["warnings"][0]


def test_mmlu_pro_no_warning_without_hidden_regressions(mmlu: Store) -> None:
    c = compare_runs(mmlu, "Mixtral-8x7B-Instruct-v0.1", "Qwen1.5-72B-Chat").as_dict()
    assert c["overall"]["estimate"]["low"] > 0.03
    assert c["warnings"] == []
    assert not [s for s in c["slices"] if s["p_by"] < 0.05 and s["delta"]["value"] < 0]


def test_refuses_generated_variants_defined_differently(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    rows = [
        {"id": f"q{i}", "question": f"What is {i} plus {i}? Answer please.", "answer": str(2 * i)} for i in range(12)
    ]

    def suite(folder: str, rate: float) -> Path:
        return make_suite(
            tmp_path / folder,
            rows,
            scorers=[{"type": "exact"}],
            templates=[{"name": "original", "messages": [{"role": "user", "content": "{{ question }}"}]}],
            extra={
                "dataset": {"path": "items.jsonl", "id": "id", "reference": "answer"},
                "variants": [{"generator": "typos", "rate": rate}],
            },
        )

    a, b, c = (_run(store, suite(name, rate)) for name, rate in (("a", 0.1), ("b", 0.9), ("c", 0.1)))
    with pytest.raises(UsageError, match=r"original\+typos"):
        compare_runs(store, a, b)
    assert compare_runs(store, a, c).pairing.shared_units == 24


@pytest.mark.parametrize(("items", "p95_interval", "p99_interval"), [(30, False, False), (400, True, True)])
def test_latency_changes_get_no_interval_or_test_with_too_few_samples(
    tmp_path: Path, items: int, p95_interval: bool, p99_interval: bool
) -> None:
    """As the report's percentiles: a p99 needs a clustered n_eff >= 368 (log(0.025) / log(0.99))
    in each run, a p95 72. bench/calibration.py: the paired bootstrap rejected a true null 14%
    (p95) and 24% (p99) of the time at 30 items x 1 sample."""
    import csv

    rng = np.random.default_rng(0)
    store = Store(tmp_path / "store")
    for name in ("a", "b"):
        path = tmp_path / f"{name}.csv"
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["q", "ok", "ms"])
            for i in range(items):
                w.writerow([f"q{i}", int(rng.random() < 0.7), f"{400 * np.exp(rng.normal(0, 0.7)):.1f}"])
        import_records(store, ImportSpec(file=str(path), item="q", score="ok", latency="ms", run_id=name))
    beyond = compare_runs(store, "a", "b").beyond
    for block, has in ((beyond.latency_p95, p95_interval), (beyond.latency_p99, p99_interval)):
        assert block is not None
        delta = block.delta
        assert delta.value is not None
        assert (delta.low is not None) is has
        assert (block.p_value is not None) is has
        if not has:
            assert "too few samples" in delta.method


def test_a_comparison_reads_back_from_its_json(seed_runs: tuple[Store, dict[str, str]]) -> None:
    """The JSON edge both ways: ``from_dict(as_dict())`` is the same comparison, and it writes
    the same bytes (what ``gate --comparison`` relies on)."""
    import json

    from tailgate.analysis import Comparison

    store, ids = seed_runs
    c = compare_runs(store, ids["random_failures"], ids["systematic_failures"])
    text = json.dumps(c.as_dict(), indent=2)
    back = Comparison.from_dict(json.loads(text))
    assert back == c
    assert json.dumps(back.as_dict(), indent=2) == text
    assert back.overall.estimate == c.overall.estimate
    assert back.beyond.pass_hat_k == 5


def test_identical_items_get_an_interval_not_a_point() -> None:
    """Every item moved by the same amount (two identical runs; a red-team change where every
    attack kept its outcome): the t interval has zero width. The interval is the exact binomial
    bound on the share of items that could differ (Clopper-Pearson's 0 of n upper bound,
    statsmodels ``proportion_confint(0, n, method="beta")``), scaled to the range of a difference;
    the p-value of n equal signs is the sign test's 2 / 2^n (scipy ``binomtest``)."""
    from scipy.stats import binomtest
    from statsmodels.stats.proportion import proportion_confint

    from tailgate.analysis._compare_tests import level_estimate, paired_delta

    n = 40
    _, upper = proportion_confint(0, n, alpha=0.05, method="beta")
    same = paired_delta(np.zeros(n), np.zeros(n)).estimate
    assert (same.low, same.high) == (pytest.approx(-upper), pytest.approx(upper))
    level = level_estimate(np.ones(n), 0.95)
    assert (level.low, level.high) == (pytest.approx(1 - upper), pytest.approx(1.0))
    all_better = paired_delta(np.zeros(n), np.full(n, 0.5))
    assert all_better.estimate.low == pytest.approx(0.5 - upper * 1.5)
    assert all_better.estimate.high == pytest.approx(0.5 + upper * 0.5)
    assert all_better.p_value == pytest.approx(binomtest(n, n, 0.5).pvalue)


def test_a_paired_interval_stays_within_what_a_difference_of_scores_can_be() -> None:
    """300 items all lost but 3: the t interval reached -1.001, below any difference of two
    scores in [0, 1]; it is cut at -1 (which cannot lose coverage). Scores on another scale
    (imported records) widen the range to what they hold."""
    from tailgate.analysis._compare_tests import score_range

    lost = paired_delta(np.ones(300), np.r_[np.zeros(297), np.ones(3)]).estimate
    assert lost.low == -1.0
    assert lost.high == pytest.approx(
        -0.99 + float(stats.t.ppf(0.975, 299)) * np.std(np.r_[-np.ones(297), np.zeros(3)], ddof=1) / math.sqrt(300)
    )
    assert score_range(np.array([0.2, 0.9])) == (0.0, 1.0)
    assert score_range(np.array([2.0, 7.5]), np.array([-1.0])) == (-1.0, 7.5)
    wide = paired_delta(np.array([0.0, 10.0, 5.0]), np.array([10.0, 0.0, 5.0])).estimate
    assert (wide.low, wide.high) == (-10.0, 10.0)  # t(2) gives +-24.8: cut to the range of a difference
