"""Rendering: terminal tables, progress, the JSON and self-contained HTML reports."""

from tailgate.report._compare import (
    compare_html,
    compare_markdown,
    gate_junit,
    gate_markdown,
    render_compare,
    render_gate,
)
from tailgate.report._html import render_html
from tailgate.report._progress import LineProgress, RichProgress
from tailgate.report._report_terminal import render_contamination, render_parsers, render_report
from tailgate.report._terminal import console, estimate_text, render_run_summary, render_runs

__all__ = [
    "LineProgress",
    "RichProgress",
    "compare_html",
    "compare_markdown",
    "console",
    "estimate_text",
    "gate_junit",
    "gate_markdown",
    "render_compare",
    "render_contamination",
    "render_gate",
    "render_html",
    "render_parsers",
    "render_report",
    "render_run_summary",
    "render_runs",
]
