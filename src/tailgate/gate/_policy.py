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
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tailgate.config import load_yaml
from tailgate.errors import InputError

__all__ = ["Policy", "load_policy"]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    if_not_applicable: Literal["skip", "fail", "error"] = "skip"
    """When the runs have nothing for the rule to judge: report it as not applicable (``skip``),
    fail the gate (``fail``) or stop with an error, exit 2 (``error``)."""


class OverallDelta(_Rule):
    min_lower_bound: float = 0.0
    """The overall paired delta's lower confidence bound must be at least this (e.g. -0.02)."""


class NoSliceRegression(_Rule):
    margin: float = Field(0.0, ge=0)
    """A slice fails when it is significantly worse than ``-margin`` (one-sided, adjusted)."""
    adjust: Literal["bh", "by"] = "by"
    """Multiplicity correction over slices: Benjamini-Yekutieli (default, valid for overlapping
    slices) or Benjamini-Hochberg."""
    alpha: float = Field(0.05, gt=0, lt=1)
    min_items: int = Field(10, ge=2)
    """Slices with fewer shared items are not judged (and are listed as such)."""


class MinRule(_Rule):
    min: float
    bound: Literal["point", "lower"] = "point"


class MaxRule(_Rule):
    max: float
    bound: Literal["point", "upper"] = "point"


class PassHatK(_Rule):
    min: float
    k: int | None = Field(None, ge=1)
    """Default: the largest k both runs support (at most 10)."""


class Latency(_Rule):
    percentile: Literal[95, 99] = 95
    max_ms: float = Field(gt=0)
    max_increase_ms: float | None = Field(None, ge=0)
    """Optionally also: the increase over the base must not exceed this (point estimate)."""


class MinItems(_Rule):
    min: int = Field(ge=1)


class Power(_Rule):
    max_mde: float = Field(gt=0)
    """Fail when the smallest change the comparison can detect is larger than this."""


class RuleEntry(BaseModel):
    """One rule: a mapping with exactly one known key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    overall_delta: OverallDelta | None = None
    no_slice_regression: NoSliceRegression | None = None
    consistency: MinRule | None = None
    pass_hat_k: PassHatK | None = None
    latency: Latency | None = None
    json_validity: MinRule | None = None
    never_pass: MaxRule | None = None
    min_items: MinItems | None = None
    power: Power | None = None

    def only(self) -> tuple[str, _Rule]:
        given = [(k, v) for k, v in self.__dict__.items() if v is not None]
        if len(given) != 1:
            raise ValueError("each rule must have exactly one kind, e.g. '- overall_delta: {min_lower_bound: -0.02}'")
        return given[0]


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "gate"
    confidence: float = Field(0.95, gt=0, lt=1)
    rules: Annotated[list[RuleEntry], Field(min_length=1)]


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
