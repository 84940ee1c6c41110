"""The frames between the proxy process and its mirror worker (one Unix socketpair).

A frame is a 5-byte header, ``<I`` the payload's length and one byte its kind, then the payload.
The proxy writes ``CAPTURED`` frames without waiting (an asyncio transport: past a bound of
buffered bytes a capture is dropped and counted, never awaited); everything else is small JSON.

``CAPTURED`` payload: ``<III`` (lengths of the JSON head, of the header lines and of the request
body), the head (:data:`HEAD_FIELDS`, a JSON array), the client's header lines as forwarded to the
primary (``Name: value\r\n`` each, the bytes the primary got), the request body bytes, then the
primary's response bytes (the rest). Bodies and header lines travel as raw bytes and times as
integer microseconds: the proxy's side neither parses, decodes nor formats them (the worker does).
"""

from __future__ import annotations

import struct
import time
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
    "header_dict",
    "iso_utc",
    "json_frame",
    "read_captured",
]

HEADER = struct.Struct("<IB")
_LENGTHS = struct.Struct("<III")
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
    "status",
    "encoding",
    "timestamp_us",
    "ended_us",
    "ttft_ms",
    "latency_ms",
    "secret",
    "error",
)


def frame(kind: int, payload: bytes) -> bytes:
    return HEADER.pack(len(payload), kind) + payload


def json_frame(kind: int, value: Any) -> bytes:
    return frame(kind, orjson.dumps(value))


def captured_frame(
    head: list[Any], headers: bytes, body: bytes, response: list[bytes], response_size: int
) -> list[bytes]:
    """The buffers of one ``CAPTURED`` frame (for ``transport.writelines``: the response chunks
    are not joined here). ``head`` holds the :data:`HEAD_FIELDS` values in order; ``headers`` the
    header lines forwarded to the primary."""
    meta = orjson.dumps(head)
    size = _LENGTHS.size + len(meta) + len(headers) + len(body) + response_size
    lengths = _LENGTHS.pack(len(meta), len(headers), len(body))
    return [HEADER.pack(size, CAPTURED) + lengths, meta, headers, body, *response]


def read_captured(payload: bytes) -> tuple[str, Captured]:
    """The record mode and the :class:`Captured` of a ``CAPTURED`` payload."""
    meta_len, headers_len, body_len = _LENGTHS.unpack_from(payload)
    start = _LENGTHS.size
    head = dict(zip(HEAD_FIELDS, orjson.loads(payload[start : start + meta_len]), strict=True))
    start += meta_len
    headers = header_dict(payload[start : start + headers_len])
    start += headers_len
    body = payload[start : start + body_len]
    response = payload[start + body_len :]
    mode = head.pop("mode")
    started_at, ended_at = iso_utc(head["timestamp_us"]), iso_utc(head.pop("ended_us"))
    return mode, Captured(
        body=body, response=response, headers=headers, started_at=started_at, ended_at=ended_at, **head
    )


def header_dict(lines: bytes) -> dict[str, str]:
    """``Name: value\r\n`` lines as the dict the worker uses: the first line of each name
    (compared case-insensitively) under the name as sent, decoded as aiohttp decodes headers."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for line in lines.split(b"\r\n"):
        name, sep, value = line.partition(b": ")
        if not sep:
            continue
        text = name.decode("utf-8", "surrogateescape")
        if text.lower() not in seen:
            seen.add(text.lower())
            out[text] = value.decode("utf-8", "surrogateescape")
    return out


def iso_utc(timestamp_us: int) -> str:
    """Microseconds since the epoch as :func:`tailgate.store.utc_now` writes a time."""
    seconds, micros = divmod(timestamp_us, 1_000_000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{micros:06d}Z"
