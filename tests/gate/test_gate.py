"""tailgate gate: policies are validated like suites, each rule names its evidence, exit codes are API."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tailgate.analysis import compare_runs
from tailgate.errors import InputError, UsageError
from tailgate.gate import decide, load_policy
from tailgate.store import Store
from tests.support.cli import tailgate

REPO = Path(__file__).resolve().parents[2]


def _policy(tmp_path: Path, text: str) -> str:
    path = tmp_path / "gate.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("rules:\n  - overall_delta: {min_lower_bound: -0.02}\n  - latency: {percentile: 90, max_ms: 5}\n", 3, "95"),
        ("rules:\n  - overall_delta: {min_lower_bound: -0.02}\n  - speed: {max: 1}\n", 3, "unknown key"),
        ("rules:\n  - overall_delta: {}\n    consistency: {min: 0.5}\n", 2, "exactly one kind"),
        ("rules:\n  - consistency: {min: high}\n", 2, "valid number"),
        ("name: x\n", 1, "rules"),
        ("rules: []\n", 1, "at least 1"),
        ("- overall_delta: {}\n", 1, "YAML mapping"),
        ("rules:\n  - no_slice_regression: {margin: -1}\n", 2, "greater than or equal"),
    ],
)
def test_bad_policies_name_line_and_key(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = _policy(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_policy(path)
    assert message in str(err.value)
    assert err.value.file == path
    assert err.value.line == line


def test_example_policy_is_valid() -> None:
    policy = load_policy(str(REPO / "examples" / "gate.yaml"))
    assert policy.name == "release"
    assert len(policy.rules) >= 6


SEED_POLICY = """\
name: seed
rules:
  - overall_delta: {min_lower_bound: -0.1}
  - no_slice_regression: {margin: 0.1, adjust: by, min_items: 10}
  - consistency: {min: 0.9}
  - never_pass: {max: 0.05}
  - pass_hat_k: {min: 0.5}
  - min_items: {min: 100}
  - power: {max_mde: 0.2}
"""


def test_same_mean_different_tails_fails_on_the_slice(tmp_path: Path, seed_runs: tuple[Store, dict[str, str]]) -> None:
    store, ids = seed_runs
    decision = decide(
        compare_runs(store, ids["random_failures"], ids["systematic_failures"]),
        load_policy(_policy(tmp_path, SEED_POLICY)),
    )
    verdict = {r.rule.split(" ")[0]: r for r in decision.results}
    assert not decision.passed
    assert decision.exit_code == 1
    assert verdict["overall_delta"].passed  # the means are the same
    assert verdict["consistency"].passed  # B answers the same way every time
    assert verdict["pass^5"].passed
    assert verdict["shared"].passed
    assert verdict["minimum"].passed
    slices = verdict["no_slice_regression"]
    assert not slices.passed
    failing = {f["slice"] for f in slices.evidence["failing"]}
    assert "auto:names=non_english" in failing
    worst = slices.evidence["failing"][0]
    assert worst["delta"]["value"] < -0.5
    assert worst["p_adjusted"] < 0.05
    assert worst["slice"] in slices.message
    assert "adjusted p=" in slices.message
    never = verdict["never_pass"]
    assert not never.passed
    assert "0.100" in never.message  # B never passes 20 of 200 items


def test_margin_is_one_sided_and_respected(tmp_path: Path, seed_runs: tuple[Store, dict[str, str]]) -> None:
    """A slice that dropped by ~0.95 passes a margin of 1.0 and fails a margin of 0.5."""
    store, ids = seed_runs
    comparison = compare_runs(store, ids["random_failures"], ids["systematic_failures"])
    wide = _policy(tmp_path, "rules:\n  - no_slice_regression: {margin: 1.0}\n")
    assert decide(comparison, load_policy(wide)).passed
    # the other way round A's random 10% failures are a real ~0.1 drop on every other slice
    reverse = compare_runs(store, ids["systematic_failures"], ids["random_failures"])
    strict = decide(reverse, load_policy(_policy(tmp_path, "rules:\n  - no_slice_regression: {margin: 0}\n")))
    assert not strict.passed
    assert all(-0.2 < f["delta"]["value"] < 0 for f in strict.results[0].evidence["failing"])
    assert decide(reverse, load_policy(_policy(tmp_path, "rules:\n  - no_slice_regression: {margin: 0.2}\n"))).passed


def test_only_rules_the_runs_cannot_support_are_errors(tmp_path: Path, seed_runs: tuple[Store, dict[str, str]]) -> None:
    store, ids = seed_runs
    comparison = compare_runs(store, ids["random_failures"], ids["systematic_failures"])
    # latencies exist (the python provider's are real, if tiny): that rule is decided, not an error
    policy = load_policy(_policy(tmp_path, "rules:\n  - latency: {percentile: 95, max_ms: 100000}\n"))
    latency = decide(comparison, policy).results[0]
    assert latency.passed
    assert latency.evidence["cand"] >= 0
    policy = load_policy(_policy(tmp_path, "rules:\n  - json_validity: {min: 0.5}\n"))
    with pytest.raises(UsageError, match="json_validity"):
        decide(comparison, policy)


def test_cli_outputs_and_exit_codes(tmp_path: Path, seed_runs: tuple[Store, dict[str, str]]) -> None:
    store, ids = seed_runs
    base, cand = ids["random_failures"], ids["systematic_failures"]
    root = str(store.root)
    policy = _policy(tmp_path, SEED_POLICY)
    proc = tailgate(
        "--store", root, "gate", base, cand, "--policy", policy,
        "--junit", "g.xml", "--markdown", "g.md", "--json", "g.json", "--html", "g.html",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "FAIL" in proc.stdout
    assert "auto:names=non_english" in proc.stdout
    suite = ET.parse(tmp_path / "g.xml").getroot()
    assert suite.tag == "testsuite"
    assert suite.get("tests") == "7"
    assert suite.get("failures") == "2"
    failed = [case.get("name") for case in suite if case.find("failure") is not None]
    assert any(name.startswith("no_slice_regression") for name in failed)
    md = (tmp_path / "g.md").read_text()
    assert md.startswith("## :x: tailgate gate `seed`: **FAIL**")
    assert "| :x: | no_slice_regression" in md
    data = json.loads((tmp_path / "g.json").read_text())
    assert data["passed"] is False
    assert len(data["rules"]) == 7
    assert data["comparison"]["overall"]["n_items"] == 200
    assert "<svg" in (tmp_path / "g.html").read_text()

    passing = _policy(tmp_path, "rules:\n  - overall_delta: {min_lower_bound: -0.1}\n")
    proc = tailgate("--store", root, "gate", base, cand, "--policy", passing)
    assert proc.returncode == 0, proc.stderr
    assert "PASS" in proc.stdout

    bad = _policy(tmp_path, "rules:\n  - overall_delta: {min_lower_bound: lots}\n")
    proc = tailgate("--store", root, "gate", base, cand, "--policy", bad)
    assert proc.returncode == 2
    assert "gate.yaml:2" in proc.stderr
    assert "Traceback" not in proc.stderr

    unsupported = _policy(tmp_path, "rules:\n  - json_validity: {min: 0.5}\n")
    proc = tailgate("--store", root, "gate", base, cand, "--policy", unsupported)
    assert proc.returncode == 2
    assert "json_validity" in proc.stderr

    proc = tailgate("--store", root, "gate", base, "no-such-run", "--policy", passing)
    assert proc.returncode == 2
    assert "no-such-run" in proc.stderr

    proc = tailgate("--store", root, "compare", base, cand, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pairing"]["shared_items"] == 200
