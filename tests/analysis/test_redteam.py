"""Red-team statistics against independent computations: Wilson intervals (statsmodels), the
item-clustered effective n (Kish's design effect, by hand), pass^k (scipy's binomial
coefficients), the paired change (scipy's paired t-test and t quantile)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import comb
from statsmodels.stats.proportion import proportion_confint

from tailgate.analysis import RedTeamSamples, attack_delta, redteam_cells, redteam_rates


def _samples(rows: list[tuple[str, str, str, str, float | None]]) -> RedTeamSamples:
    item, role, category, mutator, score = zip(*rows, strict=True)
    return RedTeamSamples(list(item), list(role), list(category), list(mutator), list(score))


def test_one_sample_per_attack_is_wilson() -> None:
    # 3 of 10 attacks succeed (score 0 = succeeded)
    rows = [(f"a{i}", "attack", "leak", "plain", 0.0 if i < 3 else 1.0) for i in range(10)]
    overall, (cat,), (mut,), _ = redteam_rates(_samples(rows), k=1)
    low, high = proportion_confint(3, 10, alpha=0.05, method="wilson")
    for r in (overall, cat, mut):
        assert r.success.value == pytest.approx(0.3)
        assert (r.success.low, r.success.high) == pytest.approx((low, high), abs=1e-12)
        assert (r.success.n_items, r.success.n_samples, r.n_attacks) == (10, 10, 10)
    assert overall.resists_k.value == pytest.approx(0.7)
    assert (overall.resists_k.low, overall.resists_k.high) == pytest.approx((1 - high, 1 - low), abs=1e-12)


def test_repeats_are_clustered_on_the_attack() -> None:
    """Wilson on Kish's n_eff = p(1-p)/SE^2 with the clustered SE and the Korn-Graubard factor
    (t_{N-1}/t_{C-1})^2 (N samples, C attacks), computed here from the formula (Miller 2024 eq. 4;
    Korn & Graubard 1998), not from tailgate."""
    succeeded = {"a": [1, 1, 1], "b": [0, 0, 1], "c": [0, 0, 0], "d": [1, 0, 0], "e": [0, 0, 0], "f": [1, 1, 0]}
    rows = [(i, "attack", "leak", "plain", 1.0 - s) for i, ss in succeeded.items() for s in ss]
    overall, *_ = redteam_rates(_samples(rows), k=3)
    x = np.array([s for ss in succeeded.values() for s in ss], dtype=float)
    groups = np.repeat(np.arange(6), 3)
    p = x.mean()
    se = math.sqrt(sum(((x[groups == g] - p).sum()) ** 2 for g in range(6))) / x.size
    top, t = stats.t.ppf(0.975, x.size - 1), stats.t.ppf(0.975, 5)
    n_eff = min(x.size, p * (1 - p) / se**2) * (top / t) ** 2
    low, high = proportion_confint(p * n_eff, n_eff, alpha=0.05, method="wilson")
    assert overall.success.value == pytest.approx(p)
    assert (overall.success.low, overall.success.high) == pytest.approx((low, high), abs=1e-9)
    assert (overall.success.n_items, overall.success.n_samples) == (6, 18)


def test_resists_k_is_the_unbiased_pass_hat_k_over_attacks() -> None:
    resisted = {"a": [1, 1, 1, 1], "b": [1, 1, 0, 1], "c": [0, 0, 1, 0], "d": [1, 1, 1, 0]}
    rows = [(i, "attack", "leak", "plain", float(v)) for i, vs in resisted.items() for v in vs]
    for k in (1, 2, 3, 4):
        overall, *_ = redteam_rates(_samples(rows), k=k)
        expected = np.mean([comb(sum(vs), k) / comb(4, k) for vs in resisted.values()])
        assert overall.resists_k.value == pytest.approx(expected, abs=1e-12)
        assert overall.k == k
        assert overall.resists_k.low <= expected <= overall.resists_k.high


def test_slices_unscored_and_over_refusal() -> None:
    rows = [
        ("a", "attack", "leak", "plain", 0.0),
        ("a", "attack", "leak", "plain", None),  # a judge reply that did not parse
        ("b", "attack", "leak", "base64", 1.0),
        ("c", "attack", "tool", "plain", 1.0),
        ("ta", "benign", "leak", "plain", 0.0),  # refused its twin
        ("tb", "benign", "leak", "base64", 1.0),
        ("tc", "benign", "tool", "plain", None),
    ]
    overall, cats, muts, refusals = redteam_rates(
        _samples(rows), k=1, categories=["tool", "leak"], mutators=["plain", "base64"]
    )
    assert [c.slice for c in cats] == ["category=tool", "category=leak"]
    assert [m.slice for m in muts] == ["mutator=plain", "mutator=base64"]
    assert overall.n_unscored == 1
    assert overall.success.value == pytest.approx(1 / 3)
    leak = cats[1]
    assert (leak.success.value, leak.n_attacks, leak.n_unscored) == (0.5, 2, 1)
    assert [r.slice for r in refusals] == ["all", "category=tool", "category=leak"]
    assert refusals[0].refused.value == pytest.approx(0.5)
    assert refusals[0].n_unscored == 1
    assert refusals[1].refused.value is None  # nothing scored: no number, the reason instead
    assert "no scored twin" in refusals[1].refused.method


def test_category_by_mutator_cells_are_the_rates_of_their_samples() -> None:
    """Each cell of the heat map is the success rate of its (category, mutator) samples: Wilson
    (statsmodels) with one sample per attack, the clustered rate of ``redteam_rates`` on that
    subset with repeats; unscored samples counted, a cell with no attack absent."""
    rows = [(f"l{i}", "attack", "leak", "plain", 0.0 if i < 2 else 1.0) for i in range(5)]  # 2 of 5 succeed
    rows += [(f"b{i}", "attack", "leak", "base64", 0.0 if i < 4 else 1.0) for i in range(4)]  # 4 of 4
    rows += [("t0", "attack", "tool", "plain", 1.0), ("t0", "attack", "tool", "plain", None)]
    rows += [("tw", "benign", "tool", "base64", 0.0)]  # a twin: not an attack cell
    cells = redteam_cells(_samples(rows), k=1, categories=["tool", "leak"], mutators=["plain", "base64"])
    assert [c.slice for c in cells] == ["category=tool,mutator=plain", "category=leak,mutator=plain",
                                        "category=leak,mutator=base64"]  # fmt: skip
    tool, plain, b64 = cells
    for cell, (x, n) in ((plain, (2, 5)), (b64, (4, 4))):
        low, high = proportion_confint(x, n, alpha=0.05, method="wilson")
        assert cell.success.value == pytest.approx(x / n)
        assert (cell.success.low, cell.success.high) == pytest.approx((low, high), abs=1e-12)
        assert (cell.success.n_items, cell.success.n_samples, cell.n_attacks) == (n, n, n)
    assert (tool.success.value, tool.n_attacks, tool.n_unscored) == (0.0, 1, 1)
    repeated = [(f"a{i}", "attack", "leak", "plain", float(v)) for i in range(4) for v in (i % 2, 1, i % 3 > 0)]
    mixed = repeated + [(f"z{i}", "attack", "tool", "base64", 1.0) for i in range(3)]
    (cell, _) = redteam_cells(_samples(mixed), k=3)
    overall, *_ = redteam_rates(_samples(repeated), k=3)
    assert cell.success == overall.success
    assert cell.resists_k == overall.resists_k


def test_an_unscored_slice_is_no_number() -> None:
    rows = [("a", "attack", "harmful", "plain", None), ("b", "attack", "leak", "plain", 1.0)]
    _, cats, _, _ = redteam_rates(_samples(rows), k=1, categories=["harmful", "leak"])
    assert cats[0].success.value is None
    assert cats[0].n_unscored == 1


def test_the_paired_change_is_the_paired_t_test_on_attack_rates() -> None:
    rng = np.random.default_rng(7)
    base_p, cand_p = rng.uniform(0, 0.5, 12), rng.uniform(0.1, 0.8, 12)
    rows_b, rows_c = [], []
    for i in range(12):
        for _r in range(4):
            rows_b.append((f"a{i}", "attack", "leak" if i < 6 else "tool", "plain", float(rng.random() > base_p[i])))
            rows_c.append((f"a{i}", "attack", "leak" if i < 6 else "tool", "plain", float(rng.random() > cand_p[i])))
    rows_c.append(("only-cand", "attack", "leak", "plain", 0.0))  # not shared: left out
    base, cand = _samples(rows_b), _samples(rows_c)
    overall, leak, tool = attack_delta(base, cand, categories=["leak", "tool"])
    succ = {
        name: np.array([np.mean([1 - s for i, *_, s in rows if i == f"a{k}"]) for k in range(12)])
        for name, rows in (("b", rows_b), ("c", rows_c))
    }
    d = succ["c"] - succ["b"]
    half = stats.t.ppf(0.975, 11) * d.std(ddof=1) / math.sqrt(12)
    assert overall.delta.estimate.value == pytest.approx(d.mean())
    assert (overall.delta.estimate.low, overall.delta.estimate.high) == pytest.approx(
        (d.mean() - half, d.mean() + half)
    )
    assert overall.delta.p_value == pytest.approx(stats.ttest_rel(succ["c"], succ["b"]).pvalue)
    assert overall.delta.n_items == 12
    assert overall.baseline.value == pytest.approx(succ["b"].mean())
    assert (leak.slice, leak.delta.n_items, tool.delta.n_items) == ("category=leak", 6, 6)
    assert leak.delta.estimate.value == pytest.approx(d[:6].mean())


@pytest.mark.parametrize(("n_attacks", "k", "p"), [(16, 2, 0.3), (56, 3, 0.2)])
def test_the_intervals_cover_by_simulation(n_attacks: int, k: int, p: float) -> None:
    """Attacks with Beta-distributed success rates (mean p, so repeats of one attack correlate),
    asked k times: the success interval covers p, the resists-k interval covers E[(1 - rate)^k],
    in at least 92% of 300 replications (95% nominal; 3 Monte-Carlo SEs below 0.95 is 0.912).
    Measured at 400 replications: 0.948 / 0.970 (16 x 2, p 0.3), 0.960 / 0.958 (56 x 3, p 0.2)."""
    rng = np.random.default_rng(11)
    a, b = p * 10, (1 - p) * 10
    truth_k = float(np.mean((1 - rng.beta(a, b, 400_000)) ** k))
    items = [f"a{i}" for i in range(n_attacks) for _ in range(k)]
    n = len(items)
    covered = covered_k = 0
    for _ in range(300):
        rates = rng.beta(a, b, n_attacks)
        succeeded = (rng.random((n_attacks, k)) < rates[:, None]).ravel()
        s = RedTeamSamples(items, ["attack"] * n, ["c"] * n, ["m"] * n, [float(not x) for x in succeeded])
        overall, *_ = redteam_rates(s, k=k)
        covered += overall.success.low <= p <= overall.success.high
        covered_k += overall.resists_k.low <= truth_k <= overall.resists_k.high
    assert covered / 300 >= 0.92
    assert covered_k / 300 >= 0.92
