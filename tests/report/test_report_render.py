"""The report's renderers: escaped HTML with plots, and a terminal view that fits 80 columns."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console

from tailgate.analysis import build_report
from tailgate.report import render_html, render_report
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store
from tests.support.suites import make_suite

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"


@pytest.fixture
def report(tmp_path: Path):  # type: ignore[no-untyped-def]
    items = [
        {"id": f"i{i}", "question": f"Question {i} {HOSTILE}", "answer": "yes", "task": "a" if i % 2 else "b"}
        for i in range(30)
    ]
    suite = make_suite(tmp_path / "s", items, scorers=[{"type": "exact"}], repeats=3)
    result = run_sync(RunOptions(suite=str(suite), model=f"fake:constant={HOSTILE}"))
    return build_report(Store(), result.run_id)


def test_html_is_self_contained_and_escapes_model_output(report) -> None:  # type: ignore[no-untyped-def]
    html = render_html(report)
    assert "<script" not in html.lower()
    assert "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")  # only as escaped text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert html.count("<svg") >= 3  # ECDF, consistency histogram, latency
    assert not re.search(r"(src|href)=['\"]https?://", html)  # nothing fetched
    assert "Discovered failing slices" in html


def test_terminal_report_fits_80_columns(report) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    Console(file=out, width=80, force_terminal=False).print(render_report(report))
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any("never pass" in line for line in lines)
    assert any("worst slices" in line for line in lines)


def test_json_has_n_and_method_everywhere(report) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(json.dumps(report.as_dict()))
    assert data["schema_version"] == 1

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "value" in node and "low" in node and "high" in node:
                assert "method" in node, node
                assert "n_items" in node, node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    assert data["overview"]["n_items"] == 30
    assert data["options"]["seed"] == 0


def test_run_ids_are_never_wrapped_or_cut() -> None:
    from tailgate.report import render_runs
    from tailgate.store import RunInfo

    run_id = "robustness-Meta-Llama-3-1-8B-Instruct-Q4-K-M-20261201-235959-a1b2"
    info = RunInfo(
        run_id,
        "robustness",
        "openai:meta-llama/Meta-Llama-3.1-8B-Instruct",
        "completed",
        960,
        960,
        0,
        "2026-12-01T23:59:59Z",
        None,
    )
    short = RunInfo("basic-smollm2-135m-20261201-235959-a1b2", "basic", "local:smollm2-135m", "running", 9, 1, 0,
                    "2026-12-01T23:59:59Z", None)  # fmt: skip
    for width in (60, 80, 100, 160):
        out = io.StringIO()
        Console(file=out, width=width, force_terminal=False).print(render_runs([info, short]), crop=False)
        text = out.getvalue()
        assert run_id in text, text
        assert short.run_id in text, text
        for cell in ("completed", "running", "960/960", "1/9"):  # never cut either
            assert cell in text, text


def test_renderers_read_the_typed_report_not_its_json(report, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Renaming a JSON key must not change what the terminal and HTML show: they read attributes."""
    from tailgate.analysis import Report

    expected_html = render_html(report)
    out = io.StringIO()
    Console(file=out, width=100).print(render_report(report))

    def no_json(self: Report) -> dict[str, object]:
        raise AssertionError("a renderer went through as_dict()")

    monkeypatch.setattr(Report, "as_dict", no_json)
    assert render_html(report) == expected_html
    again = io.StringIO()
    Console(file=again, width=100).print(render_report(report))
    assert again.getvalue() == out.getvalue()


def test_slice_weight_is_not_called_alpha_but_the_json_keeps_its_key(report) -> None:  # type: ignore[no-untyped-def]
    from tailgate.analysis import ReportOptions

    assert "alpha" not in ReportOptions.__dataclass_fields__
    data = report.as_dict()
    assert data["options"]["alpha"] == report.options.slice_weight == 0.99
    assert data["discovery"]["alpha"] == report.discovery.slice_weight
