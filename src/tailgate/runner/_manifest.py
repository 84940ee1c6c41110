"""The run manifest: everything needed to know what produced a run, and to resume it safely."""

from __future__ import annotations

import hashlib
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from tailgate.config import LoadedSuite
from tailgate.dataset import Dataset
from tailgate.providers import redact
from tailgate.records import (
    DatasetInfo,
    Manifest,
    ModelInfo,
    Plan,
    RunProvenance,
    SuiteInfo,
    content_hash,
    file_sha256,
)

__all__ = ["build_manifest", "fingerprint", "mismatches"]

_PACKAGES = (
    "tailgate",
    "llama-cpp-python",
    "aiohttp",
    "pydantic",
    "jinja2",
    "pyarrow",
    "duckdb",
    "numpy",
)


def fingerprint(
    suite: LoadedSuite,
    dataset: Dataset,
    identity: dict[str, Any],
    mode: str,
    repeats: int,
    variants: list[str],
) -> dict[str, Any]:
    """What must not change between the sessions of one run (resume refuses otherwise)."""
    cfg = suite.config
    generated = (
        {"perturbations": content_hash([v.model_dump(mode="json") for v in cfg.variants])} if cfg.variants else {}
    )
    return {
        **generated,
        "items": content_hash([i.item_id for i in dataset.items]),
        "templates": content_hash([t.model_dump(mode="json") for t in cfg.templates]),
        "decoding": content_hash(cfg.decoding.model_dump(mode="json")),
        "scorers": content_hash([s.model_dump(mode="json") for s in cfg.scorers]),
        "model": content_hash(identity),
        "mode": mode,
        "repeats": repeats,
        "variants": variants,
    }


def mismatches(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Names of fingerprint entries that differ."""
    return [key for key in current if stored.get(key) != current[key]]


def build_manifest(
    *,
    run_id: str,
    suite: LoadedSuite,
    dataset: Dataset,
    limit: int | None,
    model_spec: str,
    provider_description: dict[str, Any],
    mode: str,
    repeats: int,
    variants: list[str],
    scorers: list[dict[str, Any]],
    execution: dict[str, Any],
    planned: int,
    fingerprint_: dict[str, Any],
    argv: list[str],
    started_at: str,
    variant_descriptions: dict[str, str] | None = None,
) -> Manifest:
    """The manifest of a new run (status ``running``; the sessions fill in the rest)."""
    return Manifest(
        run_id=run_id,
        status="running",
        suite=SuiteInfo(
            name=suite.config.name,
            path=str(suite.path),
            sha256=hashlib.sha256(suite.text.encode("utf-8")).hexdigest(),
            config=suite.config.model_dump(mode="json", by_alias=True),
            text=suite.text,
        ),
        dataset=DatasetInfo(
            path=str(dataset.path),
            sha256=file_sha256(dataset.path),
            rows_read=dataset.rows_read,
            items=len(dataset.items),
            duplicates_skipped=dataset.duplicates,
            limit=limit,
        ),
        model=ModelInfo.from_dict({"spec": model_spec, **provider_description}),
        mode=mode,
        repeats=repeats,
        variants=tuple(variants),
        plan=Plan(items=len(dataset.items), variants=len(variants), repeats=repeats, samples=planned),
        tailgate_version=_version("tailgate"),
        started_at=started_at,
        provenance=RunProvenance(
            variant_descriptions=variant_descriptions or {},
            decoding=suite.config.decoding.model_dump(mode="json"),
            scorers=tuple(scorers),
            execution=execution,
            fingerprint=fingerprint_,
            cli={"argv": [redact(a) for a in argv]},
            python=sys.version.split()[0],
            packages={name: v for name in _PACKAGES if (v := _version(name)) is not None},
            git=_git(suite.path.parent),
            host={"hostname": socket.gethostname(), "platform": platform.platform(), "cpus": _cpus()},
        ),
    )


def _version(name: str) -> str | None:
    """``importlib.metadata.version(name)``, read from the metadata's first lines: ``version()``
    parses the whole file as an e-mail message (pydantic's and numpy's embed their README), 6 ms
    of a run's start-up for eight packages."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    for line in text.splitlines():
        if not line.strip():
            break  # the end of the headers
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "version":
            return value.strip()
    return dist.version


def _cpus() -> int | None:
    import os

    return os.cpu_count()


def _git(folder: Path) -> dict[str, Any] | None:
    """Commit and dirty flag of the repository holding the suite, if it is in one."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
