"""Every variant says what it is (issue 9, item 12): a generated format's description is the
skeleton of the very prompt it renders; perturbed variants name their generator and parameters;
the run's manifest records them and the robustness tables show them."""

from __future__ import annotations

import io
import re
from pathlib import Path

import jinja2
import pytest
from rich.console import Console

from tailgate.analysis import build_report
from tailgate.perturb._formats import Formats
from tailgate.report import render_html, render_report
from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store
from tests.support.suites import make_suite

LAYOUT = [{"field": "question", "label": "Question"}]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("instruction", [None, "Pick one."])
def test_a_format_description_is_the_skeleton_of_its_prompt(seed: int, instruction: str | None) -> None:
    impl = Formats(
        Formats.Params.model_validate(
            {"layout": LAYOUT, "options": "options", "instruction": instruction, "include_original": True}
        )
    )
    templates = impl.templates("format", 8, seed)
    described = impl.descriptions("format", 8, seed)
    assert list(described) == [t.name for t in templates]
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    for template in templates:
        rendered = env.from_string(template.text or "").render(question="Q?", options=["x", "y"])
        expected = rendered.replace("\n", "\\n")
        skeleton = described[template.name].replace("{question}", "Q?").replace("[instruction]", instruction or "")
        first, second = skeleton.split(" …", 2)[:2], skeleton.split(" …", 2)[2]
        assert f"{first[0]} x{first[1]} y{second}" == expected, template.name


def test_run_manifest_and_report_carry_the_descriptions(tmp_path: Path) -> None:
    rows = [{"id": f"q{k}", "question": f"Pick {k}?", "options": ["yes", "no <i>"], "answer": "A"} for k in range(6)]
    suite = make_suite(
        tmp_path / "s",
        rows,
        scorers=[{"type": "choice"}],
        templates=[{"name": "original", "messages": [{"role": "user", "content": "<b>Q</b> {{ question }}\n"}]}],
        extra={
            "dataset": {"path": "items.jsonl", "id": "id", "reference": "answer"},
            "variants": [
                {"generator": "formats", "count": 2, "layout": LAYOUT, "options": "options"},
                {"generator": "typos", "rate": 0.2, "fields": ["question"]},
                {"generator": "shuffle_options", "fields": ["options"]},
            ],
        },
    )
    store = Store(tmp_path / "store")
    run_id = run_sync(RunOptions(suite=str(suite), model="fake:constant=B", store=str(store.root))).run_id
    described = store.manifest(run_id).variant_descriptions
    assert set(described) == {"original", "format1", "format2", "original+typos", "original+shuffle_options"}
    assert described["original"] == "<b>Q</b> {{ question }}"  # the template as run (chat)
    assert described["original+typos"] == "typos (rate=0.2) on template original, fields question"
    assert "the reference follows the change" in described["original+shuffle_options"]
    assert "{question}" in described["format1"]
    report = build_report(store, run_id)
    variants = {v["variant"]: v["description"] for v in report.as_dict()["robustness"]["variants"]}
    assert variants == described
    out = io.StringIO()
    Console(file=out, width=100, force_terminal=False).print(render_report(report))
    text = out.getvalue()
    assert "what each variant is" in text
    assert "typos (rate=0.2) on template original" in text
    html = render_html(report)
    assert "typos (rate=0.2) on template original, fields question" in html
    assert "&lt;b&gt;Q&lt;/b&gt; {{ question }}" in html
    assert "<b>Q</b>" not in html
    robust = report.as_dict()["robustness"]
    doc = (Path(__file__).resolve().parents[2] / "docs" / "robustness.md").read_text(encoding="utf-8")
    for key, rows in (("variants", robust["variants"]), ("most_flipping", robust["most_flipping"])):
        start = doc.index(f" {key}: [{{")
        body = re.sub(r"\{[^{}]*\}", "", doc[doc.index("{", start) + 1 : doc.index("}]", start)])
        documented = body.replace("\n", " ").split(",")
        assert rows, key
        assert set(rows[0]) == {f.split(":")[0].strip() for f in documented}, key
