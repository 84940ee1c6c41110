"""Coercing logged values (JSON, CSV text, Parquet cells) into a request's typed fields.

Every failure is a :class:`FieldError` naming the field, which the import turns into a counted
bad line ``file:line: field 'x': ...``; nothing here raises anything else on user data.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["FieldError", "as_float", "as_int", "as_messages", "as_text", "as_timestamp_us", "lookup", "status_of"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MISSING = object()


class FieldError(ValueError):
    """A value of a logged request is missing or has the wrong type."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def lookup(obj: Any, path: str, parts: tuple[str, ...] | None = None) -> Any:
    """``obj["a"]["b"]`` for ``a.b`` (a key containing the dots wins); ``None`` when absent.
    ``parts``: ``path`` split at its dots, when the caller has it already."""
    if isinstance(obj, dict) and path in obj:
        return obj[path]
    current = obj
    for part in path.split(".") if parts is None else parts:
        if isinstance(current, dict):
            current = current.get(part, _MISSING)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
        if current is _MISSING:
            return None
    return current


def _type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def as_timestamp_us(value: Any, name: str) -> int:
    """ISO 8601 text (``Z``, an offset, or none: UTC) or epoch seconds, milliseconds,
    microseconds or nanoseconds (told apart by magnitude), as integer microseconds."""
    if isinstance(value, bool) or value is None:
        raise FieldError(name, f"expected a time, got {_type(value)}")
    if isinstance(value, datetime):  # Parquet timestamps, naive ones taken as UTC
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        delta = moment - _EPOCH
        return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None:
            return _epoch_us(number, name)
        try:
            moment = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
        except ValueError:
            raise FieldError(name, f"'{value[:40]}' is not an ISO 8601 time or an epoch number") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        delta = moment - _EPOCH
        return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(value, int | float):
        return _epoch_us(float(value), name)
    raise FieldError(name, f"expected a time, got {_type(value)}")


def _epoch_us(number: float, name: str = "timestamp") -> int:
    if not math.isfinite(number) or number < 0:
        raise FieldError(name, f"{number} is not a time")
    magnitude = abs(number)
    if magnitude < 1e11:  # seconds (until the year 5138)
        return round(number * 1e6)
    if magnitude < 1e14:
        return round(number * 1e3)
    if magnitude < 1e17:
        return round(number)
    return round(number / 1e3)


def as_float(value: Any, name: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise FieldError(name, "expected a number, got a boolean")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FieldError(name, f"expected a number, got {_type(value)}") from None
    if not math.isfinite(number):
        raise FieldError(name, f"{value} is not a finite number")
    return number


def as_int(value: Any, name: str) -> int | None:
    number = as_float(value, name)
    if number is None:
        return None
    if number != int(number) or number < 0:
        raise FieldError(name, f"expected a count, got {value}")
    return int(number)


def as_text(value: Any, name: str) -> str | None:
    """Text, or the text parts of OpenAI-style content (``[{"type": "text", "text": ...}]``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                text = part.get("text", part.get("content"))
                if isinstance(text, str):
                    parts.append(text)
        return "\n".join(parts)
    if isinstance(value, dict):
        for key in ("text", "content", "output_text"):
            if isinstance(value.get(key), str | list):
                return as_text(value[key], name)
    raise FieldError(name, f"expected text, got {_type(value)}")


def as_messages(value: Any, name: str) -> list[dict[str, str]]:
    """``[{"role", "content"}]`` with text content; a JSON string of that is accepted (CSV)."""
    if isinstance(value, str) and value.lstrip().startswith("["):  # a CSV cell
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise FieldError(name, "expected a JSON list of messages") from None
    if not isinstance(value, list):
        raise FieldError(name, f"expected a list of messages, got {_type(value)}")
    messages = []
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise FieldError(f"{name}.{i}", f"expected a message object, got {_type(message)}")
        role = message.get("role", "user")
        if not isinstance(role, str):
            raise FieldError(f"{name}.{i}.role", f"expected a string, got {_type(role)}")
        content = message.get("content", message.get("parts"))
        messages.append({"role": role, "content": as_text(content, f"{name}.{i}.content") or ""})
    if not messages:
        raise FieldError(name, "no messages")
    return messages


_OK = {"ok", "success", "succeeded", "completed", "status_code_ok", "unset", "status_code_unset"}


def status_of(status: Any, error: Any) -> tuple[str | None, bool]:
    """The status as text and whether the request failed."""
    text: str | None
    if status is None or status == "":
        text = None
    elif isinstance(status, bool):
        text = "ok" if status else "error"
    elif isinstance(status, int | float):
        text = str(int(status))
    else:
        text = str(status).strip().lower()
    failed = bool(error) and error not in ("null", "None")
    if text is not None and not failed:
        failed = int(text) >= 400 if text.isdigit() else text not in _OK
    return text, failed
