"""The built-in gate rules, each declared once: its parameters and its check side by side.

To add a rule, declare its parameters (a :class:`RuleParams` subclass whose field docstrings are
the policy's documentation) and decorate its check with :func:`gate_rule`; policies accept it
from then on. A check reads the comparison's typed results and returns a :class:`RuleResult`
with typed evidence.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

import numpy as np
from pydantic import Field

from tailgate.analysis import (
    BeyondAccuracy,
    BootstrapLevelChange,
    Comparison,
    Estimate,
    LevelChange,
    adjust_bh,
    adjust_by,
    format_p,
)
from tailgate.errors import UsageError
from tailgate.gate._registry import NotApplicable, RuleParams, RuleResult, gate_rule

__all__ = ["Latency", "MaxRule", "MinItems", "MinRule", "NoSliceRegression", "OverallDelta", "PassHatK", "Power"]


def _text(e: Estimate, digits: int = 3, sign: str = "") -> str:
    """An estimate as "value [low, high]" in a message."""
    return format(e, f"{sign}.{digits}f")


def _fmt(e: Estimate) -> str:
    return _text(e, sign="+")


def _pvalue(p: float | None) -> str:
    return "" if p is None else f" (p={format_p(p)})"


def _underpowered(c: Comparison, margin: float) -> str:
    """A note for a failing rule when the comparison could not have shown a change of ``margin``."""
    mde = c.power.mde
    if mde is None or math.isnan(mde) or mde <= margin:
        return ""
    return (
        f"; underpowered: MDE {mde:.3f} > margin {margin:g} with {c.power.n_items} items, so even an unchanged "
        "candidate would usually fail this rule (add items or repeats)"
    )


# -- overall_delta ------------------------------------------------------------------------------


class OverallDelta(RuleParams):
    min_lower_bound: float = 0.0
    """The overall paired delta's lower confidence bound must be at least this (e.g. -0.02)."""


@dataclass(frozen=True)
class DeltaEvidence:
    """The overall paired delta a rule judged."""

    delta: Estimate
    p_value: float | None
    test: str | None
    underpowered: bool
    """The rule failed on an interval that also holds acceptable deltas, and the MDE is above the margin."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "delta": self.delta.as_dict(),
            "p_value": self.p_value,
            "test": self.test,
            "underpowered": self.underpowered,
        }


@gate_rule("overall_delta", OverallDelta)
def _overall(c: Comparison, rule: OverallDelta) -> RuleResult:
    est = c.overall.estimate
    ok = est.low is not None and est.low >= rule.min_lower_bound
    note = ""
    if not ok and est.high is not None and est.high >= rule.min_lower_bound:
        # the interval also holds acceptable deltas: the data cannot tell, rather than showing a drop
        note = _underpowered(c, abs(rule.min_lower_bound))
    return RuleResult(
        f"overall_delta >= {rule.min_lower_bound:+g} (CI lower bound)",
        ok,
        f"delta {_fmt(est)} over {est.n_items} items" + _pvalue(c.overall.p_value) + note,
        DeltaEvidence(est, c.overall.p_value, c.overall.test, bool(note)),
    )


# -- no_slice_regression ------------------------------------------------------------------------


class NoSliceRegression(RuleParams):
    margin: float = Field(0.0, ge=0)
    """A slice fails when it is significantly worse than ``-margin`` (one-sided, adjusted)."""
    adjust: Literal["bh", "by"] = "by"
    """Multiplicity correction over slices: Benjamini-Yekutieli (default, valid for overlapping
    slices) or Benjamini-Hochberg."""
    alpha: float = Field(0.05, gt=0, lt=1)
    min_items: int = Field(10, ge=2)
    """Slices with fewer shared items are not judged (and are listed as such)."""


@dataclass(frozen=True)
class FailingSlice:
    """A slice significantly worse than the margin."""

    slice: str
    n_items: int
    delta: Estimate
    p_one_sided: float
    """p-value of delta >= -margin against delta < -margin."""
    p_adjusted: float
    """``p_one_sided`` adjusted over the judged slices."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "slice": self.slice,
            "n_items": self.n_items,
            "delta": self.delta.as_dict(),
            "p_one_sided": self.p_one_sided,
            "p_adjusted": self.p_adjusted,
        }


@dataclass(frozen=True)
class SliceEvidence:
    """The slices judged, the failing ones (the worst 20) and those too small to judge (the first 20)."""

    failing: tuple[FailingSlice, ...] | None
    """None when no slice could be judged."""
    judged: int
    too_small: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {} if self.failing is None else {"failing": [f.as_dict() for f in self.failing]}
        return out | {"judged": self.judged, "too_small": list(self.too_small)}


