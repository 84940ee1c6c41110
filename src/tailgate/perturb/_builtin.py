"""Built-in perturbations: rule-based, deterministic under a seed, answer-preserving.

Every word-level perturbation leaves alone what the answer depends on: numbers, words of the
reference, option labels (``A)``, ``(b)``), and capitalised words (names, places) unless it is a
casing change. ``shuffle_options`` and ``names`` change the reference along with the input.
"""

from __future__ import annotations

import random
import re
from typing import Any, ClassVar, Literal

from pydantic import Field

from tailgate.perturb._base import BasePerturbation, PerturbParams

__all__ = [
    "Casing",
    "Column",
    "Distractor",
    "Instruction",
    "Names",
    "Punctuation",
    "ShuffleOptions",
    "Typos",
    "Whitespace",
]

_WORD = re.compile(r"\w+|[^\w]+", re.UNICODE)
# an option line: indent, opening bracket, letter, closing mark, text ("A) x", "(b) x", "[C] x", "d. x")
_OPTION_LINE = re.compile(r"^(\s*)([(\[]?)([A-Ja-j])([).:\]])\s+(.*)$")
_LETTERS = "ABCDEFGHIJ"
_KEYBOARD = {
    "a": "qwsz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc", "g": "ftyhbv",
    "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop", "m": "njk", "n": "bhjm",
    "o": "iklp", "p": "ol", "q": "wa", "r": "edft", "s": "awedxz", "t": "rfgy", "u": "yhji",
    "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx",
}  # fmt: skip


def _reference_words(reference: Any) -> set[str]:
    values = reference if isinstance(reference, list) else [reference]
    words: set[str] = set()
    for value in values:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            words |= {w.lower() for w in re.findall(r"\w+", str(value))}
    return words


def _editable(word: str, protected: set[str], keep_capitalised: bool = True) -> bool:
    """A word a perturbation may change: alphabetic, not a number, not in the reference, not an
    option label, and (by default) not capitalised (a name or a place)."""
    if len(word) < 2 or not word.isalpha() or word.lower() in protected:
        return False
    return not (keep_capitalised and word[0].isupper())


def _text_fields(fields: dict[str, Any], targets: list[str]) -> list[str]:
    return [k for k in targets if isinstance(fields.get(k), str)]


def _after_labels(text: str, edit: Any) -> str:
    """``edit`` applied to every line of ``text`` except its option labels (``A)``, ``(b)``)."""
    lines = []
    for line in text.split("\n"):
        label = _OPTION_LINE.match(line)
        head = line[: label.start(5)] if label else ""
        lines.append(head + edit(line[len(head) :]))
    return "\n".join(lines)


class _TextEdit(BasePerturbation):
    """A perturbation that rewrites each targeted text field on its own (reference unchanged)."""

    def apply(
        self, fields: dict[str, Any], targets: list[str], reference: Any, rng: random.Random
    ) -> tuple[dict[str, Any], Any]:
        protected = _reference_words(reference)
        return {**fields, **{k: self.edit(fields[k], protected, rng) for k in _text_fields(fields, targets)}}, reference

    def edit(self, text: str, protected: set[str], rng: random.Random) -> str:
        raise NotImplementedError


class _TextAdd(BasePerturbation):
    """A perturbation that adds a drawn text before or after the first targeted text field."""

    def apply(
        self, fields: dict[str, Any], targets: list[str], reference: Any, rng: random.Random
    ) -> tuple[dict[str, Any], Any]:
        keys = _text_fields(fields, targets)
        if not keys:
            return fields, reference
        extra, text = self.draw(rng), fields[keys[0]]
        joined = f"{extra}\n\n{text}" if self.params.position == "before" else f"{text}\n\n{extra}"
        return {**fields, keys[0]: joined}, reference

    def draw(self, rng: random.Random) -> str:
        raise NotImplementedError


