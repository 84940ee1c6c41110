"""The scorer interface and how a suite's scorer entries become bound scorers.

A scorer type is a class with a pydantic ``Params`` model (its own suite keys, unknown keys
rejected) and ``score(answer, item) -> Score`` (:class:`ScorerType`); :class:`BaseScorer` gives
the defaults, and :func:`tailgate.testing.check_scorer` checks a plugin against the contract.
A :class:`BoundScorer` adds the suite's label, extractor and ``when`` filter, and turns any
exception into an *unscored* result: a scorer that fails never records a wrong answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from tailgate.config import LoadedSuite, ScorerConfig
from tailgate.errors import TailgateError, UsageError
from tailgate.records import Item
from tailgate.registry import build, fail_at, lookup
from tailgate.scorers import _extract

__all__ = ["BaseScorer", "BoundScorer", "NoParams", "Score", "ScorerType", "build_scorers", "parse_extractor"]


@dataclass(frozen=True)
class Score:
    """One scorer's verdict on one output. ``value`` None means unscored (see ``error``)."""

    value: float | None
    answer: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "answer": self.answer, "error": self.error}


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScorerType(Protocol):
    """What a registered scorer class provides (the registry checks it has each member)."""

    Params: ClassVar[type[BaseModel]]
    """Its suite keys (``extra="forbid"``: a typo is an error that names the key)."""
    default_extract: ClassVar[str | None]
    """The extractor applied when the suite names none (``last_number``), or None: the raw output."""

    def __init__(self, params: Any) -> None: ...

    def score(self, answer: str, item: Item) -> Score:
        """The verdict on one extracted answer: a value in [0, 1]. Raising makes it unscored (an
        item without a reference, a scorer bug), never wrong."""
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

    def __init__(self, params: Any) -> None:
        self.params = params

    def score(self, answer: str, item: Item) -> Score:
        raise NotImplementedError(f"{type(self).__name__}.score")


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

    def __call__(self, output: str, item: Item) -> Score:
        try:
            answer: str | None = output
            if self._extractor is not None:
                func, arg = self._extractor
                answer = func(output, arg)
            if answer is None:
                return Score(0.0, None, None)
            return self.impl.score(answer, item)
        except Exception as exc:  # a scorer bug or a bad reference: unscored, not wrong
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
