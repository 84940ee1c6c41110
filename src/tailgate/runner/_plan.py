"""Planning: items x variants x repeats -> samples with rendered prompts and cache keys.

Prompts are Jinja2 templates over the item's fields (plus ``reference`` and ``attributes``),
rendered with ``StrictUndefined``: a template that names a field an item lacks is an input error
naming the dataset line and the field, raised before any model call.

A template that only substitutes fields (text and ``{{ name }}``, nothing else Jinja would read:
see :func:`_substitution`) is rendered without Jinja2, as Jinja2 renders it (``str`` of each
value; ``tests/runner/test_plan.py`` compares the two): importing Jinja2 and compiling its lexer
and the template was 50 ms of a run's start-up (BENCHMARKS.md).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from tailgate.config import LoadedSuite, SourceMap, TemplateConfig
from tailgate.dataset import Dataset
from tailgate.errors import InputError, UsageError
from tailgate.perturb import BoundPerturbation, Variants, build_variants
from tailgate.providers import Request
from tailgate.records import Item, Mode, Prompt, Variant, cache_key_hasher, canonical_json

if TYPE_CHECKING:
    import jinja2

__all__ = ["Plan", "Sample", "build_plan", "variants_of"]


@dataclass(frozen=True)
class Sample:
    """One planned model call."""

    sample_id: str
    item: Item
    variant: str
    repeat: int
    request: Request
    prompt: str
    """The stored form of the prompt (see :meth:`Prompt.stored`)."""
    params_json: str
    cache_key: str


@dataclass(frozen=True)
class Plan:
    """Every sample of a run, in execution order (item-major, so a local model reuses the
    prompt prefix across the repeats of one item)."""

    samples: list[Sample]
    variants: list[Variant]
    items: list[Item]
    repeats: int
    mode: Mode

    @property
    def size(self) -> int:
        return len(self.samples)


def variants_of(suite: LoadedSuite, only: list[str] | None = None) -> Variants:
    """The suite's variants (templates, generated formats, perturbations; see
    :func:`tailgate.perturb.build_variants`), optionally only those named in ``only``."""
    built = build_variants(suite)
    if only:
        known = {v.name for v in built.variants}
        unknown = [name for name in only if name not in known]
        if unknown:
            raise UsageError(f"unknown variant '{unknown[0]}'; the suite has: {', '.join(sorted(known))}")
        built = replace(built, variants=[v for v in built.variants if v.name in only])
    return built


def build_plan(
    suite: LoadedSuite,
    dataset: Dataset,
    *,
    mode: Mode,
    repeats: int,
    identity: dict[str, Any],
    timeout_s: float,
    only_variants: list[str] | None = None,
    built: Variants | None = None,
) -> Plan:
    """Render every (item, variant) prompt and expand repeats into samples."""
    env = _Environment()
    built = built if built is not None else variants_of(suite, only_variants)
    templates = {**{t.name: t for t in suite.config.templates}, **built.templates}
    variants = [
        v if v.description else replace(v, description=_preview(templates[v.template], mode)) for v in built.variants
    ]
    used = {v.template for v in variants}
    compiled = {name: _compile(env, suite, templates[name], mode) for name in templates if name in used}
    decoding = suite.config.decoding
    stop = tuple(decoding.stop)
    # Everything that depends only on the repeat index is computed once per repeat.
    per_repeat = []
    for repeat in range(repeats):
        seed = None if decoding.seed is None else decoding.seed + repeat
        # the request's fields after its prompt: Request(prompt, *fields) per sample is 4x
        # faster than dataclasses.replace()
        fields = (decoding.temperature, decoding.top_p, decoding.max_tokens, seed, stop, timeout_s)
        params = Request(Prompt(mode), *fields).params()
        head = {"provider": identity, "mode": mode, "params": params, "repeat": repeat}
        per_repeat.append((fields, canonical_json(params), cache_key_hasher(head)))
    samples: list[Sample] = []
    for original in dataset.items:
        for variant in variants:
            perturbation = built.perturbations.get(variant.name)
            item = original if perturbation is None else _perturb(perturbation, original, dataset)
            context = {**item.input, "reference": item.reference, "attributes": item.attributes}
            prompt = _render(compiled[variant.template], context, mode, item, dataset, variant.name)
            stored = prompt.stored()
            for repeat, (template_fields, params_json, keyer) in enumerate(per_repeat):
                samples.append(
                    Sample(
                        sample_id=f"{item.item_id}/{variant.name}/{repeat}",
                        item=item,
                        variant=variant.name,
                        repeat=repeat,
                        request=Request(prompt, *template_fields),
                        prompt=stored,
                        params_json=params_json,
                        cache_key=keyer(stored),
                    )
                )
    return Plan(samples, variants, dataset.items, repeats, mode)


def _preview(template: TemplateConfig, mode: Mode, width: int = 100) -> str:
    """A template as one line, in the form this run sends (its text, or its last chat message),
    newlines shown as ``\\n``: what a variant without a generator's description is."""
    if mode == "completion":
        content = template.text or ""
    else:
        content = template.messages[-1].content if template.messages else ""
    flat = content.strip().replace("\n", "\\n")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _perturb(perturbation: BoundPerturbation, item: Item, dataset: Dataset) -> Item:
    try:
        return perturbation.apply(item)
    except KeyError as exc:
        field = str(exc.args[0]) if exc.args else "?"
        raise InputError(
            f"missing field '{field}' used by variant '{perturbation.variant}'",
            file=dataset.display,
            line=item.row,
            field=field,
        ) from exc  # a KeyError may come from inside a plugin's apply(): keep where


