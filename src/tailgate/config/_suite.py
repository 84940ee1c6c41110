"""The suite file: what to ask, how to present it, how to decode, how to score.

A suite is YAML validated by the pydantic models below. Unknown keys are errors that name the key
and its line. Field docstrings are the schema's documentation (see ``docs/suite.md``).

Example:
    >>> from tailgate.config import load_suite
    >>> suite = load_suite("basic")          # a bundled suite, or a path to a YAML file
    >>> suite.config.repeats
    1
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from tailgate.config._yaml import SourceMap, load_yaml
from tailgate.errors import InputError

__all__ = [
    "DatasetConfig",
    "DecodingConfig",
    "LoadedSuite",
    "Message",
    "ModelConfig",
    "ReportConfig",
    "RetryConfig",
    "RunConfig",
    "ScorerConfig",
    "SuiteConfig",
    "TemplateConfig",
    "VariantConfig",
    "bundled_suites",
    "check_base_url",
    "load_suite",
]

Scalar = str | int | float | bool | None


class _Strict(BaseModel):
    # NaN and infinity (``.nan``, ``.inf``, ``1e400``) are rejected as in datasets and imports
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DatasetConfig(_Strict):
    """Where the items come from and which columns mean what."""

    path: str
    """JSONL, CSV or Parquet file, relative to the suite file."""
    format: Literal["auto", "jsonl", "csv", "parquet"] = "auto"
    """File format; ``auto`` decides from the extension."""
    id: str | None = None
    """Column with the dataset's own item id, kept as ``source_id`` (ids are content hashes)."""
    reference: str | None = None
    """Column with the reference answer (any JSON value: string, number, list, object)."""
    attributes: list[str] = Field(default_factory=list)
    """Columns kept as slice keys (scalars only)."""
    max_field_bytes: int = Field(1_000_000, gt=0)
    """Largest accepted value of one field, in UTF-8 bytes; larger items are an input error."""

    @field_validator("path")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty; give the dataset file (JSONL, CSV or Parquet), relative to the suite file")
        return value


class Message(_Strict):
    """One chat message; ``content`` is a Jinja2 template over the item's fields."""

    role: Literal["system", "user", "assistant"]
    content: str
    optional: bool = False
    """Leave the message out of the prompt when its content renders blank (a conversation whose
    items have different numbers of turns: ``tailgate redteam``'s multi-turn attacks)."""

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # ``optional`` only when set: a run's fingerprint (a hash of its templates) stays what it was
        out: dict[str, Any] = handler(self)
        if not self.optional:
            out.pop("optional", None)
        return out


class TemplateConfig(_Strict):
    """A named way of presenting an item; every template is a variant of every item."""

    name: str = "original"
    """Variant name; the first template is ``original`` unless named otherwise."""
    messages: list[Message] | None = None
    """Chat form, used with chat models."""
    text: str | None = None
    """Completion form, used with base (completion) models."""

    @model_validator(mode="after")
    def _one_form(self) -> TemplateConfig:
        if self.messages is None and self.text is None:
            raise ValueError("a template needs 'messages' (chat) or 'text' (completion)")
        if self.messages is not None and not self.messages:
            raise ValueError("'messages' is empty")
        return self


class DecodingConfig(_Strict):
    """Decoding parameters sent with every call; all of them are part of the cache key."""

    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(256, gt=0, le=131072)
    seed: int | None = 0
    """Base seed; repeat ``r`` of a sample is sent with ``seed + r`` so repeats are independent."""
    stop: list[str] = Field(default_factory=list)


class ModelConfig(_Strict):
    """Defaults for the model endpoint; command-line options override them."""

    mode: Literal["auto", "chat", "completion"] = "auto"
    """``auto``: the provider's own default (chat, except for base models such as Gemma 270M)."""
    base_url: str | None = None
    """OpenAI-compatible base URL, e.g. ``http://127.0.0.1:8000/v1``."""
    api_key_env: str | None = None
    """Name of the environment variable holding the API key (default ``OPENAI_API_KEY``)."""
    context_length: int | None = Field(None, gt=0)
    """Context window for local models (default 4096)."""

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_base_url(value)


