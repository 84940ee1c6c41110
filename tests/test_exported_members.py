"""The public API is curated: every package's ``__all__`` lists exactly the public names it has,
sorted, every one importable, nothing private; ``import tailgate`` stays light.

"The public names a package has" are read from its source: the functions, classes and constants it
defines (type variables excepted) and the names it re-exports from its own private modules.
Names it imports from other components or libraries for its own use are not public.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import tailgate

PACKAGE = Path(tailgate.__file__).resolve().parent


def _dotted(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _public_modules() -> list[Path]:
    """Every package (``x/__init__.py``) and every public module (``x.py``) under ``tailgate``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if any(p.startswith("_") and p != "__init__.py" for p in parts) or path.name == "__main__.py":
            continue
        found.append(path)
    return found


PUBLIC = {_dotted(p): p for p in _public_modules()}


def _isort_key(name: str) -> tuple[int, str]:
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def _statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """Top-level statements, looking into ``try``/``if``/``with`` blocks but not ``if TYPE_CHECKING:``."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                out.extend(_statements(node.body + node.orelse))
        elif isinstance(node, ast.Try):
            out.extend(_statements(node.body + node.orelse + node.finalbody))
        elif isinstance(node, ast.With):  # ``with importing():`` (tailgate.cli) binds at top level
            out.extend(_statements(node.body))
        else:
            out.append(node)
    return out


def public_names(source: str, module: str) -> set[str]:
    """The public names a module's source binds: see the module docstring."""
    names: set[str] = set()
    package = module.split(".")
    for node in _statements(ast.parse(source).body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            value = node.value
            if isinstance(value, ast.Call) and getattr(value.func, "id", None) in {"TypeVar", "ParamSpec"}:
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
            if any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in targets) and isinstance(value, ast.Dict):
                # a lazy package (``__getattr__`` imports on first use): its table's names are its names
                names.update(k.value for k in value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str))
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            origin = ".".join([*base, *([node.module] if node.module else [])])
            if origin.startswith(f"{module}._"):  # a re-export from the package's own private module
                names.update(alias.asname or alias.name for alias in node.names)
    return {n for n in names if not n.startswith("_") or n == "__version__"}


def _declared_all(source: str) -> list[str] | None:
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            value = ast.literal_eval(node.value)
            assert isinstance(value, list)
            return value
    return None


def test_every_package_is_checked() -> None:
    assert {"tailgate", "tailgate.gate", "tailgate.perturb", "tailgate.analysis", "tailgate.cli"} <= set(PUBLIC)


@pytest.mark.parametrize("name", sorted(set(PUBLIC) - {"tailgate"}))
def test_all_lists_exactly_the_public_names(name: str) -> None:
    source = PUBLIC[name].read_text(encoding="utf-8")
    declared = _declared_all(source)
    assert declared is not None, f"{name} has no __all__"
    real = public_names(source, name)
    assert sorted(real - set(declared)) == [], f"{name}: public but not in __all__"
    assert sorted(set(declared) - real) == [], f"{name}: in __all__ but not a public name of it"


def test_the_facade_lists_exactly_its_lazy_names() -> None:
    """``tailgate``'s names are imported on first use: ``__all__``, the lazy table and the
    ``TYPE_CHECKING`` imports (what mypy sees) name the same things from the same modules."""
    from tailgate import _LAZY  # type: ignore[attr-defined]

    assert set(tailgate.__all__) == set(_LAZY) | {"__version__"}
    checked: dict[str, str] = {}
    for node in ast.walk(ast.parse(PUBLIC["tailgate"].read_text(encoding="utf-8"))):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                assert imp.module
                checked.update((a.name, imp.module.removeprefix("tailgate.")) for a in imp.names)
    assert checked == _LAZY


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_all_is_sorted_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    names = module.__all__
    assert names == sorted(names, key=_isort_key)  # the order ruff's RUF022 keeps
    for member in names:
        assert not member.startswith("_") or member == "__version__"
        assert getattr(module, member) is not None


def test_the_check_fails_on_a_planted_module() -> None:
    """A public function missing from ``__all__``, and an ``__all__`` entry the module does not
    have, are both found; private helpers, imported names and type variables are not public."""
    source = (
        "from typing import Any, TypeVar\n"
        "from tailgate.errors import UsageError\n"
        "from tailgate.demo._impl import Thing, helper as exported\n"
        "from ._other import Other\n"
        "T = TypeVar('T')\n"
        "LIMIT = 3\n"
        "__all__ = ['LIMIT', 'Thing', 'gone']\n"
        "def forgotten() -> None: ...\n"
        "def _private() -> None: ...\n"
    )
    real = public_names(source, "tailgate.demo")
    assert real == {"LIMIT", "Thing", "exported", "Other", "forgotten"}
    declared = _declared_all(source)
    assert declared is not None
    assert real - set(declared) == {"exported", "Other", "forgotten"}
    assert set(declared) - real == {"gone"}


def test_top_level_is_lazy() -> None:
    """``import tailgate`` must not pull in numpy, pyarrow, duckdb, scipy or pandas (start-up time)."""
    heavy = "('numpy', 'pyarrow', 'duckdb', 'aiohttp', 'scipy', 'pandas')"
    code = f"import sys, tailgate; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert tailgate.__version__
    assert callable(tailgate.run_sync)
