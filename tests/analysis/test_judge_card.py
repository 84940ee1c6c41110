"""The judge report card: each number against an independent computation (statsmodels, sklearn,
counting by hand), and a judged run's card in every report format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.proportion import proportion_confint

from tailgate.analysis import judge_cards, length_slope
from tailgate.errors import RunFailed
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store
from tests.support.suites import make_suite


def test_length_slope_equals_statsmodels_clustered_ols() -> None:
    rng = np.random.default_rng(3)
    items = np.repeat(np.arange(40), 3)
    x = rng.uniform(0.1, 8.0, items.size)
    y = (rng.uniform(size=items.size) < 0.3 + 0.05 * x).astype(float)
    est = length_slope(x, y, items)
    fit = sm.OLS(y, sm.add_constant(x)).fit(cov_type="cluster", cov_kwds={"groups": items})
    assert est.value == pytest.approx(fit.params[1], abs=1e-12)
    assert est.se == pytest.approx(fit.bse[1], rel=1e-9)
    assert (est.n_items, est.n_samples) == (40, 120)
    from scipy import stats

    t = stats.t.ppf(0.975, 39)
    assert (est.low, est.high) == pytest.approx((fit.params[1] - t * fit.bse[1], fit.params[1] + t * fit.bse[1]))
    assert length_slope([1.0, 1.0, 1.0], [0, 1, 0], ["a", "b", "c"]).value is None


def test_length_slope_of_a_judge_with_one_score_has_no_interval() -> None:
    # statsmodels gives slope 0 with a zero clustered SE: an interval [0, 0] that claims certainty
    x = np.linspace(0.2, 9.0, 12)
    y = np.zeros(12)
    items = np.arange(12)
    fit = sm.OLS(y, sm.add_constant(x)).fit(cov_type="cluster", cov_kwds={"groups": items})
    assert fit.params[1] == pytest.approx(0.0)
    assert fit.bse[1] == pytest.approx(0.0)
    est = length_slope(x, y, items)
    assert est.value == 0.0
    assert (est.low, est.high) == (None, None)
    assert "same score" in est.method
    assert length_slope(x, (x > 4).astype(float), items).low is not None


def _score(value: float | None, details: dict[str, Any], error: str | None = None) -> dict[str, Any]:
    return {"value": value, "answer": None, "error": error, "details": details}


def _pairwise(verdicts: list[float | None], flipped: list[bool]) -> dict[str, Any]:
    samples = []
    for f in flipped:
        samples += [{"verdict": 1.0}, {"verdict": 1.0 if f else 0.0, "flipped": f}]
    return {"kind": "judge_pairwise", "judge": "python:j", "prompt_sha": "ab", "verdicts": verdicts, "samples": samples}


def test_swap_flips_are_counted_with_a_wilson_interval() -> None:
    # 30 outputs of 30 items, one repeat each: 12 flipped (a tie), 3 with an order unparsed
    flipped = [True] * 12 + [False] * 15 + [False] * 3
    scores = []
    for i, f in enumerate(flipped):
        verdicts: list[float | None] = [None] if i >= 27 else [0.5 if f else 1.0]
        value = None if i >= 27 else verdicts[0]
        details = _pairwise(verdicts, [f])
        scores.append(
            json.dumps({"pair": _score(value, details, None if value is not None else "unparseable judge verdict")})
        )
    items = [f"i{i}" for i in range(30)]
    (card,) = judge_cards(items, ["x" * (i + 1) for i in range(30)], scores)
    assert card.kind == "judge_pairwise"
    flip = card.swap_flip
    assert flip is not None
    assert (flip.value, flip.n_samples) == (12 / 27, 27)
    low, high = proportion_confint(12, 27, method="wilson")
    assert (flip.low, flip.high) == pytest.approx((low, high), abs=1e-12)
    assert card.n_unparseable == 3
    assert card.unscored.value == pytest.approx(3 / 30)
    assert card.agreement is None  # no truth for a pairwise verdict


def test_self_consistency_is_the_share_of_agreeing_repeat_pairs() -> None:
    rows = [[1.0, 1.0, 1.0], [1.0, 0.0, 1.0], [0.0, 0.0, None], [None, None, None]]
    scores = []
    for v in rows:
        parsed = [x for x in v if x is not None]
        value = sum(parsed) / len(parsed) if parsed else None
        samples = [{"raw": "reply", "verdict": x} for x in v]
        details = {"kind": "judge_reference", "judge": "j", "prompt_sha": "s", "verdicts": v, "samples": samples}
        scores.append(json.dumps({"judge_reference": _score(value, details, None if parsed else "unparseable")}))
    (card,) = judge_cards(["a", "b", "c", "d"], ["o"] * 4, scores)
    assert card.repeats == 3
    consistency = card.self_consistency
    assert consistency is not None
    # pairs agreeing: 3/3, 1/3, 1/1 (the output with one parsed verdict has no pair)
    assert consistency.value == pytest.approx((1 + 1 / 3 + 1) / 3)
    assert consistency.n_items == 3
    # 4 of the 12 replies stated no verdict; one output has none at all
    assert card.unparseable_replies.value == pytest.approx(4 / 12)
    assert (card.unparseable_replies.n_samples, card.unparseable_replies.n_items) == (12, 4)
    assert card.n_unparseable == 1


def test_agreement_with_the_truth_equals_sklearn() -> None:
    rng = np.random.default_rng(7)
    truth = rng.uniform(size=80) < 0.5
    judge = np.where(rng.uniform(size=80) < 0.75, truth, ~truth)
    scores = []
    for t, j in zip(truth, judge, strict=True):
        details = {"kind": "judge_reference", "judge": "j", "prompt_sha": "s", "verdicts": [float(j)], "samples": [{}]}
        scores.append(
            json.dumps(
                {
                    "judge_reference": _score(float(j), details),
                    "exact": {"value": float(t), "answer": "a", "error": None},
                }
            )
        )
    (card,) = judge_cards([f"i{i}" for i in range(80)], ["o"] * 80, scores)
    assert card.truth == "exact"
    assert card.agreement is not None
    assert card.accuracy is not None
    assert card.agreement.kappa.value == pytest.approx(cohen_kappa_score(judge, truth), abs=1e-9)
    sens = (judge & truth).sum() / truth.sum()
    spec = (~judge & ~truth).sum() / (~truth).sum()
    assert card.accuracy.sensitivity.value == pytest.approx(sens)
    assert card.accuracy.specificity.value == pytest.approx(spec)
    low, high = proportion_confint(int((judge & truth).sum()), int(truth.sum()), method="wilson")
    assert (card.accuracy.sensitivity.low, card.accuracy.sensitivity.high) == pytest.approx((low, high))


ITEMS = [
    {"id": "a", "question": "What is 2+2?", "answer": "4", "task": "math"},
    {"id": "b", "question": "Capital of France?", "answer": "Paris", "task": "geo"},
    {"id": "c", "question": "Capital of Chad?", "answer": "N'Djamena", "task": "geo"},
    {"id": "d", "question": "Capital of Peru?", "answer": "Lima", "task": "geo"},
    {"id": "e", "question": "Capital of Fiji?", "answer": "Suva", "task": "geo"},
]


def _judged_report(tmp_path: Path, judge: str, name: str = "judge_reference") -> Any:
    import tailgate

    scorers = [
        {"type": "judge_reference", "name": name, "judge": f"python:tests.support.judges:{judge}"},
        {"type": "contains"},
    ]
    suite = make_suite(tmp_path / "suite", ITEMS, scorers=scorers)
    store = Store(tmp_path / "store")
    try:
        run_id = run_sync(
            RunOptions(suite=str(suite), model="python:tests.support.models:oracle", store=str(store.root))
        ).run_id
    except RunFailed as exc:
        run_id = str(exc.run_id)
    return store, run_id, tailgate.report_run(run_id, store=store)


def test_a_fair_judge_agrees_with_the_reference_scorer(tmp_path: Path) -> None:
    # the oracle knows 3 of the 5 (2+2, France, Peru): the fair judge says yes exactly there
    _, _, report = _judged_report(tmp_path, "fair")
    (card,) = report.judges
    assert card.truth == "contains"
    assert card.agreement.kappa.value == pytest.approx(1.0)
    assert card.accuracy.sensitivity.value == 1.0
    assert card.accuracy.specificity.value == 1.0
    assert card.agreement.warnings  # 5 items: under 50
    assert report.as_dict()["judges"][0]["agreement"]["kappa"]["value"] == pytest.approx(1.0)


def test_a_yes_judge_has_no_specificity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAILGATE_TEST_JUDGE_REPLY", "Yes")
    _, _, report = _judged_report(tmp_path, "says")
    (card,) = report.judges
    assert card.accuracy.sensitivity.value == 1.0
    assert card.accuracy.specificity.value == 0.0
    assert card.agreement.kappa.value == pytest.approx(0.0)


HOSTILE = "<script>alert(1)</script>|x"


def test_the_card_is_in_every_format_and_escaped(tmp_path: Path) -> None:
    from rich.console import Console

    from tailgate.report import render_html, render_report, report_markdown

    _, _, report = _judged_report(tmp_path, "fair", name=HOSTILE)
    console = Console(width=120, record=True, color_system=None)
    console.print(render_report(report))
    text = console.export_text()
    assert "judge card: <script>alert(1)</script>|x (judge_reference" in text
    assert "vs contains: kappa" in text
    assert "sensitivity" in text
    html = render_html(report)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Krippendorff" in html
    md = report_markdown(report)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\|x" in md
    assert "| vs contains: kappa | 1" in md


def test_a_run_without_judges_has_no_card(tmp_path: Path) -> None:
    import tailgate

    suite = make_suite(tmp_path / "suite")
    store = Store(tmp_path / "store")
    run_id = run_sync(
        RunOptions(suite=str(suite), model="python:tests.support.models:oracle", store=str(store.root))
    ).run_id
    report = tailgate.report_run(run_id, store=store)
    assert report.judges == []
    assert report.as_dict()["judges"] == []


def test_a_position_biased_pairwise_judge_flips_every_verdict(tmp_path: Path) -> None:
    import tailgate

    scorer = {"type": "judge_pairwise", "judge": "python:tests.support.judges:first_position", "baseline": "question"}
    suite = make_suite(tmp_path / "suite", scorers=[scorer])
    store = Store(tmp_path / "store")
    run_id = run_sync(
        RunOptions(suite=str(suite), model="python:tests.support.models:oracle", store=str(store.root))
    ).run_id
    (card,) = tailgate.report_run(run_id, store=store).judges
    flip = card.swap_flip
    assert flip is not None
    assert (flip.value, flip.n_samples, flip.n_items) == (1.0, 4, 4)
    low, high = proportion_confint(4, 4, method="wilson")
    assert (flip.low, flip.high) == pytest.approx((low, high))
    assert card.agreement is None
    assert card.unscored.value == 0.0  # every repeat a tie: scored 0.5, not unscored
