"""The viewer's HTTP API (aiohttp's test client) on the known pair: routes, errors, headers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tailgate.view import SECURITY_HEADERS, ViewState, make_app
from tests.support.view_runs import EXPECTED_TAGS


def _with_client(
    state: ViewState, body: Callable[[TestClient[Any, Any]], Awaitable[None]], hosts: set[str] | None = None
) -> None:
    async def main() -> None:
        async with TestClient(TestServer(make_app(state, hosts))) as client:
            await body(client)

    asyncio.run(main())


def _secure(headers: Any) -> None:
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_pages_and_assets_are_served_with_the_security_headers(pair_state: ViewState) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        for path, kind in (
            ("/", "text/html"),
            ("/static/view.js", "text/javascript"),
            ("/static/view.css", "text/css"),
        ):
            response = await client.get(path)
            assert response.status == 200, path
            assert response.content_type == kind
            for name, value in SECURITY_HEADERS.items():
                assert response.headers[name] == value
        page = await (await client.get("/")).text()
        assert '<script src="static/view.js" defer></script>' in page
        assert "http://" not in page
        assert "https://" not in page
        for path in ("/static/../_app.py", "/static/index2.html", "/nothing", "/api/item/none"):
            response = await client.get(path)
            assert response.status == 404, path
            _secure(response.headers)

    _with_client(pair_state, body)


def test_the_diff_api(pair_state: ViewState) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        meta = await (await client.get("/api/meta")).json()
        assert meta["mode"] == "diff"
        assert [r["run_id"] for r in meta["runs"]] == ["base", "cand"]
        response = await client.get("/api/diff")
        assert response.headers["Cache-Control"] == "no-store"
        diff = await response.json()
        assert {t: v["count"] for t, v in diff["tags"].items()} == EXPECTED_TAGS
        assert "plots" not in diff
        assert all(row["filter"] and "levels" in row for row in diff["slices"])
        assert (await client.get("/api/report")).status == 404

    _with_client(pair_state, body)


def test_items_and_item_api(pair_state: ViewState) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        page = await (await client.get("/api/items", params={"filter": "tag:regressed  slice:lang=en"})).json()
        assert page["filter"] == "tag:regressed slice:lang=en"
        assert sorted(r["source_id"] for r in page["rows"]) == ["v1", "v3"]
        item_id = page["rows"][0]["item_id"]
        item = await (await client.get(f"/api/item/{item_id}")).json()
        assert item["tag"] == "regressed"
        assert item["reference"]["text"] == item["source_id"].replace("v", "A")
        base, cand = item["sides"]
        assert [(c["answer"], c["count"]) for c in base["classes"]] == [(item["reference"]["text"].lower(), 3)]
        assert [(c["answer"], c["count"]) for c in cand["classes"]] == [("nope", 3)]
        flaky = await (await client.get("/api/items", params={"filter": "tag:flaky"})).json()
        detail = await (await client.get(f"/api/item/{flaky['rows'][0]['item_id']}")).json()
        classes = sorted((c["answer"] != "nope", c["count"]) for c in detail["sides"][1]["classes"])
        assert classes == [(False, 2), (True, 1)]  # right on repeat 0 only: two classes, 2 + 1

    _with_client(pair_state, body)


@pytest.mark.parametrize(
    ("query", "status", "fragment"),
    [
        ({"filter": "scor<1"}, 400, "unknown number field"),
        ({"filter": "tag:x"}, 400, "unknown tag"),
        ({"filter": "", "offset": "-1"}, 400, "offset must be 0 or more"),
        ({"filter": "", "limit": "ten"}, 400, "limit must be an integer"),
    ],
)
def test_bad_requests_say_why(pair_state: ViewState, query: dict[str, str], status: int, fragment: str) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        response = await client.get("/api/items", params=query)
        assert response.status == status
        assert fragment in (await response.json())["error"]
        _secure(response.headers)

    _with_client(pair_state, body)


def test_a_filter_error_names_its_column(pair_state: ViewState) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        data = await (await client.get("/api/items", params={"filter": "score<1 tag:x"})).json()
        assert data["column"] == 9
        assert data["filter"] == "score<1 tag:x"

    _with_client(pair_state, body)


def test_another_host_header_is_refused(pair_state: ViewState) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        response = await client.get("/api/diff", headers={"Host": "evil.example:8765"})
        assert response.status == 421
        _secure(response.headers)

    _with_client(pair_state, body, hosts={"127.0.0.1:8765"})


def test_one_run_serves_the_report(run_state: ViewState) -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        assert (await (await client.get("/api/meta")).json())["mode"] == "report"
        report = await (await client.get("/api/report")).json()
        assert report["overview"]["n_items"] == 12
        assert (await client.get("/api/diff")).status == 404

    _with_client(run_state, body)


def test_json_has_no_nan() -> None:
    from tailgate.view._state import finite

    assert finite({"a": [float("nan"), 1.5, {"b": float("inf")}], "c": (float("-inf"), "x")}) == {
        "a": [None, 1.5, {"b": None}],
        "c": [None, "x"],
    }


def test_long_text_is_cut_and_counted() -> None:
    from tailgate.view._state import MAX_TEXT, _text

    cut = _text("\x1b[31m" + "x" * (MAX_TEXT + 10))
    assert cut is not None
    assert cut["length"] == MAX_TEXT + 15
    assert len(cut["text"]) >= MAX_TEXT  # (the escape is shown as a visible stand-in)
    assert "\x1b" not in cut["text"]
    assert _text(None) is None
    assert _text(float("nan")) is None
