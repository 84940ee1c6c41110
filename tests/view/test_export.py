"""``tailgate view --export DIR``: the same page over precomputed JSON files."""

from __future__ import annotations

import json
from pathlib import Path

from tailgate.store import Store
from tailgate.view import export_view
from tests.support.view_runs import EXPECTED_TAGS


def test_the_export_has_the_page_and_the_precomputed_views(known_pair: tuple[Store, str, str], tmp_path: Path) -> None:
    store, base, cand = known_pair
    result = export_view([base, cand], tmp_path / "site", store=store)
    site = tmp_path / "site"
    index = (site / "index.html").read_text(encoding="utf-8")
    assert '<meta name="tailgate-data" content="static">' in index
    assert "default-src 'self'" in index
    assert (site / "static" / "view.js").read_bytes() == (
        Path(__file__).resolve().parents[2] / "src" / "tailgate" / "view" / "static" / "view.js"
    ).read_bytes()
    diff = json.loads((site / "data" / "diff.json").read_text(encoding="utf-8"))
    assert {t: v["count"] for t, v in diff["tags"].items()} == EXPECTED_TAGS
    filters = json.loads((site / "data" / "filters.json").read_text(encoding="utf-8"))
    assert {"", *(f"tag:{t}" for t in EXPECTED_TAGS), *(s["filter"] for s in diff["slices"])} <= set(filters)
    regressed = json.loads((site / "data" / filters["tag:regressed"]).read_text(encoding="utf-8"))
    assert sorted(r["source_id"] for r in regressed["rows"]) == ["v0", "v1", "v2", "v3"]
    items = json.loads((site / "data" / "item-files.json").read_text(encoding="utf-8"))
    assert len(items) == 12 == result.items
    one = json.loads((site / "data" / items[regressed["rows"][0]["item_id"]]).read_text(encoding="utf-8"))
    assert one["tag"] == "regressed"
    assert result.filters == len(set(filters.values()))


def test_the_export_of_one_run(known_pair: tuple[Store, str, str], tmp_path: Path) -> None:
    store, _, cand = known_pair
    export_view([cand], tmp_path / "site", store=store)
    report = json.loads((tmp_path / "site" / "data" / "report.json").read_text(encoding="utf-8"))
    assert report["overview"]["n_items"] == 12
    assert not (tmp_path / "site" / "data" / "diff.json").exists()
