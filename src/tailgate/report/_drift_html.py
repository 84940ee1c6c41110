"""``tailgate drift --html``: one self-contained page (inline CSS and SVG, no script).

Request texts, attribute values and n-grams come from production traffic: hostile text. Every
interpolated string is neutralised (:func:`fmt.safe`) and escaped; the page runs no script.
"""

from __future__ import annotations

from html import escape

from tailgate.analysis import AttributeDrift, DriftComparison, DriftExplanation, DriftReport, wilson_interval
from tailgate.report import _format as fmt
from tailgate.report import _svg
from tailgate.report._html import CSS, _table

__all__ = ["drift_html"]

MAX_LEVELS = 5  # values of an attribute plotted (the largest shares); the others are in the tables


def _shares(r: DriftReport, name: str) -> list[tuple[str, list[tuple[float | None, float | None, float | None]]]]:
    """Each of the attribute's largest values: its share in every window with a Wilson interval
    (window 0's from any comparison's reference side, the others' from their comparison)."""
    found = [(c, a) for c in r.comparisons for a in c.attributes.attributes if a.name == name]
    if not found:
        return []
    first: AttributeDrift = found[0][1]
    columns: list[tuple[tuple[tuple[str, float], ...], int]] = [(first.ref_share, first.test.n_ref)]
    columns += [(a.cur_share, a.test.n_cur) for _, a in found]
    peak: dict[str, float] = {}
    for shares, _ in columns:
        for label, share in shares:
            peak[label] = max(peak.get(label, 0.0), share)
    levels = sorted(peak, key=lambda v: -peak[v])[:MAX_LEVELS]
    if len(peak) == 2:
        levels = levels[1:]  # a binary attribute: one line says it all
    lines = []
    for level in levels:
        points: list[tuple[float | None, float | None, float | None]] = []
        for shares, n in columns:
            share = dict(shares).get(level, 0.0)
            low, high = wilson_interval(round(share * n), n) if n else (None, None)
            points.append((share, low, high))
        lines.append((level, points))
    return lines


def _share_plots(r: DriftReport) -> str:
    labels = [str(w.index) for w in r.windows]
    plots = []
    for name in r.attributes:
        lines = _shares(r, name)
        if not lines:
            continue
        top = max((h or v or 0.0) for _, pts in lines for v, _, h in pts)
        hi = min(1.0, max(0.05, top * 1.15))
        plots.append(_svg.series(lines, f"share of requests by {name}", labels, hi=hi, width=470, height=190))
    if not plots:
        return ""
    return (
        "<h2>Attribute shares over the windows</h2><p class='note'>one plot per attribute, its largest values; "
        "x: window (0 = reference); bars: 95% Wilson intervals of each share</p>"
        + "".join(f"<div style='display:inline-block'>{p}</div>" for p in plots)
    )


def _monitor_plot(r: DriftReport) -> str:
    m = r.monitor
    if m is None:
        return ""
    values = [max(s.statistic, 1e-3) for s in m.steps]
    threshold = 1 / m.alpha
    hi = max([*values, threshold]) * 3
    lo = min([*values, 0.1]) / 3
    line = [("statistic", [(v, None, None) for v in values])]
    svg = _svg.series(
        line, "monitor statistic against its boundary 1/alpha (log scale)", [str(s.window) for s in m.steps],
        lo=lo, hi=hi, log=True, threshold=(threshold, f"1/alpha = {threshold:g}"),
    )  # fmt: skip
    alarm = f"alarm at window {m.alarm_at}" if m.alarm_at is not None else "no alarm"
    rows = [
        [str(s.window), str(s.n), fmt.p_value(s.p_value), f"{s.e_value:.3g}", f"{s.statistic:.3g}",
         "alarm" if s.alarm else "", escape(s.most_moved or "")]
        for s in m.steps
    ]  # fmt: skip
    table = _table(["window", "n", "p", "e", "statistic", "", "most moved"], rows, numeric={0, 1, 2, 3, 4})
    return (
        f"<h2>Monitor: {escape(alarm)}</h2><p class='note'>{escape(m.method)}; watched: "
        f"{escape(', '.join(r.monitored))}. P(any false alarm over the whole sequence) &lt;= {m.alpha:g}.</p>"
        + svg
        + table
    )


def _quality_plot(r: DriftReport) -> str:
    rows = [w for w in r.windows if w.quality is not None]
    if not rows:
        return ""
    points = [(q.reweighted.value, q.reweighted.low, q.reweighted.high) for w in rows if (q := w.quality)]
    suite = rows[0].quality.suite.value if rows[0].quality else None
    values = [v for p in points for v in p if v is not None]
    lo, hi = max(0.0, min(values, default=0.0) - 0.05), min(1.0, max(values, default=1.0) + 0.05)
    line = (suite, f"suite {suite:.3f}") if suite is not None else None
    svg = _svg.series(
        [("re-weighted", points)], "the run's score re-weighted to each window (95% intervals)",
        [str(w.index) for w in rows], lo=lo, hi=hi, threshold=line,
    )  # fmt: skip
    table = _table(
        ["window", "suite", "re-weighted", "covered share", "explanation"],
        [[str(w.index), fmt.html_estimate(q.suite), fmt.html_estimate(q.reweighted),
          fmt.percent(q.covered_share.value), escape(q.explanation)] for w in rows if (q := w.quality)],
    )  # fmt: skip
    return f"<h2>Quality of run {escape(r.run_id)} on each window's mix of {escape(', '.join(r.by))}</h2>" + svg + table


