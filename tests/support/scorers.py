"""Scorer functions for the ``python`` scorer type."""

from __future__ import annotations

from typing import Any


def close_enough(answer: str, reference: Any, item_input: dict[str, Any]) -> float:
    """1 when the answer contains the reference, 0.5 when it contains a digit, else 0."""
    if str(reference) in answer:
        return 1.0
    return 0.5 if any(ch.isdigit() for ch in answer) else 0.0