class _Template(Protocol):
    def render(self, context: dict[str, Any]) -> str: ...


@dataclass(frozen=True)
class _Substitution:
    """A template of text and ``{{ name }}`` only: ``parts`` alternate text and field names
    (text first), rendered as Jinja2 renders them (``str`` of the value)."""

    parts: tuple[str, ...]

    def render(self, context: dict[str, Any]) -> str:
        parts = self.parts
        out = [parts[0]]
        for i in range(1, len(parts), 2):
            out.append(str(context[parts[i]]))
            out.append(parts[i + 1])
        return "".join(out)


_FIELD = re.compile(r"\{\{[ \t\n]*([A-Za-z_][A-Za-z0-9_]*)[ \t\n]*\}\}")
# names Jinja2 reads as constants or operators, not as a field
_NOT_FIELDS = frozenset(keyword.kwlist) | {"true", "false", "none"}


def _substitution(source: str) -> _Substitution | None:
    """``source`` as a :class:`_Substitution`, or None when Jinja2 might read more in it: any
    other ``{{``, ``{%`` or ``{#`` (expressions, filters, blocks, comments, whitespace control
    ``{{-``), a carriage return (Jinja2 rewrites newlines) or a name that is not a field."""
    if "\r" in source:
        return None
    parts = _FIELD.split(source)
    for i in range(0, len(parts), 2):
        if "{{" in parts[i] or "{%" in parts[i] or "{#" in parts[i]:
            return None
    if any(parts[i] in _NOT_FIELDS for i in range(1, len(parts), 2)):
        return None
    return _Substitution(tuple(parts))


class _Environment:
    """The Jinja2 environment, made (and Jinja2 imported) only for a template that needs it."""

    def __init__(self) -> None:
        self._env: jinja2.Environment | None = None

    def get(self) -> jinja2.Environment:
        if self._env is None:
            import jinja2
            from jinja2.sandbox import SandboxedEnvironment

            # sandboxed: a suite downloaded from somewhere cannot reach Python internals through
            # its templates (``{{ ''.__class__.__mro__ }}``); item fields and filters work as before
            self._env = SandboxedEnvironment(
                undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
            )
        return self._env


@dataclass(frozen=True)
class _Compiled:
    template: str
    mode: Mode
    text: _Template | None
    messages: list[tuple[str, _Template, bool]]
    """(role, template, optional) of each message."""
    fields: frozenset[str]
    source: SourceMap
    locs: list[tuple[str | int, ...]]
    """Where each template (the text, or each message) is in the suite file."""


