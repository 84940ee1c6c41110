"""Fuzzing the inputs a user gives: suites, datasets (JSONL, CSV, Parquet) and import files.

A seeded generator (no network, fixed cases: the same cases every run) mutates valid files into
hostile ones: wrong types, missing fields, huge / non-UTF-8 / NUL / surrogate text, NaN, infinity
and ``1e400``, deep nesting and recursive aliases, odd paths (a directory, a FIFO, a symlink loop).
Every case goes through the real command (``tailgate run`` / ``tailgate import records``) in
process with click's runner, and fails the test on:

* a traceback: any exception other than the documented exit;
* a hang: each case has a time limit (SIGALRM);
* an error that is not one line ``tailgate: error: ...`` with exit 2;
* a silent acceptance: a case built to be invalid that exits 0, or an accepted run or import
  that measured nothing (no scored sample).

A few cases also run as real subprocesses (real exit codes and stderr). Issue 10, items 5-8.
"""

from __future__ import annotations

import json
import os
import random
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from tailgate.cli import cli
from tailgate.store import Store
from tests.support.cli import tailgate

SEED = 20_251_202
CASE_SECONDS = 20

ROWS = [
    {"id": "a", "q": "What is 2+2?", "answer": "4", "task": "math"},
    {"id": "b", "q": "Capital of Peru?", "answer": "Lima", "task": "geo"},
    {"id": "c", "q": "Colour of the sky?", "answer": "blue", "task": "geo"},
]
SUITE: dict[str, Any] = {
    "name": "fuzz",
    "dataset": {"path": "items.jsonl", "id": "id", "reference": "answer", "attributes": ["task"]},
    "templates": [{"name": "original", "messages": [{"role": "user", "content": "{{ q }}"}], "text": "Q: {{ q }}"}],
    "repeats": 1,
    "scorers": [{"type": "contains"}],
}

NESTED_DEEP = "[" * 70 + "1" + "]" * 70
NESTED_VERY_DEEP = "[" * 50_000 + "]" * 50_000


@dataclass
class Case:
    """One generated input. ``must_fail``: an input that is wrong, so success is a defect."""

    name: str
    kind: str  # "run" or "import"
    files: dict[str, bytes | Callable[[Path], None]]
    must_fail: bool
    args: tuple[str, ...] = ()


# --- the generator --------------------------------------------------------------------------------


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _suite_bytes(suite: dict[str, Any]) -> bytes:
    return yaml.safe_dump(suite, sort_keys=False, allow_unicode=True).encode("utf-8")


def _suite(**changes: Any) -> dict[str, Any]:
    suite = json.loads(json.dumps(SUITE))
    suite.update(changes)
    return suite


# paths into the suite and, for each, values that must be rejected there
SUITE_PATHS: list[tuple[tuple[str | int, ...], list[Any]]] = [
    (("name",), [None, [], {}]),
    (("dataset",), [None, "items.jsonl", []]),
    (("dataset", "path"), ["", "   ", None, 3, [], ".", "nope.jsonl", "/dev/null/x", "items.jsonl/.."]),
    (("dataset", "format"), ["xml", 1, None]),
    (("dataset", "reference"), ["nope", 1, []]),
    (("dataset", "attributes"), ["task", [["task"]], ["nope"], [{}]]),
    (("dataset", "max_field_bytes"), [0, -1, float("nan"), float("inf"), "big"]),
    (("templates",), [[], None, "{{ q }}", [{}], [{"name": "x"}]]),
    (("templates", 0, "messages", 0, "content"), ["{{ 1/0 }}", "{% include 'x' %}", "{{ 1 + q }}", "{{", "{{ nope }}"]),
    (("templates", 0, "messages", 0, "role"), ["robot", None, 1]),
    (("templates", 0, "messages"), [[], None, "hi"]),
    (("repeats",), [0, -1, 10_001, float("nan"), "three", 1.5, None, float("inf")]),
    (("decoding",), [[], "greedy"]),
    (("decoding", "temperature"), [float("nan"), float("inf"), -1, 99, "hot", []]),
    (("decoding", "max_tokens"), [0, -5, 10**30, float("nan")]),
    (("decoding", "stop"), ["x", [1], {}]),
    (("decoding", "seed"), ["s", [], 1.5]),
    (("scorers",), [[], None, "exact", [{}], [{"type": "nope"}], ["exact", "exact"]]),
    (("scorers", 0, "extract"), ["regex:(", "regex:", "regex", "regex:a{99999999999}", "nope", "regex:(?P<"]),
    (("scorers", 0, "type"), ["nope", None, 1]),
    (("scorers", 0, "ignore_case"), ["maybe", []]),
    (("run",), [[], "fast"]),
    (("run", "concurrency"), [0, -1, float("inf"), 10**9]),
    (("run", "timeout_s"), [0, -1, float("nan"), float("inf")]),
    (("run", "rps"), [0, float("inf"), float("nan")]),
    (("report", "confidence"), [0, 1, 2, float("nan")]),
    (("model", "base_url"), ["not a url", "localhost:1", "ftp://x"]),
    (("unknown_key",), [1]),
    (("dataset", "refrence"), ["answer"]),
]

