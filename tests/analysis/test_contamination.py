"""tailgate contamination: n-gram overlap of items with a corpus, and scores of both subsets checked
against independent computations (numpy means, statsmodels Wilson, scipy Welch)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from tailgate.analysis import _contamination as module
from tailgate.analysis import contamination, ngram_tokens
from tailgate.errors import InputError, UsageError
from tailgate.store import ImportSpec, Store, import_records
from tests.support.cli import tailgate

WORDS = (
    "river stone apple quiet market orange silver window garden thunder pencil forest candle "
    "mirror ladder planet copper violin meadow harbor lantern desert glacier falcon velvet "
    "compass anchor saddle timber crystal"
).split()


def _texts(count: int, length: int = 20, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=length)) + "?" for _ in range(count)]


def _run(tmp_path: Path, texts: list[str], scores: list[float], run_id: str = "r", repeats: int = 1) -> str:
    """Import one row per (item, repeat): item key i<k>, score, input text."""
    path = tmp_path / f"{run_id}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["q", "rep", "ok", "text"])
        for i, text in enumerate(texts):
            for r in range(repeats):
                writer.writerow([f"i{i}", r, scores[i * repeats + r], text])
    import_records(Store(), ImportSpec(file=str(path), item="q", score="ok", repeat="rep", input="text", run_id=run_id))
    return run_id


def _disguise(text: str) -> str:
    """The same words in other case, punctuation and line breaks."""
    words = text.rstrip("?").split()
    return "\n".join(f"{w.upper()}," if i % 3 else f'"{w.title()}"' for i, w in enumerate(words)) + "!!"


def _ids(store: Store, run_id: str) -> dict[str, str]:
    """source id (i<k>) -> item id."""
    return {r["source_id"]: r["item_id"] for r in store.read_items(run_id)}


def test_tokens_ignore_case_punctuation_and_unicode_form() -> None:
    assert ngram_tokens("The CAT's  hat,\nthe cat.") == ["the", "cat", "s", "hat", "the", "cat"]
    assert ngram_tokens("Straße ÉCOLE") == ngram_tokens("STRASSE e\u0301cole") == ["strasse", "école"]
    assert ngram_tokens("ﬁnd ２０２４") == ["find", "2024"]


def test_copied_items_are_flagged_and_others_not(tmp_path: Path) -> None:
    texts = _texts(30)
    run_id = _run(tmp_path, texts, [1.0] * 30)
    # every 10th word changed: no 13 consecutive tokens in common
    near_miss = texts[20].split()
    near_miss = " ".join("zebra" if i % 10 == 5 else w for i, w in enumerate(near_miss))
    partial = " ".join(texts[25].split()[:15])  # 15 of 20 tokens: 3 of its 8 13-grams
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "preamble words\n" + "\n\n".join([*(_disguise(t) for t in texts[:10]), near_miss, partial]), encoding="utf-8"
    )
    result = contamination(Store(), run_id, corpus)
    ids = _ids(Store(), run_id)
    expected = {ids[f"i{k}"] for k in [*range(10), 25]}
    assert set(result.overlapping_ids) == expected
    assert result.counts.as_dict() == {"items": 30, "checked": 30, "overlapping": 11, "clean": 19, "too_short": 0}
    by_source = {row["source_id"]: row for row in result.as_dict()["top_overlapping"]}
    assert by_source["i0"]["overlap"] == 1.0
    assert by_source["i0"]["first_match"] == " ".join(texts[0].lower().rstrip("?").split()[:13])
    assert by_source["i0"]["corpus_file"] == str(corpus)
    assert (by_source["i25"]["matched_ngrams"], by_source["i25"]["ngrams"]) == (3, 8)
    # a threshold above 3/8 leaves the partial copy clean
    stricter = contamination(Store(), run_id, corpus, threshold=0.5)
    assert set(stricter.overlapping_ids) == expected - {ids["i25"]}


def test_folder_is_read_recursively_with_jsonl_gzip_and_hidden_files(tmp_path: Path) -> None:
    texts = _texts(12, seed=1)
    run_id = _run(tmp_path, texts, [0.0] * 12)
    root = tmp_path / "corpus"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "deep.md").write_text(f"# notes\n{_disguise(texts[3])}\n", encoding="utf-8")
    # read as plain text, the escaped line breaks would glue words together ("\\nriver"): JSONL is parsed
    doc = {"meta": {"id": 1}, "text": "\n".join(texts[5].split())}
    (root / "a" / "docs.jsonl").write_text(json.dumps({"x": 1}) + "\n\n" + json.dumps(doc) + "\n", encoding="utf-8")
    with gzip.open(root / "pack.txt.gz", "wt", encoding="utf-8") as fh:
        fh.write(texts[7])
    (root / ".hidden.txt").write_text(texts[9], encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "blob").write_bytes(b"\xff\xfe binary")
    result = contamination(Store(), run_id, root)
    ids = _ids(Store(), run_id)
    assert set(result.overlapping_ids) == {ids["i3"], ids["i5"], ids["i7"]}
    assert result.corpus.files == 3
    assert result.corpus.hidden_skipped == 2
    files = {row.source_id: row.corpus_file for row in result.top_overlapping}
    assert files == {
        "i3": str(root / "a" / "b" / "deep.md"),
        "i5": str(root / "a" / "docs.jsonl"),
        "i7": str(root / "pack.txt.gz"),
    }


def test_jsonl_documents_do_not_share_ngrams(tmp_path: Path) -> None:
    texts = _texts(2, seed=2)
    run_id = _run(tmp_path, texts, [1.0, 0.0])
    words = texts[0].split()
    lines = [json.dumps({"text": " ".join(words[:10])}), json.dumps({"text": " ".join(words[10:])})]
    (tmp_path / "split.jsonl").write_text("\n".join(lines), encoding="utf-8")
    assert contamination(Store(), run_id, tmp_path / "split.jsonl").counts.overlapping == 0
    # the same two pieces in one text file are one document
    (tmp_path / "split.txt").write_text(" ".join(words[:10]) + "\n" + " ".join(words[10:]), encoding="utf-8")
    assert contamination(Store(), run_id, tmp_path / "split.txt").counts.overlapping == 1


@pytest.mark.parametrize(("read_bytes", "flush_ids"), [(1 << 20, 1 << 20), (7, 5), (64, 13), (100, 40)])
def test_streaming_pieces_do_not_change_the_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_bytes: int, flush_ids: int
) -> None:
    texts = _texts(40, seed=3)
    run_id = _run(tmp_path, texts, [1.0] * 40)
    filler = " ".join(_texts(30, length=7, seed=4))
    (tmp_path / "c.txt").write_text(
        filler + "\n".join(_disguise(t) for t in texts[::4]) + "ÿ " + filler, encoding="utf-8"
    )
    monkeypatch.setattr(module, "_READ_BYTES", read_bytes)
    monkeypatch.setattr(module, "_FLUSH_IDS", flush_ids)
    result = contamination(Store(), run_id, tmp_path / "c.txt")
    ids = _ids(Store(), run_id)
    assert set(result.overlapping_ids) == {ids[f"i{k}"] for k in range(0, 40, 4)}
    assert result.corpus.tokens == len(ngram_tokens((tmp_path / "c.txt").read_text(encoding="utf-8")))


def test_clean_and_overlapping_estimates_match_independent_computations(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    texts = _texts(200, seed=5)
    copied = rng.permutation(200)[:60]
    # contaminated items score higher, as memorised ones would
    p = np.where(np.isin(np.arange(200), copied), 0.8, 0.5)
    scores = (rng.uniform(size=200) < p).astype(float)
    run_id = _run(tmp_path, texts, scores.tolist())
    (tmp_path / "c.txt").write_text("\n".join(texts[i] for i in copied), encoding="utf-8")
    result = contamination(Store(), run_id, tmp_path / "c.txt", confidence=0.9)
    mask = np.isin(np.arange(200), copied)
    for name, subset in (("overlapping", scores[mask]), ("clean", scores[~mask]), ("all", scores)):
        est = result.score[name]
        assert est.value == pytest.approx(subset.mean())
        low, high = proportion_confint(int(subset.sum()), subset.size, alpha=0.1, method="wilson")
        assert (est.low, est.high) == pytest.approx((low, high))
        assert est.n_items == subset.size
    welch = stats.ttest_ind(scores[mask], scores[~mask], equal_var=False)
    diff = result.difference
    assert diff.estimate.value == pytest.approx(scores[mask].mean() - scores[~mask].mean())
    ci = welch.confidence_interval(0.9)
    assert (diff.estimate.low, diff.estimate.high) == pytest.approx((ci.low, ci.high))
    assert diff.p_value == pytest.approx(welch.pvalue)
    assert diff.estimate.low > 0  # type: ignore[operator]  # the planted effect is found


def test_difference_with_repeats_is_welch_on_item_means(tmp_path: Path) -> None:
    """Equal repeats per item: the clustered SE with the G/(G-1) factor is Welch's on item means."""
    rng = np.random.default_rng(6)
    texts = _texts(50, seed=6)
    scores = (rng.uniform(size=150) < 0.6).astype(float)
    run_id = _run(tmp_path, texts, scores.tolist(), repeats=3)
    (tmp_path / "c.txt").write_text("\n".join(texts[:20]), encoding="utf-8")
    result = contamination(Store(), run_id, tmp_path / "c.txt")
    item_means = scores.reshape(50, 3).mean(axis=1)
    welch = stats.ttest_ind(item_means[:20], item_means[20:], equal_var=False)
    ci = welch.confidence_interval(0.95)
    diff = result.difference.estimate
    assert (diff.low, diff.high) == pytest.approx((ci.low, ci.high))
    assert result.score["clean"].n_samples == 90
    assert "clustered" in result.score["clean"].method


