"""Scorers and extractors: turn a raw output into a score, or into "unscored" on error."""

from tailgate.scorers._base import (
    BaseScorer,
    BoundScorer,
    JudgeCall,
    JudgeContext,
    JudgeReply,
    NoParams,
    Score,
    ScorerType,
    build_scorers,
    parse_extractor,
)
from tailgate.scorers._extract import (
    choice_letter,
    find_json,
    first_line,
    first_number,
    first_word,
    json_value,
    last_number,
    normalize_text,
    parse_number,
)
from tailgate.scorers._judge import BaseJudge, JudgePairwise, JudgeReference, JudgeRubric
from tailgate.scorers._judge_attacks import ATTACKS as JUDGE_ATTACKS
from tailgate.scorers._judge_attacks import attack_outputs, change_one_fact
from tailgate.scorers._redteam import Answered, AttackResisted, Leak, find_leak, find_tool_call, is_refusal

__all__ = [
    "JUDGE_ATTACKS",
    "Answered",
    "AttackResisted",
    "BaseJudge",
    "BaseScorer",
    "BoundScorer",
    "JudgeCall",
    "JudgeContext",
    "JudgePairwise",
    "JudgeReference",
    "JudgeReply",
    "JudgeRubric",
    "Leak",
    "NoParams",
    "Score",
    "ScorerType",
    "attack_outputs",
    "build_scorers",
    "change_one_fact",
    "choice_letter",
    "find_json",
    "find_leak",
    "find_tool_call",
    "first_line",
    "first_number",
    "first_word",
    "is_refusal",
    "json_value",
    "last_number",
    "normalize_text",
    "parse_extractor",
    "parse_number",
]
