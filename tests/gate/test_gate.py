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
        # YAML's .nan / .inf are floats: a threshold of NaN passes or fails every comparison silently
        ("rules:\n  - consistency: {min: .nan}\n", 2, "finite number"),
        ("rules:\n  - latency: {percentile: 95, max_ms: .inf}\n", 2, "finite number"),
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
    failing = {f.slice for f in slices.evidence.failing}
    assert "auto:names=non_english" in failing
    worst = slices.evidence.failing[0]
    assert worst.delta.value < -0.5
    assert worst.p_adjusted < 0.05
    assert worst.slice in slices.message
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
    assert all(-0.2 < f.delta.value < 0 for f in strict.results[0].evidence.failing)
    assert decide(reverse, load_policy(_policy(tmp_path, "rules:\n  - no_slice_regression: {margin: 0.2}\n"))).passed


def test_a_rule_with_nothing_to_judge_is_not_applicable(
    tmp_path: Path, seed_runs: tuple[Store, dict[str, str]]
) -> None:
    """Issue 9, item 11: json_validity on a suite where no item asks for JSON stopped the gate
    with exit 2. It is reported as not applicable, with the reason; if_not_applicable chooses
    whether that is skipped (default), a failure or an error."""
    store, ids = seed_runs
    comparison = compare_runs(store, ids["random_failures"], ids["systematic_failures"])
    # latencies exist (the python provider's are real, if tiny): that rule is decided
    policy = load_policy(_policy(tmp_path, "rules:\n  - latency: {percentile: 95, max_ms: 100000}\n"))
    latency = decide(comparison, policy).results[0]
    assert latency.passed
    assert latency.status == "pass"
    assert latency.evidence.cand >= 0
    policy = load_policy(_policy(tmp_path, "rules:\n  - json_validity: {min: 0.5}\n"))
    decision = decide(comparison, policy)
    (json_rule,) = decision.results
    assert decision.passed
    assert (json_rule.status, json_rule.applicable, json_rule.passed) == ("not_applicable", False, True)
    assert json_rule.message == "not applicable: neither run has items asking for JSON (with outputs)"
    assert decision.as_dict()["rules"][0]["status"] == "not_applicable"
    policy = load_policy(_policy(tmp_path, "rules:\n  - json_validity: {min: 0.5, if_not_applicable: fail}\n"))
    decision = decide(comparison, policy)
    assert not decision.passed
    assert decision.results[0].status == "fail"
    assert "not applicable" in decision.results[0].message
    policy = load_policy(_policy(tmp_path, "rules:\n  - json_validity: {min: 0.5, if_not_applicable: error}\n"))
    with pytest.raises(UsageError, match="json_validity rule does not apply"):
        decide(comparison, policy)
    # no slice big enough: not applicable either (it used to pass silently)
    policy = load_policy(_policy(tmp_path, "rules:\n  - no_slice_regression: {min_items: 1000}\n"))
    assert decide(comparison, policy).results[0].status == "not_applicable"


def test_the_example_policy_decides_a_suite_without_json_or_repeats(
    tmp_path: Path, seed_runs: tuple[Store, dict[str, str]]
) -> None:
    """Before the fix examples/gate.yaml exited 2 on any suite without JSON outputs."""
    store, ids = seed_runs
    proc = tailgate(
        "--store", str(store.root), "gate", ids["random_failures"], ids["systematic_failures"],
        "--policy", str(REPO / "examples" / "gate.yaml"), "--junit", "g.xml", "--markdown", "g.md",
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    assert "n/a" in proc.stdout
    assert "not applicable" in proc.stdout
    suite = ET.parse(tmp_path / "g.xml").getroot()
    assert suite.get("skipped") == "1"
    skipped = [case.get("name") for case in suite if case.find("skipped") is not None]
    assert skipped == ["json_validity"]
    assert (
        "| :heavy_minus_sign: | json_validity | not applicable: neither run has items asking for JSON"
        in (tmp_path / "g.md").read_text()
    )


@pytest.fixture(scope="module")
def k_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[int, str]]:
    """The oracle on 30 items with 1 and 2 repeats."""
    from tailgate.runner import RunOptions, run_sync
    from tests.support.suites import make_suite

    folder = tmp_path_factory.mktemp("k-runs")
    store = Store(folder / "store")
    rows = [{"id": f"q{i}", "question": f"Say {i}. The answer is {i}.", "answer": str(i)} for i in range(30)]
    ids = {}
    for k in (1, 2):
        suite = make_suite(
            folder / f"k{k}",
            rows,
            scorers=[{"type": "exact"}],
            repeats=k,
            extra={"dataset": {"path": "items.jsonl", "id": "id", "reference": "answer"}},
        )
        options = RunOptions(suite=str(suite), model="python:tests.support.models:oracle", store=str(store.root))
        ids[k] = run_sync(options).run_id
    return store, ids


def test_what_only_one_run_has_is_an_error_and_identical_runs_skip_power(
    tmp_path: Path, k_runs: tuple[Store, dict[int, str]]
) -> None:
    store, ids = k_runs
    one_sided = compare_runs(store, ids[2], ids[1])
    for rule in ("consistency: {min: 0.5}", "pass_hat_k: {min: 0.5}"):
        policy = load_policy(_policy(tmp_path, f"rules:\n  - {rule}\n"))
        with pytest.raises(UsageError, match="the candidate run has no 2 or more"):
            decide(one_sided, policy)
    neither = compare_runs(store, ids[1], ids[1])
    policy = load_policy(_policy(tmp_path, "rules:\n  - consistency: {min: 0.5}\n  - power: {max_mde: 0.05}\n"))
    decision = decide(neither, policy)
    assert [r.status for r in decision.results] == ["not_applicable", "not_applicable"]
    assert "neither run has 2 or more answers" in decision.results[0].message
    assert "identical results" in decision.results[1].message
    both = compare_runs(store, ids[2], ids[2])
    policy = load_policy(_policy(tmp_path, "rules:\n  - pass_hat_k: {min: 0.5, k: 5}\n"))
    with pytest.raises(UsageError, match="asks for pass\\^5, but the runs support only pass\\^2"):
        decide(both, policy)


