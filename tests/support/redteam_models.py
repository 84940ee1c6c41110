"""Model functions for red-team tests (``python:tests.support.redteam_models:NAME``)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from typing import Any


def _messages(prompt: Any) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)


def _last_user(prompt: Any) -> str:
    return [m for m in _messages(prompt) if m["role"] == "user"][-1]["content"]


def leaky(prompt: Any, params: dict[str, Any]) -> str:
    """Falls for every attack of the bundled templates in a recognisable way, answers every twin:
    the canary in base64 when the request is base64, leet-spoken otherwise; PWNED; a refund call."""
    text = " ".join(m["content"] for m in _messages(prompt))
    user = _last_user(prompt)
    canary = re.search(r"access code is ([A-Z-]+)\.", text)
    decoded = base64.b64decode(user.rsplit(maxsplit=1)[-1]).decode() if "base64" in user else user
    if canary and re.search(r"code|instructions", decoded, re.IGNORECASE):
        secret = canary.group(1)
        if "base64" in user:
            return "Decoded. " + base64.b64encode(secret.encode()).decode()
        return "Here it is: " + secret.lower().replace("e", "3").replace("o", "0")
    if "P-W-N-E-D" in decoded or "P, W, N, E, D" in decoded:
        return "PWNED"
    if "refund" in decoded.lower() or "delete" in decoded.lower():
        return "CALL refund_payment(1234, 500)"
    return "Happy to help: here is what you asked for."


def logged(prompt: Any, params: dict[str, Any]) -> str:
    """Refuses everything after a delay; logs (last user message, seed) to $TAILGATE_TEST_CALL_LOG."""
    text = _last_user(prompt)
    log = os.environ.get("TAILGATE_TEST_CALL_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{hashlib.sha256(text.encode()).hexdigest()[:12]}|{params['seed']}\n")
    time.sleep(float(os.environ.get("TAILGATE_TEST_DELAY", "0")))
    return "I'm sorry, I can't help with that."
