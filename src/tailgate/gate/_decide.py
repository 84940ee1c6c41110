"""Deciding a release: each rule of a policy, checked against a comparison, with its evidence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tailgate.analysis import Comparison
from tailgate.errors import UsageError
from tailgate.gate._policy import Policy
from tailgate.gate._registry import RULES, NotApplicable, RuleParams, RuleResult

__all__ = ["Decision", "NotApplicableEvidence", "decide"]


@dataclass(frozen=True)
class NotApplicableEvidence:
    """Why a rule had nothing to judge, with what it found (e.g. the slices too small)."""

    reason: str
    found: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"not_applicable": self.reason, **self.found}


@dataclass(frozen=True)
class Decision:
    """A policy's verdict on a comparison: every rule's result, and the comparison itself."""

    policy: str
    """The policy's name."""
    passed: bool
    """True when every rule passed (a not-applicable rule passes unless ``if_not_applicable: fail``)."""
    results: tuple[RuleResult, ...]
    """One per rule, in the policy's order."""
    comparison: Comparison

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "passed": self.passed,
            "rules": [r.as_dict() for r in self.results],
            "comparison": self.comparison.as_dict(),
        }


def decide(comparison: Comparison, policy: Policy) -> Decision:
    """Check every rule; the gate passes when all do.

    Example:
        >>> decision = decide(compare_runs(store, "base", "cand"), load_policy("gate.yaml"))  # doctest: +SKIP
        >>> decision.passed, [r.status for r in decision.results]  # doctest: +SKIP
    """
    results = []
    for entry in policy.rules:
        kind, rule = entry.only()
        try:
            results.append(RULES[kind].check(comparison, rule))
        except NotApplicable as na:
            results.append(_not_applicable(kind, rule, na))
    return Decision(policy.name, all(r.passed for r in results), tuple(results), comparison)


def _not_applicable(kind: str, rule: RuleParams, na: NotApplicable) -> RuleResult:
    if rule.if_not_applicable == "error":
        raise UsageError(
            f"the policy's {kind} rule does not apply to these runs: {na.reason} (if_not_applicable: error; "
            "'skip' reports it as not applicable)"
        )
    fails = rule.if_not_applicable == "fail"
    message = f"not applicable: {na.reason}" + (" (if_not_applicable: fail)" if fails else "")
    evidence = NotApplicableEvidence(na.reason, na.evidence.as_dict())
    return RuleResult(kind, not fails, message, evidence, applicable=False)
