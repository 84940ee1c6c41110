"""What a perturbation is, and how a suite's ``variants:`` entries become variants.

A perturbation turns an item's input fields (and, when it must, its reference) into a variant
of them: ``apply(fields, reference, rng) -> (fields, reference)``. It is deterministic: the
random generator is seeded from the suite's seed, the variant's name and the item's id, so the
same suite gives the same variants on every machine and every resume. Perturbations are
registered like scorers (entry-point group ``tailgate.perturbations``); a plugin adds its own,
best as a subclass of :class:`BasePerturbation` (which declares every optional capability of
:class:`Perturbation` with its default), checked with :func:`tailgate.testing.check_perturbation`.

A variant is a template with a tuple of transforms; records carry the variant's name, and the
manifest carries each variant's definition (generator and parameters).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from tailgate.config import LoadedSuite, TemplateConfig, VariantConfig
from tailgate.records import Item, Variant
from tailgate.registry import build, fail_at

__all__ = [
    "BasePerturbation",
    "BoundPerturbation",
    "ModelParams",
    "ModelPerturbation",
    "PerturbParams",
    "Perturbation",
    "Variants",
    "build_variants",
    "item_rng",
]


class PerturbParams(BaseModel):
    """Parameters of a perturbation (its keys in the suite's ``variants:`` entry)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Perturbation(Protocol):
    """A registered perturbation type: a transformation of items, or (``makes_templates``) a
    generator of prompt templates. The registry checks that a plugin declares every member."""

    Params: ClassVar[type[PerturbParams]]
    """Its keys in the suite's ``variants:`` entry (unknown keys rejected)."""
    changes_reference: ClassVar[bool]
    """True when the transformation can change the reference (e.g. shuffled options)."""
    needs_model: ClassVar[bool]
    """True when its texts come from a model (paraphrases): the runner asks the model first,
    through its one call path, and each variant gets its own instance."""
    makes_templates: ClassVar[bool]
    """True for a generator of templates (formats): :meth:`templates` is called, not :meth:`apply`."""
    default_name: ClassVar[str | None]
    """The variant label when the entry has no ``name`` (None: the generator's registered name)."""

    def apply(
        self, fields: dict[str, Any], targets: list[str], reference: Any, rng: random.Random
    ) -> tuple[dict[str, Any], Any]:
        """``fields``: all of the item's input fields; ``targets``: the ones to perturb."""
        ...

    def templates(self, prefix: str, count: int, seed: int) -> list[TemplateConfig]:
        """A template generator's ``count`` templates, named from ``prefix``."""
        ...

    def descriptions(self, prefix: str, count: int, seed: int) -> dict[str, str]:
        """Template name -> what it is, for a person (may be empty)."""
        ...


class ModelParams(Protocol):
    """What the parameters of a perturbation that asks a model say about the call."""

    model: str
    base_url: str | None
    temperature: float
    max_tokens: int


@runtime_checkable
class ModelPerturbation(Perturbation, Protocol):
    """A perturbation with ``needs_model``: the runner sends :meth:`request` for each text to the
    ``params.model`` and hands each reply to :meth:`provide` before any item is perturbed."""

    params: ModelParams

    def request(self, text: str) -> str:
        """The prompt asking the model for this text's variant."""
        ...

    def provide(self, field: str, original: str, raw: str, reference: Any) -> str | None:
        """Keep the model's reply for ``original``; returns why it was rejected, or None."""
        ...


class BasePerturbation:
    """What the built-in perturbations share: their validated parameters; reference unchanged,
    no model, no templates, unless a subclass says otherwise.

    Example:
        >>> class Shout(BasePerturbation):
        ...     def apply(self, fields, targets, reference, rng):
        ...         return {k: v.upper() if k in targets else v for k, v in fields.items()}, reference
        >>> Shout(Shout.Params()).apply({"q": "hi"}, ["q"], None, item_rng(0, "v", "i"))
        ({'q': 'HI'}, None)
    """

    Params: ClassVar[type[PerturbParams]] = PerturbParams
    changes_reference: ClassVar[bool] = False
    needs_model: ClassVar[bool] = False
    makes_templates: ClassVar[bool] = False
    default_name: ClassVar[str | None] = None

    def __init__(self, params: Any) -> None:
        self.params = params

    def apply(
        self, fields: dict[str, Any], targets: list[str], reference: Any, rng: random.Random
    ) -> tuple[dict[str, Any], Any]:
        raise NotImplementedError(f"{type(self).__name__}.apply")

    def templates(self, prefix: str, count: int, seed: int) -> list[TemplateConfig]:
        raise NotImplementedError(f"{type(self).__name__} makes no templates")

    def descriptions(self, prefix: str, count: int, seed: int) -> dict[str, str]:
        return {}


def item_rng(seed: int, variant: str, item_id: str) -> random.Random:
    """The random generator of one (variant, item): stable across processes and platforms."""
    digest = hashlib.sha256(f"{seed}|{variant}|{item_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class BoundPerturbation:
    """One variant's transformation, ready to apply to items."""

    variant: str
    impl: Perturbation
    seed: int
    fields: tuple[str, ...] | None
    """Input fields it touches (None: every string field)."""

    def apply(self, item: Item) -> Item:
        """The item as this variant presents it (same ``item_id``: variants of one item pair)."""
        from dataclasses import replace

        if self.fields is None:
            targets = [k for k, v in item.input.items() if isinstance(v, (str, list))]
        else:
            targets = [k for k in self.fields if k in item.input]
        rng = item_rng(self.seed, self.variant, item.item_id)
        fields, reference = self.impl.apply(dict(item.input), targets, item.reference, rng)
        return replace(item, input=fields, reference=reference)


@dataclass(frozen=True)
class Variants:
    """A suite's variants: the list, the perturbation of each perturbed one, and the templates
    that generators (formats) made."""

    variants: list[Variant]
    perturbations: dict[str, BoundPerturbation]
    templates: dict[str, TemplateConfig]


def build_variants(suite: LoadedSuite) -> Variants:
    """The suite's variants: one per template, the templates generators make, then each
    perturbation on its templates (named ``<template>+<name>``)."""
    templates: dict[str, TemplateConfig] = {t.name: t for t in suite.config.templates}
    variants = [Variant(name=name, template=name) for name in templates]
    made: dict[str, TemplateConfig] = {}
    bound: dict[str, BoundPerturbation] = {}
    for index, entry in enumerate(suite.config.variants):
        loc: tuple[str | int, ...] = ("variants", index)
        impl = _instantiate(suite, entry, loc)
        spec = f"{entry.generator}:{entry.canonical_params()}"
        label = entry.name or impl.default_name or entry.generator
        if impl.makes_templates:
            said = impl.descriptions(label, entry.count, entry.seed)
            for template in impl.templates(label, entry.count, entry.seed):
                if template.name in templates:
                    raise suite.source.error(loc, f"two templates would be named '{template.name}'; give one a 'name'")
                templates[template.name] = made[template.name] = template
                description = said.get(template.name, "")  # (else the plan shows the template itself)
                variants.append(
                    Variant(name=template.name, template=template.name, transforms=(spec,), description=description)
                )
            continue
        targets = entry.templates or [suite.config.templates[0].name]
        for target in targets:
            if target not in templates:
                raise suite.source.error((*loc, "templates"), f"no template named '{target}'")
            for k in range(entry.count):
                if impl.needs_model and not isinstance(impl, ModelPerturbation):
                    what = f"generator '{entry.generator}' needs a model but has no request/provide"
                    raise suite.source.error(loc, what)
                if impl.needs_model and (target, k) != (targets[0], 0):
                    impl = _instantiate(suite, entry, loc)  # its own texts per variant
                name = f"{target}+{label}" + (str(k + 1) if entry.count > 1 else "")
                if name in {v.name for v in variants}:
                    raise suite.source.error(loc, f"two variants would be named '{name}'; give one a 'name'")
                description = _perturbed(entry, impl, target)
                variants.append(Variant(name=name, template=target, transforms=(spec,), description=description))
                fields = tuple(entry.fields) if entry.fields is not None else None
                bound[name] = BoundPerturbation(name, impl, entry.seed + k, fields)
    return Variants(variants, bound, made)


def _perturbed(entry: VariantConfig, impl: Perturbation, target: str) -> str:
    """``typos (rate=0.2) on template original, fields question``: what a perturbed variant is."""
    params = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(entry.params.items()))
    what = entry.generator + (f" ({params})" if params else "") + f" on template {target}"
    if entry.fields:
        what += f", fields {', '.join(entry.fields)}"
    if impl.changes_reference:
        what += "; the reference follows the change"
    return what if len(what) <= 160 else what[:159] + "…"


def _instantiate(suite: LoadedSuite, entry: VariantConfig, loc: tuple[str | int, ...]) -> Perturbation:
    impl: Perturbation = build("perturbations", entry.generator, entry.params, fail=fail_at(suite, loc))
    return impl
