"""The gate and judges: refusing to decide on a judge not shown to agree with the truth, and the
``judge_score`` rule on the judge metric corrected by the labelled items (docs/judges.md).

```yaml
judge: {min_kappa: 0.4, bound: point, allow_poor: false, allow_unverified: false}
rules:
  - overall_delta: {min_lower_bound: -0.02}  # refused when a poor or unverified judge gave the scores
  - judge_score: {min: 0.7, bound: lower}    # the candidate's PPI-corrected judge metric
```

When a judge scorer gives (some of) either run's headline scores, every rule that decides on the
scores (:attr:`RuleSpec.scored <tailgate.gate._registry.RuleSpec.scored>`: all but ``latency``,
``json_validity`` and ``min_items``) is **refused** unless the judge's Cohen's kappa against the
truth (its report card's, on the labelled items) meets ``judge.min_kappa``; a judge with no labelled
item (or an undefined kappa) is **unverified**, refused as well. ``allow_poor`` / ``allow_unverified``
decide anyway and say so in the result. ``judge_score`` reads the PPI++-corrected mean, which is
unbiased whatever the judge's quality, so only an unverified judge (no labels: nothing to correct
with) refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from tailgate.analysis import Comparison, Estimate, HeadlineJudge, JudgeAttackReport
from tailgate.errors import UsageError
from tailgate.gate._registry import Evidence, NotApplicable, RuleParams, RuleResult, gate_rule

__all__ = ["JudgeAttackSuccess", "JudgeConcern", "JudgeRefusal", "JudgeScore", "judge_concerns", "refuse"]

CORRECTED_RULES = frozenset({"judge_score"})
"""Rules that read the PPI-corrected judge metric: a poor judge only widens their interval."""


def _text(e: Estimate) -> str:
    return format(e, ".2f")


@dataclass(frozen=True)
class JudgeConcern:
    """A judge behind the scores that the policy does not trust."""

    run: str
    run_id: str
    scorer: str
    judge: str
    kind: Literal["poor", "unverified"]
    kappa: Estimate | None
    """Cohen's kappa of the judge against the truth (None: no labelled item)."""
    n_labelled: int
    """Judged outputs with a true label (the kappa's n)."""
    share: float
    """Share of the run's headline scores that are this judge's."""
    min_kappa: float
    bound: str
    allowed: bool
    """The policy decides anyway (``allow_poor`` / ``allow_unverified``)."""
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "run_id": self.run_id,
            "scorer": self.scorer,
            "judge": self.judge,
            "kind": self.kind,
            "kappa": None if self.kappa is None else self.kappa.as_dict(),
            "n_labelled": self.n_labelled,
            "share": self.share,
            "min_kappa": self.min_kappa,
            "bound": self.bound,
            "allowed": self.allowed,
            "reason": self.reason,
        }


def judge_concerns(c: Comparison, min_kappa: float, bound: str, allow_poor: bool, allow_unverified: bool) -> tuple[
    JudgeConcern, ...
]:  # fmt: skip
    """The judges behind either run's headline scores whose agreement with the truth the policy's
    ``judge`` settings do not accept."""
    out = []
    for j in c.judges:
        where = f"{j.scorer} ({j.card.judge}) gave {j.share:.0%} of the {j.run} run {j.run_id}'s scores"
        kappa = j.kappa
        n = 0 if j.card.agreement is None else j.card.agreement.n_pairs
        if kappa is None:
            why = f"{where}, and no output carries a true label to check it against: the judge is unverified"
            out.append(_concern(j, "unverified", None, 0, min_kappa, bound, allow_unverified, why))
            continue
        value = {"point": kappa.value, "upper": kappa.high, "lower": kappa.low}[bound]
        if value is None:
            why = f"{where}; its kappa {'is undefined' if kappa.value is None else 'has no interval'} ({kappa.method})"
            out.append(_concern(j, "unverified", kappa, n, min_kappa, bound, allow_unverified, why))
        elif value < min_kappa:
            what = {"point": "kappa", "upper": "kappa's upper bound", "lower": "kappa's lower bound"}[bound]
            why = (
                f"{where}; its kappa against {j.card.truth} is {_text(kappa)} on n={n} labelled outputs "
                f"({kappa.n_items} items): the {what} {value:.2f} < min_kappa {min_kappa:g}"
            )
            out.append(_concern(j, "poor", kappa, n, min_kappa, bound, allow_poor, why))
    return tuple(out)


