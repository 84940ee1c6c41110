"""``tailgate contamination``: which items' text appears in a corpus, and do they score differently?

Definition. An item's text (its input fields joined, as in every analysis; the reference answer
and the prompt template are not part of it) and the corpus are cut into word tokens the same way:
Unicode NFKC normalisation, case folding (``str.casefold``), then ``\\w+`` runs, so case,
punctuation, white space and line breaks do not hide an overlap. An *n-gram* is n consecutive
tokens (default 13, as lm-evaluation-harness does; GPT-3, Brown et al. 2020, appendix C, used 8
to 13 by dataset). An item's *overlap* is the share of its n-grams found anywhere in the corpus;
the item is *overlapping* when at least one is found and that share is >= ``threshold`` (default
0: any shared n-gram, GPT-3's "dirty"). Items with fewer than n tokens have no n-gram and are
reported as *too short to check*: they are in neither subset (matching a few common words would
flag them for nothing); lower ``n`` to check them.

Method. Only the items' n-grams are held in memory: each token of the items gets an integer id,
and each n-gram a 64-bit polynomial hash of its ids (deterministic, unlike Python's salted
``hash``). The corpus is then streamed (1 MiB at a time, never whole): its tokens become ids (a
word no item uses cannot be part of a match and breaks the window), the hashes of its windows are
computed with numpy and looked up in the sorted item hashes, and every hit is verified token by
token, so a reported match is exact. Memory is O(item tokens), time O(corpus tokens).

Statistics. The score (mean over samples) of all items, of the clean and of the overlapping
items, each with the interval of :func:`estimate_from_sums` (Wilson for one 0/1 sample per item,
clustered otherwise). Clean and overlapping are different items, so their difference is unpaired:
Welch's t on two independent groups of items, each group's standard error clustered on items with
the G/(G-1) small-sample factor (with one sample per item this is exactly Welch's test on the
scores) and Welch-Satterthwaite degrees of freedom.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import math
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from tailgate.analysis._data import ItemFrame, load_run
from tailgate.analysis._estimate import Estimate
from tailgate.analysis._stats import estimate_from_sums
from tailgate.errors import InputError, UsageError
from tailgate.store import Store

__all__ = [
    "Contamination",
    "ContaminationCounts",
    "ContaminationOptions",
    "CorpusSummary",
    "OverlappingItem",
    "ScoreDifference",
    "contamination",
    "ngram_tokens",
    "welch_difference",
]

_WORD = re.compile(r"\w+")
# Odd 64-bit multiplier of the polynomial n-gram hash (the golden ratio's bits).
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_READ_BYTES = 1 << 20
_FLUSH_IDS = 1 << 18
_JSON_LINES = (".jsonl", ".ndjson")
_FIRST_MATCH_CHARS = 200


def ngram_tokens(text: str) -> list[str]:
    """The tokens n-grams are made of: NFKC-normalised, case-folded ``\\w+`` runs.

    >>> ngram_tokens("The  CAT's hat, the cat.")
    ['the', 'cat', 's', 'hat', 'the', 'cat']
    """
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


@dataclass(frozen=True)
class ContaminationOptions:
    """What :func:`contamination` was asked."""

    n: int
    """Tokens per n-gram."""
    threshold: float
    """Smallest share of an item's n-grams found for it to count as overlapping (0: any one)."""
    confidence: float
    top: int
    """Overlapping items listed."""

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.n, "threshold": self.threshold, "confidence": self.confidence, "top": self.top}


@dataclass(frozen=True)
class CorpusSummary:
    """What was read of the corpus."""

    path: str
    files: int
    hidden_skipped: int
    """Hidden files and folders left out."""
    bytes: int
    tokens: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "files": self.files,
            "hidden_skipped": self.hidden_skipped,
            "bytes": self.bytes,
            "tokens": self.tokens,
        }


@dataclass(frozen=True)
class ContaminationCounts:
    """Items by subset."""

    items: int
    checked: int
    """Items with at least n tokens."""
    overlapping: int
    clean: int
    too_short: int
    """Items with fewer than n tokens: in neither subset."""

    def as_dict(self) -> dict[str, int]:
        return {
            "items": self.items,
            "checked": self.checked,
            "overlapping": self.overlapping,
            "clean": self.clean,
            "too_short": self.too_short,
        }


