"""The paired bootstrap's engine against the computation it shortens: draw the items of every
replicate, then take each measure on the drawn sample directly."""

from __future__ import annotations

import numpy as np
import pytest

from tailgate.analysis._bootstrap import (
    Binned,
    _sums_exact,
    _window,
    _window_percentile,
    chunk_seeds,
    chunks,
    item_weights,
    replicate_sums,
)


def _draws(items: int, replicates: int, seed: int) -> np.ndarray:
    """Every replicate's drawn items, as the bootstrap defines them: chunks of replicates of a
    fixed size, each drawn at once from its own child of SeedSequence(seed)."""
    parts = chunks(items, replicates)
    seeds = chunk_seeds(seed, len(parts))
    return np.vstack(
        [
            np.random.default_rng(child).integers(0, items, size=(size, items), dtype=np.int32)
            for (_, size), child in zip(parts, seeds, strict=True)
        ]
    )


def _weights(items: int, replicates: int, seed: int) -> np.ndarray:
    return np.vstack([w for _, w in item_weights(items, replicates, seed)])


def test_chunks_depend_on_the_sizes_only() -> None:
    assert chunks(200_000, 2000) == [(start, 20) for start in range(0, 2000, 20)]
    assert chunks(7, 300) == [(0, 300)]
    assert chunks(4096, 2450) == [(0, 1024), (1024, 1024), (2048, 402)]
    assert [c.spawn_key for c in chunk_seeds(5, 3)] == [(0,), (1,), (2,)]


@pytest.mark.parametrize(("items", "replicates"), [(7, 300), (4096, 2450), (300, 40000)])
def test_weights_count_the_draws_of_each_replicate(items: int, replicates: int) -> None:
    # 4,096 items counts one replicate at a time, 7 and 300 a chunk at a time; 2,450 and 40,000
    # replicates cross a chunk boundary
    draws = _draws(items, replicates, seed=3)
    expected = np.vstack([np.bincount(row, minlength=items) for row in draws]).astype(float)
    weights = _weights(items, replicates, seed=3)
    assert weights.dtype == float
    assert weights.flags.c_contiguous
    assert np.array_equal(weights, expected)
    assert np.all(weights.sum(axis=1) == items)


def _latencies(items: int, per_item: int, rng: np.random.Generator, distinct: bool) -> tuple[np.ndarray, np.ndarray]:
    codes = np.repeat(np.arange(items), per_item)
    codes = codes[rng.random(codes.size) >= 0.2]  # some items have fewer samples, some none
    x = np.exp(5.5 + 0.5 * rng.standard_normal(codes.size) + 0.3 * (codes % 5 == 0))
    return (np.round(x, 1) if distinct else np.round(x % 97, 0)), codes


@pytest.mark.parametrize(("items", "per_item", "distinct"), [(40, 2, False), (300, 5, False), (5000, 3, True)])
def test_sums_and_percentiles_equal_the_drawn_samples(items: int, per_item: int, distinct: bool) -> None:
    """With one bin per distinct value, a replicate's percentile is numpy's percentile of the
    samples of its drawn items (each as many times as drawn); its sums, the sums over the draws."""
    rng = np.random.default_rng(1)
    values, codes = _latencies(items, per_item, rng, distinct)
    binned = Binned.of(values, codes, items)
    assert binned.exact  # (distinct=True has 5,000 x 3 x 0.8 values but fewer than 8,192 distinct)
    columns = [(rng.random(items) < 0.2).astype(float), rng.integers(0, 4, items) / 3]
    replicates = 300
    sums, (pct,) = replicate_sums(columns, [binned], (95.0, 99.0), items, replicates, seed=5)
    by_item = [values[codes == i] for i in range(items)]
    for r, drawn in enumerate(_draws(items, replicates, seed=5)):
        assert sums[r, 0] == columns[0][drawn].sum()  # 0/1 values: exact in any order
        assert sums[r, 1] == pytest.approx(columns[1][drawn].sum(), rel=1e-13)
        sample = np.concatenate([by_item[i] for i in drawn])
        assert pct[r] == pytest.approx(np.percentile(sample, [95.0, 99.0]), rel=1e-13)


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("q", [95.0, 99.0, 50.0])
def test_window_bins_give_the_percentiles_of_all_bins(exact: bool, q: float) -> None:
    """The window shortcut equals the whole histogram bit for bit, including the replicates whose
    percentile falls outside the window (20 items: most of them), which are recomputed over
    every bin."""
    rng = np.random.default_rng(2)
    for items, per_item in ((20, 1), (3000, 6)):
        values, codes = _latencies(items, per_item, rng, distinct=exact)
        edges = None if exact else np.quantile(values, np.linspace(0.0, 1.0, 257))
        binned = Binned.of(values, codes, items, edges, exact)
        weights = _weights(items, 500, seed=7)
        window = _window(binned, q)
        total = weights @ np.asarray(binned.h.sum(axis=1)).ravel()
        fast = _window_percentile(weights, binned, window, total, weights @ window.above)
        assert np.array_equal(fast, binned.percentiles(weights, (q,))[:, 0])
        in_window = np.asarray(binned.h.sum(axis=0)).ravel()[window.start : window.stop].sum()
        if items > 20:  # a small share of the samples, yet no replicate falls outside (none redone)
            assert window.start > 0
            assert in_window < 0.5 * values.size
            below = total - weights @ window.above - weights[:, window.items] @ np.asarray(window.h.sum(axis=0)).ravel()
            assert np.all(below <= np.floor((total - 1) * q / 100))


