"""Drift statistics (analysis/_drift.py, _drift_text.py, _monitor.py) against scipy, closed forms
and exact enumeration; plus a fast calibration subset of bench/drift_calibration.py that can fail.

References: Pearson's chi-square and the G-test as in ``scipy.stats.chi2_contingency``; the
k-sample Anderson-Darling test of Scholz & Stephens (1987) as ``scipy.stats.anderson_ksamp``;
``scipy.stats.ks_2samp``; ``scipy.spatial.distance.jensenshannon``; the AUC standard error of
Hanley & McNeil (1982, Radiology 143:29), which at AUC = 1/2 is the Mann-Whitney null variance
(n1 + n0 + 1) / (12 n1 n0); the biased MMD^2 of Gretton et al. (2012, JMLR 13:723, eq. 5); the
calibrator of Vovk & Wang (2021, Ann. Stat. 49:1736), whose integral over (0, 1) is 1.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.spatial.distance import jensenshannon

from tailgate.analysis import _drift
from tailgate.analysis._drift import (
    _permutation_p,
    attribute_drift,
    categorical_test,
    jensen_shannon,
    numeric_test,
    psi,
    window_drift,
)
from tailgate.analysis._drift_text import _hanley_mcneil, classifier_test, domain_classifier, mmd_test
from tailgate.analysis._monitor import DriftMonitor, calibrate_e, monitor
from tailgate.analysis._stats import adjust_bh


def _labels(counts: dict[str, int]) -> np.ndarray:
    return np.array([k for k, n in counts.items() for _ in range(n)])


def test_chi_square_matches_scipy() -> None:
    ref = _labels({"en": 120, "de": 40, "fr": 40})
    cur = _labels({"en": 90, "de": 70, "fr": 40})
    table = np.array([[40, 120, 40], [70, 90, 40]])  # columns in sorted order: de, en, fr
    chi2, p, dof, _ = stats.chi2_contingency(table, correction=False)
    got = categorical_test(ref, cur, method="chi-square")
    assert got.method == "chi-square"
    assert got.statistic == pytest.approx(chi2, rel=1e-12)
    assert got.p_value == pytest.approx(p, rel=1e-10)
    assert got.dof == dof
    # the default takes the asymptotic branch only where every expected count is >= 1,000
    big_ref, big_cur = _labels({"en": 12_000, "de": 4_000}), _labels({"en": 11_800, "de": 4_200})
    chi2, p, _, _ = stats.chi2_contingency(np.array([[4_000, 12_000], [4_200, 11_800]]), correction=False)
    got = categorical_test(big_ref, big_cur)
    assert got.method == "chi-square"
    assert got.p_value == pytest.approx(p, rel=1e-10)


def _chi_square_size(rare: int, n_ref: int, n_cur: int) -> float:
    """The exact conditional size of the asymptotic 5% chi-square test of a 2 x 2 table whose
    rare column has ``rare`` requests: the reference's count of them is hypergeometric
    (scipy.stats.hypergeom), and X^2 of each possible table is Pearson's closed form."""
    total = n_ref + n_cur
    x = np.arange(rare + 1)
    col = np.array([rare, total - rare], dtype=float)
    e_r, e_c = col * n_ref / total, col * n_cur / total
    rows = np.stack([x, n_ref - x], axis=1)
    x2 = np.sum((rows - e_r) ** 2 / e_r + ((col - rows) - e_c) ** 2 / e_c, axis=1)
    pmf = stats.hypergeom(total, rare, n_ref).pmf(x)
    return float(pmf[x2 >= stats.chi2.ppf(0.95, 1)].sum())


