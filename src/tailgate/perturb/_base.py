"""What a perturbation is, and how a suite's ``variants:`` entries become variants.

A perturbation turns an item's input fields (and, when it must, its reference) into a variant
of them: ``apply(fields, reference, rng) -> (fields, reference)``. It is deterministic: the
random generator is seeded from the suite's seed, the variant's name and the item's id, so the
same suite gives the same variants on every machine and every resume. Perturbations are
registered like scorers (entry-point group ``tailgate.perturbations``); a plugin adds its own.

A variant is a template with a tuple of transforms; records carry the variant's name, and the
manifest carries each variant's definition (generator and parameters).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from tailgate.config import LoadedSuite, TemplateConfig, VariantConfig
from tailgate.errors import InputError, TailgateError
from tailgate.records import Item, Variant
from tailgate.registry import lookup

__all__ = [
    "BasePerturbation",
    "BoundPerturbation",
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
    """A registered perturbation type."""

    Params: ClassVar[type[PerturbParams]]
    changes_reference: ClassVar[bool]
    """True when the transformation can change the reference (e.g. shuffled options)."""

    def apply(
        self, fields: dict[str, Any], targets: list[str], reference: Any, rng: random.Random
    ) -> tuple[dict[str, Any], Any]:
        """``fields``: all of the item's input fields; ``targets``: the ones to perturb."""
        ...


class BasePerturbation:
    """What the built-in perturbations share: their validated parameters; reference unchanged
    unless a subclass says otherwise."""

    Params: ClassVar[type[PerturbParams]] = PerturbParams
    changes_reference: ClassVar[bool] = False

    def __init__(self, params: Any) -> None:
        self.params = params


def item_rng(seed: int, variant: str, item_id: str) -> random.Random:
    """The random generator of one (variant, item): stable across processes and platforms."""
    digest = hashlib.sha256(f"{seed}|{variant}|{item_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class BoundPerturbation:
    """One variant's transformation, ready to apply to items."""

    variant: str
    impl: Any
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
        label = entry.name or getattr(impl, "default_name", entry.generator)
        if getattr(impl, "makes_templates", False):
            describe = getattr(impl, "descriptions", None)
            said: dict[str, str] = describe(label, entry.count, entry.seed) if describe is not None else {}
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
                if getattr(impl, "needs_model", False) and (target, k) != (targets[0], 0):
                    impl = _instantiate(suite, entry, loc)  # its own texts per variant
                name = f"{target}+{label}" + (str(k + 1) if entry.count > 1 else "")
                if name in {v.name for v in variants}:
                    raise suite.source.error(loc, f"two variants would be named '{name}'; give one a 'name'")
                description = _perturbed(entry, impl, target)
                variants.append(Variant(name=name, template=target, transforms=(spec,), description=description))
                fields = tuple(entry.fields) if entry.fields is not None else None
                bound[name] = BoundPerturbation(name, impl, entry.seed + k, fields)
    return Variants(variants, bound, made)


def _perturbed(entry: VariantConfig, impl: Any, target: str) -> str:
    """``typos (rate=0.2) on template original, fields question``: what a perturbed variant is."""
    params = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(entry.params.items()))
    what = entry.generator + (f" ({params})" if params else "") + f" on template {target}"
    if entry.fields:
        what += f", fields {', '.join(entry.fields)}"
    if getattr(impl, "changes_reference", False):
        what += "; the reference follows the change"
    return what if len(what) <= 160 else what[:159] + "…"


def _instantiate(suite: LoadedSuite, entry: VariantConfig, loc: tuple[str | int, ...]) -> Any:
    try:
        cls = lookup("perturbations", entry.generator)
    except TailgateError as exc:
        raise suite.source.error((*loc, "generator"), str(exc)) from None
    try:
        params = cls.Params.model_validate(entry.params)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = [p for p in err["loc"] if isinstance(p, (str, int))]
        msg = "unknown key" if err["type"] == "extra_forbidden" else str(err["msg"])
        raise suite.source.error((*loc, *key), f"{msg} (generator '{entry.generator}')") from None
    try:
        return cls(params)
    except (ValueError, InputError) as exc:  # the generator's own check: keep its traceback (plugins)
        raise suite.source.error(loc, str(exc)) from exc
