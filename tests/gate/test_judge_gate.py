"""The gate and judges: a judge's scores are decided on only when the judge is shown to agree with
the truth (kappa >= judge.min_kappa), else refused (exit 3); judge_score reads the PPI++-corrected
judge metric. Every number is checked against an independent computation (sklearn, statsmodels,
the PPI++ closed form)."""

from __future__ import annotations

import contextlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tailgate.analysis import Comparison, compare_runs, ppi_mean
from tailgate.errors import RunFailed
from tailgate.gate import Policy, decide
from tailgate.store import Store
from tests.support.cli import tailgate

CAPITALS = {"France": "Paris", "Peru": "Lima", "Chad": "N'Djamena", "Fiji": "Suva", "Mali": "Bamako",
            "Togo": "Lome", "Laos": "Vientiane", "Oman": "Muscat"}  # fmt: skip
KNOWN = {"2+2", "3+5", "France", "Peru"}  # what tests.support.models:oracle answers right


def _items(labelled: int | None = None) -> list[dict[str, Any]]:
    rows = [("What is 2+2?", "4", "2+2"), ("What is 3+5?", "8", "3+5")]
    rows += [(f"Capital of {c}?", a, c) for c, a in CAPITALS.items()]
    items = []
    for k, (q, a, key) in enumerate(rows):
        items.append({"id": f"i{k}", "question": q, "answer": a if labelled is None or k < labelled else None,
                      "task": "math" if "+" in key else "geo", "key": key})  # fmt: skip
    return items


def _runs(folder: Path, items: list[dict[str, Any]], scorers: list[dict[str, Any]]) -> Store:
    from tailgate.runner import RunOptions, run_sync
    from tests.support.suites import make_suite

    suite = make_suite(folder / "suite", items, scorers=scorers)
    store = Store(folder / "store")
    for run_id in ("base", "cand"):
        opts = RunOptions(suite=str(suite), model="python:tests.support.models:oracle", store=str(store.root),
                          run_id=run_id)  # fmt: skip
        with contextlib.suppress(RunFailed):
            run_sync(opts)
    return store


LENIENT = {"type": "judge_reference", "judge": "python:tests.support.judges:lenient_lsm"}


@pytest.fixture(scope="module")
def lenient(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Comparison]:
    """10 items, all labelled by ``contains``; the judge says yes wherever the reference starts
    with L, S or M (3 false positives: Suva, Lome, Muscat)."""
    store = _runs(tmp_path_factory.mktemp("lenient"), _items(), [LENIENT, {"type": "contains"}])
    return store, compare_runs(store, "base", "cand")


def _truth_and_judge() -> tuple[list[int], list[int]]:
    """Independently of the records: the truth (the oracle's knowledge) and the judge's verdict."""
    truth, judge = [], []
    for item in _items():
        right = item["key"] in KNOWN
        truth.append(int(right))
        judge.append(int(right or item["answer"][0] in "LSM"))
    return truth, judge


def test_the_comparison_carries_the_judge_and_its_kappa_equals_sklearn(lenient: tuple[Store, Comparison]) -> None:
    from sklearn.metrics import cohen_kappa_score

    _, c = lenient
    assert [(j.run, j.scorer) for j in c.judges] == [("base", "judge_reference"), ("cand", "judge_reference")]
    truth, judge = _truth_and_judge()
    j = c.judges[1]
    assert j.share == 1.0
    assert j.n_labelled == 10
    assert j.kappa is not None
    assert j.kappa.value == pytest.approx(cohen_kappa_score(judge, truth), abs=1e-12)  # 0.444...
    assert j.kappa.value == pytest.approx((0.7 - 0.46) / 0.54)  # closed form: p_o 0.7, p_e .7*.4 + .3*.6
    # the judge-only mean is the judge's yes share, Wilson (statsmodels)
    from statsmodels.stats.proportion import proportion_confint

    assert j.judge_mean.value == pytest.approx(np.mean(judge))
    assert (j.judge_mean.low, j.judge_mean.high) == pytest.approx(proportion_confint(7, 10, method="wilson"))
    # every item labelled: the metric is the labels' own mean, Wilson
    assert j.corrected is not None
    assert j.corrected.n_unlabelled == 0
    assert j.metric.value == pytest.approx(0.4)
    assert (j.metric.low, j.metric.high) == pytest.approx(proportion_confint(4, 10, method="wilson"))
    # a saved comparison keeps the judges (tailgate gate --comparison FILE)
    again = Comparison.from_dict(json.loads(json.dumps(c.as_dict())))
    assert again.judges == c.judges


