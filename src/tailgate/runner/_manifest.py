"""The run manifest: everything needed to know what produced a run, and to resume it safely."""

from __future__ import annotations

import hashlib
import platform
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
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

__all__ = ["build_manifest", "fingerprint", "mismatches", "suite_mismatches"]

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


def suite_mismatches(stored: Mapping[str, Any], suite: LoadedSuite) -> list[str]:
    """What of ``suite`` (templates, scorers, generated variants) differs from what a run with
    fingerprint ``stored`` was made with: the parts of :func:`fingerprint` that two runs of one
    suite on different models share."""
    cfg = suite.config
    current = {
        "templates": content_hash([t.model_dump(mode="json") for t in cfg.templates]),
        "scorers": content_hash([s.model_dump(mode="json") for s in cfg.scorers]),
        "perturbations": content_hash([v.model_dump(mode="json") for v in cfg.variants]) if cfg.variants else None,
    }
    return [key for key, value in current.items() if stored.get(key) != value]


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
    git, host = _git_and_host(suite.path.parent)
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
            git=git,
            host=host,
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


def _host() -> dict[str, Any]:
    return {"hostname": socket.gethostname(), "platform": platform.platform(), "cpus": _cpus()}


def _git_and_host(folder: Path) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """:func:`_git` of ``folder`` and :func:`_host`, the latter computed while the ``git``
    processes run (``platform.platform()`` runs ``uname -p`` itself: ~6 ms)."""
    host: dict[str, Any] = {}
    git = _git(folder, meanwhile=lambda: host.update(_host()))
    return git, host or _host()


def _git(folder: Path, meanwhile: Callable[[], None] | None = None) -> dict[str, Any] | None:
    """Commit and dirty flag of the repository holding the suite, if it is in one. The two
    ``git`` processes run at once (each is ~10 ms of a run's start-up), and ``meanwhile`` is
    called while they do."""
    procs: list[subprocess.Popen[str]] = []
    try:
        for args in (["rev-parse", "HEAD"], ["status", "--porcelain", "--untracked-files=no"]):
            procs.append(
                subprocess.Popen(
                    ["git", "-C", str(folder), *args],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
            )
        if meanwhile is not None:
            meanwhile()
        (commit, _), (status, _) = (proc.communicate(timeout=5) for proc in procs)
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if procs[0].returncode != 0:
        return None
    return {"commit": commit.strip(), "dirty": bool(status.strip())}