# values that may be accepted or rejected, but never with a traceback
ODD_VALUES: list[Any] = ["", "\0", "a\0", "\x1b]0;title\x07", "\u202eRTL", "x" * 200_000, True, 0, -0.0, 1e308, {}]


def _set(suite: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    node: Any = suite
    for part in path[:-1]:
        if isinstance(part, str) and part not in node:
            node[part] = {}
        node = node[part]
    node[path[-1]] = value


def suite_cases(rng: random.Random) -> Iterator[Case]:
    items = _jsonl(ROWS)
    # every listed (path, bad value): must fail
    for path, bad_values in SUITE_PATHS:
        for value in bad_values:
            suite = _suite()
            _set(suite, path, value)
            yield Case(
                f"suite {'.'.join(map(str, path))}={value!r:.40}",
                "run",
                {"suite.yaml": _suite_bytes(suite), "items.jsonl": items},
                True,
            )
    # odd values anywhere: no traceback
    for _ in range(40):
        path, _values = rng.choice(SUITE_PATHS)
        value = rng.choice(ODD_VALUES)
        suite = _suite()
        _set(suite, path, value)
        yield Case(
            f"suite odd {'.'.join(map(str, path))}={value!r:.30}",
            "run",
            {"suite.yaml": _suite_bytes(suite), "items.jsonl": items},
            False,
        )
    # text-level damage
    text = _suite_bytes(_suite())
    raw_cases: list[tuple[str, bytes, bool]] = [
        ("empty", b"", True),
        ("not a mapping", b"- 1\n- 2\n", True),
        ("non-utf8", text + b"description: caf\xe9\n", True),
        ("nul byte", text.replace(b"name: fuzz", b"name: fu\x00zz"), True),
        ("lone surrogate escape", text + b'description: "\\ud800"\n', False),
        ("recursive alias", text + b"description: &x [*x]\n", True),
        (
            "alias bomb",
            b"\n".join(
                [b'a0: &a0 ["l","l","l","l","l","l","l","l","l","l"]']
                + [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]".encode() for i in range(1, 9)]
            )
            + b"\n",
            True,
        ),
        ("deep nesting", text + b"description: " + NESTED_DEEP.encode() + b"\n", True),
        ("very deep nesting", text + b"description: " + NESTED_VERY_DEEP.encode() + b"\n", True),
        ("duplicate key", text + b"name: again\n", True),
        ("tab indentation", text.replace(b"  path", b"\tpath"), True),
        ("bom", b"\xef\xbb\xbf" + text, False),
        ("yaml tag", text + b"description: !!python/object:os.system ls\n", True),
        ("big int", text.replace(b"repeats: 1", b"repeats: " + b"9" * 5000), True),
    ]
    for name, raw, must_fail in raw_cases:
        yield Case(f"suite text {name}", "run", {"suite.yaml": raw, "items.jsonl": items}, must_fail)
    for i in range(40):  # random byte damage
        data = bytearray(text)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(data))
            op = rng.random()
            if op < 0.4:
                data[pos] = rng.randrange(256)
            elif op < 0.7:
                del data[pos : pos + rng.randint(1, 8)]
            else:
                data[pos:pos] = rng.choice([b"\n", b":", b"[", b"{", b"&a", b"*a", b"\x00", b"\xff", b"- ", b'"'])
        yield Case(f"suite bytes #{i}", "run", {"suite.yaml": bytes(data), "items.jsonl": items}, False)
    # odd paths for the dataset and for the suite itself
    suite_text = _suite_bytes(_suite())
    for kind in ("directory", "fifo", "symlink loop", "dangling symlink"):
        yield Case(
            f"dataset path {kind}",
            "run",
            {"suite.yaml": suite_text, "items.jsonl": odd_path(kind, "items.jsonl")},
            True,
        )
        yield Case(
            f"suite path {kind}", "run", {"suite.yaml": odd_path(kind, "suite.yaml"), "items.jsonl": items}, True
        )


