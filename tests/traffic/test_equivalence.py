"""The fast paths give the contract's answers: ids as ``content_hash``, derivations as before."""

from __future__ import annotations

import re
import sys
import unicodedata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailgate.records import _derive as derive
from tailgate.records import canonical_json, content_hash, fast_content_hash
from tailgate.traffic import Request
from tailgate.traffic._schema import request_keys

CHARS = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]


def test_orjson_canonical_json_equals_the_contract_on_every_code_point() -> None:
    for start in range(0, len(CHARS), 8192):
        text = "".join(CHARS[start : start + 8192])
        value = {"b": text, "a": [text, {"é": None, "z": True, text[:3]: -(2**63)}], "c": 2**63 - 1}
        assert fast_content_hash(value) == content_hash(value)


@pytest.mark.parametrize("number", [0.1, 420.0, 1e16, 1e-7, 123456789.125, -0.0, 1e300, 5e-324, 2**64])
def test_numbers_fall_back_where_the_encoders_differ(number: float) -> None:
    value = {"latency_ms": number, "columns": {"x": [number]}}
    assert fast_content_hash(value) == content_hash(value)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(JSONISH)
def test_any_json_value(value: Any) -> None:
    assert fast_content_hash({"v": value}) == content_hash({"v": value})


# -- the report's derivations, made faster for traffic: the same answers as the original code ---


def _names_before(text: str) -> str:
    """detect_names as it was (slicing the text for every capitalised word)."""
    for match in derive._ACCENTED_CAPITALISED.finditer(text):
        word = match.group(0)
        before = text[: match.start()].rstrip()
        sentence_start = not before or before[-1] in '.!?¿¡:;\n"«'
        if not word.isascii() and not sentence_start and word.lower() not in derive._NOT_NAMES:
            return "non_english"
    found = "none"
    for first, last in derive._NAME_PAIR.findall(text):
        if first.lower() in derive._NOT_NAMES or last.lower() in derive._NOT_NAMES:
            continue
        if first.lower() in derive._ENGLISH_FIRST and first.isascii() and last.isascii():
            found = "english" if found == "none" else found
        else:
            return "non_english"
    return found


SAMPLES = st.lists(
    st.sampled_from([*'aeÉéZzÄäß .\n\t:;"«0٣²{}`ÀÖØÞĀſ', "  ", "Ünal", "José", "Jack", "Smith", "The"]), max_size=30
).map("".join)


@settings(max_examples=500, deadline=None)
@given(SAMPLES)
def test_derivations_unchanged(text: str) -> None:
    features = derive.derive_item_features(text, None)
    assert features["non_ascii"] == any(c.isalpha() and not c.isascii() for c in text)
    assert features["has_numbers"] == any(c.isdigit() for c in text)
    assert features["names"] == _names_before(text)


def test_derivations_unchanged_on_every_code_point() -> None:
    for start in range(0, len(CHARS), 4096):
        text = "".join(CHARS[start : start + 4096])
        features = derive.derive_item_features(text, None)
        assert features["non_ascii"] == any(c.isalpha() and not c.isascii() for c in text)
        assert features["has_numbers"] == any(c.isdigit() for c in text)
    for char in CHARS[:0x3000]:
        if unicodedata.category(char).startswith(("L", "N")):
            text = f"x {char}y Zz 1"
            assert derive.detect_names(text) == _names_before(text)
    assert re.compile(r"[0-9]").search("x٣") is None  # why ASCII text alone takes the fast path


# -- the import's ids with the messages serialised once: the contract's values ------------------

MESSAGES = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system"]), "content": st.text()}),
    min_size=1,
    max_size=4,
)
REQUESTS = st.builds(
    Request,
    timestamp_us=st.integers(min_value=0, max_value=2**62),
    messages=st.none() | MESSAGES,
    prompt=st.text(),
    response=st.none() | st.text(),
    model=st.none() | st.text(max_size=8),
    log_id=st.none() | st.text(max_size=8),
    status=st.none() | st.sampled_from(["200", "ok", "error"]),
    latency_ms=st.none() | st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    prompt_tokens=st.none() | st.integers(min_value=0, max_value=2**70),
    completion_tokens=st.none() | st.integers(min_value=0, max_value=2**40),
    finish_reason=st.none() | st.text(max_size=5),
    columns=st.dictionaries(st.text(max_size=4), JSONISH, max_size=3),
)


@settings(max_examples=400, deadline=None)
@given(REQUESTS)
def test_request_keys_are_the_contract_hashes(request: Request) -> None:
    if request.messages is not None:
        request.prompt = None
    rid, key, messages = request_keys(request)
    assert rid == content_hash({"traffic": request.identity()})
    assert key == content_hash(
        {"messages": request.messages} if request.messages is not None else {"prompt": request.prompt}
    )
    assert messages == (None if request.messages is None else canonical_json(request.messages).encode())