def test_default_is_exact_where_cochran_allows_chi_square() -> None:
    """Every expected count >= 5 was Cochran's licence for the asymptotic chi-square, but its
    conditional size is then far from 0.05: 0.022 for a 2 x 2 table with expected counts of 5
    (computed exactly here from the hypergeometric law), 0.038 at 20. The default routes such
    tables to the exact randomised test, whose size is 0.05: over 3,000 tables drawn from that
    hypergeometric law (scipy's generator, not the product's) its rejection rate is within 3.5 MC
    SE of 0.05, where the old route's would be 0.021 (7.3 SE below)."""
    assert _chi_square_size(10, 500, 500) == pytest.approx(0.0209, abs=0.0001)
    assert _chi_square_size(40, 5_000, 5_000) == pytest.approx(0.0381, abs=0.0001)
    assert _chi_square_size(2_000, 5_000, 5_000) == pytest.approx(0.05, abs=0.003)  # e = 1,000
    tables = stats.hypergeom(1_000, 10, 500).rvs(size=3_000, random_state=np.random.RandomState(5))
    reps, hits = tables.size, 0
    for i, x in enumerate(tables):
        ref = np.r_[np.ones(x, dtype=int), np.zeros(500 - x, dtype=int)]
        cur = np.r_[np.ones(10 - x, dtype=int), np.zeros(490 + x, dtype=int)]
        got = categorical_test(ref, cur, permutations=99, seed=i)
        assert got.method.startswith("exact conditional")
        hits += got.p_value <= 0.05
    assert abs(hits / reps - 0.05) < 3.5 * math.sqrt(0.05 * 0.95 / reps)


def test_g_test_matches_scipy() -> None:
    ref = _labels({"a": 30, "b": 50, "c": 20})
    cur = _labels({"a": 45, "b": 35, "c": 20})
    g, p, _, _ = stats.chi2_contingency(
        np.array([[30, 50, 20], [45, 35, 20]]), correction=False, lambda_="log-likelihood"
    )
    got = categorical_test(ref, cur, method="g")
    assert got.statistic == pytest.approx(g, rel=1e-10)
    assert got.p_value == pytest.approx(p, rel=1e-10)


def _exact_law(ref_counts: list[int], cur_counts: list[int]) -> tuple[float, float]:
    """Exact conditional P(X^2 > obs) and P(X^2 = obs) by enumeration: every reference row with the
    observed margins, weighted by its multivariate hypergeometric probability."""
    col = np.array(ref_counts) + np.array(cur_counts)
    n_ref, n_cur = sum(ref_counts), sum(cur_counts)
    total = n_ref + n_cur

    def chi2(row: np.ndarray) -> float:
        e_r, e_c = col * n_ref / total, col * n_cur / total
        return float(np.sum((row - e_r) ** 2 / e_r + (col - row - e_c) ** 2 / e_c))

    obs = chi2(np.array(ref_counts))
    above = equal = 0.0
    for row in itertools.product(*(range(c + 1) for c in col)):
        if sum(row) != n_ref:
            continue
        prob = math.prod(math.comb(int(c), r) for c, r in zip(col, row, strict=True)) / math.comb(total, n_ref)
        x = chi2(np.array(row))
        if abs(x - obs) <= 1e-9 * max(1.0, obs):
            equal += prob
        elif x > obs:
            above += prob
    return above, equal


def _exact_p(ref_counts: list[int], cur_counts: list[int]) -> float:
    above, equal = _exact_law(ref_counts, cur_counts)
    return min(above + equal, 1.0)


