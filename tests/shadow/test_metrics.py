"""The proxy's own histogram exports what prometheus_client's does for the same observations."""

from __future__ import annotations

import random
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import Histogram as ReferenceHistogram
from prometheus_client.parser import text_string_to_metric_families

from tailgate.shadow._metrics import _LATENCY_BUCKETS, Histogram


def _parsed(registry: CollectorRegistry) -> tuple[list[tuple[str, str, str]], dict[tuple[str, tuple[Any, ...]], float]]:
    families, samples = [], {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        families.append((family.name, family.type, family.documentation))
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return families, samples


@pytest.mark.parametrize("seed", [0, 1])
def test_the_fast_histogram_matches_prometheus_client(seed: int) -> None:
    rng = random.Random(seed)
    mine, reference = CollectorRegistry(), CollectorRegistry()
    fast = Histogram("t_latency_seconds", "Latency.", ["target", "phase"], buckets=_LATENCY_BUCKETS, registry=mine)
    slow = ReferenceHistogram(
        "t_latency_seconds", "Latency.", ["target", "phase"], buckets=_LATENCY_BUCKETS, registry=reference
    )
    # values on the bucket bounds (le is inclusive), between them, past the last, and zero
    values = [*_LATENCY_BUCKETS, 0.0, 31.0, *(rng.expovariate(50) for _ in range(500))]
    for v in values:
        for labels in (("primary", "ttfb"), ("candidate", "total")):
            fast.labels(*labels).observe(v)
            slow.labels(*labels).observe(v)
    fast.labels("unused", "total")
    slow.labels("unused", "total")
    got_families, got = _parsed(mine)
    want_families, want = _parsed(reference)
    assert got_families == want_families
    created = {k for k in want if k[0].endswith("_created")}
    assert set(got) == set(want)
    assert {k: v for k, v in got.items() if k not in created} == pytest.approx(
        {k: v for k, v in want.items() if k not in created}
    )
    inf = ("t_latency_seconds_bucket", (("le", "+Inf"), ("phase", "ttfb"), ("target", "primary")))
    assert got[inf] == len(values)


def test_a_wrong_number_of_label_values_is_an_error() -> None:
    h = Histogram("t_seconds", "T.", ["phase"], buckets=(0.1, 1.0), registry=CollectorRegistry())
    with pytest.raises(ValueError, match="1 label values expected"):
        h.labels("a", "b")