def _compile(environment: _Environment, suite: LoadedSuite, tpl: TemplateConfig, mode: Mode) -> _Compiled:
    names = [t.name for t in suite.config.templates]
    # a generated template (formats) points at its suite's variants: entry
    loc: tuple[str | int, ...] = ("templates", names.index(tpl.name)) if tpl.name in names else ("variants",)
    if mode == "completion" and tpl.text is None:
        raise suite.source.error(
            (*loc, "name"),
            f"template '{tpl.name}' has no 'text' form, and this model takes completion prompts; "
            "add a 'text' template (or use a chat model)",
        )
    if mode == "chat" and tpl.messages is None:
        raise suite.source.error(
            (*loc, "name"),
            f"template '{tpl.name}' has no 'messages' form, and this model takes chat prompts; "
            "add 'messages' (or run with --mode completion)",
        )
    sources: list[tuple[tuple[str | int, ...], str]] = []
    if mode == "completion":
        sources.append(((*loc, "text"), tpl.text or ""))
    else:
        sources.extend(((*loc, "messages", i, "content"), m.content) for i, m in enumerate(tpl.messages or []))
    fields: set[str] = set()
    parsed: list[_Template] = []
    for where, source in sources:
        simple = _substitution(source)
        if simple is not None:
            fields.update(simple.parts[1::2])
            parsed.append(simple)
            continue
        import jinja2
        from jinja2 import meta

        env = environment.get()
        try:
            fields |= meta.find_undeclared_variables(env.parse(source))
            parsed.append(env.from_string(source))
        except jinja2.TemplateSyntaxError as exc:
            raise suite.source.error(
                where, f"template syntax error: {exc.message} (template line {exc.lineno})"
            ) from None
        except RecursionError:
            raise suite.source.error(where, "template syntax error: nested too deeply") from None
    locs = [where for where, _ in sources]
    if mode == "completion":
        return _Compiled(tpl.name, mode, parsed[0], [], frozenset(fields), suite.source, locs)
    shapes: list[tuple[str, _Template, bool]] = [
        (m.role, p, m.optional) for m, p in zip(tpl.messages or [], parsed, strict=True)
    ]
    return _Compiled(tpl.name, mode, None, shapes, frozenset(fields), suite.source, locs)


def _render(
    compiled: _Compiled,
    context: dict[str, Any],
    mode: Mode,
    item: Item,
    dataset: Dataset,
    variant: str,
) -> Prompt:
    missing = sorted(f for f in compiled.fields if f not in context)
    if missing:
        raise InputError(
            f"missing field '{missing[0]}' used by template '{compiled.template}'",
            file=dataset.display,
            line=item.row,
            field=missing[0],
        )
    if mode == "completion":
        assert compiled.text is not None
        text = _render_one(compiled, compiled.text, compiled.locs[0], context, item, dataset)
        return Prompt(mode="completion", text=text)
    messages = []
    for (role, tpl, optional), loc in zip(compiled.messages, compiled.locs, strict=True):
        content = _render_one(compiled, tpl, loc, context, item, dataset)
        if not (optional and not content.strip()):
            messages.append({"role": role, "content": content})
    return Prompt(mode="chat", messages=tuple(messages))


def _render_one(
    compiled: _Compiled,
    template: _Template,
    loc: tuple[str | int, ...],
    context: dict[str, Any],
    item: Item,
    dataset: Dataset,
) -> str:
    """Render one template; any failure (an undefined name, ``{{ 1/0 }}``, ``{% include %}``
    without a loader, ``1 + 'a'``) names the template's place in the suite and the item's line."""
    try:
        return template.render(context)
    except Exception as exc:
        reason = _failure(exc)
    where = f"{dataset.display}:{item.row}" if item.row else dataset.display
    raise compiled.source.error(loc, f"template '{compiled.template}' failed on the item at {where}: {reason}")


def _failure(exc: Exception) -> str:
    """Why a template failed to render, for the user (a failure is rare: Jinja2 is imported)."""
    import jinja2

    if isinstance(exc, jinja2.UndefinedError):
        return exc.message or str(exc)
    if isinstance(exc, jinja2.TemplateError):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "recursion too deep"
    if isinstance(exc, TypeError) and "no loader" in str(exc):
        return "templates cannot include, import or extend other files"
    return f"{type(exc).__name__}: {exc}"  # the template's own expressions: ZeroDivisionError...