@dataclass(frozen=True)
class ScoreDifference:
    """The score of one group of items minus another's (unpaired: Welch)."""

    estimate: Estimate
    p_value: float | None
    """Two-sided; None when there is no test (too few items, no variation)."""
    df: float | None
    """Welch's degrees of freedom."""
    test: str

    def as_dict(self) -> dict[str, Any]:
        return {"estimate": self.estimate.as_dict(), "p_value": self.p_value, "df": self.df, "test": self.test}


@dataclass(frozen=True)
class OverlappingItem:
    """An item whose text overlaps the corpus."""

    item_id: str
    source_id: str | None
    overlap: float
    """Share of the item's n-grams found in the corpus."""
    matched_ngrams: int
    ngrams: int
    first_match: str
    """The first matching n-gram's tokens (at most 200 characters)."""
    corpus_file: str | None
    """The corpus file of the first match."""
    score: float | None
    """The item's mean score; None when unscored."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "source_id": self.source_id,
            "overlap": self.overlap,
            "matched_ngrams": self.matched_ngrams,
            "ngrams": self.ngrams,
            "first_match": self.first_match,
            "corpus_file": self.corpus_file,
            "score": self.score,
        }


@dataclass(frozen=True)
class Contamination:
    """Result of :func:`contamination` (JSON schema: docs/contamination.md)."""

    run_id: str
    options: ContaminationOptions
    corpus: CorpusSummary
    counts: ContaminationCounts
    score: dict[str, Estimate]
    """By subset: ``all``, ``clean``, ``overlapping``."""
    difference: ScoreDifference
    """Overlapping minus clean."""
    top_overlapping: list[OverlappingItem]
    """Most overlapping first."""
    overlapping_ids: list[str]
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "run_id": self.run_id,
            "options": self.options.as_dict(),
            "corpus": self.corpus.as_dict(),
            "counts": self.counts.as_dict(),
            "score": {name: est.as_dict() for name, est in self.score.items()},
            "difference": self.difference.as_dict(),
            "top_overlapping": [t.as_dict() for t in self.top_overlapping],
            "overlapping_ids": self.overlapping_ids,
            "warnings": self.warnings,
        }


def contamination(
    store: Store,
    run_id: str,
    corpus: str | Path,
    *,
    n: int = 13,
    threshold: float = 0.0,
    confidence: float = 0.95,
    top: int = 20,
) -> Contamination:
    """Check a run's items for n-gram overlap with ``corpus`` and score both subsets.

    Args:
        store: the records store.
        run_id: the run whose items and scores are used.
        corpus: a text file, or a folder read recursively (hidden files and folders skipped).
            ``.jsonl``/``.ndjson`` files are read line by line as JSON documents (their string
            values); any other file as UTF-8 text; a ``.gz`` suffix is decompressed.
        n: tokens per n-gram.
        threshold: smallest share of an item's n-grams found in the corpus for the item to count
            as overlapping; 0 means any one n-gram.
        confidence: level of every interval.
        top: overlapping items listed with their first match.

    Example:
        >>> result = contamination(Store(), "latest-run-id", "pretraining/", n=13)  # doctest: +SKIP
        >>> result.counts.overlapping, result.difference.estimate  # doctest: +SKIP
    """
    if n < 1:
        raise UsageError(f"n must be at least 1 (got {n})")
    if not 0.0 <= threshold <= 1.0:
        raise UsageError(f"threshold must be between 0 and 1 (got {threshold})")
    if not 0.0 < confidence < 1.0:
        raise UsageError(f"confidence must be between 0 and 1, exclusive (got {confidence})")
    path = Path(corpus)
    if not path.exists():
        raise InputError("corpus not found", file=str(corpus))
    data = load_run(store, run_id)
    try:
        items, binary = data.items, data.binary
    finally:
        data.close()
    index = _ItemGrams([ngram_tokens(t) for t in items.text], n)
    reader = _CorpusReader(path, index)
    reader.read()
    matched = index.matched_per_item()
    fraction = np.divide(matched, index.ngrams, out=np.zeros(matched.size), where=index.ngrams > 0)
    checked = index.ngrams > 0
    overlapping = checked & (matched > 0) & (fraction >= threshold)
    clean = checked & ~overlapping
    score = {
        name: estimate_from_sums(items.n_scored[mask], items.sum_score[mask], binary, confidence)
        for name, mask in (("all", np.ones(items.size, dtype=bool)), ("clean", clean), ("overlapping", overlapping))
    }
    return Contamination(
        run_id=run_id,
        options=ContaminationOptions(n, threshold, confidence, top),
        corpus=reader.summary(),
        counts=ContaminationCounts(
            items=items.size,
            checked=int(checked.sum()),
            overlapping=int(overlapping.sum()),
            clean=int(clean.sum()),
            too_short=int((~checked).sum()),
        ),
        score=score,
        difference=welch_difference(items, overlapping, clean, confidence),
        top_overlapping=_top(items, index, reader, fraction, overlapping, top),
        overlapping_ids=[str(i) for i in items.item_id[overlapping]],
        warnings=_warnings(items, checked, overlapping, clean, n),
    )


def welch_difference(items: ItemFrame, first: np.ndarray, second: np.ndarray, confidence: float) -> ScoreDifference:
    """Mean score of the ``first`` items minus that of the ``second`` (disjoint item masks): Welch's
    unpaired t with item-clustered standard errors (see the module docstring)."""
    groups = [_group(items.n_scored[m], items.sum_score[m]) for m in (first, second)]
    n_items = groups[0][2] + groups[1][2]
    n_samples = int(items.n_scored[first | second].sum())
    test = "Welch t-test on two independent groups of items (two-sided)"
    if groups[0][2] < 2 or groups[1][2] < 2:
        est = Estimate.no_interval(
            "fewer than 2 scored items in a group", n_items=n_items, n_samples=n_samples, confidence=confidence
        )
        return ScoreDifference(est, None, None, test)
    (m1, v1, k1), (m2, v2, k2) = groups
    diff, se = m1 - m2, math.sqrt(v1 + v2)
    if se == 0:
        est = Estimate(diff, diff, diff, n_items, n_samples, "no variation within either group", 0.0, confidence)
        return ScoreDifference(est, None, None, test)
    from scipy import stats

    df = (v1 + v2) ** 2 / (v1 * v1 / (k1 - 1) + v2 * v2 / (k2 - 1))
    t = float(stats.t.ppf(0.5 + confidence / 2.0, df))  # Welch's df is fractional: not Estimate.t_interval
    method = f"difference of means, Welch, SE clustered on items, t({df:.1f})"
    est = Estimate.from_se(diff, se, t, n_items=n_items, n_samples=n_samples, method=method, confidence=confidence)
    p = float(2 * stats.t.sf(abs(diff) / se, df))
    return ScoreDifference(est, p, df, test)


def _group(counts: np.ndarray, sums: np.ndarray) -> tuple[float, float, int]:
    """(mean over samples, squared clustered SE with the G/(G-1) factor, scored items)."""
    keep = counts > 0
    n_i, s_i = counts[keep].astype(float), sums[keep].astype(float)
    k = int(n_i.size)
    if k < 2:
        return math.nan, math.nan, k
    total = float(n_i.sum())
    mean = float(s_i.sum()) / total
    resid = s_i - n_i * mean
    return mean, float(np.sum(resid * resid)) / total**2 * k / (k - 1), k


def _window_hashes(ids: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, hash) of every window of ``n`` ids that holds no negative id (no unknown word)."""
    m = ids.size - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64)
    unknown = np.concatenate(([0], np.cumsum(ids < 0)))
    starts = np.flatnonzero(unknown[n : n + m] == unknown[:m])
    if starts.size == 0:
        return starts, np.empty(0, dtype=np.uint64)
    values = ids.astype(np.uint64)
    h = np.zeros(m, dtype=np.uint64)
    for k in range(n):  # uint64 arithmetic wraps: a polynomial hash modulo 2^64
        h = h * _MULTIPLIER + values[k : k + m]
    return starts, h[starts]


