"""Near-duplicate inputs, found with MinHash and locality-sensitive hashing (``datasketch``).

An input's *shingles* are its character 5-grams after casefolding and collapsing white space
(so the measure works for languages written without spaces, and ignores case and spacing); two
inputs are near-duplicates when the Jaccard similarity of their shingle sets is at least the
threshold (default 0.8: one changed word in a 40-word prompt is about 0.9, two unrelated
prompts well under 0.2). ``datasketch.MinHashLSH`` finds the candidates (128 permutations,
banded for 0.15 below the threshold, so that pairs just above it are rarely missed); a candidate
is a duplicate only when the exact Jaccard similarity of the two shingle sets (as 64-bit hashes)
reaches the threshold. Inputs longer than 20,000 characters are compared on their first 20,000.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from tailgate.errors import MissingDependency

__all__ = ["DEFAULT_THRESHOLD", "NearDuplicates", "shingles"]

DEFAULT_THRESHOLD = 0.8
_SHINGLE = 5
_PERMUTATIONS = 128
_MAX_CHARS = 20_000
_LSH_MARGIN = 0.15  # LSH proposes pairs from threshold - 0.15 on; the exact similarity decides
_LSH_FLOOR = 0.3


def shingles(text: str) -> set[bytes]:
    """The character 5-grams of the casefolded, space-collapsed text (the text itself if shorter)."""
    flat = " ".join(text[:_MAX_CHARS].casefold().split())
    if len(flat) <= _SHINGLE:
        return {flat.encode("utf-8")}
    return {flat[i : i + _SHINGLE].encode("utf-8") for i in range(len(flat) - _SHINGLE + 1)}


def _datasketch() -> Any:
    try:
        import datasketch
    except ImportError:
        raise MissingDependency(
            "near-duplicate removal needs datasketch: pip install 'tailgate[sample]' (or datasketch)"
        ) from None
    return datasketch


class NearDuplicates:
    """An index of the inputs kept so far; :meth:`add` keeps an input unless it near-duplicates one.

    Example:
        >>> index = NearDuplicates(0.8)
        >>> index.add("a", "Summarise this article about the history of Rome in three bullet points please.")
        >>> index.add("b", "Summarise this article about the history of Rome in three bullet points, please!")
        'a'
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"the near-duplicate threshold must be in (0, 1], got {threshold}")
        ds = _datasketch()
        self.threshold = threshold
        self._ds = ds
        self._lsh = ds.MinHashLSH(threshold=max(_LSH_FLOOR, threshold - _LSH_MARGIN), num_perm=_PERMUTATIONS)
        self._sets: dict[str, np.ndarray] = {}

    def add(self, key: str, text: str) -> str | None:
        """Index ``text`` under ``key`` and return None, or return the key of the kept input it
        near-duplicates (and index nothing)."""
        grams = sorted(shingles(text))
        hashed = np.unique(np.fromiter((_hash64(g) for g in grams), dtype=np.uint64, count=len(grams)))
        m = self._ds.MinHash(num_perm=_PERMUTATIONS, seed=1)
        m.update_batch(grams)
        matches = sorted(str(k) for k in self._lsh.query(m) if _jaccard(self._sets[k], hashed) >= self.threshold)
        if matches:
            return matches[0]
        self._lsh.insert(key, m)
        self._sets[key] = hashed
        return None


def _hash64(gram: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(gram, digest_size=8).digest(), "little")


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted sets of 64-bit shingle hashes."""
    both = np.intersect1d(a, b, assume_unique=True).size
    return both / (a.size + b.size - both)
