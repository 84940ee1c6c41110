"""The canonical JSON and hash definitions are a storage contract: these values must not change."""

from __future__ import annotations

import hashlib

import pytest

from tailgate.records import canonical_json, content_hash, item_id


def test_canonical_json_is_sorted_compact_and_unescaped() -> None:
    assert canonical_json({"b": 1, "a": ["é", 2.5, None]}) == '{"a":["é",2.5,null],"b":1}'


def test_nan_is_not_canonical() -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json(float("nan"))


def test_content_hash_definition() -> None:
    text = '{"input":{"q":"What is 2+2?"},"reference":4}'
    assert item_id({"q": "What is 2+2?"}, 4) == hashlib.sha256(text.encode()).hexdigest()[:16]
    # A frozen value: if this changes, stored runs stop pairing with new ones.
    assert content_hash({"input": {"q": "What is 2+2?"}, "reference": 4}) == "33fd01121d6351c0"


def test_int_and_float_differ() -> None:
    assert item_id({"q": "x"}, 1) != item_id({"q": "x"}, 1.0)
