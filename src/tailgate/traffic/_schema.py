"""The traffic table (version 1): one row per production request, append-only.

``TRAFFIC_COLUMNS`` is the single source of truth: the import writes it, ``docs/traffic.md``
documents it (a test checks the two agree).

Ids are content hashes (:func:`tailgate.records.content_hash`, the records contract):

* ``request_id`` = hash of ``{"traffic": <the normalised request>}``: its timestamp (integer
  microseconds since the epoch, UTC), log id, model, messages or prompt, response, status,
  latency (float milliseconds), token counts, finish reason and user-declared columns. The same
  request read twice, from the same line or from another format that carries the same fields, is
  one request; the file, line and format it came from are not part of it.
* ``input_id`` = hash of ``{"messages": ...}`` or ``{"prompt": ...}``: the same input sent at
  different times (the request key a shadow run pairs on, and what near-duplicate removal starts
  from).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from tailgate.records import HASH_HEX_DIGITS, Column, canonical_json, content_hash, fast_content_hash, floats_agree

__all__ = [
    "DERIVED_COLUMNS",
    "TRAFFIC_COLUMNS",
    "TRAFFIC_SCHEMA_VERSION",
    "Request",
    "input_id",
    "request_keys",
    "traffic_arrow_schema",
]

TRAFFIC_SCHEMA_VERSION = 1

TRAFFIC_COLUMNS: tuple[Column, ...] = (
    Column("schema_version", "int32", False, "Traffic schema version (1)."),
    Column(
        "request_id", "string", False, "Content hash of the normalised request (see [ids](#ids)); unique in the table."
    ),
    Column("input_id", "string", False, "Content hash of the input alone (messages or prompt)."),
    Column("timestamp", "timestamp[us, UTC]", False, "When the request arrived (UTC)."),
    Column("log_id", "string", True, "The log's own id (OpenAI response id, OTel span id), when it has one."),
    Column("model", "string", True, "Model named by the request or the response."),
    Column("messages", "string", True, "Canonical JSON of the chat messages `[{role, content}]` (text content)."),
    Column("prompt", "string", True, "Completion-style prompt text (when there are no messages)."),
    Column("input_text", "string", False, "The text attributes are derived from: user messages, else the prompt."),
    Column("response", "string", True, "The logged answer text."),
    Column("status", "string", True, "Status as logged: an HTTP code, `ok`, `error`, `unset`..."),
    Column("is_error", "bool", False, "The request failed (status >= 400, `error`, or an error field)."),
    Column("latency_ms", "double", True, "End-to-end latency in milliseconds."),
    Column("prompt_tokens", "int64", True, "Input tokens as logged (usage)."),
    Column("completion_tokens", "int64", True, "Output tokens as logged (usage)."),
    Column("finish_reason", "string", True, "Finish reason of the first choice."),
    Column(
        "columns",
        "string",
        False,
        "Canonical JSON object of the user-declared columns (`--column`); the shadow proxy's per-target timings.",
    ),
    Column("input_tokens", "string", False, "Derived: bucket of the input tokens (usage, else chars / 4)."),
    Column("lang", "string", False, "Derived: ISO 639-1 language of the input text (fastText), `und` if no letters."),
    Column("names", "string", False, "Derived: `none`, `english` or `non_english` proper names (as the report)."),
    Column("non_ascii", "bool", False, "Derived: letters outside ASCII."),
    Column("has_numbers", "bool", False, "Derived: a digit."),
    Column("asks_json", "bool", False, "Derived: the input mentions JSON."),
    Column("has_code", "bool", False, "Derived: a code block or several lines of code."),
    Column("turns", "int32", False, "Derived: user turns in the messages (1 for a prompt)."),
    Column(
        "source",
        "string",
        False,
        "File the request was first imported from (as given); `shadow:RUN` for the shadow proxy.",
    ),
    Column("source_line", "int64", False, "Line (JSONL, CSV) or row (Parquet) in that file, 1-based."),
    Column("format", "string", False, "`openai-jsonl`, `otel`, `csv`, `parquet` or `shadow` (`tailgate shadow`)."),
    Column("imported_at", "timestamp[us, UTC]", False, "When the import wrote the row."),
)

DERIVED_COLUMNS = ("input_tokens", "lang", "names", "non_ascii", "has_numbers", "asks_json", "has_code", "turns")


@dataclass(slots=True)
class Request:
    """One production request, normalised from any log format.

    ``timestamp_us`` is microseconds since the epoch (UTC). Exactly one of ``messages`` and
    ``prompt`` is set; ``messages`` holds ``{"role", "content"}`` dicts with text content.
    """

    timestamp_us: int
    messages: list[dict[str, str]] | None = None
    prompt: str | None = None
    response: str | None = None
    model: str | None = None
    log_id: str | None = None
    status: str | None = None
    is_error: bool = False
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    columns: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        """The fields hashed into ``request_id`` (a contract: see the module docstring)."""
        return {
            "timestamp_us": self.timestamp_us,
            "log_id": self.log_id,
            "model": self.model,
            "messages": self.messages,
            "prompt": self.prompt,
            "response": self.response,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "finish_reason": self.finish_reason,
            "columns": self.columns,
        }

    def request_id(self) -> str:
        identity = self.identity()
        return fast_content_hash({"traffic": identity}, floats_in=(identity["latency_ms"], identity["columns"]))

    def input_text(self) -> str:
        """User messages joined by blank lines (all messages if none is from the user), or the prompt."""
        if self.messages is None:
            return self.prompt or ""
        user = [m["content"] for m in self.messages if m["role"] == "user"]
        return "\n\n".join(user if user else [m["content"] for m in self.messages])

    def turns(self) -> int:
        if self.messages is None:
            return 1
        return max(1, sum(1 for m in self.messages if m["role"] == "user"))


def request_keys(request: Request) -> tuple[str, str, bytes | None]:
    """``(request_id, input_id, messages column)`` of a request: the values of
    :meth:`Request.request_id`, :func:`input_id` and the UTF-8 of the messages' canonical JSON,
    with the messages serialised once (their canonical JSON, orjson's, goes into both hashes as a
    pre-serialised fragment and is the column's text; a test checks the three)."""
    if request.messages is None:
        return request.request_id(), input_id(request), None
    try:
        messages = orjson.dumps(request.messages, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):  # (not for text orjson read) the contract's own path
        return request.request_id(), input_id(request), canonical_json(request.messages).encode()
    key = hashlib.sha256(b'{"messages":' + messages + b"}").hexdigest()[:HASH_HEX_DIGITS]
    identity = request.identity()
    if floats_agree(identity["latency_ms"]) and floats_agree(identity["columns"]):
        identity["messages"] = orjson.Fragment(messages)
        try:
            data = orjson.dumps({"traffic": identity}, option=orjson.OPT_SORT_KEYS)
            return hashlib.sha256(data).hexdigest()[:HASH_HEX_DIGITS], key, messages
        except (TypeError, orjson.JSONEncodeError):  # an int past 64 bits, a non-string key
            pass
    return content_hash({"traffic": request.identity()}), key, messages


def input_id(request: Request) -> str:
    """Content hash of the request's input alone (see the module docstring)."""
    if request.messages is not None:
        return fast_content_hash({"messages": request.messages}, floats_in=())
    return fast_content_hash({"prompt": request.prompt}, floats_in=())


def traffic_arrow_schema() -> Any:
    """The Arrow schema of the traffic table's Parquet parts."""
    import pyarrow as pa

    types = {
        "int32": pa.int32(),
        "int64": pa.int64(),
        "double": pa.float64(),
        "bool": pa.bool_(),
        "string": pa.string(),
        "timestamp[us, UTC]": pa.timestamp("us", tz="UTC"),
    }
    return pa.schema([pa.field(c.name, types[c.type], nullable=c.nullable) for c in TRAFFIC_COLUMNS])
