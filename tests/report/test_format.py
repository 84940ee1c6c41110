"""One formatting module for every renderer: estimates, p-values, shares, counts, safe text."""

from __future__ import annotations

from dataclasses import dataclass, field

from tailgate.analysis import Estimate
from tailgate.report import _format as fmt


def test_estimate_text_and_html() -> None:
    e = Estimate.from_bounds(0.5, 0.4, 0.6, n_items=10, n_samples=10, method="m")
    assert fmt.estimate(e) == "0.500 [0.400, 0.600]"
    assert fmt.estimate(e, 2, "+") == "+0.50 [+0.40, +0.60]"
    missing = Estimate.no_interval("needs <2> items")
    assert fmt.estimate(missing) == "n/a"
    assert fmt.estimate(missing, why=True) == "n/a (needs <2> items)"
    assert fmt.html_estimate(missing) == "n/a <span class='note'>(needs &lt;2&gt; items)</span>"
    assert fmt.html_estimate(e, 1) == "0.5 [0.4, 0.6]"


def test_numbers() -> None:
    assert fmt.p_value(None) == "n/a"
    assert fmt.p_value(0.0) == "<1e-300"
    assert fmt.p_value(0.01234) == "0.012"
    assert fmt.percent(0.42) == "42%"
    assert fmt.percent(None) == "n/a"
    assert fmt.count(1500) == "1500"
    assert fmt.interval(None, 1.0, missing="too few samples") == "too few samples"
    assert fmt.interval(1.0, 2.5, 0) == "[1, 2]"
    assert fmt.number(None) == "n/a"


@dataclass(frozen=True)
class _Inner:
    text: str
    estimate: Estimate


@dataclass(frozen=True)
class _Outer:
    name: str
    parts: list[_Inner]
    by_key: dict[str, str] = field(default_factory=dict)
    n: int = 3


def test_safe_neutralises_every_string_and_keeps_the_types() -> None:
    bad = "a\x1b[2Jb\u202e"
    est = Estimate.no_interval(bad)
    out = fmt.safe(_Outer(bad, [_Inner(bad, est)], {bad: bad}))
    assert isinstance(out, _Outer)
    assert isinstance(out.parts[0], _Inner)
    assert isinstance(out.parts[0].estimate, Estimate)
    shown = [out.name, out.parts[0].text, out.parts[0].estimate.method, *out.by_key, *out.by_key.values()]
    assert all(s == "a␛[2Jb<U+202E>" for s in shown)
    assert out.n == 3


def test_a_percentile_without_an_interval_says_what_it_lacks() -> None:
    """The latency and score tables print "too few items" when the items rule withheld the
    interval (the method says so), "too few samples" for every other reason."""
    assert fmt.too_few("too few items for p95: with repeats an interval needs 5 items ...") == "too few items"
    assert fmt.too_few("too few samples for p99: a distribution-free 95% interval needs ...") == "too few samples"
    assert fmt.too_few("the sample minimum or maximum: no distribution-free interval") == "too few samples"