@gate_rule("no_slice_regression", NoSliceRegression)
def _slices(c: Comparison, rule: NoSliceRegression) -> RuleResult:
    # stdtr(df, x) is what scipy.stats.t.cdf(x, df) evaluates for a finite x, without importing
    # scipy.stats (0.45-0.9 s)
    from scipy.special import stdtr

    judged = [s for s in c.slices if s.n_items >= rule.min_items]
    skipped = tuple(s.slice for s in c.slices if s.n_items < rule.min_items)
    if not judged:
        raise NotApplicable(
            f"no slice has {rule.min_items} or more shared items to be judged", SliceEvidence(None, 0, skipped[:20])
        )
    pvals = []
    for s in judged:
        d, se, n = s.delta.value or 0.0, s.delta.se, s.n_items
        if se and se > 0:
            pvals.append(float(stdtr(n - 1, (d + rule.margin) / se)))  # H1: delta < -margin
        else:
            pvals.append(0.0 if d < -rule.margin else 1.0)
    adjusted = (adjust_by if rule.adjust == "by" else adjust_bh)(np.array(pvals))
    failing = sorted(
        (
            FailingSlice(s.slice, s.n_items, s.delta, p, float(a))
            for s, p, a in zip(judged, pvals, adjusted, strict=True)
            if a < rule.alpha
        ),
        key=lambda f: f.delta.value or 0.0,
    )
    name = f"no_slice_regression (beyond -{rule.margin:g}, {rule.adjust.upper()} at {rule.alpha:g})"
    if failing:
        worst = failing[0]
        message = (
            f"{len(failing)} slice(s) regressed beyond -{rule.margin:g}; worst: {worst.slice} "
            f"{_fmt(worst.delta)}, n={worst.n_items} items, adjusted p={format_p(worst.p_adjusted)}"
        )
    else:
        message = f"none of {len(judged)} slices regressed significantly beyond -{rule.margin:g}"
    return RuleResult(name, not failing, message, SliceEvidence(tuple(failing[:20]), len(judged), skipped[:20]))


# -- thresholds on the candidate's level: consistency, json_validity, never_pass, pass_hat_k -----


class MinRule(RuleParams):
    min: float
    bound: Literal["point", "lower"] = "point"
    """``lower``: the interval's lower end must meet ``min`` (evidence), not only the point estimate."""


class MaxRule(RuleParams):
    max: float
    bound: Literal["point", "upper"] = "point"
    """``upper``: the interval's upper end must meet ``max`` (evidence), not only the point estimate."""


class PassHatK(RuleParams):
    min: float
    k: int | None = Field(None, ge=1)
    """Default: the largest k both runs support (at most 10)."""


@dataclass(frozen=True)
class LevelEvidence:
    """The candidate's level of a measure and its change."""

    cand: Estimate
    delta: Estimate
    underpowered: bool | None = None
    """The point estimate meets the threshold and the interval's end does not (None: not asked)."""

    def as_dict(self) -> dict[str, Any]:
        out = {"cand": self.cand.as_dict(), "delta": self.delta.as_dict()}
        return out if self.underpowered is None else out | {"underpowered": self.underpowered}


_Level = LevelChange | BootstrapLevelChange


def _unavailable(c: Comparison, what: str, measure: str) -> NoReturn:
    """A rule's measure was not compared: not applicable when neither run has what the measure
    needs, an error when only one run has it."""
    why = c.unavailable.get(measure)
    if why is not None and why.kind == "absent":
        raise NotApplicable(why.reason)
    reason = why.reason if why is not None else "the comparison has no such measure"
    raise UsageError(f"the policy has a {what} rule, but {reason}: the runs cannot be compared on it")