class Typos(_TextEdit):
    """Keyboard typos: adjacent swaps, dropped, doubled and neighbouring-key letters."""

    class Params(PerturbParams):
        rate: float = Field(0.1, gt=0, le=1)
        """Share of the editable words (4+ letters) that get one typo; at least one word."""

    def edit(self, text: str, protected: set[str], rng: random.Random) -> str:
        tokens = _WORD.findall(text)
        eligible = [i for i, t in enumerate(tokens) if len(t) >= 4 and _editable(t, protected)]
        if not eligible:
            return text
        for i in rng.sample(eligible, max(1, round(self.params.rate * len(eligible)))):
            tokens[i] = _typo(tokens[i], rng)
        return "".join(tokens)


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)  # keep the first and last letters: still readable
    op = rng.choice(("swap", "drop", "double", "key"))
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "drop":
        return word[:i] + word[i + 1 :]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    near = _KEYBOARD.get(word[i].lower())
    if not near:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    c = rng.choice(near)
    return word[:i] + (c.upper() if word[i].isupper() else c) + word[i + 1 :]


class Casing(_TextEdit):
    class Params(PerturbParams):
        mode: Literal["lower", "upper", "title", "random"] = "lower"
        """``random``: each word lower, upper or title case at random."""

    def edit(self, text: str, protected: set[str], rng: random.Random) -> str:
        return _after_labels(
            text, lambda body: "".join(self._case(t, rng) if t.isalpha() else t for t in _WORD.findall(body))
        )

    def _case(self, word: str, rng: random.Random) -> str:
        mode = self.params.mode if self.params.mode != "random" else rng.choice(("lower", "upper", "title"))
        return word.lower() if mode == "lower" else word.upper() if mode == "upper" else word.title()


class Whitespace(_TextEdit):
    class Params(PerturbParams):
        rate: float = Field(0.3, gt=0, le=1)
        """Share of the spaces that become 2-4 spaces or a tab; the text also gains leading and
        trailing white space."""

    def edit(self, text: str, protected: set[str], rng: random.Random) -> str:
        parts = text.split(" ")
        out = parts[0]
        for part in parts[1:]:
            gap = rng.choice(("  ", "   ", "    ", "\t")) if rng.random() < self.params.rate else " "
            out += gap + part
        return rng.choice(("", " ", "  ", "\n")) + out + rng.choice((" ", "  ", "\n", " \n"))


class Punctuation(_TextEdit):
    class Params(PerturbParams):
        rate: float = Field(0.5, gt=0, le=1)
        """Chance that a punctuation mark is dropped; half of it again that one is doubled."""

    def edit(self, text: str, protected: set[str], rng: random.Random) -> str:
        return _after_labels(text, lambda body: self._noise(body, rng))

    def _noise(self, text: str, rng: random.Random) -> str:
        chars = []
        for i, ch in enumerate(text):
            inside_number = 0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()
            if ch in ",.;:!?" and not inside_number:
                draw = rng.random()
                if draw < self.params.rate:
                    continue
                if draw < self.params.rate * 1.5:
                    chars.append(ch)
            chars.append(ch)
        return "".join(chars)


_INSTRUCTIONS = (
    "Answer the following question.",
    "Please answer the question below.",
    "Read the question carefully, then answer it.",
    "Here is a question for you.",
    "Respond to the following.",
    "Give the answer to this question.",
    "Consider the question below and reply.",
    "Your task: answer the question that follows.",
    "Question for you to answer:",
    "Please respond with the answer.",
)


class Instruction(_TextAdd):
    class Params(PerturbParams):
        bank: list[str] = Field(default_factory=lambda: list(_INSTRUCTIONS), min_length=1)
        """Instruction wordings; one is drawn per item (default: 10 English rephrasings)."""
        position: Literal["before", "after"] = "before"

    def draw(self, rng: random.Random) -> str:
        return str(rng.choice(self.params.bank))


