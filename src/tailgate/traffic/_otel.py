"""OpenTelemetry GenAI spans exported as OTLP JSON (``ExportTraceServiceRequest``: a file with one
document, or the collector's file exporter's JSONL, one document per line).

A span is a request when it carries ``gen_ai.*`` attributes of an inference operation (``chat``,
``text_completion``, ``generate_content``, or no operation name but a ``gen_ai.request.model``);
other spans (HTTP, database, embeddings, tools) are counted as skipped, not as errors.

The input and the answer are read from, in order: the ``gen_ai.input.messages`` /
``gen_ai.output.messages`` attributes (semantic conventions 1.37+, JSON text or structured);
the ``gen_ai.content.prompt`` / ``gen_ai.content.completion`` events (``gen_ai.prompt`` /
``gen_ai.completion`` attributes, up to 1.36); the per-message events ``gen_ai.system.message``,
``gen_ai.user.message``, ``gen_ai.assistant.message``, ``gen_ai.tool.message`` and
``gen_ai.choice``; and the indexed ``gen_ai.prompt.N.role`` / ``.content`` and
``gen_ai.completion.N.content`` attributes that OpenLLMetry writes. Time is the span's start,
latency its duration, status its status code (``ERROR`` = failed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from tailgate.traffic._fields import FieldError, as_float, as_int, as_messages, as_text, status_of
from tailgate.traffic._schema import Request

__all__ = ["requests_from_otlp"]

_INFERENCE = {"chat", "text_completion", "generate_content", "completion", "generate"}
_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_STATUS = {0: "unset", 1: "ok", 2: "error", "STATUS_CODE_UNSET": "unset", "STATUS_CODE_OK": "ok"}
_STATUS["STATUS_CODE_ERROR"] = "error"


def _value(any_value: Any) -> Any:
    """An OTLP ``AnyValue`` as a Python value."""
    if not isinstance(any_value, dict):
        return any_value
    for key, convert in (("stringValue", str), ("boolValue", bool), ("doubleValue", float)):
        if key in any_value:
            return convert(any_value[key])
    if "intValue" in any_value:  # int64 is a string in OTLP JSON
        return int(any_value["intValue"])
    if "arrayValue" in any_value:
        return [_value(v) for v in any_value["arrayValue"].get("values", [])]
    if "kvlistValue" in any_value:
        return _attributes(any_value["kvlistValue"].get("values", []))
    return None


def _attributes(pairs: Any) -> dict[str, Any]:
    if not isinstance(pairs, list):
        return {}
    return {p["key"]: _value(p.get("value")) for p in pairs if isinstance(p, dict) and "key" in p}


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _parts_messages(value: Any, where: str) -> list[dict[str, str]]:
    """Messages in the 1.37+ form (``{"role", "parts": [{"type": "text", "content"}]}``) or the
    OpenAI form; a bare string is one user message."""
    value = _json(value)
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return as_messages(value, where)


def _is_inference(attrs: dict[str, Any]) -> bool:
    operation = attrs.get("gen_ai.operation.name")
    if operation is not None:
        return operation in _INFERENCE
    return "gen_ai.request.model" in attrs or "gen_ai.response.model" in attrs


def _indexed(attrs: dict[str, Any], prefix: str) -> list[dict[str, str]]:
    messages = []
    i = 0
    while f"{prefix}.{i}.content" in attrs or f"{prefix}.{i}.role" in attrs:
        content = as_text(attrs.get(f"{prefix}.{i}.content"), f"{prefix}.{i}.content") or ""
        messages.append({"role": str(attrs.get(f"{prefix}.{i}.role", "user")), "content": content})
        i += 1
    return messages


def _io(attrs: dict[str, Any], events: list[dict[str, Any]]) -> tuple[list[dict[str, str]] | None, str | None]:
    """(input messages, answer text) of a span."""
    messages: list[dict[str, str]] | None = None
    answer: str | None = None
    if "gen_ai.input.messages" in attrs:
        messages = _parts_messages(attrs["gen_ai.input.messages"], "gen_ai.input.messages")
        system = attrs.get("gen_ai.system_instructions")
        if system is not None:
            text = as_text(_json(system), "gen_ai.system_instructions") or ""
            messages = [{"role": "system", "content": text}, *messages]
    if "gen_ai.output.messages" in attrs:
        out = _parts_messages(attrs["gen_ai.output.messages"], "gen_ai.output.messages")
        answer = out[0]["content"] if out else None
    found: list[dict[str, str]] = []
    for event in events:
        name = event.get("name")
        ev = _attributes(event.get("attributes"))
        if name == "gen_ai.content.prompt" and messages is None and "gen_ai.prompt" in ev:
            messages = _parts_messages(ev["gen_ai.prompt"], "events.gen_ai.content.prompt.gen_ai.prompt")
        elif name == "gen_ai.content.completion" and answer is None and "gen_ai.completion" in ev:
            out = _parts_messages(ev["gen_ai.completion"], "events.gen_ai.content.completion.gen_ai.completion")
            answer = out[0]["content"] if out else None
        elif name in _MESSAGE_EVENTS:
            content = ev.get("content", _json(ev.get("body")))
            found.append({"role": _MESSAGE_EVENTS[name], "content": as_text(content, f"events.{name}.content") or ""})
        elif name == "gen_ai.choice" and answer is None:
            message = _json(ev.get("message", ev.get("body")))
            answer = as_text(message.get("content") if isinstance(message, dict) else message, "events.gen_ai.choice")
    if messages is None and found:
        messages = found
    if messages is None:
        messages = _indexed(attrs, "gen_ai.prompt") or None
    if answer is None:
        completions = _indexed(attrs, "gen_ai.completion")
        answer = completions[0]["content"] if completions else None
    return messages, answer


def _span_request(span: dict[str, Any], resource: dict[str, Any], columns: tuple[str, ...]) -> Request | None:
    attrs = _attributes(span.get("attributes"))
    if not _is_inference(attrs):
        return None
    start = span.get("startTimeUnixNano")
    if start in (None, "", "0", 0):
        raise FieldError("startTimeUnixNano", "a GenAI span without a start time")
    try:
        start_ns = int(start)
    except (TypeError, ValueError):
        raise FieldError("startTimeUnixNano", f"expected nanoseconds since the epoch, got {start!r}") from None
    end = span.get("endTimeUnixNano")
    latency = (int(end) - start_ns) / 1e6 if isinstance(end, str | int) and str(end).isdigit() and int(end) else None
    messages, answer = _io(attrs, span.get("events") or [])
    if not messages:
        raise FieldError("gen_ai.input.messages", "a GenAI span without its input (was content capture on?)")
    status = span.get("status") or {}
    code = _STATUS.get(status.get("code", 0), str(status.get("code"))) if isinstance(status, dict) else None
    finish = attrs.get("gen_ai.response.finish_reasons")
    merged = {**resource, **attrs}
    return Request(
        timestamp_us=start_ns // 1000,
        messages=messages,
        response=answer,
        model=as_text(attrs.get("gen_ai.response.model", attrs.get("gen_ai.request.model")), "gen_ai.request.model"),
        log_id=as_text(span.get("spanId"), "spanId"),
        status=code,
        is_error=status_of(code, None)[1] or "error.type" in attrs,
        latency_ms=as_float(latency, "endTimeUnixNano"),
        prompt_tokens=as_int(attrs.get("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens")), "usage"),
        completion_tokens=as_int(
            attrs.get("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens")), "usage"
        ),
        finish_reason=as_text(finish[0] if isinstance(finish, list) and finish else finish, "finish_reasons"),
        columns={name: merged.get(name) for name in columns},
    )


def requests_from_otlp(document: Any, columns: tuple[str, ...] = ()) -> Iterator[Request | FieldError | None]:
    """Each span of an ``ExportTraceServiceRequest``: a request, a :class:`FieldError` (a GenAI
    span that cannot be read; its field is prefixed with the span's place), or ``None`` (not a
    GenAI inference span)."""
    if not isinstance(document, dict) or not isinstance(document.get("resourceSpans"), list):
        yield FieldError("resourceSpans", "not an OTLP trace export (no resourceSpans list)")
        return
    for r, resource_spans in enumerate(document["resourceSpans"]):
        if not isinstance(resource_spans, dict):
            yield FieldError(f"resourceSpans.{r}", "expected an object")
            continue
        resource = _attributes((resource_spans.get("resource") or {}).get("attributes"))
        for s, scope in enumerate(
            resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans") or []
        ):
            for i, span in enumerate((scope or {}).get("spans") or []):
                where = f"resourceSpans.{r}.scopeSpans.{s}.spans.{i}"
                try:
                    yield _span_request(span, resource, columns) if isinstance(span, dict) else None
                except FieldError as exc:
                    yield FieldError(f"{where}.{exc.field}", exc.message)
                except (TypeError, ValueError, AttributeError, KeyError) as exc:
                    yield FieldError(where, f"malformed span ({type(exc).__name__}: {exc})")
