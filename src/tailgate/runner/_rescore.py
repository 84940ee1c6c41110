"""Re-scoring stored outputs with other answer parsers: no model call.

A *parser* is one way of turning outputs into scores:

* ``as run``: the scores stored with the samples;
* ``extract=NAME``: every scorer of the suite, with extractor ``NAME`` instead of its own
  (``strip`` is the strictest: the whole output must be the answer; ``last_number``,
  ``first_line``, ``choice_letter``, ``json:answer``, ``regex:PATTERN`` ...); by default the
  extractors plausible for the suite's scorer types;
* ``scorer=TYPE[/EXTRACT]``: one scorer type for every sample (e.g. ``choice/first_word``);
* ``llm=MODEL``: a model reads each output and names its final answer (the LLM extractor), which
  the suite's scorers then compare with the reference.

Each sample is scored against its variant's reference: variants that change the reference
(shuffled options) are rebuilt from the suite stored in the run's manifest, deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tailgate.config import LoadedSuite, ScorerConfig, SourceMap, SuiteConfig
from tailgate.errors import UsageError
from tailgate.perturb import build_variants
from tailgate.records import Item, Manifest
from tailgate.scorers import BoundScorer, build_scorers, parse_extractor
from tailgate.store import Store

__all__ = ["DEFAULT_EXTRACTORS", "Rescored", "default_extractors", "rescore"]

DEFAULT_EXTRACTORS = ("strip", "first_line", "first_word", "last_number", "choice_letter", "json:answer")
# The parsers worth comparing for each scorer type (the default when no --extract is given): a
# last-number parser says nothing about a multiple-choice run but inflates its "spread".
_PLAUSIBLE = {
    "choice": ("choice_letter", "first_word", "strip", "first_line"),
    "numeric": ("last_number", "first_number", "strip", "first_line"),
    "exact": ("strip", "first_line", "first_word"),
    "normalized": ("strip", "first_line", "first_word"),
    "contains": ("identity", "first_line", "first_word"),
    "regex": ("identity", "first_line", "strip"),
}


def default_extractors(suite: LoadedSuite) -> list[str]:
    """Extractors plausible for the suite's scorer types, in a stable order."""
    chosen: list[str] = []
    for scorer in suite.config.scorers:
        plausible = _PLAUSIBLE.get(scorer.type, ())
        if (scorer.extract or "").startswith("json"):  # answers asked for as JSON
            plausible = (*plausible, "json:answer", "identity")
        for name in plausible:
            if name not in chosen:
                chosen.append(name)
    return chosen or list(DEFAULT_EXTRACTORS)


@dataclass
class Rescored:
    """Scores of every sample under every parser (rows: samples; columns: parsers)."""

    run_id: str
    parsers: list[str]
    item_id: np.ndarray
    label: np.ndarray
    """What a user recognises each sample's item by: its dataset id, else its content id."""
    variant: np.ndarray
    output: list[str]
    scores: np.ndarray
    """samples x parsers; NaN where a parser could not score (no reference, scorer error)."""


def _suite(manifest: Manifest, run_id: str) -> LoadedSuite | None:
    config = manifest.suite.config
    if not config:
        return None
    try:
        parsed = SuiteConfig.model_validate(config)
    except Exception as exc:  # a manifest from another version: say so, do not guess
        raise UsageError(f"run {run_id}: its stored suite cannot be read by this version ({exc})") from None
    path = Path(manifest.suite.path or "suite.yaml")
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


LLM_PROMPT = (
    "Here is a question and a response to it. What final answer does the response give? Reply with "
    "that answer only (a letter, a number, a word or a short phrase), exactly as the response states "
    "it, or NONE if it gives none.\n\nQuestion: {question}\n\nResponse: {response}\n\nFinal answer:"
)


def _question(item: Item) -> str:
    texts = [v for v in item.input.values() if isinstance(v, str)]
    return "\n".join(texts)[:4000]


