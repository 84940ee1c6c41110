"""``python:`` models whose module cannot be imported name the user's file and line (issue 10,
item 6): a syntax error was a traceback into importlib."""

from __future__ import annotations

from pathlib import Path

import pytest

from tailgate.errors import InputError, UsageError
from tailgate.registry import load_callable


def test_syntax_error_names_the_users_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def answer(prompt, params):\n    return 'x'\ndef g(:\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_callable(f"{tmp_path / 'broken.py'}:answer")
    assert err.value.file == str(tmp_path / "broken.py")
    assert err.value.line == 3
    assert "syntax error" in err.value.message


def test_module_that_raises_on_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "boom_mod.py").write_text("x = 1\nraise ValueError('nope')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(InputError) as err:
        load_callable("boom_mod:answer")
    assert (err.value.file, err.value.line) == (str(tmp_path / "boom_mod.py"), 2)
    assert "ValueError: nope" in err.value.message


def test_import_errors_keep_their_cause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A library user (and a plugin author) sees which import failed, and where: ``from exc``."""
    (tmp_path / "needs_dep.py").write_text("import tailgate_no_such_dependency\n", encoding="utf-8")
    (tmp_path / "boom_mod2.py").write_text("raise ValueError('nope')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UsageError, match="cannot import 'needs_dep'") as err:
        load_callable("needs_dep:answer")
    assert isinstance(err.value.__cause__, ModuleNotFoundError)
    assert err.value.__cause__.name == "tailgate_no_such_dependency"
    with pytest.raises(InputError) as raised:
        load_callable("boom_mod2:answer")
    assert isinstance(raised.value.__cause__, ValueError)
