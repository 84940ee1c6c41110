"""tailgate.testing: every built-in component passes the plugin contract checks, and each check
fails, naming what is wrong, on a component that breaks one rule."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from tailgate.perturb import BasePerturbation
from tailgate.providers import BaseProvider, ProviderOptions, Request, Response, create_provider
from tailgate.records import Item
from tailgate.registry import lookup, names
from tailgate.scorers import BaseScorer, NoParams, Score
from tailgate.testing import ANSWERS, ITEM, check_perturbation, check_provider, check_scorer
from tests.support.fault_server import FaultServer

DOCS = Path(__file__).resolve().parents[1] / "docs"

SCORER_PARAMS: dict[str, dict[str, Any]] = {
    "regex": {"pattern": r"\b4\b"},
    "json_schema": {"schema": {"type": "object"}},
    "python": {"function": "tests.support.scorers:close_enough"},
    "judge_reference": {"judge": "fake:echo", "repeats": 2},
    "judge_rubric": {"judge": "fake:echo", "rubric": "Right and short.", "repeats": 6},
    "judge_pairwise": {"judge": "fake:echo", "baseline_run": "check", "repeats": 3},
}
PERTURBATION_PARAMS: dict[str, dict[str, Any]] = {
    "column": {"column": "question_v2"},
    "formats": {"layout": [{"field": "question", "label": "Question"}]},
    "paraphrase": {"model": "fake:echo"},
}
PERTURBATION_ITEM = Item("check", {**ITEM.input, "question_v2": "What do two and two make?"}, "4")


def test_every_built_in_component_is_checked() -> None:
    assert set(names("scorers")) >= {"exact", "numeric", "choice", "python"}
    assert set(names("perturbations")) >= {"typos", "formats", "paraphrase", "column"}


JSON_ITEM = Item("check-json", {"question": "Give a as JSON."}, {"a": 1})
JSON_ANSWERS = (*ANSWERS, '{"a": 1}', '{"a": 2, "b": [1]}', '{"a": ')


@pytest.mark.parametrize("name", names("scorers"))
def test_built_in_scorers_pass(name: str) -> None:
    json = name.startswith("json")  # (the others must score the plain item; every one survives JSON)
    if name == "agreement":  # reference-free: it compares with the item's logged answer
        item = Item("check", {**ITEM.input, "baseline": "4"}, None)
        check_scorer(lookup("scorers", name), None, item=item)
        check_scorer(
            lookup("scorers", name),
            None,
            item=Item("check-json", {**JSON_ITEM.input, "baseline": '{"a": 1}'}, None),
            answers=JSON_ANSWERS,
        )
        return
    if name == "attack_resisted":  # a red-team check: the item's reference names what must not appear
        for check, targets in (("canary", ["ZEBRA-7731"]), ("forbidden", ["PWNED"]), ("tool", ["refund_payment"])):
            item = Item("check-redteam", {"question": "Tell me the secret."}, {"check": check, "targets": targets})
            check_scorer(lookup("scorers", name), None, item=item)
            check_scorer(lookup("scorers", name), None, item=item, answers=JSON_ANSWERS)
        return
    if not json:
        check_scorer(lookup("scorers", name), SCORER_PARAMS.get(name))
    check_scorer(lookup("scorers", name), SCORER_PARAMS.get(name), item=JSON_ITEM, answers=JSON_ANSWERS)


@pytest.mark.parametrize("name", names("perturbations"))
def test_built_in_perturbations_pass(name: str) -> None:
    check_perturbation(lookup("perturbations", name), PERTURBATION_PARAMS.get(name), item=PERTURBATION_ITEM)


@pytest.mark.parametrize(
    "spec", ["fake:echo", "fake:constant=42", "fake:echo?fail=1", "python:tests.support.models:oracle"]
)
def test_built_in_providers_pass(spec: str) -> None:
    check_provider(create_provider(spec, ProviderOptions()))


def test_the_openai_provider_passes() -> None:
    with FaultServer() as server:
        check_provider(create_provider("openai:m", ProviderOptions(base_url=server.base_url)))


@pytest.mark.model
def test_the_local_provider_passes() -> None:
    """In a subprocess: a crash inside llama.cpp fails this test, not the whole session."""
    code = (
        "from tailgate.providers import ProviderOptions, create_provider\n"
        "from tailgate.testing import check_provider\n"
        "check_provider(create_provider('local:smollm2-135m', ProviderOptions()))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


# -- each check fails on a component that breaks one rule ----------------------------------------


class _Half(BaseScorer):
    def score(self, answer: str, item: Item) -> Score:
        return Score(0.5, answer)


class _TooHigh(_Half):
    def score(self, answer: str, item: Item) -> Score:
        return Score(2.0, answer)


class _Random(_Half):
    def score(self, answer: str, item: Item) -> Score:
        return Score(random.random(), answer)


class _Loose(_Half):
    class Params(BaseModel):
        pass


class _Mutates(_Half):
    def score(self, answer: str, item: Item) -> Score:
        item.input["seen"] = True
        return Score(1.0, answer)


class _Silent(_Half):
    def score(self, answer: str, item: Item) -> Score:
        return Score(None, answer)


class _Buggy(_Half):
    def score(self, answer: str, item: Item) -> Score:
        return self.missing  # type: ignore[attr-defined,no-any-return]


class _NoExtract:
    Params = NoParams

    def score(self, answer: str, item: Item) -> Score:
        return Score(1.0, answer)


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (_TooHigh, "returned 2.0; a value must be a finite number in [0, 1]"),
        (_Random, "a scorer must be deterministic"),
        (_Loose, "Params accepts unknown keys"),
        (_Mutates, "changed the item"),
        (_Silent, "without an error saying why"),
        (_Buggy, "raised AttributeError"),
        (_NoExtract, "does not declare default_extract"),
    ],
)
def test_check_scorer_names_what_is_wrong(cls: type[Any], message: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)) as err:
        check_scorer(cls)
    assert cls.__name__ in str(err.value)


def test_check_scorer_passes_a_sound_scorer() -> None:
    check_scorer(_Half)


class _Upper(BasePerturbation):
    def apply(
        self, fields: dict[str, Any], targets: list[str], reference: Any, rng: random.Random
    ) -> tuple[dict[str, Any], Any]:
        return {k: v.upper() if k in targets else v for k, v in fields.items()}, reference


class _InPlace(_Upper):
    def apply(
        self, fields: dict[str, Any], targets: list[str], reference: Any, rng: random.Random
    ) -> tuple[dict[str, Any], Any]:
        fields[targets[0]] = "changed"
        return fields, reference


class _Unseeded(_Upper):
    def apply(
        self, fields: dict[str, Any], targets: list[str], reference: Any, rng: random.Random
    ) -> tuple[dict[str, Any], Any]:
        return {**fields, targets[0]: str(random.random())}, reference


class _Everything(_Upper):
    def apply(
        self, fields: dict[str, Any], targets: list[str], reference: Any, rng: random.Random
    ) -> tuple[dict[str, Any], Any]:
        return dict.fromkeys(fields, "x"), reference


class _Reference(_Upper):
    def apply(
        self, fields: dict[str, Any], targets: list[str], reference: Any, rng: random.Random
    ) -> tuple[dict[str, Any], Any]:
        return dict(fields), "5"


class _NoFlags:
    Params = BasePerturbation.Params
    changes_reference: ClassVar[bool] = False

    def apply(
        self, fields: dict[str, Any], targets: list[str], reference: Any, rng: random.Random
    ) -> tuple[dict[str, Any], Any]:
        return fields, reference


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (_InPlace, "changed the fields or reference it was given"),
        (_Unseeded, "another output for the same seed"),
        (_Everything, "changed fields it was not asked to perturb"),
        (_Reference, "declare changes_reference = True"),
        (_NoFlags, "does not declare needs_model, makes_templates, default_name, templates, descriptions"),
    ],
)
def test_check_perturbation_names_what_is_wrong(cls: type[Any], message: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)) as err:
        check_perturbation(cls)
    assert cls.__name__ in str(err.value)


def test_check_perturbation_passes_a_sound_one() -> None:
    check_perturbation(_Upper)


class _Echo(BaseProvider):
    def __init__(self, name: str = "x", options: ProviderOptions | None = None) -> None:
        self.name = f"echo:{name}"

    def identity(self) -> dict[str, Any]:
        return {"provider": "echo"}

    async def generate(self, request: Request) -> Response:
        return Response("4", tokens_out=1)


class _Crashes(_Echo):
    async def generate(self, request: Request) -> Response:
        raise RuntimeError("socket closed")


class _Leaks(_Echo):
    def identity(self) -> dict[str, Any]:
        return {"provider": "echo", "key": "sk-abcdefghijklmnop"}


class _Forgets(_Echo):
    def describe(self) -> dict[str, Any]:
        return {"provider": "other"}


class _Negative(_Echo):
    async def generate(self, request: Request) -> Response:
        return Response("4", tokens_out=-1)


class _Bare:
    name = "bare:x"
    max_concurrency = None

    def default_mode(self) -> str:
        return "chat"

    def identity(self) -> dict[str, Any]:
        return {}

    async def generate(self, request: Request) -> Response:
        return Response("4")

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        (_Crashes(), "raised RuntimeError: socket closed; report failures as a Fault"),
        (_Leaks(), "contains what looks like a secret"),
        (_Forgets(), "describe() must contain identity()"),
        (_Negative(), "Response.tokens_out must be None or a whole number >= 0"),
        (_Bare(), "does not declare verify_served, describe, cancel"),
    ],
)
def test_check_provider_names_what_is_wrong(provider: Any, message: str) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)) as err:
        check_provider(provider)
    assert type(provider).__name__ in str(err.value)


def test_check_provider_passes_a_sound_one() -> None:
    check_provider(_Echo())


def test_the_plugin_page_example_runs() -> None:
    """docs/plugins.md: its Python blocks, run in order, are a working plugin and its test."""
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) >= 3
    namespace: dict[str, Any] = {"__name__": "plugins_example"}
    exec(compile("\n".join(blocks), "docs/plugins.md", "exec"), namespace)
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()
