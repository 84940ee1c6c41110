"""The shadow report's statistics, each against an independent computation, and its edges."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from tailgate.analysis import ShadowOptions, chrf, shadow_report
from tailgate.analysis._shadow import ShadowSide, agreement_difference, candidate_report
from tailgate.analysis._shadow_text import asks_json_valid, exact_match, is_refusal
from tailgate.errors import RunNotFound, StoreError
from tailgate.store import Store
from tests.support.shadow import Answer, Request, write_session

REPO = Path(__file__).resolve().parents[2]
POOL = REPO / "bench" / "results" / "shadow_pool.jsonl"
FROZEN = REPO / "tests" / "data" / "frozen" / "shadow-report.json"


# --- chrF: worked examples ---------------------------------------------------------------------


def test_chrf_worked_example() -> None:
    # "abc" vs "abd": order 1: {a,b,c} vs {a,b,d}, 2 matches of 3 -> P = R = 2/3; order 2: {ab,bc}
    # vs {ab,bd}: 1/2; order 3: {abc} vs {abd}: 0; orders 4-6 have no n-grams (skipped).
    # P = R = (2/3 + 1/2 + 0) / 3 = 7/18, F1 = 7/18 (Popović 2015, eq. 1 with beta = 1).
    assert chrf("abc", "abd") == pytest.approx(7 / 18)
    # "the cat" vs "cat the": whitespace removed -> "thecat" vs "catthe"; by hand per order:
    # n=1: 6/6; n=2: {th,he,ec,ca,at} vs {ca,at,tt,th,he}: 4/5; n=3: {the,hec,eca,cat} vs
    # {cat,att,tth,the}: 2/4; n=4: 0/3; n=5: 0/2; n=6: 0/1 -> P = R = (1 + .8 + .5) / 6
    assert chrf("the cat", "cat the") == pytest.approx((1 + 0.8 + 0.5) / 6)


def test_chrf_edges_and_symmetry() -> None:
    assert chrf("", "") == 1.0
    assert chrf("", "abc") == 0.0
    assert chrf("a b c", "abc") == 1.0  # whitespace is removed, as sacrebleu's chrF does
    a, b = "The quick brown fox", "A quick brown dog jumps"
    assert chrf(a, b) == pytest.approx(chrf(b, a))
    assert 0.0 < chrf(a, b) < 1.0
    assert exact_match(" x ", "x") == 1.0
    assert exact_match("x", "y") == 0.0


def test_text_rules() -> None:
    assert is_refusal("I'm sorry, but I can't help with that.")
    assert not is_refusal("Sure: here is the answer.")
    assert asks_json_valid('```json\n{"a": 1}\n```')
    assert asks_json_valid("[1, 2]")
    assert not asks_json_valid("{a: 1}")
    assert not asks_json_valid("")


# --- the agreement difference against statsmodels ----------------------------------------------


def _stacked_ols(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Independent computation: OLS of the stacked per-item values on an intercept and a "noise
    pair" dummy, SEs clustered on items (statsmodels' sandwich). The dummy's coefficient is
    mean_B(b) - mean_A(a), so D^ is minus it, with the same (cluster-robust) variance."""
    import statsmodels.api as sm

    ia, ib = np.flatnonzero(np.isfinite(a)), np.flatnonzero(np.isfinite(b))
    y = np.concatenate([a[ia], b[ib]])
    x = sm.add_constant(np.concatenate([np.zeros(ia.size), np.ones(ib.size)]))
    groups = np.concatenate([ia, ib])
    fit = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False})
    return -float(fit.params[1]), float(fit.bse[1])


