"""`tailgate sample` on the replayable log with known near-duplicates and known PII planted in it.

    python bench/sample_quality.py [--n 3000] [--pairs 150] [--pii 150] [--seed 0]

The log: ``--n`` requests of ``bench/replay_log.py`` (real ShareGPT prompts, single turn), plus
``--pairs`` near-duplicates (a request copied with one word replaced, at a later time) and
``--pii`` requests with an email, a phone number, a Luhn-valid card number, an ``sk-`` key and an
AWS access key id appended to the prompt (values drawn at random). The whole window is sampled
(``--n`` at least its distinct inputs), so every planted pair should collapse to one item and
every planted value should be gone. Prints, with Wilson 95% intervals: the share of pairs kept
as two items, the share of each planted kind that leaked into ``items.jsonl``, and the time taken
by each step; results go to ``bench/results/sample_quality.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import string
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _wilson(k: int, n: int) -> tuple[float, float]:
    from tailgate.analysis import wilson_interval

    low, high = wilson_interval(k, n)
    return round(low, 4), round(high, 4)


def _card(rng: random.Random) -> str:
    digits = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):  # the check digit makes the Luhn sum a multiple of 10
        d2 = d * 2 if i % 2 == 0 else d
        total += d2 - 9 if d2 > 9 else d2
    digits.append((10 - total % 10) % 10)
    s = "".join(map(str, digits))
    return " ".join(s[i : i + 4] for i in range(0, 16, 4))


def _planted(rng: random.Random) -> dict[str, str]:
    user = "".join(rng.choice(string.ascii_lowercase) for _ in range(8))
    return {
        "email": f"{user}.{rng.randrange(100)}@{rng.choice(['gmail.com', 'example.org', 'uni-bonn.de', 'acme.co.uk'])}",
        "phone": rng.choice(
            ["+1 415-555-{:04d}", "(212) 555-{:04d}", "+44 20 7946 {:04d}", "+49 30 1234{:04d}"]
        ).format(rng.randrange(10_000)),
        "card": _card(rng),
        "key": "sk-" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(40)),
        "aws": "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
    }


def _build(log: Path, n: int, pairs: int, pii: int, seed: int) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    from replay_log import build_log, sharegpt_samples

    build_log(log, n, seed=seed, samples=sharegpt_samples(history=0))
    lines = [orjson.loads(x) for x in log.read_bytes().splitlines()]
    rng = random.Random(seed)
    extra, twins, planted = [], [], []
    picks = rng.sample(range(len(lines)), pairs + pii)
    for j, i in enumerate(picks):
        line = json.loads(json.dumps(lines[i]))
        text = line["messages"][-1]["content"]
        words = text.split(" ")
        if j < pairs:
            if len(words) < 15:  # one word of a short prompt is most of it: not a near-duplicate
                continue
            k = rng.randrange(len(words))
            words[k] = "zq" + words[k][::-1]
            line["messages"][-1]["content"] = " ".join(words)
            twins.append((text, line["messages"][-1]["content"]))
        else:
            values = _planted(rng)
            line["messages"][-1]["content"] = (
                f"{text}\n\nMy email is {values['email']}, phone {values['phone']}, card {values['card']}. "
                f"OPENAI_API_KEY={values['key']} and my AWS key id is {values['aws']}."
            )
            planted.append(values)
        line["id"] = f"planted-{j}"
        extra.append(line)
    with log.open("ab") as fh:
        for line in extra:
            fh.write(orjson.dumps(line) + b"\n")
    return twins, planted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--pairs", type=int, default=150)
    parser.add_argument("--pii", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from tailgate.store import Store
    from tailgate.traffic import SampleOptions, import_traffic, sample_traffic

    folder = Path(tempfile.mkdtemp(prefix="tailgate-sample-bench-"))
    log = folder / "log.jsonl"
    twins, planted = _build(log, args.n, args.pairs, args.pii, args.seed)
    store = Store(folder / "store")
    t0 = time.perf_counter()
    imported = import_traffic(store.traffic_dir, [str(log)])
    t1 = time.perf_counter()
    options = SampleOptions(
        n=imported.table_rows,
        since="2000-01-01",
        until="2100-01-01",
        stratify=("lang", "input_tokens"),
        min_per_slice=0,
    )
    result = sample_traffic(store.traffic_dir, folder / "suite", options)
    t2 = time.perf_counter()
    items = [orjson.loads(x) for x in (folder / "suite" / "items.jsonl").read_bytes().splitlines()]
    from tailgate.traffic import Scrubber

    prompts = [i["prompt"] for i in items]
    kept = set(prompts)
    scrub = Scrubber().scrub
    from tailgate.traffic._dedup import shingles

    def jaccard(a: str, b: str) -> float:
        x, y = shingles(a), shingles(b)
        return len(x & y) / len(x | y)

    # pairs by the exact Jaccard similarity of the scrubbed texts: the threshold's definition
    pairs = [(scrub(a)[0], scrub(b)[0]) for a, b in twins]
    above = [(a, b) for a, b in pairs if jaccard(a, b) >= 0.85]
    below = [(a, b) for a, b in pairs if jaccard(a, b) < 0.75]
    both = sum(1 for a, b in pairs if a in kept and b in kept)
    above_two = sum(1 for a, b in above if a in kept and b in kept)
    below_one = sum(1 for a, b in below if not (a in kept and b in kept))
    # a planted request whose prompt is long is itself a near-duplicate of the original: only the
    # planted requests that are items count for leaks (the marker sentence survives scrubbing)
    shown = [p for p in prompts if "and my AWS key id is" in p]
    text = "\n".join(shown)
    leaks = {kind: sum(v[kind] in text for v in planted) for kind in ("email", "phone", "card", "key", "aws")}
    replaced = {kind: sum(p.count(f"<{kind.upper()}>") for p in shown) for kind in ("email", "phone", "card", "secret")}
    out = {
        "log_requests": imported.table_rows,
        "items": result.items,
        "near_duplicates_dropped": result.near_duplicates,
        "planted_pairs": len(twins),
        "pairs_kept_as_two": both,
        "pairs_kept_as_two_ci": _wilson(both, len(twins)),
        "pairs_jaccard_ge_0.85": len(above),
        "of_those_kept_as_two": above_two,
        "of_those_kept_as_two_ci": _wilson(above_two, len(above)),
        "pairs_jaccard_lt_0.75": len(below),
        "of_those_collapsed_to_one": below_one,
        "planted_pii_requests": len(planted),
        "planted_pii_items": len(shown),
        "leaked": leaks,
        "leaked_ci": {k: _wilson(v, len(shown)) for k, v in leaks.items()},
        "placeholders_in_planted_items": replaced,
        "pii_replaced": dict(result.pii),
        "items_with_pii": result.items_with_pii,
        "import_s": round(t1 - t0, 1),
        "sample_s": round(t2 - t1, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(out, indent=2))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "sample_quality.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
