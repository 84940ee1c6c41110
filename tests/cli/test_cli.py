"""The command line: exit codes are API, errors are one clear line without a traceback."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.support.cli import tailgate
from tests.support.cli import tailgate_ok as _ok
from tests.support.suites import make_suite

MODEL = "python:tests.support.models:oracle"


def test_run_show_runs_export(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "s", repeats=2)
    out = json.loads(_ok("run", str(suite), "--model", MODEL, "--run-id", "r1", "-q", "--json"))
    assert out == {
        "run_id": "r1",
        "status": "completed",
        "planned": 8,
        "done": 8,
        "issued": 8,
        "resumed": False,
        "retries": 0,
        "errors": {},
        "cached": 0,
    }
    shown = _ok("show", "r1")
    assert "1.000 [" in shown
    assert "8 samples" in shown
    data = json.loads(_ok("show", "r1", "--json"))
    assert data["summary"]["score"]["value"] == 1.0
    assert data["summary"]["score"]["n_items"] == 4
    assert data["manifest"]["plan"]["samples"] == 8
    runs = json.loads(_ok("runs", "--json"))
    assert [(r["run_id"], r["status"], r["done"], r["planned"]) for r in runs] == [("r1", "completed", 8, 8)]
    assert "r1" in _ok("runs")
    lines = _ok("export", "r1", "--format", "jsonl").splitlines()
    rows = [json.loads(x) for x in lines]
    assert len(rows) == 8
    assert {"sample_id", "score", "attr_task", "reference", "source_id"} <= set(rows[0])
    _ok("export", "r1", "--format", "csv", "-o", str(tmp_path / "r1.csv"))
    with (tmp_path / "r1.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 8
    _ok("export", "r1", "--format", "parquet", "-o", str(tmp_path / "r1.parquet"))
    assert pq.read_table(tmp_path / "r1.parquet").num_rows == 8


def test_export_columns_are_documented() -> None:
    from tailgate.records import EXPORT_EXTRA_COLUMNS, RECORD_COLUMNS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "records.md").read_text()
    for column in (*RECORD_COLUMNS, *EXPORT_EXTRA_COLUMNS):
        assert f"`{column.name}`" in doc, column.name


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ("malformed_yaml", "suite.yaml:"),
        ("unknown_key", "unknown key"),
        ("malformed_jsonl", "items.jsonl:2: invalid JSON"),
        ("missing_field", "items.jsonl:2: field 'answer': missing field"),
        ("wrong_type", "items.jsonl:1: field 'task': an attribute must be a scalar"),
        ("empty", "items.jsonl: the dataset has no items"),
        ("non_utf8", "items.jsonl:1: not valid UTF-8"),
        ("huge", "items.jsonl:1: field 'question': value is 10,485,760 bytes"),
        (
            "template_field",
            "items.jsonl:1: field 'context': missing field 'context' used by template",
        ),
        ("bad_model", "should look like provider:name"),
        ("unknown_provider", "unknown provider 'nope'"),
        ("missing_suite", "file not found"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(tmp_path: Path, setup: str, needle: str) -> None:
    folder = tmp_path / "s"
    suite = make_suite(folder)
    items = folder / "items.jsonl"
    model = MODEL
    if setup == "malformed_yaml":
        suite.write_text(suite.read_text() + "templates: [\n")
    elif setup == "unknown_key":
        suite.write_text(suite.read_text() + "repeatz: 2\n")
    elif setup == "malformed_jsonl":
        items.write_text(items.read_text().splitlines()[0] + "\n{broken\n")
    elif setup == "missing_field":
        items.write_text(items.read_text().splitlines()[0] + '\n{"id": "z", "question": "q", "task": "t"}\n')
    elif setup == "wrong_type":
        items.write_text('{"id": "z", "question": "q", "answer": 1, "task": [1]}\n')
    elif setup == "empty":
        items.write_text("")
    elif setup == "non_utf8":
        items.write_bytes(b'{"id": "z", "question": "caf\xe9", "answer": 1, "task": "t"}\n')
    elif setup == "huge":
        items.write_text(json.dumps({"id": "z", "question": "x" * 10 * 1024 * 1024, "answer": 1, "task": "t"}) + "\n")
    elif setup == "template_field":
        make_suite(
            folder,
            templates=[{"messages": [{"role": "user", "content": "{{ context }} {{ question }}"}]}],
        )
    elif setup == "bad_model":
        model = "smollm2"
    elif setup == "unknown_provider":
        model = "nope:x"
    elif setup == "missing_suite":
        suite = folder / "missing.yaml"
    proc = tailgate("run", str(suite), "--model", model, "-q")
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("tailgate: error: ")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unknown_run_is_exit_2() -> None:
    proc = tailgate("show", "nope")
    assert proc.returncode == 2
    assert "no run 'nope'" in proc.stderr


def test_usage_error_is_exit_2() -> None:
    proc = tailgate("run")
    assert proc.returncode == 2
    assert "Missing argument" in proc.stderr


def test_every_command_has_help_and_is_documented() -> None:
    from tailgate.cli import cli

    doc = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    for name, command in cli.commands.items():
        assert command.help, name
        assert f"tailgate {name}" in doc, name
        proc = tailgate(name, "--help")
        assert proc.returncode == 0
        assert "Usage:" in proc.stdout


def test_models_lists_aliases_without_assembling(tmp_path: Path) -> None:
    proc = tailgate("models", env={"TAILGATE_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 0
    assert "local:smollm2-135m" in proc.stdout
    assert "local:gemma3-270m" in proc.stdout
    assert "installed" in proc.stdout
    assert not (tmp_path / "cache").exists()


def test_show_and_export_a_run_without_records(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "s")
    proc = tailgate(
        "run",
        str(suite),
        "--model",
        "openai:m",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--run-id",
        "dead",
        "--max-attempts",
        "1",
        "--timeout",
        "1",
        "-q",
        "--json",
    )
    # connection refused: recorded per sample, and a run that measured nothing exits 3
    assert proc.returncode == 3, proc.stderr
    assert "every one of the 4 samples failed after its retries (connection x4)" in proc.stderr
    assert json.loads(proc.stdout)["status"] == "failed"
    data = json.loads(_ok("show", "dead", "--json"))
    assert data["summary"]["n_errors"] == 4
    assert data["summary"]["score"]["value"] is None
    assert "no scored samples" in _ok("show", "dead")
    rows = [json.loads(x) for x in _ok("export", "dead").splitlines()]
    assert {r["error_class"] for r in rows} == {"connection"}


def test_store_is_accepted_after_the_command_too(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "s")
    other = tmp_path / "elsewhere"
    _ok("run", str(suite), "--model", MODEL, "--run-id", "r1", "-q", "--json", "--store", str(other))
    assert (other / "runs" / "r1" / "manifest.json").exists()  # not in $TAILGATE_STORE
    assert json.loads(_ok("runs", "--json")) == []
    assert [r["run_id"] for r in json.loads(_ok("runs", "--store", str(other), "--json"))] == ["r1"]
    assert [r["run_id"] for r in json.loads(_ok("--store", str(other), "runs", "--json"))] == ["r1"]
    # after the command wins over before it; both win over the environment
    assert json.loads(_ok("--store", str(other), "runs", "--store", str(tmp_path / "none"), "--json")) == []
    for command in (["show", "r1"], ["report", "r1"], ["export", "r1"], ["compare", "r1", "r1"]):
        proc = tailgate(*command, "--json" if command[0] != "export" else "--format=jsonl", "--store", str(other))
        assert proc.returncode == 0, (command, proc.stderr)


def test_run_defaults_to_the_bundled_small_model() -> None:
    from tailgate.cli import DEFAULT_MODEL, cli
    from tailgate.providers import parse_model_spec
    from tailgate.providers._models import ALIASES

    option = next(p for p in cli.commands["run"].params if p.name == "model")
    assert option.default == DEFAULT_MODEL == "local:smollm2-135m"
    assert not option.required
    spec = parse_model_spec(DEFAULT_MODEL)
    assert spec.provider == "local"
    assert spec.name in ALIASES
    assert "default: local:smollm2-135m" in " ".join(_ok("run", "--help").split())


def test_a_run_without_a_terminal_prints_progress_lines(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "s", repeats=2)
    proc = tailgate("run", str(suite), "--model", MODEL, "--run-id", "r1", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == f"{MODEL} 0/8 samples; progress every 10s"
    assert lines[-1].startswith(f"{MODEL} 8/8 (100%) ")
    assert "\x1b[" not in proc.stderr  # plain text for logs: no cursor movement, no colours
