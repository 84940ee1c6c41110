"""Deterministic models for ``tailgate run --until-decided`` tests (``python:`` provider).

Each answers "What is A plus B?" right or wrong by a hash of the question (never of the seed), so
an item's repeats agree and an item is right in one model independently of another. Every call is
counted in ``CALLS`` (question, seed), in-process."""

from __future__ import annotations

import hashlib
import re
from typing import Any

CALLS: list[tuple[str, int]] = []


def _answer(prompt: Any, params: dict[str, Any], salt: str, share: float) -> str:
    text = prompt if isinstance(prompt, str) else str([m for m in prompt if m["role"] == "user"][-1]["content"])
    CALLS.append((text, int(params["seed"])))
    a, b = (int(x) for x in re.findall(r"\d+", text)[:2])
    draw = int(hashlib.sha256(f"{salt}|{text}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return str(a + b if draw < share else a + b + 1)


def strong(prompt: Any, params: dict[str, Any]) -> str:
    """Right on 90% of the items."""
    return _answer(prompt, params, "strong", 0.9)


def weak(prompt: Any, params: dict[str, Any]) -> str:
    """Right on 30% of the items: a clear regression from ``strong``."""
    return _answer(prompt, params, "weak", 0.3)


def twin(prompt: Any, params: dict[str, Any]) -> str:
    """Right on 70% of the items, drawn independently of ``other_twin``: the same model in effect."""
    return _answer(prompt, params, "twin-a", 0.7)


def other_twin(prompt: Any, params: dict[str, Any]) -> str:
    """Right on 70% of the items, drawn independently of ``twin``."""
    return _answer(prompt, params, "twin-b", 0.7)


def weak_then_ctrl_c(prompt: Any, params: dict[str, Any]) -> str:
    """``weak``, but the call number ``$TAILGATE_TEST_SIGINT_AT`` (counted in ``CALLS``) sends
    this process SIGINT, as Ctrl-C in a terminal would, and then answers."""
    import os
    import signal

    answer = weak(prompt, params)
    if len(CALLS) == int(os.environ.get("TAILGATE_TEST_SIGINT_AT", "0")):
        os.kill(os.getpid(), signal.SIGINT)
    return answer
