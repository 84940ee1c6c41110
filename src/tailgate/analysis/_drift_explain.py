"""Explained drift: which slices and which n-grams moved most, and typical requests of each window.

* **Slices.** For every attribute value (a category, or a bin of a number at the reference's
  deciles) the share of requests in each window, with Wilson score intervals, and the difference
  current - reference with Newcombe's hybrid score interval (Newcombe 1998, "Interval estimation
  for the difference between independent proportions", Stat. Med. 17:873, method 10): with
  Wilson limits (l1, u1) of the reference share p1 and (l2, u2) of the current share p2,

      d = p2 - p1,   [d - sqrt((p2 - l2)^2 + (u1 - p1)^2),  d + sqrt((u2 - p2)^2 + (p1 - l1)^2)].

  It stays inside [-1, 1] and keeps its coverage for small counts and shares near 0, where the
  Wald interval does not. The intervals are per slice (not adjusted for how many are listed).
* **N-grams.** The log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi & Quinn
  2008, "Fightin' words", Political Analysis 16:372, eqs. 16-22) of each word 1-2-gram between the
  windows. Counts are documents (requests containing the n-gram, so one long request cannot carry
  a term); y_c, y_r the counts, n_c, n_r their totals over all n-grams; the prior is the pooled
  windows, alpha_w = y_c + y_r, alpha_0 = n_c + n_r:

      delta_w = ln((y_c + a_w) / (n_c + a_0 - y_c - a_w)) - ln((y_r + a_w) / (n_r + a_0 - y_r - a_w)),
      var(delta_w) ~ 1 / (y_c + a_w) + 1 / (y_r + a_w),   z_w = delta_w / sqrt(var).

  The prior shrinks rare n-grams towards no difference, so the list is not led by terms seen
  twice; positive z marks the current window, negative the reference.
* **Typical requests** of each window: those the domain classifier (fitted on both windows'
  texts) finds most like their own window, cut at 300 characters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from tailgate.analysis._drift import AttributeDrift
from tailgate.analysis._estimate import Estimate, wilson_interval

__all__ = [
    "NgramShift",
    "SliceShift",
    "TypicalRequest",
    "log_odds_ngrams",
    "newcombe_difference",
    "slice_shifts",
    "typical_requests",
]

TYPICAL_CHARS = 300


@dataclass(frozen=True)
class SliceShift:
    """How one slice's share of requests moved.

    Attributes:
        attribute: the attribute.
        value: its value (a category, or a bin such as ``(120, 250]`` for a number).
        ref_count: reference requests in the slice.
        ref_n: reference requests with a value of the attribute.
        cur_count: current requests in the slice.
        cur_n: current requests with a value of the attribute.
        ref_share: the reference's share, with its Wilson interval.
        cur_share: the current window's share, with its Wilson interval.
        difference: cur_share - ref_share, with Newcombe's hybrid score interval.
    """

    attribute: str
    value: str
    ref_count: int
    ref_n: int
    cur_count: int
    cur_n: int
    ref_share: Estimate
    cur_share: Estimate
    difference: Estimate

    @property
    def label(self) -> str:
        return f"{self.attribute}={self.value}"

    @property
    def significant(self) -> bool:
        """The difference's interval excludes 0."""
        d = self.difference
        return d.low is not None and d.high is not None and (d.low > 0 or d.high < 0)


@dataclass(frozen=True)
class NgramShift:
    """One n-gram's change between the windows (Monroe et al. 2008).

    Attributes:
        ngram: the word 1- or 2-gram.
        ref_count: reference requests containing it.
        cur_count: current requests containing it.
        log_odds: the log-odds ratio current vs reference with the pooled prior.
        z: its z-score (positive: current; negative: reference).
    """

    ngram: str
    ref_count: int
    cur_count: int
    log_odds: float
    z: float


@dataclass(frozen=True)
class TypicalRequest:
    """A request the classifier finds most like its window.

    Attributes:
        window: ``ref`` or ``cur``.
        text: its input text, cut at 300 characters (``...`` marks a cut).
        score: the classifier's decision value (positive: current-like).
    """

    window: Literal["ref", "cur"]
    text: str
    score: float


def newcombe_difference(
    ref_count: float, ref_n: float, cur_count: float, cur_n: float, confidence: float = 0.95
) -> Estimate:
    """cur share - ref share with Newcombe's (1998) hybrid score interval (module docstring).

    Example:
        >>> d = newcombe_difference(10, 100, 25, 100)
        >>> round(d.value, 3), round(d.low, 4), round(d.high, 4)
        (0.15, 0.0447, 0.2533)
    """
    if ref_n <= 0 or cur_n <= 0:
        raise ValueError("both windows need at least one request")
    p1, p2 = ref_count / ref_n, cur_count / cur_n
    l1, u1 = wilson_interval(ref_count, ref_n, confidence)
    l2, u2 = wilson_interval(cur_count, cur_n, confidence)
    d = p2 - p1
    low = d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    n = int(ref_n + cur_n)
    method = "difference of shares, Newcombe hybrid score interval (method 10)"
    return Estimate.from_bounds(d, low, high, n_items=n, n_samples=n, method=method, confidence=confidence)