@pytest.mark.parametrize(("ref", "cur"), [([6, 2, 1], [2, 5, 3]), ([9, 1, 0], [4, 3, 3]), ([3, 3, 2], [3, 4, 1])])
def test_exact_fallback_matches_enumeration(ref: list[int], cur: list[int]) -> None:
    names = ["x", "y", "z"]
    r, c = _labels(dict(zip(names, ref, strict=True))), _labels(dict(zip(names, cur, strict=True)))
    above, equal = _exact_law(ref, cur)
    for ties, exact in (("conservative", above + equal), ("mid-p", above + equal / 2)):
        got = categorical_test(r, c, permutations=40_000, ties=ties)  # type: ignore[arg-type]
        assert got.method.startswith("exact conditional")
        assert abs(got.p_value - exact) < 4 * math.sqrt(max(exact * (1 - exact), 0.0) / 40_000) + 1e-4
    # randomised: P(> obs) + U P(= obs) for a seeded U, so between the two ends
    got = categorical_test(r, c, permutations=40_000)
    assert "at random" in (got.note or "")
    slack = 4 * math.sqrt(0.25 / 40_000)
    assert above - slack <= got.p_value <= above + equal + slack
    assert got.p_value == categorical_test(r, c, permutations=40_000).p_value  # deterministic given the seed


def test_permutation_p_value_closed_forms() -> None:
    """3 null draws above the observed value, 4 equal, B = 19: conservative (1 + 3 + 4) / 20,
    mid-p (3 + 5/2) / 20, randomised (3 + K) / 20 with K uniform on 1..5."""
    null = np.array([5.0] * 3 + [2.0] * 4 + [1.0] * 12)
    rng = np.random.default_rng(0)
    assert _permutation_p(null, 2.0, "conservative", rng) == pytest.approx(8 / 20)
    assert _permutation_p(null, 2.0, "mid-p", rng) == pytest.approx(5.5 / 20)
    got = [_permutation_p(null, 2.0, "randomised", np.random.default_rng(s)) for s in range(5000)]
    values, counts = np.unique(np.round(np.array(got) * 20).astype(int), return_counts=True)
    assert values.tolist() == [4, 5, 6, 7, 8]
    assert stats.chisquare(counts).pvalue > 0.001  # uniform over the tied ranks


def test_randomised_exact_test_has_exact_size_where_categories_are_rare() -> None:
    """A/A splits of 50 + 50 requests with a 3% category (as ShareGPT's `asks_json`) and a
    language mix with rare tails: the conservative exact test rejects almost never (its smallest
    attainable p-value is often above 0.05), the randomised one at 5% (its rank among the B + 1
    exchangeable values is uniform, so the rejection count is Binomial(reps, 0.05) exactly)."""
    rng = np.random.default_rng(21)
    flag = rng.random(20_000) < 0.03
    lang = rng.choice(list("abcdefgh"), 20_000, p=[0.8, 0.06, 0.04, 0.03, 0.03, 0.02, 0.01, 0.01])
    reps, n = 1500, 50
    hits = {("flag", "randomised"): 0, ("flag", "conservative"): 0, ("lang", "randomised"): 0}
    for r in range(reps):
        idx = rng.choice(20_000, 2 * n, replace=False)
        for (name, ties), _ in list(hits.items()):
            x = flag if name == "flag" else lang
            p = categorical_test(x[idx[:n]], x[idx[n:]], permutations=999, seed=r, ties=ties).p_value  # type: ignore[arg-type]
            hits[(name, ties)] += p <= 0.05
    se = math.sqrt(0.05 * 0.95 / reps)
    assert abs(hits[("flag", "randomised")] / reps - 0.05) < 3.5 * se
    assert abs(hits[("lang", "randomised")] / reps - 0.05) < 3.5 * se
    assert hits[("flag", "conservative")] / reps < 0.05 - 3.5 * se  # the old behaviour, for contrast


def test_one_category_is_no_drift() -> None:
    assert categorical_test(["a"] * 5, ["a"] * 7).p_value == 1.0


def test_numeric_tests_match_scipy() -> None:
    rng = np.random.default_rng(3)
    a, b = np.round(rng.lognormal(5, 1, 300)), np.round(rng.lognormal(5.2, 1, 250))
    ad = stats.anderson_ksamp([a, b], variant="midrank")
    got = numeric_test(a, b, null="table")
    assert got.statistic == pytest.approx(ad.statistic)
    assert got.p_value == pytest.approx(ad.pvalue)
    ks = stats.ks_2samp(a, b)
    got = numeric_test(a, b, method="ks")
    assert (got.statistic, got.p_value) == (pytest.approx(ks.statistic), pytest.approx(ks.pvalue))