class _ItemGrams:
    """The items' n-grams: token ids, sorted distinct hashes, and which were found in the corpus."""

    def __init__(self, tokens: list[list[str]], n: int) -> None:
        self.n = n
        self.vocab: dict[str, int] = {}
        flat: list[int] = []
        offsets: list[int] = []
        for toks in tokens:
            offsets.append(len(flat))
            flat.extend(self.vocab.setdefault(t, len(self.vocab)) for t in toks)
            flat.append(-1)  # items never share a window
        self.flat = np.array(flat, dtype=np.int64)
        self.offsets = np.array(offsets, dtype=np.int64)
        self.ngrams = np.array([max(len(t) - n + 1, 0) for t in tokens], dtype=np.int64)
        starts, hashes = _window_hashes(self.flat, n)
        self.gram_item = np.searchsorted(self.offsets, starts, side="right") - 1
        self.gram_start = starts
        self.hashes, first, self.gram_key = np.unique(hashes, return_index=True, return_inverse=True)
        self.rep_start = starts[first]  # one n-gram per distinct hash, the one hits are verified against
        # two different item n-grams with one hash (~G^2 / 2^64): only the first can be found
        same = self._windows(self.flat, starts) == self._windows(self.flat, self.rep_start[self.gram_key])
        self.gram_exact = same.all(axis=1)
        self.found_in = np.full(self.hashes.size, -1, dtype=np.int64)

    def _windows(self, ids: np.ndarray, starts: np.ndarray) -> np.ndarray:
        return ids[starts[:, None] + np.arange(self.n)]

    def scan(self, ids: np.ndarray, file_no: int) -> bool:
        """Mark the item n-grams that occur in ``ids`` (a stretch of corpus tokens) as found in
        ``file_no``; True when some were found for the first time."""
        if self.hashes.size == 0:
            return False
        starts, hashes = _window_hashes(ids, self.n)
        keys = np.minimum(np.searchsorted(self.hashes, hashes), self.hashes.size - 1)
        hit = self.hashes[keys] == hashes
        starts, keys = starts[hit], keys[hit]
        if starts.size == 0:
            return False
        exact = (self._windows(ids, starts) == self._windows(self.flat, self.rep_start[keys])).all(axis=1)
        new = keys[exact][self.found_in[keys[exact]] < 0]
        self.found_in[new] = file_no
        return bool(new.size)

    def gram_found(self) -> np.ndarray:
        found: np.ndarray = (self.found_in[self.gram_key] >= 0) & self.gram_exact
        return found

    def matched_per_item(self) -> np.ndarray:
        counts = np.bincount(self.gram_item, weights=self.gram_found().astype(float), minlength=self.ngrams.size)
        return counts.astype(np.int64)

    def first_match(self, item: int) -> tuple[int, int] | None:
        """(token position, corpus file number) of the item's first n-gram found in the corpus."""
        hits = np.flatnonzero((self.gram_item == item) & self.gram_found())
        if hits.size == 0:
            return None
        g = int(hits[0])
        return int(self.gram_start[g] - self.offsets[item]), int(self.found_in[self.gram_key[g]])


