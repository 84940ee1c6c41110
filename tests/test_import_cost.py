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
try:
    cli.main(args=sys.argv[1:], prog_name="tailgate")
except SystemExit as exc:
    assert not exc.code, exc.code
print(sorted(m for m in {heavy!r} if m in sys.modules))
"""


def _heavy_after(*args: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=heavy), *args], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
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


def test_report_imports_no_scipy_stats(tmp_path: Path) -> None:
    """``report`` gets its distribution functions from ``scipy.special`` (tailgate's
    ``_distributions``), not ``scipy.stats``, whose import alone costs 0.45-0.9 s: a run with
    repeats, variants, a slice, latencies and outputs reaches every section."""
    rows = ["item,repeat,variant,output,ok,latency_ms,size"]
    for item in range(80):
        for repeat in range(3):
            for variant in ("plain", "terse"):
                ok = int((item * 7 + repeat * 3 + (variant == "terse") * 5) % 10 < 6 + (item % 3 == 0))
                latency = 100 + item * 3 + repeat * 11
                rows.append(f"i{item},{repeat},{variant},{'AB'[ok]},{ok},{latency},{'sl'[item % 2]}")
    (tmp_path / "runs.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    columns = ["--item", "item", "--repeat", "repeat", "--variant", "variant", "--output", "output"]
    columns += ["--score", "ok", "--latency", "latency_ms", "--slice", "size", "--run-id", "r"]
    tailgate_ok("import", "records", str(tmp_path / "runs.csv"), *columns)
    assert _heavy_after("report", "r", heavy=("scipy.stats",)) == []
    assert _heavy_after("report", "r", "--json", str(tmp_path / "r.json"), heavy=("scipy.stats",)) == []
