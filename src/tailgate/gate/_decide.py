"""Deciding a release: each rule of a policy, checked against its subject (a comparison of two
runs, or a drift report of traffic windows), with its evidence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tailgate.analysis import Comparison, DriftReport, JudgeAttackReport, RedTeamReport
from tailgate.errors import UsageError
from tailgate.gate._judge_rules import CORRECTED_RULES, JudgeConcern, judge_concerns, refuse
from tailgate.gate._policy import Policy
from tailgate.gate._registry import RULES, NotApplicable, RuleParams, RuleResult, Subject

__all__ = ["Decision", "NotApplicableEvidence", "decide", "subjects"]


@dataclass(frozen=True)
class NotApplicableEvidence:
    """Why a rule had nothing to judge, with what it found (e.g. the slices too small)."""

    reason: str
    found: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"not_applicable": self.reason, **self.found}


@dataclass(frozen=True)
class Decision:
    """A policy's verdict: every rule's result, and what the rules judged (a comparison of two
    runs, a drift report, or both)."""

    policy: str
    """The policy's name."""
    passed: bool
    """True when every rule passed (a not-applicable rule passes unless ``if_not_applicable: fail``)."""
    results: tuple[RuleResult, ...]
    """One per rule, in the policy's order."""
    comparison: Comparison | None
    """The comparison the ``comparison`` rules judged (None: the policy has none)."""
    drift: DriftReport | None = None
    """The drift report the ``drift`` rules judged (None: the policy has none)."""
    judge_attack: JudgeAttackReport | None = None
    """The judge attack report the ``judge_attack_success`` rules judged (None: the policy has none)."""
    redteam: RedTeamReport | None = None
    """The red-team report the ``attack_success`` rules judged (None: the policy has none)."""

    @property
    def refused(self) -> bool:
        """Some rule was not decided: its score comes from a judge the policy does not trust."""
        return any(r.refused for r in self.results)

    @property
    def exit_code(self) -> int:
        """0 pass, 1 a rule failed, 3 no rule failed but some were refused (an untrusted judge)."""
        if self.passed:
            return 0
        return 1 if any(r.status == "fail" for r in self.results) else 3

    def as_dict(self) -> dict[str, Any]:
        return (
            {
                "policy": self.policy,
                "passed": self.passed,
                "rules": [r.as_dict() for r in self.results],
                "comparison": self.comparison.as_dict() if self.comparison is not None else None,
                "drift": self.drift.as_dict() if self.drift is not None else None,
            }
            | ({"judge_attack": self.judge_attack.as_dict()} if self.judge_attack is not None else {})
            | ({"redteam": self.redteam.as_dict()} if self.redteam is not None else {})
        )


_WHAT = {"drift": "a drift report (--drift)", "comparison": "two runs to compare",
         "judge_attack": "a judge attack report (--judge-attack)",
         "redteam": "a red-team report (--redteam)"}  # fmt: skip
_HOW = {"drift": "a drift report (tailgate gate --drift FILE)", "comparison": "two runs (BASE CAND)",
        "judge_attack": "a judge attack report (tailgate gate --judge-attack FILE)",
        "redteam": "a red-team report (tailgate gate --redteam FILE)"}  # fmt: skip


def subjects(policy: Policy) -> set[Subject]:
    """What the policy's rules judge: ``comparison``, ``drift`` or both."""
    return {RULES[entry.only()[0]].subject for entry in policy.rules}


def decide(
    comparison: Comparison | None,
    policy: Policy,
    *,
    drift: DriftReport | None = None,
    judge_attack: JudgeAttackReport | None = None,
    redteam: RedTeamReport | None = None,
) -> Decision:
    """Check every rule on its subject; the gate passes when all do.

    Raises:
        UsageError: a rule's subject was not given (a drift rule without ``drift``, a comparison
            rule without ``comparison``), or a subject was given that no rule judges.

    Example:
        >>> decision = decide(compare_runs(store, "base", "cand"), load_policy("gate.yaml"))  # doctest: +SKIP
        >>> decision.passed, [r.status for r in decision.results]  # doctest: +SKIP
    """
    given: dict[Subject, Comparison | DriftReport | JudgeAttackReport | RedTeamReport | None] = {
        "comparison": comparison,
        "drift": drift,
        "judge_attack": judge_attack,
        "redteam": redteam,
    }
    needed = subjects(policy)
    for subject, value in given.items():
        if value is not None and subject not in needed:
            what = _WHAT[subject]
            raise UsageError(f"{what} was given, but the policy '{policy.name}' has no {subject} rule")
    for subject in needed:
        if given[subject] is None:
            kinds = ", ".join(e.only()[0] for e in policy.rules if RULES[e.only()[0]].subject == subject)
            how = _HOW[subject]
            raise UsageError(f"the policy's {kinds} rule(s) judge {how}, and none was given")
    j = policy.judge
    concerns = () if comparison is None else judge_concerns(comparison, j.min_kappa, j.bound, j.allow_poor,
                                                            j.allow_unverified)  # fmt: skip
    results = []
    for entry in policy.rules:
        kind, rule = entry.only()
        spec = RULES[kind]
        try:
            result = spec.check(given[spec.subject], rule)
        except NotApplicable as na:
            results.append(_not_applicable(kind, rule, na))
            continue
        mine = _concerns_of(kind, concerns) if spec.scored else ()
        results.append(refuse(result, mine) if mine else result)
    passed = all(r.passed for r in results)
    return Decision(policy.name, passed, tuple(results), comparison, drift, judge_attack, redteam)


def _concerns_of(kind: str, concerns: tuple[JudgeConcern, ...]) -> tuple[JudgeConcern, ...]:
    """The concerns that bear on rule ``kind``: a rule on the corrected judge metric minds only an
    unverified candidate judge (the correction removes a poor judge's bias)."""
    if kind in CORRECTED_RULES:
        return tuple(c for c in concerns if c.kind == "unverified" and c.run == "cand")
    return concerns


def _not_applicable(kind: str, rule: RuleParams, na: NotApplicable) -> RuleResult:
    if rule.if_not_applicable == "error":
        raise UsageError(
            f"the policy's {kind} rule does not apply here: {na.reason} (if_not_applicable: error; "
            "'skip' reports it as not applicable)"
        )
    fails = rule.if_not_applicable == "fail"
    message = f"not applicable: {na.reason}" + (" (if_not_applicable: fail)" if fails else "")
    evidence = NotApplicableEvidence(na.reason, na.evidence.as_dict())
    return RuleResult(kind, not fails, message, evidence, applicable=False)