_DISTRACTORS = (
    "The library on the corner reopened last spring after a long renovation. Its reading room now "
    "has tall windows, wooden tables and a quiet corner for children.",
    "Morning fog is common along the coast in late summer. It usually lifts before noon, when the "
    "wind turns and the sun warms the sand.",
    "A good cup of tea depends on fresh water, the right temperature and patience. Green tea prefers "
    "cooler water than black tea.",
    "The old railway line was turned into a cycling path. On weekends it is busy with families, "
    "runners and people walking their dogs.",
    "Bees visit many kinds of flowers, but some plants rely on a single kind of insect. Gardeners often "
    "plant lavender and thyme to attract them.",
    "The museum's newest exhibition shows everyday objects from past centuries: spoons, lamps, "
    "buttons and letters written by hand.",
    "Bread dough rises faster in a warm kitchen. Bakers sometimes leave it overnight in a cool place "
    "to develop more flavour.",
    "Fresh snow reflects most of the sunlight that reaches it, which is why a snowy field can feel "
    "so bright on a clear winter day.",
)


class Distractor(_TextAdd):
    class Params(PerturbParams):
        bank: list[str] = Field(default_factory=lambda: list(_DISTRACTORS), min_length=1)
        """Irrelevant paragraphs (no numbers, no names); one or more are drawn per item."""
        paragraphs: int = Field(1, ge=1, le=10)
        position: Literal["before", "after"] = "before"

    def draw(self, rng: random.Random) -> str:
        return "\n\n".join(rng.sample(self.params.bank, min(self.params.paragraphs, len(self.params.bank))))


class ShuffleOptions(BasePerturbation):
    class Params(PerturbParams):
        reference: Literal["letter", "index", "text"] = "letter"
        """How the reference names the right option: its letter (``B``), its 0-based index in a
        list field, or its text (unchanged by a shuffle)."""

    changes_reference: ClassVar[bool] = True

    def apply(
        self, fields: dict[str, Any], targets: list[str], reference: Any, rng: random.Random
    ) -> tuple[dict[str, Any], Any]:
        out = dict(fields)
        for key in targets:
            value = fields.get(key)
            if isinstance(value, list) and len(value) >= 2:
                order = _permutation(len(value), rng)
                out[key] = [value[j] for j in order]
                return out, self._remap(reference, order)
            if isinstance(value, str):
                shuffled = self._shuffle_lines(value, rng)
                if shuffled is not None:
                    out[key], order = shuffled
                    return out, self._remap(reference, order)
        return out, reference

    def _shuffle_lines(self, text: str, rng: random.Random) -> tuple[str, list[int]] | None:
        lines = text.split("\n")
        rows = [(i, _OPTION_LINE.match(line)) for i, line in enumerate(lines)]
        found = [(i, m) for i, m in rows if m is not None]
        # one block of consecutive option lines labelled A, B, C, ... in order
        if len(found) < 2 or [m.group(3).upper() for _, m in found] != list(_LETTERS[: len(found)]):
            return None
        if [i for i, _ in found] != list(range(found[0][0], found[0][0] + len(found))):
            return None
        order = _permutation(len(found), rng)
        lower = found[0][1].group(3).islower()
        for slot, j in enumerate(order):
            m = found[j][1]
            letter = _LETTERS[slot].lower() if lower else _LETTERS[slot]
            start = found[slot][1]  # the slot keeps its label style, the text moves
            lines[found[slot][0]] = f"{start.group(1)}{start.group(2)}{letter}{start.group(4)} {m.group(5)}"
        return "\n".join(lines), order

    def _remap(self, reference: Any, order: list[int]) -> Any:
        """``order[new] = old``: the option now in slot ``new`` was option ``old``."""
        new_of = {old: new for new, old in enumerate(order)}
        if isinstance(reference, list):
            return [self._remap(r, order) for r in reference]
        if self.params.reference == "letter" and isinstance(reference, str) and len(reference.strip()) == 1:
            old = _LETTERS.find(reference.strip().upper())
            if 0 <= old < len(order):
                letter = _LETTERS[new_of[old]]
                return letter.lower() if reference.strip().islower() else letter
        if self.params.reference == "index" and isinstance(reference, int) and 0 <= reference < len(order):
            return new_of[reference]
        return reference


