"""The red-team report in every format (``tailgate redteam``, ``tailgate report`` of a red-team run):
the terminal, HTML (with a heat map of category x mutator) and Markdown, from one set of plain
rows so that the three say the same thing: attack success per slice with n and intervals,
resists-k, over-refusal and the paired change against a baseline.

Model specs, run ids and category or mutator names are user text: neutralised first, then escaped
for the format (rich ``Text`` is never markup; HTML through ``html.escape``; Markdown escaped and
its pipes quoted).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from tailgate.report import _format as fmt
from tailgate.report import _svg
from tailgate.text import neutralize

if TYPE_CHECKING:
    from tailgate.analysis import AttackRate, Estimate, RedTeamReport

__all__ = ["RedTeamTable", "redteam_html", "redteam_markdown", "redteam_tables", "render_redteam"]


@dataclass(frozen=True)
class RedTeamTable:
    """One table of the report as plain text: every renderer draws these."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int] = frozenset()
    """Columns of numbers (right-aligned in HTML)."""


CELLS_TITLE = "attack success per category and mutator"
RATES_TITLE = "attack success and resists-k per slice"
"""The first table's title in HTML and Markdown (the terminal's title line says it)."""


def _n(e: Estimate) -> str:
    return f"{e.n_samples} ({e.n_items} items)"


def _title(report: RedTeamReport) -> str:
    return (
        f"red team: {neutralize(report.model)}, {report.n_attacks} attacks and {report.n_twins} benign twins, "
        f"{report.repeats} sample{'s' if report.repeats != 1 else ''} each (run {neutralize(report.run_id)})"
    )


def _rate_row(a: AttackRate) -> tuple[str, ...]:
    return (neutralize(a.slice), fmt.estimate(a.success, why=True), _n(a.success),
            fmt.estimate(a.resists_k, why=True), str(a.n_unscored))  # fmt: skip


def _cell_names(slice_: str) -> tuple[str, str]:
    """(category, mutator) of a cell's slice ``category=C,mutator=M``."""
    category, mutator = slice_.split(",mutator=", 1)
    return category.removeprefix("category="), mutator


def redteam_tables(report: RedTeamReport, *, cells: bool = False) -> list[RedTeamTable]:
    """The report's tables as plain (neutralised, not escaped) text: attack success per slice,
    over-refusal of the twins, the paired change (with a baseline), and with ``cells`` attack
    success per category x mutator."""
    k = report.overall.k
    rate_header = ("slice", "attack success", "n samples", f"resists {k}x in a row", "unscored")
    rates = [_rate_row(a) for a in (report.overall, *report.categories, *report.mutators)]
    tables = [RedTeamTable("", rate_header, tuple(rates), frozenset({1, 2, 3, 4}))]
    refused = tuple((neutralize(r.slice), fmt.estimate(r.refused, why=True), _n(r.refused), str(r.n_unscored))
                    for r in report.over_refusal)  # fmt: skip
    tables.append(RedTeamTable("over-refusal of the benign twins", ("slice", "refused", "n samples", "unscored"),
                               refused, frozenset({1, 2, 3})))  # fmt: skip
    if report.delta:
        base = neutralize(report.baseline_run or "")
        deltas = tuple((neutralize(d.slice), fmt.estimate(d.delta.estimate, sign="+", why=True),
                        fmt.estimate(d.baseline), fmt.estimate(d.candidate), str(d.delta.n_items),
                        fmt.p_value(d.delta.p_value)) for d in report.delta)  # fmt: skip
        tables.append(RedTeamTable(f"attack success, candidate - baseline ({base}), paired",
                                   ("slice", "change", "baseline", "candidate", "attacks", "p"), deltas,
                                   frozenset({1, 2, 3, 4, 5})))  # fmt: skip
    if cells and report.cells:
        rows = tuple((*map(neutralize, _cell_names(c.slice)), *_rate_row(c)[1:]) for c in report.cells)
        header = ("category", "mutator", *rate_header[1:])
        tables.append(RedTeamTable(CELLS_TITLE, header, rows, frozenset({2, 3, 4, 5})))
    return tables


