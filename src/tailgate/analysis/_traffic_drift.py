"""``tailgate drift``'s analysis: windows of traffic in, one typed :class:`DriftReport` out.

Pure: the caller reads the windows (``tailgate.traffic``) and hands over one array per attribute
per window; texts and the eval run's quality come through callables, so this module never opens
the store. The statistics are those of :mod:`._drift`, :mod:`._drift_text`, :mod:`._monitor`,
:mod:`._drift_explain` and :mod:`._quality_drift` (docs/drift.md):

* a pair (reference, current): every attribute tested, the domain classifier on the texts (and
  the embedding MMD on request), all corrected together by Benjamini-Hochberg; the verdict is
  "some BH-adjusted p-value <= alpha";
* ``every`` (monitoring): each window against window 0 (attribute tests only, BH within the
  window: descriptive, each window's own 5%), and the anytime-valid monitor over the whole
  sequence; the verdict is the monitor's alarm. The text tests and the explanation are computed
  for window 0 against the window of the first alarm (or the last window without one).

The JSON form (:meth:`DriftReport.as_dict`) is every field of the dataclasses, nested, with tuples
as lists; :meth:`DriftReport.from_dict` reads it back (``tailgate gate --drift FILE``).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from tailgate.analysis._drift import DriftTest, WindowDrift, window_drift
from tailgate.analysis._drift_explain import (
    NgramShift,
    SliceShift,
    TypicalRequest,
    log_odds_ngrams,
    ngram_counts,
    slice_shifts,
    typical_requests,
)
from tailgate.analysis._estimate import Estimate
from tailgate.analysis._monitor import MonitorResult, monitor
from tailgate.analysis._quality_drift import QualityUnderDrift
from tailgate.analysis._stats import adjust_bh

__all__ = [
    "DRIFT_SCHEMA_VERSION",
    "DriftComparison",
    "DriftExplanation",
    "DriftReport",
    "DriftWindow",
    "TextTest",
    "WindowQuality",
    "analyse_drift",
    "load_drift",
]

DRIFT_SCHEMA_VERSION = 1
SMALL_WINDOW = 100  # requests below which a window gets a warning
EMBED_MAX = 2000  # texts per window the embedding test reads

Texts = Callable[[int, int], tuple[list[str], list[str], str | None]]
"""(reference window, current window) -> their sampled texts and a note on the sampling."""


@dataclass(frozen=True)
class WindowQuality:
    """The eval run's score re-weighted to one window's mix (``quality_under_drift``).

    Attributes:
        suite: the suite's score as the report gives it.
        reweighted: the score on the window's mix of covered cells.
        delta: reweighted - suite.
        covered_share: the share of the window's requests the eval covers.
        explanation: the result in one paragraph.
        warnings: unknown, pooled and bounded cells.
    """

    suite: Estimate
    reweighted: Estimate
    delta: Estimate
    covered_share: Estimate
    explanation: str
    warnings: tuple[str, ...]

    @classmethod
    def of(cls, q: QualityUnderDrift) -> WindowQuality:
        return cls(q.suite, q.reweighted, q.delta, q.covered_share, q.explanation(), q.warnings)


@dataclass(frozen=True)
class DriftWindow:
    """One window of the analysis.

    Attributes:
        index: 0 for the reference (also in ``every`` mode), 1... after it.
        name: ``ref``, ``cur`` or ``window K``.
        spec: what it was asked as (``7d``, ``first half``, ``2023-11-16T00:00:00Z +1d``...).
        n: its requests.
        first: its first request's time (ISO 8601, UTC).
        last: its last request's time.
        quality: the run's score re-weighted to this window (None without ``run``).
    """

    index: int
    name: str
    spec: str
    n: int
    first: str | None
    last: str | None
    quality: WindowQuality | None = None


@dataclass(frozen=True)
class TextTest:
    """A test of the request texts, corrected with the attributes.

    Attributes:
        name: ``text: domain classifier`` or ``text: embeddings (MMD)``.
        test: the test.
        p_adjusted: its BH-adjusted p-value over the window's tests.
        auc: the classifier's AUC with its interval (None for the MMD).
    """

    name: str
    test: DriftTest
    p_adjusted: float
    auc: Estimate | None = None


@dataclass(frozen=True)
class DriftComparison:
    """One window against the reference.

    Attributes:
        window: the current window's index.
        attributes: every attribute's test and magnitudes (BH over the window's tests, text included).
        text: the text tests of this window (none in ``every`` mode but for the explained window).
        drifted: the attributes and text tests whose adjusted p-value is at most alpha.
    """

    window: int
    attributes: WindowDrift
    text: tuple[TextTest, ...]
    drifted: tuple[str, ...]


@dataclass(frozen=True)
class DriftExplanation:
    """What moved between the reference and one window (docs/drift.md, "Explained drift").

    Attributes:
        ref: the reference window's index.
        cur: the explained window's index.
        slices: the attribute values whose share moved most, largest change first.
        cur_ngrams: n-grams over-represented in the current window (largest z first).
        ref_ngrams: n-grams over-represented in the reference.
        typical: requests most like their own window, by the classifier (3 per window).
        texts: how the texts were sampled (None: all were read; "" : no text analysed).
    """

    ref: int
    cur: int
    slices: tuple[SliceShift, ...]
    cur_ngrams: tuple[NgramShift, ...]
    ref_ngrams: tuple[NgramShift, ...]
    typical: tuple[TypicalRequest, ...]
    texts: str | None


@dataclass(frozen=True)
class DriftReport:
    """``tailgate drift``: has the traffic moved, how much, and what moved.

    Attributes:
        schema_version: of the JSON form (1).
        mode: ``pair`` (reference vs current) or ``every`` (consecutive windows, monitored).
        every: the ``--every`` spec in ``every`` mode.
        windows: the windows, reference first.
        comparisons: each later window against the reference.
        monitor: the anytime-valid monitor over all windows (``every`` mode only).
        explanation: what moved, for the pair or for the reference against the alarm (else last) window.
        alpha: the level of every verdict (BH false discovery rate; the monitor's false-alarm bound).
        seed: of every random draw.
        attributes: the attributes tested.
        monitored: the attributes the monitor watched (``every`` mode).
        drift_detected: pair: some adjusted p-value is at most alpha; every: the monitor alarmed.
        verdict: the result in one line.
        run_id: the eval run re-weighted to each window ("" without one).
        by: the attributes the run is re-weighted on.
        warnings: small windows, attributes left out, tests skipped.
    """

    schema_version: int
    mode: Literal["pair", "every"]
    every: str | None
    windows: tuple[DriftWindow, ...]
    comparisons: tuple[DriftComparison, ...]
    monitor: MonitorResult | None
    explanation: DriftExplanation | None
    alpha: float
    seed: int
    attributes: tuple[str, ...]
    monitored: tuple[str, ...]
    drift_detected: bool
    verdict: str
    run_id: str
    by: tuple[str, ...]
    warnings: tuple[str, ...]

    def comparison(self, window: int | None = None) -> DriftComparison:
        """The comparison of ``window`` (default: the explained one, else the last)."""
        if window is None:
            window = self.explanation.cur if self.explanation is not None else self.comparisons[-1].window
        for c in self.comparisons:
            if c.window == window:
                return c
        raise KeyError(f"no comparison of window {window}")

    def as_dict(self) -> dict[str, Any]:
        """The JSON of ``tailgate drift --json`` (docs/drift.md, "JSON")."""
        return typing.cast("dict[str, Any]", _dump(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReport:
        """Read :meth:`as_dict`'s form back.

        Raises:
            ValueError: not a drift report of this schema version, or a field is missing or of the wrong type.
        """
        version = data.get("schema_version") if isinstance(data, Mapping) else None
        if version != DRIFT_SCHEMA_VERSION:
            raise ValueError(
                f"not a tailgate drift report of schema version {DRIFT_SCHEMA_VERSION} (schema_version: {version!r})"
            )
        return typing.cast("DriftReport", _load(cls, data, "report"))


def load_drift(path: str) -> DriftReport:
    """A drift report saved by ``tailgate drift --json FILE`` (``tailgate gate --drift FILE``).

    Raises:
        InputError: the file cannot be read, or is not a drift report's JSON of this schema version.
    """
    from tailgate.analysis._saved import load_saved

    return load_saved(path, DriftReport.from_dict, command="drift", what="drift report")


# --- JSON: every dataclass field, read back by type ----------------------------------------------


def _dump(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _dump(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [_dump(x) for x in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def _load(tp: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = typing.get_args(tp)
        if data is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _load(option, data, where)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0] if errors else f"{where}: unexpected null")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(data, list):
            raise ValueError(f"{where}: expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_load(args[0], x, f"{where}[{i}]") for i, x in enumerate(data))
        return tuple(_load(a, x, f"{where}[{i}]") for i, (a, x) in enumerate(zip(args, data, strict=True)))
    if origin is Literal:
        if data not in typing.get_args(tp):
            raise ValueError(f"{where}: {data!r} is not one of {typing.get_args(tp)}")
        return data
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: expected an object")
        hints = typing.get_type_hints(tp)
        values = {}
        for f in dataclasses.fields(tp):
            if f.name not in data:
                if f.default is not dataclasses.MISSING:
                    continue
                raise ValueError(f"{where}: missing field {f.name!r}")
            values[f.name] = _load(hints[f.name], data[f.name], f"{where}.{f.name}")
        return typing.cast(Any, tp)(**values)
    return _scalar(tp, data, where)


def _scalar(tp: Any, data: Any, where: str) -> Any:
    if tp is float:
        if data in ("inf", "-inf"):
            return float(data)
        if data is None:
            return math.nan
        if isinstance(data, int | float) and not isinstance(data, bool):
            return float(data)
    if tp in (int, str, bool) and type(data) is tp:
        return data
    if tp is type(None) and data is None:
        return None
    raise ValueError(f"{where}: expected {getattr(tp, '__name__', tp)}, got {type(data).__name__}")


# --- the analysis --------------------------------------------------------------------------------


def _usable(
    windows: Sequence[Mapping[str, np.ndarray]], names: Sequence[str]
) -> tuple[list[str], list[str], list[str]]:
    """Attributes every window has a value of (kept), those missing somewhere (left out), and the
    kept ones with a missing value in some request (not monitored: its bins would move)."""
    kept, absent, partial = [], [], []
    for name in names:
        columns = [np.asarray(w[name]) for w in windows]
        numeric = all(c.dtype.kind in "iuf" for c in columns)
        present = [int(np.isfinite(c).sum()) if numeric else c.size for c in columns]
        if min(present) < (2 if numeric else 1):
            absent.append(name)
            continue
        kept.append(name)
        if numeric and sum(present) < sum(c.size for c in columns):
            partial.append(name)
    return kept, absent, partial


def _compare(
    ref: Mapping[str, np.ndarray],
    cur: Mapping[str, np.ndarray],
    index: int,
    text: Sequence[tuple[str, DriftTest, Estimate | None]],
    alpha: float,
    seed: int,
) -> DriftComparison:
    extra = {name: test.p_value for name, test, _ in text}
    drift = window_drift(ref, cur, alpha=alpha, extra_p=extra, seed=seed)
    adjusted = adjust_bh(np.array([a.test.p_value for a in drift.attributes] + list(extra.values()), dtype=float))
    tests = tuple(
        TextTest(name, test, float(q), auc)
        for (name, test, auc), q in zip(text, adjusted[len(drift.attributes) :], strict=True)
    )
    drifted = drift.drifted + tuple(t.name for t in tests if t.p_adjusted <= alpha)
    return DriftComparison(index, drift, tests, drifted)


@dataclass(frozen=True)
class _TextFindings:
    tests: tuple[tuple[str, DriftTest, Estimate | None], ...]
    cur_ngrams: tuple[NgramShift, ...]
    ref_ngrams: tuple[NgramShift, ...]
    typical: tuple[TypicalRequest, ...]
    note: str | None
    warnings: tuple[str, ...]


def _text_findings(
    ref_texts: list[str],
    cur_texts: list[str],
    note: str | None,
    *,
    embeddings: bool,
    embed: Callable[[list[str]], np.ndarray] | None,
    seed: int,
) -> _TextFindings:
    """The domain classifier (one TF-IDF fit: its test, the n-grams' counts, the typical requests'
    scores) and, on request, the embedding MMD on at most ``EMBED_MAX`` texts per window."""
    from tailgate.analysis._drift_text import _features, _model, classifier_test, embedding_drift

    warnings: list[str] = []
    if min(len(ref_texts), len(cur_texts)) < 5:
        warnings.append("text tests skipped: each window needs at least 5 requests for the domain classifier")
        return _TextFindings((), (), (), (), note, tuple(warnings))
    x, terms = _features([*ref_texts, *cur_texts])
    n_ref = len(ref_texts)
    found = classifier_test(x, n_ref, seed=seed, top=0)
    test = found.test if note is None else replace(found.test, note=note)
    tests: list[tuple[str, DriftTest, Estimate | None]] = [("text: domain classifier", test, found.auc)]
    full = _model()
    y = np.r_[np.zeros(n_ref, dtype=int), np.ones(len(cur_texts), dtype=int)]
    full.fit(x, y)  # type: ignore[attr-defined]
    scores = np.asarray(full.decision_function(x))  # type: ignore[attr-defined]
    ref_counts, cur_counts = ngram_counts(x, n_ref)
    cur_ngrams, ref_ngrams = log_odds_ngrams(terms, ref_counts, cur_counts)
    typical = typical_requests(ref_texts, cur_texts, scores)
    if embeddings:
        rng = np.random.default_rng([seed, 3])
        a = _subsample(ref_texts, EMBED_MAX, rng)
        b = _subsample(cur_texts, EMBED_MAX, rng)
        mmd = embedding_drift(a, b, embed=embed, seed=seed)
        if len(a) < len(ref_texts) or len(b) < len(cur_texts):
            mmd = replace(mmd, note=f"a random {len(a):,} and {len(b):,} of the texts (at most {EMBED_MAX:,} each)")
        tests.append(("text: embeddings (MMD)", mmd, None))
    return _TextFindings(tuple(tests), cur_ngrams, ref_ngrams, typical, note, tuple(warnings))


def _subsample(texts: list[str], k: int, rng: np.random.Generator) -> list[str]:
    if len(texts) <= k:
        return texts
    return [texts[i] for i in np.sort(rng.choice(len(texts), k, replace=False))]


def analyse_drift(
    windows: Sequence[DriftWindow],
    arrays: Sequence[Mapping[str, np.ndarray]],
    *,
    mode: Literal["pair", "every"],
    attributes: Sequence[str] | None = None,
    monitored: Sequence[str] | None = None,
    every: str | None = None,
    texts: Texts | None = None,
    embeddings: bool = False,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    quality: Callable[[Mapping[str, np.ndarray]], QualityUnderDrift] | None = None,
    run_id: str = "",
    by: Sequence[str] = (),
    alpha: float = 0.05,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> DriftReport:
    """Drift of the windows' attributes (and texts) against the first window (module docstring).

    Args:
        windows: the windows, the reference first (two in ``pair`` mode).
        arrays: for each window, attribute name -> one value per request (numbers: numeric tests;
            text and booleans: categorical). Attributes absent from some window are left out.
        mode: ``pair`` or ``every``.
        attributes: the attributes to test (default: every key of ``arrays``; others, e.g. the
            ``by`` attributes, are only handed to ``quality``).
        monitored: the attributes the monitor watches (default: all tested ones); its cost grows
            with their joint cells.
        every: the ``--every`` spec (for the report).
        texts: reads the sampled texts of a (reference, current) pair of window indices; None: no
            text analysis.
        embeddings: also the embedding MMD test (needs ``texts``).
        embed: the embedding function (default all-MiniLM-L6-v2, extra ``semantic``).
        quality: the eval run re-weighted to a window's arrays (needs the ``by`` attributes in them).
        run_id: the eval run, for the report.
        by: the attributes ``quality`` re-weights on (for the report).
        alpha: BH's false discovery rate and the monitor's false-alarm bound.
        seed: of every random draw.
        progress: called with a short description before each step.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> ref = {"lang": rng.choice(["en", "de"], 400, p=[0.9, 0.1])}
        >>> cur = {"lang": rng.choice(["en", "de"], 400, p=[0.6, 0.4])}
        >>> w = [DriftWindow(0, "ref", "r", 400, None, None), DriftWindow(1, "cur", "c", 400, None, None)]
        >>> report = analyse_drift(w, [ref, cur], mode="pair")
        >>> report.drift_detected, report.explanation.slices[0].label
        (True, 'lang=de')
    """
    if len(windows) != len(arrays) or len(windows) < 2:
        raise ValueError("at least two windows, one attribute mapping each")
    step = progress or (lambda _: None)
    kept, absent, partial = _usable(arrays, list(arrays[0]) if attributes is None else attributes)
    warnings = [
        f"{w.name} ({w.spec}): only {w.n} requests: the tests have little power" for w in windows if w.n < SMALL_WINDOW
    ]
    if absent:
        warnings.append(f"not tested (no value in some window): {', '.join(absent)}")
    if not kept:
        raise ValueError("no attribute has values in every window: nothing to test")
    views = [{n: a[n] for n in kept} for a in arrays]
    result_monitor = None
    watch: list[str] = []
    if mode == "every":
        step(f"monitoring {len(windows)} windows")
        watched = kept if monitored is None else [n for n in monitored if n in kept]
        missing = [n for n in watched if n in partial]
        if missing:
            warnings.append(f"not monitored (missing in some requests): {', '.join(missing)}")
        watch = [n for n in watched if n not in partial] or [n for n in kept if n not in partial]
        if not watch:
            raise ValueError("every attribute misses values in some request: nothing to monitor")
        result_monitor = monitor([{n: v[n] for n in watch} for v in views], alpha=alpha, seed=seed)
    comparisons = []
    for k in range(1, len(windows)):
        step(f"testing {windows[k].name} against {windows[0].name}")
        comparisons.append(_compare(views[0], views[k], windows[k].index, (), alpha, seed))
    target = len(windows) - 1
    if result_monitor is not None and result_monitor.alarm_at is not None:
        target = result_monitor.alarm_at
    findings = None
    if texts is not None:
        step(f"text: {windows[0].name} against {windows[target].name}")
        ref_t, cur_t, note = texts(0, target)
        findings = _text_findings(ref_t, cur_t, note, embeddings=embeddings, embed=embed, seed=seed)
        warnings.extend(findings.warnings)
        if findings.tests:
            comparisons[target - 1] = _compare(
                views[0], views[target], windows[target].index, findings.tests, alpha, seed
            )
    explained = comparisons[target - 1]
    explanation = DriftExplanation(
        windows[0].index,
        windows[target].index,
        slice_shifts(explained.attributes.attributes),
        findings.cur_ngrams if findings else (),
        findings.ref_ngrams if findings else (),
        findings.typical if findings else (),
        (findings.note if findings else ""),
    )
    if quality is not None:
        step("re-weighting the run to each window")
        windows = [replace(w, quality=WindowQuality.of(quality(a))) for w, a in zip(windows, arrays, strict=True)]
    detected = result_monitor.alarm_at is not None if result_monitor is not None else bool(comparisons[0].drifted)
    report = DriftReport(
        DRIFT_SCHEMA_VERSION,
        mode,
        every,
        tuple(windows),
        tuple(comparisons),
        result_monitor,
        explanation,
        alpha,
        seed,
        tuple(kept),
        tuple(watch),
        detected,
        "",
        run_id,
        tuple(by),
        tuple(warnings),
    )
    return replace(report, verdict=_verdict(report))


def _verdict(r: DriftReport) -> str:
    if r.monitor is not None:
        m = r.monitor
        last = m.steps[-1]
        if m.alarm_at is not None:
            step = m.steps[m.alarm_at]
            moved = f"; most moved: {step.most_moved}" if step.most_moved else ""
            return (
                f"drift: the monitor alarmed at window {m.alarm_at} of {len(m.steps) - 1} "
                f"(statistic {step.statistic:.3g} >= {step.threshold:g}{moved})"
            )
        return (
            f"no drift: the monitor did not alarm over {len(m.steps) - 1} windows (statistic {last.statistic:.3g} "
            f"< {last.threshold:g}; P(any false alarm) <= {r.alpha:g})"
        )
    c = r.comparisons[0]
    if c.drifted:
        return f"drift: {', '.join(c.drifted)} (BH-adjusted p <= {r.alpha:g})"
    tests = len(c.attributes.attributes) + len(c.text)
    return f"no drift: none of {tests} tests has a BH-adjusted p <= {r.alpha:g}"