@pytest.mark.parametrize("case", ["continuous", "rounded", "small integers", "unequal sizes"])
def test_anderson_darling_statistic_from_counts_matches_scipy(case: str) -> None:
    """The permutation null recomputes A^2_akN from the table of counts at the distinct values:
    its standardised value must be scipy's midrank statistic, ties or not."""
    rng = np.random.default_rng(len(case))
    a, b = rng.normal(size=80), rng.normal(0.2, 1, size=80)
    if case == "rounded":
        a, b = np.round(a, 1), np.round(b, 1)
    elif case == "small integers":
        a, b = rng.geometric(0.5, 60).astype(float), rng.geometric(0.45, 90).astype(float)
    elif case == "unequal sizes":
        b = b[:23]
    got = numeric_test(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns when its table's p-value is capped
        expected = stats.anderson_ksamp([a, b], variant="midrank").statistic
    assert got.statistic == pytest.approx(expected, rel=1e-9)


def test_anderson_darling_permutation_matches_enumeration() -> None:
    """Brute force: scipy's AD statistic on every one of the C(11, 5) = 462 splits of the pooled
    values gives the exact permutation law; our conservative and mid-p p-values (B = 40,000 draws
    of the count table) must match it within Monte-Carlo error."""
    a = np.array([1.0, 1, 2, 2, 3])
    b = np.array([2.0, 3, 3, 4, 4, 5])
    pooled = np.r_[a, b]

    def ad(x: np.ndarray, y: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns that its table's p-value is capped
            return float(stats.anderson_ksamp([x, y], variant="midrank").statistic)

    obs = ad(a, b)
    law = []
    for idx in itertools.combinations(range(11), 5):
        mask = np.zeros(11, dtype=bool)
        mask[list(idx)] = True
        law.append(ad(pooled[mask], pooled[~mask]))
    null = np.array(law)
    above = float(np.mean(null > obs + 1e-9))
    equal = float(np.mean(np.abs(null - obs) <= 1e-9))
    for ties, exact in (("conservative", above + equal), ("mid-p", above + equal / 2)):
        got = numeric_test(a, b, permutations=40_000, ties=ties)  # type: ignore[arg-type]
        assert abs(got.p_value - exact) < 4 * math.sqrt(max(exact * (1 - exact), 0.0) / 40_000) + 1e-4, ties
    got = numeric_test(a, b, permutations=40_000)
    assert above - 0.01 <= got.p_value <= above + equal + 0.01


def test_anderson_darling_coarsens_many_distinct_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above AD_CELLS distinct values the pooled values are cut at pooled quantiles first: the same
    as running the test on those (label-free) bins by hand."""
    monkeypatch.setattr(_drift, "AD_CELLS", 40)
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=300), rng.normal(0.1, 1, size=300)
    got = numeric_test(a, b, seed=3)
    assert got.note is not None
    assert "pooled quantiles" in got.note
    pooled = np.r_[a, b]
    edges = np.unique(np.quantile(pooled, np.linspace(0, 1, 41)[1:-1]))
    cut = np.searchsorted(edges, pooled, side="left").astype(float)
    by_hand = numeric_test(cut[:300], cut[300:], seed=3)
    assert got.p_value == by_hand.p_value
    assert by_hand.note is not None
    assert "pooled quantiles" not in by_hand.note


def test_anderson_darling_permutation_is_calibrated_under_heavy_ties() -> None:
    """A/A splits of 50 + 50 small integers (turns of a conversation: most are 1): scipy's table
    (derived for continuous data) rejects about twice too often; the permutation null at 5%."""
    rng = np.random.default_rng(5)
    turns = np.minimum(rng.geometric(0.55, 20_000), 30).astype(float)
    reps, n = 1000, 50
    perm = table = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(reps):
            idx = rng.choice(20_000, 2 * n, replace=False)
            x, y = turns[idx[:n]], turns[idx[n:]]
            perm += numeric_test(x, y, permutations=199, seed=r).p_value <= 0.05
            table += numeric_test(x, y, null="table").p_value <= 0.05
    se = math.sqrt(0.05 * 0.95 / reps)
    assert abs(perm / reps - 0.05) < 3.5 * se
    assert table / reps > 0.05 + 3.5 * se  # the old behaviour, for contrast


def test_anderson_darling_cap_is_noted() -> None:
    rng = np.random.default_rng(0)
    got = numeric_test(rng.normal(size=200), rng.normal(size=200) + 2, null="table")
    assert got.p_value == pytest.approx(0.001)
    assert got.note is not None
    assert "capped" in got.note
    exact = numeric_test(rng.normal(size=200), rng.normal(size=200) + 2)
    assert exact.p_value == pytest.approx(1 / 1000)  # no cap: the smallest p of B = 999


def test_jensen_shannon_matches_scipy_and_closed_forms() -> None:
    r, c = np.array([10.0, 20, 70]), np.array([30.0, 30, 40])
    assert jensen_shannon(r, c) == pytest.approx(float(jensenshannon(r, c, base=2)))
    assert jensen_shannon(np.array([5.0, 0]), np.array([0.0, 5])) == pytest.approx(1.0)  # disjoint supports
    assert jensen_shannon(r, 2 * r) == pytest.approx(0.0, abs=1e-7)


def test_psi_closed_form() -> None:
    # shares (1/2, 1/2) -> (1/4, 3/4): PSI = -1/4 ln(1/2) + 1/4 ln(3/2); the +0.5 per bin vanishes at this n
    got = psi(np.array([500_000, 500_000]), np.array([250_000, 750_000]))
    assert got == pytest.approx(0.25 * math.log(2) + 0.25 * math.log(1.5), rel=1e-5)


def test_magnitudes_have_intervals_that_narrow() -> None:
    rng = np.random.default_rng(5)
    small = attribute_drift(
        "lang", rng.choice(["a", "b"], 100, p=[0.7, 0.3]), rng.choice(["a", "b"], 100, p=[0.5, 0.5])
    )
    big = attribute_drift(
        "lang", rng.choice(["a", "b"], 5000, p=[0.7, 0.3]), rng.choice(["a", "b"], 5000, p=[0.5, 0.5])
    )
    for a in (small, big):
        for e in (a.psi, a.js):
            assert e.low is not None
            assert e.high is not None
            assert e.low <= e.value <= e.high
    assert big.js.high - big.js.low < small.js.high - small.js.low  # type: ignore[operator]
    # truth for the big one: JS distance of (0.7, 0.3) and (0.5, 0.5)
    truth = float(jensenshannon([0.7, 0.3], [0.5, 0.5], base=2))
    assert big.js.low <= truth <= big.js.high  # type: ignore[operator]


def test_numeric_attribute_bins_at_reference_deciles() -> None:
    rng = np.random.default_rng(1)
    a = attribute_drift("chars", rng.normal(size=1000), rng.normal(size=1000))
    assert a.kind == "numeric"
    assert len(a.ref_share) == 10
    assert all(s == pytest.approx(0.1) for _, s in a.ref_share)


def test_window_bh_matches_adjust_bh() -> None:
    rng = np.random.default_rng(2)
    ref = {"lang": rng.choice(["en", "de"], 400, p=[0.9, 0.1]), "n": rng.normal(size=400), "j": rng.random(400) < 0.2}
    cur = {"lang": rng.choice(["en", "de"], 400, p=[0.8, 0.2]), "n": rng.normal(size=400), "j": rng.random(400) < 0.2}
    w = window_drift(ref, cur, extra_p={"text": 0.5})
    raw = [a.test.p_value for a in w.attributes] + [0.5]
    assert [a.p_adjusted for a in w.attributes] == pytest.approx(list(adjust_bh(np.array(raw))[:3]))
    sm = pytest.importorskip("statsmodels.stats.multitest")
    assert [a.p_adjusted for a in w.attributes] == pytest.approx(list(sm.multipletests(raw, method="fdr_bh")[1][:3]))
    assert w.drifted == tuple(a.name for a in w.attributes if a.p_adjusted <= 0.05)


def test_hanley_mcneil_at_half_is_the_mann_whitney_null() -> None:
    e = _hanley_mcneil(0.5, 50, 50, 0.95, "m")
    assert e.se == pytest.approx(math.sqrt(101 / (12 * 50 * 50)))


def test_domain_classifier_tells_languages_apart() -> None:
    ref = [f"how do I sort a list of {i} numbers" for i in range(40)]
    cur = [f"wie sortiere ich eine Liste mit {i} Zahlen" for i in range(40)]
    got = domain_classifier(ref, cur, permutations=19)
    assert got.test.p_value == pytest.approx(1 / 20)  # the smallest a permutation test of B = 19 gives
    assert got.auc.value == pytest.approx(1.0)
    assert got.auc.low is None  # no honest interval for a cross-fitted AUC
    assert "sortiere" in " ".join(got.cur_terms)
    split = domain_classifier(ref * 30, cur * 30, null="auto")
    assert split.test.method.startswith("held-out")
    assert split.test.p_value < 1e-10
    assert split.auc.low is not None


@pytest.mark.parametrize("null", ["split", "permutation"])
def test_classifier_takes_any_non_negative_seed(null: str) -> None:
    """numpy's generators take any non-negative seed, scikit-learn's random_state only < 2**32:
    the bench's seeds (1,000,003 x 5,000 + rep) crashed the split. Same seed, same result."""
    x = np.random.default_rng(0).normal(size=(60, 4))
    seed = 1_000_003 * 5_000 + 7
    got = classifier_test(x, 30, null=null, permutations=9, seed=seed)  # type: ignore[arg-type]
    again = classifier_test(x, 30, null=null, permutations=9, seed=seed)  # type: ignore[arg-type]
    assert 0.0 < got.test.p_value <= 1.0
    assert got.test.p_value == again.test.p_value
    assert got.auc.value == again.auc.value


def test_split_null_is_mann_whitney_on_held_out_scores() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5))
    x[200:, 0] += 0.3
    got = classifier_test(x, 200, null="split", seed=1)
    assert got.test.statistic == pytest.approx(got.auc.value)
    assert 0.0 < got.test.p_value < 0.05


