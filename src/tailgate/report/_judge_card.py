"""The judge report card in every format (terminal, HTML, Markdown), from one set of plain rows so
that the three say the same thing. Judge specs and labels are user or model text: neutralised,
then escaped for the format (rich ``Text`` is never markup)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from tailgate.report import _format as fmt
from tailgate.report._redteam import redteam_markdown
from tailgate.text import neutralize

if TYPE_CHECKING:
    from tailgate.analysis import Estimate, JudgeAttackReport, JudgeCard, Report

__all__ = [
    "judge_card_rows",
    "judge_cards_html",
    "judge_cards_markdown",
    "render_judge_attack",
    "render_judge_cards",
    "report_markdown",
]


def _n(e: Estimate) -> str:
    return f"{fmt.estimate(e, why=True)}  n={e.n_samples} ({e.n_items} items)"


def _title(card: JudgeCard) -> str:
    repeats = f"{card.repeats} repeat{'s' if card.repeats != 1 else ''}" + (" per order" if card.swap_flip else "")
    return (
        f"judge card: {neutralize(card.label)} ({card.kind} by {neutralize(card.judge)}, {repeats}, "
        f"prompt {card.prompt_sha})"
    )


def judge_card_rows(card: JudgeCard) -> list[tuple[str, str]]:
    """(measure, value) rows of one card, plain text."""
    rows = [
        ("outputs judged", f"{card.n_outputs} ({card.n_items} items)"),
        (
            "unscored",
            f"{_n(card.unscored)}; {card.n_unparseable} unparseable, {card.n_call_failures} call failures",
        ),
        ("unparseable replies", _n(card.unparseable_replies) + " (of every reply, repeats included)"),
    ]
    if card.swap_flip is not None:
        rows.append(("swap-flip rate", _n(card.swap_flip) + " (verdict changed when A and B swapped: a tie)"))
    if card.self_consistency is not None:
        rows.append(("self-consistency", _n(card.self_consistency) + " (pairs of repeats that agree)"))
    if card.length_slope is not None:
        rows.append(("length bias", _n(card.length_slope) + " score per 100 characters"))
    if card.agreement is not None and card.accuracy is not None:
        a, acc = card.agreement, card.accuracy
        truth = neutralize(card.truth or "")
        rows += [
            (f"vs {truth}: kappa", _n(a.kappa)),
            ("Scott's pi", _n(a.scott_pi)),
            ("Krippendorff's alpha", _n(a.alpha)),
            ("sensitivity", _n(acc.sensitivity) + " (truly right called right)"),
            ("specificity", _n(acc.specificity) + " (truly wrong called wrong)"),
        ]
        rows += [("warning", neutralize(w)) for w in a.warnings]
    elif card.kind != "judge_pairwise":
        rows.append(("vs truth", "no reference-based scorer on these records: agreement not measured"))
    rows += [("warning", neutralize(w)) for w in card.warnings]
    return rows


def render_judge_cards(cards: list[JudgeCard]) -> list[Any]:
    """Rich renderables (plain ``Text``: never markup)."""
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = []
    for card in cards:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for measure, value in judge_card_rows(card):
            table.add_row(Text(measure), Text(value, style="yellow" if measure == "warning" else ""))
        parts += [Text(_title(card), style="bold"), table, Text("")]
    return parts


def judge_cards_html(cards: list[JudgeCard]) -> str:
    out = []
    for card in cards:
        rows = "".join(f"<tr><td>{escape(m)}</td><td>{escape(v)}</td></tr>" for m, v in judge_card_rows(card))
        out.append(f"<h2>{escape(_title(card))}</h2><table><tr><th>measure</th><th>value</th></tr>{rows}</table>")
    if out:
        out.append("<p class='note'>What each number means: docs/judges.md (the judge report card).</p>")
    return "".join(out)


def _md(text: str) -> str:
    return escape(" ".join(neutralize(str(text)).split())).replace("|", "\\|")


def judge_cards_markdown(cards: list[JudgeCard]) -> str:
    out = []
    for card in cards:
        out += [f"### {_md(_title(card))}", "", "| measure | value |", "|---|---|"]
        out += [f"| {_md(m)} | {_md(v)} |" for m, v in judge_card_rows(card)]
        out.append("")
    return "\n".join(out)


def report_markdown(report: Report) -> str:
    """A run's headline, its judge cards and (a red-team run) its red-team tables as Markdown (a CI
    job summary)."""
    run, score = report.run, report.overview.score
    lines = [
        f"## {_md(run.run_id)}",
        "",
        f"{_md(run.model)} on suite {_md(run.suite)}: score {_md(fmt.estimate(score, why=True))}, "
        f"n={score.n_items} items, {score.n_samples} samples ({_md(score.method)})",
        "",
    ]
    if report.judges:
        lines += ["", judge_cards_markdown(report.judges)]
    if report.redteam is not None:
        lines += ["", redteam_markdown(report.redteam)]
    return "\n".join(lines) + "\n"


def render_judge_attack(report: JudgeAttackReport) -> Any:
    """The attack success rates as a rich table (plain ``Text``: never markup)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    title = (
        f"judge attack: {neutralize(report.judge)} on {report.n_items} items of {neutralize(report.suite)}, "
        f"{report.repeats} judge repeat{'s' if report.repeats != 1 else ''} (run {neutralize(report.run_id)})"
    )
    t = Table(pad_edge=False, show_edge=False)
    for name in ("attack", "success rate (judged correct; all are wrong)", "n verdicts", "outputs", "unscored"):
        t.add_column(name)
    for a in report.attacks:
        t.add_row(
            Text(a.attack),
            Text(fmt.estimate(a.success, why=True)),
            Text(f"{a.success.n_samples} ({a.success.n_items} items)"),
            Text(str(a.n_outputs)),
            Text(str(a.n_unscored)),
        )
    warnings = [Text(f"warning: {neutralize(w)}", style="yellow") for w in report.warnings]
    return Group(Text(title, style="bold"), t, *warnings)
