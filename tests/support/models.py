"""Deterministic model functions for the ``python:`` provider in tests."""

from __future__ import annotations

import hashlib
import os
import re
import time
from typing import Any

ANSWERS = {"2+2": "4", "3+5": "8", "France": "Paris", "Peru": "Lima"}


def _last_user(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    return str([m for m in prompt if m["role"] == "user"][-1]["content"])


def oracle(prompt: Any, params: dict[str, Any]) -> str:
    """Knows the answers of the default test items."""
    text = _last_user(prompt)
    for key, answer in ANSWERS.items():
        if key in text:
            return f"The answer is {answer}."
    return "I don't know."


def seeded(prompt: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Deterministic in (prompt, seed); logs every call to $TAILGATE_TEST_CALL_LOG if set."""
    text = _last_user(prompt)
    log = os.environ.get("TAILGATE_TEST_CALL_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{hashlib.sha256(text.encode()).hexdigest()[:12]}|{params['seed']}\n")
    delay = float(os.environ.get("TAILGATE_TEST_DELAY", "0"))
    if delay:
        time.sleep(delay)
    digest = hashlib.sha256(f"{text}|{params['seed']}".encode()).hexdigest()
    numbers = re.findall(r"\d+", text)
    guess = int(digest[:4], 16) % 10 + (int(numbers[0]) if numbers else 0)
    return {
        "text": f"{guess}",
        "tokens_in": len(text) // 4,
        "tokens_out": 1,
        "finish_reason": "stop",
    }


def explode(prompt: Any, params: dict[str, Any]) -> str:
    raise RuntimeError("model crashed")


def paraphrase(prompt: Any, params: dict[str, Any]) -> str:
    """The same answer in a different wording on each repeat (seed)."""
    wordings = ["The capital of France is Paris.", "Paris is the capital of France.", "France's capital is Paris."]
    return wordings[int(params["seed"]) % 3]


HOSTILE = "<script>alert('pwned')</script> | **not bold** <img src=x onerror=alert(1)>"


def hostile(prompt: Any, params: dict[str, Any]) -> str:
    """Wrong on every item, with output that would run as HTML or break a Markdown table."""
    return HOSTILE
