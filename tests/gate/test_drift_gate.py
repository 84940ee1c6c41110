"""Drift rules: they judge a drift report (``tailgate gate --drift FILE``), each subject is required."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tailgate.analysis import DriftReport, DriftWindow, Estimate, WindowQuality, analyse_drift
from tailgate.errors import UsageError
from tailgate.gate import decide, load_policy, subjects
from tests.support.cli import tailgate

REPO = Path(__file__).resolve().parents[2]


def _policy(tmp_path: Path, text: str) -> str:
    path = tmp_path / "gate.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _report(de: float, every: bool = False) -> DriftReport:
    rng = np.random.default_rng(3)
    n = 5 if every else 2
    arrays = [
        {"lang": rng.choice(["en", "de"], 500, p=[0.95, 0.05]), "has_code": rng.random(500) < 0.2} for _ in range(n - 1)
    ]
    arrays.append({"lang": rng.choice(["en", "de"], 500, p=[1 - de, de]), "has_code": rng.random(500) < 0.2})
    names = [f"window {k}" for k in range(n)] if every else ["ref", "cur"]
    windows = [DriftWindow(k, names[k], "s", 500, None, None) for k in range(n)]
    return analyse_drift(windows, arrays, mode="every" if every else "pair")


def test_drift_rules_pass_and_fail(tmp_path: Path) -> None:
    policy = load_policy(
        _policy(
            tmp_path,
            "rules:\n  - no_drift: {attributes: [lang]}\n  - max_psi: {attribute: lang, max: 0.1}\n"
            "  - no_monitor_alarm: {}\n",
        )
    )
    assert subjects(policy) == {"drift"}
    calm = decide(None, policy, drift=_report(0.05))
    assert calm.passed
    assert [r.status for r in calm.results] == ["pass", "pass", "not_applicable"]
    moved = decide(None, policy, drift=_report(0.30))
    assert [r.status for r in moved.results] == ["fail", "fail", "not_applicable"]
    assert moved.results[0].message.startswith("cur against ref: drift in lang (p adj ")
    assert moved.exit_code == 1
    watched = decide(None, policy, drift=_report(0.30, every=True))
    assert watched.results[2].status == "fail"
    assert watched.results[2].message.startswith("the monitor alarmed at window 4")
    assert decide(None, policy, drift=_report(0.05, every=True)).results[2].status == "pass"
    assert json.loads(json.dumps(moved.as_dict()))["rules"][0]["evidence"]["drifted"][0]["test"] == "lang"


def test_max_psi_upper_bound_and_reweighted_score(tmp_path: Path) -> None:
    report = _report(0.05)
    psi = report.comparisons[0].attributes.attributes[0].psi
    assert psi.high is not None
    assert psi.value is not None
    between = (psi.value + psi.high) / 2
    point = load_policy(_policy(tmp_path, f"rules:\n  - max_psi: {{attribute: lang, max: {between}}}\n"))
    upper = load_policy(_policy(tmp_path, f"rules:\n  - max_psi: {{attribute: lang, max: {between}, bound: upper}}\n"))
    assert decide(None, point, drift=report).passed
    assert not decide(None, upper, drift=report).passed
    score = load_policy(_policy(tmp_path, "rules:\n  - min_reweighted_score: {min: 0.7}\n"))
    assert decide(None, score, drift=report).results[0].status == "not_applicable"
    q = WindowQuality(
        Estimate.wilson(80, 100, method="m"), Estimate.wilson(75, 100, method="m"), Estimate.no_interval("d"),
        Estimate.wilson(90, 100, method="m"), "", (),
    )  # fmt: skip
    windows = (report.windows[0], report.windows[1].__class__(**{**report.windows[1].__dict__, "quality": q}))
    rated = report.__class__(**{**report.__dict__, "windows": windows})
    result = decide(None, score, drift=rated).results[0]
    assert not result.passed  # 0.75 [0.657, 0.825]: the lower bound is under 0.7
    assert result.message.startswith("cur against ref: run  re-weighted 0.750 [0.657")
    point_score = load_policy(_policy(tmp_path, "rules:\n  - min_reweighted_score: {min: 0.7, bound: point}\n"))
    assert decide(None, point_score, drift=rated).passed


def test_each_subject_is_required_and_used(tmp_path: Path) -> None:
    drift_only = load_policy(_policy(tmp_path, "rules:\n  - no_drift: {}\n"))
    with pytest.raises(UsageError, match=r"the policy's no_drift rule\(s\) judge a drift report .*none was given"):
        decide(None, drift_only)
    runs_only = load_policy(_policy(tmp_path, "rules:\n  - min_items: {min: 5}\n"))
    with pytest.raises(UsageError, match="a drift report \\(--drift\\) was given, but the policy 'gate' has no drift"):
        decide(None, runs_only, drift=_report(0.05))
    with pytest.raises(UsageError, match="judge two runs \\(BASE CAND\\)"):
        decide(None, runs_only)
    unknown = load_policy(_policy(tmp_path, "rules:\n  - no_drift: {attributes: [colour]}\n"))
    with pytest.raises(UsageError, match="names colour, which the drift report did not test"):
        decide(None, unknown, drift=_report(0.05))


def test_the_example_policy_loads() -> None:
    policy = load_policy(str(REPO / "examples" / "drift-gate.yaml"))
    assert subjects(policy) == {"drift"}


def test_the_command(tmp_path: Path) -> None:
    saved = tmp_path / "drift.json"
    saved.write_text(json.dumps(_report(0.30).as_dict()), encoding="utf-8")
    policy = _policy(tmp_path, "rules:\n  - no_drift: {}\n")
    proc = tailgate("gate", "--drift", str(saved), "--policy", policy, "--json", "-")
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["rules"][0]["status"] == "fail"
    calm = tmp_path / "calm.json"
    calm.write_text(json.dumps(_report(0.05).as_dict()), encoding="utf-8")
    assert tailgate("gate", "--drift", str(calm), "--policy", policy).returncode == 0
    missing = tailgate("gate", "--policy", policy)
    assert (missing.returncode, missing.stderr.strip()) == (
        2,
        "tailgate: error: give BASE and CAND (two runs to compare), --drift FILE, --judge-attack FILE, "
        "--redteam FILE, or several",
    )
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1}', encoding="utf-8")
    broken = tailgate("gate", "--drift", str(bad), "--policy", policy)
    assert broken.returncode == 2
    assert "not the JSON of tailgate drift" in broken.stderr
    assert "Traceback" not in broken.stderr
