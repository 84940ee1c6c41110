"""The shadow proxy: mirror a sample of live OpenAI-compatible traffic to candidates, never
touching the primary path, and store the pairs as ordinary runs (docs/shadow.md)."""

from tailgate.shadow._config import ShadowConfig
from tailgate.shadow._http import default_run_id, safe_url
from tailgate.shadow._keys import MIRRORABLE_PATHS, mirror_share, noise_share, request_key, skip_reason
from tailgate.shadow._parse import Outcome, parse_response
from tailgate.shadow._proxy import ShadowProxy, serve
from tailgate.shadow._recorder import run_ids

__all__ = [
    "MIRRORABLE_PATHS",
    "Outcome",
    "ShadowConfig",
    "ShadowProxy",
    "default_run_id",
    "mirror_share",
    "noise_share",
    "parse_response",
    "request_key",
    "run_ids",
    "safe_url",
    "serve",
    "skip_reason",
]
