"""Paraphrases written by a model, kept only when they keep what the answer depends on.

The generator itself makes no call: before planning, the runner asks the paraphrasing model for
every (variant, item, field) (through the response cache, so a resume or a second run asks
nothing again) and hands the texts over with :meth:`Paraphrase.provide`. Each paraphrase is
checked (:func:`check_paraphrase`); a rejected one leaves the item's original wording in that
variant, and the run's log says how many were rejected and why.
"""

from __future__ import annotations

import random
import re
from typing import Any, ClassVar

from pydantic import Field

from tailgate.perturb._base import BasePerturbation, PerturbParams

__all__ = ["Paraphrase", "check_paraphrase", "clean_paraphrase", "split_options"]

PROMPT = (
    "Rewrite the following text in different words. Keep its meaning, every number, every name and "
    "every quoted word exactly. Do not answer it. Reply with the rewritten text only.\n\nText: {text}"
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_OPTION_BLOCK = re.compile(r"(?m)^\s*\(?[A-Ja-j][).:\]]\s+")
_PREAMBLE = re.compile(r"^(sure|here|certainly|rewritten|paraphrase|okay|ok)\b[^\n:]*:\s*", re.IGNORECASE)


def split_options(text: str) -> tuple[str, str]:
    """(stem, option block): only the stem is paraphrased; the options stay verbatim."""
    m = _OPTION_BLOCK.search(text)
    if m is None:
        return text, ""
    return text[: m.start()].rstrip("\n"), text[m.start() :]


def clean_paraphrase(text: str) -> str:
    """The paraphrase without the chatter small models add ("Sure! Here is ...:", quotes)."""
    out = _PREAMBLE.sub("", text.strip()).strip()
    if len(out) >= 2 and out[0] == out[-1] and out[0] in "\"'“”":
        out = out[1:-1].strip()
    return out.strip("“”").strip()


def _names(text: str) -> set[str]:
    """Capitalised words that do not start a sentence: names and places, most of the time."""
    words = re.findall(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w'-]+)", text.strip())
    return {w for w in words if not w.isupper() or len(w) > 1}


def check_paraphrase(original: str, paraphrase: str, reference: Any) -> str | None:
    """Why ``paraphrase`` cannot stand in for ``original`` (None: it can): it must not be empty or
    unchanged, must keep the length within 0.4x-3x, every number, every mid-sentence capitalised
    word, a question mark if the original asks a question (small models answer instead of
    rewriting), and the reference if the original contains it; and it must not contain the
    reference when the original does not (that would give the answer away)."""
    if not paraphrase.strip():
        return "empty"
    if paraphrase.strip() == original.strip():
        return "unchanged"
    ratio = len(paraphrase) / max(len(original), 1)
    if not 0.4 <= ratio <= 3.0:
        return f"length ratio {ratio:.1f}"
    missing = [n for n in _NUMBER.findall(original) if n not in paraphrase]
    if missing:
        return f"lost number {missing[0]}"
    lost = sorted(n for n in _names(original) if n.lower() not in paraphrase.lower())
    if lost:
        return f"lost name {lost[0]}"
    if "?" in original and "?" not in paraphrase:
        return "not a question (answered instead of rewritten?)"
    refs = reference if isinstance(reference, list) else [reference]
    for ref in refs:
        if isinstance(ref, (str, int, float)) and not isinstance(ref, bool):
            value = str(ref).lower()
            present = re.compile(rf"(?<!\w){re.escape(value)}(?!\w)")
            if present.search(original.lower()) is None and present.search(paraphrase.lower()) is not None:
                return f"leaks the reference {str(ref)!r}"
            if len(value) > 1 and value in original.lower() and value not in paraphrase.lower():
                return f"lost the reference {str(ref)!r}"
    return None


class Paraphrase(BasePerturbation):
    """Paraphrases of text fields by any provider (``model``), checked; one variant per ``count``."""

    class Params(PerturbParams):
        model: str
        """The paraphrasing model, any ``--model`` spec (``local:smollm2-135m``, ``openai:...``)."""
        prompt: str = PROMPT
        """The request; ``{text}`` is replaced by the field's text (its stem, for options)."""
        temperature: float = Field(0.7, ge=0, le=2)
        max_tokens: int = Field(256, gt=0)
        base_url: str | None = None
        check: bool = True
        """Reject paraphrases that lose numbers, names or the reference (see check_paraphrase)."""

    needs_model: ClassVar[bool] = True

    def __init__(self, params: Params) -> None:
        if "{text}" not in params.prompt:
            raise ValueError("'prompt' must contain {text}")
        super().__init__(params)
        self._texts: dict[tuple[str, str], str] = {}
        """(field, original text) -> accepted paraphrase."""

    def request(self, text: str) -> str:
        stem, _ = split_options(text)
        return str(self.params.prompt).replace("{text}", stem)

    def provide(self, field: str, original: str, raw: str, reference: Any) -> str | None:
        """Keep ``raw`` (the model's reply) as the paraphrase of this field; returns why not, or None."""
        stem, options = split_options(original)
        text = clean_paraphrase(raw)
        reason = check_paraphrase(stem, text, reference) if self.params.check else None
        if reason is None:
            self._texts[(field, original)] = text + ("\n" + options if options else "")
        return reason

    def apply(
        self, fields: dict[str, Any], targets: list[str], reference: Any, rng: random.Random
    ) -> tuple[dict[str, Any], Any]:
        out = dict(fields)
        for key in targets:
            value = fields.get(key)
            text = self._texts.get((key, value)) if isinstance(value, str) else None
            if text is not None:
                out[key] = text
        return out, reference