def slice_shifts(
    attributes: Sequence[AttributeDrift], *, top: int = 10, confidence: float = 0.95
) -> tuple[SliceShift, ...]:
    """The ``top`` slices (attribute values) whose share moved most, largest absolute change first."""
    found = []
    for a in attributes:
        n_r, n_c = a.test.n_ref, a.test.n_cur
        if len(a.ref_share) < 2 or n_r == 0 or n_c == 0:
            continue  # one value in both windows: nothing moved
        pairs = list(zip(a.ref_share, a.cur_share, strict=True))
        if len(pairs) == 2:  # the two values of a binary attribute mirror each other: keep the rising one
            pairs = [max(pairs, key=lambda p: p[1][1] - p[0][1])]
        for (value, r), (_, c) in pairs:
            x_r, x_c = round(r * n_r), round(c * n_c)
            method = "share of requests, Wilson score interval"
            found.append(
                SliceShift(
                    a.name,
                    value,
                    x_r,
                    n_r,
                    x_c,
                    n_c,
                    Estimate.wilson(x_r, n_r, method=method, confidence=confidence),
                    Estimate.wilson(x_c, n_c, method=method, confidence=confidence),
                    newcombe_difference(x_r, n_r, x_c, n_c, confidence),
                )
            )
    found.sort(key=lambda s: (-abs(s.difference.value or 0.0), s.attribute, s.value))
    return tuple(found[:top])


def log_odds_ngrams(
    terms: Sequence[str], ref_counts: np.ndarray, cur_counts: np.ndarray, *, top: int = 10
) -> tuple[tuple[NgramShift, ...], tuple[NgramShift, ...]]:
    """The n-grams most over-represented in the current window and in the reference (module
    docstring), ``top`` of each, largest |z| first.

    Example:
        >>> cur, ref = log_odds_ngrams(["json", "the"], np.array([5, 50]), np.array([40, 50]), top=1)
        >>> cur[0].ngram, ref[0].ngram
        ('json', 'the')
    """
    y_r, y_c = np.asarray(ref_counts, dtype=float), np.asarray(cur_counts, dtype=float)
    n_r, n_c = float(y_r.sum()), float(y_c.sum())
    if n_r <= 0 or n_c <= 0:
        return (), ()
    a = y_r + y_c
    a0 = n_r + n_c
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = np.log((y_c + a) / (n_c + a0 - y_c - a)) - np.log((y_r + a) / (n_r + a0 - y_r - a))
        z = delta / np.sqrt(1.0 / (y_c + a) + 1.0 / (y_r + a))
    z = np.where(np.isfinite(z), z, 0.0)
    order = np.argsort(-z, kind="stable")

    def shift(i: int) -> NgramShift:
        return NgramShift(str(terms[i]), int(y_r[i]), int(y_c[i]), float(delta[i]), float(z[i]))

    cur = tuple(shift(int(i)) for i in order[:top] if z[i] > 0)
    ref = tuple(shift(int(i)) for i in order[::-1][:top] if z[i] < 0)
    return cur, ref


def _cut(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= TYPICAL_CHARS else flat[: TYPICAL_CHARS - 3] + "..."


def typical_requests(
    ref_texts: Sequence[str], cur_texts: Sequence[str], scores: np.ndarray, *, per_window: int = 3
) -> tuple[TypicalRequest, ...]:
    """The ``per_window`` most current-like current requests and most reference-like reference
    requests by the classifier's decision values ``scores`` (reference rows first); distinct texts."""
    n_r = len(ref_texts)
    out: list[TypicalRequest] = []
    for window, texts, values, sign in (
        ("cur", cur_texts, scores[n_r:], -1.0),
        ("ref", ref_texts, scores[:n_r], 1.0),
    ):
        seen: set[str] = set()
        for i in np.argsort(sign * np.asarray(values), kind="stable"):
            cut = _cut(texts[int(i)])
            if cut in seen or not cut:
                continue
            seen.add(cut)
            out.append(TypicalRequest(window, cut, float(values[int(i)])))  # type: ignore[arg-type]
            if len(seen) >= per_window:
                break
    return tuple(out)


def ngram_counts(x: Any, n_ref: int) -> tuple[np.ndarray, np.ndarray]:
    """Documents containing each feature, per window, from a (TF-IDF) matrix whose first
    ``n_ref`` rows are the reference."""
    present = (x > 0).astype(np.float32)
    ref = np.asarray(present[:n_ref].sum(axis=0)).ravel()
    cur = np.asarray(present[n_ref:].sum(axis=0)).ravel()
    return ref, cur
