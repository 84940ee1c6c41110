"""Model functions for the ``python:`` provider that behave like endpoints under load."""

from __future__ import annotations

import asyncio
from typing import Any

SERVICE_S = 0.02
_locks: dict[int, asyncio.Lock] = {}


async def one_at_a_time(prompt: Any, params: dict[str, Any]) -> str:
    """Like a llama.cpp server with one slot: calls wait for each other (FIFO)."""
    lock = _locks.setdefault(id(asyncio.get_running_loop()), asyncio.Lock())
    async with lock:
        await asyncio.sleep(SERVICE_S)
    return "4"


async def all_at_once(prompt: Any, params: dict[str, Any]) -> str:
    """Like a batching server: every call takes its own time, whatever else is in flight."""
    await asyncio.sleep(SERVICE_S)
    return "4"
