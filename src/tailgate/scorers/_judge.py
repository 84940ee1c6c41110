"""Judge scorers: a model reads the output and gives a verdict.

| type              | the judge is asked                                        | score                     |
|-------------------|-----------------------------------------------------------|---------------------------|
| judge_reference   | is the response equivalent to the reference? yes / no     | 1 yes, 0 no               |
| judge_rubric      | a score on an integer ``scale`` for a ``rubric``, or      | (s - low) / (high - low), |
|                   | yes / no for each item of a ``checklist``                 | or the fraction of yes    |
| judge_pairwise    | which of A and B is better (the output vs a baseline      | 1 win, 0.5 tie, 0 loss    |
|                   | output), in BOTH orders                                   |                           |

Every judge asks ``repeats`` times (seed ``seed + r`` for repeat r) and scores the mean of the
verdicts it could parse. Verdicts are parsed strictly: a reply with no verdict, or with two
different ones, is not a verdict; an output none of whose replies parsed is *unscored* (its reason
says so), never a zero. A call that still failed after the runner's retries is unscored too.

A pairwise judge sees the output first (A) and then second (B) in every repeat; when the two
orders disagree, the repeat is a tie and is counted as a flip (``details.flips``).

Prompts are templates with ``{{ name }}`` slots: ``output``, ``input`` (the item's text fields),
``reference``, any item field by name, ``rubric``, ``scale_low``/``scale_high``, ``checklist``,
``response_a``/``response_b``. A slot is filled once: text in the output that looks like a slot is
left as it is. The judge's raw replies, parsed verdicts, seeds and retries are kept in the score's
``details`` (docs/judges.md documents its form), which ``tailgate report`` reads for the card.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tailgate.records import Item
from tailgate.scorers._base import BaseScorer, JudgeCall, JudgeContext, JudgeReply, Score

__all__ = [
    "CHECKLIST_PROMPT",
    "PAIRWISE_PROMPT",
    "REFERENCE_PROMPT",
    "RUBRIC_PROMPT",
    "BaseJudge",
    "JudgePairwise",
    "JudgeReference",
    "JudgeRubric",
    "parse_checklist",
    "parse_choice",
    "parse_scale",
]

REFERENCE_PROMPT = """You are grading a response against a reference answer.

Question:
{{ input }}

Reference answer:
{{ reference }}

Response:
{{ output }}

Does the response give the same final answer as the reference? Reply with one word: yes or no."""

RUBRIC_PROMPT = """You are grading a response.

Question:
{{ input }}

Response:
{{ output }}

Rubric:
{{ rubric }}

Grade the response from {{ scale_low }} (worst) to {{ scale_high }} (best) by the rubric.
End your reply with a line "Score: N"."""

CHECKLIST_PROMPT = """You are checking a response against a checklist.

Question:
{{ input }}

Response:
{{ output }}

Checklist:
{{ checklist }}

For each numbered check, reply with one line "N: yes" or "N: no", and nothing else."""

PAIRWISE_PROMPT = """You are comparing two responses to the same question.

Question:
{{ input }}

Response A:
{{ response_a }}

Response B:
{{ response_b }}

Which response is better? Reply with one word: A, B or tie."""

_SLOT = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_WORD = re.compile(r"[A-Za-z]+")
_VERDICT_LINE = re.compile(r"^\s*(?:final\s+)?(?:verdict|answer|judgement|judgment)\s*[:=]\s*(.+?)\s*$", re.I | re.M)
_SCORE_LINE = re.compile(r"^\W*(?:final\s+)?(?:score|grade|rating)\W*[:=]\s*(-?\d+)\s*(?:/\s*\d+)?\W*$", re.I | re.M)
_CHECK_LINE = re.compile(r"^\W*(\d+)\s*[:.)-]\s*(yes|no)\W*$", re.I | re.M)


def fill(template: str, values: dict[str, str]) -> str:
    """``template`` with each ``{{ name }}`` replaced by ``values[name]``, in one pass (a value
    containing ``{{ x }}`` stays as it is).

    Raises:
        ValueError: the template names a slot ``values`` lacks.
    """

    def slot(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ValueError(f"the judge prompt names {{{{ {name} }}}}, which this item does not have")
        return values[name]

    return _SLOT.sub(slot, template)


def _first_word(text: str) -> str | None:
    match = _WORD.search(text)
    return match.group(0).casefold() if match else None


def parse_choice(reply: str, choices: tuple[str, ...]) -> str | None:
    """The one verdict among ``choices`` (casefolded words) that ``reply`` states: its first word,
    or a ``Verdict: X`` line. None when it states none, or two different ones (strict)."""
    found = set()
    first = _first_word(reply)
    if first in choices:
        found.add(first)
    for line in _VERDICT_LINE.findall(reply):
        word = _first_word(line)
        if word is None or word not in choices:
            return None
        found.add(word)
    return found.pop() if len(found) == 1 else None


def parse_scale(reply: str, low: int, high: int) -> int | None:
    """The score of ``Score: N`` lines (or a reply that is only a number), when every such line
    gives the same N and it lies in [low, high]; else None."""
    values = {int(v) for v in _SCORE_LINE.findall(reply)}
    if not values and re.fullmatch(r"\s*-?\d+\s*\.?\s*", reply):
        values = {int(reply.strip().rstrip("."))}
    if len(values) != 1:
        return None
    value = values.pop()
    return value if low <= value <= high else None


def parse_checklist(reply: str, n: int) -> list[bool] | None:
    """``N: yes|no`` for each check 1..n, each once and consistent; else None."""
    answers: dict[int, bool] = {}
    for number, word in _CHECK_LINE.findall(reply):
        index, yes = int(number), word.casefold() == "yes"
        if index in answers and answers[index] != yes:
            return None
        answers[index] = yes
    if sorted(answers) != list(range(1, n + 1)):
        return None
    return [answers[i] for i in range(1, n + 1)]


def _input_text(item: Item) -> str:
    return "\n".join(v for v in item.input.values() if isinstance(v, str))


def _as_text(value: Any) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class JudgeParams(BaseModel):
    """What every judge accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    judge: str = Field(min_length=3)
    """The judge's model spec, any provider (``local:smollm2-135m``, ``openai:gpt-4o-mini``)."""
    prompt: str | None = None
    """The prompt template (``{{ slot }}`` syntax); None: the judge's default (docs/judges.md)."""
    repeats: int = Field(1, ge=1, le=64)
    """Judge samples per output (seed ``seed + r``); the card's self-consistency needs 2+."""
    seed: int = 0
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(64, ge=1, le=8192)