def _mmd2_biased(a: np.ndarray, b: np.ndarray, sigma: float) -> float:
    def k(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        d2 = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * sigma**2))

    return float(k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean())


def test_mmd_statistic_is_the_v_statistic() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 3)), rng.normal(1.5, 1, size=(40, 3))
    got = mmd_test(a, b, permutations=99)
    sigma = float(got.method.split("bandwidth ")[1].split(")")[0])
    assert got.statistic == pytest.approx(_mmd2_biased(a, b, sigma), rel=1e-2)  # sigma printed to 3 digits
    assert got.p_value == pytest.approx(0.01)


def test_mmd_random_features_path() -> None:
    rng = np.random.default_rng(0)
    same = mmd_test(rng.normal(size=(300, 4)), rng.normal(size=(300, 4)), exact_limit=100, permutations=199)
    moved = mmd_test(rng.normal(size=(300, 4)), rng.normal(0.3, 1, size=(300, 4)), exact_limit=100, permutations=199)
    assert "random Fourier" in same.method
    assert same.p_value > 0.01
    assert moved.p_value == pytest.approx(1 / 200)


def test_calibrator_is_admissible() -> None:
    # f(p) is the average of k p^(k-1) over k in (0, 1) ...
    for p in (1e-6, 0.01, 0.3, 0.9):
        assert calibrate_e(p) == pytest.approx(integrate.quad(lambda k, p=p: k * p ** (k - 1), 0, 1)[0], rel=1e-8)
    # ... so it integrates to 1 over p: with p = exp(-u) the integrand is (1 - e^-u (1 + u)) / u^2,
    # numerically over (0, 600) (e^-600 is still a float) plus the tail beyond, 1/600 to 1e-6
    edges = [0.0, 1e-3, 1.0, 10.0, 100.0, 600.0]
    body = sum(
        integrate.quad(lambda u: calibrate_e(math.exp(-u)) * math.exp(-u), a, b)[0]
        for a, b in itertools.pairwise(edges)
    )
    assert body + 1 / 600 == pytest.approx(1.0, abs=1e-5)
    assert calibrate_e(1 - 1e-9) == pytest.approx(0.5)  # no cancellation near p = 1
    ps = np.linspace(1e-6, 1, 500)
    es = [calibrate_e(float(p)) for p in ps]
    assert all(x >= y for x, y in itertools.pairwise(es))
    assert calibrate_e(1.0) == pytest.approx(0.5)


