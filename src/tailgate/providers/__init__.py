"""Model backends behind one small interface, and the faults they report."""

from __future__ import annotations

from tailgate.providers._base import (
    BaseProvider,
    ClientFault,
    ConnectionFault,
    Fault,
    Filtered,
    MalformedResponse,
    ModelSpec,
    Provider,
    ProviderOptions,
    RateLimited,
    Refused,
    Request,
    Response,
    ServerFault,
    TimeoutFault,
    parse_model_spec,
    redact,
    redact_output,
    register_secret,
)
from tailgate.providers._models import ALIASES, LocalModel, cache_dir, installed, resolve_local_model

__all__ = [
    "ALIASES",
    "BaseProvider",
    "ClientFault",
    "ConnectionFault",
    "Fault",
    "Filtered",
    "LocalModel",
    "MalformedResponse",
    "ModelSpec",
    "Provider",
    "ProviderOptions",
    "RateLimited",
    "Refused",
    "Request",
    "Response",
    "ServerFault",
    "TimeoutFault",
    "cache_dir",
    "create_provider",
    "installed",
    "parse_model_spec",
    "redact",
    "redact_output",
    "register_secret",
    "resolve_local_model",
]


def create_provider(spec: str, options: ProviderOptions) -> Provider:
    """Build the provider for a ``--model`` value through the registry (which checks that it
    declares every member of :class:`Provider`)."""
    from tailgate.registry import build

    parsed = parse_model_spec(spec)
    provider: Provider = build("providers", parsed.provider, None, parsed.name, options)
    return provider
