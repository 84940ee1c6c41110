"""The paired item bootstrap's engine: replicate weights, weighted sums and weighted percentiles.

A replicate draws ``items`` items with replacement; its weight for an item is how many times the
item was drawn. Every measure of a replicate is a weighted sum over items (a rate's mean) or a
percentile of the samples weighted by their item's weight (latency). What is computed here is
exactly what multiplying the full replicates x items weight matrix would give, with less work:

* the replicates come in chunks of fixed size (~4M draws), each drawn from its own child of
  ``SeedSequence(seed)`` (32-bit draws: a third of the time of 64-bit ones), so chunks run on a
  thread pool (numpy releases the GIL while drawing, BLAS while multiplying) and give the same
  numbers for any number of threads;
* the weights of a replicate are counted in one ``bincount`` over its own draws, one replicate
  at a time, which keeps the counting in cache (counting 50 replicates at once scattered into an
  80 MB array);
* the weighted sums come from one small matrix product per block of replicates. When every
  per-item value is a multiple of a power of two small enough that no partial sum can round
  (0/1 rates, means over 2 or 4 variants...), any summation order gives the same bits; otherwise
  the sums are taken one product per value vector over the weight matrix in Fortran order,
  so the output never depends on which path ran;
* a percentile only needs the bins around it: those where a replicate's percentile can fall (the
  run's q-th percentile +- 8 standard deviations of a replicate's share of samples below it) are
  summed per replicate, the mass below them is the replicate's total minus theirs and minus the
  mass above them (one more weighted sum per item), and a replicate whose percentile falls
  outside them (small runs) is recomputed over every bin. Histogram counts are integers, so
  these sums are exact too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Binned", "chunk_seeds", "chunk_weights", "chunks", "default_threads", "item_weights", "replicate_sums"]

_EXACT_LIMIT = 2.0**53
"""Integers up to this are exact in float64."""


_CHUNK_ELEMENTS = 1 << 22
"""Draws per chunk of replicates (~4M: 16 MB of draws, 32 MB of weights)."""


def chunks(items: int, replicates: int) -> list[tuple[int, int]]:
    """The chunks of replicates, (first replicate, size): fixed by ``items`` and ``replicates``
    only, so the draws never depend on how many threads run them."""
    size = max(1, min(replicates, _CHUNK_ELEMENTS // max(items, 1)))
    return [(start, min(size, replicates - start)) for start in range(0, replicates, size)]


def chunk_seeds(seed: int, count: int) -> list[np.random.SeedSequence]:
    """Each chunk's own seed: the ``count`` children spawned from ``SeedSequence(seed)``."""
    return np.random.SeedSequence(seed).spawn(count)


def chunk_weights(items: int, size: int, seed: np.random.SeedSequence) -> np.ndarray:
    """One chunk's bootstrap weights (how many times each item is drawn), size x items floats in
    C order: its draws are ``default_rng(seed).integers(0, items, size=(size, items),
    dtype=int32)`` (row after row), counted per replicate. numpy's generator releases the GIL
    while it draws."""
    rng = np.random.default_rng(seed)
    dtype = np.int32 if items <= 2**31 else np.int64
    if items >= 4096:
        # one replicate at a time: its draws (items x 4 bytes) and counts stay in cache
        counts = np.empty((size, items))
        for row in range(size):
            counts[row] = np.bincount(rng.integers(0, items, items, dtype=dtype), minlength=items)
        return counts
    # n draws with replacement per replicate, counted per item: a multinomial(n, 1/n) sample,
    # ~30x faster than rng.multinomial over many categories
    flat = rng.integers(0, items, size=(size, items), dtype=dtype).astype(np.intp)
    flat += np.arange(size, dtype=np.intp)[:, None] * items
    return np.bincount(flat.ravel(), minlength=size * items).reshape(size, items).astype(float)


def item_weights(items: int, replicates: int, seed: int) -> Iterator[tuple[int, np.ndarray]]:
    """Bootstrap weights chunk by chunk (see :func:`chunks`): yields (index of the first
    replicate, counts as floats, replicates x items, C order), one :func:`chunk_weights` each."""
    parts = chunks(items, replicates)
    for (start, size), child in zip(parts, chunk_seeds(seed, len(parts)), strict=True):
        yield start, chunk_weights(items, size, child)


