"""The scorer interface and how a suite's scorer entries become bound scorers.

A scorer type is a class with a pydantic ``Params`` model (its own suite keys, unknown keys
rejected) and ``score(answer, item) -> Score``. A :class:`BoundScorer` adds the suite's label,
extractor and ``when`` filter, and turns any exception into an *unscored* result: a scorer that
fails never records a wrong answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from tailgate.config import LoadedSuite, ScorerConfig
from tailgate.errors import TailgateError, UsageError
from tailgate.records import Item
from tailgate.registry import lookup
from tailgate.scorers import _extract

__all__ = ["BoundScorer", "NoParams", "Score", "ScorerType", "build_scorers", "parse_extractor"]


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
    """What a registered scorer class provides."""

    Params: ClassVar[type[BaseModel]]
    default_extract: ClassVar[str | None]

    def __init__(self, params: Any) -> None: ...

    def score(self, answer: str, item: Item) -> Score: ...


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
        try:
            cls = lookup("scorers", config.type)
        except TailgateError as exc:
            raise suite.source.error((*loc, "type"), str(exc)) from None
        try:
            params = cls.Params.model_validate(config.params)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = [p for p in err["loc"] if isinstance(p, (str, int))]
            msg = "unknown key" if err["type"] == "extra_forbidden" else str(err["msg"])
            raise suite.source.error((*loc, *key), f"{msg} (scorer type '{config.type}')") from None
        try:
            impl = cls(params)
        except (ValueError, TailgateError) as exc:  # the scorer's own check: keep its traceback (plugins)
            raise suite.source.error(loc, str(exc)) from exc
        extract = config.extract if config.extract is not None else cls.default_extract
        if extract:
            try:
                parse_extractor(extract)
            except TailgateError as exc:
                raise suite.source.error((*loc, "extract"), str(exc)) from None
        bound.append(BoundScorer(config, impl, extract))
    return bound
