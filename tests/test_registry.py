"""The registry's one builder: look up, check the declared members, validate, construct; each
failure is one error naming the component and, for parameters, the key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tailgate import registry
from tailgate.errors import MissingDependency, UsageError
from tailgate.registry import PluginError, build


class _EntryPoint:
    """Stands in for an importlib.metadata.EntryPoint whose load() raises."""

    def __init__(self, name: str, error: Exception) -> None:
        self.name, self.value, self.error = name, f"broken_plugin:{name}", error

    def load(self) -> Any:
        raise self.error


@pytest.fixture
def broken() -> Iterator[None]:
    group = registry._group("scorers")
    group["needs_torch"] = _EntryPoint("needs_torch", ImportError("No module named 'torch'"))  # type: ignore[assignment]
    group["raises"] = _EntryPoint("raises", RuntimeError("bad config at import"))  # type: ignore[assignment]
    yield
    del group["needs_torch"], group["raises"]


def test_build_validates_and_constructs() -> None:
    scorer = build("scorers", "numeric", {"abs_tol": 0.5})
    assert scorer.params.abs_tol == 0.5


@pytest.mark.parametrize(
    ("params", "message", "key"),
    [
        ({"abs_tl": 0.5}, "unknown key (scorer type 'numeric')", ("abs_tl",)),
        ({"abs_tol": "wide"}, "(scorer type 'numeric')", ("abs_tol",)),
    ],
)
def test_a_refused_parameter_names_its_key(params: dict[str, Any], message: str, key: tuple[str, ...]) -> None:
    with pytest.raises(PluginError) as err:
        build("scorers", "numeric", params)
    assert message in str(err.value)
    assert err.value.key == key
    assert err.value.__cause__ is not None  # the pydantic error, for a library user


def test_a_refusing_constructor_is_the_entry_s_error() -> None:
    with pytest.raises(PluginError, match="invalid regular expression") as err:
        build("scorers", "regex", {"pattern": "("})
    assert err.value.key == ()


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"unknown scorer 'nope'; known: .*exact"):
        build("scorers", "nope", {})


def test_fail_makes_the_caller_s_error() -> None:
    made: list[tuple[tuple[str | int, ...], str]] = []

    def fail(key: tuple[str | int, ...], message: str) -> Exception:
        made.append((key, message))
        return ValueError(message)

    with pytest.raises(ValueError, match="unknown scorer"):
        build("scorers", "nope", {}, fail=fail)
    assert made[0][0] == ("type",)


def test_a_plugin_s_import_error_keeps_its_cause(broken: None) -> None:
    with pytest.raises(MissingDependency, match="No module named 'torch'") as missing:
        build("scorers", "needs_torch", {})
    assert isinstance(missing.value.__cause__, ImportError)
    with pytest.raises(UsageError, match="failed to import: RuntimeError: bad config at import") as raised:
        build("scorers", "raises", {})
    assert isinstance(raised.value.__cause__, RuntimeError)


def test_a_plugin_without_a_declared_member_is_refused() -> None:
    class Bare:
        class Params:
            pass

        def score(self, answer: str, item: Any) -> Any:
            return None

    registry.register("scorers", "bare_for_test")(Bare)
    try:
        expected = r"does not declare default_extract, needs_model, score_async; subclass tailgate\.scorers\.BaseScorer"
        with pytest.raises(PluginError, match=expected):
            build("scorers", "bare_for_test", {})
    finally:
        del registry._registered["scorers"]["bare_for_test"]


def test_a_provider_is_built_from_its_factory_and_checked() -> None:
    from tailgate.providers import ProviderOptions

    provider = build("providers", "fake", None, "echo", ProviderOptions())
    assert provider.name == "fake:echo"
    assert provider.describe() == provider.identity()