def llm_answers(model: str, pairs: list[tuple[str, str]], store: Store, timeout_s: float = 120.0) -> list[str | None]:
    """The answer a model reads out of each (question, response): the LLM extractor. Cached like
    samples (purpose ``extract``), temperature 0; endpoint faults retried."""
    import asyncio

    from tailgate.config import RetryConfig
    from tailgate.providers import ProviderOptions, create_provider
    from tailgate.runner._ask import ask_model

    async def go() -> list[str | None]:
        provider = create_provider(model, ProviderOptions(timeout_s=timeout_s))
        cache = store.cache()
        try:
            replies, _ = await ask_model(
                provider,
                [LLM_PROMPT.format(question=q, response=r[:4000]) for q, r in pairs],
                purpose="extract",
                temperature=0.0,
                max_tokens=32,
                seed=0,
                stop=("\n",),
                cache=cache,
                retry=RetryConfig(),
                timeout_s=timeout_s,
            )
        finally:
            cache.close()
            await provider.aclose()
        out: list[str | None] = []
        for reply in replies:
            answer = reply.strip().splitlines()[0].strip() if reply.strip() else ""
            out.append(None if not answer or answer.upper().startswith("NONE") else answer)
        return out

    return asyncio.run(go())


def rescore(
    store: Store,
    run_id: str,
    extractors: list[str] | None = None,
    scorers: list[str] | None = None,
    llm: str | None = None,
) -> Rescored:
    """Score every stored output of ``run_id`` under each parser (see the module docstring);
    ``llm``: a model spec whose reading of each output is one more parser (``llm=<model>``)."""
    manifest = store.manifest(run_id)
    suite = _suite(manifest, run_id)
    if suite is None:
        raise UsageError(f"run {run_id} has no suite (an import): there are no scorers to vary")
    base = build_scorers(suite)
    # (label, scorers, applied to every sample regardless of the scorers' 'when')
    parsers: list[tuple[str, list[BoundScorer], bool]] = [("as run", [], False)]
    for name in extractors if extractors is not None else ([] if scorers or llm else default_extractors(suite)):
        parsers.append((f"extract={name}", _with_extractor(base, name), False))
    for spec in scorers or []:
        parsers.append((f"scorer={spec}", _scorer(spec, suite), True))
    if llm:
        parsers.append((f"llm={llm}", _with_extractor(base, "identity"), False))
    items = {
        row["item_id"]: Item(row["item_id"], row["input"], row["reference"], row["attributes"], row.get("source_id"))
        for row in store.read_items(run_id)
    }
    perturbations = {name: p for name, p in build_variants(suite).perturbations.items() if p.impl.changes_reference}
    table = store.read_records(run_id)
    cols = {name: table.column(name).to_pylist() for name in ("item_id", "variant", "output", "score", "error_class")}
    keep = [i for i, err in enumerate(cols["error_class"]) if err is None and cols["output"][i] is not None]
    scores = np.full((len(keep), len(parsers)), np.nan)
    variant_items: dict[tuple[str, str], Item] = {}
    read: list[str | None] = []
    if llm:
        read = llm_answers(llm, [(_question(items[cols["item_id"][i]]), str(cols["output"][i])) for i in keep], store)
    for row, i in enumerate(keep):
        item_id, variant, output = cols["item_id"][i], cols["variant"][i], cols["output"][i]
        stored = cols["score"][i]
        scores[row, 0] = np.nan if stored is None else float(stored)
        key = (item_id, variant)
        if key not in variant_items:
            item = items[item_id]
            variant_items[key] = perturbations[variant].apply(item) if variant in perturbations else item
        item = variant_items[key]
        for j, (name, bound, everywhere) in enumerate(parsers[1:], start=1):
            text = output
            if name.startswith("llm="):
                if read[row] is None:  # the model found no answer in the output: wrong, as for extractors
                    scores[row, j] = 0.0
                    continue
                text = str(read[row])
            for scorer in bound:
                if everywhere or scorer.applies_to(item):
                    result = scorer(text, item)
                    scores[row, j] = np.nan if result.value is None else result.value
                    break
    return Rescored(
        run_id,
        [name for name, _, _ in parsers],
        np.array([cols["item_id"][i] for i in keep], dtype=object),
        np.array([items[cols["item_id"][i]].source_id or cols["item_id"][i] for i in keep], dtype=object),
        np.array([cols["variant"][i] for i in keep], dtype=object),
        [str(cols["output"][i]) for i in keep],
        scores,
    )
