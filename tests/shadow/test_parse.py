"""Reading upstream answers into records."""

from __future__ import annotations

import gzip
import json

import pytest

from tailgate.shadow import parse_response


def _sse(*chunks: dict[str, object], done: bool = True) -> bytes:
    out = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    return out + (b"data: [DONE]\n\n" if done else b"")


def test_chat_json() -> None:
    body = {
        "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }
    out = parse_response("chat", 200, json.dumps(body).encode())
    assert (out.output, out.tokens_in, out.tokens_out, out.finish_reason, out.error_class) == ("hi", 3, 1, "stop", None)


def test_a_stream_is_the_concatenated_deltas() -> None:
    raw = _sse(
        {"choices": [{"index": 0, "delta": {"role": "assistant"}}]},
        {"choices": [{"index": 0, "delta": {"content": "Hel"}}]},
        {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "length"}]},
        {"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2}},
    )
    out = parse_response("chat", 200, raw)
    assert (out.output, out.finish_reason, out.tokens_in, out.tokens_out) == ("Hello", "length", 4, 2)
    text = _sse({"choices": [{"index": 0, "text": "a"}]}, {"choices": [{"index": 0, "text": "b"}]})
    assert parse_response("completion", 200, text).output == "ab"


@pytest.mark.parametrize(
    ("status", "body", "error_class"),
    [
        (429, b"slow down", "rate_limit"),
        (503, b"", "server_error"),
        (400, b"bad", "client_error"),
        (200, b"not json", "malformed_response"),
        (200, b'{"choices": []}', "malformed_response"),
        (200, b'{"error": {"message": "x"}}', "malformed_response"),
        (200, _sse({"choices": [{"index": 0, "delta": {"content": "cut"}}]}, done=False), "malformed_response"),
    ],
)
def test_faults_are_classified(status: int, body: bytes, error_class: str) -> None:
    out = parse_response("chat", status, body)
    assert out.error_class == error_class
    assert out.output is None


def test_gzip_is_read_and_embeddings_have_no_output() -> None:
    body = gzip.compress(json.dumps({"choices": [{"text": "z"}]}).encode())
    assert parse_response("completion", 200, body, encoding="gzip").output == "z"
    emb = parse_response("embeddings", 200, b'{"data": [{"embedding": [0.1]}], "usage": {"prompt_tokens": 2}}')
    assert (emb.output, emb.error_class, emb.tokens_in) == (None, None, 2)