def odd_path(kind: str, name: str) -> Callable[[Path], None]:
    """Make ``name`` in a folder as a directory, a FIFO, a symlink to itself or to nothing."""

    def build(folder: Path) -> None:
        target = folder / name
        if kind == "directory":
            target.mkdir()
        elif kind == "fifo":
            os.mkfifo(target)
        elif kind == "symlink loop":
            target.symlink_to(target)
        else:
            target.symlink_to(folder / "missing")

    return build


# values for one dataset field, and whether the row must be rejected
FIELD_VALUES: list[tuple[bytes, bool]] = [
    (b"NaN", True),
    (b"Infinity", True),
    (b"-Infinity", True),
    (b"1e400", True),
    (b'"\\ud800"', True),
    (b'"\\udfff x"', True),
    (NESTED_DEEP.encode(), True),
    (NESTED_VERY_DEEP.encode(), True),
    (b"9" * 5000, True),  # past Python's int-to-str limit
    (b'"' + b"x" * 1_100_000 + b'"', True),  # past dataset.max_field_bytes
    (b'"a\\u0000"', False),
    (b'"\\u001b[2J"', False),
    (b"null", False),
    (b"true", False),
    (b"1e308", False),
    (b"-0.0", False),
    (b'""', False),
    (b"{}", False),
    (b"[]", False),
    (b'"\\u202e"', False),
]