class _CorpusReader:
    """Streams a corpus file or folder into an :class:`_ItemGrams`, keeping only counters."""

    def __init__(self, path: Path, index: _ItemGrams) -> None:
        self.path = path
        self.index = index
        self.files = 0
        self.skipped = 0
        self.bytes = 0
        self.tokens = 0
        self.matched_files: dict[int, str] = {}
        self._ids: list[int] = []
        self._new_matches = False

    def read(self) -> None:
        for file_no, file in enumerate(self._files()):
            self.files += 1
            self._read_file(file, file_no)
            self._flush(file_no, keep=0)
            if self._new_matches:
                self.matched_files[file_no] = str(file)
                self._new_matches = False
        if self.files == 0:
            raise InputError("no files to read in the corpus folder (hidden files are skipped)", file=str(self.path))

    def summary(self) -> CorpusSummary:
        return CorpusSummary(str(self.path), self.files, self.skipped, self.bytes, self.tokens)

    def _files(self) -> Iterator[Path]:
        if self.path.is_file():
            yield self.path
            return
        for root, dirs, names in os.walk(self.path):
            self.skipped += sum(d.startswith(".") for d in dirs) + sum(f.startswith(".") for f in names)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                file = Path(root) / name
                if not name.startswith(".") and file.is_file():
                    yield file

    def _read_file(self, file: Path, file_no: int) -> None:
        name = file.name.lower().removesuffix(".gz")
        try:
            with gzip.open(file, "rb") if file.name.lower().endswith(".gz") else file.open("rb") as fh:
                if name.endswith(_JSON_LINES):
                    self._read_json_lines(fh, file, file_no)
                else:
                    self._read_text(fh, file, file_no)
        except (OSError, EOFError) as exc:
            raise InputError(f"cannot read it: {exc}", file=str(file)) from None

    def _read_text(self, fh: io.BufferedIOBase, file: Path, file_no: int) -> None:
        """A whole file is one document, read in pieces cut at white space."""
        decoder = codecs.getincrementaldecoder("utf-8")()
        carry, lines = "", 0
        while chunk := fh.read(_READ_BYTES):
            self.bytes += len(chunk)
            pending = len(decoder.getstate()[0])
            try:
                text = carry + decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line = lines + chunk[: max(exc.start - pending, 0)].count(b"\n") + 1
                raise _not_utf8(file, line) from None
            lines += chunk.count(b"\n")
            cut = max(text.rfind(c) for c in " \n\t\r")  # white space: no token or composition crosses it
            if cut < 0 and len(text) < 4 * _READ_BYTES:
                carry = text
                continue
            carry = text[cut + 1 :] if cut >= 0 else ""
            self._feed(ngram_tokens(text[: cut + 1] if cut >= 0 else text), file_no)
        try:
            text = carry + decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise _not_utf8(file, lines + 1) from None
        self._feed(ngram_tokens(text), file_no)

    def _read_json_lines(self, fh: io.BufferedIOBase, file: Path, file_no: int) -> None:
        """Each line is one document: the string values of its JSON, joined."""
        for line_no, raw in enumerate(fh, start=1):
            self.bytes += len(raw)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _not_utf8(file, line_no) from None
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"not valid JSON ({exc.msg}); rename the file (e.g. to .txt) to read it as plain text",
                    file=str(file),
                    line=line_no,
                ) from None
            self._feed(ngram_tokens("\n".join(_strings(value))), file_no)
            self._ids.append(-1)  # documents never share a window

    def _feed(self, tokens: list[str], file_no: int) -> None:
        self.tokens += len(tokens)
        self._ids.extend(map(self.index.vocab.get, tokens, repeat(-1)))
        if len(self._ids) >= _FLUSH_IDS + self.index.n:
            self._flush(file_no, keep=self.index.n - 1)

    def _flush(self, file_no: int, keep: int) -> None:
        """Scan the buffered ids, keeping the last ``keep`` for windows that straddle the next piece."""
        if not self._ids:
            return
        self._new_matches |= self.index.scan(np.array(self._ids, dtype=np.int64), file_no)
        self._ids = self._ids[len(self._ids) - keep :] if keep else []


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _not_utf8(file: Path, line: int) -> InputError:
    return InputError(
        "not UTF-8 text; convert it (e.g. iconv -t UTF-8) or move it out of the corpus", file=str(file), line=line
    )