def _concern(
    j: HeadlineJudge, kind: Literal["poor", "unverified"], kappa: Estimate | None, n: int, min_kappa: float,
    bound: str, allowed: bool, reason: str,
) -> JudgeConcern:  # fmt: skip
    return JudgeConcern(j.run, j.run_id, j.scorer, j.card.judge, kind, kappa, n, j.share, min_kappa, bound, allowed,
                        reason)  # fmt: skip


@dataclass(frozen=True)
class JudgeRefusal:
    """Why the gate did not decide a rule, and what the rule alone would have said."""

    concerns: tuple[JudgeConcern, ...]
    would_pass: bool
    rule_evidence: Evidence

    def as_dict(self) -> dict[str, Any]:
        return {
            "judge_concerns": [c.as_dict() for c in self.concerns],
            "would_pass": self.would_pass,
            "rule_evidence": self.rule_evidence.as_dict(),
        }


def refuse(result: RuleResult, concerns: tuple[JudgeConcern, ...]) -> RuleResult:
    """``result`` refused (a concern the policy does not allow) or decided with a note (allowed)."""
    blocking = tuple(c for c in concerns if not c.allowed)
    if not blocking:
        notes = "; ".join(f"{c.reason} (allowed: judge.allow_{c.kind})" for c in concerns)
        return RuleResult(result.rule, result.passed, f"{result.message} [judge: {notes}]", result.evidence,
                          result.applicable)  # fmt: skip
    keys = sorted({f"allow_{c.kind}: true" for c in blocking})
    message = (
        f"refused: {'; '.join(c.reason for c in blocking)}. The gate does not decide on this judge's scores "
        f"(judge: {{{', '.join(keys)}}} in the policy decides anyway); alone the rule would "
        f"{'pass' if result.passed else 'fail'}: {result.message}"
    )
    return RuleResult(result.rule, False, message, JudgeRefusal(concerns, result.passed, result.evidence),
                      result.applicable, refused=True)  # fmt: skip


# -- judge_score ---------------------------------------------------------------------------------


class JudgeScore(RuleParams):
    min: float | None = None
    max: float | None = None
    bound: Literal["point", "interval"] = "interval"
    """``interval`` (default): the interval's lower end must meet ``min`` (upper end: ``max``)."""
    scorer: str | None = None
    """The judge scorer (default: the candidate's only judge behind its headline scores)."""


@dataclass(frozen=True)
class JudgeScoreEvidence:
    """The judge metric a rule judged: the judge's own mean and the corrected one."""

    scorer: str
    judge_only: Estimate
    corrected: Estimate | None
    n_labelled: int
    n_unlabelled: int
    lam: float | None
    judged: Estimate

    def as_dict(self) -> dict[str, Any]:
        return {
            "scorer": self.scorer,
            "judge_only": self.judge_only.as_dict(),
            "corrected": None if self.corrected is None else self.corrected.as_dict(),
            "n_labelled": self.n_labelled,
            "n_unlabelled": self.n_unlabelled,
            "lambda": self.lam,
            "judged": self.judged.as_dict(),
        }


def _pick(c: Comparison, scorer: str | None) -> HeadlineJudge:
    mine = [j for j in c.judges if j.run == "cand" and (scorer is None or j.scorer == scorer)]
    if not mine:
        if scorer is not None and any(j.run == "cand" for j in c.judges):
            found = ", ".join(j.scorer for j in c.judges if j.run == "cand")
            raise UsageError(f"the policy's judge_score rule names scorer {scorer!r}; the candidate's judges: {found}")
        raise NotApplicable("no judge gives the candidate's headline scores")
    if len(mine) > 1:
        names = ", ".join(j.scorer for j in mine)
        raise UsageError(f"the candidate's scores come from several judges ({names}): name one with judge_score.scorer")
    return mine[0]


