"""One provider call and its fault entry: what the run's samples and the judges' calls share."""

from __future__ import annotations

import asyncio
from typing import Any

from tailgate.providers import Fault, Provider, Request, Response, TimeoutFault, redact

__all__ = ["call_once", "fault_entry"]


async def call_once(provider: Provider, request: Request, timeout_s: float) -> Response | Fault:
    """The provider's answer to ``request``, or the fault it ended with (a timeout included):
    never raised, so the caller decides on a retry."""
    try:
        async with asyncio.timeout(timeout_s):
            return await provider.generate(request)
    except TimeoutError:
        return TimeoutFault(f"no answer within {timeout_s:g} s")
    except Fault as exc:
        return exc


def fault_entry(fault: Fault, wait: float | None) -> dict[str, Any]:
    """A retried (or final) fault as a record's ``attempt_errors`` entry, its message redacted."""
    return {
        "class": fault.error_class,
        "status": fault.status,
        "message": redact(str(fault))[:500],
        "wait_s": None if wait is None else round(wait, 3),
    }