def _top(
    items: ItemFrame,
    index: _ItemGrams,
    reader: _CorpusReader,
    fraction: np.ndarray,
    overlapping: np.ndarray,
    top: int,
) -> list[OverlappingItem]:
    codes = np.flatnonzero(overlapping)
    codes = codes[np.argsort(-fraction[codes], kind="stable")][:top]
    matched = index.matched_per_item()
    means = items.mean_score()
    rows = []
    for code in codes:
        c = int(code)
        first = index.first_match(c)
        position, file_no = first if first is not None else (0, -1)
        tokens = ngram_tokens(items.text[c])[position : position + index.n]
        mean = means[c]
        rows.append(
            OverlappingItem(
                item_id=str(items.item_id[c]),
                source_id=None if items.source_id[c] is None else str(items.source_id[c]),
                overlap=float(fraction[c]),
                matched_ngrams=int(matched[c]),
                ngrams=int(index.ngrams[c]),
                first_match=" ".join(tokens)[:_FIRST_MATCH_CHARS],
                corpus_file=reader.matched_files.get(file_no),
                score=None if np.isnan(mean) else float(mean),
            )
        )
    return rows


def _warnings(items: ItemFrame, checked: np.ndarray, overlapping: np.ndarray, clean: np.ndarray, n: int) -> list[str]:
    out = []
    if items.size and not any(items.text):
        out.append("the items have no input text (a run imported without --input?): nothing could be checked")
    elif (~checked).any():
        out.append(f"{int((~checked).sum())} item(s) have fewer than {n} tokens: too short to check, in neither subset")
    for name, mask in (("overlapping", overlapping), ("clean", clean)):
        scored = int((items.n_scored[mask] > 0).sum())
        if 0 < scored < 10:
            out.append(f"only {scored} scored {name} item(s): its score and the difference are imprecise")
    return out
