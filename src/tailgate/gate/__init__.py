"""Release gates: declarative policies over a comparison of two runs and/or a drift report of
traffic windows, a pass/fail decision with evidence; and a policy's sequential reading for
``tailgate run --until-decided``."""

from tailgate.gate._decide import Decision, decide, subjects
from tailgate.gate._policy import Policy, load_policy
from tailgate.gate._registry import RuleResult, Subject
from tailgate.gate._sequential import SequentialPolicy, sequential_policy

__all__ = [
    "Decision",
    "Policy",
    "RuleResult",
    "SequentialPolicy",
    "Subject",
    "decide",
    "load_policy",
    "sequential_policy",
    "subjects",
]