def check_base_url(url: str) -> str:
    """The base URL without its trailing slash, if it is an absolute http(s) URL with a host.

    Raises:
        ValueError: anything else (``not a url``, ``localhost:8000`` without a scheme, a control
            character), which would otherwise fail every call in the same way.
    """
    from urllib.parse import urlsplit

    example = "e.g. http://127.0.0.1:8000/v1"
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError as exc:
        raise ValueError(f"base URL {url!r} is not a valid URL ({exc}); {example}") from None
    printable = url.isprintable() and not any(ch.isspace() for ch in url)
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or not printable:
        raise ValueError(f"base URL {url!r} is not an http:// or https:// URL with a host; {example}")
    return url.rstrip("/")


class RetryConfig(_Strict):
    """Retries of endpoint faults (429, 5xx, timeouts, connection errors, malformed JSON)."""

    max_attempts: int = Field(8, ge=1, le=100)
    base_delay_s: float = Field(0.1, ge=0.0)
    """First back-off; doubles each attempt while calls keep failing in a row (a sample unlucky
    among successful calls retries after this one), with jitter between half and all of it."""
    max_delay_s: float = Field(30.0, ge=0.0)
    max_retry_after_s: float = Field(120.0, ge=0.0)
    """Longest ``Retry-After`` honoured; a longer one is capped to this."""


class RunConfig(_Strict):
    """How calls are issued."""

    concurrency: int = Field(16, ge=1, le=4096)
    rps: float | None = Field(None, gt=0.0)
    """Requests-per-second limit (token bucket); none by default."""
    timeout_s: float = Field(120.0, gt=0.0)
    """Per-call timeout."""
    retry: RetryConfig = Field(default_factory=RetryConfig)
    filtered: Literal["unscored", "fail"] = "unscored"
    """Outputs the endpoint withheld (``content_filter``, ``refusal``): ``unscored`` keeps them
    out of every score (counted apart); ``fail`` scores them 0 with the first applicable scorer."""


class ReportConfig(_Strict):
    """Defaults for ``tailgate report`` on runs of this suite; command-line options override."""

    slo_ms: float | None = Field(None, gt=0)
    """Latency objective: the report counts samples both correct and within it."""
    pass_threshold: float | None = None
    """A sample passes when its score is at least this (default 1.0)."""
    percentiles: list[float] | None = None
    latency_percentiles: list[float] | None = None
    consistency_threshold: float | None = Field(None, ge=0, le=1)
    min_support: int | None = Field(None, ge=1)
    max_depth: int | None = Field(None, ge=1, le=4)
    confidence: float | None = Field(None, gt=0, lt=1)


class ScorerConfig(BaseModel):
    """A scorer: a registered type, an optional extractor, and the items it applies to.

    Keys other than those below are the scorer type's own parameters (validated by it).
    """

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    type: str
    """Registered scorer type (``tailgate scorers`` lists them)."""
    name: str | None = None
    """Label in records and reports; defaults to the type."""
    extract: str | None = None
    """Named extractor applied to the output first, e.g. ``last_number`` or ``json:answer``."""
    when: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    """Apply only to items whose attributes take these values."""

    @property
    def label(self) -> str:
        return self.name or self.type

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def applies_to(self, attributes: dict[str, Any]) -> bool:
        for key, allowed in self.when.items():
            values = allowed if isinstance(allowed, list) else [allowed]
            if attributes.get(key) not in values:
                return False
        return True


