"""The frames between the proxy process and its mirror worker (one Unix socketpair).

A frame is a 5-byte header, ``<I`` the payload's length and one byte its kind, then the payload.
The proxy writes ``CAPTURED`` frames without waiting (an asyncio transport: past a bound of
buffered bytes a capture is dropped and counted, never awaited); everything else is small JSON.

``CAPTURED`` payload: ``<II`` (length of the JSON head, length of the request body), the head
(:data:`HEAD_FIELDS`, a JSON array), the request body bytes, then the primary's response bytes
(the rest). Bodies travel as raw bytes: nothing on the proxy's side parses or encodes them.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

from tailgate.shadow._records import Captured

__all__ = [
    "CAPTURED",
    "CONFIG",
    "FAILED",
    "FINAL",
    "HEADER",
    "HEAD_FIELDS",
    "LOG",
    "READY",
    "READ_LIMIT",
    "SNAPSHOT",
    "STOP",
    "TAKEN",
    "captured_frame",
    "frame",
    "json_frame",
    "read_captured",
]

HEADER = struct.Struct("<IB")
_LENGTHS = struct.Struct("<II")
TAKEN = struct.Struct("<Q")
"""A ``SNAPSHOT`` (and ``FINAL``) payload starts with the number of ``CAPTURED`` frames the worker
has taken so far (the proxy reads it from every snapshot, the JSON after it only when asked)."""
READ_LIMIT = 1 << 24
"""The stream readers' buffer limit on both ends (a frame is read whole with ``readexactly``)."""

# proxy -> worker
CONFIG = 1
CAPTURED = 2
STOP = 3
# worker -> proxy
READY = 10
FAILED = 11
SNAPSHOT = 12
LOG = 13
FINAL = 14

HEAD_FIELDS = (
    "mode",
    "path",
    "headers",
    "status",
    "encoding",
    "started_at",
    "ended_at",
    "timestamp_us",
    "ttft_ms",
    "latency_ms",
    "secret",
    "error",
)


def frame(kind: int, payload: bytes) -> bytes:
    return HEADER.pack(len(payload), kind) + payload


def json_frame(kind: int, value: Any) -> bytes:
    return frame(kind, orjson.dumps(value))


def captured_frame(head: list[Any], body: bytes, response: list[bytes], response_size: int) -> list[bytes]:
    """The buffers of one ``CAPTURED`` frame (for ``transport.writelines``: the response chunks
    are not joined here). ``head`` holds the :data:`HEAD_FIELDS` values in order."""
    meta = orjson.dumps(head, option=orjson.OPT_NON_STR_KEYS)  # (header names are istr)
    size = _LENGTHS.size + len(meta) + len(body) + response_size
    return [HEADER.pack(size, CAPTURED) + _LENGTHS.pack(len(meta), len(body)), meta, body, *response]


def read_captured(payload: bytes) -> tuple[str, Captured]:
    """The record mode and the :class:`Captured` of a ``CAPTURED`` payload."""
    meta_len, body_len = _LENGTHS.unpack_from(payload)
    start = _LENGTHS.size
    head = dict(zip(HEAD_FIELDS, orjson.loads(payload[start : start + meta_len]), strict=True))
    start += meta_len
    body = payload[start : start + body_len]
    response = payload[start + body_len :]
    mode = head.pop("mode")
    return mode, Captured(body=body, response=response, **head)