def default_threads() -> int:
    """Threads for the bootstrap's chunks: the CPUs this process may use, at most 4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 4))


@dataclass
class Binned:
    """Sample values as an items x bins count matrix, for weighted (bootstrap) percentiles."""

    h: Any
    edges: np.ndarray
    exact: bool

    @classmethod
    def of(
        cls,
        values: np.ndarray,
        codes: np.ndarray,
        items: int,
        edges: np.ndarray | None = None,
        exact: bool | None = None,
    ) -> Binned:
        """Bins: the distinct values when there are at most 8,192, else 4,096 equal-count bins
        (within which percentiles are interpolated linearly); ``edges`` shares bins between runs."""
        from scipy import sparse

        if edges is None:
            distinct = np.unique(values)
            exact = distinct.size <= 8192
            edges = distinct if exact else np.quantile(values, np.linspace(0.0, 1.0, 4097))
        if exact:
            bins = np.searchsorted(edges, values)
        else:
            bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, edges.size - 2)
        n_bins = edges.size if exact else edges.size - 1
        h = sparse.csr_matrix((np.ones(values.size), (codes, bins)), shape=(items, n_bins))
        return cls(h, edges, bool(exact))

    @property
    def n_bins(self) -> int:
        return int(self.h.shape[1])

    @property
    def description(self) -> str:
        return "exact values" if self.exact else "4,096 quantile bins"

    def replicates(self, wanted: int, max_work: float) -> int:
        """Replicates to run: ``wanted``, fewer (never below 200) to keep within ``max_work``."""
        return int(max(200, min(wanted, max_work // max(self.h.nnz, 1))))

    def percentiles(self, weights: np.ndarray, qs: Sequence[float]) -> np.ndarray:
        """Percentiles for each row of item ``weights`` (replicates x items), over every bin."""
        hist = np.asarray((self.h.T @ weights.T).T)
        total = hist.sum(axis=1)
        return _cum_percentiles(np.cumsum(hist, axis=1), np.zeros(total.size), 0, total, self, qs)


@dataclass(frozen=True)
class _Window:
    """The bins ``start`` to ``stop`` - 1 around one percentile of a run's samples, where every
    replicate's percentile falls but in a tiny share of them."""

    q: float
    start: int
    stop: int
    items: np.ndarray
    """Item codes with a sample in the window."""
    h: Any
    """Window bins x those items (CSR): its product with an items x replicates block is one pass."""
    above: np.ndarray
    """Per item (every code): its number of samples in the bins from ``stop`` up."""


_WINDOW_SDS = 8.0
"""Half-width of a window in standard deviations of a replicate's share of samples below the run's
q-th percentile (a replicate outside it is recomputed over every bin)."""


def _window(binned: Binned, q: float) -> _Window:
    """The window for percentile ``q`` (in [0, 100]). A replicate's share of the run's samples
    below its q-th percentile has variance q (1 - q) deff / N around q, deff at most
    sum(n_i^2) / N (every item's samples alike); the window spans q +- 8 such deviations."""
    h = binned.h
    per_bin = np.cumsum(np.asarray(h.sum(axis=0)).ravel())
    per_item = np.asarray(h.sum(axis=1)).ravel()
    n = float(per_bin[-1]) if per_bin.size else 0.0
    p = q / 100.0
    sd = float(np.sqrt(p * (1 - p) * float(np.sum(per_item * per_item)) / n**2)) if n else 1.0
    last = max(binned.n_bins - 1, 0)
    start = min(int(np.searchsorted(per_bin, max(p - _WINDOW_SDS * sd, 0.0) * n, side="right")), last)
    stop = min(int(np.searchsorted(per_bin, min(p + _WINDOW_SDS * sd, 1.0) * n, side="right")) + 1, last + 1)
    window = h[:, start:stop].tocsr()
    items = np.flatnonzero(np.diff(window.indptr) > 0)
    above = np.asarray(h[:, stop:].sum(axis=1)).ravel()
    return _Window(q, start, stop, items, window[items].T.tocsr(), above)


def replicate_sums(
    columns: Sequence[np.ndarray],
    binned: Sequence[Binned],
    qs: Sequence[float],
    items: int,
    replicates: int,
    seed: int,
    threads: int | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """For each bootstrap replicate (weights from :func:`chunk_weights`): the weighted sum of every
    per-item column (replicates x columns), and for each ``binned`` run its weighted percentiles
    ``qs`` (replicates x qs). The same numbers as the full weight matrix times each column and
    :meth:`Binned.percentiles` on it (see the module docstring). Chunks run on ``threads``
    threads (default :func:`default_threads`), each writing its own rows: the result is the same
    for any number of threads."""
    vectors = [np.ascontiguousarray(c, dtype=float) for c in columns]
    exact = all(_sums_exact(v, float(items)) for v in vectors)
    windows = [[_window(b, q) for q in qs] for b in binned]
    # per item: each column, each run's number of binned samples (a replicate's total), and each
    # window's samples above it: integer counts, their weighted sums exact
    sizes = [np.asarray(b.h.sum(axis=1)).ravel() for b in binned]
    aboves = [w.above for run in windows for w in run]
    matrix = np.column_stack([*vectors, *sizes, *aboves]) if vectors or sizes else np.zeros((items, 0))
    sums = np.empty((replicates, len(vectors)))
    out = [np.empty((replicates, len(qs))) for _ in binned]
    parts = chunks(items, replicates)
    seeds = chunk_seeds(seed, len(parts))

    def run(k: int) -> None:
        start, size = parts[k]
        counts = chunk_weights(items, size, seeds[k])
        rows = slice(start, start + size)
        products = counts @ matrix
        if exact:
            sums[rows] = products[:, : len(vectors)]
        else:
            # a sum that can round: one product per value vector over the Fortran-order weights,
            # whatever the other columns
            w = np.asfortranarray(counts)
            for j, v in enumerate(vectors):
                sums[rows, j] = w @ v
        col = len(vectors) + len(binned)
        for b_index, b in enumerate(binned):
            total = products[:, len(vectors) + b_index]
            for j, window in enumerate(windows[b_index]):
                out[b_index][rows, j] = _window_percentile(counts, b, window, total, products[:, col])
                col += 1

    workers = min(threads or default_threads(), len(parts))
    if workers <= 1:
        for k in range(len(parts)):
            run(k)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers, thread_name_prefix="tailgate-bootstrap") as pool:
            list(pool.map(run, range(len(parts))))
    return sums, out


