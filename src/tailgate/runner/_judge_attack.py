"""The judge attack kit as a suite: every (item, attack) of a source suite an item whose output is
the attack string, so that a normal run (crash-safe, resumable) replays them through ``fake:echo``
and the judge scores them (``tailgate judge-attack``, docs/judges.md).

The attack suite's item keeps the source item's fields (the judge sees the same question) and
reference; ``attack`` and ``attack_item`` (the source item) are its attributes, ``attack_output``
too (the completion template renders it, so the judge's ``input`` slot never sees it), and an
integer ``attack_n`` keeps the (item, attack) items' content hashes apart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tailgate.config import load_suite
from tailgate.dataset import load_dataset
from tailgate.errors import UsageError
from tailgate.scorers import JUDGE_ATTACKS as ATTACKS
from tailgate.scorers import attack_outputs

__all__ = ["attack_run_id", "write_attack_suite"]

_RESERVED = ("attack", "attack_item", "attack_output", "attack_n", "attack_id", "attack_reference")


def attack_run_id(suite: str, judge: dict[str, Any], limit: int | None, attacks: Sequence[str]) -> str:
    """The default run id: the same command resumes the same run."""
    key = json.dumps([str(Path(suite).resolve()) if Path(suite).exists() else suite, judge, limit, list(attacks)],
                     sort_keys=True)  # fmt: skip
    return "judge-attack-" + hashlib.sha256(key.encode()).hexdigest()[:10]


def write_attack_suite(
    suite: str, judge: dict[str, Any], folder: Path, limit: int | None = 20, attacks: Sequence[str] = ATTACKS
) -> tuple[Path, int]:
    """Write the attack suite of ``suite``'s first ``limit`` items with a text or number reference
    (or a list of accepted ones) into ``folder``;
    returns its path and the number of source items attacked.

    Raises:
        UsageError: an unknown attack, or no item with a reference.
    """
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        raise UsageError(f"unknown attack(s) {', '.join(unknown)}; the kit has {', '.join(ATTACKS)}")
    loaded = load_suite(suite)
    rows: list[dict[str, Any]] = []
    attacked = 0
    for item in load_dataset(loaded).items:
        if limit is not None and attacked >= limit:
            break
        if item.reference is None or isinstance(item.reference, dict):
            continue
        clash = [k for k in _RESERVED if k in item.input]
        if clash:
            raise UsageError(f"the suite's items have field(s) {', '.join(clash)}, which the attack suite uses")
        source = item.source_id or item.item_id
        outputs = attack_outputs(item.reference, source)
        chosen = [(k, a) for k, a in enumerate(ATTACKS) if a in attacks and a in outputs]
        if not chosen:
            continue
        attacked += 1
        for k, attack in chosen:
            rows.append(
                {
                    **item.input,
                    "attack_id": f"{source}::{attack}",
                    "attack_reference": item.reference,
                    "attack": attack,
                    "attack_item": source,
                    "attack_output": outputs[attack],
                    "attack_n": k,
                }
            )
    if not rows:
        raise UsageError(f"{suite}: no item has a text or number reference to attack")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "items.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    config = {
        "name": f"judge-attack-{loaded.config.name}",
        "description": f"the judge attack kit on {attacked} items of {loaded.config.name}",
        "dataset": {
            "path": "items.jsonl",
            "id": "attack_id",
            "reference": "attack_reference",
            "attributes": ["attack", "attack_item", "attack_output"],
        },
        "templates": [{"name": "attack", "text": "{{ attributes.attack_output }}"}],
        "repeats": 1,
        "scorers": [judge],
    }
    path = folder / "suite.yaml"
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", "utf-8")  # JSON is YAML
    return path, attacked