def test_binned_percentiles_interpolate_within_a_bin() -> None:
    # one item, samples 0..99 in 4 bins of 25: the sorted sample's rank r lies in bin r // 25, at
    # (r - 25 k + 0.5) / 25 of its width; ranks 94.05 and 98.01 (numpy's positions for p95, p99)
    values = np.arange(100.0)
    binned = Binned.of(values, np.zeros(100, dtype=np.int64), 1, np.array([0.0, 25.0, 50.0, 75.0, 100.0]), False)
    got = binned.percentiles(np.ones((1, 1)), (95.0, 99.0))[0]
    at = [75 + 25 * min((r - 75 + 0.5) / 25, 1.0) for r in (94, 95, 98, 99)]
    expected = [0.95 * at[0] + 0.05 * at[1], 0.99 * at[2] + 0.01 * at[3]]
    assert got == pytest.approx(expected, rel=1e-12)


def test_sums_of_values_that_cannot_round_take_the_fast_path_only() -> None:
    assert _sums_exact(np.array([0.0, 1.0, 1.0]), 1e6)
    assert _sums_exact(np.array([0.0, 0.5, 0.25, 0.75]), 2e5)
    assert not _sums_exact(np.array([0.0, 1 / 3]), 10.0)  # thirds round: sums as before
    assert not _sums_exact(np.array([np.nan, 1.0]), 10.0)
    assert not _sums_exact(np.array([1.0, 2.0**40]), 2.0**20)  # a partial sum could pass 2**53
    assert _sums_exact(np.zeros(4), 10.0)


def test_sums_that_round_are_the_weight_matrix_product_bit_for_bit() -> None:
    """Thirds are not exact: their sums are the old Fortran-order product, so the last bits of a
    comparison's JSON do not change with the path taken."""
    rng = np.random.default_rng(4)
    items, replicates = 8192, 1300  # two chunks, of 1,220 and 80 replicates
    v = rng.integers(0, 4, items) / 3
    sums, _ = replicate_sums([v], [], (95.0,), items, replicates, seed=9)
    weights = _weights(items, replicates, 9)
    expected = [np.asfortranarray(weights[start : start + size]) @ v for start, size in chunks(items, replicates)]
    assert np.array_equal(sums[:, 0], np.concatenate(expected))


@pytest.mark.parametrize("items", [300, 5000])
def test_replicates_do_not_depend_on_the_number_of_threads(items: int) -> None:
    """Each chunk has its own seed and writes its own rows: 1, 2 or 5 threads, the same bits."""
    rng = np.random.default_rng(8)
    values, codes = _latencies(items, 3, rng, distinct=False)
    binned = [Binned.of(values, codes, items), Binned.of(values[::-1].copy(), codes, items)]
    columns = [(rng.random(items) < 0.4).astype(float), rng.integers(0, 4, items) / 3]
    replicates = 2 * chunks(items, 10**9)[0][1] + 17 if items < 4096 else 2000
    runs = [replicate_sums(columns, binned, (95.0, 99.0), items, replicates, 11, threads=t) for t in (1, 2, 5)]
    for sums, pct in runs[1:]:
        assert np.array_equal(sums, runs[0][0])
        assert all(np.array_equal(a, b) for a, b in zip(pct, runs[0][1], strict=True))