def test_n_is_configurable(tmp_path: Path) -> None:
    texts = [*_texts(3, seed=7), "tiny item"]
    run_id = _run(tmp_path, texts, [1.0, 0.0, 1.0, 1.0])
    five = " ".join(texts[1].split()[4:9])  # 5 consecutive tokens of item 1 only
    (tmp_path / "c.txt").write_text(f"unrelated start {five.upper()} unrelated end", encoding="utf-8")
    ids = _ids(Store(), run_id)
    with_5 = contamination(Store(), run_id, tmp_path / "c.txt", n=5)
    assert set(with_5.overlapping_ids) == {ids["i1"]}
    assert with_5.counts.too_short == 1
    with_13 = contamination(Store(), run_id, tmp_path / "c.txt")
    assert with_13.overlapping_ids == []
    assert with_13.counts.too_short == 1
    assert with_13.score["overlapping"].value is None
    assert with_13.difference.p_value is None
    assert with_13.as_dict()["schema_version"] == 1
    with_2 = contamination(Store(), run_id, tmp_path / "c.txt", n=2)
    assert with_2.counts.too_short == 0


def test_bad_inputs(tmp_path: Path) -> None:
    run_id = _run(tmp_path, _texts(2), [1.0, 0.0])
    with pytest.raises(InputError, match="corpus not found") as err:
        contamination(Store(), run_id, tmp_path / "missing")
    assert err.value.file == str(tmp_path / "missing")
    with pytest.raises(UsageError, match="n must be at least 1"):
        contamination(Store(), run_id, tmp_path, n=0)
    with pytest.raises(UsageError, match="threshold"):
        contamination(Store(), run_id, tmp_path, threshold=1.5)
    (tmp_path / "latin1.txt").write_bytes("line one\nline two\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8") as err:
        contamination(Store(), run_id, tmp_path / "latin1.txt")
    assert (err.value.file, err.value.line) == (str(tmp_path / "latin1.txt"), 3)
    (tmp_path / "bad.jsonl").write_text('{"a": "b"}\n{"a": \n', encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON") as err:
        contamination(Store(), run_id, tmp_path / "bad.jsonl")
    assert err.value.line == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no files"):
        contamination(Store(), run_id, tmp_path / "empty")


def test_cli_exit_codes(tmp_path: Path) -> None:
    texts = _texts(6, seed=8)
    store = str(tmp_path / "cli-store")
    spec = ImportSpec(file=str(tmp_path / "r.csv"), item="q", score="ok", input="text", run_id="c")
    (tmp_path / "r.csv").write_text("q,ok,text\n" + "".join(f"i{i},{i % 2},{t}\n" for i, t in enumerate(texts)))
    import_records(Store(store), spec)
    (tmp_path / "c.txt").write_text(_disguise(texts[0]) + "\n" + _disguise(texts[1]), encoding="utf-8")
    ok = tailgate("--store", store, "contamination", "c", "--corpus", str(tmp_path / "c.txt"))
    assert ok.returncode == 0, ok.stderr
    assert "overlapping" in ok.stdout
    assert "clean" in ok.stdout
    as_json = tailgate("--store", store, "contamination", "latest", "--corpus", str(tmp_path / "c.txt"), "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["counts"]["overlapping"] == 2
    missing = tailgate("--store", store, "contamination", "c", "--corpus", str(tmp_path / "nowhere.txt"))
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"tailgate: error: {tmp_path / 'nowhere.txt'}: corpus not found"
    (tmp_path / "bin.txt").write_bytes(b"\x00\xff\xfe\x00")
    binary = tailgate("--store", store, "contamination", "c", "--corpus", str(tmp_path / "bin.txt"))
    assert binary.returncode == 2
    assert f"{tmp_path / 'bin.txt'}:1: not UTF-8" in binary.stderr
    zero = tailgate("--store", store, "contamination", "c", "--corpus", str(tmp_path / "c.txt"), "--n", "0")
    assert zero.returncode == 2
    assert "n must be at least 1" in zero.stderr
    assert "Traceback" not in zero.stderr + missing.stderr + binary.stderr
