"""The drift report's renderers: hostile request texts and attribute values are shown, never run."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from tailgate.analysis import DriftReport, DriftWindow, analyse_drift
from tailgate.report import drift_html, render_drift

SCRIPT = "<script>alert(1)</script>"


def _report(mode: str = "pair") -> DriftReport:
    rng = np.random.default_rng(1)
    n = 4 if mode == "every" else 2
    arrays = [
        {"lang": rng.choice(["en", SCRIPT], 80, p=[0.9 - 0.2 * (k == n - 1), 0.1 + 0.2 * (k == n - 1)])}
        for k in range(n)
    ]
    windows = [DriftWindow(k, f"window {k}", "\x1b[31mspec", 80, None, None) for k in range(n)]
    ref_t = [f"how do I sort a list {i}" for i in range(80)]
    cur_t = [f"{SCRIPT} answer in json {i}" for i in range(80)]
    return analyse_drift(windows, arrays, mode=mode, texts=lambda i, j: (ref_t, cur_t, None))  # type: ignore[arg-type]


def test_the_html_escapes_request_texts_and_values() -> None:
    for mode in ("pair", "every"):
        html = drift_html(_report(mode))
        assert SCRIPT not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, as text
        assert "<script" not in html.lower()
        assert "\x1b" not in html
        assert "<svg" in html  # the share plots (and the monitor's in every mode)
    assert "monitor statistic against its boundary" in drift_html(_report("every"))


def test_the_terminal_view_neutralises_control_characters() -> None:
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(render_drift(_report()))
    text = out.getvalue()
    assert "\x1b" not in text
    assert SCRIPT in text  # plain text in a terminal: harmless, and what the request said
    assert "lang=<script>alert(1)</script>" in text