def test_agreement_difference_matches_cluster_robust_ols() -> None:
    rng = np.random.default_rng(3)
    n = 200
    effect = rng.normal(0, 0.1, n)  # a prompt effect shared by both pairs: the covariance matters
    a = np.clip(0.3 + effect + rng.normal(0, 0.08, n), 0, 1)
    b = np.where(rng.random(n) < 0.3, np.clip(0.33 + effect + rng.normal(0, 0.08, n), 0, 1), np.nan)
    a[[5, 17]] = np.nan  # a candidate fault on two items (one may be a noise item)
    d = agreement_difference(a, b, "chrf")
    value, se = _stacked_ols(a, b)
    g = int((np.isfinite(a) | np.isfinite(b)).sum())
    assert d.difference is not None
    assert d.difference.se is not None
    assert d.difference.value == pytest.approx(value)
    assert d.difference.se == pytest.approx(se * math.sqrt(g / (g - 1)), rel=1e-9)
    # and the closed form Var(a-bar) + Var(b-bar) - 2 Cov(a-bar, b-bar) (one plug-in, no ddof)
    ia, ib = np.isfinite(a), np.isfinite(b)
    va = float(np.var(a[ia])) / ia.sum()
    vb = float(np.var(b[ib])) / ib.sum()
    both = ia & ib
    cov = float(np.sum((a[both] - a[ia].mean()) * (b[both] - b[ib].mean()))) / (ia.sum() * ib.sum())
    assert d.difference.se == pytest.approx(math.sqrt((va + vb - 2 * cov) * g / (g - 1)))
    assert cov > 0  # the prompt effect: ignoring it would overstate the variance
    from scipy import stats

    df = int(ib.sum()) - 1
    assert d.p_value == pytest.approx(2 * stats.t.sf(abs(value) / d.difference.se, df))
    assert d.difference.low == pytest.approx(value - stats.t.ppf(0.975, df) * d.difference.se)


def test_agreement_difference_coverage_by_simulation() -> None:
    """Coverage of the 95% interval at a known truth (a model with prompt effects, a noise subset
    of 25%): within 0.93..0.97 over 1,000 replications (MC SE 0.007)."""
    rng = np.random.default_rng(11)
    n, reps, truth = 150, 1000, -0.02
    cover = 0
    for _ in range(reps):
        effect = rng.normal(0, 0.12, n)
        a = np.clip(0.3 + truth + effect + rng.normal(0, 0.1, n), 0, 1)
        b = np.where(rng.random(n) < 0.25, np.clip(0.3 + effect + rng.normal(0, 0.1, n), 0, 1), np.nan)
        d = agreement_difference(a, b, "chrf").difference
        assert d is not None
        assert d.low is not None
        assert d.high is not None
        # the clipping at 0 and 1 moves the means a little: the truth is the clipped model's
        cover += int(d.low <= truth <= d.high)
    assert 0.93 <= cover / reps <= 0.975


def test_agreement_difference_without_noise_invents_nothing() -> None:
    d = agreement_difference(np.array([0.2, 0.3]), None, "chrf")
    assert d.noise is None
    assert d.difference is None
    assert d.p_value is None
    assert d.n_noise_items == 0


# --- sessions in a store ------------------------------------------------------------------------


def _pool_requests(n: int, *, noise_every: int = 3, candidate: str = "g0") -> list[Request]:
    prompts, samples = [], {}
    for line in POOL.read_text("utf-8").splitlines():
        row = json.loads(line)
        if row["type"] == "prompt":
            prompts.append(row)
        else:
            samples.setdefault(row["pid"], {})[row["sample"]] = row
    out = []
    for k, p in enumerate(prompts[:n]):
        s = samples[p["pid"]]
        ans = {name: Answer(s[name]["text"], round(s[name]["latency_ms"], 1)) for name in ("s0", "s1", "s2", "g0")}
        noise = ans["s1"] if k % noise_every == 0 else None
        out.append(Request(p["prompt"], ans["s0"], [ans[candidate]], noise, p["attributes"]))
    return out


