"""Small, dependency-free SVG plots for the self-contained HTML report.

Every text that reaches the SVG goes through :func:`html.escape`; numbers are formatted here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import NamedTuple

__all__ = ["HeatCell", "ecdf", "forest", "heat_colour", "heatmap", "histogram", "scatter", "series"]

WIDTH = 640
FONT = "font-family='system-ui, sans-serif' font-size='11'"
SMALL_FONT = "font-family='system-ui, sans-serif' font-size='10'"


def _frame(width: int, height: int, body: str, title: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' "
        f"height='{height}' role='img' aria-label='{escape(title)}'><title>{escape(title)}</title>{body}</svg>"
    )


def _axis_x(
    x0: float, x1: float, y: float, lo: float, hi: float, ticks: Sequence[float], fmt: str, log: bool = False
) -> str:
    parts = [f"<line x1='{x0}' y1='{y}' x2='{x1}' y2='{y}' stroke='#555'/>"]
    for t in ticks:
        x = _scale(t, lo, hi, x0, x1, log)
        parts.append(f"<line x1='{x:.1f}' y1='{y}' x2='{x:.1f}' y2='{y + 4}' stroke='#555'/>")
        parts.append(f"<text x='{x:.1f}' y='{y + 15}' text-anchor='middle' {FONT}>{escape(format(t, fmt))}</text>")
    return "".join(parts)


def _scale(v: float, lo: float, hi: float, a: float, b: float, log: bool = False) -> float:
    if log:
        v, lo, hi = math.log10(max(v, 1e-12)), math.log10(max(lo, 1e-12)), math.log10(max(hi, 1e-12))
    if hi == lo:
        return (a + b) / 2
    return a + (v - lo) / (hi - lo) * (b - a)


def ecdf(values: Sequence[float], title: str, xlabel: str, lo: float = 0.0, hi: float = 1.0) -> str:
    """Empirical CDF of sorted ``values`` as a step line."""
    height, left, right, top, bottom = 260, 50, WIDTH - 20, 20, 220
    n = len(values)
    body = [_axis_x(left, right, bottom, lo, hi, [lo + (hi - lo) * i / 5 for i in range(6)], ".2f")]
    body.append(f"<line x1='{left}' y1='{top}' x2='{left}' y2='{bottom}' stroke='#555'/>")
    for frac in (0.0, 0.5, 1.0):
        y = _scale(frac, 0, 1, bottom, top)
        body.append(f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end' {FONT}>{frac:.1f}</text>")
    if n:
        points = [f"{left},{bottom}"]
        for i, v in enumerate(values):
            x = _scale(v, lo, hi, left, right)
            points.append(f"{x:.1f},{_scale(i / n, 0, 1, bottom, top):.1f}")
            points.append(f"{x:.1f},{_scale((i + 1) / n, 0, 1, bottom, top):.1f}")
        points.append(f"{right},{top}")
        body.append(f"<polyline fill='none' stroke='#2563eb' stroke-width='2' points='{' '.join(points)}'/>")
    body.append(f"<text x='{(left + right) / 2}' y='{height - 4}' text-anchor='middle' {FONT}>{escape(xlabel)}</text>")
    body.append(
        f"<text x='12' y='{(top + bottom) / 2}' transform='rotate(-90 12 {(top + bottom) / 2})' "
        f"text-anchor='middle' {FONT}>share of items at or below</text>"
    )
    return _frame(WIDTH, height, "".join(body), title)


def forest(
    rows: Sequence[tuple[str, float | None, float | None, float | None]],
    title: str,
    reference: float | None,
    lo: float = 0.0,
    hi: float = 1.0,
) -> str:
    """One row per (label, estimate, low, high): a point with its interval (no point for an
    estimate of None); a dashed reference line."""
    row_h, left, right, top = 22, 290, WIDTH - 20, 10
    height = top + row_h * len(rows) + 40
    bottom = top + row_h * len(rows)
    # quarter ticks, two decimals: every tick label is the value it marks
    body = [_axis_x(left, right, bottom + 5, lo, hi, [lo + (hi - lo) * i / 4 for i in range(5)], ".2f")]
    if reference is not None:
        x = _scale(reference, lo, hi, left, right)
        body.append(f"<line x1='{x:.1f}' y1='{top}' x2='{x:.1f}' y2='{bottom}' stroke='#888' stroke-dasharray='4 3'/>")
    for i, (label, value, low, high) in enumerate(rows):
        y = top + row_h * i + row_h / 2
        text = label if len(label) <= 40 else label[:39] + "…"  # 40 characters of 10 px fit the margin
        body.append(f"<text x='{left - 8}' y='{y + 4:.1f}' text-anchor='end' {SMALL_FONT}>{escape(text)}</text>")
        if low is not None and high is not None:
            x1, x2 = _scale(low, lo, hi, left, right), _scale(high, lo, hi, left, right)
            body.append(f"<line x1='{x1:.1f}' y1='{y:.1f}' x2='{x2:.1f}' y2='{y:.1f}' stroke='#555' stroke-width='2'/>")
        if value is not None:
            x = _scale(value, lo, hi, left, right)
            body.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='4' fill='#dc2626'/>")
    return _frame(WIDTH, height, "".join(body), title)


def histogram(
    counts: Sequence[int],
    edges: Sequence[float],
    title: str,
    xlabel: str,
    log: bool = False,
    marks: Sequence[tuple[str, float]] = (),
    fmt: str = ".2f",
) -> str:
    """Bars over ``edges``; optional labelled vertical ``marks`` (e.g. percentiles)."""
    height, left, right, top, bottom = 260, 50, WIDTH - 20, 30, 220
    lo, hi = edges[0], edges[-1]
    peak = max(counts) if counts else 1
    body = []
    for c, a, b in zip(counts, edges[:-1], edges[1:], strict=True):
        x1, x2 = _scale(a, lo, hi, left, right, log), _scale(b, lo, hi, left, right, log)
        y = _scale(c, 0, peak or 1, bottom, top)
        body.append(
            f"<rect x='{x1:.1f}' y='{y:.1f}' width='{max(x2 - x1 - 1, 0.5):.1f}' height='{bottom - y:.1f}' "
            "fill='#93c5fd'/>"
        )
    ticks = (
        [
            10**e
            for e in range(math.floor(math.log10(max(lo, 1e-12))), math.ceil(math.log10(hi)) + 1)
            if lo <= 10**e <= hi
        ]
        if log
        else [lo + (hi - lo) * i / 5 for i in range(6)]
    )
    if log and len(ticks) < 2:
        ticks = [lo, hi]
    body.append(_axis_x(left, right, bottom, lo, hi, ticks, "g" if log else fmt, log))
    for i, (name, value) in enumerate(marks):
        x = _scale(value, lo, hi, left, right, log)
        body.append(
            f"<line x1='{x:.1f}' y1='{top - 5}' x2='{x:.1f}' y2='{bottom}' stroke='#dc2626' stroke-dasharray='3 2'/>"
        )
        body.append(f"<text x='{x + 3:.1f}' y='{top + 10 * (i % 3):.1f}' {FONT} fill='#dc2626'>{escape(name)}</text>")
    body.append(f"<text x='{(left + right) / 2}' y='{height - 4}' text-anchor='middle' {FONT}>{escape(xlabel)}</text>")
    return _frame(WIDTH, height, "".join(body), title)


def scatter(points: Sequence[Sequence[float]], title: str, lo: float = 0.0, hi: float = 1.0) -> str:
    """Paired points (x = base, y = candidate) with the diagonal; jittered so ties show as clouds."""
    import random

    size, pad = 360, 40
    rng = random.Random(0)
    body = [
        f"<line x1='{pad}' y1='{size - pad}' x2='{size - pad}' y2='{pad}' stroke='#888' stroke-dasharray='4 3'/>",
        f"<rect x='{pad}' y='{pad}' width='{size - 2 * pad}' height='{size - 2 * pad}' fill='none' stroke='#555'/>",
    ]
    jitter = (hi - lo) * 0.012
    for x, y in points:
        px = _scale(x + rng.uniform(-jitter, jitter), lo, hi, pad, size - pad)
        py = _scale(y + rng.uniform(-jitter, jitter), lo, hi, size - pad, pad)
        color = "#16a34a" if y > x else "#dc2626" if y < x else "#64748b"
        body.append(f"<circle cx='{px:.1f}' cy='{py:.1f}' r='2.2' fill='{color}' fill-opacity='0.5'/>")
    body.append(f"<text x='{size / 2}' y='{size - 10}' text-anchor='middle' {FONT}>base</text>")
    body.append(
        f"<text x='14' y='{size / 2}' transform='rotate(-90 14 {size / 2})' text-anchor='middle' {FONT}>"
        "candidate</text>"
    )
    return _frame(size, size, "".join(body), title)


PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2")


def series(
    lines: Sequence[tuple[str, Sequence[tuple[float | None, float | None, float | None]]]],
    title: str,
    xlabels: Sequence[str],
    *,
    lo: float = 0.0,
    hi: float = 1.0,
    log: bool = False,
    threshold: tuple[float, str] | None = None,
    width: int = WIDTH,
    height: int = 220,
    fmt: str = ".2f",
) -> str:
    """Lines over windows: each line a label and one (value, low, high) per x position (an
    interval drawn as a vertical bar); an optional dashed horizontal threshold with its label;
    ``log`` for a log-scaled y axis (values must be positive)."""
    left, right, top, bottom = 48, width - 130, 24, height - 34
    n = max(len(xlabels), 1)

    def x_at(i: int) -> float:
        return left + (right - left) * (i + 0.5) / n

    def y_at(v: float) -> float:
        return _scale(v, lo, hi, bottom, top, log)

    body = [f"<line x1='{left}' y1='{bottom}' x2='{right}' y2='{bottom}' stroke='#555'/>"]
    body.append(f"<line x1='{left}' y1='{top}' x2='{left}' y2='{bottom}' stroke='#555'/>")
    if log:
        decades = list(range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1))
        every = max(1, math.ceil(len(decades) / 6))
        ticks = [10.0**k for k in decades if k % every == 0]
    else:
        ticks = [lo + (hi - lo) * i / 4 for i in range(5)]
    for t in ticks:
        if lo <= t <= hi:
            label = f"{t:g}" if log else format(t, fmt)
            body.append(
                f"<text x='{left - 5}' y='{y_at(t) + 4:.1f}' text-anchor='end' {SMALL_FONT}>{escape(label)}</text>"
            )
    body.append(f"<text x='{left}' y='12' {FONT} font-weight='bold'>{escape(title)}</text>")
    step = max(1, math.ceil(n / 12))
    for i, label in enumerate(xlabels):
        if i % step == 0:
            body.append(
                f"<text x='{x_at(i):.1f}' y='{bottom + 14}' text-anchor='middle' {SMALL_FONT}>{escape(label)}</text>"
            )
    if threshold is not None:
        y = y_at(threshold[0])
        body.append(f"<line x1='{left}' y1='{y:.1f}' x2='{right}' y2='{y:.1f}' stroke='#888' stroke-dasharray='4 3'/>")
        body.append(f"<text x='{right + 4}' y='{y + 4:.1f}' {SMALL_FONT}>{escape(threshold[1])}</text>")
    for k, (label, points) in enumerate(lines):
        colour = PALETTE[k % len(PALETTE)]
        path = []
        for i, (value, low, high) in enumerate(points):
            if low is not None and high is not None:
                body.append(
                    f"<line x1='{x_at(i):.1f}' y1='{y_at(low):.1f}' x2='{x_at(i):.1f}' y2='{y_at(high):.1f}' "
                    f"stroke='{colour}' stroke-opacity='0.5' stroke-width='3'/>"
                )
            if value is not None:
                path.append(f"{x_at(i):.1f},{y_at(value):.1f}")
        if path:
            body.append(f"<polyline fill='none' stroke='{colour}' stroke-width='1.5' points='{' '.join(path)}'/>")
            body.extend(
                f"<circle cx='{p.split(',')[0]}' cy='{p.split(',')[1]}' r='2.5' fill='{colour}'/>" for p in path
            )
        text = label if len(label) <= 18 else label[:17] + "…"
        body.append(f"<text x='{right + 4}' y='{top + 12 + 13 * k}' fill='{colour}' {SMALL_FONT}>{escape(text)}</text>")
    return _frame(width, height, "".join(body), title)


class HeatCell(NamedTuple):
    """One cell of :func:`heatmap`: a rate in [0, 1] with its interval and its n."""

    row: str
    column: str
    value: float | None
    """None: no number (``why`` says why); the cell is grey."""
    low: float | None
    high: float | None
    n_samples: int
    n_items: int
    why: str = ""


HEAT_LOW, HEAT_HIGH = (255, 255, 255), (185, 28, 28)  # white at 0, dark red at 1


def heat_colour(value: float) -> str:
    """The fill of a rate in [0, 1]: white to dark red, linear in each channel."""
    v = min(max(value, 0.0), 1.0)
    r, g, b = (round(a + (z - a) * v) for a, z in zip(HEAT_LOW, HEAT_HIGH, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _heat_cell(c: HeatCell, x: float, y: float, w: int, h: int, unit: str) -> str:
    units = f"{c.n_items} {unit}{'' if c.n_items == 1 else 's'}"
    n = f"n={c.n_samples} samples ({units})"
    if c.value is None:
        tip, fill, ink, label = f"{c.row}, {c.column}: n/a ({c.why}); {n}", "#e5e7eb", "#555", "n/a"
    else:
        ci = "no interval" if c.low is None or c.high is None else f"[{c.low:.3f}, {c.high:.3f}]"
        tip, fill, label = f"{c.row}, {c.column}: {c.value:.3f} {ci}, {n}", heat_colour(c.value), f"{c.value:.3f}"
        ink = "#fff" if c.value > 0.55 else "#111"
    cx = x + w / 2
    return (
        f"<g class='cell'><title>{escape(tip)}</title>"
        f"<rect x='{x + 1:.1f}' y='{y + 1:.1f}' width='{w - 2}' height='{h - 2}' fill='{fill}' stroke='#d4d4d4'/>"
        f"<text x='{cx:.1f}' y='{y + 17:.1f}' text-anchor='middle' {FONT} font-weight='bold' fill='{ink}'>"
        f"{escape(label)}</text>"
        f"<text x='{cx:.1f}' y='{y + 30:.1f}' text-anchor='middle' {SMALL_FONT} fill='{ink}'>n={c.n_samples}</text>"
        f"<text x='{cx:.1f}' y='{y + 42:.1f}' text-anchor='middle' {SMALL_FONT} fill='{ink}'>"
        f"{escape(units)}</text></g>"
    )


def heatmap(
    cells: Sequence[HeatCell], rows: Sequence[str], columns: Sequence[str], title: str, *, unit: str = "item"
) -> str:
    """Rates on a grid of ``rows`` x ``columns``, each cell coloured by its rate (white 0, red 1)
    and labelled with the rate, its n of samples and of ``unit`` (singular); its interval is in the cell's
    ``<title>`` (a tooltip). A (row, column) without a cell is left blank; a legend below."""
    found = {(c.row, c.column): c for c in cells}
    w, h = 74, 48
    left = 12 + round(6.2 * min(max((len(r) for r in rows), default=4), 28))
    top = 28
    width = max(left + w * len(columns) + 12, left + 16 * 10 + 330)  # the grid, or the legend and its words
    grid_bottom = top + h * len(rows)
    height = grid_bottom + 46
    body = []
    for j, name in enumerate(columns):
        x = left + w * j + w / 2
        body.append(f"<text x='{x:.1f}' y='{top - 8}' text-anchor='middle' {FONT}>{escape(_clip(name, 12))}</text>")
    for i, name in enumerate(rows):
        y = top + h * i
        body.append(
            f"<text x='{left - 8}' y='{y + h / 2 + 4:.1f}' text-anchor='end' {FONT}>{escape(_clip(name, 28))}</text>"
        )
        for j, column in enumerate(columns):
            cell = found.get((name, column))
            if cell is not None:
                body.append(_heat_cell(cell, left + w * j, y, w, h, unit))
    steps = 10
    for k in range(steps):
        x = left + k * 16
        body.append(
            f"<rect x='{x}' y='{grid_bottom + 12}' width='16' height='10' fill='{heat_colour((k + 0.5) / steps)}' "
            "stroke='#ccc' stroke-width='0.5'/>"
        )
    for v in (0.0, 0.5, 1.0):
        x = left + v * 16 * steps
        body.append(f"<text x='{x:.1f}' y='{grid_bottom + 35}' text-anchor='middle' {SMALL_FONT}>{v:.1f}</text>")
    body.append(
        f"<text x='{left + 16 * steps + 10}' y='{grid_bottom + 21}' {SMALL_FONT}>rate (grey: nothing scored; "
        "hover a cell for its interval)</text>"
    )
    return _frame(width, height, "".join(body), title)
