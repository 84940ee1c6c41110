"""Contract checks for plugin authors: is my scorer, provider or perturbation one tailgate can use?

Each check runs a battery of small tests against one component and raises an ``AssertionError``
that names the component and what is wrong (and how to fix it) at the first failure. Call them
from your own test suite; tailgate's tests call them on every built-in component.

Example:
    >>> from tailgate.records import Item
    >>> from tailgate.scorers import BaseScorer, Score
    >>> class Shorter(BaseScorer):
    ...     def score(self, answer: str, item: Item) -> Score:
    ...         return Score(float(len(answer) <= 10), answer)
    >>> check_scorer(Shorter)
    >>> class Broken(BaseScorer):
    ...     def score(self, answer: str, item: Item) -> Score:
    ...         return Score(2.0, answer)
    >>> check_scorer(Broken)
    Traceback (most recent call last):
    AssertionError: scorer Broken: score('4') returned 2.0; a value must be a finite number in [0, 1] (None: unscored)
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from tailgate.config import TemplateConfig
from tailgate.errors import TailgateError
from tailgate.perturb import ModelPerturbation, item_rng
from tailgate.providers import Fault, Provider, Request, Response, redact
from tailgate.records import Item, Prompt, canonical_json
from tailgate.registry import DECLARES
from tailgate.scorers import Score

__all__ = ["ANSWERS", "ITEM", "JUDGE_REPLIES", "check_perturbation", "check_provider", "check_scorer"]

ITEM = Item(
    item_id="tailgate-check",
    input={"question": "What is 2 + 2?\nA. 3\nB. 4", "context": "Arithmetic, café ☕."},
    reference="4",
    attributes={"task": "check"},
)
"""The item the checks use unless given another."""

ANSWERS = ("4", "5", "", "The answer is 4.", "  B. 4\n", "é🙂 \u202e{]")
"""Answers every scorer must survive: right, wrong, empty, wordy, padded, odd characters."""

_UNKNOWN_KEY = "tailgate_check_unknown_key"


def _fail(what: str, message: str) -> AssertionError:
    return AssertionError(f"{what}: {message}")


def _declares(what: str, kind: str, obj: Any) -> None:
    missing = [m for m in DECLARES[kind] if not hasattr(obj, m)]
    if missing:
        raise _fail(what, f"does not declare {', '.join(missing)} (subclass the base class, which declares them)")


def _params(what: str, cls: Any, params: Mapping[str, Any] | None) -> Any:
    """Validate ``params`` with the class's Params model, which must reject an unknown key."""
    model = cls.Params
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise _fail(what, f"Params must be a pydantic model class, not {model!r}")
    try:
        model.model_validate({**(params or {}), _UNKNOWN_KEY: 1})
    except ValidationError:
        pass
    else:
        raise _fail(what, 'Params accepts unknown keys: a typo in a suite would pass; use ConfigDict(extra="forbid")')
    try:
        return model.model_validate(dict(params or {}))
    except ValidationError as exc:
        raise _fail(what, f"Params refuses the parameters given to the check: {exc.errors()[0]['msg']}") from exc


def _construct(what: str, cls: Any, params: Mapping[str, Any] | None) -> Any:
    validated = _params(what, cls, params)
    try:
        return cls(validated)
    except Exception as exc:
        raise _fail(what, f"its constructor raised {type(exc).__name__}: {exc}") from exc


# -- scorers -------------------------------------------------------------------------------------


