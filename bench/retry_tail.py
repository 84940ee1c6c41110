"""The run's tail under random faults: a discrete-event model of the runner's scheduler.

A measured run on a shared 2-core machine varies by more than the effect (a retry policy's tail
shows in a few runs out of twenty), so this models the schedule itself, over many seeds, with
nothing else running: W workers, calls of D seconds, each call failing with probability F
independently (the peers' mock: 10% 500s), a failed sample back on the queue after its back-off,
in front of fresh samples (as ``runner/_execute.py`` does). Two back-off rules:

* ``attempts``: the exponent is the sample's attempts (0.1, 0.2, 0.4 ... s, jittered between
  half and all of it), the rule before this version;
* ``streak``: the same, with the exponent capped by the run's current streak of failed calls
  (the rule now): a lone unlucky sample on a healthy endpoint retries after the first back-off,
  an endpoint failing every call still gets the full exponential back-off.

The wall ratio adds the part of a clean run outside its request phase (start-up, planning,
writing: 0.8 s of the measured 2.4 s) to both sides.

    python bench/retry_tail.py [--seeds 1000] [--fail 0.1]
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics


def makespan(rule: str, seed: int, fail: float, n: int = 2000, workers: int = 64, call_s: float = 0.05) -> float:
    """Seconds from the first call to the last answer of ``n`` samples."""
    base, cap, max_attempts = 0.1, 30.0, 8
    outcome, jitter = random.Random(seed), random.Random(seed + 1_000_000)
    retries: list[int] = []  # ready retries, first in first out, before fresh samples
    fresh = iter(range(n))
    left = n
    attempts = [0] * n
    events: list[tuple[float, int, bool, int]] = []  # (time, order, is_retry_ready, sample)
    order, idle, streak, now = 0, workers, 0, 0.0

    def start(at: float) -> None:
        nonlocal idle, order, left
        while idle and (retries or left):
            if retries:
                sample = retries.pop(0)
            else:
                sample, left = next(fresh), left - 1
            idle, order = idle - 1, order + 1
            heapq.heappush(events, (at + call_s, order, False, sample))

    start(0.0)
    while events:
        now, _, ready, sample = heapq.heappop(events)
        if ready:
            retries.append(sample)
        else:
            idle += 1
            attempts[sample] += 1
            if outcome.random() < fail and attempts[sample] < max_attempts:
                streak += 1
                exponent = attempts[sample] if rule == "attempts" else min(attempts[sample], streak)
                ceiling = min(cap, base * 2 ** (exponent - 1))
                order += 1
                heapq.heappush(events, (now + jitter.uniform(ceiling / 2, ceiling), order, True, sample))
            else:
                streak = 0
        start(now)
    return now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--fail", type=float, default=0.1)
    args = parser.parse_args()
    outside = 0.8
    clean = makespan("attempts", 0, 0.0)
    print(f"clean request phase {clean:.2f} s; {args.seeds} seeded runs at {args.fail:.0%} faults")
    for rule in ("attempts", "streak"):
        spans = [makespan(rule, seed, args.fail) for seed in range(args.seeds)]
        ratios = sorted((outside + s) / (outside + clean) for s in spans)
        over = sum(r > 1.5 for r in ratios)
        print(
            f"{rule:<9} request phase median {statistics.median(spans):.2f} s, max {max(spans):.2f} s; "
            f"wall x clean: median {statistics.median(ratios):.2f}, p99 {ratios[int(0.99 * len(ratios))]:.2f}, "
            f"max {ratios[-1]:.2f}; runs over 1.5x: {over}/{len(ratios)}"
        )


if __name__ == "__main__":
    main()
