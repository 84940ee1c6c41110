"""Robustness across variants: spread, worst case, flip rates, against independent computations
and the published numbers of Mizrahi et al. (2024), "State of What Art? A Call for Multi-Prompt
LLM Evaluation" (TACL), from its released per-paraphrase accuracies."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from tailgate.analysis import build_report, format_spread, robustness, template_spread
from tailgate.analysis._data import load_run
from tailgate.store import ImportSpec, Store, import_records

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "multi-prompt" / "data"


def _published(kind: str) -> dict[tuple[str, str, str], float]:
    path = DATA / "metric results" / "open-source models" / f"open-source models {kind} (no filtering).csv"
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    out = {}
    for row in rows[1:]:
        for model, value in zip(rows[0][2:], row[2:], strict=True):
            if value:
                out[(row[0].strip(), row[1].strip(), model.strip())] = float(value)
    return out


def _per_paraphrase() -> dict[tuple[str, str, str], dict[str, float]]:
    out = {}
    for folder, bench, sep in (("LMentry", "lmentry", " "), ("BBH", "big-bench-hard", "_")):
        for path in sorted((DATA / "paraphrases accuracies" / folder).glob("*.csv")):
            rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
            task = path.stem.replace("_", sep)
            for column in rows[0]:
                if column.endswith("_acc"):
                    accs = {r["paraphrase idx"]: float(r[column]) for r in rows if r[column] != ""}
                    out[(bench, task, column.removesuffix("_acc"))] = accs
    return out


# In the released MaxP/AvgP tables the columns of flan-t5-small and flan-t5-base are swapped for
# two LMentry tasks (their per-paraphrase files agree with each other's published numbers).
SWAPPED = {
    ("lmentry", t, m)
    for t in ("all words from category", "any words from category")
    for m in ("flan-t5-small", "flan-t5-base")
}


def test_multi_prompt_spread_reproduces_published_maxp_and_avgp() -> None:
    maxp, avgp = _published("MaxP"), _published("AvgP")
    runs = _per_paraphrase()
    checked = 0
    spreads = []
    for key, accs in runs.items():
        if key not in maxp:
            continue
        result = template_spread(accs, n_items=100)
        if key in SWAPPED:
            other = (key[0], key[1], "flan-t5-base" if key[2] == "flan-t5-small" else "flan-t5-small")
            assert result.max == pytest.approx(maxp[other])
            assert result.mean == pytest.approx(avgp[other])
            continue
        assert result.max == pytest.approx(maxp[key]), key
        assert result.mean == pytest.approx(avgp[key]), key
        assert result.n_templates >= 100
        spreads.append(result.spread.value)
        checked += 1
    assert checked == 321  # 10 LMentry + 15 BBH tasks x their models, less the 4 swapped entries
    # the paper's point: one instruction template is not a measurement
    assert float(np.median(spreads)) > 0.2


@pytest.mark.parametrize(("p1", "p2", "n"), [(0.63, 0.03, 100), (0.5, 0.41, 100), (0.9, 0.88, 250)])
def test_template_spread_interval_is_newcombe(p1: float, p2: float, n: int) -> None:
    result = template_spread({"a": p1, "b": p2, "c": (p1 + p2) / 2}, n_items=n)
    low, high = confint_proportions_2indep(round(p1 * n), n, round(p2 * n), n, method="newcomb", compare="diff")
    assert result.spread.low == pytest.approx(low, abs=1e-9)
    assert result.spread.high == pytest.approx(high, abs=1e-9)
    assert (result.best, result.worst) == ("a", "b")


def _import(tmp_path: Path, rows: list[tuple[str, str, int, int, str, str]]) -> Store:
    path = tmp_path / "r.csv"
    lines = ["item,variant,rep,ok,answer,lang"] + [",".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = Store(tmp_path / "store")
    spec = ImportSpec(
        file=str(path), item="item", score="ok", repeat="rep", variant="variant", output="answer",
        slices=["lang"], run_id="r",
    )  # fmt: skip
    import_records(store, spec)
    return store


def test_robustness_matches_a_direct_computation(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    variants = ["original", "format1", "format2", "original+typos"]
    skill = {"original": 0.7, "format1": 0.6, "format2": 0.35, "original+typos": 0.55}
    rows = []
    truth: dict[tuple[int, str], list[int]] = {}
    for i in range(120):
        easy = rng.uniform()
        for v in variants:
            for r in range(3):
                ok = int(rng.uniform() < min(1.0, skill[v] + 0.3 * (easy - 0.5)))
                truth.setdefault((i, v), []).append(ok)
                rows.append((f"q{i}", v, r, ok, "yes" if ok else "no", "de" if i % 4 == 0 else "en"))
    store = _import(tmp_path, rows)
    data = load_run(store, "r")
    try:
        result = robustness(data)
    finally:
        data.close()
    assert result is not None
    means = np.array([[np.mean(truth[(i, v)]) for v in sorted(variants)] for i in range(120)])
    by_name = {v.variant: v.score for v in result.variants}
    for j, v in enumerate(sorted(variants)):
        assert by_name[v].value == pytest.approx(means[:, j].mean())
    templates = ["format1", "format2", "original"]
    t_means = means[:, [sorted(variants).index(t) for t in templates]]
    spread = result.spread
    assert spread is not None
    assert spread.best == templates[int(np.argmax(t_means.mean(axis=0)))]
    assert spread.worst == "format2"
    assert spread.spread.value == pytest.approx(t_means.mean(axis=0).max() - t_means.mean(axis=0).min())
    assert spread.spread.low <= spread.spread.value <= spread.spread.high  # type: ignore[operator]
    assert result.worst_case.value == pytest.approx(means.min(axis=1).mean())
    assert result.worst_case.value < result.mean_score.value  # type: ignore[operator]
    majority = means >= 0.5
    flips = majority.any(axis=1) & ~majority.all(axis=1)
    assert result.flip_rate.value == pytest.approx(flips.mean())
    low, high = proportion_confint(int(flips.sum()), 120, method="wilson")
    assert (result.flip_rate.low, result.flip_rate.high) == pytest.approx((low, high))
    typos = next(p for p in result.perturbations if p.variant == "original+typos")
    d = means[:, sorted(variants).index("original+typos")] - means[:, sorted(variants).index("original")]
    assert typos.delta.value == pytest.approx(d.mean())
    assert {s.slice for s in result.flip_by_slice} >= {"lang=de", "lang=en"}
    report = build_report(store, "r").as_dict()
    assert report["robustness"]["spread"]["worst"] == "format2"


def _templates(rng: np.random.Generator, items: int, shift: np.ndarray, repeats: int = 1) -> np.ndarray:
    """Per-item template scores: heterogeneous items (p ~ Beta(0.5, 0.5)), each template's score
    the mean of ``repeats`` independent 0/1 draws at p + its shift."""
    p = rng.beta(0.5, 0.5, items)[:, None] + shift[None, :]
    return np.asarray(rng.binomial(repeats, np.clip(p, 0, 1)) / repeats)


@pytest.mark.parametrize(("items", "shift", "repeats"), [(100, [0, 0, 0, 0], 1), (60, [0.1, 0, 0, 0], 3)])
def test_format_spread_interval_covers_the_true_spread(items: int, shift: list[float], repeats: int) -> None:
    """The interval is for max_j mu_j - min_j mu_j. Identical templates (spread 0): the old
    re-selecting bootstrap never covered 0 (0 of 300); one template better by 0.1: it covered
    36-69%. 300 replications, MC SE 0.013 at 0.95; the true spread with the clip is computed
    from 10^6 items."""
    rng = np.random.default_rng(items)
    s = np.array(shift, dtype=float)
    big = np.clip(rng.beta(0.5, 0.5, 1_000_000)[:, None] + s[None, :], 0, 1).mean(axis=0)
    truth = float(big.max() - big.min())
    covered = 0
    for r in range(300):
        sp = format_spread(_templates(rng, items, s, repeats), ["a", "b", "c", "d"], replicates=50, seed=r).spread
        assert sp.low is not None
        assert sp.high is not None
        covered += sp.low <= truth <= sp.high
    assert covered / 300 >= 0.93 - 0.013


def test_any_spread_test_holds_its_level_under_the_null() -> None:
    """Interchangeable templates: the permutation test rejects at most 5% (+ 2 MC SE) of the
    time; 400 replications of 60 items x 4 templates with 3 repeats (non-binary item scores)."""
    rng = np.random.default_rng(11)
    rejected = sum(
        format_spread(_templates(rng, 60, np.zeros(4), 3), list("abcd"), replicates=200, seed=r).any_spread.p_value
        <= 0.05
        for r in range(400)
    )
    assert rejected / 400 <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 400)


def test_any_spread_statistic_is_cochrans_q() -> None:
    """For 0/1 scores the statistic is Cochran's Q (statsmodels' cochrans_q is the oracle), and
    the permutation p-value agrees with its chi-square p-value at this size."""
    from statsmodels.stats.contingency_tables import cochrans_q

    rng = np.random.default_rng(4)
    scores = _templates(rng, 400, np.array([0.0, 0.03, 0.05]))
    ours = format_spread(scores, ["a", "b", "c"], replicates=4000, seed=1).any_spread
    oracle = cochrans_q(scores)
    assert ours.statistic == pytest.approx(oracle.statistic)
    assert ours.df == oracle.df
    assert ours.p_value == pytest.approx(oracle.pvalue, abs=0.02)


def test_format_spread_of_identical_templates_is_not_a_point() -> None:
    """Templates that agree on every item: spread 0, an interval that still has width, no evidence."""
    scores = np.repeat(np.random.default_rng(0).integers(0, 2, (50, 1)).astype(float), 3, axis=1)
    out = format_spread(scores, ["a", "b", "c"])
    assert out.spread.value == 0
    assert out.spread.low == 0 < out.spread.high < 0.2  # type: ignore[operator]
    assert out.any_spread.p_value == 1.0


def test_format_spread_upper_end_needs_one_pair_and_the_lower_end_all() -> None:
    """The upper end is the largest |paired difference| + one pair's t quantile (scipy's
    t.ppf(0.975, n - 1)) x its SE: it fails only if the one pair that makes the true spread is
    underestimated. The lower end keeps the simultaneous critical value over all pairs, larger."""
    from scipy import stats

    rng = np.random.default_rng(4)
    scores = _templates(rng, 80, np.array([0.0, 0.0, 0.3]), 3)
    out = format_spread(scores, ["a", "b", "c"])
    first, second = np.triu_indices(3, k=1)
    d = scores[:, first] - scores[:, second]
    se = np.maximum(d.std(axis=0, ddof=1) / np.sqrt(80), 1 / 80)
    high = float(np.max(np.abs(d.mean(axis=0)) + stats.t.ppf(0.975, 79) * se))
    assert out.spread.high == pytest.approx(high, abs=1e-12)
    crit = float(out.spread.method.split("critical value ", 1)[1].split(")", 1)[0])
    assert crit > stats.t.ppf(0.975, 79)
    assert out.spread.low == pytest.approx(max(0.0, float(np.max(np.abs(d.mean(axis=0)) - crit * se))), abs=0.01)


def test_reference_free_runs_get_the_answer_flip_rate(tmp_path: Path) -> None:
    """A model that repeats its prompt: its answer flips exactly on the items whose paraphrase
    column differs from the original wording (3 of 8 here)."""
    from tailgate.runner import RunOptions, run_sync
    from tests.support.suites import make_suite

    rows = [{"id": f"q{i}", "q": f"Tell me about topic {i}.", "q2": f"Tell me about topic {i}."} for i in range(8)]
    for i in (1, 4, 6):
        rows[i]["q2"] = f"What do you know about topic {i}?"
    suite = make_suite(
        tmp_path / "s",
        rows,
        templates=[{"name": "original", "messages": [{"role": "user", "content": "{{ q }}"}]}],
        scorers=[{"type": "exact", "when": {"never": "applies"}}],
        extra={
            "dataset": {"path": "items.jsonl", "id": "id"},
            "variants": [{"generator": "column", "column": "q2", "fields": ["q"], "name": "para"}],
        },
    )
    store = Store(tmp_path / "store")
    run_id = run_sync(
        RunOptions(suite=str(suite), model="python:tests.support.models:echo_prompt", store=str(store.root))
    ).run_id
    report = build_report(store, run_id).as_dict()["robustness"]
    assert report["answer_flip_rate"]["value"] == pytest.approx(3 / 8)
    assert report["answer_flip_rate"]["n_items"] == 8
    low, high = proportion_confint(3, 8, method="wilson")
    assert (report["answer_flip_rate"]["low"], report["answer_flip_rate"]["high"]) == pytest.approx((low, high))
    assert report["spread"] is None
    assert report["variants"] == []
