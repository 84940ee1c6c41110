"""The run manifest's package versions: read from the metadata's header lines, they are what
``importlib.metadata.version`` gives (which parses the whole file), for every installed package."""

from __future__ import annotations

from importlib import metadata

from tailgate.runner._manifest import _PACKAGES, _version


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
