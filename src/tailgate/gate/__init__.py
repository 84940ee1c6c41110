"""Release gates: declarative policies over a comparison, a pass/fail decision with evidence."""

from tailgate.gate._decide import Decision, decide
from tailgate.gate._policy import Policy, load_policy
from tailgate.gate._registry import RuleResult

__all__ = ["Decision", "Policy", "RuleResult", "decide", "load_policy"]
