"""Personal data and secrets in sampled traffic, replaced by placeholders before anything is written.

Who finds what (docs/sample.md says why this library):

* **Microsoft Presidio** (``presidio-analyzer``), its pattern recognizers only, with its no-op
  NLP engine: no spaCy model is loaded or downloaded. ``email`` (its pattern, the domain checked
  against the Public Suffix List snapshot that ``tldextract`` bundles, offline), ``phone``
  (Google's libphonenumber through ``phonenumbers``, numbers valid in one of the regions of
  :data:`PHONE_REGIONS` or written internationally; tailgate keeps those with at least 8 digits
  that are not part of a longer word or number, see :func:`_phone_like`), ``card`` (card-number patterns, kept only
  when the Luhn checksum holds), ``iban`` (the IBAN checksum);
* **tailgate's own patterns** (:data:`SECRET_PATTERNS`): ``secret``, API keys and tokens by
  their published prefixes (OpenAI/Anthropic ``sk-``, AWS access key ids ``AKIA``..., GitHub,
  Slack, Google, Stripe), JWTs, PEM private keys, ``Bearer`` tokens, and the value after
  ``api_key=``, ``secret:``, ``password=``, ``token:``, ``aws_secret_access_key=``. Presidio has no
  recognizer for keys.

Each found span is replaced by ``<EMAIL>``, ``<PHONE>``, ``<CARD>``, ``<IBAN>`` or ``<SECRET>``;
where spans overlap, secrets win, then the longer span. What was replaced is counted per kind.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from tailgate.errors import MissingDependency

__all__ = ["KINDS", "PHONE_REGIONS", "SECRET_PATTERNS", "Scrubber"]

KINDS = ("email", "phone", "card", "iban", "secret")
PHONE_REGIONS = ("US", "GB", "CA", "AU", "IN", "DE", "FR", "ES", "IT", "NL", "BR", "MX", "JP", "IL")
"""Regions whose national phone formats are recognised (international ``+..`` numbers always are)."""

_PHONE_DIGITS = 8
_ENTITIES = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "CREDIT_CARD": "card", "IBAN_CODE": "iban"}

SECRET_PATTERNS: tuple[tuple[str, str], ...] = (
    ("pem private key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    ("openai/anthropic key", r"\bsk-[A-Za-z0-9_\-]{20,}"),
    ("aws access key id", r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b"),
    ("github token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b"),
    ("slack token", r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"),
    ("google api key", r"\bAIza[0-9A-Za-z_\-]{35}"),
    ("stripe key", r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}"),
    ("jwt", r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    ("bearer token", r"(?i)(?<=\bbearer )[A-Za-z0-9._~+/\-]{20,}=*"),
    (
        "assigned secret",
        r"(?i)(?<![A-Za-z0-9])(?:aws_secret_access_key|api[_-]?key|secret(?:[_-]?key)?|password|passwd|"
        r"access[_-]?token|auth[_-]?token|token)[\"']?\s*[:=]\s*[\"']?(?P<value>[^\s\"',;]{8,})",
    ),
)
"""(what, regular expression) of the secrets tailgate finds itself; a ``value`` group, when the
pattern has one, is the part replaced (the name before it stays)."""

_SECRETS = [re.compile(p) for _, p in SECRET_PATTERNS]


def _presidio() -> Any:
    try:
        import presidio_analyzer
        import tldextract
        from presidio_analyzer.nlp_engine import NoOpNlpEngine
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            EmailRecognizer,
            IbanRecognizer,
            PhoneRecognizer,
        )
    except ImportError as exc:
        raise MissingDependency(
            f"PII scrubbing needs presidio-analyzer: pip install 'tailgate[sample]' ({exc})"
        ) from None
    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)  # the bundled snapshot: no fetch

    class OfflineEmail(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return bool(offline(pattern_text.rpartition("@")[2]).fqdn)

    registry = presidio_analyzer.RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        OfflineEmail(),
        PhoneRecognizer(supported_regions=list(PHONE_REGIONS)),
        CreditCardRecognizer(),
        IbanRecognizer(),
    ):
        registry.add_recognizer(recognizer)
    engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    return presidio_analyzer.AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


def _phone_like(text: str, start: int, end: int) -> bool:
    """tailgate's filter on libphonenumber's matches, against numbers in code, tables and sums: at
    least 8 digits, and not part of a longer word or number (a hash ``789abc1``, ``148822.25``)."""
    if sum(c.isdigit() for c in text[start:end]) < _PHONE_DIGITS:
        return False
    before = text[start - 1] if start else " "
    after = text[end : end + 2]
    if before.isalnum() or before in "_.,/-" or (after[:1].isalnum() or after[:1] == "_"):
        return False
    return not (after[:1] in ".," and after[1:2].isdigit())


class Scrubber:
    """Replaces personal data and secrets (see the module docstring); the analyzer is built on first use.

    Example:
        >>> Scrubber().scrub("mail ada@example.com, key sk-abcdefghijklmnopqrstuvwx")
        ('mail <EMAIL>, key <SECRET>', {'email': 1, 'secret': 1})
    """

    def __init__(self) -> None:
        self._engine: Any = None

    def _spans(self, text: str) -> list[tuple[int, int, str, int]]:
        """(start, end, kind, priority) of everything found."""
        spans = []
        for pattern in _SECRETS:
            for m in pattern.finditer(text):
                group = "value" if "value" in pattern.groupindex else 0
                spans.append((m.start(group), m.end(group), "secret", 2))
        if self._engine is None:
            self._engine = _presidio()
        entities = list(_ENTITIES)
        # the patterns are the same in every language; presidio only needs a language it was set up for
        for r in self._engine.analyze(text=text, language="en", entities=entities):
            kind = _ENTITIES[r.entity_type]
            if kind != "phone" or _phone_like(text, int(r.start), int(r.end)):
                spans.append((int(r.start), int(r.end), kind, 1))
        return spans

    def scrub(self, text: str) -> tuple[str, dict[str, int]]:
        """The text with every found span replaced, and how many of each kind were replaced."""
        if not text:
            return text, {}
        chosen: list[tuple[int, int, str]] = []
        for start, end, kind, _ in sorted(self._spans(text), key=lambda s: (-s[3], -(s[1] - s[0]), s[0])):
            if start < end and all(end <= a or start >= b for a, b, _ in chosen):
                chosen.append((start, end, kind))
        out, last = [], 0
        for start, end, kind in sorted(chosen):
            out.append(text[last:start] + f"<{kind.upper()}>")
            last = end
        counts = Counter(kind for _, _, kind in chosen)
        return "".join(out) + text[last:], {k: counts[k] for k in KINDS if counts[k]}
