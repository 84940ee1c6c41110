"""Robustness end to end on the real local model: prompt formats and perturbations
(examples/robustness), and ProSA's real ARC-Challenge prompt templates (Zhuo et al. 2024)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.support.cli import REPO, tailgate

pytestmark = pytest.mark.model

PROSA = REPO.parent / "shared" / "data" / "prosa-variants" / "prompts" / "subjective" / "ARC_Challenge.templates.json"


def test_formats_and_perturbations_on_smollm2(tmp_path: Path) -> None:
    suite = REPO / "examples" / "robustness" / "suite.yaml"
    proc = tailgate(
        "run", str(suite), "--model", "local:smollm2-135m", "--limit", "6", "--run-id", "r", "-q", timeout=900
    )
    assert proc.returncode == 0, proc.stderr
    proc = tailgate("report", "r", "--json", "report.json", "--html", "report.html")
    assert proc.returncode == 0, proc.stderr
    r = json.loads((tmp_path / "report.json").read_text())["robustness"]
    names = [v["variant"] for v in r["variants"]]
    assert len(r["templates"]) == 6  # the original and 5 generated formats
    assert {"original+shuffle_options", "original+typos", "original+distractor"} <= set(names)
    assert r["n_items"] == 6
    assert r["spread"]["n_templates"] == 6
    spread = r["spread"]["spread"]
    assert spread["low"] <= spread["value"] <= spread["high"]
    assert r["worst_case"]["value"] <= r["mean_score"]["value"]
    assert 0 <= r["flip_rate"]["value"] <= 1
    assert r["flip_rate"]["n_items"] == 6
    html = (tmp_path / "report.html").read_text()
    assert "Robustness across variants" in html
    assert "score per variant" in html
    assert "perturbation effect" in html
    # the same outputs under other parsers, without a model call
    proc = tailgate(
        "rescore", "r", "--extract", "choice_letter", "--extract", "first_word", "--scorer", "choice", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    parsers = {p["parser"]: p for p in json.loads(proc.stdout)["parsers"]}
    assert parsers["scorer=choice"]["value"] == pytest.approx(parsers["as run"]["value"])
    # the letter alone misses answers that give the option's text: the scorer also reads those
    assert parsers["extract=choice_letter"]["value"] <= parsers["as run"]["value"] + 1e-9


def _jinja(template: str) -> str:
    """ProSA's format strings as Jinja (read as text; nothing is executed)."""
    text = template.replace("{question}", "{{ question }}")
    return re.sub(r"\{text([A-D])\}", lambda m: "{{ options[" + str("ABCD".index(m.group(1))) + "] }}", text)


