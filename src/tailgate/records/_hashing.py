"""Content hashing over a canonical JSON form. This definition is a contract: ids in stored runs
depend on it, so it changes only with a new records schema version.

Canonical JSON of a value: ``json.dumps(value, sort_keys=True, separators=(",", ":"),
ensure_ascii=False, allow_nan=False)`` encoded as UTF-8. Strings are not Unicode-normalised;
``1`` and ``1.0`` are different values. A hash is the first 16 hex digits (64 bits) of SHA-256.

* item id   = hash of ``{"input": <the row's fields except id, reference and attributes>,
  "reference": <reference or null>}``: the same question and answer get the same id in every run,
  whatever its row number, id column or attribute labels.
* cache key = first 16 hex digits of the SHA-256 of ``canonical_json({"provider": <model
  identity>, "mode": ..., "params": <decoding parameters sent, effective seed included>,
  "repeat": r})``, a newline, and the stored prompt (text, or canonical JSON of the messages).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "cache_key_hasher",
    "canonical_json",
    "content_hash",
    "fast_content_hash",
    "file_sha256",
    "floats_agree",
    "item_id",
]

HASH_HEX_DIGITS = 16


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value`` (see the module docstring)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def content_hash(value: Any) -> str:
    """First 16 hex digits of the SHA-256 of ``value``'s canonical JSON."""
    digest = hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
    return digest[:HASH_HEX_DIGITS]


def floats_agree(value: Any) -> bool:
    """Whether orjson writes every float in ``value`` as ``json.dumps`` does (they differ only in
    exponent forms, e.g. ``1e16`` against ``1e+16``, ``1e-05`` against ``1e-5``)."""
    if type(value) is float:
        return orjson.dumps(value) == repr(value).encode()
    if isinstance(value, dict):
        return all(floats_agree(v) for v in value.values())
    if isinstance(value, list):
        return all(floats_agree(v) for v in value)
    return True


def fast_content_hash(value: Any, *, floats_in: tuple[Any, ...] | None = None) -> str:
    """:func:`content_hash`, byte for byte, about ten times faster: orjson with sorted keys writes
    the same canonical JSON for strings, ints, booleans, null, lists and dicts with string keys
    (tests check every code point), and floats are checked one by one (``floats_in``: the parts of
    ``value`` that can hold floats; default all of it). Falls back to :func:`content_hash` for an
    int past 64 bits, a non-string key or a float orjson writes differently."""
    try:
        if all(floats_agree(part) for part in ((value,) if floats_in is None else floats_in)):
            data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
            return hashlib.sha256(data).hexdigest()[:HASH_HEX_DIGITS]
    except (TypeError, orjson.JSONEncodeError):
        pass
    return content_hash(value)


def item_id(input_fields: dict[str, Any], reference: Any) -> str:
    """The content-addressed id of an item."""
    return content_hash({"input": input_fields, "reference": reference})


def cache_key_hasher(head: dict[str, Any]) -> Any:
    """A function ``prompt -> cache key`` for one fixed head (provider, mode, params, repeat);
    the head is hashed once, so planning many samples stays cheap."""
    base = hashlib.sha256((canonical_json(head) + "\n").encode("utf-8"))

    def key(prompt: str) -> str:
        digest = base.copy()
        digest.update(prompt.encode("utf-8"))
        return digest.hexdigest()[:HASH_HEX_DIGITS]

    return key


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
