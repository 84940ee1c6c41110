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


KNOWN = {"planet": "Jupiter", "plants": "Carbon dioxide"}


def option_reader(prompt: Any, params: dict[str, Any]) -> str:
    """Knows the right option's *text*; answers with whatever letter it has in this prompt, so it is
    right on every shuffle exactly when the variant's reference was remapped correctly."""
    text = _last_user(prompt)
    for keyword, answer in KNOWN.items():
        if keyword in text.lower():
            for line in text.splitlines():
                m = re.match(r"\s*\(?([A-Ja-j])[).:\]]\s+(.*)$", line)
                if m and m.group(2).strip().lower() == answer.lower():
                    return f"The answer is {m.group(1).upper()}."
    return "I don't know."


PARAPHRASE_CALLS: list[str] = []


def paraphraser(prompt: Any, params: dict[str, Any]) -> str:
    """Rewrites 'How much is A plus B?' as 'What do you get when you add A and B?'; drops the
    numbers of questions mentioning 'drop' (a paraphrase the check must reject)."""
    text = _last_user(prompt)
    PARAPHRASE_CALLS.append(text)
    body = text.rsplit("Text: ", 1)[-1]
    m = re.search(r"How much is (\d+) plus (\d+)\?", body)
    if m is None:
        return "Sure! Here is the rewritten text: " + body.upper()
    if "drop" in body:
        return '"What do you get when you add two numbers?"'
    return f'Sure! Here is the rewritten text: "What do you get when you add {m.group(1)} and {m.group(2)}?"'


def echo_prompt(prompt: Any, params: dict[str, Any]) -> str:
    """Repeats the question: a model whose output shows exactly what it was asked."""
    return _last_user(prompt)


EXTRACT_CALLS: list[str] = []


def answer_reader(prompt: Any, params: dict[str, Any]) -> str:
    """An 'LLM extractor': reads the number or letter after 'answer is' in the response, else NONE."""
    text = _last_user(prompt)
    EXTRACT_CALLS.append(text)
    response = text.split("Response: ", 1)[-1]
    m = re.search(r"answer is\s+([A-Z]|\d+)\b", response)
    return m.group(1) if m else "NONE"
