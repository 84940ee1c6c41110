"""One wording, in every renderer, for where samples came from: the cache, or withheld outputs."""

from __future__ import annotations

__all__ = ["cache_line", "withheld_line"]

_WITHHELD_WORDS = {"content_filter": "filtered by the endpoint", "refusal": "refused by the model"}


def cache_line(n_cached: int, n_samples: int) -> str:
    """``11 of 60 samples replayed from the cache`` (empty when none was)."""
    return f"{n_cached} of {n_samples} samples replayed from the cache" if n_cached else ""


def withheld_line(withheld_by_class: dict[str, int]) -> str:
    """``110 filtered by the endpoint, 3 refused by the model`` (empty when none was)."""
    parts = [f"{n} {_WITHHELD_WORDS.get(k, k)}" for k, n in sorted(withheld_by_class.items()) if n]
    return ", ".join(parts)
