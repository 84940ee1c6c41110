"""Text helpers shared by scorers and analysis: normalising answers, finding JSON, numbers.

They sit at the bottom of the layers so that analysis (which must not import scorers) and
scorers agree on what "the same answer" means.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

__all__ = ["find_json", "neutralize", "neutralize_data", "normalize_text", "parse_number"]

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def parse_number(token: str) -> float | None:
    """Parse one number token: ``1,234`` and ``1 234`` are thousands, ``2,5`` is 2.5."""
    t = token.strip().replace("\u2212", "-").replace("\u00a0", "").replace("\u202f", "")
    if "," in t and "." not in t:
        head, _, tail = t.rpartition(",")
        if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+", t):
            t = t.replace(",", "")
        elif head and "," not in head and len(tail) != 3:
            t = f"{head}.{tail}"
        else:
            t = t.replace(",", "")
    else:
        t = t.replace(",", "")
    try:
        return float(t)
    except ValueError:
        return None


def find_json(text: str) -> Any:
    """The first JSON object or array in ``text`` (code fences allowed); raises ValueError."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        stripped = candidate.strip()
        try:
            return json.loads(stripped)
        except ValueError:
            pass
        for start, char in enumerate(candidate):
            if char in "{[":
                try:
                    value, _ = decoder.raw_decode(candidate, start)
                    return value
                except ValueError:
                    continue
    raise ValueError("no JSON value found")


def normalize_text(text: str, strip_accents: bool = False) -> str:
    """Casefold, drop punctuation and articles (en/fr/es/de), collapse spaces."""
    t = unicodedata.normalize("NFKC", text).casefold()
    if strip_accents:
        t = "".join(c for c in unicodedata.normalize("NFD", t) if unicodedata.category(c) != "Mn")
    t = "".join(" " if unicodedata.category(c).startswith("P") else c for c in t)
    words = [w for w in t.split() if w not in _ARTICLES]
    return " ".join(words)


_ARTICLES = frozenset(
    [
        "a",
        "an",
        "the",
        "le",
        "la",
        "les",
        "l",
        "un",
        "une",
        "des",
        "el",
        "los",
        "las",
        "una",
        "unos",
        "unas",
        "der",
        "die",
        "das",
        "ein",
        "eine",
    ]
)


# Characters that change what a terminal, a browser or an editor shows instead of being shown:
# C0 controls (ESC starts terminal escape sequences; NUL, BEL, BS, CR rewrite the line), DEL, C1
# controls (0x9B is a one-byte CSI on some terminals), and the Unicode bidirectional controls
# (an RTL override makes "42 override LTR" display reversed).
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_NEUTRAL = {c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)}  # control pictures: ␛ ␀ ␍
_NEUTRAL[0x7F] = "\u2421"  # ␡
_NEUTRAL.update({c: f"<U+{c:04X}>" for c in range(0x80, 0xA0)})
_NEUTRAL.update({ord(c): f"<U+{ord(c):04X}>" for c in _BIDI})
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + _BIDI + "\ud800-\udfff]")


def neutralize(text: str) -> str:
    """``text`` made safe to render anywhere (terminal, Markdown, JUnit XML, HTML): control and
    bidirectional-control characters become visible stand-ins (ESC -> ␛, NUL -> ␀, U+202E ->
    ``<U+202E>``), lone surrogates become U+FFFD; tabs and newlines stay. Everything else is
    unchanged, so the text stays readable. Markup escaping is the renderer's job on top of this;
    stored records and exports keep the raw text."""
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(lambda m: _NEUTRAL.get(ord(m.group()), "\ufffd"), text)


def neutralize_data(value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, tuples, strings, numbers) with every string,
    keys included, passed through :func:`neutralize`: what renderers lay out, so widths are
    measured on the text that is shown."""
    if isinstance(value, str):
        return neutralize(value)
    if isinstance(value, dict):
        return {neutralize_data(k): neutralize_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(neutralize_data(v) for v in value)
    return value