def _level_rule(name: str, pick: Callable[[BeyondAccuracy], _Level | None], needs: str) -> Callable[..., RuleResult]:
    """A threshold on the candidate's level of a measure: ``min`` (or ``bound: lower``, its
    interval's lower end) for MinRule, ``max`` (or ``bound: upper``) for MaxRule."""

    def check(c: Comparison, rule: MinRule | MaxRule) -> RuleResult:
        block = pick(c.beyond)
        if block is None:
            _unavailable(c, f"{name} ({needs})" if needs else name, name)
        cand = block.cand_estimate
        point = cand.value
        if isinstance(rule, MinRule):
            value, limit, op = cand.low if rule.bound == "lower" else point, rule.min, ">="
            ok = value is not None and value >= limit
            point_ok = point is not None and point >= limit
        else:
            value, limit, op = cand.high if rule.bound == "upper" else point, rule.max, "<="
            ok = value is not None and value <= limit
            point_ok = point is not None and point <= limit
        note = ""
        if not ok and point_ok:  # failed on the interval's end only: too little data, not a bad level
            note = (
                f"; underpowered: the point estimate {point:.3f} meets {limit:g} but the interval's "
                f"{'lower' if op == '>=' else 'upper'} end does not, over {cand.n_items} items"
            )
        return RuleResult(
            f"{name} {op} {limit:g} ({rule.bound})",
            ok,
            f"candidate {name} {_text(cand)}; change {_fmt(block.delta)}" + note,
            LevelEvidence(cand, block.delta, bool(note)),
        )

    return check


gate_rule("consistency", MinRule)(
    _level_rule("consistency", lambda b: b.consistency, "needs 2+ samples per item in both runs")
)
gate_rule("json_validity", MinRule, scored=False)(
    _level_rule("json_validity", lambda b: b.json_validity, "needs items that ask for JSON, with outputs")
)
gate_rule("never_pass", MaxRule)(_level_rule("never_pass", lambda b: b.never_pass, ""))


@gate_rule("pass_hat_k", PassHatK)
def _pass_hat_k(c: Comparison, rule: PassHatK) -> RuleResult:
    supported = c.beyond.pass_hat_k
    if rule.k and supported is not None and rule.k != supported:  # asked for explicitly: an error
        raise UsageError(
            f"the policy asks for pass^{rule.k}, but the runs support only pass^{supported} "
            "(k is at most the smallest number of samples per item-variant in either run)"
        )
    what = "pass_hat_k (needs 2+ samples per item in both runs)"
    block = c.beyond.pass_hat
    if block is None:
        _unavailable(c, what, "pass_hat_k")
    cand = block.cand_estimate
    ok = cand.value is not None and cand.value >= rule.min
    return RuleResult(
        f"pass^{supported} >= {rule.min:g}",
        ok,
        f"candidate pass^{supported} {_text(cand)}; change {_fmt(block.delta)}",
        LevelEvidence(cand, block.delta),
    )


# -- latency, min_items, power ------------------------------------------------------------------


class Latency(RuleParams):
    percentile: Literal[95, 99] = 95
    max_ms: float = Field(gt=0)
    max_increase_ms: float | None = Field(None, ge=0)
    """Optionally also: the increase over the base must not exceed this (point estimate)."""


@gate_rule("latency", Latency, scored=False)
def _latency(c: Comparison, rule: Latency) -> RuleResult:
    block = c.beyond.latency_p95 if rule.percentile == 95 else c.beyond.latency_p99
    if block is None:
        _unavailable(c, "latency (needs latencies in both runs)", "latency")
    ok = block.cand <= rule.max_ms
    message = (
        f"candidate p{rule.percentile} {block.cand:.0f} ms (base {block.base:.0f} ms; change "
        f"{_text(block.delta, 0, '+')} ms, paired bootstrap over {block.delta.n_items} items)"
    )
    if rule.max_increase_ms is not None:
        ok = ok and block.delta.value is not None and block.delta.value <= rule.max_increase_ms
    return RuleResult(f"latency p{rule.percentile} <= {rule.max_ms:g} ms", ok, message, block)


class MinItems(RuleParams):
    min: int = Field(ge=1)
    """Shared items the comparison must have."""


@gate_rule("min_items", MinItems, scored=False)
def _min_items(c: Comparison, rule: MinItems) -> RuleResult:
    n = c.pairing.shared_items
    return RuleResult(f"shared items >= {rule.min}", n >= rule.min, f"{n} shared items", c.pairing)


class Power(RuleParams):
    max_mde: float = Field(gt=0)
    """Fail when the smallest change the comparison can detect is larger than this."""


@gate_rule("power", Power)
def _power(c: Comparison, rule: Power) -> RuleResult:
    if c.power.identical:
        raise NotApplicable(f"{c.power.statement} (no spread of item deltas to compute an MDE from)")
    mde = c.power.mde
    ok = mde is not None and not math.isnan(mde) and mde <= rule.max_mde
    return RuleResult(
        f"minimum detectable effect <= {rule.max_mde:g}",
        ok,
        f"MDE {mde:.3f} at {c.power.power:.0%} power: {c.power.statement}" if mde else "too few items",
        c.power,
    )