def check_scorer(
    cls: type[Any], params: Mapping[str, Any] | None = None, *, item: Item = ITEM, answers: Sequence[str] = ANSWERS
) -> None:
    """Check a scorer class against the scorer contract (:class:`tailgate.scorers.ScorerType`).

    It declares ``Params`` (a pydantic model refusing unknown keys), ``default_extract`` (None
    or an extractor's name) and ``score``; it builds from ``params``; for each answer, ``score``
    returns a :class:`~tailgate.scorers.Score` whose value is a finite number in [0, 1] (or None
    with an error), the same Score twice (deterministic), without changing the item. A scorer
    may raise on an item it cannot score (no reference): tailgate records that as unscored. A
    judge (``needs_model``) is scored through ``score_async`` with a scripted judge that replies
    with :data:`JUDGE_REPLIES` (its ``baseline`` is one fixed output).

    Raises:
        AssertionError: what is wrong, naming the scorer.
    """
    what = f"scorer {cls.__name__}"
    _declares(what, "scorers", cls)
    extract = cls.default_extract
    if extract is not None and not isinstance(extract, str):
        raise _fail(what, f"default_extract must be None or an extractor's name, not {extract!r}")
    if extract:
        from tailgate.scorers import parse_extractor

        try:
            parse_extractor(extract)
        except TailgateError as exc:
            raise _fail(what, f"default_extract {extract!r}: {exc}") from exc
    scorer = _construct(what, cls, params)
    scored = [_check_score(what, scorer, answer, item) for answer in answers]
    if answers and not any(scored):
        raise _fail(
            what, f"scored none of {len(answers)} answers to {item.item_id!r}; give the check an item it can score"
        )


def _check_score(what: str, scorer: Any, answer: str, item: Item) -> bool:
    """Whether it gave a value (the checks passed)."""
    before = copy.deepcopy((item.input, item.reference, item.attributes))
    first, second = _score(what, scorer, answer, item), _score(what, scorer, answer, item)
    if (item.input, item.reference, item.attributes) != before:
        raise _fail(what, f"score({answer!r}) changed the item; treat it as read-only")
    if first is None or second is None:
        return False  # raised: unscored, which is allowed
    if not isinstance(first, Score):
        raise _fail(what, f"score({answer!r}) returned {type(first).__name__}, not tailgate.scorers.Score")
    if first != second:
        raise _fail(what, f"score({answer!r}) gave {first} then {second}; a scorer must be deterministic")
    value = first.value
    if value is None:
        if not first.error:
            raise _fail(what, f"score({answer!r}) is unscored (value None) without an error saying why")
        return False
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise _fail(
            what,
            f"score({answer!r}) returned {value!r}; a value must be a finite number in [0, 1] (None: unscored)",
        )
    if first.answer is not None and not isinstance(first.answer, str):
        raise _fail(what, f"score({answer!r}) gave answer {first.answer!r}; an answer is a str or None")
    return True


JUDGE_REPLIES = ("yes", "No.", "Verdict: A", "B", "tie", "Score: 3", "1: yes", "It depends.", "")
"""What the scripted judge of :func:`check_scorer` replies (one per prompt and seed, by hash)."""


class _ScriptedJudge:
    """A :class:`~tailgate.scorers.JudgeContext` for checks: a reply picked from
    :data:`JUDGE_REPLIES` by the prompt's hash (deterministic), and one baseline output."""

    async def ask(self, call: Any) -> Any:
        import hashlib

        from tailgate.scorers import JudgeReply

        digest = hashlib.sha256(f"{call.prompt}|{call.seed}".encode()).digest()
        return JudgeReply(JUDGE_REPLIES[digest[0] % len(JUDGE_REPLIES)], attempts=1)

    def baseline(self, run_id: str, item_id: str) -> str | None:
        return "The answer is 4."


def _score(what: str, scorer: Any, answer: str, item: Item) -> Any:
    try:
        if scorer.needs_model:
            import asyncio

            return asyncio.run(scorer.score_async(answer, item, _ScriptedJudge()))
        return scorer.score(answer, item)
    except (ValueError, TypeError, KeyError, LookupError, TailgateError):
        return None  # unscored, not wrong (BoundScorer records the error)
    except Exception as exc:
        raise _fail(what, f"score({answer!r}) raised {type(exc).__name__}: {exc}") from exc


# -- perturbations -------------------------------------------------------------------------------


