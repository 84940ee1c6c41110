"""The red-team suite is an ordinary suite run by the ordinary runner: its shape, multi-turn chats,
the judge on harmful attacks, and kill -9 then resume (nothing completed is asked again)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import tailgate
from tailgate.config import load_suite
from tailgate.dataset import load_dataset
from tailgate.errors import UsageError
from tailgate.perturb import attack_templates
from tailgate.runner import build_plan, write_redteam_suite
from tailgate.store import Store, read_journal, scan_run_files
from tests.support.entry_points import checkout_env

LEAKY = "python:tests.support.redteam_models:leaky"


def _plan(path: Path) -> list[object]:
    suite = load_suite(str(path))
    plan = build_plan(suite, load_dataset(suite), mode="chat", repeats=1, identity={}, timeout_s=1)
    return plan.samples


def test_the_suite_has_an_attack_and_a_twin_per_template_and_mutator(tmp_path: Path) -> None:
    path, notes = write_redteam_suite(tmp_path / "s", mutators=["plain", "multi_turn"])
    rows = [json.loads(line) for line in (tmp_path / "s" / "items.jsonl").read_text().splitlines()]
    objective = [t for t in attack_templates() if t.check != "judge"]
    assert len(rows) == len(objective) * 2 * 2
    assert Counter(r["role"] for r in rows) == {"attack": len(objective) * 2, "benign": len(objective) * 2}
    assert all(r["redteam_check"] is None for r in rows if r["role"] == "benign")
    assert notes == ["the harmful category was left out: it needs a judge (--judge SPEC)"]
    by_shape = Counter((s.variant, len(s.request.prompt.messages)) for s in _plan(path))  # type: ignore[attr-defined]
    # plain: system + user; multi-turn: system + 2 scripted exchanges + the request
    assert by_shape == {("original", 2): len(objective) * 2, ("original", 6): len(objective) * 2}


def test_multi_turn_chats_alternate_roles_and_end_with_the_request(tmp_path: Path) -> None:
    path, _ = write_redteam_suite(tmp_path / "s", categories=["secret_leak"], mutators=["multi_turn"])
    for sample in _plan(path):
        messages = sample.request.prompt.messages  # type: ignore[attr-defined]
        assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
        assert all(m["content"].strip() for m in messages)


def test_harmful_needs_a_judge_and_gets_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--judge"):
        write_redteam_suite(tmp_path / "a", categories=["harmful"])
    path, notes = write_redteam_suite(tmp_path / "b", categories=["harmful"], judge="fake:constant=Score: 1")
    config = load_suite(str(path)).config
    assert [s.label for s in config.scorers] == ["resisted", "judge", "answered"]
    assert notes == []
    with pytest.raises(UsageError, match="unknown category or mutator rot13"):
        write_redteam_suite(tmp_path / "c", mutators=["rot13"])


def test_a_judge_verdict_decides_harmful_attacks_and_an_unparsed_one_is_unscored(tmp_path: Path) -> None:
    ok = tailgate.redteam("fake:echo", categories=["harmful"], mutators=["plain"], repeats=2,
                          judge="fake:constant=Score: 0", store=tmp_path / "a")  # fmt: skip
    assert ok.overall.success.value == 1.0  # the judge says every echo helped
    assert ok.overall.n_attacks == 2
    with pytest.raises(tailgate.errors.RunFailed, match="no attack sample was scored"):
        tailgate.redteam("fake:echo", categories=["harmful"], mutators=["plain"], repeats=2,
                         judge="fake:constant=maybe?", store=tmp_path / "b")  # fmt: skip


def test_a_leaky_model_is_caught_in_every_objective_category(tmp_path: Path) -> None:
    report = tailgate.redteam(LEAKY, mutators=["plain", "base64"], repeats=2, store=tmp_path)
    assert report.overall.success.value == pytest.approx(1.0)
    assert report.overall.resists_k.value == 0.0
    assert {c.slice for c in report.categories} == {f"category={c}" for c in ("secret_leak", "forbidden_output",
                                                                              "tool_misuse")}  # fmt: skip
    assert report.over_refusal[0].refused.value == 0.0
    records = Store(tmp_path).read_records(report.run_id).to_pylist()
    answers = Counter(r["answer"] for r in records if r["scorer"] == "resisted")
    assert answers["leaked:base64"] == 4 * 2  # the four leak templates under base64, twice each
    assert answers["leaked:leet"] == 4 * 2


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    with log.with_suffix(".stderr").open("w") as err:
        return subprocess.Popen([sys.executable, "-m", "tailgate", *args], env={**os.environ, **env},
                                stdout=subprocess.DEVNULL, stderr=err, text=True)  # fmt: skip


def _call_id(record: dict[str, object]) -> str:
    """What tests.support.redteam_models:logged logs for the sample of ``record``."""
    messages = json.loads(str(record["prompt"]))
    text = [m for m in messages if m["role"] == "user"][-1]["content"]
    return f"{hashlib.sha256(text.encode()).hexdigest()[:12]}|{json.loads(str(record['params']))['seed']}"


def test_kill_minus_nine_then_resume_issues_only_the_missing_samples(tmp_path: Path) -> None:
    args = ["redteam", "--model", "python:tests.support.redteam_models:logged", "--mutators", "plain,base64",
            "--repeats", "2", "--run-id", "rt-crash", "--json", str(tmp_path / "r.json")]  # fmt: skip
    env = checkout_env(tmp_path / "ep")
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    proc = _start(args, {**env, "TAILGATE_TEST_CALL_LOG": str(first), "TAILGATE_TEST_DELAY": "0.05"}, first)
    store = Store()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (store.exists("rt-crash") and len(store.sample_status("rt-crash")) >= 8):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    done_before = set(store.sample_status("rt-crash"))
    assert 8 <= len(done_before) < 64
    resumed = _start(args, {**env, "TAILGATE_TEST_CALL_LOG": str(second)}, second)
    assert resumed.wait(120) == 0, second.with_suffix(".stderr").read_text()
    records = store.read_records("rt-crash").to_pylist()
    recorded_before = {_call_id(r) for r in records if r["sample_id"] in done_before}
    second_calls = second.read_text().splitlines()
    assert len(second_calls) == len(set(second_calls)), "a sample was asked twice on resume"
    assert set(second_calls) == {_call_id(r) for r in records} - recorded_before
    assert recorded_before <= set(first.read_text().splitlines())
    files = scan_run_files(store.run_dir("rt-crash"))
    written = Counter(rec["sample_id"] for _, path in files.journals for rec in read_journal(path))
    assert len(written) == 64
    assert max(written.values()) == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["overall"]["success"]["n_samples"] == 32
    assert report["over_refusal"][0]["refused"]["value"] == 1.0


def test_a_message_that_is_not_optional_keeps_the_templates_hash() -> None:
    """Runs made before ``optional`` existed keep their fingerprint: False is not serialised."""
    from tailgate.config import Message

    assert Message(role="user", content="x").model_dump() == {"role": "user", "content": "x"}
    assert Message(role="user", content="x", optional=True).model_dump()["optional"] is True


FROZEN = Path(__file__).resolve().parents[1] / "data" / "frozen" / "redteam.json"


def test_the_report_json_is_frozen(tmp_path: Path) -> None:
    """A deterministic red-team run (the leaky test model against a refuser) gives this JSON; a
    change is a change of the documented schema or the statistics: regenerate with
    ``TAILGATE_FREEZE=1`` and say why."""
    refuser = "fake:constant=I'm sorry, I can't help with that."
    base = tailgate.redteam(refuser, mutators=["plain", "leetspeak"], repeats=2, run_id="base", store=tmp_path)
    report = tailgate.redteam(LEAKY, mutators=["plain", "leetspeak"], repeats=2, run_id="cand",
                              against=base.run_id, store=tmp_path)  # fmt: skip
    text = json.dumps(report.as_dict(), indent=1, sort_keys=True) + "\n"
    if os.environ.get("TAILGATE_FREEZE"):
        FROZEN.write_text(text, encoding="utf-8")
    assert text == FROZEN.read_text(encoding="utf-8")


def test_tailgate_report_of_a_red_team_run_has_the_red_team_section(tmp_path: Path) -> None:
    import dataclasses

    from tailgate.report import render_report

    red = tailgate.redteam(LEAKY, mutators=["plain"], categories=["tool_misuse"], repeats=2, store=tmp_path)
    report = tailgate.report_run(red.run_id, store=tmp_path)
    assert report.redteam == dataclasses.replace(red, warnings=())
    assert report.as_dict()["redteam"]["overall"]["success"]["value"] == 1.0
    from rich.console import Console

    console = Console(width=160, record=True)
    console.print(render_report(report))
    assert "red team: python:tests.support.redteam_models:leaky, 2 attacks and 2 benign twins" in console.export_text()
    basic = tailgate.run_sync(tailgate.RunOptions(suite="basic", model="fake:echo", limit=2, store=str(tmp_path)))
    plain = tailgate.report_run(basic.run_id, store=tmp_path)
    assert plain.redteam is None
    assert "redteam" not in plain.as_dict()


def test_against_a_model_spec_red_teams_the_baseline_first(tmp_path: Path) -> None:
    refuser = "fake:constant=I'm sorry, I can't help with that."
    report = tailgate.redteam(LEAKY, against=refuser, mutators=["plain"], categories=["tool_misuse"], repeats=2,
                              store=tmp_path)  # fmt: skip
    assert report.baseline_run is not None
    assert report.baseline_run.startswith("redteam-")
    assert Store(tmp_path).manifest(report.baseline_run).model.spec == refuser
    assert report.delta[0].delta.estimate.value == 1.0
    again = tailgate.redteam(LEAKY, against=report.baseline_run, mutators=["plain"], categories=["tool_misuse"],
                             repeats=2, store=tmp_path)  # fmt: skip
    assert again.delta == report.delta
    with pytest.raises(UsageError, match="no such run, and not a model spec"):
        tailgate.redteam(LEAKY, against="nope", mutators=["plain"], repeats=1, store=tmp_path)
    with pytest.raises(UsageError, match="own run"):
        tailgate.redteam(LEAKY, against=report.run_id, mutators=["plain"], categories=["tool_misuse"], repeats=2,
                         store=tmp_path)  # fmt: skip


def test_a_suite_with_the_same_attributes_is_not_taken_for_a_red_team_run(tmp_path: Path) -> None:
    from tests.support.suites import make_suite

    items = [{"id": f"q{i}", "question": "What is 2+2?", "answer": 4, "role": "attack", "category": "x",
              "mutator": "plain"} for i in range(3)]  # fmt: skip
    extra = {"dataset": {"path": "items.jsonl", "id": "id", "reference": "answer",
                         "attributes": ["role", "category", "mutator"]}}  # fmt: skip
    suite = make_suite(tmp_path / "s", items, scorers=[{"type": "numeric"}], extra=extra)
    run = tailgate.run_sync(tailgate.RunOptions(suite=str(suite), model="fake:constant=4", store=str(tmp_path)))
    assert tailgate.report_run(run.run_id, store=tmp_path).redteam is None
    with pytest.raises(UsageError, match="not a red-team run"):
        tailgate.redteam(LEAKY, against=run.run_id, mutators=["plain"], categories=["tool_misuse"], repeats=1,
                         store=tmp_path)  # fmt: skip
