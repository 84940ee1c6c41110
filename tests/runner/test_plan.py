"""Template rendering failures are input errors naming the suite line and the item (issue 10,
item 6): ``{{ 1/0 }}``, ``{% include %}`` and ``1 + 'a'`` were tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tailgate.errors import InputError
from tailgate.runner import RunOptions, run_sync
from tests.support.suites import make_suite


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{{ 1/0 }}", "ZeroDivisionError: division by zero"),
        ("{% include 'other.txt' %}", "cannot include"),
        ("{% extends 'base.txt' %}", "cannot include"),
        ("{{ 1 + question }}", "TypeError"),
        ("{{ question.nope.deeper }}", "has no attribute 'nope'"),
        # the sandbox: a template cannot walk to Python internals (an unsandboxed Environment
        # renders the class hierarchy here)
        ("{{ question.__class__.__mro__ }}", "unsafe"),
        ("{{ cycler.__init__.__globals__ }}", "unsafe"),
    ],
)
def test_template_runtime_errors_name_the_suite_line_and_the_item(tmp_path: Path, content: str, reason: str) -> None:
    templates = [
        {"name": "original", "messages": [{"role": "system", "content": "hi"}, {"role": "user", "content": content}]}
    ]
    suite = make_suite(tmp_path, templates=templates)
    with pytest.raises(InputError) as err:
        run_sync(RunOptions(suite=str(suite), model="fake:echo", cache=False))
    assert err.value.file == str(suite)
    assert err.value.field == "templates.0.messages.1.content"
    assert err.value.line is not None
    assert reason in err.value.message
    assert "items.jsonl:1" in err.value.message
    assert "\n" not in str(err.value)