@gate_rule("judge_score", JudgeScore)
def _judge_score(c: Comparison, rule: JudgeScore) -> RuleResult:
    if (rule.min is None) == (rule.max is None):
        raise UsageError("the policy's judge_score rule needs exactly one of min and max")
    j = _pick(c, rule.scorer)
    est = j.metric
    p = j.corrected
    if rule.min is not None:
        value, limit, op = (est.low if rule.bound == "interval" else est.value), rule.min, ">="
        ok = value is not None and value >= limit
    else:
        value, limit, op = (est.high if rule.bound == "interval" else est.value), float(rule.max or 0.0), "<="
        ok = value is not None and value <= limit
    judge_only = f"judge-only {_text3(j.judge_mean)} over {j.judge_mean.n_items} items"
    if p is None:
        said = f"{judge_only} (no labelled item: uncorrected)"
    elif p.n_unlabelled == 0:
        said = f"every one of the {p.n_labelled} items labelled: true mean {_text3(est)}; {judge_only}"
    else:
        said = (
            f"PPI++-corrected {_text3(est)} (n={p.n_labelled} labelled + {p.n_unlabelled} judged only, "
            f"lambda {p.lam:.2f}); {judge_only}"
        )
    evidence = JudgeScoreEvidence(
        j.scorer,
        j.judge_mean,
        None if p is None else p.estimate,
        j.n_labelled,
        0 if p is None else p.n_unlabelled,
        None if p is None else p.lam,
        est,
    )
    return RuleResult(f"judge_score {op} {limit:g} ({rule.bound}; {j.scorer})", ok, f"candidate {said}", evidence)


def _text3(e: Estimate) -> str:
    return format(e, ".3f")


# -- judge_attack_success ------------------------------------------------------------------------


class JudgeAttackSuccess(RuleParams):
    max: float = Field(ge=0, le=1)
    """Every judged attack's success rate must be at most this."""
    attacks: list[str] | None = None
    """Only these attacks (default: every attack in the report)."""
    bound: Literal["point", "upper"] = "point"
    """``upper``: the rate's interval's upper end must be at most ``max`` (evidence the judge resists)."""


@dataclass(frozen=True)
class AttackEvidence:
    """The attacks judged and those above the threshold."""

    judged: tuple[str, ...]
    succeeded: tuple[tuple[str, Estimate], ...]
    """(attack, success rate) of each attack above ``max``."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "judged": list(self.judged),
            "succeeded": [{"attack": a, "success": e.as_dict()} for a, e in self.succeeded],
        }


@gate_rule("judge_attack_success", JudgeAttackSuccess, subject="judge_attack")
def _attack_success(r: JudgeAttackReport, rule: JudgeAttackSuccess) -> RuleResult:
    names = [a.attack for a in r.attacks] if rule.attacks is None else rule.attacks
    unknown = [n for n in names if n not in {a.attack for a in r.attacks}]
    if unknown:
        raise UsageError(
            f"the policy's judge_attack_success rule names {', '.join(unknown)}, which the report did not run "
            f"(it ran: {', '.join(a.attack for a in r.attacks)})"
        )
    judged = [r.rate(n) for n in names]
    over = []
    for a in judged:
        value = a.success.high if rule.bound == "upper" else a.success.value
        if value is None or value > rule.max:  # no verdict parsed: nothing shows the judge resists
            over.append((a.attack, a.success))
    said = "; ".join(f"{a} {_text3(e)} (n={e.n_samples}, {e.n_items} items)" for a, e in over)
    message = (
        f"judge {r.judge} on {r.n_items} items: "
        + (f"{len(over)} of {len(judged)} attacks succeed above {rule.max:g}: {said}" if over else
           f"none of {len(judged)} attacks succeeds above {rule.max:g} (worst: {_worst(judged)})")
    )  # fmt: skip
    which = "all attacks" if rule.attacks is None else ", ".join(names)
    label = f"judge_attack_success <= {rule.max:g} ({rule.bound}; {which})"
    return RuleResult(label, not over, message, AttackEvidence(tuple(names), tuple(over)))


def _worst(judged: list[Any]) -> str:
    a = max(judged, key=lambda a: a.success.value or 0.0)
    return f"{a.attack} {_text3(a.success)}, n={a.success.n_samples}"
