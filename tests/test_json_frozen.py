"""The same stored runs give byte-identical ``report``, ``compare`` and ``gate`` JSON.

Runs are imported from real third-party results in ``../shared/data`` (CRUXEval: CodeLlama-7B,
10 samples per item, with outputs; MMLU-Pro: two models, one answer per question, by category),
with latency, repeats, variants, slices and a non-binary score derived from them by fixed rules,
so every section of the JSON is exercised. The frozen copies in ``tests/data/frozen`` are the
output before a refactor; a change to them is a change of behaviour and must be deliberate:
regenerate with ``TAILGATE_FREEZE=1 pytest tests/test_json_frozen.py`` and say why in the commit.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
from pathlib import Path

import pytest

from tests.support.cli import tailgate

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
FROZEN = REPO / "tests" / "data" / "frozen"


def _unit(*parts: object) -> float:
    """A fixed pseudo-random number in [0, 1) from its parts (no RNG state)."""
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12], 16) / 16**12


def _cruxeval(task: str, path: Path) -> None:
    lines = (DATA / "cruxeval/cruxeval.jsonl").read_text(encoding="utf-8").splitlines()
    items = {row["id"]: row for row in map(json.loads, lines)}
    data = json.loads((DATA / f"cruxeval/sample_scored_codellama-7b_temp0.2_{task}.json").read_text())
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["item", "repeat", "variant", "output", "ok", "latency_ms", "size", "code"])
        for item in sorted(data["raw_generations"], key=lambda s: int(s.split("_")[1]))[:300]:
            code = items[item]["code"]
            size = "long" if len(code) > 300 else "short"
            gens, scored = data["raw_generations"][item], data["raw_scored_generations"][item]
            for r, (gen, ok) in enumerate(zip(gens, scored, strict=True)):
                variant = "original" if r < 5 else "terse"
                latency = 200 + 3 * len(gen) + 400 * _unit(task, item, r) + (2000 if size == "long" else 0)
                out.writerow([item, r % 5, variant, gen, int(ok), f"{latency:.1f}", size, code])


def _mmlu(model: str, path: Path, *, graded: bool) -> None:
    import gzip

    with gzip.open(DATA / "mmlu-pro/responses.csv.gz", "rt", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["model"] == model]
    rows = sorted(rows, key=lambda r: int(r["question_id"]))[:1500]
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["item", "score", "output", "latency_ms", "category"])
        for r in rows:
            score = float(r["correct"])
            if graded and not score:  # partial credit for an answer one letter away, 0.25
                score = 0.25 if abs(ord(r["pred"][:1] or "Z") - ord(r["gold"][:1])) == 1 else 0.0
            latency = 30 + int(r["generated_chars"]) * 0.8
            out.writerow([r["question_id"], score, r["pred"], f"{latency:.1f}", r["category"]])


@pytest.fixture(scope="module")
def frozen_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if not DATA.is_dir():
        pytest.fail(f"the shared evaluation data is missing: {DATA}")
    folder = tmp_path_factory.mktemp("frozen")
    store = str(folder / "store")
    env = {"TAILGATE_STORE": store}
    common = ["--item", "item", "--output", "output", "--latency", "latency_ms"]
    for task in ("output", "input"):
        _cruxeval(task, folder / f"crux-{task}.csv")
        args = ["--score", "ok", "--repeat", "repeat", "--variant", "variant", "--slice", "size", "--input", "code"]
        _ok(
            "import",
            "records",
            str(folder / f"crux-{task}.csv"),
            *common,
            *args,
            "--run-id",
            f"crux-{task}",
            "--model",
            f"codellama-7b-{task}",
            env=env,
        )
    models = {
        "mmlu-base": ("Meta-Llama-3_1-8B-Instruct", False),
        "mmlu-cand": ("Mistral-7B-Instruct-v0.2", False),
        "mmlu-graded": ("Meta-Llama-3_1-8B-Instruct", True),
    }
    for run_id, (model, graded) in models.items():
        _mmlu(model, folder / f"{run_id}.csv", graded=graded)
        _ok(
            "import",
            "records",
            str(folder / f"{run_id}.csv"),
            *common,
            "--score",
            "score",
            "--slice",
            "category",
            "--run-id",
            run_id,
            "--model",
            model,
            env=env,
        )
    return env


def _ok(*args: str, env: dict[str, str]) -> None:
    proc = tailgate(*args, env=env)
    assert proc.returncode == 0, proc.stderr


CASES = {
    "report-crux-output": ["report", "crux-output", "--json"],
    "report-mmlu-graded": ["report", "mmlu-graded", "--json"],
    "compare-crux": ["compare", "crux-output", "crux-input", "--json"],
    "compare-mmlu": ["compare", "mmlu-base", "mmlu-cand", "--json"],
    "gate-crux": ["gate", "crux-output", "crux-input", "--policy", str(REPO / "examples/gate.yaml"), "--json"],
    "gate-mmlu": ["gate", "mmlu-base", "mmlu-cand", "--policy", str(REPO / "examples/gate.yaml"), "--json"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_json_is_byte_identical_to_the_frozen_copy(frozen_runs: dict[str, str], case: str) -> None:
    proc = tailgate(*CASES[case], env=frozen_runs)
    assert proc.returncode in (0, 1), proc.stderr  # a gate that fails exits 1 and still prints its JSON
    json.loads(proc.stdout)  # it is JSON
    # when the import ran is the one thing that differs between two imports of the same file
    got = re.sub(r'"(started_at|ended_at)": "[^"]*"', r'"\1": "<import time>"', proc.stdout)
    path = FROZEN / f"{case}.json"
    if os.environ.get("TAILGATE_FREEZE"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no frozen copy of {case}: run with TAILGATE_FREEZE=1 once"
    want = path.read_text(encoding="utf-8")
    if got != want and _same_but_last_digits(json.loads(got), json.loads(want)):
        return  # another numpy/scipy/DuckDB summation order (see _same_but_last_digits)
    if got != want:
        lines = [
            f"{i}: {a!r} != {b!r}"
            for i, (a, b) in enumerate(zip(got.splitlines(), want.splitlines(), strict=False))
            if a != b
        ]
        raise AssertionError(f"{case}: output changed ({len(lines)} lines differ), first: {lines[:3]}")


def _same_but_last_digits(got: object, want: object) -> bool:
    """Equal structure, keys and strings, and floats equal to 1e-9 relative: byte identity holds
    for one environment (a refactor is checked there), but a new numpy, scipy or DuckDB may sum in
    another order and move a float's 16th digit (seen: numpy 2.4.6, scipy 1.17.1, DuckDB 2.0.1
    changed ``correlation`` ...663 to ...613). Anything larger than that is a change of behaviour."""
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(_same_but_last_digits(got[k], want[k]) for k in got)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(_same_but_last_digits(a, b) for a, b in zip(got, want, strict=True))
    if isinstance(got, float) and isinstance(want, float):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)
    return type(got) is type(want) and got == want


def test_last_digit_tolerance_is_narrow() -> None:
    assert _same_but_last_digits({"a": [0.30000000000000004]}, {"a": [0.3]})
    assert not _same_but_last_digits({"a": [0.3001]}, {"a": [0.3]})
    assert not _same_but_last_digits({"a": 1}, {"a": 1.0})
    assert not _same_but_last_digits({"a": "x"}, {"b": "x"})
