"""Per-pair text measures of the shadow report: chrF agreement, exact match, refusals, JSON.

chrF (Popović 2015, "chrF: character n-gram F-score for automatic MT evaluation", WMT) compares two
texts by their character n-grams, n = 1..6, whitespace removed: for each order n that both texts
have n-grams of, precision P_n = matched n-grams / n-grams of the first text and recall R_n =
matched / n-grams of the second (matches counted with multiplicity, as a multiset intersection);
P and R are the means of P_n and R_n over those orders and the score is F1 = 2PR / (P + R). With
beta = 1 (sacrebleu's default is 2, a recall-weighted MT metric) the score is symmetric, so "primary
vs candidate" and "candidate vs primary" agree. Two empty texts score 1, one empty text 0.

Exact match (after stripping surrounding whitespace) is reported beside it: at temperature 0.7 it
is near 0 for any two samples of the same model, so it cannot tell a model from itself; chrF has
the power (bench/shadow_calibration.py).
"""

from __future__ import annotations

import json
import re
from collections import Counter

__all__ = ["CHRF_ORDER", "asks_json_valid", "chrf", "exact_match", "is_refusal"]

CHRF_ORDER = 6
"""Largest character n-gram order of :func:`chrf`."""

_SPACE = re.compile(r"\s+")
_REFUSAL = re.compile(
    r"\b(I'?m sorry|I am sorry|I apologi[sz]e|I can(?:no|')t|I can not|I'?m (?:not able|unable)|"
    r"I am (?:not able|unable)|as an AI\b|I won'?t be able)",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```$", re.DOTALL)


def _grams(text: str, n: int) -> Counter[str]:
    return Counter(text[i : i + n] for i in range(len(text) - n + 1))


def chrf(a: str, b: str, order: int = CHRF_ORDER) -> float:
    """Symmetric chrF (F1 of character n-grams 1..``order``, whitespace removed), in [0, 1].

    Example:
        >>> round(chrf("abc", "abd"), 4)  # orders 1-3: (2/3 + 1/2 + 0) / 3 = 7/18
        0.3889
    """
    x, y = _SPACE.sub("", a), _SPACE.sub("", b)
    if not x and not y:
        return 1.0
    precisions, recalls = [], []
    for n in range(1, order + 1):
        gx, gy = _grams(x, n), _grams(y, n)
        if not gx or not gy:
            continue
        matched = sum((gx & gy).values())
        precisions.append(matched / sum(gx.values()))
        recalls.append(matched / sum(gy.values()))
    if not precisions:
        return 0.0
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def exact_match(a: str, b: str) -> float:
    """1.0 when the texts are equal after stripping surrounding whitespace, else 0.0."""
    return 1.0 if a.strip() == b.strip() else 0.0


def is_refusal(text: str) -> bool:
    """A heuristic: the answer's first 300 characters contain a refusal phrase ("I'm sorry",
    "I can't", "as an AI", ...). English only; the same rule on both sides, so its delta is fair."""
    return bool(_REFUSAL.search(text[:300]))


def asks_json_valid(text: str) -> bool:
    """The answer is JSON, alone or in one fenced code block."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        json.loads(body)
    except ValueError:
        return False
    return body != ""