def _tests(c: DriftComparison, r: DriftReport) -> str:
    rows = []
    for a in c.attributes.attributes:
        rows.append([
            escape(a.name), escape(a.test.method), f"{a.test.n_ref:,} / {a.test.n_cur:,}", fmt.p_value(a.test.p_value),
            fmt.p_value(a.p_adjusted), fmt.html_estimate(a.psi), fmt.html_estimate(a.js),
            "<b>drift</b>" if a.name in c.drifted else "", escape(a.test.note or ""),
        ])  # fmt: skip
    for x in c.text:
        magnitude = f"AUC {fmt.html_estimate(x.auc)}" if x.auc is not None else f"MMD² {x.test.statistic:.3g}"
        rows.append([
            escape(x.name), escape(x.test.method), f"{x.test.n_ref:,} / {x.test.n_cur:,}", fmt.p_value(x.test.p_value),
            fmt.p_value(x.p_adjusted), magnitude, "", "<b>drift</b>" if x.name in c.drifted else "",
            escape(x.test.note or ""),
        ])  # fmt: skip
    cur = r.windows[c.window]
    header = ["attribute", "test", "n ref / cur", "p", "p adj (BH)", "PSI", "JS distance", "", "note"]
    return f"<h2>Tests: {escape(cur.name)} against {escape(r.windows[0].name)}</h2>" + _table(
        header, rows, numeric={2, 3, 4}
    )


def _explanation(e: DriftExplanation, r: DriftReport) -> str:
    ref, cur = r.windows[e.ref], r.windows[e.cur]
    rows = [
        [escape(s.label), f"{fmt.html_estimate(s.ref_share)} ({s.ref_count:,}/{s.ref_n:,})",
         f"{fmt.html_estimate(s.cur_share)} ({s.cur_count:,}/{s.cur_n:,})", fmt.html_estimate(s.difference, 3, "+"),
         "yes" if s.significant else ""]
        for s in e.slices
    ]  # fmt: skip
    parts = [
        f"<h2>Explained: {escape(ref.name)} → {escape(cur.name)}</h2>",
        "<p class='note'>the slices whose share moved most; shares with Wilson intervals, the change with "
        "Newcombe's hybrid score interval (95%, per slice, not adjusted)</p>",
        _table(["slice", f"share in {ref.name}", f"share in {cur.name}", "change", "interval excludes 0"], rows),
    ]
    for title, shifts in ((f"n-grams more frequent in {cur.name}", e.cur_ngrams), (f"in {ref.name}", e.ref_ngrams)):
        if shifts:
            ngram_rows = [[escape(s.ngram), str(s.ref_count), str(s.cur_count), f"{s.log_odds:+.3f}", f"{s.z:+.2f}"]
                          for s in shifts]  # fmt: skip
            parts.append(f"<h3>{escape(title)}</h3>")
            parts.append(_table(["n-gram", f"requests in {ref.name}", f"in {cur.name}", "log-odds", "z"], ngram_rows))
    if e.typical:
        parts.append("<h3>Typical requests (most like their own window, by the classifier)</h3>")
        typical_rows = [[escape(cur.name if t.window == "cur" else ref.name), f"<pre>{escape(t.text)}</pre>"]
                        for t in e.typical]  # fmt: skip
        parts.append(_table(["window", "request"], typical_rows))
    if e.texts:
        parts.append(f"<p class='note'>texts: {escape(e.texts)}</p>")
    return "".join(parts)


def drift_html(report: DriftReport) -> str:
    """The drift report as one self-contained HTML page."""
    r = fmt.safe(report)
    window_rows = [
        [str(w.index), escape(w.name), escape(w.spec), f"{w.n:,}", escape(w.first or ""), escape(w.last or "")]
        for w in r.windows
    ]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>tailgate drift</title>"
        f"<style>{CSS}</style></head><body><h1>tailgate drift</h1>",
        f"<p><b>{escape(r.verdict)}</b></p>",
        _table(["#", "window", "spec", "requests", "first", "last"], window_rows, numeric={0, 3}),
    ]
    if r.warnings:
        parts.append("<ul>" + "".join(f"<li class='note'>{escape(w)}</li>" for w in r.warnings) + "</ul>")
    parts.append(_monitor_plot(r))
    parts.append(_share_plots(r))
    parts.append(_quality_plot(r))
    if r.explanation is not None:
        parts.append(_tests(r.comparison(), r))
        parts.append(_explanation(r.explanation, r))
    parts.append(
        f"<p class='note'>alpha {r.alpha:g}, seed {r.seed}, schema version {r.schema_version}</p></body></html>"
    )
    return "".join(parts)
