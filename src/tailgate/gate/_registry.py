"""The gate's rule registry: a rule is declared once, with :func:`gate_rule`, in :mod:`._rules`.

A declaration names the rule's key in a policy file, the pydantic model of its parameters, its
*subject* (what it judges: ``comparison``, a :class:`~tailgate.analysis.Comparison` of two runs, or
``drift``, a :class:`~tailgate.analysis.DriftReport` of traffic windows) and the check; the policy
schema (which keys a ``rules:`` entry may have) is built from the registry, so adding a rule
touches one place.

A check returns a :class:`RuleResult` whose evidence is a typed object (an analysis result or
one of the gate's own), serialised only by :meth:`RuleResult.as_dict`; it raises
:class:`NotApplicable` when the runs have nothing for it to judge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from tailgate.analysis import Comparison, DriftReport, JudgeAttackReport, RedTeamReport

__all__ = [
    "RULES",
    "Evidence",
    "NoEvidence",
    "NotApplicable",
    "RuleParams",
    "RuleResult",
    "RuleSpec",
    "Subject",
    "gate_rule",
]

Subject = Literal["comparison", "drift", "judge_attack", "redteam"]
"""What a rule judges: a comparison of two runs, a drift report of traffic windows, a judge
attack report (``tailgate judge-attack --json``) or a red-team report (``tailgate redteam --json``)."""


class RuleParams(BaseModel):
    """Parameters every rule has; a rule's own model adds its thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    if_not_applicable: Literal["skip", "fail", "error"] = "skip"
    """When the runs have nothing for the rule to judge: report it as not applicable (``skip``),
    fail the gate (``fail``) or stop with an error, exit 2 (``error``)."""


class Evidence(Protocol):
    """What a rule judged, as it appears in the gate's JSON."""

    def as_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class NoEvidence:
    """A rule that judged nothing beyond its message."""

    def as_dict(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class RuleResult:
    """One rule checked against a comparison."""

    rule: str
    """The rule with its threshold, e.g. ``overall_delta >= -0.02 (CI lower bound)``."""
    passed: bool
    """False when the rule fails the gate (a not-applicable rule passes unless ``if_not_applicable: fail``)."""
    message: str
    """The evidence in one line for a person."""
    evidence: Evidence
    """What the rule judged (estimates, failing slices...)."""
    applicable: bool = True
    """False when the runs have nothing for the rule to judge (see ``message`` for why)."""
    refused: bool = False
    """True when the gate refused to decide: the score comes from a judge not shown to agree with
    the truth (``passed`` is then False; the message says why)."""

    @property
    def status(self) -> str:
        """``pass``, ``fail``, ``not_applicable`` or ``refused``."""
        if self.refused:
            return "refused"
        if not self.applicable and self.passed:
            return "not_applicable"
        return "pass" if self.passed else "fail"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "passed": self.passed,
            "message": self.message,
            "evidence": self.evidence.as_dict(),
            "applicable": self.applicable,
            "status": self.status,
        } | ({"refused": True} if self.refused else {})


class NotApplicable(Exception):
    """The runs have nothing for this rule to judge; the reason says what is missing."""

    def __init__(self, reason: str, evidence: Evidence | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.evidence: Evidence = evidence or NoEvidence()


P = TypeVar("P", bound=RuleParams)
S = TypeVar("S", Comparison, DriftReport, JudgeAttackReport, RedTeamReport)
Check = Callable[[Any, Any], RuleResult]


@dataclass(frozen=True)
class RuleSpec:
    """A declared rule: its key in a policy, its parameters, its subject and its check."""

    name: str
    params: type[RuleParams]
    check: Check
    subject: Subject = "comparison"
    scored: bool = True
    """The rule decides on the runs' scores (so on a judge's, when a judge gives them)."""


RULES: dict[str, RuleSpec] = {}
"""Every rule by its key in a policy, in declaration order."""


def gate_rule(
    name: str, params: type[P], subject: Subject = "comparison", scored: bool | None = None
) -> Callable[[Callable[[S, P], RuleResult]], Check]:
    """Declare the rule ``name``: a policy entry ``- name: {...}`` validated by ``params`` and
    judged by the decorated check on its ``subject`` (a Comparison, or a DriftReport).
    ``scored``: the rule decides on the comparison's scores (default: every comparison rule), so
    the gate refuses it when a judge not shown to agree with the truth gave them."""

    def declare(check: Callable[[S, P], RuleResult]) -> Check:
        if name in RULES:
            raise ValueError(f"gate rule {name!r} is declared twice")
        RULES[name] = RuleSpec(name, params, check, subject, subject == "comparison" if scored is None else scored)
        return check

    return declare
