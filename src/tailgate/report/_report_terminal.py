"""The terminal view of ``tailgate report`` (rich; readable at 80 columns; text is never markup)."""

from __future__ import annotations

from typing import Any, NamedTuple

from rich.console import Group
from rich.table import Table
from rich.text import Text

from tailgate.analysis import Contamination, Estimate, Report, Robustness, VariantScore, format_estimate
from tailgate.report import _format as fmt
from tailgate.report._judge_card import render_judge_cards
from tailgate.report._provenance import cache_line, withheld_line
from tailgate.report._redteam import render_redteam

__all__ = ["render_report"]


def _est(e: Estimate, digits: int = 3) -> str:
    return fmt.estimate(e, digits)


def _e(e: dict[str, Any], digits: int = 3, sign: str = "") -> str:
    """An estimate still held as a JSON dict: parser sensitivity's result (``render_parsers``)."""
    return format_estimate(e, digits, sign)


def _short(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


class _Section(NamedTuple):
    heading: str
    table: Table

    def add_row(self, *cells: Any) -> None:
        self.table.add_row(*cells)


def _table(heading: str, *columns: tuple[str, str]) -> _Section:
    table = Table(pad_edge=False, show_edge=False, expand=False)
    for name, justify in columns:
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    return _Section(heading, table)


def _block(section: _Section) -> list[Any]:
    return [Text(section.heading, style="bold"), section.table, Text("")]


def _robustness(r: Robustness | None, top: int) -> list[Any]:
    if not r:
        return []
    lines = [
        f"across {len(r.variants)} variants ({r.n_items} items with all of them): mean {_est(r.mean_score)}, "
        f"worst case {_est(r.worst_case)}",
        f"flip rate {_est(r.flip_rate)} (verdict differs between variants); answers differ for "
        f"{_est(r.answer_flip_rate)}",
    ]
    sp = r.spread
    if sp:
        lines.append(
            f"format spread {_est(sp.spread)}: best {sp.best} {sp.best_score:.3f}, worst {sp.worst} "
            f"{sp.worst_score:.3f} ({sp.n_templates} templates)"
            f"; any spread at all: p = {sp.any_spread.p_value:.3g}"
        )
    parts: list[Any] = [Text(line) for line in lines]
    t = _table("variants", ("variant", "left"), ("score [95% CI]", "right"), ("vs template", "right"))
    effect = {p.variant: p.delta for p in r.perturbations}
    shown = sorted(r.variants, key=lambda v: v.score.value if v.score.value is not None else 0.0)[: max(top, 20)]
    for v in shown:
        t.add_row(Text(_short(v.variant, 30)), _est(v.score), _est(effect[v.variant]) if v.variant in effect else "")
    return [*parts, Text(""), *_block(t), *_legend(shown), *_most_flipping(r, top)]


def _legend(variants: list[VariantScore]) -> list[Any]:
    """What each variant is (``format3: QUESTION - {question} || ...``), from the run's manifest."""
    described = [(v.variant, v.description) for v in variants if v.description]
    if not described:
        return []
    legend = Table.grid(padding=(0, 1))
    legend.add_column(style="bold", no_wrap=True)
    legend.add_column(overflow="fold")
    for name, description in sorted(described):
        legend.add_row(Text(name), Text(_short(description, 160), style="dim"))
    return [Text("what each variant is", style="bold"), legend, Text("")]


def _most_flipping(r: Robustness, top: int) -> list[Any]:
    if not r.most_flipping:
        return []
    t = _table(
        "items whose score moves most between variants (most common answer per variant)",
        ("item", "left"),
        ("reference", "left"),
        ("answers", "left"),
    )
    for m in r.most_flipping[:top]:
        answers = "  ".join(f"{v}: {_short(a, 12)}" for v, a in m.answers.items())
        t.add_row(Text(_short(m.source_id or m.item_id, 18)), Text(_short(m.reference, 16)), Text(answers))
    return _block(t)


def render_report(report: Report, top: int = 6) -> Group:
    r = fmt.safe(report)
    run, ov, prof = r.run, r.overview, r.profile
    head = Table.grid(padding=(0, 1))
    head.add_column(style="bold")
    head.add_column(overflow="fold", min_width=len(run.run_id))  # the id is never folded
    head.add_row("run", Text(f"{run.run_id}  ({run.status}, {run.done}/{run.planned} samples)"))
    head.add_row("model", Text(f"{run.model} on suite {run.suite}"))
    if run.stopped_early:
        head.add_row("stopped", Text(run.stopped_early, style="yellow"))
    s = ov.score
    head.add_row("score", Text(f"{_est(s)}  n={s.n_items} items, {s.n_samples} samples"))
    head.add_row("", Text(s.method, style="dim"))
    head.add_row(
        "never pass",
        Text(f"{_est(prof.never_pass)} of items (random failures would give {prof.never_pass_if_random or 0:.3f})"),
    )
    if ov.n_unscored:
        errors = ", ".join(f"{k} {v}" for k, v in {**ov.errors_by_class, **ov.withheld_by_class}.items())
        head.add_row("unscored", Text(f"{ov.n_unscored} samples ({errors or 'scorer errors'}), not counted"))
    if withheld := withheld_line(ov.withheld_by_class):
        head.add_row("withheld", Text(withheld))
    if replayed := cache_line(ov.n_cached, ov.n_samples):
        head.add_row("cache", Text(replayed))
    head.add_row("profile", Text(f"ICC {_est(prof.icc, 2)}: {prof.verdict}"))
    for warning in prof.warnings:
        head.add_row("", Text(f"warning: {warning}", style="yellow"))
    parts: list[Any] = [head, Text(""), *_pass_k(r), *_latency(r), *_worst_slices(r, top), *_discovered(r, top)]

    c = r.consistency
    if c.n_units:
        parts.append(
            Text(
                f"consistency over repeats: mean {_est(c.mean)}, below {c.threshold:g} for "
                f"{_est(c.share_below)} of items; {c.mean_distinct:.2f} distinct answers on average"
            )
        )
        parts.append(Text(""))
    for section, why in r.notes.items():
        parts += [Text(f"{section}: {why}", style="dim"), Text("")]

    parts += _robustness(r.robustness, top)
    parts += render_judge_cards(r.judges)
    if r.redteam is not None:
        parts.append(render_redteam(r.redteam))
    parts += [*_worst_items(r, top), Text(prof.advice, style="dim")]
    return Group(*parts)


def _pass_k(r: Report) -> list[Any]:
    if not r.pass_k:
        return []
    t = _table(
        "pass@k and pass^k (per item and variant, mean over items)",
        ("k", "right"),
        ("pass@k [95% CI]", "right"),
        ("pass^k [95% CI]", "right"),
        ("items", "right"),
    )
    for p in r.pass_k:
        t.add_row(str(p.k), _est(p.pass_at_k), _est(p.pass_hat_k), fmt.count(p.pass_at_k.n_items))
    return _block(t)


def _latency(r: Report) -> list[Any]:
    lat = r.latency_percentiles
    if not lat:
        return []
    t = _table(
        "latency of successful calls (ms, 95% CI clustered on items)",
        ("", "left"),
        ("ms", "right"),
        ("95% CI", "right"),
    )
    for p in lat:
        t.add_row(f"p{p.q:g}", f"{p.value:.0f}", fmt.interval(p.low, p.high, 0, fmt.too_few(p.method)))
    if r.slo:
        t.add_row(f"<= {r.slo.slo_ms:g} ms and correct", _est(r.slo.correct_within_slo), "")
    parts = _block(t)
    parts += [Text(f"warning: {p.method}", style="yellow") for p in lat if p.low is None]
    for note in r.run.latency_notes:
        parts += [Text(f"note: {note}", style="yellow"), Text("")]
    return parts


def _worst_slices(r: Report, top: int) -> list[Any]:
    t = _table(
        "worst slices (ranked by the upper end of the 95% CI)",
        ("slice", "left"),
        ("score [95% CI]", "right"),
        ("items", "right"),
    )
    for sl in r.worst_slices[:top]:
        t.add_row(Text(_short(sl.label, 34)), _est(sl.estimate), fmt.count(sl.estimate.n_items))
    return _block(t)


def _discovered(r: Report, top: int) -> list[Any]:
    disc = r.discovery
    t = _table(
        f"failing slices found ({disc.family} tested, BH at {disc.fdr:g})",
        ("slice", "left"),
        ("items", "right"),
        ("error", "right"),
        ("lift", "right"),
        ("adj. p", "right"),
    )
    for sl in disc.slices[:top]:
        t.add_row(
            Text(_short(sl.label, 36)),
            fmt.count(sl.size),
            f"{sl.error.value:.2f}",
            f"{sl.lift:.2f}",
            f"{sl.p_bh:.1g}",
        )
    if not disc.slices:
        t.add_row(Text("none significant", style="dim"), "", "", "", "")
    return _block(t)


def _worst_items(r: Report, top: int) -> list[Any]:
    t = _table(
        "worst items",
        ("item", "left"),
        ("mean", "right"),
        ("pass", "right"),
        ("input", "left"),
        ("reference", "left"),
        ("worst answer", "left"),
    )
    for w in r.worst_items[:top]:
        t.add_row(
            Text(_short(w.source_id or w.item_id, 18)),
            f"{w.mean_score:.2f}",
            f"{w.passes}/{w.samples}",
            Text(_short(w.input, 22)),
            Text(_short(w.reference, 14)),
            Text(_short(w.worst_answer, 14)),
        )
    return _block(t)


def render_parsers(result: dict[str, Any]) -> Group:
    """``tailgate rescore``: the score under each answer parser, the spread, disagreements."""
    t = _table("score by answer parser", ("parser", "left"), ("score [95% CI]", "right"), ("items", "right"))
    for p in sorted(result["parsers"], key=lambda p: -(p["value"] or 0.0)):
        t.add_row(Text(_short(p["parser"], 40)), _e(p), str(p["n_items"]))
    parts: list[Any] = _block(t)
    sp = result.get("spread")
    if sp:
        parts.append(Text(f"parser spread {_e(sp['spread'])}: {sp['best']} vs {sp['worst']}"))
    dis = result["disagreeing_samples"]
    parts.append(
        Text(
            f"parsers disagree on {_e(dis)} of {result['n_samples']} samples "
            f"({result['disagreeing_items']} of {result['n_items']} items)"
        )
    )
    for warning in result["warnings"]:
        parts.append(Text(f"WARNING: {warning}", style="bold yellow"))
    if result["examples"]:
        parts.append(Text(""))
        ex = _table("where they disagree", ("item", "left"), ("output", "left"), ("scores", "left"))
        for e in result["examples"][:6]:
            verdicts = " ".join(f"{k.split('=')[-1]}:{v:g}" for k, v in e["scores"].items())
            ex.add_row(Text(_short(e["item_id"], 16)), Text(_short(e["output"], 30)), Text(_short(verdicts, 40)))
        parts += _block(ex)
    return Group(*parts)


def render_contamination(c: Contamination) -> Group:
    """``tailgate contamination``: the score of clean and overlapping items, the top overlaps."""
    c = fmt.safe(c)
    o, k, corpus = c.options, c.counts, c.corpus
    head = Text(
        f"run {c.run_id}: {k.items} items, {o.n}-grams, threshold {o.threshold:g}; corpus {corpus.path} "
        f"({corpus.files} files, {corpus.tokens:,} tokens)"
    )
    scores = Table(title="score by subset", title_justify="left", pad_edge=False)
    scores.add_column("subset")
    scores.add_column("items", justify="right")
    scores.add_column(f"score [{fmt.percent(o.confidence)} CI]", justify="right")
    scores.add_column("method", overflow="fold", max_width=32)
    for name, n in (("all", k.items), ("clean", k.clean), ("overlapping", k.overlapping)):
        est = c.score[name]
        scores.add_row(name, fmt.count(n), _est(est), est.method)
    diff = c.difference
    p = "" if diff.p_value is None else f"  p={diff.p_value:.2g}"
    scores.add_row("overlap - clean", "", fmt.estimate(diff.estimate, sign="+") + p, diff.estimate.method)
    parts: list[Any] = [head, Text(f"too short to check (< {o.n} tokens): {k.too_short} items"), scores]
    if c.top_overlapping:
        items = Table(title="most overlapping items", title_justify="left", pad_edge=False)
        for name in ("item", "overlap", "first match"):
            items.add_column(name, overflow="fold", max_width=60 if name == "first match" else 24)
        for row in c.top_overlapping:
            items.add_row(Text(str(row.source_id or row.item_id)), fmt.percent(row.overlap), Text(row.first_match))
        parts.append(items)
    parts.extend(Text(f"warning: {w}", style="yellow") for w in c.warnings)
    return Group(*parts)
