"""SmolLM2-135M as a judge of its own answers on short items of the bundled suite: the card must
show a poor judge (the suite's reference scorers give the truth for every output)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tailgate
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store

pytestmark = pytest.mark.model

BASIC = Path(tailgate.__file__).parent / "suites" / "basic"


def _short_suite(folder: Path, n: int) -> Path:
    rows = [json.loads(line) for line in (BASIC / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    short = [r for r in rows if r["length"] == "short" and r["format"] == "text" and r["lang"] == "en"]
    # every task once before any twice: right and wrong answers both occur
    by_task: dict[str, list[dict[str, object]]] = {}
    for r in short:
        by_task.setdefault(str(r["task"]), []).append(r)
    picked = [r for group in zip(*by_task.values(), strict=False) for r in group][:n]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in picked), encoding="utf-8")
    # short answers are enough here: 16 tokens instead of 48 keeps the test near a minute
    text = (BASIC / "suite.yaml").read_text(encoding="utf-8").replace("max_tokens: 48", "max_tokens: 16")
    (folder / "suite.yaml").write_text(text, encoding="utf-8")
    return folder / "suite.yaml"


def test_smollm2_is_a_poor_judge_and_the_card_says_so(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    suite = _short_suite(tmp_path / "suite", 8)
    source = run_sync(
        RunOptions(
            suite=str(suite), model="local:smollm2-135m", store=str(store.root), repeats=1, variants=["original"]
        )
    )
    judge = {
        "type": "judge_reference",
        "judge": "local:smollm2-135m",
        "max_tokens": 4,
        "repeats": 2,
        "temperature": 0.7,
    }
    judged = tailgate.judge_run(source.run_id, judges=[judge], store=store)
    assert judged.done == 8
    assert judged.issued == 16  # 8 outputs x 2 judge repeats; the target was not called
    report = tailgate.report_run(judged.run_id, store=store)
    (card,) = report.judges
    print(json.dumps(card.as_dict(), indent=1)[:6000])
    assert card.n_outputs == 8
    assert card.repeats == 2
    assert card.self_consistency is not None
    assert card.length_slope is not None
    rows = store.read_records(judged.run_id).to_pylist()
    replies = [s["raw"] for r in rows for s in json.loads(r["scores"])["judge_reference"]["details"]["samples"]]
    assert len(replies) == 16
    assert all(isinstance(t, str) for t in replies)
    # a poor judge: it leaves outputs unscored, or it disagrees with the reference scorers
    poor = (card.unscored.value or 0) >= 0.25 or card.agreement is None or (card.agreement.kappa.value or 0) < 0.4
    assert poor, card.as_dict()
    assert card.truth is not None or card.unscored.value == 1.0  # the suite's reference scorers give the truth


def test_smollm2_against_the_judge_attack_kit(tmp_path: Path) -> None:
    """The attack kit against SmolLM2-135M as a judge_reference judge on 3 short items: a stored run
    of 21 judge calls, each attack's success rate with its n, and the gate rule deciding on it."""
    from tailgate.gate import Policy, decide
    from tailgate.scorers._judge_attacks import ATTACKS

    store = Store(tmp_path / "store")
    suite = _short_suite(tmp_path / "suite", 3)
    judge = {"type": "judge_reference", "judge": "local:smollm2-135m", "max_tokens": 4}
    report = tailgate.judge_attack(str(suite), judge=judge, limit=3, store=store)
    print(json.dumps(report.as_dict(), indent=1)[:4000])
    assert report.n_items == 3
    assert [a.attack for a in report.attacks] == [a for a in ATTACKS if a in {r.attack for r in report.attacks}]
    assert sum(a.n_outputs for a in report.attacks) >= 15
    for a in report.attacks:
        assert a.n_outputs >= 1
        assert a.success.n_samples + a.n_unscored == a.n_outputs  # one judge repeat
        assert a.success.value is None or 0.0 <= a.success.value <= 1.0
    # resumed: the same call judges nothing again
    again = tailgate.judge_attack(str(suite), judge=judge, limit=3, store=store)
    assert again.attacks == report.attacks
    d = decide(None, Policy.model_validate({"rules": [{"judge_attack_success": {"max": 0.5}}]}), judge_attack=report)
    assert d.results[0].status in ("pass", "fail")
