"""The red-team report in the terminal (``tailgate redteam``): attack success per slice with n and
intervals, resists-k, over-refusal and the paired change against a baseline. Model specs and run
ids are user text: neutralised, and every cell is a plain rich ``Text`` (never markup)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tailgate.report import _format as fmt
from tailgate.text import neutralize

if TYPE_CHECKING:
    from tailgate.analysis import Estimate, RedTeamReport

__all__ = ["render_redteam"]


def _n(e: Estimate) -> str:
    return f"{e.n_samples} ({e.n_items} items)"


def render_redteam(report: RedTeamReport) -> Any:
    """The report as rich tables (plain ``Text``: never markup)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    title = (
        f"red team: {neutralize(report.model)}, {report.n_attacks} attacks and {report.n_twins} benign twins, "
        f"{report.repeats} sample{'s' if report.repeats != 1 else ''} each (run {neutralize(report.run_id)})"
    )
    rates = Table(pad_edge=False, show_edge=False)
    k = report.overall.k
    for name in ("slice", "attack success", "n samples", f"resists {k}x in a row", "unscored"):
        rates.add_column(name)
    for a in (report.overall, *report.categories, *report.mutators):
        rates.add_row(Text(neutralize(a.slice)), Text(fmt.estimate(a.success, why=True)), Text(_n(a.success)),
                      Text(fmt.estimate(a.resists_k, why=True)), Text(str(a.n_unscored)))  # fmt: skip
    parts: list[Any] = [Text(title, style="bold"), rates]
    refusals = Table(pad_edge=False, show_edge=False, title="over-refusal of the benign twins")
    for name in ("slice", "refused", "n samples", "unscored"):
        refusals.add_column(name)
    for r in report.over_refusal:
        refusals.add_row(Text(neutralize(r.slice)), Text(fmt.estimate(r.refused, why=True)), Text(_n(r.refused)),
                         Text(str(r.n_unscored)))  # fmt: skip
    parts.append(refusals)
    if report.delta:
        base = neutralize(report.baseline_run or "")
        delta = Table(pad_edge=False, show_edge=False, title=f"attack success, candidate - baseline ({base}), paired")
        for name in ("slice", "change", "baseline", "candidate", "attacks", "p"):
            delta.add_column(name)
        for d in report.delta:
            delta.add_row(Text(neutralize(d.slice)), Text(fmt.estimate(d.delta.estimate, sign="+", why=True)),
                          Text(fmt.estimate(d.baseline)), Text(fmt.estimate(d.candidate)), Text(str(d.delta.n_items)),
                          Text(fmt.p_value(d.delta.p_value)))  # fmt: skip
        parts.append(delta)
    parts += [Text(f"warning: {neutralize(w)}", style="yellow") for w in report.warnings]
    return Group(*parts)
