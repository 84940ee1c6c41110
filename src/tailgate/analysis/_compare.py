"""``tailgate compare``: a delta between two runs is a hypothesis, tested on the shared items.

The steps, each in its own module:

* pairing (:mod:`._compare_pairing`): records are joined on (item, variant); an item takes part
  when both runs scored it on a shared variant, and its score in each run is the mean over those
  samples;
* the paired tests (:mod:`._compare_tests`): McNemar on 0/1 pairs, else the paired t-test on
  item means;
* slice deltas (:mod:`._compare_slices`): every slice big enough, BH and BY adjusted;
* beyond accuracy (:mod:`._compare_beyond`): never-pass, pass^k, consistency, JSON validity and
  latency percentiles, with a paired item bootstrap where the measure is not a mean;
* power (:mod:`._compare_power`): the minimum detectable effect and the items needed;
* the result (:mod:`._compare_results`): a frozen :class:`Comparison`, JSON only at its edge.
"""

from __future__ import annotations

import numpy as np

from tailgate.analysis._compare_beyond import beyond_accuracy
from tailgate.analysis._compare_pairing import Paired, pair_units, repeats_warning, run_info, template_check
from tailgate.analysis._compare_power import comparison_power, power_for
from tailgate.analysis._compare_results import (
    CompareOptions,
    ComparePlots,
    Comparison,
    NewlyFailing,
    OverallChange,
)
from tailgate.analysis._compare_slices import aligned_features, slice_deltas, slice_warnings
from tailgate.analysis._compare_tests import format_p, mcnemar, paired_delta
from tailgate.analysis._data import RunData, load_run, references
from tailgate.analysis._judge_use import headline_judges
from tailgate.analysis._sequential import stopped_early_note
from tailgate.errors import UsageError
from tailgate.store import Store

__all__ = [
    "CompareOptions",
    "Comparison",
    "compare_runs",
    "format_p",
    "load_comparison",
    "mcnemar",
    "paired_delta",
    "power_for",
]


def compare_runs(store: Store, base_id: str, cand_id: str, options: CompareOptions | None = None) -> Comparison:
    """Compare two stored runs item by item (see the module docstring).

    Example:
        >>> c = compare_runs(store, "base-run", "cand-run")  # doctest: +SKIP
        >>> c.overall.estimate.low, c.slices[0].slice, c.power.statement  # doctest: +SKIP
    """
    options = options or CompareOptions()
    base = load_run(store, base_id, options.pass_threshold)
    cand = load_run(store, cand_id, options.pass_threshold)
    try:
        return _compare(base, cand, options)
    finally:
        base.close()
        cand.close()


def load_comparison(path: str, base_id: str, cand_id: str, options: CompareOptions) -> Comparison:
    """A comparison saved by ``tailgate compare --json FILE``, read back instead of computed again
    (``tailgate gate --comparison FILE``): it must be of runs ``base_id`` and ``cand_id`` with
    ``options``, or the gate would judge another comparison than the one asked for.

    Raises:
        InputError: the file is not a comparison's JSON (or of another schema version).
        UsageError: it compares other runs, or was computed with other options.
    """
    from tailgate.analysis._saved import load_saved

    saved = load_saved(
        path,
        Comparison.from_dict,
        command="compare",
        what="comparison",
        required=("overall",),
        check=lambda data: None if data.get("schema_version") == 1 else "schema version 1",
    )
    if (saved.base.run_id, saved.cand.run_id) != (base_id, cand_id):
        raise UsageError(f"{path} compares {saved.base.run_id} with {saved.cand.run_id}, not {base_id} with {cand_id}")
    if saved.options != options:
        changed = [
            f"{key} {theirs!r} (asked: {mine!r})"
            for (key, theirs), mine in zip(saved.options.as_dict().items(), options.as_dict().values(), strict=True)
            if theirs != mine
        ]
        raise UsageError(
            f"{path} was computed with other options: {', '.join(changed)}; compare again with the same options "
            "(the gate's confidence is the policy's)"
        )
    return saved


