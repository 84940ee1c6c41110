"""The built-in drift rules: they judge a :class:`~tailgate.analysis.DriftReport` (``tailgate gate
--drift drift.json``), not a comparison of two runs.

```yaml
rules:
  - no_drift: {attributes: [lang, has_code], alpha: 0.01}   # none BH-adjusted p <= alpha
  - no_monitor_alarm: {}                                      # monitoring mode: the monitor did not alarm
  - max_psi: {attribute: lang, max: 0.1}                      # PSI (point, or bound: upper)
  - min_reweighted_score: {min: 0.7}                          # the re-weighted score's CI lower bound
```
The window judged is the report's explained window: the pair's current window, or in
monitoring mode the window of the first alarm (else the last one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from tailgate.analysis import DriftComparison, DriftReport, Estimate, format_p
from tailgate.errors import UsageError
from tailgate.gate._registry import NoEvidence, NotApplicable, RuleParams, RuleResult, gate_rule

__all__ = ["MaxPsi", "MinReweightedScore", "NoDrift", "NoMonitorAlarm"]


def _window(r: DriftReport) -> tuple[DriftComparison, str]:
    c = r.comparison()
    return c, f"{r.windows[c.window].name} against {r.windows[0].name}"


class NoDrift(RuleParams):
    attributes: list[str] | None = None
    """Only these attributes (or text tests, e.g. ``text: domain classifier``); default: every test."""
    alpha: float | None = Field(None, gt=0, lt=1)
    """Drift is a BH-adjusted p-value at most this (default: the report's alpha)."""


@dataclass(frozen=True)
class DriftEvidence:
    """The tests a drift rule judged and those that drifted."""

    window: int
    judged: tuple[str, ...]
    drifted: tuple[tuple[str, float], ...]
    """(test, adjusted p-value) of each drifted test."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "judged": list(self.judged),
            "drifted": [{"test": name, "p_adjusted": p} for name, p in self.drifted],
        }


@gate_rule("no_drift", NoDrift, subject="drift")
def _no_drift(r: DriftReport, rule: NoDrift) -> RuleResult:
    c, where = _window(r)
    tests = {a.name: a.p_adjusted for a in c.attributes.attributes} | {t.name: t.p_adjusted for t in c.text}
    names = list(tests) if rule.attributes is None else rule.attributes
    unknown = [n for n in names if n not in tests]
    if unknown:
        raise UsageError(
            f"the policy's no_drift rule names {', '.join(unknown)}, which the drift report did not test "
            f"(tested: {', '.join(tests)})"
        )
    alpha = r.alpha if rule.alpha is None else rule.alpha
    drifted = tuple((n, tests[n]) for n in names if tests[n] <= alpha)
    said = "; ".join(f"{n} (p adj {format_p(p)})" for n, p in drifted)
    message = f"{where}: " + (f"drift in {said}" if drifted else f"none of {len(names)} tests drifted")
    label = f"no_drift ({'all tests' if rule.attributes is None else ', '.join(names)}; BH at {alpha:g})"
    return RuleResult(label, not drifted, message, DriftEvidence(c.window, tuple(names), drifted))


class NoMonitorAlarm(RuleParams):
    pass


@dataclass(frozen=True)
class AlarmEvidence:
    """The monitor's verdict."""

    alarm_at: int | None
    windows: int
    statistic: float
    threshold: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "alarm_at": self.alarm_at,
            "windows": self.windows,
            "statistic": self.statistic,
            "threshold": self.threshold,
        }


@gate_rule("no_monitor_alarm", NoMonitorAlarm, subject="drift")
def _no_alarm(r: DriftReport, rule: NoMonitorAlarm) -> RuleResult:
    m = r.monitor
    if m is None:
        raise NotApplicable("the drift report compares two windows; the monitor runs with tailgate drift --every")
    step = m.steps[m.alarm_at] if m.alarm_at is not None else m.steps[-1]
    if m.alarm_at is not None:
        message = f"the monitor alarmed at window {m.alarm_at} (statistic {step.statistic:.3g} >= {step.threshold:g})"
    else:
        message = f"no alarm over {len(m.steps) - 1} windows (statistic {step.statistic:.3g} < {step.threshold:g})"
    evidence = AlarmEvidence(m.alarm_at, len(m.steps) - 1, step.statistic, step.threshold)
    return RuleResult(f"no_monitor_alarm (alpha {m.alpha:g})", m.alarm_at is None, message, evidence)


class MaxPsi(RuleParams):
    attribute: str
    max: float = Field(gt=0)
    bound: Literal["point", "upper"] = "point"
    """``upper``: the PSI's bootstrap interval's upper end must be at most ``max``."""


@gate_rule("max_psi", MaxPsi, subject="drift")
def _max_psi(r: DriftReport, rule: MaxPsi) -> RuleResult:
    c, where = _window(r)
    found = next((a for a in c.attributes.attributes if a.name == rule.attribute), None)
    if found is None:
        tested = ", ".join(a.name for a in c.attributes.attributes)
        raise UsageError(
            f"the policy's max_psi rule names {rule.attribute!r}, which the report did not test ({tested})"
        )
    value = found.psi.high if rule.bound == "upper" else found.psi.value
    ok = value is not None and value <= rule.max
    return RuleResult(
        f"PSI of {rule.attribute} <= {rule.max:g} ({rule.bound})",
        ok,
        f"{where}: PSI {found.psi:.3f}",
        found.psi,
    )


class MinReweightedScore(RuleParams):
    min: float
    bound: Literal["point", "lower"] = "lower"
    """``lower`` (default): the interval's lower end must be at least ``min``."""


@dataclass(frozen=True)
class ScoreEvidence:
    """The re-weighted score a rule judged."""

    window: int
    reweighted: Estimate
    suite: Estimate

    def as_dict(self) -> dict[str, Any]:
        return {"window": self.window, "reweighted": self.reweighted.as_dict(), "suite": self.suite.as_dict()}


@gate_rule("min_reweighted_score", MinReweightedScore, subject="drift")
def _min_reweighted(r: DriftReport, rule: MinReweightedScore) -> RuleResult:
    c, where = _window(r)
    q = r.windows[c.window].quality
    if q is None:
        raise NotApplicable("the drift report re-weights no run (tailgate drift --run RUN --by ...)", NoEvidence())
    value = q.reweighted.low if rule.bound == "lower" else q.reweighted.value
    ok = value is not None and value >= rule.min
    return RuleResult(
        f"re-weighted score >= {rule.min:g} ({rule.bound})",
        ok,
        f"{where}: run {r.run_id} re-weighted {q.reweighted:.3f} (suite {q.suite:.3f})",
        ScoreEvidence(c.window, q.reweighted, q.suite),
    )