def test_monitor_statistic_is_the_mixture() -> None:
    """M_t = sum_s w_s prod_{i=s..t} e_i + sum_{s>t} w_s, recomputed from the steps' e-values."""
    rng = np.random.default_rng(4)
    windows = [{"a": rng.choice(["x", "y", "z"], 200)} for _ in range(6)]
    res = monitor(windows)
    e = [s.e_value for s in res.steps]
    for t in range(1, len(e)):
        mixture = sum(np.prod(e[s : t + 1]) / (s * (s + 1)) for s in range(1, t + 1)) + 1 / (t + 1)
        assert res.steps[t].statistic == pytest.approx(mixture)


def test_monitor_alarms_on_a_shift_and_names_it() -> None:
    rng = np.random.default_rng(0)
    same = [{"lang": rng.choice(["en", "de"], 300, p=[0.9, 0.1]), "code": rng.random(300) < 0.1} for _ in range(8)]
    moved = [{"lang": rng.choice(["en", "de"], 300, p=[0.7, 0.3]), "code": rng.random(300) < 0.1} for _ in range(3)]
    res = monitor(same + moved, stop_at_alarm=True)
    assert res.alarm_at is not None
    assert res.alarm_at >= 8
    assert res.steps[res.alarm_at].most_moved == "lang"