@dataclass
class _Judged:
    """One repeat's reply and what it parsed to."""

    call: JudgeCall
    reply: JudgeReply
    verdict: Any

    def as_dict(self, repeat: int, **extra: Any) -> dict[str, Any]:
        out = {
            "repeat": repeat,
            "seed": self.call.seed,
            **extra,
            "raw": self.reply.text,
            "verdict": self.verdict,
            "cached": self.reply.cached,
            "attempts": self.reply.attempts,
        }
        if self.reply.attempt_errors:
            out["attempt_errors"] = list(self.reply.attempt_errors)
        if self.reply.error is not None:
            out["error_class"] = self.reply.error_class
            out["error"] = self.reply.error
        return out


class BaseJudge(BaseScorer):
    """What judges share: the parameters, prompt filling, the calls through the runner, strict
    parsing and the aggregation over repeats. A subclass names its ``kind``, ``default_prompt``,
    the slots it adds (:meth:`slots`) and how a reply parses (:meth:`parse`, to a value in [0, 1]
    or None)."""

    Params: ClassVar[type[BaseModel]] = JudgeParams
    needs_model: ClassVar[bool] = True
    kind: ClassVar[str] = "judge"
    default_prompt: ClassVar[str] = ""

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        self.template: str = params.prompt if params.prompt is not None else self.default_prompt
        self.prompt_sha = hashlib.sha256(self.template.encode("utf-8")).hexdigest()[:16]

    def score(self, answer: str, item: Item) -> Score:
        raise TypeError(f"{self.kind} asks a model: the runner scores it with score_async")

    def slots(self, answer: str, item: Item) -> dict[str, str]:
        values = {k: _as_text(v) for k, v in item.input.items()}
        values.update(input=_input_text(item), output=answer)
        if item.reference is not None:
            values["reference"] = _as_text(item.reference)
        return values

    def parse(self, reply: str) -> float | None:
        raise NotImplementedError

    def _call(self, prompt: str, repeat: int) -> JudgeCall:
        p = self.params
        return JudgeCall(p.judge, prompt, p.temperature, p.max_tokens, p.seed + repeat)

    async def _ask(self, context: JudgeContext, prompt: str, repeat: int) -> _Judged:
        call = self._call(prompt, repeat)
        reply = await context.ask(call)
        return _Judged(call, reply, None if reply.text is None else self.parse(reply.text))

    def _details(self, samples: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "judge": self.params.judge,
            "prompt_sha": self.prompt_sha,
            **extra,
            "samples": samples,
        }

    async def score_async(self, answer: str, item: Item, context: JudgeContext) -> Score:
        prompt = fill(self.template, self.slots(answer, item))
        judged = [await self._ask(context, prompt, r) for r in range(self.params.repeats)]
        verdicts = [j.verdict for j in judged]
        details = self._details([j.as_dict(r) for r, j in enumerate(judged)], verdicts=verdicts)
        return _aggregate(verdicts, [j.reply for j in judged], answer, details)


def _aggregate(verdicts: list[float | None], replies: list[JudgeReply], answer: str, details: dict[str, Any]) -> Score:
    parsed = [v for v in verdicts if v is not None]
    if parsed:
        return Score(sum(parsed) / len(parsed), answer, None, details)
    failed = [r for r in replies if r.text is None]
    if failed:
        reason = f"judge call failed ({failed[0].error_class}): {failed[0].error}"
    else:
        first = next((r.text for r in replies if r.text is not None), "")
        reason = f"unparseable judge verdict: {first[:120]!r}"
    return Score(None, answer, reason, details)