def check_perturbation(
    cls: type[Any], params: Mapping[str, Any] | None = None, *, item: Item = ITEM, seed: int = 0
) -> None:
    """Check a perturbation class against :class:`tailgate.perturb.Perturbation`.

    It declares every member (``Params`` refusing unknown keys, ``changes_reference``,
    ``needs_model``, ``makes_templates``, ``default_name``, ``apply``, ``templates``,
    ``descriptions``); it builds from ``params``. A template generator makes uniquely named
    templates with string descriptions, the same ones from two instances. A transformation
    returns ``(fields, reference)`` with the same field names, leaves the fields it was not asked
    to perturb and (unless ``changes_reference``) the reference as they were, does not change its
    input, and gives the same output for the same seed. One that ``needs_model`` has ``request``
    and ``provide`` (it is not applied here: it needs a model's replies first).

    Raises:
        AssertionError: what is wrong, naming the perturbation.
    """
    what = f"perturbation {cls.__name__}"
    _declares(what, "perturbations", cls)
    for flag in ("changes_reference", "needs_model", "makes_templates"):
        if not isinstance(getattr(cls, flag), bool):
            raise _fail(what, f"{flag} must be True or False")
    if cls.default_name is not None and not isinstance(cls.default_name, str):
        raise _fail(what, f"default_name must be None or a str, not {cls.default_name!r}")
    impl = _construct(what, cls, params)
    if impl.makes_templates:
        _check_templates(what, impl, _construct(what, cls, params), seed)
    elif impl.needs_model:
        if not isinstance(impl, ModelPerturbation) or not isinstance(impl.request("Some text?"), str):
            raise _fail(what, "needs_model, but has no request(text) -> str and provide(...) (ModelPerturbation)")
    else:
        _check_apply(what, impl, _construct(what, cls, params), item, seed)


def _check_templates(what: str, impl: Any, again: Any, seed: int) -> None:
    made = impl.templates("check", 3, seed)
    if not isinstance(made, list) or not all(isinstance(t, TemplateConfig) for t in made):
        raise _fail(what, "templates() must return a list of tailgate.config.TemplateConfig")
    names = [t.name for t in made]
    if len(set(names)) != len(names):
        raise _fail(what, f"templates() made two templates with one name: {names}")
    if [t.model_dump() for t in again.templates("check", 3, seed)] != [t.model_dump() for t in made]:
        raise _fail(what, "templates() differ between two instances with the same seed")
    said = impl.descriptions("check", 3, seed)
    if not isinstance(said, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in said.items()):
        raise _fail(what, "descriptions() must return a dict of template name -> str")
    if unknown := set(said) - set(names):
        raise _fail(what, f"descriptions() names templates it did not make: {sorted(unknown)}")


def _check_apply(what: str, impl: Any, again: Any, item: Item, seed: int) -> None:
    targets = [k for k, v in item.input.items() if isinstance(v, str)][:1]
    fields, reference = dict(item.input), copy.deepcopy(item.reference)
    before = copy.deepcopy((fields, reference))
    out = _apply(what, impl, fields, targets, reference, seed, item.item_id)
    if (fields, reference) != before:
        raise _fail(what, "apply() changed the fields or reference it was given; return new ones")
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], dict)):
        raise _fail(what, "apply() must return (fields: dict, reference)")
    new_fields, new_reference = out
    if set(new_fields) != set(fields):
        raise _fail(what, f"apply() changed the field names: {sorted(fields)} -> {sorted(new_fields)}")
    if changed := [k for k in fields if k not in targets and new_fields[k] != fields[k]]:
        raise _fail(what, f"apply() changed fields it was not asked to perturb: {changed}")
    if not impl.changes_reference and new_reference != reference:
        raise _fail(what, "apply() changed the reference; declare changes_reference = True if it must")
    if _apply(what, again, dict(item.input), targets, copy.deepcopy(item.reference), seed, item.item_id) != out:
        raise _fail(what, "apply() gave another output for the same seed; draw randomness only from rng")


def _apply(what: str, impl: Any, fields: dict[str, Any], targets: list[str], ref: Any, seed: int, item_id: str) -> Any:
    try:
        return impl.apply(fields, targets, ref, item_rng(seed, "check", item_id))
    except Exception as exc:
        raise _fail(what, f"apply() raised {type(exc).__name__}: {exc}") from exc


# -- providers -----------------------------------------------------------------------------------


