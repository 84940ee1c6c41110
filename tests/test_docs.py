"""The documentation is tested: the examples of docs/api.md and of the library's entry points run
as written, and docs/cli.md documents every command and every option the command line has."""

from __future__ import annotations

import doctest
import io
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

import tailgate
from tailgate import _api
from tailgate.cli import cli

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _run_doctest(test: doctest.DocTest) -> dict[str, object]:
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.IGNORE_EXCEPTION_DETAIL)
    result = runner.run(test, out=out.write, clear_globs=False)
    assert result.attempted > 0, f"{test.name}: no example found"
    assert result.failed == 0, out.getvalue()
    return test.globs


@pytest.fixture(scope="module")
def api_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """docs/api.md run top to bottom in an empty folder (its runs are the later tests' runs)."""
    folder = tmp_path_factory.mktemp("api-docs")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.delenv("TAILGATE_STORE", raising=False)
        text = (DOCS / "api.md").read_text(encoding="utf-8")
        globs = _run_doctest(doctest.DocTestParser().get_doctest(text, {}, "docs/api.md", str(DOCS / "api.md"), 0))
        yield {**globs, "__folder__": folder}


def test_the_api_page_runs_as_written(api_page: dict[str, object]) -> None:
    assert "decision" in api_page


def test_the_entry_points_examples_run(api_page: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples in the docstrings of ``tailgate.show_run`` and the others, on the page's runs."""
    monkeypatch.chdir(str(api_page["__folder__"]))
    finder = doctest.DocTestFinder()
    tests = [t for t in finder.find(_api, globs={"tailgate": tailgate, "folder": "runs"}) if t.examples]
    names = {t.name.rsplit(".", 1)[-1] for t in tests}
    assert names == {
        "show_run",
        "report_run",
        "compare_runs",
        "gate_runs",
        "gate_sequential",
        "run_until_decided",
        "rescore_run",
        "judge_run",
        "judge_attack",
        "redteam",
        "quality_under_drift",
        "sample_suite",
        "drift",
        "gate_drift",
    }
    for test in tests:
        _run_doctest(test)


# --- docs/cli.md against the command line itself (click introspection) ---------------------------

GLOBAL_OPTIONS = {"--store", "--help", "-h", "--version"}  # documented once, at the top of cli.md


def _commands(group: click.Group, prefix: str = "tailgate") -> Iterator[tuple[str, click.Command]]:
    ctx = click.Context(group)
    for name in sorted(group.list_commands(ctx)):
        command = group.get_command(ctx, name)
        assert command is not None
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            if command.invoke_without_command:  # a group that is a command too (tailgate shadow)
                yield path, command
            yield from _commands(command, path)
        else:
            yield path, command


COMMANDS = dict(_commands(cli))


def _sections() -> dict[str, str]:
    """docs/cli.md's ``## tailgate ...`` sections, by heading."""
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    parts = re.split(r"^## (tailgate [a-z][a-z -]*?)\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _documented_options(section: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", section)) | set(re.findall(r"(?<![\w-])-[a-zA-Z]\b", section))


def _options(command: click.Command) -> set[str]:
    names: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts + param.secondary_opts)
    return names - GLOBAL_OPTIONS


def test_every_command_has_a_section_and_help() -> None:
    sections = _sections()
    for path, command in COMMANDS.items():
        assert path in sections, f"docs/cli.md has no '## {path}' section"
        assert command.help, f"{path} has no --help text"
    assert sorted(set(sections) - set(COMMANDS)) == [], "docs/cli.md documents commands that do not exist"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_option_is_documented_and_exists(path: str) -> None:
    section = _sections().get(path, "")
    options = _options(COMMANDS[path])
    documented = _documented_options(section) - GLOBAL_OPTIONS
    assert sorted(options - documented) == [], f"docs/cli.md '## {path}' does not mention these options"
    assert sorted(documented - options) == [], f"docs/cli.md '## {path}' mentions options {path} does not have"


def test_the_global_options_are_documented_at_the_top() -> None:
    intro = (DOCS / "cli.md").read_text(encoding="utf-8").split("\n## ", 1)[0]
    options = {name for param in cli.params if isinstance(param, click.Option) for name in param.opts}
    assert options | {"-h", "--help"} == GLOBAL_OPTIONS
    assert sorted(GLOBAL_OPTIONS - _documented_options(intro)) == []


def test_the_docs_check_fails_on_a_missing_option() -> None:
    """The check is not vacuous: a command with an undocumented option is caught."""

    @click.command()
    @click.option("--documented")
    @click.option("--forgotten", "-f")
    def command(documented: str | None, forgotten: str | None) -> None:
        """A command."""

    assert _options(command) - _documented_options("`tailgate x [--documented V]`") == {"--forgotten", "-f"}