def dataset_cases(rng: random.Random) -> Iterator[Case]:
    suite = _suite_bytes(_suite())
    base = [json.dumps(r).encode() for r in ROWS]
    for column in ("id", "q", "answer", "task", "extra"):
        for value, must_fail in FIELD_VALUES:
            row = base[1][:-1] + b", " + json.dumps(column).encode() + b": " + value + b"}"
            # (a JSON object keeps the last of two equal keys: the hostile value wins)
            # an id is a string or an integer; an attribute is a scalar
            expect = must_fail or (column == "id" and not value.startswith(b'"'))
            expect = expect or (column == "task" and value in (b"{}", b"[]"))
            lines = [base[0], row, base[2]]
            yield Case(
                f"jsonl {column}={value[:20]!r}",
                "run",
                {"suite.yaml": suite, "items.jsonl": b"\n".join(lines) + b"\n"},
                expect,
            )
    line_cases: list[tuple[str, bytes, bool]] = [
        ("empty file", b"", True),
        ("blank lines only", b"\n\n  \n", True),
        ("non-object line", base[0] + b"\n[1, 2]\n", True),
        ("number line", base[0] + b"\n42\n", True),
        ("truncated", base[0] + b"\n" + base[1][:15] + b"\n", True),
        ("non-utf8", base[0] + b"\n" + base[1].replace(b"Peru", b"P\xe9ru") + b"\n", True),
        ("bom", b"\xef\xbb\xbf" + b"\n".join(base) + b"\n", False),
        ("crlf", b"\r\n".join(base) + b"\r\n", False),
        ("missing q", base[0] + b'\n{"id": "z", "answer": "x", "task": "t"}\n', True),
        ("missing answer", base[0] + b'\n{"id": "z", "q": "x", "task": "t"}\n', True),
        ("missing attribute", base[0] + b'\n{"id": "z", "q": "x", "answer": "t"}\n', True),
        ("same id, other item", base[0] + b"\n" + base[0].replace(b"2+2", b"3+3") + b"\n", True),
        ("nul inside line", base[0] + b"\n" + base[1].replace(b"Peru", b"Pe\x00ru") + b"\n", True),
        ("one huge line", b'{"id": "z", "q": "' + b"x" * 3_000_000 + b'", "answer": "x", "task": "t"}\n', True),
    ]
    for name, raw, must_fail in line_cases:
        yield Case(f"jsonl {name}", "run", {"suite.yaml": suite, "items.jsonl": raw}, must_fail)
    csv_suite = _suite_bytes(_suite(dataset={**SUITE["dataset"], "path": "items.csv"}))
    header = b"id,q,answer,task\n"
    good = b"a,What is 2+2?,4,math\nb,Capital of Peru?,Lima,geo\n"
    csv_cases: list[tuple[str, bytes, bool]] = [
        ("ok", header + good, False),
        ("ragged", header + good + b"c,x,y\n", True),
        ("unterminated quote", header + good + b'c,"x,y,z\n', True),
        ("non-utf8", header + good + b"c,caf\xe9,x,y\n", True),
        ("missing column", b"id,q,task\na,x,y\n", True),
        ("duplicate header", b"id,q,q,answer,task\na,x,x,y,z\n", True),
        ("empty", b"", True),
        ("header only", header, True),
        ("nul", header + b"c,x\x00y,z,w\n", False),
        ("escape codes", header + b"c,\x1b]0;pwn\x07,z,\x1b[2J\n", False),
        ("big cell", header + b'c,"' + b"x" * 1_100_000 + b'",z,w\n', True),
        ("quoted newline", header + b'c,"two\nlines",z,w\n', False),
    ]
    for name, raw, must_fail in csv_cases:
        yield Case(f"csv {name}", "run", {"suite.yaml": csv_suite, "items.csv": raw}, must_fail)
    pq_suite = _suite_bytes(_suite(dataset={**SUITE["dataset"], "path": "items.parquet"}))
    tables: list[tuple[str, dict[str, Any], bool]] = [
        ("ok", {"answer": ["4", "Lima"]}, False),
        ("nan", {"answer": [1.0, float("nan")]}, True),
        ("inf", {"answer": [1.0, float("inf")]}, True),
        ("-inf attribute", {"task": [1.0, float("-inf")]}, True),
        ("binary", {"q": [b"a", b"b"]}, True),
        ("list attribute", {"task": [["a"], ["b"]]}, True),
        ("struct field", {"q": [{"x": 1.0}, {"x": float("nan")}]}, True),
        ("null reference", {"answer": [None, "x"]}, False),
        ("surrogate-free unicode", {"q": ["\u202eabc", "\x00"]}, False),
    ]
    for name, columns, must_fail in tables:
        data = {"id": ["a", "b"], "q": ["x", "y"], "answer": ["x", "y"], "task": ["t", "u"], **columns}

        def write(folder: Path, data: dict[str, Any] = data) -> None:
            pq.write_table(pa.table(data), folder / "items.parquet")

        yield Case(f"parquet {name}", "run", {"suite.yaml": pq_suite, "items.parquet": write}, must_fail)
    yield Case("parquet not parquet", "run", {"suite.yaml": pq_suite, "items.parquet": b"PAR1garbage"}, True)
    for i in range(30):  # random byte damage to a JSONL dataset
        data = bytearray(b"\n".join(base) + b"\n")
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(data))
            data[pos] = rng.choice([0, 0xFF, 0x1B, ord("{"), ord('"'), ord("\\"), ord("\n"), rng.randrange(256)])
        yield Case(f"jsonl bytes #{i}", "run", {"suite.yaml": suite, "items.jsonl": bytes(data)}, False)


SCORES: list[tuple[str, bool]] = [
    ("nan", True), ("NaN", True), ("inf", True), ("-inf", True), ("Infinity", True), ("1e400", True),
    ("abc", True), ("1,5", True), ("0x1", True), ("１", True),
    ("1", False), ("0", False), ("0.25", False), ("-1", False), ("1e-300", False), ("", False),
]  # fmt: skip


