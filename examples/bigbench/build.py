#!/usr/bin/env python3
"""Convert BIG-bench multiple-choice tasks into ``examples/bigbench/items.jsonl``.

The items are real third-party benchmark questions from BIG-bench (Apache-2.0, see
``LICENSE-BIG-bench.txt``), taken from the ``*.task.json`` files of the ``bigbench`` 1.0.0 PyPI
sdist. For each task below, the examples that carry ``target_scores`` (the multiple-choice ones)
are read; up to ``PER_TASK`` of them are kept (a seeded random sample when there are more), and
each becomes one JSON object per line with the keys, in order::

    id, task, question, answer, n_options, input_words, length

* ``question``: the task's ``task_prefix`` (when the task has one: without it the input alone is
  not a question, e.g. navigate's bare list of steps), then the BIG-bench ``input``, then the
  options as ``A) ...``, ``B) ...`` and "Answer with the letter of the correct option.". The text
  is BIG-bench's own, unchanged except that leading and trailing whitespace is removed.
* ``answer``: the letter of the one option whose score is 1.
* ``input_words``: words in the BIG-bench ``input`` (whitespace-separated; prefix and options not
  counted); ``length`` is ``short`` up to ``LONG_WORDS`` words, else ``long``.

The options are shuffled with a seeded generator, and the position of the correct option is drawn
from a shuffled deck of positions per task and number of options, so the answer letters are
balanced within each task (a model that always answers "A" scores chance, not more). snarks keeps
its source order: its options are the labels "(a)" and "(b)" used inside its input.

Skipped, and counted: examples without ``target_scores``, examples whose options do not have
exactly one score of 1 (the others all 0), exact repeats of an earlier example (same input and
scores), and examples whose input and options occur again with different scores (contradictory
labels: every copy is dropped).

Rows are interleaved round-robin across the tasks (sports_understanding-001, strategyqa-001, ...),
so the first N rows, which is what ``tailgate run --limit N`` keeps, cover every task.

The output is deterministic: string-seeded generators, source order everywhere, no set
iteration; running the script twice produces byte-identical files.

Usage::

    python examples/bigbench/build.py [--source DIR] [--out PATH] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "pypi-benchmark-items" / "bigbench"
DEFAULT_OUT = HERE / "items.jsonl"
SEED = 20250611

TASKS = (
    "sports_understanding",
    "strategyqa",
    "navigate",
    "snarks",
    "winowhy",
    "hindu_knowledge",
    "known_unknowns",
)
PER_TASK = 80
LONG_WORDS = 40  # inputs of more words than this are "long"
LETTERS = "ABCDEFGHIJ"  # the letters the `choice` scorer understands
INSTRUCTION = "Answer with the letter of the correct option."

SKIP_NOT_MC = "no target_scores (not multiple choice)"
SKIP_NOT_ONE = "not exactly one option with score 1"
SKIP_TOO_MANY = f"more than {len(LETTERS)} options"
SKIP_REPEAT = "exact repeat of an earlier example"
SKIP_CONFLICT = "same input and options as another example, different scores"


@dataclass(frozen=True)
class Candidate:
    """A usable multiple-choice example of one task."""

    index: int  # position in the task file's ``examples``
    input: str
    options: tuple[str, ...]  # in BIG-bench's order
    correct: str


@dataclass
class TaskResult:
    task: str
    prefix: str  # the task's ``task_prefix``, stripped ("" when it has none)
    n_examples: int
    candidates: list[Candidate]
    skipped: Counter[str]


def _load_task(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise ValueError(f"{path}: not a BIG-bench task file (no 'examples' list)")
    return data


def _correct_option(scores: dict[str, Any]) -> str | None:
    """The single option scored 1 when all the others are scored 0, else None."""
    ones = [option for option, score in scores.items() if score == 1]
    zeros = [option for option, score in scores.items() if score == 0]
    if len(ones) != 1 or len(ones) + len(zeros) != len(scores):
        return None
    return ones[0]


def read_task(source: Path, task: str) -> TaskResult:
    """The usable examples of one task, in source order, and what was skipped and why."""
    data = _load_task(source / f"{task}.task.json")
    examples: list[Any] = data["examples"]
    skipped: Counter[str] = Counter()
    valid: list[tuple[int, str, dict[str, Any]]] = []
    for index, example in enumerate(examples):
        scores = example.get("target_scores") if isinstance(example, dict) else None
        if not isinstance(scores, dict) or not scores or not isinstance(example.get("input"), str):
            skipped[SKIP_NOT_MC] += 1
        elif _correct_option(scores) is None:
            skipped[SKIP_NOT_ONE] += 1
        elif len(scores) > len(LETTERS):
            skipped[SKIP_TOO_MANY] += 1
        else:
            valid.append((index, example["input"], scores))

    # Group by (input, options) to find exact repeats and contradictory labels.
    labels: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for _, text, scores in valid:
        key = (text.strip(), tuple(option.strip() for option in scores))
        labels.setdefault(key, []).append(json.dumps(scores, sort_keys=True))

    candidates: list[Candidate] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for index, text, scores in valid:
        key = (text.strip(), tuple(option.strip() for option in scores))
        if len(set(labels[key])) > 1:
            skipped[SKIP_CONFLICT] += 1
            continue
        if key in seen:
            skipped[SKIP_REPEAT] += 1
            continue
        seen.add(key)
        correct = _correct_option(scores)
        assert correct is not None
        candidates.append(Candidate(index, key[0], key[1], correct.strip()))
    prefix = data.get("task_prefix") or ""
    if not isinstance(prefix, str):
        raise ValueError(f"{task}: task_prefix is not a string")
    return TaskResult(task, prefix.strip(), len(examples), candidates, skipped)


# snarks' options are the labels "(a)" and "(b)" used inside its input: shuffled, they would read
# "A) (b)", so its options keep their source order.
KEEP_ORDER = frozenset({"snarks"})


def build_task(result: TaskResult, seed: int) -> list[dict[str, Any]]:
    """The output rows of one task: a seeded sample, its options shuffled, letters balanced."""
    task = result.task
    pool = result.candidates
    if len(pool) > PER_TASK:
        sampler = random.Random(f"{seed}:{task}:sample")
        picked = sampler.sample(range(len(pool)), PER_TASK)
        pool = [pool[i] for i in sorted(picked)]

    shuffler = random.Random(f"{seed}:{task}:options")
    decks: dict[int, list[int]] = {}  # number of options -> positions still to deal
    rows: list[dict[str, Any]] = []
    for number, cand in enumerate(pool, start=1):
        n_options = len(cand.options)
        if task in KEEP_ORDER:
            order = list(cand.options)
            position = order.index(cand.correct)
        else:
            deck = decks.setdefault(n_options, [])
            if not deck:
                deck.extend(range(n_options))
                shuffler.shuffle(deck)
            position = deck.pop()
            order = [option for option in cand.options if option != cand.correct]
            shuffler.shuffle(order)
            order.insert(position, cand.correct)

        lines = [result.prefix] if result.prefix else []
        lines.append(cand.input)
        lines.extend(f"{LETTERS[i]}) {option}" for i, option in enumerate(order))
        lines.append(INSTRUCTION)
        words = len(cand.input.split())
        rows.append(
            {
                "id": f"{task}-{number:03d}",
                "task": task,
                "question": "\n".join(lines),
                "answer": LETTERS[position],
                "n_options": n_options,
                "input_words": words,
                "length": "short" if words <= LONG_WORDS else "long",
            }
        )
    return rows


def interleave(groups: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Round-robin over the tasks, so that ``--limit N`` (the first N items) covers every task."""
    return [group[i] for i in range(max(map(len, groups))) for group in groups if i < len(group)]


