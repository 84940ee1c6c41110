"""Deciding a release: each rule of a policy, checked against a comparison, with its evidence."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tailgate.analysis import Comparison, adjust_bh, adjust_by, format_estimate, format_p
from tailgate.errors import UsageError
from tailgate.gate._policy import (
    Latency,
    MaxRule,
    MinItems,
    MinRule,
    NoSliceRegression,
    OverallDelta,
    PassHatK,
    Policy,
    Power,
)

__all__ = ["Decision", "RuleResult", "decide"]


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    """False when the rule fails the gate (a not-applicable rule passes unless ``if_not_applicable: fail``)."""
    message: str
    evidence: dict[str, Any]
    applicable: bool = True
    """False when the runs have nothing for the rule to judge (see ``message`` for why)."""

    @property
    def status(self) -> str:
        """``pass``, ``fail`` or ``not_applicable``."""
        if not self.applicable and self.passed:
            return "not_applicable"
        return "pass" if self.passed else "fail"


class _NotApplicable(Exception):
    """The runs have nothing for this rule to judge; the reason says what is missing."""

    def __init__(self, reason: str, evidence: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.evidence = evidence or {}


@dataclass
class Decision:
    policy: str
    passed: bool
    results: list[RuleResult]
    comparison: Comparison

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "passed": self.passed,
            "rules": [{**asdict(r), "status": r.status} for r in self.results],
            "comparison": self.comparison.as_dict(),
        }


def _fmt(e: dict[str, Any]) -> str:
    return format_estimate(e, sign="+")


def _pvalue(p: float | None) -> str:
    return "" if p is None else f" (p={format_p(p)})"


def decide(comparison: Comparison, policy: Policy) -> Decision:
    """Check every rule; the gate passes when all do."""
    results = []
    for entry in policy.rules:
        kind, rule = entry.only()
        try:
            results.append(_CHECKS[kind](comparison, rule))
        except _NotApplicable as na:
            results.append(_not_applicable(kind, rule, na))
    return Decision(policy.name, all(r.passed for r in results), results, comparison)


def _not_applicable(kind: str, rule: Any, na: _NotApplicable) -> RuleResult:
    if rule.if_not_applicable == "error":
        raise UsageError(
            f"the policy's {kind} rule does not apply to these runs: {na.reason} (if_not_applicable: error; "
            "'skip' reports it as not applicable)"
        )
    fails = rule.if_not_applicable == "fail"
    message = f"not applicable: {na.reason}" + (" (if_not_applicable: fail)" if fails else "")
    return RuleResult(kind, not fails, message, {"not_applicable": na.reason, **na.evidence}, applicable=False)


def _underpowered(c: Comparison, margin: float) -> str:
    """A note for a failing rule when the comparison could not have shown a change of ``margin``."""
    mde = c.power.get("mde")
    if mde is None or math.isnan(mde) or mde <= margin:
        return ""
    n = c.power.get("n_items")
    return (
        f"; underpowered: MDE {mde:.3f} > margin {margin:g} with {n} items, so even an unchanged candidate "
        "would usually fail this rule (add items or repeats)"
    )


def _overall(c: Comparison, rule: Any) -> RuleResult:
    assert isinstance(rule, OverallDelta)
    est = c.overall["estimate"]
    low = est["low"]
    ok = low is not None and low >= rule.min_lower_bound
    note = ""
    if not ok and est["high"] is not None and est["high"] >= rule.min_lower_bound:
        # the interval also holds acceptable deltas: the data cannot tell, rather than showing a drop
        note = _underpowered(c, abs(rule.min_lower_bound))
    return RuleResult(
        f"overall_delta >= {rule.min_lower_bound:+g} (CI lower bound)",
        ok,
        f"delta {_fmt(est)} over {est['n_items']} items" + _pvalue(c.overall.get("p_value")) + note,
        {"delta": est, "p_value": c.overall.get("p_value"), "test": c.overall.get("test"), "underpowered": bool(note)},
    )


def _slices(c: Comparison, rule: Any) -> RuleResult:
    from scipy import stats

    assert isinstance(rule, NoSliceRegression)
    judged = [s for s in c.slices if s["n_items"] >= rule.min_items]
    skipped = [s["slice"] for s in c.slices if s["n_items"] < rule.min_items]
    if not judged:
        raise _NotApplicable(
            f"no slice has {rule.min_items} or more shared items to be judged", {"judged": 0, "too_small": skipped[:20]}
        )
    pvals = []
    for s in judged:
        d, se, n = s["delta"]["value"], s["delta"]["se"], s["n_items"]
        if se and se > 0:
            pvals.append(float(stats.t.cdf((d + rule.margin) / se, n - 1)))  # H1: delta < -margin
        else:
            pvals.append(0.0 if d < -rule.margin else 1.0)
    adjusted = (adjust_by if rule.adjust == "by" else adjust_bh)(np.array(pvals))
    failing = sorted(
        (
            {
                "slice": s["slice"],
                "n_items": s["n_items"],
                "delta": s["delta"],
                "p_one_sided": p,
                "p_adjusted": float(a),
            }
            for s, p, a in zip(judged, pvals, adjusted, strict=True)
            if a < rule.alpha
        ),
        key=lambda f: f["delta"]["value"],
    )
    name = f"no_slice_regression (beyond -{rule.margin:g}, {rule.adjust.upper()} at {rule.alpha:g})"
    if failing:
        worst = failing[0]
        message = (
            f"{len(failing)} slice(s) regressed beyond -{rule.margin:g}; worst: {worst['slice']} "
            f"{_fmt(worst['delta'])}, n={worst['n_items']} items, adjusted p={format_p(worst['p_adjusted'])}"
        )
    else:
        message = f"none of {len(judged)} slices regressed significantly beyond -{rule.margin:g}"
    return RuleResult(
        name, not failing, message, {"failing": failing[:20], "judged": len(judged), "too_small": skipped[:20]}
    )


def _level(c: Comparison, key: str, what: str, measure: str | None = None) -> dict[str, Any]:
    """The comparison's block ``key``; not applicable when neither run has what the measure
    needs, an error when only one run has it."""
    block = c.beyond.get(key)
    if block is not None:
        return dict(block)
    why = c.unavailable.get(measure or key)
    if why is not None and why["kind"] == "absent":
        raise _NotApplicable(why["reason"])
    reason = why["reason"] if why is not None else "the comparison has no such measure"
    raise UsageError(f"the policy has a {what} rule, but {reason}: the runs cannot be compared on it")


def _level_rule(name: str, key: str, needs: str) -> Any:
    """A threshold on the candidate's level of ``key``: ``min`` (or ``bound: lower``, its interval's
    lower end) for MinRule, ``max`` (or ``bound: upper``) for MaxRule."""

    def check(c: Comparison, rule: Any) -> RuleResult:
        assert isinstance(rule, (MinRule, MaxRule))
        block = _level(c, key, f"{name} ({needs})" if needs else name)
        cand = block["cand_estimate"]
        point = cand["value"]
        if isinstance(rule, MinRule):
            value, limit, op = cand["low"] if rule.bound == "lower" else point, rule.min, ">="
            ok = value is not None and value >= limit
            point_ok = point is not None and point >= limit
        else:
            value, limit, op = cand["high"] if rule.bound == "upper" else point, rule.max, "<="
            ok = value is not None and value <= limit
            point_ok = point is not None and point <= limit
        note = ""
        if not ok and point_ok:  # failed on the interval's end only: too little data, not a bad level
            note = (
                f"; underpowered: the point estimate {point:.3f} meets {limit:g} but the interval's "
                f"{'lower' if op == '>=' else 'upper'} end does not, over {cand['n_items']} items"
            )
        return RuleResult(
            f"{name} {op} {limit:g} ({rule.bound})",
            ok,
            f"candidate {name} {format_estimate(cand)}; change {_fmt(block['delta'])}" + note,
            {"cand": cand, "delta": block["delta"], "underpowered": bool(note)},
        )

    return check


def _pass_hat_k(c: Comparison, rule: Any) -> RuleResult:
    assert isinstance(rule, PassHatK)
    keys = sorted(k for k in c.beyond if k.startswith("pass_hat_"))
    if rule.k and keys and f"pass_hat_{rule.k}" not in c.beyond:  # asked for explicitly: an error
        raise UsageError(
            f"the policy asks for pass^{rule.k}, but the runs support only {keys[-1].replace('pass_hat_', 'pass^')} "
            "(k is at most the smallest number of samples per item-variant in either run)"
        )
    key = f"pass_hat_{rule.k}" if rule.k else (keys[-1] if keys else "")
    block = _level(c, key, "pass_hat_k (needs 2+ samples per item in both runs)", "pass_hat_k")
    cand = block["cand_estimate"]
    ok = cand["value"] >= rule.min
    k = key.removeprefix("pass_hat_")
    return RuleResult(
        f"pass^{k} >= {rule.min:g}",
        ok,
        f"candidate pass^{k} {format_estimate(cand)}; change {_fmt(block['delta'])}",
        {"cand": cand, "delta": block["delta"]},
    )


def _latency(c: Comparison, rule: Any) -> RuleResult:
    assert isinstance(rule, Latency)
    block = _level(c, f"latency_p{rule.percentile}_ms", "latency (needs latencies in both runs)", "latency")
    ok = block["cand"] <= rule.max_ms
    message = (
        f"candidate p{rule.percentile} {block['cand']:.0f} ms (base {block['base']:.0f} ms; change "
        f"{format_estimate(block['delta'], 0, '+')} ms, paired bootstrap over {block['delta']['n_items']} items)"
    )
    if rule.max_increase_ms is not None:
        ok = ok and block["delta"]["value"] <= rule.max_increase_ms
    return RuleResult(f"latency p{rule.percentile} <= {rule.max_ms:g} ms", ok, message, block)


def _min_items(c: Comparison, rule: Any) -> RuleResult:
    assert isinstance(rule, MinItems)
    n = c.pairing["shared_items"]
    return RuleResult(f"shared items >= {rule.min}", n >= rule.min, f"{n} shared items", dict(c.pairing))


def _power(c: Comparison, rule: Any) -> RuleResult:
    assert isinstance(rule, Power)
    if c.power.get("identical"):
        raise _NotApplicable(f"{c.power['statement']} (no spread of item deltas to compute an MDE from)")
    mde = c.power.get("mde")
    ok = mde is not None and not math.isnan(mde) and mde <= rule.max_mde
    return RuleResult(
        f"minimum detectable effect <= {rule.max_mde:g}",
        ok,
        f"MDE {mde:.3f} at {c.power['power']:.0%} power: {c.power['statement']}" if mde else "too few items",
        dict(c.power),
    )


_CHECKS: dict[str, Any] = {
    "overall_delta": _overall,
    "no_slice_regression": _slices,
    "consistency": _level_rule("consistency", "consistency", "needs 2+ samples per item in both runs"),
    "json_validity": _level_rule("json_validity", "json_validity", "needs items that ask for JSON, with outputs"),
    "pass_hat_k": _pass_hat_k,
    "latency": _latency,
    "never_pass": _level_rule("never_pass", "never_pass", ""),
    "min_items": _min_items,
    "power": _power,
}