def test_monitor_numeric_attributes_and_errors() -> None:
    rng = np.random.default_rng(0)
    m = DriftMonitor(max_draws=2000)
    for _ in range(3):
        step = m.update({"n": rng.normal(size=100), "k": rng.choice(["a", "b"], 100)})
    assert step.p_value is not None
    assert 0 < step.p_value <= 1
    with pytest.raises(ValueError, match="attributes"):
        m.update({"n": rng.normal(size=100)})
    with pytest.raises(ValueError, match="same"):
        DriftMonitor().update({"n": [1.0, 2.0], "k": ["a"]})


# --- the fast calibration subset: fails when a test's size or the sequence guarantee breaks ---


def _ok(rejections: int, n: int, lower: bool = True) -> bool:
    se = math.sqrt(0.05 * 0.95 / n)
    rate = rejections / n
    return rate <= 0.05 + 4 * se and (not lower or rate >= 0.05 - 4 * se)


@pytest.mark.slow
def test_calibration_attribute_tests_under_aa() -> None:
    """400 A/A splits of a skewed pool (rare categories force the exact fallback at n = 40)."""
    rng = np.random.default_rng(12)
    lang = rng.choice(list("abcdefg"), 20_000, p=[0.6, 0.2, 0.08, 0.05, 0.04, 0.02, 0.01])
    chars = np.round(rng.lognormal(5, 1.2, 20_000))
    reps = 400
    hits = {"cat40": 0, "cat400": 0, "ad40": 0, "ad400": 0}
    for r in range(reps):
        for n in (40, 400):
            idx = rng.choice(20_000, 2 * n, replace=False)
            hits[f"cat{n}"] += categorical_test(lang[idx[:n]], lang[idx[n:]], permutations=999, seed=r).p_value <= 0.05
            hits[f"ad{n}"] += numeric_test(chars[idx[:n]], chars[idx[n:]], permutations=199, seed=r).p_value <= 0.05
    bad = {k: v / reps for k, v in hits.items() if not _ok(v, reps)}
    assert not bad, bad


