"""The seed scenario's two models: same mean, opposite failure profiles."""

from __future__ import annotations

import hashlib
from typing import Any

NON_ENGLISH = ("Oluwaseun", "Nguyễn", "Małgorzata", "Søren", "Aigerim")


def _question(prompt: Any) -> str:
    return prompt if isinstance(prompt, str) else str(prompt[-1]["content"])


def _right(text: str) -> str:
    return text.rsplit("answer is ", 1)[-1].split(".", maxsplit=1)[0] if "answer is " in text else "?"


def _reply(text: str, wrong: bool) -> dict[str, Any]:
    answer = "nobody knows" if wrong else _right(text)
    return {"text": answer, "tokens_in": len(text) // 4, "tokens_out": 3, "finish_reason": "stop"}


def random_failures(prompt: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Model A: every sample fails with probability 0.1, whatever the item."""
    text = _question(prompt)
    draw = int(hashlib.sha256(f"{text}|{params['seed']}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return _reply(text, draw < 0.1)


def systematic_failures(prompt: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Model B: fails every item longer than 2,000 tokens or with a non-English name, always."""
    text = _question(prompt)
    return _reply(text, len(text) // 4 > 2000 or any(name in text for name in NON_ENGLISH))


FILLER = "The committee reviewed the quarterly figures and adjourned without a vote. " * 120  # ~9,000 chars


def seed_items() -> list[dict[str, object]]:
    """200 arithmetic items: 10 longer than 2,000 tokens, 10 with non-English names."""
    rows: list[dict[str, object]] = []
    english = ["John Smith", "Emily Clark", "Robert Brown", "Sarah Miller"]
    foreign = ["Oluwaseun Adeyemi", "Nguyễn Thị Lan", "Małgorzata Kowalska", "Søren Østergaard", "Aigerim Nurlanovna"]
    for i in range(200):
        if i < 10:
            name, prefix = english[i % 4], FILLER
        elif i < 20:
            name, prefix = foreign[i % 5], ""
        else:
            name, prefix = english[i % 4], ""
        text = f"{prefix}{name} has {i} apples. How many apples does {name} have? The answer is {i}."
        rows.append({"id": f"q{i}", "question": text, "answer": str(i)})
    return rows
