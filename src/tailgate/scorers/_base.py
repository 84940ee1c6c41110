"""The scorer interface and how a suite's scorer entries become bound scorers.

A scorer type is a class with a pydantic ``Params`` model (its own suite keys, unknown keys
rejected) and ``score(answer, item) -> Score`` (:class:`ScorerType`); :class:`BaseScorer` gives
the defaults, and :func:`tailgate.testing.check_scorer` checks a plugin against the contract.
A :class:`BoundScorer` adds the suite's label, extractor and ``when`` filter, and turns any
exception into an *unscored* result: a scorer that fails never records a wrong answer.

A judge (``needs_model``) scores through ``score_async(answer, item, context)``: it asks a model
through the :class:`JudgeContext` the runner passes (the runner's cache, retries and seeds), so
its calls are recorded like samples; ``score`` is not used for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from tailgate.config import LoadedSuite, ScorerConfig
from tailgate.errors import TailgateError, UsageError
from tailgate.records import Item
from tailgate.registry import build, fail_at, lookup
from tailgate.scorers import _extract

__all__ = [
    "BaseScorer",
    "BoundScorer",
    "JudgeCall",
    "JudgeContext",
    "JudgeReply",
    "NoParams",
    "Score",
    "ScorerType",
    "build_scorers",
    "parse_extractor",
]


@dataclass(frozen=True)
class Score:
    """One scorer's verdict on one output. ``value`` None means unscored (see ``error``)."""

    value: float | None
    answer: str | None = None
    error: str | None = None
    details: dict[str, Any] | None = field(default=None, compare=False)
    """What a judge said (its raw replies and parsed verdicts, see docs/judges.md), or None."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "answer": self.answer, "error": self.error}
        if self.details is not None:  # only judges have some: other records keep their form
            out["details"] = self.details
        return out


@dataclass(frozen=True)
class JudgeCall:
    """One call a judge asks the runner to make: the prompt as one user message (or as the text of
    a completion), with its decoding parameters."""

    judge: str
    """The judge's model spec (``local:smollm2-135m``, ``openai:gpt-4o-mini``, ``python:m:f``)."""
    prompt: str
    temperature: float
    max_tokens: int
    seed: int | None


@dataclass(frozen=True)
class JudgeReply:
    """What came back: the text, or (``text`` None) the fault that remained after the retries."""

    text: str | None
    cached: bool = False
    attempts: int = 0
    attempt_errors: tuple[dict[str, Any], ...] = ()
    """The faults retried before the answer (class, status, message, wait)."""
    error_class: str | None = None
    error: str | None = None


class JudgeContext(Protocol):
    """What the runner gives a judge: its one call path, and stored outputs of other runs."""

    async def ask(self, call: JudgeCall) -> JudgeReply:
        """Make the call through the response cache with the run's retry policy; a fault that
        remains is returned (``text`` None), never raised: the judge leaves the output unscored."""
        ...

    def baseline(self, run_id: str, item_id: str) -> str | None:
        """The output of stored run ``run_id`` for the item (its ``original`` variant, repeat 0), or
        None when it has none."""
        ...


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScorerType(Protocol):
    """What a registered scorer class provides (the registry checks it has each member)."""

    Params: ClassVar[type[BaseModel]]
    """Its suite keys (``extra="forbid"``: a typo is an error that names the key)."""
    default_extract: ClassVar[str | None]
    """The extractor applied when the suite names none (``last_number``), or None: the raw output."""
    needs_model: ClassVar[bool]
    """True for a judge: the runner awaits ``score_async`` with a :class:`JudgeContext`."""

    def __init__(self, params: Any) -> None: ...

    def score(self, answer: str, item: Item) -> Score:
        """The verdict on one extracted answer: a value in [0, 1]. Raising makes it unscored (an
        item without a reference, a scorer bug), never wrong."""
        ...

    async def score_async(self, answer: str, item: Item, context: JudgeContext) -> Score:
        """The verdict of a scorer that ``needs_model``, asking through ``context``."""
        ...


