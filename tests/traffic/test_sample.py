"""``tailgate sample``: stratified, de-duplicated, PII-scrubbed suites from a traffic window."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tailgate import registry
from tailgate.config import load_suite
from tailgate.dataset import load_dataset
from tailgate.errors import UsageError
from tailgate.runner import RunOptions, run_sync
from tailgate.scorers._agreement import Agreement
from tailgate.store import Store
from tailgate.traffic import (
    NearDuplicates,
    SampleOptions,
    Scrubber,
    Stratum,
    allocate,
    import_traffic,
    parse_time,
    sample_traffic,
)
from tailgate.traffic._dedup import shingles
from tests.support.cli import REPO, tailgate
from tests.support.entry_points import checkout_env

sys.path.insert(0, str(REPO / "bench"))

NOW = datetime(2024, 5, 8, tzinfo=UTC)
EN = [
    "How do I sort a list of dictionaries by a key in Python?",
    "Write a haiku about the sea at night.",
    "What is the capital of Australia, and why is it not Sydney?",
    "Explain the difference between TCP and UDP to a beginner.",
    "Give me three ideas for a birthday party for a ten year old.",
    "Summarise the plot of Moby Dick in two sentences.",
    "What are the health benefits of green tea?",
    "How many bones are there in the human body?",
    "Translate 'good morning' into Japanese and explain the politeness level.",
    "Why is the sky blue? Keep it short.",
    "Draft a polite email declining a meeting invitation.",
    "What is a monad, in plain words?",
]
DE = [
    "Wie spät ist es gerade in Tokio, wenn es in Berlin Mittag ist?",
    "Schreib mir bitte ein kurzes Gedicht über den Herbst im Wald.",
    "Was ist der Unterschied zwischen einer Aktie und einer Anleihe?",
    "Erkläre mir bitte, wie eine Wärmepumpe im Winter funktioniert.",
]


@pytest.fixture(autouse=True)
def _agreement_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs find the ``agreement`` scorer even when the installed metadata predates it."""
    if "agreement" not in registry.names("scorers"):
        monkeypatch.setitem(registry._registered["scorers"], "agreement", Agreement)


