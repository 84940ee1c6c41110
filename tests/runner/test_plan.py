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


# -- templates rendered without Jinja2 ---------------------------------------------------------

_VALUES = [
    "plain",
    "",
    "with {{ braces }} and {% tags %} inside",
    "trailing newline\n",
    "ünïcödé ✓ \u202e",
    0,
    -3,
    2.5,
    1e-300,
    float("inf"),
    True,
    False,
    None,
    ["a", 1, None, 2.0],
    {"k": [1, {"x": None}], "b": True},
]
_SUBSTITUTIONS = [
    "{{ question }}",
    "{{question}}",
    "Q: {{ question }}\nA:",
    "{{ question }}{{ other }}",
    "{{\tquestion\n}} and {{ other }}\n\n",
    "{ question } {x} }} {",
    "no fields at all",
    "",
    "{{ reference }} / {{ attributes }}",
    "{{ _private }} {{ x1 }}",
]
_JINJA_ONLY = [
    "{{ question|upper }}",
    "{{- question }}",
    "{{ question -}}",
    "{{ question }} {# a comment #}",
    "{% if question %}yes{% endif %}",
    "{{ true }} {{ none }} {{ None }}",
    "{{ not }}",
    "{{ question.x }}",
    "{{ 'a' }}",
    "line\r\nbreaks {{ question }}",
    "{{ question }} {{",
    "{{ question }} {%",
]


@pytest.mark.parametrize("source", _SUBSTITUTIONS)
def test_substitution_templates_render_as_jinja2_renders_them(source: str) -> None:
    """The fast path's output is Jinja2's (the environment the plan used before it), for every
    JSON value a field can hold."""
    import jinja2

    from tailgate.runner._plan import _substitution

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    fast = _substitution(source)
    assert fast is not None
    fields = set(fast.parts[1::2])
    assert fields == jinja2.meta.find_undeclared_variables(env.parse(source))
    for value in _VALUES:
        for other in (_VALUES[0], value):
            context = {"question": value, "other": other, "reference": value, "attributes": {"a": value},
                       "_private": value, "x1": other}  # fmt: skip
            assert fast.render(context) == env.from_string(source).render(context), (source, value)


@pytest.mark.parametrize("source", _JINJA_ONLY)
def test_templates_jinja2_reads_more_in_are_left_to_jinja2(source: str) -> None:
    from tailgate.runner._plan import _substitution

    assert _substitution(source) is None


def test_a_suite_of_substitution_templates_runs_without_importing_jinja2(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.support.cli import REPO

    suite = make_suite(tmp_path, repeats=2)
    code = (
        "import sys; from tailgate.runner import RunOptions, run_sync; "
        f"r = run_sync(RunOptions(suite={str(suite)!r}, model='fake:echo', cache=False, "
        f"store={str(tmp_path / 's')!r})); "
        "print(r.status, 'jinja2' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO / "src"), "PATH": ""}).stdout  # fmt: skip
    assert out.split() == ["completed", "False"]