def _permutation(n: int, rng: random.Random) -> list[int]:
    """A random order of ``n`` options that is not the original one."""
    order = list(range(n))
    while order == list(range(n)):
        rng.shuffle(order)
    return order


# First names by language, for ``names``: substitutions cross languages.
_NAMES = {
    "en": ("John", "Emily", "Robert", "Sarah", "Michael", "Jessica", "David", "Laura"),
    "fr": ("Amélie", "Jean-Luc", "Margaux", "Benoît", "Élodie", "François"),
    "es": ("José", "Lucía", "Alejandro", "Mónica", "Íñigo", "Begoña"),
    "de": ("Jürgen", "Günther", "Anneliese", "Björn", "Jörg", "Hildegard"),
    "tr": ("Ayşe", "Mehmet", "Gülşen", "Oğuz", "Şebnem", "Çağlar"),
    "vi": ("Nguyễn", "Thảo", "Minh", "Phương", "Dũng", "Huệ"),
    "pl": ("Małgorzata", "Grzegorz", "Wojciech", "Agnieszka", "Łukasz", "Zbigniew"),
    "yo": ("Oluwaseun", "Adebayo", "Folasade", "Chukwuemeka", "Ngozi", "Babatunde"),
}


class Names(BasePerturbation):
    class Params(PerturbParams):
        to: list[str] | None = None
        """Languages to draw replacements from (default: any other than the name's own)."""

    changes_reference: ClassVar[bool] = True

    def __init__(self, params: Params) -> None:
        unknown = [lang for lang in params.to or [] if lang not in _NAMES]
        if unknown:
            raise ValueError(f"no name list for '{unknown[0]}'; known: {', '.join(sorted(_NAMES))}")
        super().__init__(params)
        self._lang_of = {name: lang for lang, names in _NAMES.items() for name in names}
        self._pattern = re.compile(r"\b(" + "|".join(map(re.escape, self._lang_of)) + r")\b")

    def apply(
        self, fields: dict[str, Any], targets: list[str], reference: Any, rng: random.Random
    ) -> tuple[dict[str, Any], Any]:
        keys = _text_fields(fields, targets)
        found = sorted({m for k in keys for m in self._pattern.findall(fields[k])})
        if not found:
            return fields, reference
        used = set(found)
        mapping = {}
        for name in found:
            langs = [lang for lang in (self.params.to or sorted(_NAMES)) if lang != self._lang_of[name]]
            pool = [n for lang in langs for n in _NAMES[lang] if n not in used]
            if pool:
                mapping[name] = rng.choice(pool)
                used.add(mapping[name])
        if not mapping:
            return fields, reference

        def swap(text: str) -> str:
            return self._pattern.sub(lambda m: mapping.get(m.group(1), m.group(1)), text)

        out = {**fields, **{k: swap(fields[k]) for k in keys}}
        if isinstance(reference, str):
            reference = swap(reference)
        elif isinstance(reference, list):
            reference = [swap(r) if isinstance(r, str) else r for r in reference]
        return out, reference


class Column(BasePerturbation):
    class Params(PerturbParams):
        column: str
        """The dataset column holding this variant's wording (e.g. a paraphrase) of the field."""

    def apply(
        self, fields: dict[str, Any], targets: list[str], reference: Any, rng: random.Random
    ) -> tuple[dict[str, Any], Any]:
        if self.params.column not in fields:
            raise KeyError(self.params.column)
        keys = _text_fields(fields, targets)
        if not keys:
            return fields, reference
        return {**fields, keys[0]: fields[self.params.column]}, reference
