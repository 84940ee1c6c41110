"""What the shadow proxy stores: items, records (docs/records.md columns) and traffic rows.

Pure functions of a finished call; the recorder thread writes what they build.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tailgate.records import Item, canonical_json
from tailgate.shadow._parse import Outcome
from tailgate.traffic import Request

__all__ = [
    "Call",
    "Captured",
    "build_record",
    "flat_messages",
    "input_text",
    "item_for",
    "params_of",
    "prompt_of",
    "scrubbed",
    "traffic_request",
    "wants_json",
]

_NOT_PARAMS = frozenset({"messages", "prompt", "input", "model", "user", "stream", "stream_options"})


@dataclass
class Captured:
    """A mirrorable request as the primary answered it, copied off the primary path."""

    path: str
    body: bytes
    headers: dict[str, str]
    """The client's headers (minus hop-by-hop): only for the noise call, which goes to the primary."""
    status: int
    response: bytes
    encoding: str | None
    started_at: str
    ended_at: str
    timestamp_us: int
    ttft_ms: float | None
    latency_ms: float
    secret: str | None
    """The client's credential (Authorization / api-key value), kept only to redact it."""
    error: str | None = None
    """The proxy's own fault when the primary could not be reached (connection, timeout)."""


@dataclass
class Call:
    """One finished call to a target: its label, timings and what it answered."""

    label: str
    outcome: Outcome
    started_at: str
    ended_at: str
    latency_ms: float | None
    ttft_ms: float | None
    status: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def flat_messages(messages: Any) -> list[dict[str, str]]:
    """Chat messages as ``[{role, content}]`` with text content (parts joined)."""
    out = []
    for message in messages if isinstance(messages, list) else ():
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = "\n".join(
                str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type", "text") == "text"
            )
        out.append({"role": str(message.get("role", "user")), "content": content if isinstance(content, str) else ""})
    return out


def _input_field(mode: str) -> str:
    return {"chat": "messages", "completion": "prompt"}.get(mode, "input")


def item_for(key: str, path: str, mode: str, body: dict[str, Any], attributes: dict[str, Any]) -> Item:
    name = _input_field(mode)
    return Item(item_id=key, input={"path": path, name: body.get(name)}, attributes=attributes)


def prompt_of(mode: str, body: dict[str, Any]) -> str:
    value = body.get(_input_field(mode))
    if mode == "completion" and isinstance(value, str):
        return value
    return canonical_json(value)


def input_text(mode: str, body: dict[str, Any]) -> str:
    """The text attributes are derived from: user messages, else the prompt / input."""
    if mode == "chat":
        messages = flat_messages(body.get("messages"))
        user = [m["content"] for m in messages if m["role"] == "user"]
        return "\n\n".join(user if user else [m["content"] for m in messages])
    value = body.get(_input_field(mode))
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n\n".join(value)
    return ""


def params_of(body: dict[str, Any]) -> str:
    return canonical_json({k: v for k, v in body.items() if k not in _NOT_PARAMS})


def wants_json(body: dict[str, Any]) -> bool:
    fmt = body.get("response_format")
    return isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")


def _scores(outcome: Outcome, mode: str, json_asked: bool) -> tuple[float | None, dict[str, Any]]:
    if outcome.error_class is not None or mode == "embeddings" or outcome.output is None:
        return None, {}
    usable = bool(outcome.output.strip())
    scores: dict[str, Any] = {}
    if json_asked:
        try:
            orjson.loads(outcome.output)
            valid = True
        except orjson.JSONDecodeError:
            valid = False
        usable = usable and valid
        scores["json_valid"] = {"value": 1.0 if valid else 0.0, "answer": None, "error": None}
    scores = {"usable": {"value": 1.0 if usable else 0.0, "answer": None, "error": None}, **scores}
    return (1.0 if usable else 0.0), scores


def _scrub(text: str | None, secrets: tuple[str, ...]) -> str | None:
    """``text`` without the client's credential and the keys this process registered."""
    if text is None:
        return None
    from tailgate.providers import redact_output

    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "***")
    return redact_output(text)


def scrubbed(value: Any, secrets: tuple[str, ...]) -> Any:
    """A JSON value with :func:`_scrub` applied to every string in it (what is stored of a
    request: a client that pastes its key into a prompt does not get it stored either)."""
    if isinstance(value, str):
        return _scrub(value, secrets)
    if isinstance(value, list):
        return [scrubbed(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: scrubbed(v, secrets) for k, v in value.items()}
    return value


def build_record(
    run_id: str, key: str, mode: str, body: dict[str, Any], call: Call, secrets: tuple[str, ...]
) -> dict[str, Any]:
    """The record of one call (the docs/records.md columns; ``secrets`` are replaced by ``***``)."""
    from tailgate.providers import redact

    outcome = call.outcome
    score, scores = _scores(outcome, mode, wants_json(body))
    message = None if outcome.error_message is None else redact(_scrub(outcome.error_message, secrets) or "")
    return {
        "schema_version": 1,
        "run_id": run_id,
        "sample_id": f"{key}/shadow/0",
        "item_id": key,
        "variant": "shadow",
        "repeat": 0,
        "model": call.label,
        "mode": mode,
        "params": params_of(body),
        "prompt": prompt_of(mode, body),
        "output": None if mode == "embeddings" else _scrub(outcome.output, secrets),
        "answer": None,
        "score": score,
        "scorer": None if score is None else "usable",
        "scores": canonical_json(scores),
        "latency_ms": call.latency_ms if outcome.error_class is None else None,
        "tokens_in": outcome.tokens_in,
        "tokens_out": outcome.tokens_out,
        "finish_reason": outcome.finish_reason,
        "error_class": outcome.error_class,
        "error_message": message,
        "attempts": 1,
        "attempt_errors": "[]",
        "started_at": call.started_at,
        "ended_at": call.ended_at,
        "cached": False,
        "cache_key": key,
    }


def traffic_request(
    mode: str, body: dict[str, Any], captured: Captured, primary: Outcome, columns: dict[str, Any]
) -> Request:
    """The traffic-table request of a proxied mirrorable call (the primary's answer)."""
    is_chat = mode == "chat"
    model = body.get("model")
    status = str(captured.status) if captured.error is None else "error"
    return Request(
        timestamp_us=captured.timestamp_us,
        messages=flat_messages(body.get("messages")) if is_chat else None,
        prompt=None if is_chat else input_text(mode, body),
        response=primary.output,
        model=model if isinstance(model, str) else None,
        status=status,
        is_error=captured.error is not None or captured.status >= 400,
        latency_ms=captured.latency_ms,
        prompt_tokens=primary.tokens_in,
        completion_tokens=primary.tokens_out,
        finish_reason=primary.finish_reason,
        columns=columns,
    )
