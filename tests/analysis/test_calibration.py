"""The fast subset of the calibration study (``bench/calibration.py --quick``): in the cells
where a broken interval or test shows, the product's own code must cover / keep its error rate.

Tolerances (docs/calibration.md): with R replications the Monte-Carlo SE of a coverage at 0.95
is sqrt(0.95 * 0.05 / R) (0.011 at R = 400), of an error rate at 0.05 the same; a row fails when
coverage < 0.95 - 4 SE (0.906 at R = 400) or the error rate > 0.05 + 4 SE. A calibrated method
fails with probability below 1e-4 per row; the failures issue 9 lists (p99 coverage 0.42, spread
coverage 0, pass@k intervals of zero width) fail by 10 SE or more. The study is seeded, so the
outcome is the same on every run of the same code.

Rows listed in ``KNOWN`` fail on the code this study was written against; they are strict
xfails, so the fix that makes one pass must delete its entry (the xpass fails the suite).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from bench import calibration as cal

pytestmark = pytest.mark.slow

# measure -> the defect that makes it fail (a strict xfail: the fix that makes it pass must
# delete its entry). Empty: the issue 9 defects this study found are fixed (docs/calibration.md).
KNOWN: dict[str, str] = {}


@pytest.fixture(scope="module")
def quick() -> dict[tuple[str, str], cal.Tally]:
    return cal.study(list(cal.QUICK), workers=2, mde=False)


def _rows() -> list[tuple[str, str]]:
    """(measure, regime) of every row the quick study produces (fixed by the grid)."""
    rows = []
    for cell in cal.QUICK:
        reg = cell.regime
        if cell.family == "run" and cell.wants("score"):
            rows.append(("score (0/1)", reg))
        if cell.family == "run" and cell.wants("latency"):
            rows += [(f"latency p{q:g}", reg) for q in cal.REPORT.latency_percentiles]
        if cell.family == "run" and cell.wants("pass_k"):
            ks = sorted({2, 3, 5, cell.k} & set(range(2, cell.k + 1)))
            rows += [(f"pass@{k}", reg) for k in ks] + [(f"pass^{k}", reg) for k in ks]
        if cell.family == "run" and cell.wants("discovery"):
            rows.append(("discovery: any slice reported (null)", reg))
        if cell.family == "compare":
            rows += [("compare slices: any BH <= 0.05 (null)", reg), ("compare slices: any BY <= 0.05 (null)", reg)]
        if cell.family == "robust":
            rows += [
                ("format spread (best - worst)", reg),
                ("named best - worst (paired)", reg),
                ("any-spread test", reg),
                ("flip rate (majority verdict)", reg),
                ("answer flip rate", reg),
            ]
    return rows


def _param(row: tuple[str, str]) -> object:
    reason = KNOWN.get(row[0])
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(row, id=f"{row[0]} [{row[1]}]", marks=marks)


@pytest.mark.parametrize("row", [_param(r) for r in _rows()])
def test_calibrated(quick: dict[tuple[str, str], cal.Tally], row: tuple[str, str]) -> None:
    assert row in quick, f"the study produced no row {row}; it has {sorted(quick)}"
    tally = quick[row]
    crashed = [key for key in quick if "crashed" in key[0]]
    assert not crashed, crashed
    if row[0] == "any-spread test":
        assert tally.printed > 0, "the format spread has no test of 'is there any spread'"
    if tally.printed == 0:
        return  # the product printed a warning instead of a number in every replication
    rate = tally.hits / tally.printed
    if tally.kind == "coverage":
        se = math.sqrt(0.95 * 0.05 / tally.printed)
        assert rate >= 0.95 - 4 * se, f"coverage {rate:.3f} over {tally.printed} runs (MC SE {se:.3f})"
    else:
        se = math.sqrt(0.05 * 0.95 / tally.printed)
        assert rate <= 0.05 + 4 * se, f"error rate {rate:.3f} over {tally.printed} runs (MC SE {se:.3f})"


def test_the_verdicts_follow_the_documented_rules() -> None:
    """The table's statuses: 0.95 +- 0.02 (2.5 MC SE when wider), error <= 0.05 + 2 SE, power
    >= 0.80 - max(0.02, 2 SE), no number = "warning printed"."""
    assert cal.verdict("m", "r", cal.Tally("coverage", 940, 1000, 0, 1000)).status == "PASS"
    assert cal.verdict("m", "r", cal.Tally("coverage", 920, 1000, 0, 1000)).status == "FAIL"
    assert cal.verdict("m", "r", cal.Tally("coverage", 995, 1000, 0, 1000)).status == "conservative"
    assert cal.verdict("m", "r", cal.Tally("coverage", 0, 0, 50, 50)).status == "warning printed"
    assert cal.verdict("m", "r", cal.Tally("error", 60, 1000, 0, 1000)).status == "PASS"  # 0.05 + 2 x 0.0069
    assert cal.verdict("m", "r", cal.Tally("error", 70, 1000, 0, 1000)).status == "FAIL"
    assert cal.verdict("m", "r", cal.Tally("power", 770, 1000, 0, 1000)).status == "FAIL"
    assert cal.verdict("m", "r", cal.Tally("power", 785, 1000, 0, 1000)).status == "PASS"


def test_truths_in_closed_form_agree_with_simulation() -> None:
    """The closed forms the study takes as truth, against a direct Monte-Carlo draw."""
    import numpy as np

    rng = np.random.default_rng(1)
    a, b = 14.0, 6.0
    p = rng.beta(a, b, 2_000_000)
    assert cal.beta_moment(a, b, 10) == pytest.approx(float(np.mean(p**10)), rel=0.01)
    log_sd = math.hypot(cal.LATENCY_ITEM_SD["high"], cal.LATENCY_WITHIN_SD)
    draws = cal.LATENCY_MEDIAN_MS * np.exp(rng.normal(0, log_sd, 2_000_000))
    assert cal.latency_quantile(99, "high") == pytest.approx(float(np.percentile(draws, 99)), rel=0.01)


def test_cells_select_grid_cells() -> None:
    grid = cal.grid(False, None)
    one = [c for c in grid if cal.cell_filter(["robust n=300 K=1 het=high effect=identical"])(c)]
    assert [(c.family, c.n, c.k, c.het, c.effect) for c in one] == [("robust", 300, 1, "high", "identical")]
    assert sum(cal.cell_filter(["compare"])(c) for c in grid) == 10
    two = cal.cell_filter(["continuous n=300 K=1", "temperature0 n=30"])
    assert sorted((c.family, c.n) for c in grid if two(c)) == [("continuous", 300), ("temperature0", 30)]
    with pytest.raises(SystemExit, match="key=value"):
        cal.cell_filter(["robust size=3"])
    with pytest.raises(SystemExit, match="no family"):
        cal.cell_filter(["robustness"])


def test_rows_of_an_older_file_know_their_replications() -> None:
    """Files written before ``replications``: reps counts the replications that printed a number."""
    row = {"measure": "m", "regime": "r", "kind": "error", "rate": 0.0, "mc_se": 0.2, "reps": 1, "warned": 0.995}
    assert cal.Row.from_dict({**row, "status": "PASS"}).replications == 200
    none = {**row, "rate": None, "reps": 200, "warned": 1.0, "status": "warning printed"}
    assert cal.Row.from_dict(none).replications == 200


def test_merge_replaces_the_rows_it_reran_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--cells ... --merge`` re-runs one cell and replaces exactly its rows in the JSON and the
    page; the header counts rows by replications."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "bench" / "results").mkdir(parents=True)
    rows = [
        cal.verdict("ICC warns when repeats cannot differ", "n=30 K=3 het=low", cal.Tally("warning", 1, 2, 0, 2)),
        cal.verdict("score (0/1)", "n=30 K=1 het=low", cal.Tally("coverage", 190, 200, 0, 200)),
    ]
    old = cal.Study(rows, [{"kind": "full", "description": "a study.", "seconds": 60}])
    page = tmp_path / "docs" / "calibration.md"
    page.write_text(f"# Calibration\n\nprose\n{cal.BEGIN}\nold\n{cal.END}\nafter\n", encoding="utf-8")
    old.save(tmp_path)
    monkeypatch.setattr(cal, "ROOT", tmp_path)
    assert cal.main(["--cells", "temperature0 n=30", "--reps", "4", "--workers", "1", "--merge"]) == 0
    study = cal.Study.load(tmp_path / "bench" / "results" / "calibration.json")
    by_key = {(r.measure, r.regime): r for r in study.rows}
    assert by_key[("ICC warns when repeats cannot differ", "n=30 K=3 het=low")].replications == 4
    assert by_key[("score (0/1)", "n=30 K=1 het=low")] == rows[1]
    assert [r["kind"] for r in study.runs] == ["full", "merge"]
    header = study.header()
    assert "replications per row differ (the `reps` column): 4 (1 rows), 200 (1 rows)" in header
    assert "Full study: a study." in header
    assert "--cells 'temperature0 n=30'" in header
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Calibration\n\nprose\n")
    assert text.endswith(f"{cal.END}\nafter\n")
    assert header in text
    assert "| ICC warns when repeats cannot differ | n=30 K=3 het=low | warning |" in text


def test_a_partial_run_without_merge_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cal, "ROOT", tmp_path)
    assert cal.main(["--cells", "temperature0 n=30", "--reps", "2", "--workers", "1"]) == 0
    assert not (tmp_path / "docs").exists()
    assert not (tmp_path / "bench").exists()