@pytest.mark.slow
def test_calibration_text_tests_under_aa() -> None:
    rng = np.random.default_rng(7)
    reps = 200
    mmd = dc = 0
    for r in range(reps):
        x = rng.normal(size=(120, 6))
        mmd += mmd_test(x[:60], x[60:], permutations=99, seed=r).p_value <= 0.05
        dc += classifier_test(x, 60, null="split", seed=r).test.p_value <= 0.05
    assert _ok(mmd, reps), mmd / reps
    assert _ok(dc, reps), dc / reps


@pytest.mark.slow
def test_calibration_monitor_any_false_alarm() -> None:
    """150 sequences of 30 A/A windows: P(any alarm) <= 0.05 + 4 SE. The naive 5% test per window
    would alarm in about 1 - 0.95^29 = 0.77 of them."""
    rng = np.random.default_rng(9)
    seqs = 150
    alarms = 0
    for s in range(seqs):
        windows = [
            {"lang": rng.choice(list("abcd"), 100, p=[0.7, 0.2, 0.07, 0.03]), "j": rng.random(100) < 0.1}
            for _ in range(30)
        ]
        alarms += monitor(windows, seed=s, stop_at_alarm=True, max_draws=5000).alarm_at is not None
    assert _ok(alarms, seqs, lower=False), alarms / seqs


def _char_embedding(texts: list[str]) -> np.ndarray:
    """A fixed embedding (letter frequencies), standing in for all-MiniLM in tests."""
    out = np.zeros((len(texts), 26))
    for i, t in enumerate(texts):
        for ch in t.lower():
            if "a" <= ch <= "z":
                out[i, ord(ch) - 97] += 1
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def test_embedding_drift_with_a_fixed_embedding() -> None:
    from tailgate.analysis import embedding_drift

    ref = [f"the quick brown fox number {i}" for i in range(50)]
    same = [f"the quick brown fox number {i}" for i in range(50, 100)]
    other = [f"zyzzyva quixotic jazz {i}" for i in range(50)]
    assert embedding_drift(ref, other, embed=_char_embedding, permutations=199).p_value == pytest.approx(1 / 200)
    assert embedding_drift(ref, same, embed=_char_embedding, permutations=199).p_value > 0.05


def test_domain_classifier_samples_big_windows() -> None:
    """Above max_texts a window is replaced by a random sample of that many texts: the test runs
    on the kept texts (its counts say so), and its note names the sampling."""
    ref = [f"how do I sort a list of {i} numbers" for i in range(300)]
    cur = [f"wie sortiere ich eine Liste mit {i} Zahlen" for i in range(200)]
    got = domain_classifier(ref, cur, max_texts=60, permutations=19, top=0)
    assert (got.test.n_ref, got.test.n_cur) == (60, 60)
    assert got.test.note is not None
    assert "60 of the reference's 300" in got.test.note
    assert got.test.p_value == pytest.approx(1 / 20)
    whole = domain_classifier(ref[:50], cur[:50], max_texts=60, permutations=19, top=0)
    assert whole.test.note is None
    assert whole.test.n_ref == 50
