"""Rendering: terminal tables, progress, the JSON and self-contained HTML reports."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tailgate.report._compare import (
        compare_html,
        compare_markdown,
        gate_junit,
        gate_markdown,
        render_compare,
        render_gate,
    )
    from tailgate.report._drift_html import drift_html
    from tailgate.report._drift_terminal import render_drift
    from tailgate.report._html import render_html
    from tailgate.report._judge_card import report_markdown
    from tailgate.report._progress import LineProgress, RichProgress, StepProgress
    from tailgate.report._redteam import render_redteam
    from tailgate.report._report_terminal import render_contamination, render_parsers, render_report
    from tailgate.report._sequential import render_look, render_sequential, render_until_decided
    from tailgate.report._shadow import render_shadow, shadow_html, shadow_markdown
    from tailgate.report._terminal import console, estimate_text, render_run_summary, render_runs

__all__ = [
    "LineProgress",
    "RichProgress",
    "StepProgress",
    "compare_html",
    "compare_markdown",
    "console",
    "drift_html",
    "estimate_text",
    "gate_junit",
    "gate_markdown",
    "render_compare",
    "render_contamination",
    "render_drift",
    "render_gate",
    "render_html",
    "render_judge_attack",
    "render_look",
    "render_parsers",
    "render_redteam",
    "render_report",
    "render_run_summary",
    "render_runs",
    "render_sequential",
    "render_shadow",
    "render_until_decided",
    "report_markdown",
    "shadow_html",
    "shadow_markdown",
]

# Submodules are imported on first use: `tailgate runs` and `tailgate show` must not pay for the
# report, compare and gate renderers (and the analysis and numpy under them) that they never use.
_LAZY = {
    "render_look": "tailgate.report._sequential",
    "render_sequential": "tailgate.report._sequential",
    "render_until_decided": "tailgate.report._sequential",
    "compare_html": "tailgate.report._compare",
    "compare_markdown": "tailgate.report._compare",
    "gate_junit": "tailgate.report._compare",
    "gate_markdown": "tailgate.report._compare",
    "render_compare": "tailgate.report._compare",
    "render_gate": "tailgate.report._compare",
    "drift_html": "tailgate.report._drift_html",
    "render_drift": "tailgate.report._drift_terminal",
    "render_html": "tailgate.report._html",
    "report_markdown": "tailgate.report._judge_card",
    "render_judge_attack": "tailgate.report._judge_card",
    "render_redteam": "tailgate.report._redteam",
    "StepProgress": "tailgate.report._progress",
    "LineProgress": "tailgate.report._progress",
    "RichProgress": "tailgate.report._progress",
    "render_contamination": "tailgate.report._report_terminal",
    "render_parsers": "tailgate.report._report_terminal",
    "render_report": "tailgate.report._report_terminal",
    "console": "tailgate.report._terminal",
    "estimate_text": "tailgate.report._terminal",
    "render_run_summary": "tailgate.report._terminal",
    "render_runs": "tailgate.report._terminal",
    "render_shadow": "tailgate.report._shadow",
    "shadow_html": "tailgate.report._shadow",
    "shadow_markdown": "tailgate.report._shadow",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
