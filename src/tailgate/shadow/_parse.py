"""Reading an upstream's answer (JSON or server-sent events) into what a record holds."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["Outcome", "classify_status", "parse_response"]


@dataclass(frozen=True)
class Outcome:
    """What one call answered: the text (or None), usage, finish reason, or the fault."""

    output: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    finish_reason: str | None = None
    error_class: str | None = None
    error_message: str | None = None

    @staticmethod
    def fault(error_class: str, message: str) -> Outcome:
        return Outcome(error_class=error_class, error_message=message[:2000])


def classify_status(status: int) -> str | None:
    """The standard fault class of an HTTP status (None for a success)."""
    if status < 400:
        return None
    if status == 429:
        return "rate_limit"
    if status >= 500:
        return "server_error"
    return "client_error"


def _decoded(body: bytes, encoding: str | None) -> bytes:
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc in ("gzip", "x-gzip"):
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if enc == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -zlib.MAX_WBITS)
    raise ValueError(f"content encoding {enc!r} is not read")


def parse_response(mode: str, status: int, body: bytes, *, encoding: str | None = None) -> Outcome:
    """The outcome of a call from its status and body bytes (a stream is detected by its
    ``data:`` lines, so a server that ignores ``stream`` is read correctly too)."""
    error_class = classify_status(status)
    try:
        raw = _decoded(body, encoding)
    except (ValueError, zlib.error) as exc:
        return Outcome.fault(error_class or "malformed_response", f"HTTP {status}: undecodable body ({exc})")
    if error_class is not None:
        return Outcome.fault(error_class, f"HTTP {status}: {raw[:500].decode('utf-8', 'replace')}")
    stripped = raw.lstrip()
    try:
        if stripped.startswith(b"data:") or stripped.startswith(b":") or stripped.startswith(b"event:"):
            return _parse_stream(mode, raw)
        return _parse_json(mode, orjson.loads(raw))
    except (orjson.JSONDecodeError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        return Outcome.fault("malformed_response", f"unreadable {mode} response: {type(exc).__name__}: {exc}")


def _usage(data: dict[str, Any]) -> tuple[int | None, int | None]:
    usage = data.get("usage")
    if not isinstance(usage, dict):
        return None, None
    pin, pout = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return (pin if isinstance(pin, int) else None), (pout if isinstance(pout, int) else None)


def _parse_json(mode: str, data: Any) -> Outcome:
    if not isinstance(data, dict):
        raise ValueError("the body is not a JSON object")
    if isinstance(data.get("error"), dict | str) and "choices" not in data and "data" not in data:
        raise ValueError(f"an error object with a success status: {str(data['error'])[:300]}")
    tokens_in, tokens_out = _usage(data)
    if mode == "embeddings":
        if not isinstance(data.get("data"), list):
            raise ValueError("no 'data' list")
        return Outcome(tokens_in=tokens_in, tokens_out=tokens_out)
    choice = data["choices"][0]
    text = choice["message"].get("content") if mode == "chat" else choice["text"]
    if text is not None and not isinstance(text, str):
        raise ValueError("the answer is not a string")
    return Outcome(text or "", tokens_in, tokens_out, choice.get("finish_reason"))


def _parse_stream(mode: str, raw: bytes) -> Outcome:
    """Concatenated deltas of an SSE stream; usage and finish reason from the chunks that carry them."""
    parts: list[str] = []
    tokens_in = tokens_out = None
    finish: str | None = None
    done = False
    for line in raw.splitlines():
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if payload == b"[DONE]":
            done = True
            break
        chunk = orjson.loads(payload)
        if not isinstance(chunk, dict):
            raise ValueError("a stream chunk is not a JSON object")
        if "error" in chunk and not chunk.get("choices"):
            raise ValueError(f"an error in the stream: {str(chunk['error'])[:300]}")
        pin, pout = _usage(chunk)
        tokens_in, tokens_out = pin if pin is not None else tokens_in, pout if pout is not None else tokens_out
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            piece = (choice.get("delta") or {}).get("content") if mode == "chat" else choice.get("text")
            if isinstance(piece, str):
                parts.append(piece)
            finish = choice.get("finish_reason") or finish
    if not done:
        raise ValueError("the stream ended without [DONE]")
    return Outcome("".join(parts), tokens_in, tokens_out, finish)
