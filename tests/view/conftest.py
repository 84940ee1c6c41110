"""Fixtures of the viewer's tests: the known pair (tests/support/view_runs.py) and its view state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tailgate.store import Store
from tailgate.view import ViewState
from tests.support.view_runs import make_pair


@pytest.fixture(scope="session")
def known_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, str, str]:
    return make_pair(tmp_path_factory.mktemp("view-pair"))


@pytest.fixture(scope="session")
def pair_state(known_pair: tuple[Store, str, str]) -> Iterator[ViewState]:
    store, base, cand = known_pair
    state = ViewState(store, [base, cand])
    yield state
    state.close()


@pytest.fixture(scope="session")
def run_state(known_pair: tuple[Store, str, str]) -> Iterator[ViewState]:
    store, _, cand = known_pair
    state = ViewState(store, [cand])
    yield state
    state.close()