def check_provider(provider: Any, *, prompt: str = "What is 2 + 2? Answer with a number.") -> None:
    """Check a provider instance against :class:`tailgate.providers.Provider`, with one call.

    It declares every member; ``name`` is a non-empty str, ``max_concurrency`` None or >= 1,
    ``verify_served`` a bool; ``default_mode()`` is ``chat`` or ``completion``; ``identity()`` is
    JSON, the same twice, with no secret in it, and ``describe()`` JSON that contains it; one
    ``generate`` in the default mode returns a :class:`~tailgate.providers.Response` (text, token
    counts None or >= 0, a dict of meta) or raises a :class:`~tailgate.providers.Fault`, never
    another exception; ``cancel()`` with nothing in flight and ``aclose()`` twice are harmless.

    Raises:
        AssertionError: what is wrong, naming the provider.
    """
    what = f"provider {type(provider).__name__}"
    _declares(what, "providers", provider)
    if not isinstance(provider, Provider):
        raise _fail(what, "is not a tailgate.providers.Provider")
    _check_attributes(what, provider)
    _check_identity(what, provider)
    asyncio.run(_check_calls(what, provider, prompt))


def _check_attributes(what: str, provider: Provider) -> None:
    if not isinstance(provider.name, str) or not provider.name:
        raise _fail(what, "name must be the non-empty spec string the user gave")
    limit = provider.max_concurrency
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise _fail(what, f"max_concurrency must be None or a whole number >= 1, not {limit!r}")
    if not isinstance(provider.verify_served, bool):
        raise _fail(what, "verify_served must be True or False")
    if provider.default_mode() not in ("chat", "completion"):
        raise _fail(what, f"default_mode() returned {provider.default_mode()!r}; expected 'chat' or 'completion'")


def _check_identity(what: str, provider: Provider) -> None:
    identity, described = provider.identity(), provider.describe()
    for name, value in (("identity", identity), ("describe", described)):
        if not isinstance(value, dict):
            raise _fail(what, f"{name}() must return a dict")
        try:
            text = canonical_json(value)
        except (TypeError, ValueError) as exc:
            raise _fail(what, f"{name}() is not JSON: {exc}") from exc
        if redact(text) != text:
            raise _fail(what, f"{name}() contains what looks like a secret; record a key's name or id, never it")
    if provider.identity() != identity:
        raise _fail(what, "identity() differs between two calls; it keys the cache and must be stable")
    if any(described.get(k) != v for k, v in identity.items()):
        raise _fail(what, "describe() must contain identity() (the manifest records what the cache keys on)")


async def _check_calls(what: str, provider: Provider, prompt: str) -> None:
    mode = provider.default_mode()
    rendered = (
        Prompt("completion", text=prompt)
        if mode == "completion"
        else Prompt("chat", ({"role": "user", "content": prompt},))
    )
    request = Request(rendered, temperature=0.0, top_p=1.0, max_tokens=16, seed=0, stop=(), timeout_s=60.0)
    try:
        response = await provider.generate(request)
    except Fault as fault:
        if not isinstance(fault.error_class, str) or not isinstance(fault.retryable, bool):
            raise _fail(what, "a Fault needs a str error_class and a bool retryable") from fault
        response = None
    except Exception as exc:
        raise _fail(what, f"generate() raised {type(exc).__name__}: {exc}; report failures as a Fault") from exc
    if response is not None:
        _check_response(what, response)
    try:
        provider.cancel()
        await provider.aclose()
        await provider.aclose()
    except Exception as exc:
        raise _fail(what, f"cancel()/aclose() raised {type(exc).__name__}: {exc}") from exc


def _check_response(what: str, response: Any) -> None:
    if not isinstance(response, Response) or not isinstance(response.text, str):
        raise _fail(what, "generate() must return a tailgate.providers.Response with a str text")
    for name in ("tokens_in", "tokens_out"):
        count = getattr(response, name)
        if count is not None and (not isinstance(count, int) or count < 0):
            raise _fail(what, f"Response.{name} must be None or a whole number >= 0, not {count!r}")
    if response.finish_reason is not None and not isinstance(response.finish_reason, str):
        raise _fail(what, "Response.finish_reason must be None or a str")
    if not isinstance(response.meta, dict):
        raise _fail(what, "Response.meta must be a dict")
