"""In-memory shapes of items, variants and prompts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tailgate.records._hashing import canonical_json

__all__ = ["ChatMessage", "Item", "Mode", "Prompt", "Variant"]

Mode = Literal["chat", "completion"]
ChatMessage = dict[str, str]


@dataclass(frozen=True)
class Item:
    """One input of a suite.

    Attributes:
        item_id: content hash of ``input`` and ``reference`` (see :mod:`tailgate.records._hashing`).
        input: the row's fields offered to templates (everything but id, reference, attributes).
        reference: the reference answer (any JSON value) or ``None``.
        attributes: slice keys (scalars).
        source_id: the dataset's own id, if it has one.
        row: 1-based line (JSONL, CSV) or row (Parquet) in the dataset file.
    """

    item_id: str
    input: dict[str, Any]
    reference: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)
    source_id: str | None = None
    row: int = 0


@dataclass(frozen=True)
class Variant:
    """One way of presenting items: a template, later optionally transformed (paraphrases,
    perturbations). ``name`` is what records carry in their ``variant`` column; ``description``
    says what it is, for a person (shown next to the name in robustness tables)."""

    name: str
    template: str
    transforms: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt: chat messages or completion text."""

    mode: Mode
    messages: tuple[ChatMessage, ...] = ()
    text: str = ""

    def stored(self) -> str:
        """The form kept in records: the text, or the canonical JSON of the messages."""
        return self.text if self.mode == "completion" else canonical_json(list(self.messages))

    def approx_chars(self) -> int:
        if self.mode == "completion":
            return len(self.text)
        return sum(len(m["content"]) for m in self.messages)