def import_cases(rng: random.Random) -> Iterator[Case]:
    args = ("--item", "item", "--score", "score")
    for value, must_fail in SCORES:
        raw = f"item,score,ms\na,1,5\nb,{value},5\n".encode()
        yield Case(f"import csv score={value!r}", "import", {"r.csv": raw}, must_fail, args)
        raw = f"item,score,ms\na,1,5\nb,1,{value}\n".encode()
        yield Case(f"import csv latency={value!r}", "import", {"r.csv": raw}, must_fail, (*args, "--latency", "ms"))
    for value, must_fail in [
        ("NaN", True),
        ("Infinity", True),
        ("1e400", True),
        ('"x"', True),
        ("[1]", True),
        ("{}", True),
        ("0.5", False),
        ("null", False),
    ]:
        raw = b'{"item": "a", "score": 1}\n{"item": "b", "score": ' + value.encode() + b"}\n"
        yield Case(f"import jsonl score={value}", "import", {"r.jsonl": raw}, must_fail, args)
    for value, must_fail in [(float("nan"), True), (float("inf"), True), (0.5, False)]:

        def write(folder: Path, value: float = value) -> None:
            pq.write_table(pa.table({"item": ["a", "b"], "score": [1.0, value]}), folder / "r.parquet")

        yield Case(f"import parquet score={value}", "import", {"r.parquet": write}, must_fail, args)
    other: list[tuple[str, str, bytes, bool, tuple[str, ...]]] = [
        ("missing item", "r.csv", b"item,score\n,1\n", True, args),
        ("no rows", "r.csv", b"item,score\n", True, args),
        ("empty", "r.csv", b"", True, args),
        ("no such column", "r.csv", b"item,score\na,1\n", True, ("--item", "nope", "--score", "score")),
        ("duplicate sample", "r.csv", b"item,score,rep\na,1,0\na,0,0\n", True, (*args, "--repeat", "rep")),
        ("repeat not an integer", "r.csv", b"item,score,rep\na,1,1.5\n", True, (*args, "--repeat", "rep")),
        ("non-utf8", "r.csv", b"item,score\ncaf\xe9,1\n", False, args),
        ("ragged", "r.csv", b"item,score\na,1,2,3\n", False, args),
        (
            "10 MB field",
            "r.csv",
            b'item,score,out\na,1,"' + b"x" * 10_000_000 + b'"\n',
            False,
            (*args, "--output", "out"),
        ),
        ("space in name", "my results.csv", b"item,score\na,1\n", False, args),
        ("quote in name", 'bob\'s "run".csv', b"item,score\na,1\n", False, args),
        ("unknown extension", "r.txt", b"item,score\na,1\n", True, args),
        ("bad json", "r.jsonl", b'{"item": "a", "score": 1\n', True, args),
        ("surrogate", "r.jsonl", b'{"item": "\\ud800", "score": 1}\n', True, args),
        ("nul in item", "r.csv", b"item,score\na\x00b,1\n", False, args),
        ("slice clash", "r.csv", b"item,score,s\na,1,x\na,0,y\n", True, (*args, "--slice", "s")),
    ]
    for name, file, raw, must_fail, extra in other:
        yield Case(f"import {name}", "import", {file: raw}, must_fail, extra)
    for i in range(20):
        data = bytearray(b"item,score,out\na,1,x\nb,0,y\nc,1,z\n")
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.choice([0, 0xFF, ord(","), ord('"'), ord("\n"), rng.randrange(256)])
        yield Case(f"import bytes #{i}", "import", {"r.csv": bytes(data)}, False, (*args, "--output", "out"))


def all_cases() -> list[Case]:
    rng = random.Random(SEED)
    return [*suite_cases(rng), *dataset_cases(rng), *import_cases(rng)]


# keys a user may leave out; a run without some of them can only measure nothing
OPTIONAL_KEYS: list[tuple[str, ...]] = [
    ("dataset", "reference"),
    ("dataset", "id"),
    ("dataset", "attributes"),
    ("templates", "0", "text"),
    ("templates", "0", "name"),
    ("repeats",),
    ("description",),
]


