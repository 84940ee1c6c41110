"""Contamination check: wall time and peak memory against a large corpus.

    python bench/contamination_scale.py [--mb 50] [--items 300]

A run of ``--items`` imported items (20-60 words each); a generated corpus of about ``--mb`` MB of
text in which 10% of the items are planted (with other case and punctuation). The check streams
the corpus, so memory should not grow with it; the floor is reading and tokenising the text.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_scale import timed

HERE = Path(__file__).resolve().parent
WORDS = (
    "river stone garden window market winter silver morning letter bridge orange candle forest "
    "harbor pencil meadow thunder basket mirror ladder violin tunnel castle feather"
).split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--out", default=str(HERE / "results" / "contamination_scale.json"))
    args = parser.parse_args()
    rng = random.Random(0)
    results: dict[str, object] = {"corpus_mb": args.mb, "items": args.items}
    with tempfile.TemporaryDirectory() as tmp:
        items = [" ".join(rng.choice(WORDS) + str(rng.randrange(100)) for _ in range(rng.randrange(20, 60)))
                 for _ in range(args.items)]  # fmt: skip
        rows = ["id,ok,text"] + [f"q{i},{i % 2},{text}" for i, text in enumerate(items)]
        (Path(tmp) / "items.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        planted = set(rng.sample(range(args.items), args.items // 10))
        with (Path(tmp) / "corpus.txt").open("w", encoding="utf-8") as out:
            written = 0
            while written < args.mb * 1_000_000:
                line = " ".join(rng.choice(WORDS) for _ in range(200)) + ".\n"
                out.write(line)
                written += len(line)
            for i in planted:
                out.write(items[i].upper().replace(" ", ", ") + "\n")
        timed(
            ["--store", "s", "import", "records", "items.csv", "--item", "id", "--score", "ok", "--input", "text",
             "--run-id", "r"],
            tmp,
        )  # fmt: skip
        results["contamination"] = timed(
            ["--store", "s", "contamination", "r", "--corpus", "corpus.txt", "--json", "c.json"], tmp
        )
        report = json.loads((Path(tmp) / "c.json").read_text())
        found = {row["source_id"] for row in report["top_overlapping"]}
        results["overlapping"] = report["counts"]["overlapping"]
        results["planted"] = len(planted)
        results["top_listed"] = len(found)
        results["top_listed_all_planted"] = found <= {f"q{i}" for i in planted}
        results["corpus_tokens"] = report["corpus"]["tokens"]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
