"""Prompt formats from a grammar, in the spirit of FormatSpread (Sclar et al. 2023, "Quantifying
Language Models' Sensitivity to Spurious Features in Prompt Design", ICLR 2024).

A format decides how the same fields are laid out: the casing of the field names ("Question",
"QUESTION", "question"), the separator between a name and its text (": ", " - ", ":: ", ":\\n",
" = "), what joins the fields ("\\n", "\\n\\n", " ", " || "), how options are enumerated ("A.",
"(A)", "a)", "[A]", "A:") and what separates them ("\\n", "; ", " | "). Every format is a new
template over the same fields; the content is untouched, so the reference stays correct. Option
labels stay letters (upper or lower case) so the ``choice`` scorer reads answers in every format.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from tailgate.config import Message, TemplateConfig
from tailgate.perturb._base import BasePerturbation, PerturbParams

__all__ = ["GRAMMAR", "Formats"]

GRAMMAR: dict[str, tuple[str, ...]] = {
    "casing": ("title", "upper", "lower"),
    "separator": (": ", " - ", ":: ", ":\n", " = ", ":  "),
    "join": ("\n", "\n\n", " ", " || "),
    "enumerator": ("A.", "(A)", "a)", "[A]", "A:", "(a)"),
    "option_join": ("\n", "; ", " | ", "\n\n"),
}


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    """The item's field."""
    label: str
    """Its name in the prompt ("Question", "Context")."""


class Formats(BasePerturbation):
    """Prompt formats sampled from the grammar; each is a template named ``<name><k>``."""

    class Params(PerturbParams):
        layout: list[FieldSpec] = Field(min_length=1)
        """Fields in prompt order, with the name each is shown under."""
        options: str | None = None
        """A field holding a list of options, enumerated by the format."""
        options_label: str = "Options"
        instruction: str | None = None
        """A fixed first line (kept verbatim in every format)."""
        answer_label: str = "Answer"
        include_original: bool = False
        """Also make format 0: the grammar's first choice of everything ("Question: ...\\nAnswer:")."""

    makes_templates: ClassVar[bool] = True
    default_name: ClassVar[str] = "format"

    def templates(self, prefix: str, count: int, seed: int) -> list[TemplateConfig]:
        """``count`` distinct formats (fewer if the grammar has fewer), deterministic in ``seed``."""
        return [self._template(name, fmt) for name, fmt in self._formats(prefix, count, seed)]

    def descriptions(self, prefix: str, count: int, seed: int) -> dict[str, str]:
        """What each of :meth:`templates` looks like, for a person: the prompt's skeleton with the
        field contents elided, newlines shown as ``\\n``, e.g.
        ``QUESTION - {question} || OPTIONS - (a) … ; (b) … || ANSWER -``."""
        return {name: self._skeleton(fmt) for name, fmt in self._formats(prefix, count, seed)}

    def _formats(self, prefix: str, count: int, seed: int) -> list[tuple[str, dict[str, str]]]:
        rng = random.Random(seed)
        seen: set[tuple[str, ...]] = set()
        out: list[tuple[str, dict[str, str]]] = []
        if self.params.include_original:
            first = tuple(options[0] for options in GRAMMAR.values())
            seen.add(first)
            out.append((f"{prefix}0", dict(zip(GRAMMAR, first, strict=True))))
        attempts = 0
        while len(out) < count + int(self.params.include_original) and attempts < 10_000:
            attempts += 1
            choice = tuple(rng.choice(options) for options in GRAMMAR.values())
            if choice in seen:
                continue
            seen.add(choice)
            out.append(
                (f"{prefix}{len(out) + 1 - int(self.params.include_original)}", dict(zip(GRAMMAR, choice, strict=True)))
            )
        return out

    def _layout(self, fmt: dict[str, str], fields: list[str], options: str, instruction: str) -> str:
        """The prompt laid out by ``fmt``, with ``fields`` (one per layout entry) as the contents."""

        def cased(label: str) -> str:
            return label.upper() if fmt["casing"] == "upper" else label.lower() if fmt["casing"] == "lower" else label

        parts = [
            f"{cased(spec.label)}{fmt['separator']}{text}"
            for spec, text in zip(self.params.layout, fields, strict=True)
        ]
        if self.params.options:
            parts.append(f"{cased(self.params.options_label)}{fmt['separator']}{options}")
        body = fmt["join"].join(parts)
        if self.params.instruction:
            body = f"{instruction}{fmt['join']}{body}"
        answer = f"{cased(self.params.answer_label)}{fmt['separator'].rstrip()}"
        return f"{body}{fmt['join']}{answer}"

    def _template(self, name: str, fmt: dict[str, str]) -> TemplateConfig:
        fields = [f"{{{{ {spec.field} }}}}" for spec in self.params.layout]
        text = self._layout(fmt, fields, self._options(fmt), self.params.instruction or "")
        return TemplateConfig(name=name, messages=[Message(role="user", content=text)], text=text)

    def _skeleton(self, fmt: dict[str, str]) -> str:
        before, letters, after = self._labels(fmt)
        options = f"{before}{letters[0]}{after} …{fmt['option_join']}{before}{letters[1]}{after} …"
        fields = [f"{{{spec.field}}}" for spec in self.params.layout]
        text = self._layout(fmt, fields, options, "[instruction]")
        return text.replace("\n", "\\n")

    @staticmethod
    def _labels(fmt: dict[str, str]) -> tuple[str, str, str]:
        """What comes before and after an option's letter, and the letters (upper or lower case)."""
        enum = fmt["enumerator"]
        letters = "abcdefghij" if any(c.islower() for c in enum if c.isalpha()) else "ABCDEFGHIJ"
        before, after = enum.split(next(c for c in enum if c.isalpha()))
        return before, letters, after

    def _options(self, fmt: dict[str, str]) -> str:
        before, letters, after = self._labels(fmt)
        sep = fmt["option_join"].replace("\n", "\\n")
        field = self.params.options
        return (
            f"{{% for o in {field} %}}{before}{{{{ '{letters}'[loop.index0] }}}}{after} {{{{ o }}}}"
            f"{{% if not loop.last %}}{{{{ '{sep}' }}}}{{% endif %}}{{% endfor %}}"
        )

    def describe(self) -> dict[str, Any]:
        return {"grammar": {k: list(v) for k, v in GRAMMAR.items()}}
