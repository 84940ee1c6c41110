"""Layers only import downward (docs/design.md): stored runs can be analysed with no provider code,
and click/rich stay in the CLI and report layers.

Every import counts: ``import tailgate.x``, ``from tailgate.x import y``, ``from tailgate import y``
(resolved through the facade's lazy table to the component that defines ``y``), relative imports
(``from ..runner import y``, ``from . import y``) and imports inside functions. A component's
private modules (``_name``) are its own: others import what its package exports. The checker is run
on a planted package too, so that a test shows it fails when it should.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "tailgate"

# Lower index = lower layer. A module may import its own layer and those below.
LAYERS: list[set[str]] = [
    {"errors", "registry", "config", "text", "_version"},
    {"records"},
    {"providers", "store", "dataset"},
    {"traffic"},
    {"scorers", "perturb", "testing"},
    {"runner", "shadow"},
    {"analysis"},
    {"gate"},
    {"report"},
    {"_api"},
    {"view"},
    {"cli", "__main__"},
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}
# Sideways imports that are forbidden even though the level would allow them.
FORBIDDEN = {
    ("analysis", "providers"),
    ("analysis", "runner"),
    ("analysis", "scorers"),
    ("store", "providers"),
    ("providers", "store"),
    ("traffic", "providers"),
    ("gate", "runner"),
    ("gate", "store"),
    ("gate", "providers"),
    ("report", "runner"),
    ("analysis", "shadow"),
    ("gate", "shadow"),
    ("report", "shadow"),
    ("shadow", "runner"),
    ("runner", "shadow"),
}
UI_LIBRARIES = {"click", "rich"}


def _component(module_path: Path, root: Path) -> str:
    return module_path.relative_to(root).parts[0].removesuffix(".py")


def _facade_table(root: Path) -> dict[str, str]:
    """The top-level package's lazy table, ``{public name: component}`` (``_LAZY`` in its ``__init__``)."""
    init = root / "__init__.py"
    if not init.exists():
        return {}
    for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in targets) and node.value is not None:
            table = ast.literal_eval(node.value)
            assert isinstance(table, dict)
            return {str(k): str(v) for k, v in table.items()}
    return {}


def _absolute(path: Path, root: Path, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names (relative imports resolved against ``path``)."""
    if not node.level:
        return node.module or ""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    package = parts[:-1]  # a module's package; for an __init__ the package itself
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports(path: Path, root: Path) -> list[tuple[str, int]]:
    """Every module ``path`` imports, as absolute dotted names, with its line.

    ``from pkg import a, b`` yields ``pkg.a`` and ``pkg.b`` (each may be a submodule or a name).
    """
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = _absolute(path, root, node)
            found.extend((f"{module}.{alias.name}" if module else alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
    return found


def module_violations(path: Path, root: Path, facade: dict[str, str]) -> list[str]:
    """What is wrong with the imports of one module of the package at ``root``."""
    source = _component(path, root)
    if source not in LEVEL:
        return [f"{source} is not placed in a layer"]
    problems = []
    where = path.relative_to(root)
    for module, line in imports(path, root):
        parts = module.split(".")
        if parts[0] in UI_LIBRARIES and source not in {"cli", "report"}:
            problems.append(f"{where}:{line} imports {parts[0]} outside cli/report")
        if parts[0] != root.name:
            continue
        if len(parts) == 1:
            problems.append(f"{where}:{line}: imports the {root.name} facade itself: import from the component")
            continue
        target = parts[1]
        if target not in LEVEL and target in facade:  # `from tailgate import run`: where `run` lives
            target = facade[target]
        if target not in LEVEL:
            problems.append(f"{where}:{line}: {module}: {target} is neither a component nor in the facade")
        elif LEVEL[target] > LEVEL[source]:
            problems.append(f"{where}:{line}: {source} imports upward: {module}")
        elif (source, target) in FORBIDDEN:
            problems.append(f"{where}:{line}: {source} must not import {target}")
        elif target != source and len(parts) > 2 and parts[2].startswith("_") and not parts[2].startswith("__"):
            problems.append(f"{where}:{line}: {module} is private to {target}: import from {root.name}.{target}")
    return problems


def modules(root: Path) -> list[Path]:
    """Every module of the package but its top-level ``__init__`` (the lazy facade over all layers)."""
    return sorted(p for p in root.rglob("*.py") if p != root / "__init__.py")


def violations(root: Path) -> list[str]:
    facade = _facade_table(root)
    return [problem for path in modules(root) for problem in module_violations(path, root, facade)]


MODULES = modules(PACKAGE)
FACADE = _facade_table(PACKAGE)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_go_down(path: Path) -> None:
    assert module_violations(path, PACKAGE, FACADE) == []


def test_layers_cover_every_component() -> None:
    assert {_component(p, PACKAGE) for p in MODULES} <= set(LEVEL)
    assert set(FACADE.values()) <= set(LEVEL)


def _plant(root: Path, files: dict[str, str]) -> Path:
    package = root / "tailgate"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package


def test_the_checker_fails_on_planted_violations(tmp_path: Path) -> None:
    """Each kind of upward import, in a throw-away package laid out like ours, is reported."""
    package = _plant(
        tmp_path,
        {
            "__init__.py": '_LAZY = {"run": "runner", "Store": "store"}\n',
            "runner/__init__.py": "",
            "store/__init__.py": "",
            "report/__init__.py": "",
            "analysis/__init__.py": "from . import _ok\n",
            "analysis/_ok.py": "from tailgate import Store\nfrom ._other import x\nfrom .. import store\n",
            "analysis/_other.py": "x = 1\n",
            "analysis/_facade.py": "def f():\n    from tailgate import run\n",
            "analysis/_relative.py": "from ..runner import go\n",
            "analysis/_relative_pkg.py": "from .. import report\n",
            "analysis/_whole.py": "import tailgate\n",
            "analysis/_unknown.py": "from tailgate import nothing\n",
            "analysis/_rich.py": "import rich.console\n",
            "store/_up.py": "import tailgate.analysis._ok\n",
            "runner/_private.py": "from tailgate.store._journal import append\nfrom tailgate.store import _x\n",
        },
    )
    found = violations(package)
    expected = {
        "analysis/_facade.py:2: analysis must not import runner",
        "analysis/_relative.py:1: analysis must not import runner",
        "analysis/_relative_pkg.py:1: analysis imports upward: tailgate.report",
        "analysis/_whole.py:1: imports the tailgate facade itself: import from the component",
        "analysis/_unknown.py:1: tailgate.nothing: nothing is neither a component nor in the facade",
        "analysis/_rich.py:1 imports rich outside cli/report",
        "store/_up.py:1: store imports upward: tailgate.analysis._ok",
        "runner/_private.py:1: tailgate.store._journal.append is private to store: import from tailgate.store",
        "runner/_private.py:2: tailgate.store._x is private to store: import from tailgate.store",
    }
    assert set(found) == expected, found
    assert not [p for p in found if "_ok.py" in p or "__init__" in p]


def test_the_design_diagram_lists_the_layers() -> None:
    """docs/design.md draws the layers this test enforces, top to bottom, and no other."""
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    block = text.split("<!-- layers -->", 2)[1].split("```")[1]
    drawn = [set(re.findall(r"[a-z_]+", line.split("  ")[0])) for line in block.strip().splitlines()]
    enforced = [layer - {"__main__", "_version"} for layer in LAYERS]
    assert [{name.removeprefix("_") for name in layer} for layer in reversed(enforced)] == drawn
