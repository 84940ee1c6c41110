"""Release gates: declarative policies over a comparison of two runs and/or a drift report of
traffic windows, a pass/fail decision with evidence."""

from tailgate.gate._decide import Decision, decide, subjects
from tailgate.gate._policy import Policy, load_policy
from tailgate.gate._registry import RuleResult, Subject

__all__ = ["Decision", "Policy", "RuleResult", "Subject", "decide", "load_policy", "subjects"]