def _policy(judge: dict[str, Any] | None, *rules: dict[str, Any]) -> Policy:
    # the two runs score the same on the 10 items: the delta's interval is +-0.308 (the bound on
    # the share of items that could differ), which a bound of -0.4 passes
    data: dict[str, Any] = {"rules": list(rules) or [{"overall_delta": {"min_lower_bound": -0.4}}]}
    if judge is not None:
        data["judge"] = judge
    return Policy.model_validate(data)


def test_a_kappa_below_the_threshold_is_refused_naming_kappa_and_n(lenient: tuple[Store, Comparison]) -> None:
    _, c = lenient
    d = decide(c, _policy({"min_kappa": 0.5}, {"overall_delta": {"min_lower_bound": -0.4}}, {"min_items": {"min": 5}}))
    delta, items = d.results
    assert delta.status == "refused"
    assert not delta.passed
    assert "refused" in delta.message
    assert "kappa against contains is 0.44 [-0.13, 1.00] on n=10 labelled outputs" in delta.message
    assert "< min_kappa 0.5" in delta.message
    assert "allow_poor: true" in delta.message
    assert "alone the rule would pass" in delta.message
    evidence = delta.as_dict()["evidence"]
    assert evidence["would_pass"] is True
    assert {c["run"] for c in evidence["judge_concerns"]} == {"base", "cand"}
    assert evidence["judge_concerns"][0]["n_labelled"] == 10
    assert items.status == "pass"  # min_items does not read the scores: decided
    assert d.refused
    assert not d.passed
    assert d.exit_code == 3


def test_the_default_threshold_and_the_bounds(lenient: tuple[Store, Comparison]) -> None:
    _, c = lenient
    assert decide(c, _policy(None)).results[0].status == "pass"  # kappa 0.444 >= 0.4 (point)
    # lower: not shown good (the lower end -0.13 < 0.4) -> refused
    lower = decide(c, _policy({"bound": "lower"})).results[0]
    assert lower.status == "refused"
    assert "kappa's lower bound -0.13 < min_kappa 0.4" in lower.message
    # upper: refused only when clearly poor; the upper end 1.00 clears 0.9
    assert decide(c, _policy({"bound": "upper", "min_kappa": 0.9})).results[0].status == "pass"


def test_allow_poor_decides_and_says_so(lenient: tuple[Store, Comparison]) -> None:
    _, c = lenient
    d = decide(c, _policy({"min_kappa": 0.5, "allow_poor": True}))
    (r,) = d.results
    assert r.status == "pass"
    assert d.exit_code == 0
    assert "[judge:" in r.message
    assert "allowed: judge.allow_poor" in r.message


def test_a_failing_rule_beside_a_refused_one_is_a_failure(lenient: tuple[Store, Comparison]) -> None:
    _, c = lenient
    d = decide(c, _policy({"min_kappa": 0.5}, {"overall_delta": {}}, {"min_items": {"min": 50}}))
    assert [r.status for r in d.results] == ["refused", "fail"]
    assert d.exit_code == 1


def test_the_cli_exits_3_and_junit_marks_an_error(tmp_path: Path, lenient: tuple[Store, Comparison]) -> None:
    store, _ = lenient
    policy = tmp_path / "p.yaml"
    policy.write_text("judge: {min_kappa: 0.5}\nrules:\n  - overall_delta: {min_lower_bound: -0.1}\n", encoding="utf-8")
    junit, md = tmp_path / "g.xml", tmp_path / "g.md"
    proc = tailgate("--store", str(store.root), "gate", "base", "cand", "--policy", str(policy),
                    "--junit", str(junit), "--markdown", str(md))  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert "REFUSED" in proc.stdout
    root = ET.parse(junit).getroot()
    assert (root.get("errors"), root.get("failures")) == ("1", "0")
    assert ":no_entry:" in md.read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text("judge: {min_kappa: 2}\nrules:\n  - overall_delta: {}\n", encoding="utf-8")
    proc = tailgate("--store", str(store.root), "gate", "base", "cand", "--policy", str(bad))
    assert proc.returncode == 2
    assert "bad.yaml:1" in proc.stderr
    assert "min_kappa" in proc.stderr


RUBRIC = {"type": "judge_rubric", "judge": "python:tests.support.judges:rubric_half", "rubric": "correct"}


