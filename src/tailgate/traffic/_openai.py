"""OpenAI-style request/response logs: one JSON object per line, or one row of a CSV/Parquet file.

A line may be flat (``{"timestamp", "model", "messages", "response", "latency_ms", "usage"}``),
or keep the request and the response objects as the API sent them
(``{"request": {"model", "messages"}, "response": {"id", "created", "choices", "usage"}}``).
The first key found is used; ``--field NAME=KEY`` names another (dotted for nested keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tailgate.traffic._fields import (
    FieldError,
    as_float,
    as_int,
    as_messages,
    as_text,
    as_timestamp_us,
    lookup,
    status_of,
)
from tailgate.traffic._schema import Request

__all__ = ["FIELD_NAMES", "ReadOptions", "request_from_mapping"]

# Where each field is looked for, in order (dotted paths into the line's object).
_CANDIDATES: dict[str, tuple[str, ...]] = {
    "timestamp": (
        "timestamp",
        "time",
        "ts",
        "created_at",
        "start_time",
        "startTime",
        "request_time",
        "created",
        "request.timestamp",
        "response.created",
        "response.body.created",
    ),
    "end_time": ("end_time", "endTime"),
    "model": ("model", "request.model", "response.model", "request.body.model", "response.body.model"),
    "messages": ("messages", "request.messages", "request.body.messages", "input"),
    "prompt": ("prompt", "request.prompt", "request.body.prompt", "input"),
    "response": ("response", "completion", "output", "output_text", "choices"),
    "latency_ms": ("latency_ms", "duration_ms", "response_ms", "elapsed_ms"),
    "latency_s": ("latency_s", "latency_seconds", "duration_s", "elapsed_s"),
    "latency": ("latency", "duration", "elapsed"),
    "status": ("status", "status_code", "response.status_code", "http_status"),
    "error": ("error", "response.error"),
    "prompt_tokens": (
        "usage.prompt_tokens",
        "usage.input_tokens",
        "response.usage.prompt_tokens",
        "response.usage.input_tokens",
        "response.body.usage.prompt_tokens",
        "prompt_tokens",
        "input_tokens",
    ),
    "completion_tokens": (
        "usage.completion_tokens",
        "usage.output_tokens",
        "response.usage.completion_tokens",
        "response.usage.output_tokens",
        "response.body.usage.completion_tokens",
        "completion_tokens",
        "output_tokens",
    ),
    "id": ("id", "request_id", "response.id", "response.body.id"),
    "finish_reason": ("finish_reason",),
}
FIELD_NAMES = tuple(name for name in _CANDIDATES if name not in ("latency_s", "end_time"))
"""Fields ``--field NAME=KEY`` can name (``latency`` is in ``--latency-unit``, default ms)."""


@dataclass(frozen=True)
class ReadOptions:
    """How to read requests out of log lines or rows.

    Attributes:
        fields: field name (see :data:`FIELD_NAMES`) -> the key (dotted path) holding it.
        columns: user-declared columns kept with every request (keys or dotted paths).
        latency_unit: unit of a bare ``latency`` field (``ms`` or ``s``).
    """

    fields: dict[str, str] = field(default_factory=dict)
    columns: tuple[str, ...] = ()
    latency_unit: str = "ms"


_Plan = dict[str, tuple[tuple[str, tuple[str, ...]], ...]]
_PLANS: dict[tuple[str, ...], _Plan] = {}


def _plan(obj: dict[str, Any]) -> _Plan:
    """The candidate paths that can exist in an object with these top-level keys, each with its
    parts (the lines of one log share a shape, so this is computed once per shape)."""
    shape = tuple(obj)
    plan = _PLANS.get(shape)
    if plan is None:
        keys = set(shape)
        plan = {
            name: tuple((p, tuple(p.split("."))) for p in paths if p in keys or p.split(".", 1)[0] in keys)
            for name, paths in _CANDIDATES.items()
        }
        if len(_PLANS) > 1000:
            _PLANS.clear()
        _PLANS[shape] = plan
    return plan


def _find(obj: dict[str, Any], name: str, options: ReadOptions, plan: _Plan) -> tuple[Any, str]:
    given = options.fields.get(name)
    if given is not None:
        return lookup(obj, given), given
    for path, parts in plan[name]:
        value = obj[path] if path in obj else lookup(obj, path, parts)
        if value is not None and value != "":
            return value, path
    return None, name


def _response(value: Any, where: str) -> tuple[str | None, str | None]:
    """(text, finish reason) of a logged response: text, a completion object, or choices."""
    if isinstance(value, dict):
        body: dict[str, Any] = value["body"] if isinstance(value.get("body"), dict) else value
        choices = body.get("choices")
        if isinstance(choices, list):
            return _response(choices, f"{where}.choices")
        for key in ("content", "text", "output_text", "message"):
            if key in body:
                return _response(body[key], f"{where}.{key}")
        if "output" in body:  # the Responses API: output items with content parts
            return _response(body["output"], f"{where}.output")
        return None, None
    if (
        isinstance(value, list)
        and value
        and isinstance(value[0], dict)
        and ("message" in value[0] or "text" in value[0])
    ):
        first = value[0]
        finish = first.get("finish_reason")
        text = first["message"].get("content") if isinstance(first.get("message"), dict) else first.get("text")
        return as_text(text, f"{where}.0"), finish if isinstance(finish, str) else None
    if isinstance(value, list) and value and isinstance(value[0], dict) and "content" in value[0]:
        return as_text([as_text(v.get("content"), where) for v in value if isinstance(v, dict)], where), None
    return as_text(value, where), None


def _latency(obj: dict[str, Any], options: ReadOptions, plan: _Plan, start_us: int) -> float | None:
    value, path = _find(obj, "latency_ms", options, plan)
    if value is not None:
        return as_float(value, path)
    value, path = _find(obj, "latency_s", options, plan)
    if value is not None:
        seconds = as_float(value, path)
        return None if seconds is None else seconds * 1000.0
    value, path = _find(obj, "latency", options, plan)
    if value is not None:
        number = as_float(value, path)
        return None if number is None else number * (1000.0 if options.latency_unit == "s" else 1.0)
    end, path = _find(obj, "end_time", options, plan)
    if end is not None:
        return (as_timestamp_us(end, path) - start_us) / 1000.0
    return None


def request_from_mapping(obj: Any, options: ReadOptions) -> Request:
    """One request out of one log line's object (raises :class:`FieldError`)."""
    if not isinstance(obj, dict):
        raise FieldError(None, f"expected a JSON object, got {type(obj).__name__}")
    plan = _plan(obj)
    stamp, where = _find(obj, "timestamp", options, plan)
    if stamp is None:
        raise FieldError(
            options.fields.get("timestamp", "timestamp"),
            "no timestamp (looked for timestamp, time, created_at, start_time, created...; "
            "name yours with --field timestamp=KEY)",
        )
    timestamp = as_timestamp_us(stamp, where)
    messages_value, messages_at = _find(obj, "messages", options, plan)
    messages = prompt = None
    if messages_value is not None and not (messages_at == "input" and isinstance(messages_value, str)):
        messages = as_messages(messages_value, messages_at)
    else:
        prompt_value, prompt_at = _find(obj, "prompt", options, plan)
        if isinstance(prompt_value, list) and prompt_value and isinstance(prompt_value[0], dict):
            messages = as_messages(prompt_value, prompt_at)
        else:
            prompt = as_text(prompt_value, prompt_at)
    if messages is None and prompt is None:
        raise FieldError("messages", "no input: neither messages nor prompt (name yours with --field messages=KEY)")
    raw_response, response_at = _find(obj, "response", options, plan)
    response, finish = _response(raw_response, response_at)
    explicit_finish, finish_at = _find(obj, "finish_reason", options, plan)
    status, is_error = status_of(_find(obj, "status", options, plan)[0], _find(obj, "error", options, plan)[0])
    model, model_at = _find(obj, "model", options, plan)
    log_id, id_at = _find(obj, "id", options, plan)
    return Request(
        timestamp_us=timestamp,
        messages=messages,
        prompt=prompt,
        response=response,
        model=as_text(model, model_at),
        log_id=as_text(log_id, id_at),
        status=status,
        is_error=is_error,
        latency_ms=_latency(obj, options, plan, timestamp),
        prompt_tokens=as_int(*_find(obj, "prompt_tokens", options, plan)),
        completion_tokens=as_int(*_find(obj, "completion_tokens", options, plan)),
        finish_reason=as_text(explicit_finish, finish_at) if explicit_finish is not None else finish,
        columns={name: lookup(obj, name) for name in options.columns},
    )
