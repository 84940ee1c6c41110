"""``tailgate shadow report`` rendered: terminal (rich), Markdown and a self-contained HTML page.

Model outputs and request texts are hostile data: neutralised first (:func:`fmt.safe`), then
plain rich ``Text`` (never markup), HTML-escaped, or Markdown-cell-escaped.
"""

from __future__ import annotations

from html import escape

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tailgate.analysis import (
    AgreementDifference,
    CandidateReport,
    LatencyChange,
    LevelChange,
    PairedDelta,
    ShadowReport,
)
from tailgate.report import _format as fmt
from tailgate.report._html import CSS, _table
from tailgate.text import neutralize

__all__ = ["render_shadow", "shadow_html", "shadow_markdown"]


def _rows(c: CandidateReport) -> list[tuple[str, str, str, str, str]]:
    """(measure, primary, candidate, delta [CI], p) for every paired measure."""
    rows = []
    for name, m in (
        ("error rate", c.error_rate),
        ("refusal rate", c.refusal_rate),
        ("JSON validity (JSON asked)", c.json_validity),
    ):
        if isinstance(m, LevelChange):
            rows.append(
                (
                    name,
                    fmt.number(m.base_value),
                    fmt.number(m.cand_value),
                    fmt.estimate(m.delta, 3, "+"),
                    fmt.p_value(m.p_value),
                )
            )
    if isinstance(c.length_chars, PairedDelta):
        d = c.length_chars
        rows.append(
            ("answer length (chars), mean delta", "", "", fmt.estimate(d.estimate, 1, "+"), fmt.p_value(d.p_value))
        )
    for group, changes in (("latency", c.latency), ("TTFT", c.ttft)):
        for q, ch in changes.items():
            rows.append(_latency_row(f"{group} {q} (ms)", ch))
    return rows


def _latency_row(name: str, ch: LatencyChange) -> tuple[str, str, str, str, str]:
    delta = fmt.estimate(ch.delta, 1, "+", why=True) if ch.delta.low is not None else f"{ch.delta.value:+.1f} (no CI)"
    return (name, f"{ch.base:.1f}", f"{ch.cand:.1f}", delta, fmt.p_value(ch.p_value))


def _agreement_line(d: AgreementDifference) -> str:
    noise = fmt.estimate(d.noise) if d.noise is not None else "missing"
    diff = fmt.estimate(d.difference, 3, "+", why=True) if d.difference is not None else "n/a (no noise floor)"
    return (
        f"{d.measure}: candidate vs primary {fmt.estimate(d.candidate)} (n={d.n_items}); primary vs noise "
        f"{noise} (n={d.n_noise_items}); difference {diff}, p = {fmt.p_value(d.p_value)}"
    )