def test_frozen_json(tmp_path: Path) -> None:
    """Real SmolLM2 (primary, noise) and Gemma (candidate) answers from the committed pool: the
    report's JSON is frozen (regenerate with TAILGATE_FREEZE=1 and say why in the commit)."""
    store = Store(tmp_path)
    write_session(store, "s1", _pool_requests(60))
    data = shadow_report(store, "s1", ShadowOptions(bootstrap=500)).as_dict()
    text = json.dumps(data, indent=1, sort_keys=False, ensure_ascii=False) + "\n"
    if os.environ.get("TAILGATE_FREEZE") == "1":
        FROZEN.write_text(text, "utf-8")
    assert text == FROZEN.read_text("utf-8")
    assert data["schema"] == "tailgate.shadow_report/1"
    # no agreement interval is a point: exact match is 0 on every pair of this pool, and chrF of
    # identical pairs has no spread, yet finite data never gives [x, x] (issue 9)
    for cand in data["candidates"]:
        for block in (cand["agreement"], cand["exact_match"]):
            for key in ("candidate", "noise", "difference"):
                est = block[key]
                if est is not None and est["low"] is not None:
                    assert est["low"] < est["high"], (block["measure"], key, est)


def test_session_with_faults_and_slices(tmp_path: Path) -> None:
    store = Store(tmp_path)
    requests = _pool_requests(60)
    requests[1] = Request(requests[1].prompt, requests[1].primary, [Answer(None, 5.0, "server_error")],
                          requests[1].noise, requests[1].attributes)  # fmt: skip
    write_session(store, "s2", requests)
    report = shadow_report(store, "s2")
    c = report.candidates[0]
    assert report.n_items == 59  # the pool's first 60 prompts hold one ShareGPT duplicate: one request key
    assert c.agreement.n_items == 58
    assert c.agreement.n_noise_items == report.n_noise_items == 20
    assert c.error_rate is not None
    assert c.error_rate.cand_value == pytest.approx(1 / 59)
    assert set(c.latency) == {"p50", "p95", "p99"}
    assert c.latency["p99"].delta.low is None  # 58 items cannot carry a p99 interval
    assert c.latency["p50"].delta.low is not None
    assert c.differing_items == tuple(sorted(c.differing_items, key=lambda i: i.agreement))
    assert "ttft" in c.unavailable


def test_no_noise_run_says_the_floor_is_missing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    write_session(store, "s3", _pool_requests(30), noise_run=False)
    report = shadow_report(store, "s3")
    c = report.candidates[0]
    assert report.noise_run is None
    assert c.verdict == "noise floor missing"
    assert c.agreement.difference is None
    assert c.agreement.noise is None
    assert c.noise_floor is None
    assert any("noise floor missing" in w for w in c.warnings)
    assert not any(i.beyond_noise for i in c.differing_items)


def test_missing_and_empty_sessions(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(RunNotFound, match="no shadow session 'nope'"):
        shadow_report(store, "nope")
    write_session(store, "empty", [])
    with pytest.raises(StoreError, match="no mirrored requests"):
        shadow_report(store, "empty")


def test_a_a_on_real_outputs_is_no_difference() -> None:
    """SmolLM2 against itself on 150 pool prompts (roles s0/s1/s2): no difference beyond noise,
    while every answer differs from the primary's (a naive diff flags all)."""
    requests = _pool_requests(150, noise_every=2, candidate="s2")
    n = len(requests)
    ids = [str(i) for i in range(n)]

    def side(answers: list[Answer | None]) -> ShadowSide:
        s = ShadowSide.empty(n)
        for i, a in enumerate(answers):
            if a is not None:
                s.outputs[i], s.latency_ms[i], s.present[i] = a.output, a.latency_ms, True
        return s

    primary = side([r.primary for r in requests])
    cand = side([r.candidates[0] for r in requests])
    noise = side([r.noise for r in requests])
    c = candidate_report(ids, ids, [r.attributes for r in requests], primary, cand, noise)
    assert c.verdict == "no difference beyond noise", c.agreement
    assert c.naive_diff_share is not None
    assert c.naive_diff_share > 0.95