@pytest.fixture(scope="module")
def unlabelled(tmp_path_factory: pytest.TempPathFactory) -> Comparison:
    store = _runs(tmp_path_factory.mktemp("unlabelled"), _items(labelled=0), [RUBRIC, {"type": "contains"}])
    return compare_runs(store, "base", "cand")


def test_an_unverified_judge_is_refused_by_default(unlabelled: Comparison) -> None:
    c = unlabelled
    assert [j.kappa for j in c.judges] == [None, None]
    (r,) = decide(c, _policy(None)).results
    assert r.status == "refused"
    assert "no output carries a true label" in r.message
    assert "unverified" in r.message
    assert "allow_unverified: true" in r.message
    # judge_score on the uncorrected judge metric: refused too
    (s,) = decide(c, _policy(None, {"judge_score": {"min": 0.1}})).results
    assert s.status == "refused"
    d = decide(c, _policy({"allow_unverified": True}, {"judge_score": {"min": 0.1}}))
    assert d.results[0].status == "pass"
    assert "allowed: judge.allow_unverified" in d.results[0].message
    assert "no labelled item: uncorrected" in d.results[0].message


@pytest.fixture(scope="module")
def partly(tmp_path_factory: pytest.TempPathFactory) -> tuple[Comparison, list[str]]:
    """30 items: the 10 questions three times (distinct ids), the first 6 of each block labelled;
    and the items' source ids in the order of their record ids (the order the bootstrap draws in)."""
    from tailgate.analysis._data import load_run

    items = _items(labelled=6)
    many = [dict(it, id=f"{it['id']}-{r}", question=it["question"] + " " * r) for r in range(3) for it in items]
    store = _runs(tmp_path_factory.mktemp("partly"), many, [RUBRIC, {"type": "contains"}])
    data = load_run(store, "cand")
    try:
        pairs = sorted(zip(data.items.item_id.tolist(), data.items.source_id.tolist(), strict=True))
    finally:
        data.close()
    return compare_runs(store, "base", "cand"), [str(source) for _, source in pairs]


def test_judge_score_is_the_ppi_corrected_mean(partly: tuple[Comparison, list[str]]) -> None:
    c, sources = partly
    j = next(j for j in c.judges if j.run == "cand")
    assert j.corrected is not None
    assert (j.corrected.n_labelled, j.corrected.n_unlabelled) == (18, 12)
    # independently: the rubric judge gives 5 (score 1) to answers with a digit or "Paris"; the
    # truth is the oracle's knowledge; the labelled items are the first 6 of each block
    keys = [it["key"] for it in _items()]
    f = np.array([1.0 if k in ("2+2", "3+5", "France") else 0.0 for k in keys] * 3)
    y = np.array([1.0 if k in KNOWN else 0.0 for k in keys] * 3)
    lab = np.array([k < 6 for k in range(10)] * 3)
    f_l, y_l, f_u = f[lab], y[lab], f[~lab]
    n, big_n = lab.sum(), (~lab).sum()
    lam = np.cov(y_l, f_l, ddof=1)[0, 1] / ((1 + n / big_n) * np.var(f, ddof=1))  # PPI++ power tuning
    lam = min(1.0, max(0.0, lam))
    theta = lam * f_u.mean() + (y_l - lam * f_l).mean()  # Angelopoulos et al. 2023, the mean example
    assert j.corrected.lam == pytest.approx(lam)
    assert j.metric.value == pytest.approx(theta)
    assert j.judge_mean.value == pytest.approx(f.mean())
    order = [int(i[1:].split("-")[0]) + 10 * int(i.split("-")[1]) for i in sources]  # as the gate orders them
    lab_o = [k for k in order if lab[k]]
    ref = ppi_mean(y[lab_o], f[lab_o], f[[k for k in order if not lab[k]]])
    assert (j.metric.low, j.metric.high) == pytest.approx((ref.estimate.low, ref.estimate.high))
    # the rule: both numbers with n; a poor judge does not refuse it (the correction removes its bias)
    d = decide(c, _policy({"min_kappa": 0.99}, {"judge_score": {"min": 0.1}}, {"overall_delta": {}}))
    score, delta = d.results
    assert score.status in ("pass", "fail")
    assert f"PPI++-corrected {theta:.3f}" in score.message
    assert "n=18 labelled + 12 judged only" in score.message
    assert f"judge-only {f.mean():.3f}" in score.message
    assert score.passed == (j.metric.low is not None and j.metric.low >= 0.1)
    assert delta.status == "refused"  # the paired delta is the judge's own: refused below 0.99