def omission_cases() -> list[Case]:
    cases = []
    for path in OPTIONAL_KEYS:
        suite = _suite()
        node: Any = suite
        for part in path[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        node.pop(path[-1], None)
        files: dict[str, bytes | Callable[[Path], None]] = {
            "suite.yaml": _suite_bytes(suite),
            "items.jsonl": _jsonl(ROWS),
        }
        cases.append(Case(f"suite without {'.'.join(path)}", "run", files, False))
    return cases


# --- running one case ------------------------------------------------------------------------------


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: int, name: str) -> Iterator[None]:
    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"{name}: no answer in {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def materialise(case: Case, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, content in case.files.items():
        if callable(content):
            content(folder)
        else:
            (folder / name).write_bytes(content)
    return folder


def command(case: Case, folder: Path, store: Path) -> list[str]:
    if case.kind == "run":
        return ["--store", str(store), "run", str(folder / "suite.yaml"), "--model", "fake:echo", "--quiet", "--json"]
    (file,) = case.files
    return ["--store", str(store), "import", "records", str(folder / file), *case.args]


def check(case: Case, exit_code: int, stderr: str, store: Path, folder: Path) -> str | None:
    """What is wrong with this outcome, or None."""
    if exit_code == 0:
        if case.must_fail:
            return "accepted an invalid input"
        return measured_nothing(store)
    if exit_code == 3:  # a run that measured nothing, reported as such (issue 10, item 2)
        return None if "error" in stderr else "exit 3 without a message"
    if exit_code != 2:
        return f"exit {exit_code}"
    lines = [line for line in stderr.splitlines() if line.strip()]
    if len(lines) != 1 or not lines[0].startswith("tailgate: error: "):
        return f"not one error line: {stderr[:300]!r}"
    if f"{folder.name}/" not in lines[0]:  # every error about a file names the file (item 8)
        return f"the error does not name the file: {lines[0][:300]!r}"
    return None


def measured_nothing(store: Path) -> str | None:
    runs = Store(store).list_runs()
    if len(runs) != 1:
        return f"{len(runs)} runs stored"
    table = Store(store).read_records(runs[0].run_id)
    scored = sum(1 for s in table.column("score").to_pylist() if s is not None)
    return None if scored else f"run {runs[0].run_id} succeeded with no scored sample"


CASES = all_cases()


def test_the_generator_is_fixed_and_big_enough() -> None:
    names = [c.name for c in CASES]
    assert names == [c.name for c in all_cases()]
    assert len(CASES) >= 300
    assert sum(c.must_fail for c in CASES) >= 150
    assert {c.kind for c in CASES} == {"run", "import"}


def run_cases(cases: list[Case], tmp_path: Path) -> list[str]:
    """Each case through the CLI in process; what went wrong, one line per failing case."""
    runner = CliRunner()
    failures = []
    for number, case in enumerate(cases):
        folder = materialise(case, tmp_path / f"c{number}")
        store = tmp_path / f"store{number}"
        try:
            with time_limit(CASE_SECONDS, case.name):
                result = runner.invoke(cli, command(case, folder, store), catch_exceptions=True)
        except Hang as exc:
            failures.append(str(exc))
            continue
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            failures.append(f"{case.name}: traceback {type(result.exception).__name__}: {result.exception}")
            continue
        problem = check(case, result.exit_code, result.stderr, store, folder)
        if problem:
            failures.append(f"{case.name}: {problem}")
    return failures


@pytest.mark.timeout(600)
def test_fuzzed_inputs_never_crash_hang_or_pass_silently(tmp_path: Path) -> None:
    failures = run_cases(CASES, tmp_path)
    assert not failures, f"{len(failures)} of {len(CASES)} cases failed:\n" + "\n".join(failures)


def test_a_run_that_measured_nothing_does_not_pass(tmp_path: Path) -> None:
    """Leaving out dataset.reference made every sample unscored, and the run exited 0."""
    failures = run_cases(omission_cases(), tmp_path)
    assert not failures, "\n".join(failures)


SUBPROCESS_CASES = ["dataset path fifo", "suite text very deep nesting", "jsonl q=b'1e400'", "import csv score='nan'"]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_some_cases_as_real_processes(tmp_path: Path, name: str) -> None:
    (case,) = [c for c in CASES if c.name == name]
    folder = materialise(case, tmp_path / "case")
    done = tailgate(*command(case, folder, tmp_path / "store"), timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert check(case, done.returncode, done.stderr, tmp_path / "store", folder) is None