def _compare(base: RunData, cand: RunData, options: CompareOptions) -> Comparison:
    if base.binary != cand.binary:
        raise UsageError("one run has 0/1 scores and the other does not: they were not scored the same way")
    changed_templates = template_check(base, cand)
    if changed_templates:
        raise UsageError(
            f"the runs' suites define variant(s) {', '.join(changed_templates)} differently: the same item "
            "would be asked in different words; compare runs of the same templates"
        )
    paired, matched, pairing = pair_units(base, cand, options)
    mean_b, mean_c = paired.mean_b, paired.mean_c
    overall = _overall(base, cand, paired, mean_b, mean_c, options)
    slices = slice_deltas(aligned_features(base, paired.item_ids), paired, mean_b, mean_c, options)
    warnings = repeats_warning(pairing) + slice_warnings(overall, slices, options)
    warnings += [f"run {d.run_id} {note}" for d in (base, cand) if (note := stopped_early_note(d.manifest))]
    beyond, unavailable = beyond_accuracy(base, cand, matched, options)
    newly, newly_count = _newly_failing(base, cand, matched.paired)
    repeats = max(int(np.median(np.minimum(paired.b["n"], paired.c["n"]))), 1)
    identical = paired.item_ids.size >= 2 and bool(np.array_equal(mean_b, mean_c))
    within = _within(base) + _within(cand)
    power = comparison_power(overall, mean_c - mean_b, repeats, within, identical, options)
    return Comparison(
        base=run_info(base),
        cand=run_info(cand),
        options=options,
        pairing=pairing,
        overall=overall,
        slices=slices,
        warnings=tuple(warnings),
        beyond=beyond,
        newly_failing=newly,
        power=power,
        plots=ComparePlots(_thin_pairs(mean_b, mean_c)),
        newly_failing_count=newly_count,
        unavailable=unavailable,
        judges=headline_judges(base, "base", options.confidence, options.seed)
        + headline_judges(cand, "cand", options.confidence, options.seed),
    )


def _overall(
    base: RunData,
    cand: RunData,
    paired: Paired,
    mean_b: np.ndarray,
    mean_c: np.ndarray,
    options: CompareOptions,
) -> OverallChange:
    from dataclasses import replace

    from tailgate.analysis._stats import estimate_from_sums

    b, c = paired.b, paired.c
    n_b, n_c = paired.n_b, paired.n_c
    delta = paired_delta(mean_b, mean_c, options.confidence)
    level_b = estimate_from_sums(n_b, mean_b * n_b, base.binary, options.confidence)
    level_c = estimate_from_sums(n_c, mean_c * n_c, cand.binary, options.confidence)
    one_each = bool((b["n"] == 1).all() and (c["n"] == 1).all())
    if not (base.binary and one_each):
        return OverallChange(level_b, level_c, delta, None)
    test = mcnemar((b["s"] >= 1).astype(int), (c["s"] >= 1).astype(int))
    reported = replace(delta, p_value=test.mid_p, test="McNemar mid-p on (item, variant) pairs (two-sided)")
    return OverallChange(level_b, level_c, reported, test)


def _newly_failing(
    base: RunData, cand: RunData, paired: Paired, limit: int = 20
) -> tuple[tuple[NewlyFailing, ...], int]:
    """Items that always passed in the base and do not always pass in the candidate: the worst
    ``limit`` of them with both outputs, and how many there are."""
    item_ids = paired.item_ids
    always_before = paired.per_item(paired.b, "p") == paired.n_b
    now = paired.per_item(paired.c, "p") / paired.n_c
    newly = np.flatnonzero(always_before & (now < 1))
    chosen = newly[np.argsort(now[newly], kind="stable")][:limit]
    if chosen.size == 0:
        return (), 0
    ids = [str(item_ids[i]) for i in chosen]
    outputs_b = _outputs(base, ids, best=True)
    outputs_c = _outputs(cand, ids, best=False)
    rows = base.items.index_of(ids)
    refs = references(base, ids)
    return tuple(
        NewlyFailing(
            item_id=i,
            source_id=None if base.items.source_id[k] is None else str(base.items.source_id[k]),
            base_pass_rate=1.0,
            cand_pass_rate=float(now[j]),
            input=base.items.text[k][:500],
            reference=refs.get(i),
            base_output=outputs_b.get(i),
            cand_output=outputs_c.get(i),
        )
        for i, j, k in zip(ids, chosen, rows.tolist(), strict=True)
    ), int(newly.size)


def _outputs(data: RunData, ids: list[str], best: bool) -> dict[str, str | None]:
    # the best (worst) sample; among tied ones the first by sample id (arg_max would pick any)
    order = "DESC" if best else "ASC"
    rows = data.query(
        f"SELECT item_id, first(output ORDER BY coalesce(score, -1) {order}, sample_id) AS o FROM records "
        f"WHERE item_id IN ({', '.join('?' for _ in ids)}) GROUP BY item_id ORDER BY item_id",
        ids,
    )
    return {str(i): (None if o is None else str(o)[:500]) for i, o in zip(rows["item_id"], rows["o"], strict=True)}


def _within(data: RunData) -> float:
    """Mean within-item variance of one run's scores (0 without repeats)."""
    from tailgate.analysis._profile import variance_components

    comps = variance_components(data.items.n_scored, data.items.sum_score, data.items.sum_sq)
    return 0.0 if comps is None else comps[1]


def _thin_pairs(mean_b: np.ndarray, mean_c: np.ndarray, points: int = 1500) -> tuple[tuple[float, float], ...]:
    idx = np.arange(mean_b.size)
    if idx.size > points:
        idx = np.random.default_rng(0).choice(idx, points, replace=False)
    return tuple((float(mean_b[i]), float(mean_c[i])) for i in idx)
