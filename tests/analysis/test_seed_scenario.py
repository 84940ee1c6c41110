"""The seed scenario: two models with the same mean, A failing at random on 10% of samples, B
failing every item longer than 2,000 tokens or with a non-English name. The report must tell
them apart, and discovery must name B's slices."""

from __future__ import annotations

import pytest

from tailgate.analysis import build_report
from tailgate.store import Store


@pytest.fixture(scope="module")
def reports(seed_runs: tuple[Store, dict[str, str]]) -> dict[str, dict[str, object]]:
    """The reports of the session's two seed runs (tests/conftest.py)."""
    store, ids = seed_runs
    return {name: build_report(store, run_id).as_dict() for name, run_id in ids.items()}


def test_same_mean(reports: dict[str, dict[str, object]]) -> None:
    a = reports["random_failures"]["overview"]["score"]  # type: ignore[index]
    b = reports["systematic_failures"]["overview"]["score"]  # type: ignore[index]
    assert a["value"] == pytest.approx(0.9, abs=0.02)
    assert b["value"] == pytest.approx(0.9, abs=1e-9)
    assert a["low"] < b["value"] < a["high"]  # the means cannot tell them apart


def test_failure_profiles_differ(reports: dict[str, dict[str, object]]) -> None:
    a = reports["random_failures"]["profile"]  # type: ignore[index]
    b = reports["systematic_failures"]["profile"]  # type: ignore[index]
    assert a["verdict"].startswith("random")
    assert b["verdict"].startswith("systematic")
    assert a["icc"]["high"] < 0.2
    assert b["icc"]["low"] > 0.9
    assert a["never_pass"]["value"] < 0.02
    assert b["never_pass"]["value"] == pytest.approx(0.1)
    # random failures over 5 tries still leave most items without a failure (Gini ~0.67 for p=0.1)
    assert b["gini"]["value"] > 0.85
    assert b["gini"]["low"] > a["gini"]["high"]
    # pass^5: B passes its good items every time, A almost never passes 5 in a row on every item
    pass5 = {
        name: next(p for p in r["pass_k"] if p["k"] == 5)["pass_hat_k"]["value"]  # type: ignore[index]
        for name, r in reports.items()
    }
    assert pass5["systematic_failures"] == pytest.approx(0.9)
    assert pass5["random_failures"] < 0.7


def test_discovery_names_b_slices_and_not_a(reports: dict[str, dict[str, object]]) -> None:
    found_b = {s["label"] for s in reports["systematic_failures"]["discovery"]["slices"]}  # type: ignore[index]
    assert any(label.startswith("auto:input_tokens=2000-4000") for label in found_b), found_b
    assert any("auto:names=non_english" in label for label in found_b), found_b
    found_a = reports["random_failures"]["discovery"]["slices"]  # type: ignore[index]
    assert not any("input_tokens" in s["label"] or "non_english" in s["label"] for s in found_a)
    top = reports["systematic_failures"]["profile"]["concentration"]  # type: ignore[index]
    assert top["share_of_errors"] == pytest.approx(0.5)
