"""``tailgate drift``'s analysis: explained drift's statistics against independent computations,
the report in pair and monitoring mode, and its JSON form."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tailgate.analysis import (
    DriftReport,
    DriftWindow,
    analyse_drift,
    attribute_drift,
    log_odds_ngrams,
    newcombe_difference,
    slice_shifts,
    typical_requests,
)

# --- Newcombe's hybrid score interval ----------------------------------------------------------


def test_newcombe_matches_the_published_example() -> None:
    """Newcombe (1998), Stat. Med. 17:873, Table II, example (a): 56/70 - 48/80 = 0.2000,
    method 10 (score interval, hybrid) 0.0524 to 0.3339."""
    d = newcombe_difference(48, 80, 56, 70)  # reference 48/80, current 56/70: current - reference
    assert d.value == pytest.approx(0.2)
    assert (round(d.low, 4), round(d.high, 4)) == (0.0524, 0.3339)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"), [(0, 10, 3, 12), (5, 50, 5, 50), (990, 1000, 400, 1000), (1, 7, 0, 9)]
)
def test_newcombe_matches_statsmodels(x1: int, n1: int, x2: int, n2: int) -> None:
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(x2, n2, x1, n1, method="newcomb", compare="diff")
    d = newcombe_difference(x1, n1, x2, n2)
    assert d.value == pytest.approx(x2 / n2 - x1 / n1)
    assert (d.low, d.high) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))


# --- log-odds with an informative Dirichlet prior ----------------------------------------------


def test_log_odds_by_hand() -> None:
    """Monroe, Colaresi & Quinn (2008), eqs. 16-22, with the pooled counts as the prior, by hand
    for the n-gram "json": y_c = 30, y_r = 2 of n_c = 100, n_r = 100; a = 32, a0 = 200."""
    terms = ["json", "the", "code"]
    ref, cur = np.array([2, 60, 38]), np.array([30, 60, 10])
    up, down = log_odds_ngrams(terms, ref, cur, top=3)
    delta = math.log((30 + 32) / (100 + 200 - 30 - 32)) - math.log((2 + 32) / (100 + 200 - 2 - 32))
    z = delta / math.sqrt(1 / (30 + 32) + 1 / (2 + 32))
    assert up[0].ngram == "json"
    assert up[0].log_odds == pytest.approx(delta)
    assert up[0].z == pytest.approx(z)
    assert (up[0].ref_count, up[0].cur_count) == (2, 30)
    assert [s.ngram for s in down] == ["code"]  # "the" has z = 0: in neither list
    assert down[0].z < 0


def test_log_odds_shrinks_rare_terms() -> None:
    """The prior makes a term seen 1 vs 0 times weaker evidence than one seen 40 vs 20 times,
    although its raw ratio is infinite."""
    up, _ = log_odds_ngrams(["rare", "common", "rest"], np.array([0, 20, 500]), np.array([1, 40, 480]), top=2)
    assert [s.ngram for s in up] == ["common", "rare"]


# --- slices and typical requests ---------------------------------------------------------------


def test_slice_shifts_rank_by_change_and_fold_binary_attributes() -> None:
    lang = attribute_drift("lang", ["en"] * 80 + ["de"] * 20, ["en"] * 50 + ["de"] * 40 + ["fr"] * 10)
    code = attribute_drift("has_code", [True] * 10 + [False] * 90, [True] * 15 + [False] * 85)
    shifts = slice_shifts([lang, code])
    assert [s.label for s in shifts] == ["lang=en", "lang=de", "lang=fr", "has_code=True"]
    de = shifts[1]
    assert (de.ref_count, de.ref_n, de.cur_count, de.cur_n) == (20, 100, 40, 100)
    assert de.difference.value == pytest.approx(0.2)
    assert de.significant
    expected = newcombe_difference(20, 100, 40, 100)
    assert (de.difference.low, de.difference.high) == (expected.low, expected.high)
    assert not shifts[3].significant  # 10% -> 15% of 100: the interval holds 0


def test_typical_requests_are_the_most_window_like_and_cut() -> None:
    ref, cur = ["a", "b", "c", "d"], ["w", "x" * 500, "y", "z"]
    scores = np.array([-3.0, -1.0, -2.0, 0.5, 2.0, 3.0, 0.1, 1.0])
    typical = typical_requests(ref, cur, scores)
    assert [(t.window, t.text[:3]) for t in typical] == [
        ("cur", "xxx"), ("cur", "w"), ("cur", "z"), ("ref", "a"), ("ref", "c"), ("ref", "b"),
    ]  # fmt: skip
    assert len(typical[0].text) == 300
    assert typical[0].text.endswith("...")


# --- the report --------------------------------------------------------------------------------


def _windows(n: int, sizes: list[int]) -> list[DriftWindow]:
    names = ["ref", "cur"] if n == 2 else [f"window {k}" for k in range(n)]
    return [DriftWindow(k, names[k], "spec", sizes[k], None, None) for k in range(n)]


def _lang(rng: np.random.Generator, n: int, de: float) -> dict[str, np.ndarray]:
    return {"lang": rng.choice(["en", "de"], n, p=[1 - de, de]), "chars": rng.lognormal(5, 1, n)}


def test_a_pair_with_a_shift_names_the_slice_and_an_a_a_pair_does_not_drift() -> None:
    rng = np.random.default_rng(4)
    shifted = analyse_drift(_windows(2, [600, 600]), [_lang(rng, 600, 0.05), _lang(rng, 600, 0.20)], mode="pair")
    assert shifted.drift_detected
    assert shifted.comparisons[0].drifted == ("lang",)
    assert shifted.explanation is not None
    assert shifted.explanation.slices[0].label == "lang=de"
    assert shifted.verdict == "drift: lang (BH-adjusted p <= 0.05)"
    same = analyse_drift(_windows(2, [600, 600]), [_lang(rng, 600, 0.05), _lang(rng, 600, 0.05)], mode="pair")
    assert not same.drift_detected
    assert same.verdict == "no drift: none of 2 tests has a BH-adjusted p <= 0.05"


def test_monitoring_mode_alarms_after_the_shift_and_explains_that_window() -> None:
    rng = np.random.default_rng(5)
    arrays = [_lang(rng, 400, 0.05) for _ in range(6)] + [_lang(rng, 400, 0.30) for _ in range(2)]
    report = analyse_drift(_windows(8, [400] * 8), arrays, mode="every", every="400")
    assert report.monitor is not None
    assert report.monitor.alarm_at == 6
    assert report.drift_detected
    assert report.explanation is not None
    assert report.explanation.cur == 6
    assert [c.window for c in report.comparisons] == list(range(1, 8))
    assert report.monitored == ("lang", "chars")
    assert report.verdict.startswith("drift: the monitor alarmed at window 6 of 7")


def test_small_windows_and_missing_attributes_are_warned() -> None:
    rng = np.random.default_rng(6)
    a, b = _lang(rng, 50, 0.1), _lang(rng, 60, 0.1)
    a["latency_ms"] = np.full(50, np.nan)
    b["latency_ms"] = rng.normal(100, 10, 60)
    report = analyse_drift(_windows(2, [50, 60]), [a, b], mode="pair")
    assert report.attributes == ("lang", "chars")
    assert "ref (spec): only 50 requests: the tests have little power" in report.warnings
    assert "not tested (no value in some window): latency_ms" in report.warnings


def test_text_tests_join_the_correction_and_explain(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    ref_t = [f"how do I sort a list in python {i}" for i in range(60)]
    cur_t = [f"please answer in valid json only {i}" for i in range(60)]
    report = analyse_drift(
        _windows(2, [60, 60]),
        [_lang(rng, 60, 0.1), _lang(rng, 60, 0.1)],
        mode="pair",
        texts=lambda i, j: (ref_t, cur_t, None),
    )
    c = report.comparisons[0]
    assert [t.name for t in c.text] == ["text: domain classifier"]
    assert "text: domain classifier" in c.drifted
    assert report.drift_detected
    e = report.explanation
    assert e is not None
    assert "json" in [s.ngram for s in e.cur_ngrams]
    assert {t.window for t in e.typical} == {"ref", "cur"}
    assert len(e.typical) == 6
    # BH over attributes and text together, by hand
    from scipy.stats import false_discovery_control

    raw = [a.test.p_value for a in c.attributes.attributes] + [c.text[0].test.p_value]
    adjusted = false_discovery_control(raw, method="bh")
    assert [a.p_adjusted for a in c.attributes.attributes] + [c.text[0].p_adjusted] == pytest.approx(adjusted)


def test_the_json_form_round_trips_and_is_versioned() -> None:
    rng = np.random.default_rng(8)
    arrays = [_lang(rng, 300, 0.05) for _ in range(3)] + [_lang(rng, 300, 0.4)]
    report = analyse_drift(_windows(4, [300] * 4), arrays, mode="every", every="300")
    data = json.loads(json.dumps(report.as_dict()))
    assert data["schema_version"] == 1
    assert set(data) == {
        "schema_version", "mode", "every", "windows", "comparisons", "monitor", "explanation", "alpha", "seed",
        "attributes", "monitored", "drift_detected", "verdict", "run_id", "by", "warnings",
    }  # fmt: skip
    assert DriftReport.from_dict(data) == report
    with pytest.raises(ValueError, match="schema version 1"):
        DriftReport.from_dict({**data, "schema_version": 2})
    broken = {**data, "windows": [{**data["windows"][0], "n": "many"}, *data["windows"][1:]]}
    with pytest.raises(ValueError, match=r"report\.windows\[0\]\.n: expected int, got str"):
        DriftReport.from_dict(broken)
