"""Each log format becomes the same normalised request; wrong values name their field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tailgate.traffic import FieldError, ReadOptions, Request, request_from_mapping, requests_from_otlp
from tailgate.traffic._fields import as_timestamp_us

T0 = int(datetime(2024, 5, 1, 10, 0, tzinfo=UTC).timestamp() * 1_000_000)
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Wie spät ist es?"}]


def _read(obj: dict[str, Any], **options: Any) -> Request:
    return request_from_mapping(obj, ReadOptions(**options))


def test_flat_openai_line() -> None:
    r = _read(
        {
            "timestamp": "2024-05-01T10:00:00Z",
            "model": "gpt-4o",
            "messages": MESSAGES,
            "response": "Zehn Uhr.",
            "latency_ms": 420,
            "usage": {"prompt_tokens": 20, "completion_tokens": 5},
            "status": 200,
        }
    )
    assert r.timestamp_us == T0
    assert (r.model, r.response, r.latency_ms, r.prompt_tokens, r.completion_tokens) == (
        "gpt-4o",
        "Zehn Uhr.",
        420.0,
        20,
        5,
    )
    assert (r.status, r.is_error) == ("200", False)
    assert r.messages == MESSAGES
    assert r.input_text() == "Wie spät ist es?"
    assert r.turns() == 1


def test_request_and_response_objects_as_the_api_sent_them() -> None:
    r = _read(
        {
            "created_at": T0 / 1e6,
            "request": {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            },
            "response": {
                "id": "chatcmpl-1",
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [{"message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 8, "completion_tokens": 2},
            },
            "latency": 1.5,
        },
        latency_unit="s",
    )
    assert r.timestamp_us == T0
    assert (r.model, r.log_id, r.response, r.finish_reason) == ("gpt-4o-mini", "chatcmpl-1", "Hello", "stop")
    assert r.messages == [{"role": "user", "content": "Hi"}]
    assert (r.prompt_tokens, r.completion_tokens, r.latency_ms) == (8, 2, 1500.0)


def test_completion_prompt_and_start_end_times() -> None:
    r = _read({"start_time": "2024-05-01 10:00:00", "end_time": "2024-05-01T10:00:02.5+00:00", "prompt": "Once upon"})
    assert (r.prompt, r.messages, r.latency_ms, r.turns()) == ("Once upon", None, 2500.0, 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (T0 / 1e6, T0),  # seconds
        (T0 // 1000, T0),  # milliseconds
        (T0, T0),  # microseconds
        (T0 * 1000, T0),  # nanoseconds
        (str(T0 / 1e6), T0),
        ("2024-05-01T12:00:00+02:00", T0),
        ("2024-05-01T10:00:00.000000Z", T0),
        (datetime(2024, 5, 1, 10, 0), T0),  # a naive Parquet time is UTC
    ],
)
def test_timestamps(value: Any, expected: int) -> None:
    assert as_timestamp_us(value, "timestamp") == expected


@pytest.mark.parametrize(
    ("obj", "field", "message"),
    [
        ({"prompt": "x"}, "timestamp", "no timestamp"),
        ({"timestamp": "soon", "prompt": "x"}, "timestamp", "not an ISO 8601 time"),
        ({"timestamp": True, "prompt": "x"}, "timestamp", "expected a time"),
        ({"timestamp": -5, "prompt": "x"}, "timestamp", "not a time"),
        ({"timestamp": 1, "messages": "hello"}, "messages", "expected a list of messages"),
        ({"timestamp": 1, "messages": [3]}, "messages.0", "expected a message object"),
        ({"timestamp": 1, "messages": [{"role": 1, "content": "x"}]}, "messages.0.role", "expected a string"),
        ({"timestamp": 1, "messages": [{"role": "user", "content": {"a": 1}}]}, "messages.0.content", "expected text"),
        ({"timestamp": 1}, "messages", "no input"),
        ({"timestamp": 1, "prompt": "x", "latency_ms": "fast"}, "latency_ms", "expected a number"),
        ({"timestamp": 1, "prompt": "x", "usage": {"prompt_tokens": 1.5}}, "usage.prompt_tokens", "expected a count"),
        ({"timestamp": 1, "prompt": "x", "latency_ms": float("nan")}, "latency_ms", "not a finite number"),
    ],
)
def test_wrong_values_name_their_field(obj: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(FieldError) as caught:
        _read(obj)
    assert caught.value.field == field
    assert message in caught.value.message


def test_named_fields_and_user_columns() -> None:
    r = _read(
        {"ts": "2024-05-01T10:00:00Z", "q": "Hi", "meta": {"team": "search", "tier": 2}},
        fields={"timestamp": "ts", "prompt": "q"},
        columns=("meta.team", "meta.tier", "missing"),
    )
    assert (r.timestamp_us, r.prompt) == (T0, "Hi")
    assert r.columns == {"meta.team": "search", "meta.tier": 2, "missing": None}


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (200, None, ("200", False)),
        (429, None, ("429", True)),
        ("ok", None, ("ok", False)),
        ("FAILED", None, ("failed", True)),
        (None, {"message": "boom"}, (None, True)),
        (None, None, (None, False)),
    ],
)
def test_status(status: Any, error: Any, expected: tuple[str | None, bool]) -> None:
    r = _read({"timestamp": 1, "prompt": "x", "status": status, "error": error})
    assert (r.status, r.is_error) == expected


def test_request_id_ignores_where_the_line_came_from_but_not_its_content() -> None:
    line = {"timestamp": "2024-05-01T10:00:00Z", "messages": MESSAGES, "response": "a"}
    again = {"response": "a", "messages": MESSAGES, "timestamp": T0 / 1e6}  # other key order, other time form
    assert _read(line).request_id() == _read(again).request_id()
    assert _read(line).request_id() != _read({**line, "response": "b"}).request_id()
    assert _read(line).request_id() != _read({**line, "timestamp": "2024-05-01T10:00:01Z"}).request_id()


# -- OpenTelemetry --------------------------------------------------------------------------------


def _kv(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, value in attrs.items():
        if isinstance(value, bool):
            v: dict[str, Any] = {"boolValue": value}
        elif isinstance(value, int):
            v = {"intValue": str(value)}
        elif isinstance(value, float):
            v = {"doubleValue": value}
        elif isinstance(value, list):
            v = {"arrayValue": {"values": [{"stringValue": x} for x in value]}}
        else:
            v = {"stringValue": value}
        out.append({"key": key, "value": v})
    return out


def span(attrs: dict[str, Any], events: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    start = T0 * 1000
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": extra.pop("span_id", "eee19b7ec3c1b174"),
        "name": "chat gpt-4o",
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 750_000_000),
        "attributes": _kv(attrs),
        "events": [{"timeUnixNano": str(start), "name": n, "attributes": _kv(a)} for n, a in (events or [])],
        "status": extra.pop("status", {}),
    }


def otlp(*spans: dict[str, Any], resource: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _kv(resource or {"service.name": "chatbot"})},
                "scopeSpans": [{"scope": {"name": "openai"}, "spans": list(spans)}],
            }
        ]
    }


BASE = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 3,
    "gen_ai.response.finish_reasons": ["stop"],
}


def _one(document: dict[str, Any], columns: tuple[str, ...] = ()) -> Request:
    found = [r for r in requests_from_otlp(document, columns) if r is not None]
    assert len(found) == 1
    assert isinstance(found[0], Request), found[0]
    return found[0]


def test_otel_1_37_messages_attributes() -> None:
    inputs = [{"role": "user", "parts": [{"type": "text", "content": "Bonjour"}]}]
    outputs = [{"role": "assistant", "parts": [{"type": "text", "content": "Salut"}], "finish_reason": "stop"}]
    attrs = {**BASE, "gen_ai.input.messages": json.dumps(inputs), "gen_ai.output.messages": json.dumps(outputs)}
    r = _one(otlp(span(attrs)), columns=("service.name", "gen_ai.provider.name"))
    assert r.timestamp_us == T0
    assert (r.model, r.response, r.latency_ms, r.prompt_tokens, r.completion_tokens) == (
        "gpt-4o-2024-08-06",
        "Salut",
        750.0,
        12,
        3,
    )
    assert r.messages == [{"role": "user", "content": "Bonjour"}]
    assert (r.log_id, r.finish_reason, r.is_error) == ("eee19b7ec3c1b174", "stop", False)
    assert r.columns == {"service.name": "chatbot", "gen_ai.provider.name": "openai"}


def test_otel_prompt_and_completion_events_up_to_1_36() -> None:
    prompt = json.dumps([{"role": "user", "content": "What is 2+2?"}])
    completion = json.dumps([{"role": "assistant", "content": "4"}])
    events = [
        ("gen_ai.content.prompt", {"gen_ai.prompt": prompt}),
        ("gen_ai.content.completion", {"gen_ai.completion": completion}),
    ]
    r = _one(otlp(span(BASE, events, status={"code": 2, "message": "timeout"})))
    assert (r.input_text(), r.response, r.status, r.is_error) == ("What is 2+2?", "4", "error", True)


def test_otel_per_message_events_and_openllmetry_attributes() -> None:
    events = [
        ("gen_ai.system.message", {"content": "Be brief."}),
        ("gen_ai.user.message", {"content": "Hi"}),
        ("gen_ai.choice", {"message": json.dumps({"role": "assistant", "content": "Hello"})}),
    ]
    r = _one(otlp(span(BASE, events)))
    assert r.messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert r.response == "Hello"
    indexed = {
        **BASE,
        "gen_ai.prompt.0.role": "user",
        "gen_ai.prompt.0.content": "Ciao",
        "gen_ai.completion.0.content": "Ciao!",
    }
    r = _one(otlp(span(indexed)))
    assert (r.input_text(), r.response) == ("Ciao", "Ciao!")


def test_otel_other_spans_are_skipped_and_bad_spans_named() -> None:
    http = span({"http.request.method": "POST"})
    embeddings = span({**BASE, "gen_ai.operation.name": "embeddings"})
    no_content = span(BASE)
    no_start = {**span({**BASE, "gen_ai.input.messages": "[]"}), "startTimeUnixNano": "0"}
    found = list(requests_from_otlp(otlp(http, embeddings, no_content, no_start)))
    assert found[:2] == [None, None]
    assert isinstance(found[2], FieldError)
    assert found[2].field == "resourceSpans.0.scopeSpans.0.spans.2.gen_ai.input.messages"
    assert isinstance(found[3], FieldError)
    assert found[3].field.endswith("spans.3.startTimeUnixNano")
    (not_otlp,) = list(requests_from_otlp({"foo": 1}))
    assert isinstance(not_otlp, FieldError)


def write_otlp(path: Path, *documents: dict[str, Any], pretty: bool = False) -> Path:
    if pretty:
        assert len(documents) == 1
        path.write_text(json.dumps(documents[0], indent=2), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    return path