class VariantConfig(BaseModel):
    """Variants made by a registered generator (``tailgate perturbations`` lists them), applied to
    templates. Keys other than those below are the generator's own parameters."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    generator: str
    """Registered perturbation: ``typos``, ``casing``, ``whitespace``, ``punctuation``,
    ``instruction``, ``shuffle_options``, ``distractor``, ``names``, ``column``, ..."""
    name: str | None = None
    """Variant label; variants are named ``<template>+<name>`` (default: the generator)."""
    templates: list[str] | None = None
    """Templates to perturb (default: the first)."""
    fields: list[str] | None = None
    """Input fields it touches (default: every text field)."""
    count: int = Field(1, ge=1, le=100)
    """How many variants (each with its own seed: ``seed``, ``seed + 1``, ...)."""
    seed: int = 0

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def canonical_params(self) -> str:
        import json

        return json.dumps(self.params, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class SuiteConfig(_Strict):
    """A suite: dataset, templates (variants), repeats, decoding, scorers."""

    name: str
    description: str = ""
    dataset: DatasetConfig
    templates: list[TemplateConfig] = Field(min_length=1)
    repeats: int = Field(1, ge=1, le=1000)
    """Samples per (item, variant); the command line's ``--repeats`` overrides it."""
    decoding: DecodingConfig = Field(default_factory=DecodingConfig)
    scorers: Annotated[list[ScorerConfig], Field(min_length=1)]
    """Scorers in order; a sample's headline ``score`` is the first one that applies."""
    variants: list[VariantConfig] = Field(default_factory=list)
    """Generated variants (perturbations, paraphrases, formats) of the templates."""
    model: ModelConfig = Field(default_factory=ModelConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)

    @field_validator("scorers", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"type": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("templates")
    @classmethod
    def _unique_templates(cls, value: list[TemplateConfig]) -> list[TemplateConfig]:
        seen: set[str] = set()
        for template in value:
            if template.name in seen:
                raise ValueError(f"two templates are named '{template.name}'")
            seen.add(template.name)
        return value

    @field_validator("scorers")
    @classmethod
    def _unique_scorers(cls, value: list[ScorerConfig]) -> list[ScorerConfig]:
        seen: set[str] = set()
        for scorer in value:
            if scorer.label in seen:
                raise ValueError(f"two scorers are named '{scorer.label}'; give one a 'name'")
            seen.add(scorer.label)
        return value


class LoadedSuite:
    """A validated suite with where it came from (for relative paths and error lines)."""

    def __init__(self, config: SuiteConfig, path: Path, source: SourceMap, text: str) -> None:
        self.config = config
        self.path = path
        self.source = source
        self.text = text

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def dataset_path(self) -> Path:
        path = self.base_dir / self.config.dataset.path
        try:
            return path.resolve()
        except (OSError, RuntimeError):  # a symlink loop: reading it will say so, naming the field
            return path.absolute()


def bundled_suites() -> dict[str, Path]:
    """Suites shipped inside the package, by name."""
    root = Path(__file__).resolve().parent.parent / "suites"
    if not root.is_dir():
        return {}
    return {p.parent.name: p for p in sorted(root.glob("*/suite.yaml"))}


def load_suite(spec: str | Path) -> LoadedSuite:
    """Load and validate a suite from a YAML path or the name of a bundled suite.

    Raises:
        InputError: the file is missing or invalid; the message names file, line and field.
    """
    path = Path(spec)
    if not path.exists() and isinstance(spec, str) and spec in bundled_suites():
        path = bundled_suites()[spec]
    display = str(spec) if path == Path(spec) else str(path)
    if path.is_dir():
        raise InputError("is a directory; give the suite's YAML file", file=display)
    data, source = load_yaml(path, display)
    if not isinstance(data, dict):
        raise InputError("a suite must be a YAML mapping (key: value)", file=display, line=1)
    try:
        config = SuiteConfig.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, source) from None
    text = path.read_text(encoding="utf-8")
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):
        resolved = path.absolute()
    return LoadedSuite(config, resolved, source, text)


def _first_error(exc: ValidationError, source: SourceMap) -> InputError:
    err = exc.errors()[0]
    loc = [p for p in err["loc"] if isinstance(p, (str, int))]
    if err["type"] == "extra_forbidden":
        return source.error(loc, "unknown key")
    if err["type"] == "missing":
        return source.error(loc, "required key is missing")
    message = str(err["msg"]).removeprefix("Value error, ")
    return source.error(loc, message)
