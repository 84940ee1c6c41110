"""The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched).

Model outputs and inputs are hostile text: everything interpolated goes through ``escape``, and
the page has no JavaScript, so an answer containing ``<script>`` is shown, never run.
"""

from __future__ import annotations

from html import escape

from tailgate.analysis import REPORT_SCHEMA_VERSION, Estimate, FormatSpread, Percentile, Report
from tailgate.report import _format as fmt
from tailgate.report import _svg
from tailgate.report._judge_card import judge_cards_html
from tailgate.report._provenance import cache_line, withheld_line
from tailgate.report._redteam import redteam_html

__all__ = ["render_html"]

CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:980px;color:#111;line-height:1.4}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}h3{font-size:1rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}td,th{border:1px solid #ddd;padding:3px 6px;
text-align:left;vertical-align:top}th{background:#f5f5f5}.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555;font-size:.85rem}pre{white-space:pre-wrap;max-width:420px;margin:0;font-size:.8rem}
.kpi{display:inline-block;margin:0 1.5rem .5rem 0}.kpi b{font-size:1.3rem;display:block}
"""


def _f(x: float | None, digits: int = 3) -> str:
    return fmt.number(x, digits)


def _est(e: Estimate, digits: int = 3) -> str:
    return fmt.html_estimate(e, digits)


def _table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td class='num'>{c}</td>" if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: Report) -> str:
    r = fmt.safe(report)
    run, ov = r.run, r.overview
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>tailgate report: "
        f"{escape(run.run_id)}</title><style>{CSS}</style></head><body>"
    ]
    parts.append(f"<h1>tailgate report: {escape(run.run_id)}</h1>")
    parts.append(
        f"<p class='note'>suite <b>{escape(str(run.suite))}</b>, model <b>{escape(str(run.model))}</b>,"
        f" {escape(str(run.status))}, {run.done}/{run.planned} samples; "
        f"started {escape(str(run.started_at))}</p>"
    )
    if run.stopped_early:
        parts.append(f"<p class='note'>{escape(run.stopped_early)}</p>")
    provenance = [x for x in (withheld_line(ov.withheld_by_class), cache_line(ov.n_cached, ov.n_samples)) if x]
    if provenance:
        parts.append(f"<p class='note'>{escape('; '.join(provenance))}</p>")
    score = ov.score
    parts.append("<div>")
    parts.append(
        f"<span class='kpi'>score<b>{_est(score)}</b>{score.n_items} items, {score.n_samples} "
        f"samples; {escape(score.method)}</span>"
    )
    prof = r.profile
    parts.append(
        f"<span class='kpi'>never pass<b>{_est(prof.never_pass)}</b>of items "
        f"(random failures: {_f(prof.never_pass_if_random)})</span>"
    )
    parts.append(f"<span class='kpi'>failure profile<b>ICC {_est(prof.icc, 2)}</b>{escape(prof.verdict)}</span>")
    parts.append("</div>")
    parts.append(_scores_section(r))
    parts.append(_tails_section(r))
    parts.append(_slices_section(r))
    parts.append(_discovery_section(r))
    parts.append(_consistency_section(r))
    parts.append(_robustness_section(r))
    parts.append(judge_cards_html(r.judges))
    if r.redteam is not None:
        parts.append(redteam_html(r.redteam))
    parts.append(_profile_section(r))
    parts.append(_worst_items_section(r))
    parts.append(
        f"<p class='note'>tailgate report schema {REPORT_SCHEMA_VERSION}; options: "
        f"{escape(str(r.options.as_dict()))}</p></body></html>"
    )
    return "".join(parts)


def _scores_section(r: Report) -> str:
    out = ["<h2>Scores</h2>"]
    means = r.plots.item_mean_scores
    out.append(_svg.ecdf(means, "ECDF of per-item mean score", "mean score of the item over its samples"))
    rows = [
        [f"pass@{p.k}", _est(p.pass_at_k), f"pass^{p.k}", _est(p.pass_hat_k), fmt.count(p.pass_at_k.n_items)]
        for p in r.pass_k
    ]
    if rows:
        out.append(_table(["", "estimate [95% CI]", "", "estimate [95% CI]", "items"], rows))
        out.append(
            "<p class='note'>pass@k: at least one of k samples passes; pass^k: all k pass (unbiased "
            "estimators from n samples with c passes per item and variant).</p>"
        )
    if r.score_percentiles:
        rows = [[f"p{p.q:g}", _f(p.value), _pct_ci(p, 3)] for p in r.score_percentiles]
        out.append(_table(["percentile", "score", "95% CI (clustered on items)"], rows, {1}))
        out.append(_pct_notes(r.score_percentiles))
    return "".join(out)


def _pct_ci(p: Percentile, digits: int) -> str:
    return fmt.interval(p.low, p.high, digits, fmt.too_few(p.method))


def _pct_notes(rows: list[Percentile]) -> str:
    """Each distinct method once: how the intervals were made, and why some are missing."""
    methods = list(dict.fromkeys(p.method for p in rows))
    return "".join(f"<p class='note'>{escape(m)}</p>" for m in methods)


def _tails_section(r: Report) -> str:
    out = ["<h2>Latency and tails</h2>"]
    lat = r.latency_percentiles
    hist = r.plots.latency_hist
    if hist:
        marks = [(f"p{p.q:g}", p.value) for p in lat]
        out.append(
            _svg.histogram(
                hist.counts,
                hist.edges,
                "latency of successful calls",
                "latency (ms, log scale)",
                log=hist.edges[0] > 0,
                marks=marks,
            )
        )
    if lat:
        rows = [[f"p{p.q:g}", _f(p.value, 1), _pct_ci(p, 1), fmt.count(p.n_samples)] for p in lat]
        out.append(_table(["percentile", "ms", "95% CI (clustered on items)", "samples"], rows, {1, 3}))
        out.append(_pct_notes(lat))
    for note in r.run.latency_notes:
        out.append(f"<p><b>Note:</b> {escape(note)}</p>")
    if r.slo:
        s = r.slo
        out.append(
            f"<p>Correct and within the {s.slo_ms:g} ms SLO: <b>{_est(s.correct_within_slo)}</b>; "
            f"within the SLO at all: {_est(s.within_slo)}</p>"
        )
    return "".join(out)


def _slices_section(r: Report) -> str:
    out = [
        "<h2>Slices</h2><p class='note'>Worst first by the upper end of the 95% interval; <i>auto:</i> "
        "attributes are derived from the input and output.</p>"
    ]
    rows = [(s.label, s.estimate.value, s.estimate.low, s.estimate.high) for s in r.worst_slices]
    if rows:
        out.append(_svg.forest(rows, "worst slices: score with 95% CI", r.overview.score.value))
    table = [
        [
            escape(s.label),
            _est(s.estimate),
            fmt.count(s.estimate.n_items),
            fmt.count(s.estimate.n_samples),
            escape(s.level),
        ]
        for s in r.slices
    ]
    out.append("<details><summary>all slices</summary>")
    out.append(_table(["slice", "score [95% CI]", "items", "samples", "level"], table, {2, 3}))
    out.append("</details>")
    return "".join(out)


def _discovery_section(r: Report) -> str:
    disc = r.discovery
    out = ["<h2>Discovered failing slices</h2>"]
    if disc.note:
        out.append(f"<p class='note'>{escape(disc.note)}</p>")
    out.append(
        f"<p class='note'>{escape(disc.method) + '. ' if disc.method else ''}{disc.family} slices with at least "
        f"{disc.min_support} items tested; the top-k search looked at {disc.evaluated} candidates.</p>"
    )
    rows = [
        [
            escape(s.label),
            fmt.count(s.size),
            f"{_f(s.error.value)} [{_f(s.error.low)}, {_f(s.error.high)}]",
            _f(s.lift, 2),
            _f(s.share_of_errors, 2),
            f"{s.p_bh:.2g}",
        ]
        for s in disc.slices
    ]
    if rows:
        out.append(
            _table(
                ["slice", "items", "error rate [95% CI]", "lift", "share of errors", "adjusted p (BH)"],
                rows,
                {1, 3, 4, 5},
            )
        )
    else:
        out.append("<p>No slice fails significantly more than the rest (at the chosen false discovery rate).</p>")
    return "".join(out)


def _consistency_section(r: Report) -> str:
    c = r.consistency
    out = ["<h2>Consistency over repeats</h2>"]
    if c.n_units == 0:
        why = r.notes.consistency or "Needs two or more samples per item and variant."
        return out[0] + f"<p class='note'>{escape(why)}</p>"
    edges = [i / 10 for i in range(11)]
    out.append(
        _svg.histogram(
            c.histogram,
            edges,
            "consistency: share of the most common answer per item and variant",
            "consistency",
            marks=[("threshold", c.threshold)],
        )
    )
    out.append(
        f"<p>Mean consistency {_est(c.mean)}; share below {c.threshold:g}: {_est(c.share_below)}; "
        f"{_f(c.mean_distinct, 2)} distinct answers and {_f(c.mean_entropy_bits, 2)} bits of entropy on "
        f"average over {c.n_units} item-variants.</p>"
    )
    rows = [
        [
            escape(w.source_id or w.item_id),
            escape(w.variant),
            _f(w.consistency, 2),
            fmt.count(w.distinct_answers),
            fmt.count(w.samples),
        ]
        for w in c.least_consistent
    ]
    out.append(_table(["item", "variant", "consistency", "distinct answers", "samples"], rows, {2, 3, 4}))
    return "".join(out)


def _robustness_section(report: Report) -> str:
    r = report.robustness
    if not r:
        why = report.notes.robustness
        return f"<h2>Robustness across variants</h2><p class='note'>{escape(why)}</p>" if why else ""
    out = ["<h2>Robustness across variants</h2>"]
    out.append(
        f"<p>{len(r.variants)} variants over {r.n_items} items (those that have all of them). "
        f"Mean over variants {_est(r.mean_score)}; <b>worst case</b> (per item, its worst variant) "
        f"{_est(r.worst_case)}. <b>Flip rate</b> {_est(r.flip_rate)}: the share of items whose majority "
        f"verdict differs between variants; answers differ for {_est(r.answer_flip_rate)}.</p>"
    )
    if r.spread:
        out.append(_spread_paragraph(r.spread))
    rows = [
        (v.variant, v.score.value, v.score.low, v.score.high)
        for v in sorted(r.variants, key=lambda v: v.score.value if v.score.value is not None else 0.0)
        if v.score.value is not None
    ]
    if rows:
        out.append("<p class='note'>Score per variant with its 95% interval; dashed: the mean over variants.</p>")
        out.append(_svg.forest(rows, "score per variant with 95% CI (mean over variants dashed)", r.mean_score.value))
    if r.perturbations:
        effects = [(p.variant, p.delta.value, p.delta.low, p.delta.high) for p in r.perturbations]
        span = max(0.05, *(abs(x) for e in effects for x in e[1:] if x is not None))
        out.append("<p class='note'>Each perturbation's effect: its score minus its template's, paired over items.</p>")
        out.append(_svg.forest(effects, "perturbation effect: variant - its template (paired)", 0.0, -span, span))
    flips = [(s.slice, s.flip_rate.value, s.flip_rate.low, s.flip_rate.high) for s in r.flip_by_slice[:15]]
    if flips:
        out.append("<p class='note'>Flip rate by slice (Wilson 95% interval); dashed: the overall flip rate.</p>")
        out.append(_svg.forest(flips, "flip rate by slice (Wilson 95% CI)", r.flip_rate.value))
    if r.most_flipping:
        names = [v.variant for v in r.variants]
        rows_html = [
            [escape(m.source_id or m.item_id), f"<code>{escape(m.reference or '')}</code>"]
            + [f"{_f(m.scores[n], 2)} <code>{escape(str(m.answers[n])[:60])}</code>" for n in names]
            for m in r.most_flipping
        ]
        out.append(
            "<p>Items whose score moves most between variants (mean score and most common answer), "
            "next to the item's reference:</p>"
        )
        out.append(
            "<div style='overflow-x:auto'>"
            + _table(["item", "reference", *[escape(n) for n in names]], rows_html)
            + "</div>"
        )
    described = [(v.variant, v.description) for v in r.variants if v.description]
    if described:
        out.append("<p class='note'>What each variant is (newlines shown as \\n):</p>")
        out.append(_table(["variant", "prompt / definition"], [[escape(n), f"<code>{escape(t)}</code>"]
                                                               for n, t in sorted(described)]))  # fmt: skip
    return "".join(out)


def _spread_paragraph(sp: FormatSpread) -> str:
    return (
        f"<p><b>Format spread</b> {_est(sp.spread)}: best template <b>{escape(sp.best)}</b> "
        f"{_f(sp.best_score)}, worst <b>{escape(sp.worst)}</b> {_f(sp.worst_score)} "
        f"({sp.n_templates} templates; {escape(sp.spread.method)}). The paired difference of these two: "
        f"{_est(sp.best_vs_worst)}."
        f" Do the templates differ at all? p = {sp.any_spread.p_value:.3g} "
        f"({escape(sp.any_spread.method)})."
        "</p>"
    )


def _profile_section(r: Report) -> str:
    p = r.profile
    out = ["<h2>Failure profile</h2>"]
    out.append(f"<p><b>{escape(p.verdict)}</b></p>")
    out.extend(f"<p class='note'>warning: {escape(w)}</p>" for w in p.warnings)
    out.append(
        _table(
            ["measure", "value"],
            [
                ["between-item variance B", _f(p.between_var, 4)],
                ["within-item variance W (mean over items)", _f(p.within_var, 4)],
                ["ICC = B / (B + W)", _est(p.icc, 3)],
                ["Gini of item failure rates", _est(p.gini, 3)],
                ["items that never pass", _est(p.never_pass)],
                ["... expected if failures were random", _f(p.never_pass_if_random)],
            ],
        )
    )
    if p.concentration:
        c = p.concentration
        out.append(
            f"<p>The worst discovered slice, {escape(c.slice)}, holds {_f(c.share_of_items, 2)} of the "
            f"items and {_f(c.share_of_errors, 2)} of the errors.</p>"
        )
    out.append(f"<p class='note'>{escape(p.advice)}</p>")
    return "".join(out)


def _worst_items_section(r: Report) -> str:
    rows = [
        [
            escape(w.source_id or w.item_id),
            _f(w.mean_score, 2),
            f"{w.passes}/{w.samples}",
            f"<pre>{escape(w.input or '')}</pre>",
            f"<pre>{escape(w.reference or '')}</pre>",
            f"<pre>{escape(w.worst_output or '')}</pre>",
        ]
        for w in r.worst_items
    ]
    header = ["item", "mean", "passes", "input", "reference", "worst output"]
    return "<h2>Worst items</h2>" + _table(header, rows, {1})