def test_prosa_arc_templates_on_smollm2(tmp_path: Path) -> None:
    prompts = json.loads(PROSA.read_text(encoding="utf-8"))["ARC_Challenge_prompts"]
    assert len(prompts) == 12
    suite = {
        "name": "prosa-arc",
        "dataset": {"path": str(REPO / "examples" / "robustness" / "items.jsonl"), "id": "id", "reference": "answer"},
        "templates": [
            {"name": name, "messages": [{"role": "user", "content": _jinja(text)}], "text": _jinja(text)}
            for name, text in prompts.items()
        ],
        "decoding": {"temperature": 0.0, "max_tokens": 12, "stop": ["\n\n"]},
        "scorers": [{"type": "choice"}],
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    proc = tailgate(
        "run", str(path), "--model", "local:smollm2-135m", "--limit", "8", "--run-id", "p", "-q", timeout=900
    )
    assert proc.returncode == 0, proc.stderr
    proc = tailgate("report", "p", "--json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)["robustness"]
    assert r["spread"]["n_templates"] == 12
    assert r["n_items"] == 8
    # 12 wordings of the same 8 questions: the verdict moves with the wording
    assert r["spread"]["spread"]["value"] > 0
    assert r["flip_rate"]["value"] > 0


def test_smollm2_paraphrases_and_reads_answers(tmp_path: Path) -> None:
    """A real model writes the paraphrases (checked) and, in rescore, reads the answers."""
    rows = [
        {"id": f"a{i}", "question": f"Tom has {a} apples and buys {b} more. How many apples does Tom have now?",
         "answer": a + b}
        for i, (a, b) in enumerate([(3, 4), (10, 5), (7, 8), (12, 6), (2, 9), (20, 30)])
    ]  # fmt: skip
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    suite = {
        "name": "para",
        "dataset": {"path": "items.jsonl", "id": "id", "reference": "answer"},
        "templates": [{"name": "original", "messages": [{"role": "user", "content": "{{ question }}"}]}],
        "variants": [{"generator": "paraphrase", "model": "local:smollm2-135m", "fields": ["question"]}],
        "decoding": {"temperature": 0.0, "max_tokens": 24},
        "scorers": [{"type": "numeric"}],
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    proc = tailgate("run", "suite.yaml", "--model", "local:smollm2-135m", "--run-id", "para", timeout=900)
    assert proc.returncode == 0, proc.stderr
    note = re.search(r"(\d+)/6 paraphrases by local:smollm2-135m kept", proc.stdout + proc.stderr)
    assert note is not None, proc.stdout + proc.stderr
    from tailgate.store import Store

    records = Store().read_records("para").to_pylist()
    originals = {r["item_id"]: r["prompt"] for r in records if r["variant"] == "original"}
    changed = [r for r in records if r["variant"] == "original+paraphrase" and r["prompt"] != originals[r["item_id"]]]
    assert len(changed) == int(note.group(1))
    for r in changed:  # a kept paraphrase has every number of its question
        question = json.loads(originals[r["item_id"]])[0]["content"]
        assert all(n in r["prompt"] for n in re.findall(r"\d+", question))
    # the same run again asks the paraphrasing model nothing (the cache answers)
    proc = tailgate("run", "suite.yaml", "--model", "local:smollm2-135m", "--run-id", "para2", timeout=900)
    assert "6 from cache" in proc.stdout + proc.stderr
    proc = tailgate("rescore", "para", "--llm", "local:smollm2-135m", "--extract", "last_number", "--json")
    assert proc.returncode == 0, proc.stderr
    parsers = {p["parser"]: p for p in json.loads(proc.stdout)["parsers"]}
    assert set(parsers) == {"as run", "extract=last_number", "llm=local:smollm2-135m"}
    assert parsers["llm=local:smollm2-135m"]["n_samples"] == 12


ARENA = REPO.parent / "shared" / "data" / "prosa-variants" / "prompts" / "objective" / "Arena_Hard_Auto"


def test_prosa_paraphrase_triples_flip_rates(tmp_path: Path) -> None:
    """ProSA's real paraphrase triples of Arena-Hard questions (v1 original, v2 and v3 rewritten by
    an LLM), as paraphrase columns; open-ended, so no reference: the answer flip rate is judged by
    meaning (all-MiniLM-L6-v2) across the three wordings."""
    versions = []
    for v in (1, 2, 3):
        lines = (ARENA / f"question_v{v}.jsonl").read_text(encoding="utf-8").splitlines()
        versions.append({(row := json.loads(line))["question_id"]: row["turns"][0]["content"] for line in lines})
    short = [q for q in versions[0] if all(len(v[q]) < 240 for v in versions)][:8]
    assert len(short) == 8
    rows = [{"id": q, "q1": versions[0][q], "q2": versions[1][q], "q3": versions[2][q]} for q in short]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    suite = {
        "name": "prosa-arena",
        "dataset": {"path": "items.jsonl", "id": "id"},
        "templates": [{"name": "original", "messages": [{"role": "user", "content": "{{ q1 }}"}]}],
        "variants": [
            {"generator": "column", "column": "q2", "fields": ["q1"], "name": "v2"},
            {"generator": "column", "column": "q3", "fields": ["q1"], "name": "v3"},
        ],
        "decoding": {"temperature": 0.0, "max_tokens": 24},
        "scorers": [{"type": "json_valid", "when": {"never": "applies"}}],  # open-ended: nothing to score
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    proc = tailgate("run", "suite.yaml", "--model", "local:smollm2-135m", "--run-id", "arena", "-q", timeout=900)
    assert proc.returncode == 0, proc.stderr
    proc = tailgate("report", "arena", "--semantic", "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)["robustness"]
    flips = r["answer_flip_rate"]
    assert flips["n_items"] == 8
    assert "in meaning" in flips["method"]
    assert flips["low"] <= flips["value"] <= flips["high"]
    assert r["spread"] is None  # no scores: no spread, no worst case
    assert r["worst_case"]["value"] is None
