"""Model functions that fail in controlled ways, for runner tests (in-process only)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from tailgate.providers import ClientFault, RateLimited, ServerFault

attempts: Counter[str] = Counter()
call_times: list[float] = []


def reset() -> None:
    attempts.clear()
    call_times.clear()


def _key(prompt: Any, params: dict[str, Any]) -> str:
    text = prompt if isinstance(prompt, str) else prompt[-1]["content"]
    return f"{text}|{params['seed']}"


def fail_twice(prompt: Any, params: dict[str, Any]) -> str:
    """500 on the first two attempts of every sample, then the right answer."""
    key = _key(prompt, params)
    attempts[key] += 1
    call_times.append(time.monotonic())
    if attempts[key] <= 2:
        raise ServerFault("boom", status=500)
    return "4" if "2+2" in key else "8" if "3+5" in key else "Paris" if "France" in key else "Lima"


def always_429(prompt: Any, params: dict[str, Any]) -> str:
    attempts[_key(prompt, params)] += 1
    call_times.append(time.monotonic())
    raise RateLimited("slow down", status=429, retry_after=0.05)


def bad_request(prompt: Any, params: dict[str, Any]) -> str:
    attempts[_key(prompt, params)] += 1
    raise ClientFault("context too long", status=400)


def echo_seed(prompt: Any, params: dict[str, Any]) -> str:
    call_times.append(time.monotonic())
    return str(params["seed"])


def fail_on_first_item(prompt: Any, params: dict[str, Any]) -> str:
    """500 on every attempt for "What is 2+2?", the right answer for the others."""
    key = _key(prompt, params)
    attempts[key] += 1
    if "2+2" in key:
        raise ServerFault("boom", status=500)
    return "8" if "3+5" in key else "Paris" if "France" in key else "Lima"


def always_500(prompt: Any, params: dict[str, Any]) -> str:
    attempts[_key(prompt, params)] += 1
    raise ServerFault("boom", status=500)
