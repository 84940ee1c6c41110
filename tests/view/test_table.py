"""The per-item tags (against a hand-computed example) and the table's agreement with compare."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tailgate.view import FilterError, ViewState, item_tags, parse_filter
from tailgate.view._table import ItemStats
from tests.support.view_runs import EXPECTED_TAGS


def _stats(n: list[int], p: list[int], flaky: list[bool]) -> ItemStats:
    size = len(n)
    return ItemStats(
        n=np.array(n),
        s=np.array(p, dtype=float),
        q=np.array(p, dtype=float),
        p=np.array(p),
        latency=np.full(size, np.nan),
        flaky=np.array(flaky),
    )


def test_tags_of_a_hand_computed_example() -> None:
    # item: base passes/samples (units flaky?) | candidate             | tag, by hand
    # A     3/3                                | 0/3                   | regressed
    # B     0/3                                | 3/3                   | improved
    # C     1/2 (units 1/1, 0/1: consistent)   | 1/2                   | unchanged
    # D     1/3 (one unit 1/3: flaky)          | 3/3                   | flaky
    # E     no scored sample                   | 2/2                   | -1 (not tagged)
    # F     1/2                                | 2/4 (units 2/2, 0/2)  | unchanged: 2/4 = 1/2
    # G     1/3 (units 1/1, 0/1, 0/1)          | 1/2                   | improved: 1/2 > 1/3
    # H     2/2                                | 1/2 (units 1/1, 0/1)  | regressed
    # I     2/2                                | 1/2 (one unit 1/2)    | flaky (the candidate's repeats disagree)
    base = _stats([3, 3, 2, 3, 0, 2, 3, 2, 2], [3, 0, 1, 1, 0, 1, 1, 2, 2], [0, 0, 0, 1, 0, 0, 0, 0, 0])
    cand = _stats([3, 3, 2, 3, 2, 4, 2, 2, 2], [0, 3, 1, 3, 2, 2, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert item_tags(base, cand).tolist() == [0, 1, 2, 3, -1, 2, 1, 0, 3]


def test_the_known_pair_has_the_hand_counted_tags(pair_state: ViewState) -> None:
    assert pair_state.items("")["tags"] == pair_state.diff()["tags"]
    counts = {tag: entry["count"] for tag, entry in pair_state.diff()["tags"].items()}
    assert counts == EXPECTED_TAGS
    flaky = pair_state.items("tag:flaky")["rows"]
    assert sorted(r["source_id"] for r in flaky) == ["v10", "v11"]
    regressed = pair_state.items("tag:regressed")["rows"]
    assert sorted(r["source_id"] for r in regressed) == ["v0", "v1", "v2", "v3"]


def test_the_table_pairs_what_compare_pairs(pair_state: ViewState) -> None:
    comparison = pair_state.comparison
    assert comparison is not None
    diff = pair_state.diff()
    assert diff["n_tagged"] == comparison.pairing.shared_items == 12
    # the levels over all items are the comparison's own base and candidate estimates
    for side, level in (("base", comparison.overall.base), ("cand", comparison.overall.cand)):
        assert diff["levels"][side] == level.as_dict()
    # a slice's items are the ones compare tested: as many, with the same mean delta
    for row in diff["slices"]:
        page = pair_state.items(row["filter"])
        assert page["matched"]["count"] == row["n_items"]
        delta = page["levels"]["cand"]["value"] - page["levels"]["base"]["value"]
        assert delta == pytest.approx(row["delta"]["value"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("score<0.5", {"v0", "v1", "v2", "v3", "v9", "v10", "v11"}),
        ("base.score=1 cand.score=0", {"v0", "v1", "v2", "v3"}),
        ("delta>0", {"v4", "v5"}),
        ("delta<0 -tag:flaky", {"v0", "v1", "v2", "v3"}),
        ("slice:lang=en tag:regressed", {"v1", "v3"}),
        ("-slice:lang=en tag:regressed", {"v0", "v2"}),
        ("id:v1", {"v1", "v10", "v11"}),
        ('text:"item 7."', {"v7"}),
        ('"ITEM 7."', {"v7"}),
        ("output:nope tag:improved", {"v4", "v5"}),  # the base said nope
        ("output:nope slice:lang=fr", {"v0", "v2", "v4", "v10"}),
        ("variant:original tag:unchanged", {"v6", "v7", "v8", "v9"}),
        ("variant:missing", set()),
        ("samples=3", {f"v{i}" for i in range(12)}),
        ("latency>=0", {f"v{i}" for i in range(12)}),
        ("latency<0", set()),
        ("scores.exact<1", {"v0", "v1", "v2", "v3", "v9", "v10", "v11"}),  # the scorer's own values
        ("base.scores.exact=0", {"v4", "v5", "v9"}),
    ],
)
def test_filters_select_the_items_by_hand(pair_state: ViewState, text: str, expected: set[str]) -> None:
    page = pair_state.items(text)
    assert {r["source_id"] for r in page["rows"]} == expected
    assert page["matched"]["count"] == len(expected)
    assert page["filter"] == parse_filter(text).text()


def test_items_come_worst_first_and_page(pair_state: ViewState) -> None:
    rows = pair_state.items("")["rows"]
    assert [r["tag"] for r in rows[:4]] == ["regressed"] * 4
    page = pair_state.items("", offset=10, limit=5)
    assert [r["item_id"] for r in page["rows"]] == [r["item_id"] for r in rows[10:]]


@pytest.mark.parametrize(("text", "fragment"), [("tag:flaky", "tag: needs two runs"), ("delta<0", "needs two runs")])
def test_one_run_refuses_what_needs_two(run_state: ViewState, text: str, fragment: str) -> None:
    with pytest.raises(FilterError, match=fragment):
        run_state.items(text)


def test_an_unknown_attribute_is_named(pair_state: ViewState) -> None:
    with pytest.raises(FilterError, match=r"no attribute 'langue' \(attributes: .*lang"):
        pair_state.items("slice:langue=fr")


def test_one_run_lists_every_item_with_its_samples(run_state: ViewState) -> None:
    page = run_state.items("score<1")
    assert {r["source_id"] for r in page["rows"]} == {"v0", "v1", "v2", "v3", "v9", "v10", "v11"}
    item = run_state.item(page["rows"][0]["item_id"])
    assert [s["role"] for s in item["sides"]] == ["run"]
    assert len(item["sides"][0]["samples"]) == 3


def test_an_unknown_scorer_is_named(pair_state: ViewState) -> None:
    with pytest.raises(FilterError, match=r"no scorer 'judge' in the cand run \(scorers: exact\)"):
        pair_state.items("scores.judge<1")


def test_two_variants_pair_like_compare(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tailgate.view import ViewState
    from tests.support.view_runs import TWO_TEMPLATES, make_pair

    store, base, cand = make_pair(tmp_path_factory.mktemp("two-variants"), TWO_TEMPLATES)
    state = ViewState(store, [base, cand])
    try:
        diff = state.diff()
        # the models answer alike on both variants: the same tags, on 12 items of 2 units each
        assert {t: v["count"] for t, v in diff["tags"].items()} == EXPECTED_TAGS
        variant_rows = [row for row in diff["slices"] if row["kind"] == "variant"]
        assert sorted(row["filter"] for row in variant_rows) == ["variant:original", "variant:para"]
        for row in diff["slices"]:
            page = state.items(row["filter"])
            assert page["matched"]["count"] == row["n_items"]
            delta = page["levels"]["cand"]["value"] - page["levels"]["base"]["value"]
            assert delta == pytest.approx(row["delta"]["value"])
        page = state.items("variant:para tag:regressed")
        assert sorted(r["source_id"] for r in page["rows"]) == ["v0", "v1", "v2", "v3"]
        assert {r["cand"]["samples"] for r in page["rows"]} == {3}  # one variant's samples count
        assert {r["cand"]["samples"] for r in state.items("tag:regressed")["rows"]} == {6}
    finally:
        state.close()


def test_one_run_with_unscored_samples(tmp_path: Path) -> None:
    """An item none of whose samples was scored is listed (no score), and nothing warns."""
    from tailgate.store import ImportSpec, Store, import_records
    from tailgate.view import ViewState

    rows = [
        {"item": "i0", "r": 0, "score": 1.0, "out": "a"},
        {"item": "i0", "r": 1, "score": 0.0, "out": "b"},
        {"item": "i1", "r": 0, "score": 1.0, "out": "a"},
        {"item": "i1", "r": 1, "score": 1.0, "out": "a"},
        {"item": "i2", "r": 0, "score": None, "out": None},
        {"item": "i2", "r": 1, "score": 0.0, "out": "c"},
        {"item": "i3", "r": 0, "score": None, "out": None},
        {"item": "i3", "r": 1, "score": None, "out": None},
    ]
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    store = Store(tmp_path / "store")
    spec = ImportSpec(file=str(path), item="item", score="score", repeat="r", output="out", run_id="imp")
    import_records(store, spec)
    state = ViewState(store, ["imp"])
    try:
        page = state.items("")
        samples = {r["item_id"]: r["cand"]["samples"] for r in page["rows"]}
        assert sorted(samples.values()) == [0, 1, 2, 2]
        assert state.items("samples=0")["matched"]["count"] == 1
        assert state.items("score<1")["matched"]["count"] == 2  # i0 (0.5) and i2 (0.0); i3 has no score
        unscored = next(r for r in page["rows"] if r["cand"]["samples"] == 0)
        assert unscored["cand"]["score"]["value"] is None
        assert [s["output"] for s in state.item(unscored["item_id"])["sides"][0]["samples"]] == [None, None]
    finally:
        state.close()
