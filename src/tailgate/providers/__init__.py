"""Model backends behind one small interface, and the faults they report."""

from __future__ import annotations

from tailgate.providers._base import (
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
    """Build the provider for a ``--model`` value through the registry."""
    from tailgate.registry import lookup

    parsed = parse_model_spec(spec)
    factory = lookup("providers", parsed.provider)
    provider: Provider = factory(parsed.name, options)
    return provider
