"""``tailgate drift`` in the terminal: windows, tests, monitor, explanation. Request texts and
attribute values are data: neutralised (:func:`fmt.safe`) and never read as markup."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tailgate.analysis import DriftComparison, DriftExplanation, DriftReport
from tailgate.report import _format as fmt

__all__ = ["render_drift"]


def _row(table: Table, *cells: str | Text) -> None:
    """A row whose every cell is plain text (an interval "[0.1, 0.2]" is not markup)."""
    table.add_row(*(c if isinstance(c, Text) else Text(c) for c in cells))


def _table(title: str, *columns: str, right: tuple[int, ...] = (), wrap: tuple[int, ...] = (0,)) -> Table:
    t = Table(
        title=Text(title, style="italic"), title_justify="left", pad_edge=False, box=box.SIMPLE_HEAD,
        collapse_padding=True,
    )  # fmt: skip
    for i, name in enumerate(columns):
        t.add_column(name, justify="right" if i in right else "left", no_wrap=i not in wrap, overflow="fold")
    return t


def _windows(r: DriftReport) -> RenderableType:
    lines = [Text(f"  {w.index}  {_window_line(w.name, w.spec, w.n, w.first, w.last)}") for w in r.windows[:12]]
    if len(r.windows) > 12:
        lines.append(Text(f"  ... and {len(r.windows) - 12} more windows (see --json / --html)"))
    return Group(Text("windows", style="bold"), *lines)


def _window_line(name: str, spec: str, n: int, first: str | None, last: str | None) -> str:
    span = f", {first[:19].replace('T', ' ')} to {last[:19].replace('T', ' ')} UTC" if first and last else ""
    return f"{name} ({spec}): {n:,} requests{span}"


_SHORT = (
    ("chi-square", "chi²"), ("exact", "exact"), ("Anderson", "AD"), ("G-test", "G"), ("Kolmogorov", "KS"),
    ("held-out AUC", "AUC"), ("cross-fitted", "AUC"), ("MMD", "MMD"),
)  # fmt: skip


def _short(method: str) -> str:
    return next((short for prefix, short in _SHORT if method.startswith(prefix)), method.split(",", maxsplit=1)[0])


def _comparison(c: DriftComparison, title: str) -> Group:
    t = _table(title, "attribute", "test", "p", "p adj", "PSI [95%]", "JS [95%]", right=(2, 3))
    for a in c.attributes.attributes:
        mark = " !" if a.name in c.drifted else "  "
        _row(t,
            Text(a.name), Text(_short(a.test.method)), fmt.p_value(a.test.p_value), fmt.p_value(a.p_adjusted) + mark,
            fmt.estimate(a.psi, 2), fmt.estimate(a.js, 2),
        )  # fmt: skip
    lines: list[RenderableType] = [t]
    for x in c.text:
        flag = Text(" !", style="bold red") if x.name in c.drifted else Text("")
        magnitude = f"AUC {fmt.estimate(x.auc)}" if x.auc is not None else f"MMD² {x.test.statistic:.3g}"
        lines.append(Text.assemble(
            (x.name, "bold"), f": {magnitude}, p={fmt.p_value(x.test.p_value)}, p adj={fmt.p_value(x.p_adjusted)}",
            flag, f" ({x.test.method}; n={x.test.n_ref:,} / {x.test.n_cur:,})",
        ))  # fmt: skip
    return Group(*lines)


def _monitor(r: DriftReport) -> RenderableType:
    m = r.monitor
    if m is None:
        return Text("")
    t = _table(
        f"monitor: each window against all earlier ones, alarm when the statistic reaches 1/alpha = {1 / m.alpha:g}",
        "window", "n", "p", "e", "statistic", "", "most moved", "drifted (BH, vs 0)", right=(0, 1, 2, 3, 4),
        wrap=(7,),
    )  # fmt: skip
    drifted = {c.window: c.drifted for c in r.comparisons}
    for s in m.steps:
        mark = (
            Text("ALARM", style="bold red") if s.alarm and s.window == m.alarm_at else Text("alarm" if s.alarm else "")
        )
        _row(t,
            str(s.window), f"{s.n:,}", fmt.p_value(s.p_value), f"{s.e_value:.3g}", f"{s.statistic:.3g}", mark,
            Text(s.most_moved or ""), Text(", ".join(drifted.get(s.window, ()))),
        )  # fmt: skip
    return t


def _explanation(e: DriftExplanation, r: DriftReport) -> list[RenderableType]:
    ref, cur = r.windows[e.ref], r.windows[e.cur]
    out: list[RenderableType] = []
    t = _table(
        f"explained: the slices whose share moved most, {ref.name} -> {cur.name} (95% intervals, not adjusted)",
        "slice", ref.name, cur.name, "change [Newcombe]", "", right=(1, 2, 3),
    )  # fmt: skip
    for s in e.slices:
        mark = Text("*", style="bold") if s.significant else Text("")
        _row(t,
            Text(s.label), f"{fmt.percent(s.ref_share.value, 1)} ({s.ref_count:,})",
            f"{fmt.percent(s.cur_share.value, 1)} ({s.cur_count:,})", fmt.estimate(s.difference, 2, "+"), mark,
        )  # fmt: skip
    out.append(t)
    if e.cur_ngrams or e.ref_ngrams:
        out.append(Text.assemble(("n-grams more frequent in " + cur.name + ": ", "bold"), _ngrams(e.cur_ngrams)))
        out.append(Text.assemble(("n-grams more frequent in " + ref.name + ": ", "bold"), _ngrams(e.ref_ngrams)))
    if e.typical:
        out.append(Text("typical requests (most like their window, by the classifier)", style="bold"))
        for t_req in e.typical:
            name = cur.name if t_req.window == "cur" else ref.name
            out.append(Text(f"  [{name}] {t_req.text}"))
    if e.texts:
        out.append(Text(f"texts: {e.texts}", style="dim"))
    return out


def _ngrams(shifts: tuple[object, ...]) -> str:
    return ", ".join(f"{s.ngram} (z={s.z:.1f})" for s in shifts) or "none"  # type: ignore[attr-defined]


def _quality(r: DriftReport) -> RenderableType:
    rows = [(w, w.quality) for w in r.windows if w.quality is not None]
    if not rows:
        return Text("")
    t = _table(f"quality of run {r.run_id} re-weighted to each window's mix of {', '.join(r.by)}",
               "window", "suite", "re-weighted", "covered", right=(1, 2, 3))  # fmt: skip
    for w, q in rows:
        _row(t, Text(w.name), fmt.estimate(q.suite), fmt.estimate(q.reweighted), fmt.percent(q.covered_share.value))
    last = rows[-1][1]
    return Group(t, Text(last.explanation))


def render_drift(report: DriftReport) -> Group:
    """The report for a terminal (warnings are the command's to print, on stderr)."""
    r = fmt.safe(report)
    style = "bold red" if r.drift_detected else "bold green"
    parts: list[RenderableType] = [Text(r.verdict, style=style), _windows(r)]
    if r.monitor is not None:
        parts.append(_monitor(r))
        parts.append(Text(f"monitored: {', '.join(r.monitored)}", style="dim"))
    if r.explanation is not None:
        c = r.comparison()
        cur = r.windows[c.window]
        parts.append(_comparison(c, f"{cur.name} against {r.windows[0].name}: tests (! = BH-adjusted p <= alpha)"))
        parts.extend(_explanation(r.explanation, r))
    parts.append(_quality(r))
    return Group(*parts)
