"""The run manifest's provenance. Package versions: read from the metadata's header lines, they are what
``importlib.metadata.version`` gives (which parses the whole file), for every installed package."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from tailgate.runner._manifest import _PACKAGES, _git_and_host, _host, _version


def test_versions_equal_importlib_metadata_for_every_installed_package() -> None:
    names = {dist.metadata["Name"] for dist in metadata.distributions()} | set(_PACKAGES)
    assert len(names) > 20  # (the environment's own packages: a check over nothing would pass)
    for name in sorted(names):
        try:
            expected: str | None = metadata.version(name)
        except metadata.PackageNotFoundError:
            expected = None
        assert _version(name) == expected, name


def test_a_missing_package_has_no_version() -> None:
    assert _version("no-such-package-tailgate-test") is None


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env).stdout


def test_git_commit_and_dirty_flag_of_the_suites_repository(tmp_path: Path) -> None:
    """The two ``git`` processes run at once: the commit is ``rev-parse HEAD``'s, dirty follows
    a tracked file's change (untracked files do not count), and outside a repository (or without
    git) there is no git entry; the host is recorded beside it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "suite.yaml").write_text("name: s\n")
    _git(repo, "add", "suite.yaml")
    _git(repo, "commit", "-q", "-m", "one")
    head = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "untracked.txt").write_text("x")
    assert _git_and_host(repo) == ({"commit": head, "dirty": False}, _host())
    (repo / "suite.yaml").write_text("name: t\n")
    assert _git_and_host(repo)[0] == {"commit": head, "dirty": True}
    outside = tmp_path / "outside"
    outside.mkdir()
    git, host = _git_and_host(outside)
    assert git is None
    assert host == _host()
    assert host["platform"] == platform.platform()