def _write_log(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def _requests(prompts: list[str], day: int = 5, repeat: int = 1) -> list[dict[str, Any]]:
    rows = []
    for r in range(repeat):
        for i, p in enumerate(prompts):
            rows.append(
                {
                    "timestamp": f"2024-05-0{day}T{10 + r:02d}:{i % 60:02d}:00Z",
                    "messages": [{"role": "user", "content": p}],
                    "response": f"answer {i}",
                    "model": "prod-1",
                }
            )
    return rows


def _table(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    store = Store(tmp_path / "store")
    result = import_traffic(store.traffic_dir, [str(_write_log(tmp_path / "log.jsonl", rows))])
    assert result.bad == 0
    return store.traffic_dir


def by_lang(strata: dict[str, Any]) -> list[str]:
    return [label.removeprefix("lang=") for label in strata]


def _items(out: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (out / "items.jsonl").read_text(encoding="utf-8").splitlines()]


# --- allocation -------------------------------------------------------------------------------


def test_allocation_is_proportional_above_the_floors() -> None:
    strata = [Stratum(("en",), 700, 700), Stratum(("de",), 200, 200), Stratum(("fr",), 100, 100)]
    assert allocate(strata, 100) == [70, 20, 10]  # proportional to requests, as n * N_h / N
    # floors of 25: fr gets 25, de 25 (its 20 would be below), en the remaining 50
    assert allocate(strata, 100, min_per_slice=25) == [50, 25, 25]
    # a floor for fr only: the other 75 keep the 7:2 ratio of their traffic (58.3 : 16.7, rounded)
    assert allocate(strata, 100, extra_floors={2: 25}) == [58, 17, 25]
    assert allocate([Stratum(("en",), 900, 900), Stratum(("de",), 100, 3)], 100, min_per_slice=5) == [97, 3]


def test_allocation_takes_everything_when_the_window_is_small() -> None:
    assert allocate([Stratum(("a",), 50, 4), Stratum(("b",), 10, 2)], 100) == [4, 2]


def test_n_below_the_minimums_is_an_error() -> None:
    strata = [Stratum((str(i),), 10, 10) for i in range(30)]
    with pytest.raises(UsageError, match=r"--n 100 is smaller than the per-slice minimums: 30 slices with at least 5"):
        allocate(strata, 100, min_per_slice=5)
    assert sum(allocate(strata, 150, min_per_slice=5)) == 150


# --- near-duplicates --------------------------------------------------------------------------


def _jaccard(a: str, b: str) -> float:
    x, y = shingles(a), shingles(b)
    return len(x & y) / len(x | y)


def test_two_near_identical_prompts_are_one_item_and_distinct_ones_two() -> None:
    a = "Please summarise this article about the history of the Roman Empire in five bullet points for a class."
    b = "Please summarise this article about the history of the Roman Empire in five bullet points for my class."
    c = "Please summarise this article about the history of the Ottoman Empire, in two paragraphs, for a report."
    # the exact Jaccard similarity of the 5-gram sets, computed by set arithmetic, on each side of 0.8
    assert _jaccard(a, b) > 0.85  # one word of 17 changed: 0.89
    assert 0.3 < _jaccard(a, c) < 0.7
    index = NearDuplicates(0.8)
    assert index.add("a", a) is None
    assert index.add("b", b) == "a"
    assert index.add("c", c) is None
    assert NearDuplicates(0.95).add("x", a) is None


def test_the_threshold_decides_like_the_exact_jaccard() -> None:
    import random

    rng = random.Random(3)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda omicron sigma tau upsilon".split()
    base = [rng.choice(words) + str(rng.randrange(100)) for _ in range(60)]
    text = " ".join(base)
    agree = 0
    tried = 0
    for changes in range(0, 40):
        other = list(base)
        for i in rng.sample(range(60), changes):
            other[i] = "zz" + str(rng.randrange(10_000))
        j = _jaccard(text, " ".join(other))
        if abs(j - 0.8) < 0.01:  # (64-bit hashes of the shingles: equal to the exact value but for collisions)
            continue
        index = NearDuplicates(0.8)
        index.add("base", text)
        tried += 1
        agree += (index.add("other", " ".join(other)) is not None) == (j >= 0.8)
    assert tried >= 30
    assert agree == tried


# --- PII -------------------------------------------------------------------------------------


def test_scrubbing_replaces_each_kind_and_counts_it() -> None:
    scrub = Scrubber().scrub
    assert scrub("write to ada.lovelace@example.co.uk today") == ("write to <EMAIL> today", {"email": 1})
    assert scrub("call +1 415-555-2671 or (415) 555-2671") == ("call <PHONE> or <PHONE>", {"phone": 2})
    # 4111 1111 1111 1111 passes the Luhn check; changing its last digit breaks it: not a card
    assert scrub("card 4111 1111 1111 1111, not 4111 1111 1111 1112") == (
        "card <CARD>, not 4111 1111 1111 1112",
        {"card": 1},
    )
    text, found = scrub("OPENAI_API_KEY=sk-proj-abcdefghijklmnop1234567890 and AKIAIOSFODNN7EXAMPLE")
    assert (text, found) == ("OPENAI_API_KEY=<SECRET> and <SECRET>", {"secret": 2})
    assert scrub("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") == (
        "aws_secret_access_key = <SECRET>",
        {"secret": 1},
    )
    assert scrub("IBAN DE89 3704 0044 0532 0130 00") == ("IBAN <IBAN>", {"iban": 1})
    # libphonenumber takes these for numbers of some region; tailgate's filter does not
    numbers = "commit 1234567 (HEAD), hash 789abc1, total 148822.25, = 3925.33), 555-2671"
    assert scrub(numbers) == (numbers, {})
    assert scrub("ring 030 12345678 (Berlin)") == ("ring <PHONE> (Berlin)", {"phone": 1})
    assert scrub("nothing personal here, version 2.0 from 2024-05-01") == (
        "nothing personal here, version 2.0 from 2024-05-01",
        {},
    )


# --- the whole sample ---------------------------------------------------------------------------


def test_a_sample_is_stratified_scrubbed_weighted_and_runnable(tmp_path: Path) -> None:
    rows = _requests(EN, repeat=2) + _requests(DE)
    rows.append(
        {
            "timestamp": "2024-05-06T09:00:00Z",
            "messages": [
                {"role": "system", "content": "You are a support bot."},
                {"role": "user", "content": "My email is bob.smith@example.com and card 4111 1111 1111 1111, help!"},
            ],
            "response": "I have noted bob.smith@example.com.",
            "model": "prod-1",
        }
    )
    # a near-duplicate of EN[0] and a request outside the window
    rows.append({**_requests(["How do I sort a list of dictionaries by a key in Python ?"])[0], "response": "x"})
    rows.append({**_requests(["Old request outside the window, about tax forms."], day=1)[0]})
    traffic = _table(tmp_path, rows)
    out = tmp_path / "suite"
    # n = every input of the window: what is dropped is the near-duplicate and the old request
    options = SampleOptions(n=18, since="3d", now=NOW, stratify=("lang",), min_per_slice=4, seed=1)
    result = sample_traffic(traffic, out, options)

    assert result.window_requests == len(EN) * 2 + len(DE) + 2
    assert result.window_inputs == len(EN) + len(DE) + 2
    assert (result.items, result.near_duplicates) == (17, 1)
    assert result.warnings == (
        "1 allocated items could not be filled: the slices ran out of inputs after near-duplicates",
    )
    items = _items(out)
    assert sum("sort a list" in i["prompt"] for i in items) == 1
    assert not any("Old request" in i["prompt"] for i in items)
    for item in items:
        assert set(item) >= {"request_id", "timestamp", "prompt", "baseline", "sampling_weight", "pii", "lang"}
        assert "@example.com" not in item["prompt"]
        assert "4111" not in item["prompt"]
        assert "@example.com" not in (item["baseline"] or "")
    (pii,) = [i for i in items if i["pii"]]
    assert pii["pii"] == {"email": 2, "card": 1}  # one email in the input, one in the logged answer
    assert pii["flattened"] is True
    assert pii["prompt"] == "System: You are a support bot.\n\nUser: My email is <EMAIL> and card <CARD>, help!"
    assert pii["baseline"] == "I have noted <EMAIL>."
    assert result.pii == {"email": 2, "card": 1}
    assert result.items_with_pii == 1
    # weights: requests x M_h / n_h. German: all 4 inputs, each sent once, kept: they add up to
    # its 4 requests; English: 13 of its 14 inputs kept (one near-duplicate dropped)
    by = {s.label: s for s in result.strata}
    assert (by["lang=de"].requests, by["lang=de"].inputs, by["lang=de"].sampled) == (4, 4, 4)
    assert sum(i["sampling_weight"] for i in items if i["lang"] == "de") == pytest.approx(4)
    assert (by["lang=en"].inputs, by["lang=en"].sampled, by["lang=en"].near_duplicates) == (14, 13, 1)
    for item in items:
        if item["lang"] == "en":
            assert item["sampling_weight"] == pytest.approx(item["requests"] * 14 / 13, abs=1e-6)
    meta = json.loads((out / "sampling.json").read_text(encoding="utf-8"))
    assert meta["items"] == 17
    assert {s["slice"]["lang"] for s in meta["strata"]} == set(by_lang(by))

    suite = load_suite(out / "suite.yaml")
    assert len(load_dataset(suite).items) == 17
    run = run_sync(RunOptions(suite=str(out / "suite.yaml"), model="fake:echo", store=str(tmp_path / "store")))
    assert (run.status, run.done) == ("completed", 17 * 3)


def test_oversampling_a_rare_slice_and_the_reweighted_mix(tmp_path: Path) -> None:
    traffic = _table(tmp_path, _requests(EN) + _requests(DE))
    out = tmp_path / "suite"
    options = SampleOptions(n=8, since="3d", now=NOW, stratify=("lang",), min_per_slice=0, oversample={"lang=de": 4})
    result = sample_traffic(traffic, out, options)
    by = {s.label: s.sampled for s in result.strata}
    assert by == {"lang=de": 4, "lang=en": 4}  # de: 4 of 16 requests, proportionally 2 of 8
    items = _items(out)
    total = sum(i["sampling_weight"] for i in items)
    de = sum(i["sampling_weight"] for i in items if i["lang"] == "de")
    assert de / total == pytest.approx(len(DE) / (len(EN) + len(DE)))  # back to the traffic mix


def test_the_same_seed_gives_the_same_suite(tmp_path: Path) -> None:
    traffic = _table(tmp_path, _requests(EN) + _requests(DE))
    options = SampleOptions(n=6, since="3d", now=NOW, stratify=("lang",), min_per_slice=1, seed=7)
    sample_traffic(traffic, tmp_path / "a", options)
    sample_traffic(traffic, tmp_path / "b", options)
    assert (tmp_path / "a" / "items.jsonl").read_bytes() == (tmp_path / "b" / "items.jsonl").read_bytes()
    with pytest.raises(UsageError, match=r"already holds suite\.yaml"):
        sample_traffic(traffic, tmp_path / "a", options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (SampleOptions(since="2d", now=datetime(2024, 6, 1, tzinfo=UTC)), "no request between 2024-05-30T00:00:00Z"),
        (SampleOptions(stratify=("lang", "colour"), now=NOW), "--stratify: unknown column 'colour'; known: "),
        (SampleOptions(n=3, min_per_slice=5, now=NOW), "--n 3 is smaller than the per-slice minimums"),
        (SampleOptions(oversample={"lang=xx": 3}, now=NOW), "--oversample 'lang=xx': no request in the window"),
        (SampleOptions(oversample={"model=prod-1": 3}, now=NOW), "COLUMN one of the --stratify columns"),
        (SampleOptions(stratify=("columns.team",), now=NOW), "no request has the column 'team'"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, options: SampleOptions, message: str) -> None:
    traffic = _table(tmp_path, _requests(EN) + _requests(DE))
    with pytest.raises(UsageError) as info:
        sample_traffic(traffic, tmp_path / "suite", options)
    assert message in str(info.value)
    assert not (tmp_path / "suite" / "suite.yaml").exists()


def test_empty_window_names_what_the_table_holds(tmp_path: Path) -> None:
    traffic = _table(tmp_path, _requests(EN))
    with pytest.raises(UsageError) as info:
        sample_traffic(traffic, tmp_path / "s", SampleOptions(since="1d", now=NOW))
    assert str(info.value) == (
        "no request between 2024-05-07T00:00:00Z and 2024-05-08T00:00:00Z: the traffic table holds 12 requests "
        "from 2024-05-05T10:00:00Z to 2024-05-05T10:11:00Z; choose the window with --since and --until"
    )


def test_time_options() -> None:
    assert parse_time("7d", NOW, "--since") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_time("36h", NOW, "--since") == datetime(2024, 5, 6, 12, tzinfo=UTC)
    assert parse_time("2024-05-03", NOW, "--since") == datetime(2024, 5, 3, tzinfo=UTC)
    assert parse_time("2024-05-03T12:00:00+02:00", NOW, "--since") == datetime(2024, 5, 3, 10, tzinfo=UTC)
    with pytest.raises(UsageError, match="--since 'last week': expected a duration"):
        parse_time("last week", NOW, "--since")


# --- the command, on the replayable production log -----------------------------------------------


@pytest.fixture(scope="module")
def replay_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from replay_log import build_log, sharegpt_samples

    out = tmp_path_factory.mktemp("replay") / "replay.jsonl"
    build_log(out, 1500, seed=2, samples=sharegpt_samples(history=0)[:4000])
    return out


def test_the_command_on_the_replayable_log(tmp_path: Path, replay_log: Path) -> None:
    env = checkout_env(tmp_path / "components")
    assert tailgate("import", "traffic", str(replay_log), env=env).returncode == 0
    window = ["--since", "2023-11-16T00:00:00Z", "--until", "2023-11-17T00:00:00Z"]
    args = ["sample", *window, "--n", "120", "--stratify", "lang,length", "--min-per-slice", "2"]
    proc = tailgate(*args, "--oversample", "lang=de=5", "--detect-drop", "0.05", "-o", "suite", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["window_requests"] == 1500
    assert result["items"] == 120
    assert result["power"]["items_needed"] == 787
    assert result["power"]["slices"][0] == {
        "slice": "all",
        "items": 120,
        "mde": pytest.approx(0.13, abs=0.01),
        "powered": False,
    }
    assert "cannot detect a drop of 0.05" in result["power"]["warnings"][0]
    de = [s for s in result["strata"] if s["slice"]["lang"] == "de"]
    assert sum(s["sampled"] for s in de) >= min(5, sum(s["inputs"] for s in de))
    text = tailgate(*args, "-o", "suite2", env=env)
    assert text.returncode == 0, text.stderr
    assert "sampled 120 items" in text.stdout
    assert "wrote suite2/suite.yaml (120 items)" in text.stdout
    ran = tailgate("run", "suite/suite.yaml", "--model", "fake:echo", "--repeats", "1", "--json", env=env)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["done"] == 120
    again = tailgate(*args, "-o", "suite", env=env)
    assert again.returncode == 2
    assert "--force" in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--since", "2020-01-01", "--until", "2020-01-02"],
            "tailgate: error: no request between 2020-01-01T00:00:00Z",
        ),
        (["--stratify", "lang,colour"], "tailgate: error: --stratify: unknown column 'colour'"),
        (["--n", "5", "--min-per-slice", "10"], "tailgate: error: --n 5 is smaller than the per-slice minimums"),
        (["--oversample", "lang"], "tailgate: error: --oversample 'lang': expected SLICE=N"),
    ],
)
def test_the_command_s_bad_input_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    log = _write_log(tmp_path / "log.jsonl", _requests(EN) + _requests(DE))
    assert tailgate("import", "traffic", str(log)).returncode == 0
    window = [] if "--since" in args else ["--since", "2024-05-01", "--until", "2024-05-08"]
    proc = tailgate("sample", "-o", "out", *window, *args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("module", "make", "message"),
    [
        (
            "datasketch",
            NearDuplicates,
            "near-duplicate removal needs datasketch: pip install 'tailgate[sample]'",
        ),
        ("presidio_analyzer", lambda: Scrubber().scrub("x"), "PII scrubbing needs presidio-analyzer: pip install"),
    ],
)
def test_a_missing_library_is_named_with_its_install(
    monkeypatch: pytest.MonkeyPatch, module: str, make: Any, message: str
) -> None:
    from tailgate.errors import MissingDependency

    monkeypatch.setitem(sys.modules, module, None)  # makes ``import module`` raise ImportError
    with pytest.raises(MissingDependency, match=re.escape(message)):
        make()
