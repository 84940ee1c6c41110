"""One registry for every pluggable component: providers, scorers, extractors, perturbations.

Built-in components are declared as entry points in tailgate's own ``pyproject.toml``, in the
groups ``tailgate.<kind>``; a plugin package declares its components in the same groups. So a
built-in and a plugin are found the same way. Code that is not packaged (a notebook, a test) can
register a component directly with :func:`register`.

:func:`build` is the one way a component is made from its name: look it up, check that it
declares what its protocol says (``tailgate.scorers.ScorerType``, ``tailgate.perturb.Perturbation``,
``tailgate.providers.Provider``; the base classes declare every optional capability with its
default), validate the suite's parameters against its ``Params`` model and construct it, each
failure mapped to one error that names the component and, for parameters, the key.

Example:
    >>> from tailgate.registry import register, lookup
    >>> @register("extractors", "shout")
    ... def shout(text: str) -> str:
    ...     return text.upper()
    >>> lookup("extractors", "shout")("hi")
    'HI'
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tailgate.errors import InputError, MissingDependency, TailgateError, UsageError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from tailgate.config import LoadedSuite

__all__ = [
    "DECLARES",
    "KINDS",
    "Fail",
    "Key",
    "PluginError",
    "build",
    "fail_at",
    "load_callable",
    "lookup",
    "names",
    "register",
]

KINDS = ("providers", "scorers", "extractors", "perturbations")

DECLARES: dict[str, tuple[str, ...]] = {
    "scorers": ("Params", "default_extract", "needs_model", "score", "score_async"),
    "perturbations": (
        "Params",
        "changes_reference",
        "needs_model",
        "makes_templates",
        "default_name",
        "apply",
        "templates",
        "descriptions",
    ),
    "providers": (
        "name",
        "max_concurrency",
        "verify_served",
        "default_mode",
        "identity",
        "describe",
        "generate",
        "cancel",
        "aclose",
    ),
}
"""What each kind's protocol declares: a scorer or perturbation class, a provider instance."""

_BASES = {
    "scorers": "tailgate.scorers.BaseScorer",
    "perturbations": "tailgate.perturb.BasePerturbation",
    "providers": "tailgate.providers.BaseProvider",
}
_LABELS = {"scorers": "scorer type", "perturbations": "generator", "providers": "provider"}
_NAME_KEYS = {"scorers": "type", "perturbations": "generator", "providers": "model"}

Key = tuple[str | int, ...]
Fail = Callable[[Key, str], Exception]
"""Makes the error for a failure at ``key`` (relative to the suite entry) with a message."""


class PluginError(UsageError):
    """A component could not be built.

    Attributes:
        key: where in the suite entry: the name key (``type``, ``generator``) when the
            component is unknown, cannot be imported or lacks a declared member; a parameter's
            path when its value is refused; ``()`` when its constructor refused the entry.
    """

    def __init__(self, message: str, key: Key = ()) -> None:
        super().__init__(message)
        self.key = key


T = TypeVar("T")

_registered: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
_entry_points: dict[str, dict[str, EntryPoint]] = {}


def register(kind: str, name: str) -> Callable[[T], T]:
    """Register ``obj`` under ``name``; used as a decorator."""
    _check_kind(kind)

    def decorate(obj: T) -> T:
        _registered[kind][name] = obj
        return obj

    return decorate


def lookup(kind: str, name: str) -> Any:
    """Return the component registered as ``name``, loading its entry point if needed.

    Raises:
        UsageError: no component of that kind has that name (the message lists the known ones).
        MissingDependency: the component's module needs a package that is not installed.
    """
    _check_kind(kind)
    if name in _registered[kind]:
        return _registered[kind][name]
    ep = _group(kind).get(name)
    if ep is None:
        known = ", ".join(names(kind)) or "none"
        raise UsageError(f"unknown {kind[:-1]} '{name}'; known: {known}")
    try:
        obj = ep.load()
    except ImportError as exc:  # a plugin whose own dependency is missing
        raise MissingDependency(f"{kind[:-1]} '{name}' ({ep.value}) could not be imported: {exc}") from exc
    except Exception as exc:  # the plugin's module raised while imported: its traceback is the cause
        raise UsageError(f"{kind[:-1]} '{name}' ({ep.value}) failed to import: {type(exc).__name__}: {exc}") from exc
    _registered[kind][name] = obj
    return obj