def check_rows(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Problems with the output (an empty list when it is sound)."""
    problems: list[str] = []
    ids = Counter(str(row["id"]) for row in rows)
    problems += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    questions = Counter(str(row["question"]) for row in rows)
    problems += [f"duplicate question {q[:60]!r}" for q, n in questions.items() if n > 1]
    for row in rows:
        letter = str(row["answer"])
        if letter not in LETTERS[: int(row["n_options"])]:
            problems.append(f"{row['id']}: answer {letter} outside {row['n_options']} options")
        elif f"\n{letter}) " not in str(row["question"]):
            problems.append(f"{row['id']}: option {letter} missing from the question")
    return problems


def report(results: Sequence[TaskResult], rows: Sequence[dict[str, Any]]) -> str:
    out: list[str] = []
    by_task = Counter(str(row["task"]) for row in rows)
    out.append(f"{'task':<22}{'examples':>9}{'usable':>8}{'kept':>6}{'short':>7}{'long':>6}")
    for res in results:
        short = sum(1 for r in rows if r["task"] == res.task and r["length"] == "short")
        kept = by_task[res.task]
        out.append(f"{res.task:<22}{res.n_examples:>9}{len(res.candidates):>8}{kept:>6}{short:>7}{kept - short:>6}")
    lengths = Counter(str(row["length"]) for row in rows)
    out.append(
        f"{'total':<22}{sum(r.n_examples for r in results):>9}"
        f"{sum(len(r.candidates) for r in results):>8}{len(rows):>6}"
        f"{lengths['short']:>7}{lengths['long']:>6}"
    )
    out.append("")
    out.append("per length: " + ", ".join(f"{k} {lengths[k]}" for k in ("short", "long")))
    total_skipped = sum(sum(r.skipped.values()) for r in results)
    out.append(f"skipped: {total_skipped}")
    for res in results:
        for reason, count in sorted(res.skipped.items()):
            out.append(f"  {res.task}: {count} {reason}")
    out.append("")
    out.append("answer letters per task:")
    for res in results:
        letters = Counter(str(r["answer"]) for r in rows if r["task"] == res.task)
        out.append(f"  {res.task:<22}" + " ".join(f"{k}={letters[k]}" for k in sorted(letters)))
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder of BIG-bench *.task.json")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSONL path")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    source: Path = args.source
    out: Path = args.out

    missing = [t for t in TASKS if not (source / f"{t}.task.json").is_file()]
    if missing:
        print(f"error: {source}: missing {', '.join(missing)}", file=sys.stderr)
        return 1
    results = [read_task(source, task) for task in TASKS]
    rows = interleave([build_task(res, args.seed) for res in results])
    problems = check_rows(rows)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1

    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} items to {out}")
    print(report(results, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
