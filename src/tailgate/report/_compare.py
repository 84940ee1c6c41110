"""Rendering comparisons and gate decisions: terminal, Markdown (CI summaries, PR comments),
JUnit XML and HTML. Model outputs are escaped in every format."""

from __future__ import annotations

import dataclasses
from html import escape
from typing import Any, TypeVar
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from rich.console import Group
from rich.table import Table
from rich.text import Text

from tailgate.analysis import Comparison, Estimate, OverallChange, format_p
from tailgate.gate import Decision
from tailgate.report import _format as fmt
from tailgate.report import _svg
from tailgate.report._html import CSS, _table
from tailgate.report._report_terminal import _short
from tailgate.text import neutralize

__all__ = ["compare_html", "compare_markdown", "gate_junit", "gate_markdown", "render_compare", "render_gate"]

T = TypeVar("T")


def _d(e: Estimate, digits: int = 3) -> str:
    """A difference: "+0.021 [+0.011, +0.031]"."""
    return fmt.estimate(e, digits, "+")


def _l(e: Estimate) -> str:
    """A level: "0.421 [0.412, 0.430]"."""
    return fmt.estimate(e)


_p = format_p


def _safe(value: T) -> T:
    """A copy of a result with every string in it passed through :func:`neutralize`: what the
    renderers lay out, so widths are measured on the text that is shown."""
    out: Any = value
    if isinstance(value, str):
        out = neutralize(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
        out = dataclasses.replace(value, **changes)
    elif isinstance(value, tuple):
        out = tuple(_safe(v) for v in value)
    elif isinstance(value, dict):
        out = {_safe(k): _safe(v) for k, v in value.items()}
    return out  # type: ignore[no-any-return]


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell (and as HTML, which Markdown renderers allow)."""
    return escape(" ".join(neutralize(str(text)).split())).replace("|", "\\|")


def _correlation(o: OverallChange) -> str:
    r, ci = o.paired.correlation, o.paired.correlation_ci
    if r is None:
        return "n/a"
    return f"{r:.2f}" + ("" if ci is None else f" [{ci[0]:.2f}, {ci[1]:.2f}]") + f" (n={o.paired.n_items} items)"


def _beyond_rows(c: Comparison) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for name, block in c.beyond.measures():
        base, cand = block.base_value, block.cand_value
        fmt = ".0f" if name.startswith("latency") else ".3f"
        rows.append(
            (
                name,
                format(base, fmt) if base is not None else "n/a",
                format(cand, fmt) if cand is not None else "n/a",
                _d(block.delta, 0 if "latency" in name else 3),
                _p(block.p_value),
            )
        )
    return rows


_MARK = {"pass": "ok", "fail": "FAIL", "not_applicable": "n/a", "refused": "REFUSED"}
_ICON = {"pass": ":white_check_mark:", "fail": ":x:", "not_applicable": ":heavy_minus_sign:", "refused": ":no_entry:"}


def _verdict(decision: Decision) -> str:
    """PASS, FAIL or REFUSED (no rule failed, some were not decided: an untrusted judge), and how
    many rules did not apply (they are not evidence either way) or were refused."""
    skipped = sum(r.status == "not_applicable" for r in decision.results)
    refused = sum(r.status == "refused" for r in decision.results)
    head = "PASS" if decision.passed else "REFUSED" if decision.exit_code == 3 else "FAIL"
    notes = ([f"{refused} rule(s) refused: untrusted judge"] if refused else []) + (
        [f"{skipped} rule(s) not applicable"] if skipped else []
    )
    return head + (f" ({'; '.join(notes)})" if notes else "")


def _unavailable(c: Comparison) -> list[tuple[str, str]]:
    """Measures the comparison could not compute, with the reason."""
    return [(name, why.reason) for name, why in sorted(c.unavailable.items())]


def render_compare(comparison: Comparison, top: int = 8) -> Group:
    c = _safe(comparison)
    o, pairing = c.overall, c.pairing
    head = Table.grid(padding=(0, 1))
    head.add_column(style="bold")
    head.add_column(overflow="fold", min_width=max(len(c.base.run_id), len(c.cand.run_id)))
    head.add_row("base", Text(f"{c.base.run_id} ({c.base.model})"))
    head.add_row("candidate", Text(f"{c.cand.run_id} ({c.cand.model})"))
    head.add_row(
        "paired on",
        Text(
            f"{pairing.shared_items} items ({pairing.shared_units} item-variants); "
            f"only in base {pairing.only_in_base}, only in candidate {pairing.only_in_cand}"
        ),
    )
    head.add_row("score", Text(f"{_l(o.base)} -> {_l(o.cand)}"))
    head.add_row("delta", Text(f"{_d(o.estimate)}  p={_p(o.p_value)} ({o.test or ''})"))
    if o.paired.paired_se is not None and o.paired.unpaired_se is not None:
        head.add_row(
            "",
            Text(
                f"paired SE {o.paired.paired_se:.4f} vs unpaired {o.paired.unpaired_se:.4f}; item correlation "
                + _correlation(o),
                style="dim",
            ),
        )
    head.add_row("power", Text(c.power.statement))
    parts: list[Any] = [head, Text("")]
    for warning in c.warnings:
        parts += [Text(f"WARNING: {warning}", style="bold yellow"), Text("")]
    t = Table(pad_edge=False, show_edge=False)
    for name, justify in (("slice", "left"), ("items", "right"), ("delta [95% CI]", "right"), ("adj. p", "right")):
        t.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for s in c.slices[:top]:
        t.add_row(Text(s.slice[:40]), str(s.n_items), _d(s.delta), _p(s.p_by))
    parts += [Text("slices, largest drop first (BY-adjusted p)", style="bold"), t, Text("")]
    b = Table(pad_edge=False, show_edge=False)
    for name, justify in (
        ("measure", "left"),
        ("base", "right"),
        ("cand", "right"),
        ("delta", "right"),
        ("p", "right"),
    ):
        b.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in _beyond_rows(c):
        b.add_row(*row)
    parts += [Text("beyond accuracy (paired)", style="bold"), b]
    parts += [Text(f"not compared: {name} ({why})", style="dim") for name, why in _unavailable(c)] + [Text("")]
    if c.newly_failing:
        parts += _newly_failing_terminal(c)
    return Group(*parts)


def _newly_failing_terminal(c: Comparison) -> list[Any]:
    head = Text(
        f"{c.newly_failing_count} item(s) always right before, not now; worst: "
        + ", ".join((n.source_id or n.item_id) for n in c.newly_failing[:6]),
        style="red",
    )
    n = Table(pad_edge=False, show_edge=False)
    for name, justify in (("item", "left"), ("cand pass", "right"), ("input", "left"), ("reference", "left"),
                          ("candidate output", "left")):  # fmt: skip
        n.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for row in c.newly_failing[:6]:
        n.add_row(
            Text(_short(row.source_id or row.item_id, 16)),
            f"{row.cand_pass_rate:.2f}",
            Text(_short(row.input, 22)),
            Text(_short(row.reference, 14)),
            Text(_short(row.cand_output, 22)),
        )
    return [head, n]


def compare_markdown(comparison: Comparison, top: int = 10) -> str:
    c = _safe(comparison)
    o = c.overall
    lines = [
        f"### tailgate compare: candidate `{_md(c.cand.model)}` vs base `{_md(c.base.model)}`",
        "",
    ]
    lines.append(
        f"**Score** {_l(o.base)} → {_l(o.cand)}; **delta {_d(o.estimate)}**, "
        f"p = {_p(o.p_value)} ({_md(o.test or '')}), {c.pairing.shared_items} paired items."
    )
    lines.append("")
    lines.append(f"_{_md(c.power.statement)}_")
    for warning in c.warnings:
        lines += ["", f"> :warning: **{_md(warning)}**"]
    lines += ["", "| slice | items | delta [95% CI] | adj. p (BY) |", "|---|---:|---:|---:|"]
    lines += [f"| {_md(s.slice)} | {s.n_items} | {_d(s.delta)} | {_p(s.p_by)} |" for s in c.slices[:top]]
    lines += ["", "| measure | base | candidate | delta | p |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {a} | {b} | {cc} | {d} | {p} |" for a, b, cc, d, p in _beyond_rows(c)]
    lines += [f"| {_md(name)} | n/a | n/a | not compared: {_md(why)} | |" for name, why in _unavailable(c)]
    if c.newly_failing:
        lines += [
            "",
            f"**Newly failing** (always right before, not now): {c.newly_failing_count} item(s)"
            + (f", the worst {min(len(c.newly_failing), 10)} below" if c.newly_failing_count > 10 else ""),
            "",
            "| item | candidate pass rate | input | reference | candidate output |",
            "|---|---:|---|---|---|",
        ]
        lines += [
            f"| {_md(n.source_id or n.item_id)} | {n.cand_pass_rate:.2f} | {_md(n.input[:80])} | "
            f"{_md((n.reference or '')[:40])} | {_md((n.cand_output or '')[:80])} |"
            for n in c.newly_failing[:10]
        ]
    return "\n".join(lines) + "\n"


def render_gate(decision: Decision) -> Group:
    verdict = Text(
        f"gate '{neutralize(decision.policy)}': {_verdict(decision)}",
        style="bold green" if decision.passed else "bold red",
    )
    t = Table(pad_edge=False, show_edge=False)
    t.add_column("", width=7 if decision.refused else 4)
    t.add_column("rule", overflow="fold")
    t.add_column("evidence", overflow="fold")
    for r in decision.results:
        style = {"pass": "green", "fail": "red", "not_applicable": "dim", "refused": "bold yellow"}[r.status]
        t.add_row(Text(_MARK[r.status], style=style), Text(neutralize(r.rule)), Text(neutralize(r.message)))
    return Group(verdict, t)


def gate_markdown(decision: Decision) -> str:
    icon = ":white_check_mark:" if decision.passed else ":x:"
    lines = [
        f"## {icon} tailgate gate `{_md(decision.policy)}`: **{_verdict(decision)}**",
        "",
        "| | rule | evidence |",
        "|---|---|---|",
    ]
    lines += [f"| {_ICON[r.status]} | {_md(r.rule)} | {_md(r.message)} |" for r in decision.results]
    tail = "\n\n" + compare_markdown(decision.comparison) if decision.comparison is not None else "\n"
    if decision.drift is not None:
        tail += f"\n**drift**: {_md(decision.drift.verdict)}\n"
    return "\n".join(lines) + tail


def gate_junit(decision: Decision) -> str:
    # control characters are not allowed in XML 1.0, even escaped: neutralised, they are shown
    failures = sum(r.status == "fail" for r in decision.results)
    errors = sum(r.status == "refused" for r in decision.results)
    skipped = sum(r.status == "not_applicable" for r in decision.results)
    cases = []
    policy = neutralize(decision.policy)
    for r in decision.results:
        message = neutralize(r.message)
        body = {
            "pass": "",
            "fail": f"<failure message={quoteattr(message)}>{xml_escape(message)}</failure>",
            "not_applicable": f"<skipped message={quoteattr(message)}/>",
            "refused": f'<error type="refused" message={quoteattr(message)}>{xml_escape(message)}</error>',
        }[r.status]
        cases.append(
            f"  <testcase classname={quoteattr('tailgate.gate.' + policy)} name={quoteattr(neutralize(r.rule))}>"
            f"{body}</testcase>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name={quoteattr("tailgate gate " + policy)} '
        f'tests="{len(decision.results)}" failures="{failures}" errors="{errors}" skipped="{skipped}">\n'
        + "\n".join(cases)
        + "\n</testsuite>\n"
    )


def compare_html(comparison: Comparison, decision: Decision | None = None) -> str:
    c = _safe(comparison)
    o = c.overall
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>tailgate compare</title>"
        f"<style>{CSS}</style></head><body>"
    ]
    parts.append(f"<h1>{escape(c.cand.model)} vs {escape(c.base.model)}</h1>")
    if decision is not None:
        parts.append(f"<h2>Gate '{escape(neutralize(decision.policy))}': {escape(_verdict(decision))}</h2>")
        parts.append(
            _table(
                ["", "rule", "evidence"],
                [
                    [_MARK[r.status], escape(neutralize(r.rule)), escape(neutralize(r.message))]
                    for r in decision.results
                ],
            )
        )
    parts.append(
        f"<p>Score {_l(o.base)} → {_l(o.cand)}; <b>delta {_d(o.estimate)}</b>, p = {_p(o.p_value)}"
        f" ({escape(o.test or '')}) over {c.pairing.shared_items} paired items. "
        f"{escape(c.power.statement)}</p>"
    )
    for warning in c.warnings:
        parts.append(f"<p><b>Warning:</b> {escape(warning)}</p>")
    rows = [(s.slice, s.delta.value or 0.0, s.delta.low, s.delta.high) for s in c.slices[:25]]
    if rows:
        span = max(0.05, *(abs(v) for r in rows for v in r[1:] if v is not None))
        parts.append("<h2>Per-slice deltas</h2>")
        parts.append(_svg.forest(rows, "slice deltas with 95% CI", 0.0, lo=-span, hi=span))
    parts.append("<h2>Paired item scores</h2>")
    parts.append(_svg.scatter(c.plots.paired_scores, "item score: base (x) vs candidate (y)"))
    parts.append("<h2>Beyond accuracy</h2>")
    parts.append(_table(["measure", "base", "candidate", "delta [95% CI]", "p"], [list(r) for r in _beyond_rows(c)]))
    parts += [f"<p>Not compared: {escape(name)} ({escape(why)})</p>" for name, why in _unavailable(c)]
    if c.newly_failing:
        parts += _newly_failing_html(c)
    parts.append("</body></html>")
    return "".join(parts)


def _newly_failing_html(c: Comparison) -> list[str]:
    head = (
        f"<h2>Newly failing items</h2><p>{c.newly_failing_count} item(s) always passed in the base and "
        f"not in the candidate; the worst {len(c.newly_failing)} with both outputs:</p>"
    )
    table = _table(
        ["item", "candidate pass rate", "input", "reference", "base output", "candidate output"],
        [
            [
                escape(n.source_id or n.item_id),
                f"{n.cand_pass_rate:.2f}",
                f"<pre>{escape(n.input)}</pre>",
                f"<pre>{escape(n.reference or '')}</pre>",
                f"<pre>{escape(n.base_output or '')}</pre>",
                f"<pre>{escape(n.cand_output or '')}</pre>",
            ]
            for n in c.newly_failing
        ],
    )
    return [head, table]
