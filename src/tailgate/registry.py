"""One registry for every pluggable component: providers, scorers, extractors, perturbations.

Built-in components are declared as entry points in tailgate's own ``pyproject.toml``, in the
groups ``tailgate.<kind>``; a plugin package declares its components in the same groups. So a
built-in and a plugin are found the same way. Code that is not packaged (a notebook, a test) can
register a component directly with :func:`register`.

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
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tailgate.errors import InputError, MissingDependency, UsageError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["KINDS", "load_callable", "lookup", "names", "register"]

KINDS = ("providers", "scorers", "extractors", "perturbations")

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
    _registered[kind][name] = obj
    return obj


def names(kind: str) -> list[str]:
    """All names known for ``kind``, registered or declared as entry points, sorted."""
    _check_kind(kind)
    return sorted(set(_registered[kind]) | set(_group(kind)))


def _group(kind: str) -> dict[str, EntryPoint]:
    if kind not in _entry_points:
        from importlib.metadata import entry_points

        _entry_points[kind] = {ep.name: ep for ep in entry_points(group=f"tailgate.{kind}")}
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
            loader_spec.loader.exec_module(module)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")
            module = importlib.import_module(module_name)
    except SyntaxError as exc:  # the user's own file and line, not a traceback into importlib
        raise InputError(f"syntax error: {exc.msg}", file=exc.filename or module_name, line=exc.lineno) from None
    except ImportError as exc:
        raise UsageError(f"cannot import '{module_name}': {exc}") from exc  # which import failed, and where
    except Exception as exc:  # the module raised while being imported
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        raise InputError(
            f"importing '{module_name}' raised {type(exc).__name__}: {exc}", file=frame.filename, line=frame.lineno
        ) from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise UsageError(f"'{module_name}' has no function '{func_name}'")
    return func  # type: ignore[no-any-return]
