"""Gate policies: declarative release rules over a comparison, validated like suites.

```yaml
# gate.yaml
name: release
rules:
  - overall_delta: {min_lower_bound: -0.02}        # the delta's CI lower bound >= -0.02
  - no_slice_regression: {margin: 0.05, adjust: by, min_items: 20}
  - consistency: {min: 0.8}                        # candidate's mean consistency
  - pass_hat_k: {min: 0.5}                         # candidate's pass^k (k = repeats)
  - latency: {percentile: 95, max_ms: 2000}        # candidate's p95 latency
  - json_validity: {min: 0.95}
  - never_pass: {max: 0.1}
  - min_items: {min: 200}                          # shared items
  - power: {max_mde: 0.03}                         # refuse an underpowered comparison
```
Threshold rules compare the candidate's point estimate by default; ``bound: lower`` (for ``min``)
or ``bound: upper`` (for ``max``) require the interval's end instead, i.e. evidence.

A rule whose subject the runs do not have (``json_validity`` when no item asks for JSON,
``consistency`` or ``pass_hat_k`` when neither run has repeats, ``latency`` when neither run has
latencies, ``no_slice_regression`` when no slice is big enough, ``power`` on identical results)
is *not applicable*: reported with its reason and, by default (``if_not_applicable: skip``), not
counted; ``fail`` makes it fail the gate, ``error`` stops with exit 2. What one run has and the
other lacks (repeats in the base only), or a parameter the runs cannot meet (``pass_hat_k: {k: 5}``
with 3 repeats), is always an error: the policy asks for something the runs cannot show.

Drift rules (``no_drift``, ``no_monitor_alarm``, ``max_psi``, ``min_reweighted_score``) judge a
drift report instead (``tailgate gate --drift drift.json``, :mod:`._drift_rules`); a policy may
mix both kinds, and each needs its subject.

The keys a rule entry may have are the rules declared in :mod:`._rules` and :mod:`._drift_rules`
(see :mod:`._registry`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from tailgate.config import load_yaml
from tailgate.errors import InputError
from tailgate.gate import _drift_rules, _judge_rules, _redteam_rules, _rules  # noqa: F401  (declare the built-in rules)
from tailgate.gate._registry import RULES, RuleParams

__all__ = ["JudgePolicy", "Policy", "RuleEntry", "load_policy"]


class _Entry(BaseModel):
    """One rule: a mapping with exactly one known key (a field per declared rule)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def only(self) -> tuple[str, RuleParams]:
        given = [(k, v) for k, v in self.__dict__.items() if v is not None]
        if len(given) != 1:
            raise ValueError("each rule must have exactly one kind, e.g. '- overall_delta: {min_lower_bound: -0.02}'")
        return given[0]


if TYPE_CHECKING:
    RuleEntry = _Entry
else:
    _fields: dict[str, Any] = {name: (spec.params | None, None) for name, spec in RULES.items()}
    RuleEntry = create_model("RuleEntry", __base__=_Entry, **_fields)


class JudgePolicy(BaseModel):
    """When a judge gives the score a rule decides on (docs/judges.md, "The gate and judges")."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    min_kappa: float = Field(0.4, ge=-1, le=1)
    """The judge's Cohen's kappa against the truth below this: the gate refuses to decide."""
    bound: Literal["point", "upper", "lower"] = "point"
    """Which kappa is held to ``min_kappa``: ``point`` (the estimate: refuse a judge estimated poor),
    ``upper`` (refuse only a judge clearly poor: even the interval's upper end is below) or
    ``lower`` (refuse a judge not shown good: the interval's lower end is below)."""
    allow_poor: bool = False
    """Decide anyway on a judge below ``min_kappa`` (the result says so)."""
    allow_unverified: bool = False
    """Decide anyway on a judge with no labelled item to check it against (the result says so)."""


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = "gate"
    confidence: float = Field(0.95, gt=0, lt=1)
    """Confidence level of every interval the gate judges."""
    rules: Annotated[list[RuleEntry], Field(min_length=1)]
    judge: JudgePolicy = JudgePolicy()
    """How far a judge behind the scores must agree with the truth for the gate to decide."""


def load_policy(path: str) -> Policy:
    """Load and validate a policy file; errors name the file, line and key."""
    data, source = load_yaml(Path(path), path)
    if not isinstance(data, dict):
        raise InputError("a policy must be a YAML mapping with 'rules'", file=path, line=1)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [p for p in err["loc"] if isinstance(p, (str, int))]
        message = "unknown key" if err["type"] == "extra_forbidden" else str(err["msg"]).removeprefix("Value error, ")
        raise source.error(loc, message) from None
    for index, rule in enumerate(policy.rules):
        try:
            rule.only()
        except ValueError as exc:
            raise source.error(("rules", index), str(exc)) from None
    return policy
