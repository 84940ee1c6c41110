"""The view state's background comparison: the first screen (tags, levels) is served before the
comparison is computed, the rest once it is; a failed comparison is an error, not a blank."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

import tailgate._api
from tailgate.errors import UsageError
from tailgate.store import Store
from tailgate.view import ViewState, make_app
from tests.support.view_runs import EXPECTED_TAGS


class Gate:
    """``tailgate._api.compare_runs`` held until :meth:`open` (a slow comparison, on demand)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail: Exception | None = None) -> None:
        self.event = threading.Event()
        self.calls = 0
        real = tailgate._api.compare_runs

        def slow(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            assert self.event.wait(60), "the test never opened the gate"
            if fail is not None:
                raise fail
            return real(*args, **kwargs)

        monkeypatch.setattr(tailgate._api, "compare_runs", slow)

    def open(self) -> None:
        self.event.set()


@pytest.fixture
def held(known_pair: tuple[Store, str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ViewState, Gate]]:
    store, base, cand = known_pair
    gate = Gate(monkeypatch)
    state = ViewState(store, [base, cand], background=True)
    try:
        yield state, gate
    finally:
        gate.open()
        state.close()


def _with_client(state: ViewState, body: Callable[[TestClient[Any, Any]], Any]) -> None:
    async def main() -> None:
        async with TestClient(TestServer(make_app(state))) as client:
            await body(client)

    asyncio.run(main())


def test_the_first_screen_is_served_before_the_comparison(held: tuple[ViewState, Gate], pair_state: ViewState) -> None:
    state, gate = held

    async def body(client: TestClient[Any, Any]) -> None:
        response = await client.get("/api/diff")
        assert response.status == 200
        first = await response.json()
        for _ in range(600):  # (the worker thread has started and is held at the gate)
            if gate.calls:
                break
            await asyncio.sleep(0.05)
        assert gate.calls == 1
        assert not state.ready  # (the comparison is still held: this answer did not wait for it)
        assert first["pending"] is True
        assert {t: v["count"] for t, v in first["tags"].items()} == EXPECTED_TAGS
        assert "slices" not in first
        assert "overall" not in first
        # each run's level over the 12 items, with its n and interval, as the full diff has it
        full = pair_state.diff()
        assert first["levels"] == full["levels"]
        assert first["tags"] == full["tags"]
        # the rest of the API works meanwhile
        page = await (await client.get("/api/items", params={"filter": "tag:regressed"})).json()
        assert sorted(r["source_id"] for r in page["rows"]) == ["v0", "v1", "v2", "v3"]
        item = await (await client.get(f"/api/item/{page['rows'][0]['item_id']}")).json()
        assert item["tag"] == "regressed"
        assert (await (await client.get("/api/meta")).json())["mode"] == "diff"
        gate.open()
        assert state.wait(60) is not None
        done = await (await client.get("/api/diff")).json()
        assert done["pending"] is False
        assert done == {**full, "pending": False}  # the same diff as one computed up front
        assert len(done["slices"]) == len(full["slices"]) > 0

    _with_client(state, body)


def test_the_synchronous_state_has_everything(pair_state: ViewState) -> None:
    assert pair_state.ready
    diff = pair_state.diff()
    assert diff["pending"] is False
    assert diff["slices"]
    assert pair_state.comparison is not None


def test_a_failed_comparison_is_an_error(known_pair: tuple[Store, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    store, base, cand = known_pair
    gate = Gate(monkeypatch, fail=UsageError("the runs' suites changed under item ids q1, q2"))
    state = ViewState(store, [base, cand], background=True)
    try:

        async def body(client: TestClient[Any, Any]) -> None:
            assert (await (await client.get("/api/diff")).json())["pending"] is True
            gate.open()
            with pytest.raises(UsageError, match="suites changed"):
                state.wait(60)
            response = await client.get("/api/diff")
            assert response.status == 500
            assert "suites changed under item ids q1, q2" in (await response.json())["error"]

        _with_client(state, body)
    finally:
        state.close()
    gate.open()
    with pytest.raises(UsageError, match="suites changed"):  # computed up front: the constructor raises
        ViewState(store, [base, cand])


def test_wait_times_out(held: tuple[ViewState, Gate]) -> None:
    state, _ = held
    with pytest.raises(TimeoutError):
        state.wait(0.05)