class BaseScorer:
    """What scorers share: no parameters and no default extractor unless a subclass declares
    them; the validated parameters are kept as ``params`` (constructors store, they do no work
    beyond checking them).

    Example:
        >>> class Shorter(BaseScorer):
        ...     class Params(NoParams):
        ...         max_chars: int = 10
        ...
        ...     def score(self, answer: str, item: Item) -> Score:
        ...         return Score(float(len(answer) <= self.params.max_chars), answer)
        >>> Shorter(Shorter.Params()).score("short", Item("i", {})).value
        1.0
    """

    Params: ClassVar[type[BaseModel]] = NoParams
    default_extract: ClassVar[str | None] = None
    needs_model: ClassVar[bool] = False

    def __init__(self, params: Any) -> None:
        self.params = params

    def score(self, answer: str, item: Item) -> Score:
        raise NotImplementedError(f"{type(self).__name__}.score")

    async def score_async(self, answer: str, item: Item, context: JudgeContext) -> Score:
        return self.score(answer, item)


Extractor = Any  # Callable[[str, str | None], str | None]


def parse_extractor(spec: str) -> tuple[Extractor, str | None]:
    """``name`` or ``name:arg`` -> (extractor function, arg).

    Raises:
        UsageError: no extractor has that name, or its argument is invalid (``regex:(``), so a
            suite that could only leave every sample unscored is rejected before any call.
    """
    name, sep, arg = spec.partition(":")
    func = lookup("extractors", name)
    if func is _extract.regex:
        try:
            _extract.compile_pattern(arg if sep else None)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return func, (arg if sep else None)


class BoundScorer:
    """A scorer as configured in a suite: label, extractor, applicability, parameters."""

    def __init__(self, config: ScorerConfig, impl: ScorerType, extract: str | None) -> None:
        self.config = config
        self.label = config.label
        self.impl = impl
        self.extract = extract
        self._extractor = parse_extractor(extract) if extract else None

    def applies_to(self, item: Item) -> bool:
        return self.config.applies_to(item.attributes)

    @property
    def needs_model(self) -> bool:
        """A judge: score it with :meth:`score_async`."""
        return self.impl.needs_model

    def _answer(self, output: str) -> str | None:
        if self._extractor is None:
            return output
        func, arg = self._extractor
        answer: str | None = func(output, arg)
        return answer

    def __call__(self, output: str, item: Item) -> Score:
        try:
            answer = self._answer(output)
            if answer is None:
                return Score(0.0, None, None)
            return self.impl.score(answer, item)
        except Exception as exc:  # a scorer bug or a bad reference: unscored, not wrong
            return Score(None, None, f"{type(exc).__name__}: {exc}")

    async def score_async(self, output: str, item: Item, context: JudgeContext) -> Score:
        """As calling it, for a judge: its model calls go through ``context``."""
        try:
            answer = self._answer(output)
            if answer is None:
                return Score(0.0, None, None)
            return await self.impl.score_async(answer, item, context)
        except Exception as exc:  # a judge bug or a bad prompt: unscored, not wrong
            return Score(None, None, f"{type(exc).__name__}: {exc}")

    def spec(self) -> dict[str, Any]:
        """What produced the score, for the manifest (registry name and arguments)."""
        return {
            "label": self.label,
            "type": self.config.type,
            "extract": self.extract,
            "when": self.config.when,
            "params": self.config.params,
        }


def build_scorers(suite: LoadedSuite) -> list[BoundScorer]:
    """Resolve and validate the suite's scorers; errors name the suite line."""
    bound = []
    for index, config in enumerate(suite.config.scorers):
        loc: tuple[str | int, ...] = ("scorers", index)
        impl: ScorerType = build("scorers", config.type, config.params, fail=fail_at(suite, loc))
        extract = config.extract if config.extract is not None else impl.default_extract
        if extract:
            try:
                parse_extractor(extract)
            except TailgateError as exc:
                raise suite.source.error((*loc, "extract"), str(exc)) from exc
        bound.append(BoundScorer(config, impl, extract))
    return bound
