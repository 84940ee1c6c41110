from __future__ import annotations

from pathlib import Path

import pytest

from tailgate.config import bundled_suites, load_suite
from tailgate.errors import InputError
from tests.support.suites import make_suite


def test_bundled_basic_suite_loads() -> None:
    suite = load_suite("basic")
    assert suite.config.name == "basic"
    assert suite.dataset_path().is_file()
    assert "basic" in bundled_suites()


def test_minimal_suite_defaults(tmp_path: Path) -> None:
    suite = load_suite(str(make_suite(tmp_path)))
    cfg = suite.config
    assert cfg.repeats == 1
    assert cfg.decoding.temperature == 0.0
    assert cfg.templates[0].name == "original"
    assert [s.label for s in cfg.scorers] == ["numeric", "contains"]


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


BASE = """\
name: t
dataset:
  path: items.jsonl
templates:
  - text: "{{ q }}"
scorers: [exact]
"""


def test_unknown_key_names_key_and_line(tmp_path: Path) -> None:
    text = BASE.replace("  path: items.jsonl\n", "  path: items.jsonl\n  refernce: answer\n")
    with pytest.raises(InputError) as err:
        load_suite(_write(tmp_path, text))
    assert err.value.line == 4
    assert err.value.field == "dataset.refernce"
    assert "unknown key" in str(err.value)
    assert str(err.value).startswith(f"{tmp_path / 'suite.yaml'}:4: field 'dataset.refernce'")


def test_unknown_top_level_key(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_suite(_write(tmp_path, BASE + "repeat: 3\n"))
    assert (err.value.line, err.value.field) == (7, "repeat")


def test_wrong_type_names_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_suite(_write(tmp_path, BASE + "repeats: many\n"))
    assert err.value.line == 7
    assert err.value.field == "repeats"
    assert "integer" in err.value.message


def test_missing_required_key(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_suite(_write(tmp_path, BASE.replace("scorers: [exact]\n", "")))
    assert err.value.field == "scorers"
    assert "required" in err.value.message


def test_template_without_any_form(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_suite(_write(tmp_path, BASE.replace('  - text: "{{ q }}"', "  - name: x")))
    assert err.value.line == 5
    assert "messages" in err.value.message


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_suite(_write(tmp_path, BASE + "name: again\n"))
    assert err.value.line == 7
    assert "twice" in err.value.message


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_suite(_write(tmp_path, BASE + "decoding: {temperature: 0.5\n"))
    assert err.value.line is not None
    assert err.value.line >= 7
    assert "invalid YAML" in err.value.message


def test_non_utf8_suite(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_bytes(BASE.encode() + b"description: caf\xe9\n")
    with pytest.raises(InputError) as err:
        load_suite(str(path))
    assert err.value.line == 7
    assert "UTF-8" in err.value.message


def test_missing_suite_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_suite(str(tmp_path / "nope.yaml"))


def test_scorer_shorthand_and_duplicate_labels(tmp_path: Path) -> None:
    text = BASE.replace("scorers: [exact]", "scorers: [exact, exact]")
    with pytest.raises(InputError, match="two scorers are named 'exact'"):
        load_suite(_write(tmp_path, text))


def test_decoding_bounds(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_suite(_write(tmp_path, BASE + "decoding:\n  temperature: 5\n"))
    assert (err.value.line, err.value.field) == (8, "decoding.temperature")


# --- hostile YAML (issue 10, item 6) -------------------------------------------------------


def test_recursive_alias_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_suite(_write(tmp_path, BASE + "description: &x [*x]\n"))
    assert (err.value.line, err.value.field) == (7, "description.0")
    assert "recursive" in err.value.message


def test_alias_bomb_is_an_error(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(InputError) as err:
        load_suite(_write(tmp_path, "\n".join(lines) + "\n"))
    assert "aliases are expanded" in err.value.message
    assert err.value.line is not None


@pytest.mark.parametrize("depth", [70, 1000])
def test_deep_nesting_is_an_error_not_a_recursion_error(tmp_path: Path, depth: int) -> None:
    with pytest.raises(InputError) as err:
        load_suite(_write(tmp_path, BASE + "description: " + "[" * depth + "]" * depth + "\n"))
    assert "nested more than 64 levels" in err.value.message
    assert err.value.file == str(tmp_path / "suite.yaml")


def test_suite_that_is_a_fifo_does_not_hang(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "suite.yaml")
    with pytest.raises(InputError, match="regular file"):
        load_suite(str(tmp_path / "suite.yaml"))


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("decoding:\n  temperature: .nan\n", "decoding.temperature"),
        ("run:\n  timeout_s: .inf\n", "run.timeout_s"),
        ("run:\n  rps: 1e400\n", "run.rps"),
    ],
)
def test_non_finite_numbers_are_rejected_as_in_datasets(tmp_path: Path, extra: str, field: str) -> None:
    """An infinite timeout or rate passed validation (pydantic allows inf and NaN by default)."""
    with pytest.raises(InputError) as err:
        load_suite(_write(tmp_path, BASE + extra))
    assert (err.value.line, err.value.field) == (8, field)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('description: "\\ud800"\n', "surrogate"),
        ("repeats: " + "9" * 5000 + "\n", "digits"),
        ("description: a\x00b\n", "not allowed"),
    ],
)
def test_unencodable_text_huge_integers_and_nul_are_one_line_errors(tmp_path: Path, extra: str, message: str) -> None:
    """A surrogate escape and a 5,000-digit integer were tracebacks; a NUL gave a two-line error."""
    with pytest.raises(InputError) as err:
        load_suite(_write(tmp_path, BASE + extra))
    assert err.value.line == 7
    assert message in err.value.message
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("url", ["not a url", "localhost:8000", "ftp://x/v1"])
def test_model_base_url_must_be_an_http_url(tmp_path: Path, url: str) -> None:
    with pytest.raises(InputError) as err:
        load_suite(_write(tmp_path, BASE + f"model:\n  base_url: '{url}'\n"))
    assert (err.value.line, err.value.field) == (8, "model.base_url")
    assert "http://" in err.value.message
