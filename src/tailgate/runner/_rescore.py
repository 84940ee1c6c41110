"""Re-scoring stored outputs with other answer parsers: no model call.

A *parser* is one way of turning outputs into scores:

* ``as run``: the scores stored with the samples;
* ``extract=NAME``: every scorer of the suite, with extractor ``NAME`` instead of its own
  (``strip`` is the strictest: the whole output must be the answer; ``last_number``,
  ``first_line``, ``choice_letter``, ``json:answer``, ``regex:PATTERN`` ...);
* ``scorer=TYPE[/EXTRACT]``: one scorer type for every sample (e.g. ``choice/first_word``).

Each sample is scored against its variant's reference: variants that change the reference
(shuffled options) are rebuilt from the suite stored in the run's manifest, deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tailgate.config import LoadedSuite, ScorerConfig, SourceMap, SuiteConfig
from tailgate.errors import UsageError
from tailgate.perturb import build_variants
from tailgate.records import Item
from tailgate.scorers import BoundScorer, build_scorers, parse_extractor
from tailgate.store import Store

__all__ = ["DEFAULT_EXTRACTORS", "Rescored", "rescore"]

DEFAULT_EXTRACTORS = ("strip", "first_line", "first_word", "last_number", "choice_letter", "json:answer")


@dataclass
class Rescored:
    """Scores of every sample under every parser (rows: samples; columns: parsers)."""

    run_id: str
    parsers: list[str]
    item_id: np.ndarray
    variant: np.ndarray
    output: list[str]
    scores: np.ndarray
    """samples x parsers; NaN where a parser could not score (no reference, scorer error)."""


def _suite(manifest: dict[str, Any], run_id: str) -> LoadedSuite | None:
    config = (manifest.get("suite") or {}).get("config")
    if not config:
        return None
    try:
        parsed = SuiteConfig.model_validate(config)
    except Exception as exc:  # a manifest from another version: say so, do not guess
        raise UsageError(f"run {run_id}: its stored suite cannot be read by this version ({exc})") from None
    path = Path(str(manifest["suite"].get("path") or "suite.yaml"))
    return LoadedSuite(parsed, path, SourceMap(f"{run_id}: manifest suite"), "")


def _with_extractor(scorers: list[BoundScorer], name: str) -> list[BoundScorer]:
    parse_extractor(name)  # a clear error for an unknown extractor
    return [BoundScorer(s.config, s.impl, name) for s in scorers]


def _scorer(spec: str, suite: LoadedSuite) -> list[BoundScorer]:
    kind, _, extract = spec.partition("/")
    config = {"type": kind, **({"extract": extract} if extract else {})}
    fake = LoadedSuite(
        suite.config.model_copy(update={"scorers": [ScorerConfig.model_validate(config)]}),
        suite.path,
        SourceMap(f"--scorer {spec}"),
        "",
    )
    return build_scorers(fake)


def rescore(
    store: Store, run_id: str, extractors: list[str] | None = None, scorers: list[str] | None = None
) -> Rescored:
    """Score every stored output of ``run_id`` under each parser (see the module docstring)."""
    manifest = store.manifest(run_id)
    suite = _suite(manifest, run_id)
    if suite is None:
        raise UsageError(f"run {run_id} has no suite (an import): there are no scorers to vary")
    base = build_scorers(suite)
    # (label, scorers, applied to every sample regardless of the scorers' 'when')
    parsers: list[tuple[str, list[BoundScorer], bool]] = [("as run", [], False)]
    for name in extractors if extractors is not None else ([] if scorers else list(DEFAULT_EXTRACTORS)):
        parsers.append((f"extract={name}", _with_extractor(base, name), False))
    for spec in scorers or []:
        parsers.append((f"scorer={spec}", _scorer(spec, suite), True))
    items = {
        row["item_id"]: Item(row["item_id"], row["input"], row["reference"], row["attributes"], row.get("source_id"))
        for row in store.read_items(run_id)
    }
    perturbations = {
        name: p
        for name, p in build_variants(suite).perturbations.items()
        if getattr(p.impl, "changes_reference", False)
    }
    table = store.read_records(run_id)
    cols = {name: table.column(name).to_pylist() for name in ("item_id", "variant", "output", "score", "error_class")}
    keep = [i for i, err in enumerate(cols["error_class"]) if err is None and cols["output"][i] is not None]
    scores = np.full((len(keep), len(parsers)), np.nan)
    variant_items: dict[tuple[str, str], Item] = {}
    for row, i in enumerate(keep):
        item_id, variant, output = cols["item_id"][i], cols["variant"][i], cols["output"][i]
        stored = cols["score"][i]
        scores[row, 0] = np.nan if stored is None else float(stored)
        key = (item_id, variant)
        if key not in variant_items:
            item = items[item_id]
            variant_items[key] = perturbations[variant].apply(item) if variant in perturbations else item
        item = variant_items[key]
        for j, (_, bound, everywhere) in enumerate(parsers[1:], start=1):
            for scorer in bound:
                if everywhere or scorer.applies_to(item):
                    result = scorer(output, item)
                    scores[row, j] = np.nan if result.value is None else result.value
                    break
    return Rescored(
        run_id,
        [name for name, _, _ in parsers],
        np.array([cols["item_id"][i] for i in keep], dtype=object),
        np.array([cols["variant"][i] for i in keep], dtype=object),
        [str(cols["output"][i]) for i in keep],
        scores,
    )
