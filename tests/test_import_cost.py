"""The start-up promise, without timing anything: the commands that must answer at once do not
import the heavy libraries (numbers in BENCHMARKS.md; speed itself is measured in bench/)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import REPO, tailgate_ok
from tests.support.suites import make_suite

HEAVY = ("numpy", "scipy", "pandas", "pyarrow", "duckdb")

# Runs a command in process, then prints which heavy modules it imported.
_PROBE = """
import sys
from tailgate.cli import cli
code = 0
try:
    cli.main(args=sys.argv[1:], prog_name="tailgate")
except SystemExit as exc:
    code = exc.code or 0
print(sorted(m for m in {heavy!r} if m in sys.modules))
sys.exit(code)
"""


def _heavy_after(*args: str, heavy: tuple[str, ...] = HEAVY, exits: tuple[int, ...] = (0,)) -> list[str]:
    """The heavy modules a command imported; ``exits``: the exit codes it may end with (a gate's
    verdict is 1)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=heavy), *args], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode in exits, proc.stderr
    found: list[str] = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    return found


@pytest.fixture
def stored_run(tmp_path: Path) -> str:
    suite = make_suite(tmp_path / "suite", repeats=3)  # repeats: the summary's interval needs a t quantile
    tailgate_ok("run", str(suite), "--model", "python:tests.support.models:oracle", "--run-id", "r", "-q", "--json")
    return "r"


def test_run_imports_no_array_library(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "suite", repeats=2)
    model = "python:tests.support.models:oracle"
    assert _heavy_after("run", str(suite), "--model", model, "-q", "--json", "--no-cache") == []


def test_run_of_field_substitution_templates_imports_no_jinja2(tmp_path: Path) -> None:
    """``{{ question }}`` templates are rendered without Jinja2 (its import and lexer: 50 ms);
    a template using more of Jinja2 still gets it."""
    model = "python:tests.support.models:oracle"
    plain = make_suite(tmp_path / "plain", repeats=2)
    assert _heavy_after("run", str(plain), "--model", model, "-q", "--json", "--no-cache", heavy=("jinja2",)) == []
    templates = [{"name": "original", "messages": [{"role": "user", "content": "{{ question | trim }}"}]}]
    filtered = make_suite(tmp_path / "filtered", templates=templates)
    args = ("run", str(filtered), "--model", model, "-q", "--json", "--no-cache")
    assert _heavy_after(*args, heavy=("jinja2",)) == ["jinja2"]


def test_run_without_a_terminal_imports_no_rich(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a terminal (CI logs, a pipe: subprocess output here) the run's progress is plain
    lines and rich is not imported (~15 ms of start-up); with FORCE_COLOR rich is asked, and
    draws the bar."""
    suite = make_suite(tmp_path / "suite", repeats=2)
    model = "python:tests.support.models:oracle"
    args = ("run", str(suite), "--model", model, "--json", "--no-cache")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    assert _heavy_after(*args, heavy=("rich",)) == []
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert _heavy_after(*args, heavy=("rich",)) == ["rich"]


def test_openai_run_path_imports_no_array_library() -> None:
    modules = "tailgate.cli._commands, tailgate.runner, tailgate.providers._openai"
    code = f"import sys, {modules}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "[]"


def test_runs_imports_no_array_library(stored_run: str) -> None:
    assert _heavy_after("runs") == []
    assert _heavy_after("runs", "--json") == []


def test_show_imports_numpy_only(stored_run: str) -> None:
    """A run still in journals is summarised without pyarrow (and pandas under it) or scipy."""
    assert _heavy_after("show", stored_run) == ["numpy"]
    assert _heavy_after("show", stored_run, "--json") == ["numpy"]


def _import_run(folder: Path, run_id: str, shift: int = 0) -> str:
    """A run with repeats, variants, a slice, latencies and outputs (every report section)."""
    rows = ["item,repeat,variant,output,ok,latency_ms,size"]
    for item in range(80):
        for repeat in range(3):
            for variant in ("plain", "terse"):
                ok = int((item * 7 + repeat * 3 + (variant == "terse") * 5 + shift) % 10 < 6 + (item % 3 == 0))
                latency = 100 + item * 3 + repeat * 11 + shift
                rows.append(f"i{item},{repeat},{variant},{'AB'[ok]},{ok},{latency},{'sl'[item % 2]}")
    path = folder / f"{run_id}.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    columns = ["--item", "item", "--repeat", "repeat", "--variant", "variant", "--output", "output"]
    columns += ["--score", "ok", "--latency", "latency_ms", "--slice", "size", "--run-id", run_id]
    tailgate_ok("import", "records", str(path), *columns)
    return run_id


def test_report_imports_no_scipy_stats(tmp_path: Path) -> None:
    """``report`` gets its distribution functions from ``scipy.special`` (tailgate's
    ``_distributions``), not ``scipy.stats``, whose import alone costs 0.45-0.9 s."""
    run = _import_run(tmp_path, "r")
    assert _heavy_after("report", run, heavy=("scipy.stats",)) == []
    assert _heavy_after("report", run, "--json", str(tmp_path / "r.json"), heavy=("scipy.stats",)) == []


def test_compare_and_gate_import_no_scipy_stats(tmp_path: Path) -> None:
    """The paired t and McNemar tests, the power advice and the gate's slice rule neither."""
    base, cand = _import_run(tmp_path, "base"), _import_run(tmp_path, "cand", shift=3)
    saved = str(tmp_path / "cmp.json")
    assert _heavy_after("compare", base, cand, "--json", saved, heavy=("scipy.stats",)) == []
    policy = str(REPO / "examples" / "gate.yaml")
    for extra in ((), ("--comparison", saved)):
        args = ("gate", base, cand, "--policy", policy, "--json", str(tmp_path / "g.json"), *extra)
        assert _heavy_after(*args, heavy=("scipy.stats",), exits=(0, 1)) == []


@pytest.mark.parametrize(
    ("fmt", "fixture"),
    [
        ("inspect", "inspect/tgfix_limit6_epochs2.json"),
        ("promptfoo", "promptfoo/promptfoo_tgfix.json"),
        ("openai-evals", "openai-evals/tgfix_model_a.jsonl"),
    ],
)
def test_format_imports_do_not_import_pandas(tmp_path: Path, fmt: str, fixture: str) -> None:
    """The parsed table goes to DuckDB as numpy columns: a pyarrow array would import pandas
    (0.2-0.7 s of a 100k-sample import, BENCHMARKS.md)."""
    path = REPO / "tests" / "fixtures" / "importers" / fixture
    assert _heavy_after("import", fmt, str(path), "--store", str(tmp_path / "store"), heavy=("pandas",)) == []
