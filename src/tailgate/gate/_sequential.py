"""A gate policy read as a sequential decision rule (``tailgate run --until-decided POLICY``).

Two rules have a sequential reading; a policy for ``--until-decided`` must have ``overall_delta``
and may have ``no_slice_regression``, and no other rule (a latency or consistency threshold has
no anytime-valid form here: gate the finished runs with ``tailgate gate --policy`` for those).

* ``overall_delta: {min_lower_bound: L}``. With L < 0 (the usual non-inferiority rule): 'worse'
  when the confidence sequence's upper end is below L (max_drop = -L), 'equivalent' when it is
  inside (-|L|, |L|) (the margin δ = -L unless ``margin`` is given), 'better' when its lower end
  is above 0. With L >= 0: 'better' when the lower end is above L, 'worse' when the upper end is
  below 0, 'equivalent' inside (-δ, δ) with δ = ``margin`` (default 0.02).
* ``no_slice_regression: {min_items: m}``: every slice with at least m items (as ``tailgate
  compare`` forms them) gets an e-process against "no regression", flagged by e-BH at the
  policy's alpha (valid under any overlap: ``adjust`` is not needed). Its ``margin`` must be 0
  (the e-process tests "mean difference >= 0") and its ``alpha`` the policy's (1 - confidence).

The policy's ``confidence`` is 1 - the total error of the decision at any stopping time.
"""

from __future__ import annotations

from dataclasses import dataclass

from tailgate.analysis import SequentialOptions
from tailgate.errors import UsageError
from tailgate.gate._policy import Policy
from tailgate.gate._rules import NoSliceRegression, OverallDelta

__all__ = ["SequentialPolicy", "sequential_policy"]

SEQUENTIAL_RULES = ("overall_delta", "no_slice_regression")


@dataclass(frozen=True)
class SequentialPolicy:
    """What the sequential gate decides on, read from a policy."""

    name: str
    """The policy's name."""
    options: SequentialOptions
    slice_min_items: int | None
    """Smallest slice judged (``no_slice_regression.min_items``); None: slices are not judged."""


def sequential_policy(policy: Policy, *, seed: int = 0, margin: float | None = None) -> SequentialPolicy:
    """The sequential reading of ``policy`` (module docstring); ``seed`` is the item order's.

    Raises:
        UsageError: the policy has no ``overall_delta`` rule, has it twice, or has a rule with no
            sequential reading (or a ``no_slice_regression`` with a margin or its own alpha).
    """
    alpha = round(1 - policy.confidence, 12)
    found = [entry.only() for entry in policy.rules]
    other = sorted({kind for kind, _ in found if kind not in SEQUENTIAL_RULES})
    if other:
        raise UsageError(
            f"the policy '{policy.name}' has rule(s) {', '.join(other)} with no sequential reading; "
            "--until-decided decides overall_delta (and no_slice_regression) only: give it a policy with "
            "just those, and gate the finished runs with tailgate gate --policy for the rest"
        )
    overall = [rule for kind, rule in found if isinstance(rule, OverallDelta)]
    slices = [rule for kind, rule in found if isinstance(rule, NoSliceRegression)]
    if len(overall) != 1 or len(slices) > 1:
        raise UsageError(
            f"the policy '{policy.name}' needs exactly one overall_delta rule (the sequential decision) "
            f"and at most one no_slice_regression for --until-decided; it has {len(overall)} and {len(slices)}"
        )
    low = overall[0].min_lower_bound
    if low < 0:
        delta = -low if margin is None else margin
        options = SequentialOptions(margin=delta, alpha=alpha, max_drop=-low, seed=seed)
    else:
        options = SequentialOptions(margin=0.02 if margin is None else margin, alpha=alpha, min_improvement=low,
                                    seed=seed)  # fmt: skip
    if not slices:
        return SequentialPolicy(policy.name, options, None)
    rule = slices[0]
    if rule.margin != 0 or abs(rule.alpha - alpha) > 1e-12:
        raise UsageError(
            f"the policy's no_slice_regression rule has margin {rule.margin:g} and alpha {rule.alpha:g}; the "
            f"sequential slice test is 'no regression' (margin 0) at the policy's alpha ({alpha:g} = 1 - confidence)"
        )
    return SequentialPolicy(policy.name, options, rule.min_items)