def _window_percentile(
    counts: np.ndarray, binned: Binned, window: _Window, total: np.ndarray, above: np.ndarray
) -> np.ndarray:
    """One percentile of a block of replicates (``counts``: replicates x items; ``total``: each
    one's weighted number of samples, ``above``: of those above the window) from the window's
    bins; a replicate whose percentile falls outside them is recomputed over every bin."""
    weights = np.ascontiguousarray(counts[:, window.items].T)  # window items x replicates
    hist = np.asarray(window.h @ weights).T  # replicates x window bins
    below = total - above - hist.sum(axis=1)
    cum = below[:, None] + np.cumsum(hist, axis=1)
    result = _cum_percentiles(cum, below, window.start, total, binned, (window.q,), window.stop)[:, 0]
    # the ranks numpy's interpolation reads, as in _cum_percentiles
    lo_rank = np.floor((total - 1) * window.q / 100.0)
    hi_rank = np.minimum(lo_rank + 1, total - 1)
    redo = np.flatnonzero((below > lo_rank) | (hi_rank >= cum[:, -1]))
    if redo.size:
        result[redo] = binned.percentiles(counts[redo], (window.q,))[:, 0]
    return np.asarray(result)


def _cum_percentiles(
    cum: np.ndarray,
    below: np.ndarray,
    start: int,
    total: np.ndarray,
    binned: Binned,
    qs: Sequence[float],
    stop: int | None = None,
) -> np.ndarray:
    """Percentiles of weighted histograms, numpy's linear interpolation between ranks when the
    bins are the exact values, one row per replicate. ``cum`` are the cumulative counts of the bins
    ``start`` to ``stop`` - 1 (default: the last), ``below`` the count before them; a rank outside
    them gives garbage (the caller recomputes those rows over every bin)."""
    out = np.empty((total.size, len(qs)))
    stop = binned.n_bins if stop is None else stop
    with_below = np.concatenate([below[:, None], cum], axis=1)
    for j, q in enumerate(qs):
        # numpy's 'linear' method: position (n - 1) * q / 100 in the sorted sample, 0-based
        pos = (total - 1) * q / 100.0
        lo_rank = np.floor(pos)
        frac = pos - lo_rank
        hi_rank = np.minimum(lo_rank + 1, total - 1)
        lo = _values_at(lo_rank, cum, with_below, start, stop, binned)
        hi = _values_at(hi_rank, cum, with_below, start, stop, binned)
        out[:, j] = (1 - frac) * lo + frac * hi
    return out


def _values_at(
    rank: np.ndarray, cum: np.ndarray, with_below: np.ndarray, start: int, stop: int, binned: Binned
) -> np.ndarray:
    """The value of the sample at 0-based ``rank`` in each row's weighted sorted order."""
    # searchsorted(cum, rank, "right") over every bin, at most the last (numpy's clipping)
    k = np.minimum(start + np.sum(cum <= rank[:, None], axis=1), stop - 1)
    edges = binned.edges
    if binned.exact:
        return np.asarray(edges[k])
    rows = np.arange(k.size)
    before = with_below[rows, k - start]  # the cumulative count up to bin k - 1
    inside = with_below[rows, k - start + 1] - before
    safe = np.where(inside > 0, inside, 1.0)
    frac = np.where(inside > 0, (rank - before + 0.5) / safe, 0.5)
    return np.asarray(edges[k] + np.minimum(np.maximum(frac, 0.0), 1.0) * (edges[k + 1] - edges[k]))


def _sums_exact(values: np.ndarray, total_weight: float) -> bool:
    """True when any sum of ``values`` times non-negative integer weights totalling at most
    ``total_weight`` is exact in float64, whatever the order: every value is a multiple of
    2**-s and total_weight x max|value| x 2**s stays below 2**53."""
    if not np.all(np.isfinite(values)):
        return False
    largest = float(np.max(np.abs(values))) if values.size else 0.0
    if largest == 0.0:
        return True
    for s in range(0, 31):
        scaled = values * 2.0**s  # exact: a power of two
        if np.array_equal(scaled, np.floor(scaled)):
            return total_weight * largest * 2.0**s < _EXACT_LIMIT
    return False
