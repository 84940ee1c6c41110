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
    message: str
    evidence: dict[str, Any]


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
            "rules": [asdict(r) for r in self.results],
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
        check = _CHECKS[kind]
        results.append(check(comparison, rule))
    return Decision(policy.name, all(r.passed for r in results), results, comparison)


def _overall(c: Comparison, rule: Any) -> RuleResult:
    assert isinstance(rule, OverallDelta)
    est = c.overall["estimate"]
    low = est["low"]
    ok = low is not None and low >= rule.min_lower_bound
    return RuleResult(
        f"overall_delta >= {rule.min_lower_bound:+g} (CI lower bound)",
        ok,
        f"delta {_fmt(est)} over {est['n_items']} items" + _pvalue(c.overall.get("p_value")),
        {"delta": est, "p_value": c.overall.get("p_value"), "test": c.overall.get("test")},
    )


def _slices(c: Comparison, rule: Any) -> RuleResult:
    from scipy import stats

    assert isinstance(rule, NoSliceRegression)
    judged = [s for s in c.slices if s["n_items"] >= rule.min_items]
    skipped = [s["slice"] for s in c.slices if s["n_items"] < rule.min_items]
    if not judged:
        return RuleResult(
            f"no_slice_regression (margin {rule.margin:g})",
            True,
            "no slice has enough shared items to be judged",
            {"judged": 0, "too_small": skipped},
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


def _level(block: dict[str, Any] | None, what: str) -> dict[str, Any]:
    if block is None:
        raise UsageError(f"the policy has a {what} rule, but the runs do not support it (see tailgate compare)")
    return block


def _level_rule(name: str, key: str, needs: str) -> Any:
    """A threshold on the candidate's level of ``key``: ``min`` (or ``bound: lower``, its interval's
    lower end) for MinRule, ``max`` (or ``bound: upper``) for MaxRule."""

    def check(c: Comparison, rule: Any) -> RuleResult:
        assert isinstance(rule, (MinRule, MaxRule))
        block = _level(c.beyond.get(key), f"{name} ({needs})" if needs else name)
        cand = block["cand_estimate"]
        if isinstance(rule, MinRule):
            value, limit, op = cand["low"] if rule.bound == "lower" else cand["value"], rule.min, ">="
            ok = value is not None and value >= limit
        else:
            value, limit, op = cand["high"] if rule.bound == "upper" else cand["value"], rule.max, "<="
            ok = value is not None and value <= limit
        return RuleResult(
            f"{name} {op} {limit:g} ({rule.bound})",
            ok,
            f"candidate {name} {format_estimate(cand)}; change {_fmt(block['delta'])}",
            {"cand": cand, "delta": block["delta"]},
        )

    return check


def _pass_hat_k(c: Comparison, rule: Any) -> RuleResult:
    assert isinstance(rule, PassHatK)
    keys = sorted(k for k in c.beyond if k.startswith("pass_hat_"))
    key = f"pass_hat_{rule.k}" if rule.k else (keys[-1] if keys else "")
    block = _level(c.beyond.get(key), "pass_hat_k (needs 2+ samples per item in both runs)")
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
    block = _level(c.beyond.get(f"latency_p{rule.percentile}_ms"), "latency (needs latencies in both runs)")
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