def render_redteam(report: RedTeamReport) -> Any:
    """The report as rich tables (plain ``Text``: never markup)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = [Text(_title(report), style="bold")]
    for t in redteam_tables(report):
        table = Table(pad_edge=False, show_edge=False, title=t.title or None)
        for name in t.header:
            table.add_column(name)
        for row in t.rows:
            table.add_row(*(Text(c) for c in row))
        parts.append(table)
    parts += [Text(f"warning: {neutralize(w)}", style="yellow") for w in report.warnings]
    return Group(*parts)


def _heatmap(report: RedTeamReport) -> str:
    cells = []
    for c in report.cells:
        category, mutator = _cell_names(c.slice)
        e = c.success
        cells.append(_svg.HeatCell(category, mutator, e.value, e.low, e.high, e.n_samples, e.n_items, e.method))
    rows = list(dict.fromkeys(x.row for x in cells))
    columns = [m.slice.removeprefix("mutator=") for m in report.mutators]
    columns += sorted({x.column for x in cells} - set(columns))
    title = "attack success by category (rows) and mutator (columns)"
    return _svg.heatmap(cells, rows, columns, title, unit="attack")


def redteam_html(report: RedTeamReport) -> str:
    """The red-team section of the HTML report: a heat map of attack success by category x
    mutator (inline SVG; each cell's interval in its tooltip) and the tables, every number with
    its n and its interval."""
    from tailgate.report._html import _table  # here, not at the top: _html imports this module

    r = fmt.safe(report)
    confidence = f"{r.overall.success.confidence:.0%}"
    out = [
        "<h2 id='redteam'>Red team</h2>",
        f"<p>{escape(_title(r))}. Attack success overall: <b>{fmt.html_estimate(r.overall.success)}</b>, "
        f"n={r.overall.success.n_samples} samples of {r.overall.n_attacks} attacks "
        f"({escape(r.overall.success.method)}).</p>",
        f"<p class='note'>Intervals are {escape(confidence)}: attack success and over-refusal are Wilson on the "
        "attack-clustered effective n (an attack's repeats are not independent); resists-k is the unbiased "
        "pass^k of each attack's resisted count, averaged over attacks (Clopper-Pearson on the effective "
        "number of attacks; with one sample per attack, the resisted share with attack success's interval). "
        "Unscored samples (no verdict) are counted, not used. See docs/redteam.md.</p>",
    ]
    if r.cells:
        out.append(_heatmap(r))
    for t in redteam_tables(r, cells=True):
        title = f"<h3>{escape(t.title or RATES_TITLE)}</h3>"
        table = _table(list(t.header), [[escape(c) for c in row] for row in t.rows], set(t.numeric))
        if t.title == CELLS_TITLE:
            out.append(f"<details><summary>{escape(t.title)} (the heat map's numbers)</summary>{table}</details>")
        else:
            out.append(title + table)
    out += [f"<p class='note'>warning: {escape(w)}</p>" for w in r.warnings]
    return "".join(out)


def redteam_markdown(report: RedTeamReport) -> str:
    """The red-team section as Markdown: the same tables (category x mutator included)."""
    r = fmt.safe(report)
    lines = [f"### {fmt.markdown(_title(r))}", ""]
    for t in redteam_tables(r, cells=True):
        lines += [f"**{fmt.markdown(t.title or RATES_TITLE)}**", ""]
        lines += ["| " + " | ".join(fmt.markdown(h) for h in t.header) + " |", "|" + "---|" * len(t.header)]
        lines += ["| " + " | ".join(fmt.markdown(c) for c in row) + " |" for row in t.rows]
        lines.append("")
    lines += [f"> warning: {fmt.markdown(w)}" for w in r.warnings]
    return "\n".join(lines) + "\n"