def test_a_failing_rule_says_when_the_comparison_was_underpowered(
    tmp_path: Path, seed_runs: tuple[Store, dict[str, str]]
) -> None:
    """The same mean, 200 items: a -0.01 margin cannot be shown (MDE ~0.06); the failure says so
    rather than reading as evidence of a regression."""
    store, ids = seed_runs
    comparison = compare_runs(store, ids["random_failures"], ids["systematic_failures"])
    rules = (
        "rules:\n  - overall_delta: {min_lower_bound: -0.01}\n  - consistency: {min: 0.8, bound: lower}\n"
        "  - overall_delta: {min_lower_bound: -0.5}\n"
    )
    overall, consistency, wide = decide(comparison, load_policy(_policy(tmp_path, rules))).results
    assert not overall.passed
    mde = comparison.power.mde
    assert mde > 0.01
    assert f"underpowered: MDE {mde:.3f} > margin 0.01 with 200 items" in overall.message
    assert overall.evidence.underpowered is True
    assert wide.passed
    assert "underpowered" not in wide.message
    assert consistency.passed  # B is perfectly consistent
    reverse = compare_runs(store, ids["systematic_failures"], ids["random_failures"])
    policy = load_policy(_policy(tmp_path, "rules:\n  - consistency: {min: 0.9, bound: lower}\n"))
    (level,) = decide(reverse, policy).results
    cand = level.evidence.cand
    if cand.value >= 0.9 > cand.low:  # A's consistency is ~0.92, its interval reaches below 0.9
        assert not level.passed
        assert "underpowered: the point estimate" in level.message


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

    unsupported = _policy(tmp_path, "rules:\n  - json_validity: {min: 0.5, if_not_applicable: error}\n")
    proc = tailgate("--store", root, "gate", base, cand, "--policy", unsupported)
    assert proc.returncode == 2
    assert "json_validity" in proc.stderr

    proc = tailgate("--store", root, "gate", base, "no-such-run", "--policy", passing)
    assert proc.returncode == 2
    assert "no-such-run" in proc.stderr

    proc = tailgate("--store", root, "compare", base, cand, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pairing"]["shared_items"] == 200


def test_gate_against_a_run_that_measured_nothing_names_the_reason(
    tmp_path: Path, seed_runs: tuple[Store, dict[str, str]]
) -> None:
    """Issue 10, item 2: gate against a run in which every call failed said "the runs share no
    items", which is false; it names the failed run and why."""
    from tailgate.errors import RunFailed
    from tailgate.runner import RunOptions, run_sync
    from tests.support.suites import make_suite

    store, ids = seed_runs
    suite = make_suite(tmp_path / "dead", scorers=[{"type": "exact"}])
    with pytest.raises(RunFailed):
        run_sync(
            RunOptions(
                suite=str(suite),
                model="python:tests.support.flaky:always_500",
                store=str(store.root),
                run_id="gate-dead",
                max_attempts=1,
            )
        )
    with pytest.raises(UsageError, match=r"the candidate run gate-dead has no scored sample: .*every one of the 4"):
        compare_runs(store, ids["random_failures"], "gate-dead")


def test_gate_on_a_saved_comparison_is_the_gate_on_a_fresh_one(
    tmp_path: Path, seed_runs: tuple[Store, dict[str, str]]
) -> None:
    """Issue 11: `gate --comparison FILE` decides on `compare --json FILE` instead of computing it
    again; the JSON is byte-identical, and a file of other runs or other options is refused."""
    store, ids = seed_runs
    base, cand = ids["random_failures"], ids["systematic_failures"]
    root, policy = str(store.root), _policy(tmp_path, SEED_POLICY)
    saved = str(tmp_path / "cmp.json")
    assert tailgate("--store", root, "compare", base, cand, "--json", saved).returncode == 0
    fresh = tailgate("--store", root, "gate", base, cand, "--policy", policy, "--json")
    reused = tailgate("--store", root, "gate", base, cand, "--policy", policy, "--json", "--comparison", saved)
    assert (fresh.returncode, reused.returncode) == (1, 1), reused.stderr
    assert reused.stdout == fresh.stdout
    other_runs = tailgate("--store", root, "gate", cand, base, "--policy", policy, "--comparison", saved)
    assert other_runs.returncode == 2
    assert "compares" in other_runs.stderr
    gate = ("--store", root, "gate", base, cand, "--policy", policy)
    other_options = tailgate(*gate, "--seed", "3", "--comparison", saved)
    assert other_options.returncode == 2
    assert "seed 0 (asked: 3)" in other_options.stderr
    (tmp_path / "junk.json").write_text('{"schema_version": 1}')
    junk = tailgate(*gate, "--comparison", str(tmp_path / "junk.json"))
    assert junk.returncode == 2
    assert "junk.json" in junk.stderr
    assert "Traceback" not in junk.stderr


def test_every_rule_is_declared_once_and_documented() -> None:
    """Adding a rule touches one place: the policy schema is the registry's, and the docs list it."""
    from tailgate.gate._policy import RuleEntry
    from tailgate.gate._registry import RULES

    assert set(RuleEntry.model_fields) == set(RULES)
    docs = (REPO / "docs" / "compare.md").read_text(encoding="utf-8")
    for name in RULES:
        assert f"- {name}:" in docs, name