def build(kind: str, name: str, params: Mapping[str, Any] | None = None, *args: Any, fail: Fail | None = None) -> Any:
    """Make the component registered as ``name``.

    With ``params`` (scorers, perturbations: a suite entry's keys) the class's ``Params`` model
    validates them (unknown keys rejected) and the class is called with the validated model;
    without, the component is called with ``args`` (a provider factory: ``(name, options)``).

    Args:
        kind: one of :data:`KINDS`.
        name: the registered name (``exact``, ``typos``, ``openai``).
        params: the parameters to validate, or None.
        args: positional arguments of the constructor when ``params`` is None.
        fail: turns a failure into the error to raise (e.g. one that names the suite line); by
            default a :class:`PluginError`. Either way the original error is the ``__cause__``.

    Raises:
        PluginError: a parameter is refused (its key path), the constructor raised
            ``ValueError`` or a :class:`~tailgate.errors.TailgateError` on its parameters, or the
            component lacks a member of its protocol (see :data:`DECLARES`).
        UsageError, MissingDependency: without ``fail``, an unknown name or a plugin that cannot
            be imported, as :func:`lookup` raises them.

    Example:
        >>> build("scorers", "exact", {"strip": False}).params.strip
        False
        >>> build("scorers", "exact", {"stirp": False})
        Traceback (most recent call last):
        tailgate.registry.PluginError: unknown key (scorer type 'exact')
    """
    label = f"{_LABELS.get(kind, kind[:-1])} '{name}'"
    name_key: Key = (_NAME_KEYS.get(kind, "name"),)

    def error(key: Key, message: str) -> Exception:
        return fail(key, message) if fail is not None else PluginError(message, key)

    try:
        cls = lookup(kind, name)
    except TailgateError as exc:
        if fail is None:
            raise
        raise error(name_key, str(exc)) from exc
    if params is None:
        obj = cls(*args)
        _check_declares(kind, label, obj, error, name_key)
        return obj
    _check_declares(kind, label, cls, error, name_key)
    validated = _validate(cls, params, label, error)
    try:
        return cls(validated)
    except (ValueError, TailgateError) as exc:
        raise error((), str(exc)) from exc


def fail_at(suite: LoadedSuite, loc: Key) -> Fail:
    """A ``fail`` for :func:`build` whose errors name the suite entry at ``loc`` (its file and line)."""

    def fail(key: Key, message: str) -> Exception:
        error: Exception = suite.source.error((*loc, *key), message)
        return error

    return fail


def _validate(cls: Any, params: Mapping[str, Any], label: str, error: Callable[[Key, str], Exception]) -> Any:
    from pydantic import ValidationError

    try:
        return cls.Params.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = tuple(p for p in first["loc"] if isinstance(p, (str, int)))
        msg = "unknown key" if first["type"] == "extra_forbidden" else str(first["msg"])
        raise error(key, f"{msg} ({label})") from exc


def _check_declares(kind: str, label: str, obj: Any, error: Callable[[Key, str], Exception], key: Key) -> None:
    """The one place a component is probed for its members: after this, callers read them."""
    missing = [member for member in DECLARES.get(kind, ()) if not hasattr(obj, member)]
    if missing:
        where = getattr(obj, "__qualname__", type(obj).__qualname__)
        raise error(
            key,
            f"{label} ({where}) does not declare {', '.join(missing)}; subclass {_BASES[kind]}, "
            "which declares every optional member with its default",
        )


def names(kind: str) -> list[str]:
    """All names known for ``kind``, registered or declared as entry points, sorted."""
    _check_kind(kind)
    return sorted(set(_registered[kind]) | set(_group(kind)))


def _group(kind: str) -> dict[str, EntryPoint]:
    if not _entry_points:
        # One pass over the installed distributions for every kind: each pass reads every
        # distribution's metadata (5-9 ms with ~150 installed), and a run looks up 2-3 kinds.
        from importlib.metadata import entry_points

        found = entry_points()  # (select() filters what was read: no second pass)
        _entry_points.update({k: {ep.name: ep for ep in found.select(group=f"tailgate.{k}")} for k in KINDS})
    return _entry_points[kind]


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown registry kind {kind!r}; expected one of {KINDS}")


def load_callable(spec: str) -> Callable[..., Any]:
    """Import ``module:function`` (or ``path/to/file.py:function``)."""
    module_name, sep, func_name = spec.rpartition(":")
    if not sep or not module_name or not func_name:
        raise UsageError(f"'{spec}' should be module:function (or path/to/file.py:function)")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise UsageError(f"python file not found: {module_name}")
            name = f"tailgate_user_{abs(hash(str(path.resolve())))}"
            loader_spec = importlib.util.spec_from_file_location(name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise UsageError(f"cannot import {module_name}")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[name] = module
            # compiled from the file's bytes, never from __pycache__: a file rewritten within the
            # same second at the same size (the bytecode cache's mtime + size check) would run the
            # old code under the new code's hash (the cache key and the run's fingerprint)
            exec(compile(path.read_bytes(), str(path), "exec", dont_inherit=True), module.__dict__)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")
            module = importlib.import_module(module_name)
    except SyntaxError as exc:  # the user's own file and line, not a traceback into importlib
        raise InputError(f"syntax error: {exc.msg}", file=exc.filename or module_name, line=exc.lineno) from None
    except ImportError as exc:  # (the cause: which import failed, for a library user's traceback)
        raise UsageError(f"cannot import '{module_name}': {exc}") from exc
    except Exception as exc:  # the module raised while being imported
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        raise InputError(
            f"importing '{module_name}' raised {type(exc).__name__}: {exc}", file=frame.filename, line=frame.lineno
        ) from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise UsageError(f"'{module_name}' has no function '{func_name}'")
    return func  # type: ignore[no-any-return]
