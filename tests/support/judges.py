"""Deterministic judge functions for the ``python:`` provider in judge tests."""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any

from tailgate.providers import ServerFault

attempts: Counter[str] = Counter()


def _text(prompt: Any) -> str:
    return prompt if isinstance(prompt, str) else str(prompt[-1]["content"])


def _section(text: str, name: str) -> str:
    match = re.search(rf"{name}:\n(.*?)(?:\n\n|$)", text, re.S)
    return match.group(1).strip() if match else ""


def _log(text: str, params: dict[str, Any]) -> None:
    log = os.environ.get("TAILGATE_TEST_CALL_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{params['seed']}\n")


def fair(prompt: Any, params: dict[str, Any]) -> str:
    """``yes`` when the reference occurs in the response (casefolded), else ``no``."""
    text = _text(prompt)
    _log(text, params)
    reference, response = _section(text, "Reference answer"), _section(text, "Response")
    return "Yes." if reference and reference.casefold() in response.casefold() else "No."


def says(prompt: Any, params: dict[str, Any]) -> str:
    """Replies with $TAILGATE_TEST_JUDGE_REPLY (default ``Maybe``): for the parsing tests."""
    return os.environ.get("TAILGATE_TEST_JUDGE_REPLY", "Maybe")


def first_position(prompt: Any, params: dict[str, Any]) -> str:
    """Always prefers response A: every decisive verdict flips when the order swaps."""
    return "A"


def longer(prompt: Any, params: dict[str, Any]) -> str:
    """Prefers the longer response (ties on equal length): order-consistent."""
    text = _text(prompt)
    a, b = _section(text, "Response A"), _section(text, "Response B")
    return "A" if len(a) > len(b) else "B" if len(b) > len(a) else "tie"


def by_seed(prompt: Any, params: dict[str, Any]) -> str:
    """``yes`` on even seeds, ``no`` on odd ones: repeats that disagree."""
    return "yes" if int(params["seed"]) % 2 == 0 else "no"


def fail_once(prompt: Any, params: dict[str, Any]) -> str:
    """A 500 on the first attempt of every (prompt, seed), then the fair verdict."""
    key = f"{_text(prompt)}|{params['seed']}"
    attempts[key] += 1
    if attempts[key] == 1:
        raise ServerFault("judge endpoint hiccup", status=500)
    return fair(prompt, params)


def always_down(prompt: Any, params: dict[str, Any]) -> str:
    raise ServerFault("judge endpoint down", status=503)


def lenient_lsm(prompt: Any, params: dict[str, Any]) -> str:
    """The fair verdict, but ``yes`` whenever the reference starts with L, S or M: false positives
    on those items, a judge of middling agreement."""
    reference = _section(_text(prompt), "Reference answer")
    return "Yes." if reference[:1] in ("L", "S", "M") else fair(prompt, params)


def rubric_half(prompt: Any, params: dict[str, Any]) -> str:
    """A rubric grade: 5 when the response has a digit or names a capital it knows, else 1."""
    response = _section(_text(prompt), "Response")
    return "Score: 5" if any(ch.isdigit() for ch in response) or "Paris" in response else "Score: 1"