class JudgeReference(BaseJudge):
    """Is the output equivalent to the item's reference (yes / no)?"""

    kind = "judge_reference"
    default_prompt = REFERENCE_PROMPT

    def slots(self, answer: str, item: Item) -> dict[str, str]:
        if item.reference is None:
            raise ValueError("the item has no reference answer")
        return super().slots(answer, item)

    def parse(self, reply: str) -> float | None:
        verdict = parse_choice(reply, ("yes", "no"))
        return None if verdict is None else float(verdict == "yes")


class RubricParams(JudgeParams):
    rubric: str | None = None
    """What a good response does; graded on ``scale``."""
    scale: tuple[int, int] = (1, 5)
    """The lowest and highest grade (integers)."""
    checklist: list[str] | None = None
    """Checks answered yes / no each, instead of a rubric: the score is the fraction of yes."""
    max_tokens: int = Field(256, ge=1, le=8192)

    @model_validator(mode="after")
    def _one_of(self) -> RubricParams:
        if (self.rubric is None) == (self.checklist is None):
            raise ValueError("give either a rubric (with a scale) or a checklist")
        if self.scale[0] >= self.scale[1]:
            raise ValueError("scale: the lowest grade must be below the highest")
        if self.checklist is not None and not self.checklist:
            raise ValueError("checklist: give at least one check")
        return self


class JudgeRubric(BaseJudge):
    """A grade on an integer scale for a rubric, or yes / no per check of a checklist; in [0, 1]."""

    Params = RubricParams
    kind = "judge_rubric"

    def __init__(self, params: Any) -> None:
        if params.prompt is None:
            params = params.model_copy(update={"prompt": CHECKLIST_PROMPT if params.checklist else RUBRIC_PROMPT})
        super().__init__(params)

    def slots(self, answer: str, item: Item) -> dict[str, str]:
        p = self.params
        checks = "\n".join(f"{i}. {c}" for i, c in enumerate(p.checklist or [], start=1))
        return {
            **super().slots(answer, item),
            "rubric": p.rubric or "",
            "scale_low": str(p.scale[0]),
            "scale_high": str(p.scale[1]),
            "checklist": checks,
        }

    def parse(self, reply: str) -> float | None:
        p = self.params
        if p.checklist:
            checks = parse_checklist(reply, len(p.checklist))
            return None if checks is None else sum(checks) / len(checks)
        low, high = p.scale
        value = parse_scale(reply, low, high)
        return None if value is None else (value - low) / (high - low)


class PairwiseParams(JudgeParams):
    baseline: str = "baseline"
    """The item field holding the baseline output (a ``tailgate sample`` suite has one)."""
    baseline_run: str | None = None
    """A stored run whose output for the same item is the baseline (instead of the field)."""


_OUTCOME = {"a": 1.0, "b": 0.0, "tie": 0.5}


class JudgePairwise(BaseJudge):
    """The output (candidate) against a baseline output: 1 when the judge prefers the output, 0 the
    baseline, 0.5 a tie; both orders asked in every repeat, and a verdict that flips with the order
    is a tie (counted in ``details.flips``)."""

    Params = PairwiseParams
    kind = "judge_pairwise"
    default_prompt = PAIRWISE_PROMPT

    def parse(self, reply: str) -> float | None:
        verdict = parse_choice(reply, ("a", "b", "tie"))
        return None if verdict is None else _OUTCOME[verdict]

    def _baseline(self, item: Item, context: JudgeContext) -> str:
        p = self.params
        found = context.baseline(p.baseline_run, item.item_id) if p.baseline_run else item.input.get(p.baseline)
        if not isinstance(found, str):
            where = f"run {p.baseline_run}" if p.baseline_run else f"the item field '{p.baseline}'"
            raise ValueError(f"no baseline output for the item in {where}")
        return found

    async def score_async(self, answer: str, item: Item, context: JudgeContext) -> Score:
        base = super().slots(answer, item)
        other = self._baseline(item, context)
        first = fill(self.template, {**base, "response_a": answer, "response_b": other})
        second = fill(self.template, {**base, "response_a": other, "response_b": answer})
        verdicts: list[float | None] = []
        samples: list[dict[str, Any]] = []
        replies: list[JudgeReply] = []
        flips = 0
        for r in range(self.params.repeats):
            ab, ba = await self._ask(context, first, r), await self._ask(context, second, r)
            # in the swapped order the judge's "A" is the baseline: the output's outcome is 1 - it
            as_output = None if ba.verdict is None else 1.0 - ba.verdict
            combined: float | None = None
            flipped = False
            if ab.verdict is not None and as_output is not None:
                flipped = ab.verdict != as_output
                combined = 0.5 if flipped else ab.verdict
                flips += flipped
            verdicts.append(combined)
            samples += [ab.as_dict(r, order="output_first"), ba.as_dict(r, order="output_second")]
            replies += [ab.reply, ba.reply]
            samples[-1]["flipped"] = flipped
        details = self._details(samples, verdicts=verdicts, flips=flips)
        return _aggregate(verdicts, replies, answer, details)
