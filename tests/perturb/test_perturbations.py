"""Every generator: deterministic under a seed, and the reference stays correct after it."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import jinja2
import pytest

from tailgate.config import load_suite
from tailgate.errors import InputError
from tailgate.perturb import build_variants, item_rng
from tailgate.perturb._formats import GRAMMAR, Formats
from tailgate.records import Item
from tailgate.registry import lookup, names
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store
from tests.support.suites import make_suite

MC = (
    "Which planet is the largest in the Solar System? John Smith asked 3 friends.\n"
    "A) Mars\nB) Jupiter\nC) Venus\nD) Mercury\nAnswer with the letter."
)
ITEM = Item("h1", {"question": MC, "options": ["Mars", "Jupiter", "Venus", "Mercury"]}, "B")

BUILT_IN = [
    "casing",
    "column",
    "distractor",
    "formats",
    "instruction",
    "names",
    "punctuation",
    "shuffle_options",
    "typos",
    "whitespace",
]


def _apply(name: str, item: Item = ITEM, seed: int = 0, **params: Any) -> tuple[dict[str, Any], Any]:
    cls = lookup("perturbations", name)
    impl = cls(cls.Params.model_validate(params))
    return impl.apply(dict(item.input), ["question"], item.reference, item_rng(seed, "v", item.item_id))  # type: ignore[no-any-return]


def _options(text: str) -> dict[str, str]:
    return {m.group(1).upper(): m.group(2) for m in re.finditer(r"(?m)^\s*\(?([A-Ja-j])[).:\]]\s+(.*)$", text)}


def test_every_built_in_is_registered() -> None:
    assert set(BUILT_IN) <= set(names("perturbations"))


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("typos", {"rate": 0.3}),
        ("casing", {"mode": "random"}),
        ("whitespace", {}),
        ("punctuation", {}),
        ("instruction", {}),
        ("distractor", {"paragraphs": 2}),
        ("shuffle_options", {}),
        ("names", {}),
    ],
)
def test_same_seed_same_variant_and_the_answer_survives(name: str, params: dict[str, Any]) -> None:
    first = _apply(name, **params)
    assert first == _apply(name, **params)  # deterministic
    others = {repr(_apply(name, seed=s, **params)) for s in range(8)}
    assert len(others) > 1  # the seed matters
    fields, reference = first
    text = fields["question"]
    assert text != MC  # it did something
    # the right option's text is still under the reference's letter, numbers are untouched
    assert _options(text)[str(reference).upper()].strip(" .,;:!?").lower() in {"jupiter"}
    assert "3" in text
    assert fields["options"] == ITEM.input["options"]  # fields it was not asked to touch


def test_typos_leave_names_numbers_and_the_reference_alone() -> None:
    for seed in range(20):
        fields, _ = _apply("typos", seed=seed, rate=1.0)
        text = fields["question"]
        assert "John Smith" in text
        assert "Jupiter" in text
        assert "Solar System" in text
        assert " 3 " in text
        assert text != MC


def test_shuffle_options_remaps_letters_indices_and_lists() -> None:
    for seed in range(30):
        fields, ref = _apply("shuffle_options", seed=seed)
        assert _options(fields["question"])[ref] == "Jupiter"
        assert list(_options(fields["question"])) == ["A", "B", "C", "D"]  # labels stay in order
        assert fields["question"] != MC  # never the original order
    item = Item("h2", {"options": ["Mars", "Jupiter", "Venus"]}, 1)
    cls = lookup("perturbations", "shuffle_options")
    impl = cls(cls.Params(reference="index"))
    for seed in range(10):
        out, ref = impl.apply(dict(item.input), ["options"], 1, random.Random(seed))
        assert out["options"][ref] == "Jupiter"
    text_ref = cls(cls.Params(reference="text"))
    out, ref = text_ref.apply({"options": ["a", "b"]}, ["options"], "b", random.Random(0))
    assert ref == "b"
    assert out["options"] == ["b", "a"]


def test_names_cross_languages_and_the_reference_follows() -> None:
    item = Item("n1", {"question": "Oluwaseun gave John 4 apples. Who has the apples?"}, "John")
    seen = set()
    for seed in range(20):
        fields, ref = _apply("names", item, seed=seed)
        assert "John" not in fields["question"]
        assert ref in fields["question"]
        assert "4 apples" in fields["question"]
        seen.add(ref)
    assert len(seen) > 3


def test_casing_keeps_option_labels() -> None:
    fields, ref = _apply("casing", mode="lower")
    assert _options(fields["question"])[ref] == "jupiter"
    assert "\nB) jupiter" in fields["question"]


def test_column_uses_the_paraphrase_column() -> None:
    item = Item("c1", {"question": "What is 2+2?", "q2": "How much is two plus two?"}, 4)
    fields, ref = _apply("column", item, column="q2")
    assert fields["question"] == "How much is two plus two?"
    assert ref == 4
    with pytest.raises(KeyError):
        _apply("column", item, column="q3")


def test_formats_are_distinct_deterministic_and_render_every_option() -> None:
    impl = Formats(
        Formats.Params.model_validate(
            {"layout": [{"field": "question", "label": "Question"}], "options": "options", "include_original": True}
        )
    )
    made = impl.templates("format", 6, seed=0)
    assert [t.name for t in made] == [f"format{k}" for k in range(7)]
    assert [t.text for t in made] == [t.text for t in impl.templates("format", 6, seed=0)]
    assert len({t.text for t in made}) == 7
    assert made[0].text is not None
    assert made[0].text.startswith("Question: {{ question }}")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    for template in made:
        rendered = env.from_string(template.text or "").render(
            question="Which planet?", options=["Mars", "Jupiter", "Venus"]
        )
        assert "Which planet?" in rendered
        letters = re.findall(r"[\[(]?([A-Ca-c])[).:\]]\s(Mars|Jupiter|Venus)", rendered)
        assert [(x.upper(), y) for x, y in letters] == [("A", "Mars"), ("B", "Jupiter"), ("C", "Venus")], rendered
    assert len(GRAMMAR["enumerator"]) >= 5


def _mc_suite(folder: Path, variants: list[dict[str, Any]]) -> Path:
    rows = [
        {"id": "p", "question": MC, "answer": "B"},
        {
            "id": "g",
            "question": "Which gas do plants take in?\nA) Oxygen\nB) Helium\nC) Carbon dioxide\nAnswer with a letter.",
            "answer": "C",
        },
    ]
    return make_suite(
        folder,
        rows,
        scorers=[{"type": "choice"}],
        extra={"dataset": {"path": "items.jsonl", "id": "id", "reference": "answer"}, "variants": variants},
    )


def test_a_run_over_shuffled_variants_scores_against_the_remapped_reference(tmp_path: Path) -> None:
    suite = _mc_suite(tmp_path / "s", [{"generator": "shuffle_options", "count": 5}])
    result = run_sync(
        RunOptions(
            suite=str(suite),
            model="python:tests.support.models:option_reader",
            store=str(tmp_path / "store"),
            cache=False,
        )
    )
    rows = Store(tmp_path / "store").read_records(result.run_id).to_pylist()
    variants = {r["variant"] for r in rows}
    assert variants == {"original", *(f"original+shuffle_options{k}" for k in range(1, 6))}
    assert len(rows) == 12
    assert all(r["score"] == 1.0 for r in rows), [(r["variant"], r["output"]) for r in rows if r["score"] != 1.0]
    prompts = {r["prompt"] for r in rows if r["item_id"] == rows[0]["item_id"]}
    assert len(prompts) > 2  # the shuffles differ
    manifest = Store(tmp_path / "store").manifest(result.run_id).as_dict()
    assert manifest["suite"]["config"]["variants"][0]["generator"] == "shuffle_options"


def test_bad_variant_entries_name_the_line(tmp_path: Path) -> None:
    suite = _mc_suite(tmp_path / "a", [{"generator": "typoz"}])
    with pytest.raises(InputError) as err:
        build_variants(load_suite(str(suite)))
    assert "unknown perturbation 'typoz'" in str(err.value)
    assert err.value.line is not None
    suite = _mc_suite(tmp_path / "b", [{"generator": "typos", "rate": 7}])
    with pytest.raises(InputError, match="rate"):
        build_variants(load_suite(str(suite)))
    suite = _mc_suite(tmp_path / "c", [{"generator": "typos", "templates": ["nope"]}])
    with pytest.raises(InputError, match="no template named 'nope'"):
        build_variants(load_suite(str(suite)))
