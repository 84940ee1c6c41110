"""The request key and the sampling decisions (a contract: docs/shadow.md)."""

from __future__ import annotations

import hashlib
import json

import pytest

from tailgate.shadow import mirror_share, noise_share, request_key, skip_reason


def _keys(n: int) -> list[str]:
    return [
        request_key("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": f"q{i}"}]})
        for i in range(n)
    ]


def test_the_key_is_the_documented_hash() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "héllo"}], "temperature": 0.5}
    text = json.dumps(
        {"path": "/v1/chat/completions", "body": body}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert request_key("/v1/chat/completions", body) == hashlib.sha256(text.encode()).hexdigest()[:16]


def test_streamed_or_not_and_the_user_field_are_the_same_request() -> None:
    base = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    key = request_key("/v1/chat/completions", base)
    assert (
        request_key("/v1/chat/completions", {**base, "stream": True, "stream_options": {"include_usage": True}}) == key
    )
    assert request_key("/v1/chat/completions", {**base, "user": "u-123"}) == key
    assert request_key("/v1/chat/completions", {**base, "temperature": 0.1}) != key
    assert request_key("/v1/completions", base) != key


@pytest.mark.parametrize("rate", [0.01, 0.05, 0.2, 0.5])
def test_the_sampled_share_is_within_half_a_point_over_100k_keys(rate: float) -> None:
    keys = _keys(100_000)
    share = sum(mirror_share(k) < rate for k in keys) / len(keys)
    assert abs(share - rate) <= 0.005, share
    # the binomial sd at 100k is at most 0.16 pp, so 0.5 pp is over 3 sd: a hash that is not
    # uniform would fail, a uniform one passes with probability > 0.999


def test_decisions_are_deterministic_and_noise_is_independent() -> None:
    keys = _keys(100_000)
    assert [mirror_share(k) for k in keys[:100]] == [mirror_share(k) for k in _keys(100)]
    mirrored = [k for k in keys if mirror_share(k) < 0.2]
    noisy = sum(noise_share(k) < 0.1 for k in mirrored) / len(mirrored)
    assert abs(noisy - 0.1) <= 0.01  # the noise share of the mirrored ones, not 0 or 1
    low = [k for k in keys if mirror_share(k) < 0.5]
    high = [k for k in keys if mirror_share(k) >= 0.5]
    a = sum(noise_share(k) < 0.5 for k in low) / len(low)
    b = sum(noise_share(k) < 0.5 for k in high) / len(high)
    assert abs(a - b) < 0.015  # independent of the mirror hash


def test_skip_reasons() -> None:
    from multidict import CIMultiDict

    assert skip_reason({"tools": []}, CIMultiDict(), mirror_tools=False) == "tools"
    assert skip_reason({"tools": []}, CIMultiDict(), mirror_tools=True) is None
    assert skip_reason({}, CIMultiDict({"idempotency-key": "x"}), mirror_tools=True) == "no_mirror_header"
    assert skip_reason({"model": "m"}, CIMultiDict(), mirror_tools=False) is None


@pytest.mark.parametrize(
    "value",
    [0.7, 1e-05, 1e16, 1.5e300, -0.0, 2**70, "ünï\u2028cødé \x00 \ud7ff 😀", [1, 2.5, None, True], {"b": {"a": [0.1]}}],
)
def test_the_fast_key_is_the_contract_hash(value: object) -> None:
    from tailgate.records import content_hash

    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "extra": value}
    expected = content_hash({"path": "/p", "body": body})
    assert request_key("/p", body) == expected