def _table_of(title: str, *columns: str) -> Table:
    t = Table(title=Text(title, style="italic"), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for i, name in enumerate(columns):
        t.add_column(name, justify="right" if i else "left", overflow="fold")
    return t


def _candidate(c: CandidateReport) -> list[RenderableType]:
    style = "bold red" if c.verdict == "differs" else "bold yellow" if "missing" in c.verdict else "bold green"
    parts: list[RenderableType] = [
        Text.assemble((f"{c.label} ({c.run_id}): ", "bold"), (c.verdict, style), f"  (alpha {c.alpha:g})"),
        Text("  " + _agreement_line(c.agreement)),
        Text("  " + _agreement_line(c.exact_match)),
    ]
    if c.naive_diff_share is not None:
        parts.append(Text(f"  a naive output diff flags {fmt.percent(c.naive_diff_share, 1)} of items"))
    table = _table_of("paired deltas (candidate - primary)", "measure", "primary", "candidate", "delta [95% CI]", "p")
    for row in _rows(c):
        table.add_row(*(Text(x) for x in row))
    parts.append(table)
    if c.slices:
        st = _table_of("agreement difference per slice (BY-adjusted)", "slice", "items", "noise", "difference", "p adj")
        for s in c.slices[:15]:
            d = s.agreement
            diff = fmt.estimate(d.difference, 3, "+", why=True) if d.difference is not None else "n/a"
            st.add_row(*(Text(x) for x in (f"{s.attribute}={s.value}", str(d.n_items), str(d.n_noise_items), diff,
                                           fmt.p_value(s.p_adjusted) + (" *" if s.differs else ""))))  # fmt: skip
        parts.append(st)
    floor = f"noise floor {c.noise_floor:.3f}" if c.noise_floor is not None else "no noise floor"
    it = _table_of(
        f"most dissimilar items ({c.n_beyond_noise} beyond noise; {floor})", "agreement", "primary", "candidate"
    )
    for item in c.differing_items[:5]:
        mark = " *" if item.beyond_noise else ""
        it.add_row(
            Text(f"{item.agreement:.3f}{mark}"), Text(item.primary_output[:160]), Text(item.candidate_output[:160])
        )
    parts.append(it)
    parts.extend(Text(f"  warning: {w}", style="yellow") for w in c.warnings)
    return parts


def render_shadow(report: ShadowReport) -> Group:
    """The shadow report for the terminal (every text neutralised and shown as plain text)."""
    r = fmt.safe(report)
    noise = f"{r.n_noise_items} with a noise re-sample" if r.noise_run else "no noise run"
    parts: list[RenderableType] = [
        Text(f"shadow session {r.session}: {r.n_items} mirrored requests, {noise}", style="bold")
    ]
    for c in r.candidates:
        parts.extend(_candidate(c))
    return Group(*parts)


def _md(text: str) -> str:
    return escape(" ".join(neutralize(str(text)).split())).replace("|", "\\|")


def shadow_markdown(report: ShadowReport) -> str:
    """The shadow report as Markdown (a PR comment): verdicts, agreement and paired deltas."""
    r = report
    lines = [f"### tailgate shadow report: {_md(r.session)}", "", f"{r.n_items} mirrored requests, "
             f"{r.n_noise_items} with a noise re-sample.", ""]  # fmt: skip
    for c in r.candidates:
        lines += [
            f"**{_md(c.label)}: {_md(c.verdict)}** (alpha {c.alpha:g})",
            "",
            f"- {_md(_agreement_line(c.agreement))}",
            f"- {_md(_agreement_line(c.exact_match))}",
            "",
            "| measure | primary | candidate | delta [95% CI] | p |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += ["| " + " | ".join(_md(x) for x in row) + " |" for row in _rows(c)]
        lines += [f"- warning: {_md(w)}" for w in c.warnings]
        lines.append("")
    return "\n".join(lines)


def _html_candidate(c: CandidateReport) -> str:
    parts = [
        f"<h2>{escape(c.label)} <span class='note'>({escape(c.run_id)})</span>: {escape(c.verdict)}</h2>",
        f"<p>{escape(_agreement_line(c.agreement))}</p><p class='note'>{escape(_agreement_line(c.exact_match))}</p>",
    ]
    if c.naive_diff_share is not None:
        parts.append(
            f"<p class='note'>a naive output diff flags {escape(fmt.percent(c.naive_diff_share, 1))} of items</p>"
        )
    parts.append(_table(["measure", "primary", "candidate", "delta [95% CI]", "p"],
                        [[escape(x) for x in row] for row in _rows(c)], numeric={1, 2, 3, 4}))  # fmt: skip
    if c.slices:
        rows = []
        for s in c.slices:
            d = s.agreement
            diff = fmt.html_estimate(d.difference, 3, "+") if d.difference is not None else "n/a"
            rows.append([escape(f"{s.attribute}={s.value}"), str(d.n_items), str(d.n_noise_items), diff,
                         escape(fmt.p_value(s.p_adjusted)) + (" *" if s.differs else "")])  # fmt: skip
        parts.append("<h3>per slice</h3>" + _table(["slice", "items", "noise items", "difference", "p (BY)"], rows))
    rows = [
        [f"{i.agreement:.3f}" + (" *" if i.beyond_noise else ""), f"<pre>{escape(i.input)}</pre>",
         f"<pre>{escape(i.primary_output)}</pre>", f"<pre>{escape(i.candidate_output)}</pre>"]
        for i in c.differing_items
    ]  # fmt: skip
    parts.append(f"<h3>most dissimilar items ({c.n_beyond_noise} beyond noise)</h3>")
    parts.append(_table(["chrF", "request", "primary", "candidate"], rows))
    parts.extend(f"<p class='note'>warning: {escape(w)}</p>" for w in c.warnings)
    return "".join(parts)


def shadow_html(report: ShadowReport) -> str:
    """The shadow report as one self-contained HTML page (every text escaped)."""
    r = fmt.safe(report)
    head = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>tailgate shadow report</title>"
        f"<style>{CSS}</style></head><body><h1>tailgate shadow report: {escape(r.session)}</h1>"
        f"<p>{r.n_items} mirrored requests, {r.n_noise_items} with a noise re-sample.</p>"
    )
    return head + "".join(_html_candidate(c) for c in r.candidates) + "</body></html>"
