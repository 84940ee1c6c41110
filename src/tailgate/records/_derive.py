"""Slice attributes derived from an item's input text, so that slices nobody declared can be found.

They sit below analysis so that the report (items of a run) and the traffic import (production
requests) derive the same attributes with the same code.

All of these are heuristics, deliberately simple, offline and deterministic; each says in its
name what it measures, and none of them is used as ground truth:

* ``input_tokens``: bucket of the prompt's token count (from the provider's usage when the run
  has it, else about one token per four characters);
* ``lang``: the language with most function words among English, French, Spanish, German,
  Italian, Portuguese and Dutch, or the script (``cjk``, ``cyrillic``, ``arabic``...) or ``other``;
* ``names``: ``none``, ``english`` or ``non_english``: a capitalised word with non-ASCII letters
  inside a sentence, or a capitalised pair of words whose first is not in a list of common English
  first names, counts as non-English (place names count too: it is a proper-noun heuristic); a
  pair starting with a common English first name counts as English;
* ``non_ascii``: the input has letters outside ASCII;
* ``has_numbers``: the input has a digit;
* ``asks_json``: the input mentions JSON.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

__all__ = ["TOKEN_EDGES", "derive_item_features", "detect_language", "detect_names", "token_bucket"]

TOKEN_EDGES = (100, 250, 500, 1000, 2000, 4000, 8000)

_STOPWORDS = {
    "en": "the and of to is in what which how many are does with for this that answer reply has have"
    " had a an it he she they his her was were be been will would can do did not only from",
    "fr": "le la les des est et du une qui quelle quel combien dans avec pour réponse répondez il"
    " elle ils a au aux sont ce cette son sa ses pas que en un ne par sur",
    "es": "el la los las es y del una que cuál cuántos en con para por respuesta responde tiene"
    " un al su sus lo se no son está como más",
    "de": "der die das und ist ein eine wie viele welche mit für von auf antwort antworte nur hat"
    " den dem des sie er es sind nicht zu im auch",
    "it": "il lo gli della è e una che quale quanti con per di risposta rispondi ha un non sono nel alla",
    "pt": "o os as da do é e uma que qual quantos com para em resposta responda tem um não são no na",
    "nl": "de het een en is van wat hoeveel welke met voor op antwoord heeft niet zijn ook",
}
_WORDS = {lang: frozenset(words.split()) for lang, words in _STOPWORDS.items()}
_ASCII_DIGIT = re.compile(r"[0-9]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)
_CAPITAL = r"[A-ZÀ-ÖØ-ÞĀ-ſ][\w'’-]+"
_NAME_PAIR = re.compile(rf"\b({_CAPITAL})\s+({_CAPITAL})")
_ACCENTED_CAPITALISED = re.compile(rf"\b{_CAPITAL}")
_ENGLISH_FIRST = frozenset(
    """james john robert michael william david richard joseph thomas charles christopher daniel
    matthew anthony mark donald steven paul andrew joshua kenneth kevin brian george timothy
    ronald edward jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin
    scott brandon benjamin samuel gregory alexander frank patrick raymond jack dennis jerry
    tyler aaron henry adam peter nathan zachary kyle walter harold jeremy ethan carl keith roger
    arthur terry sean austin noah lawrence jesse dylan bryan joe jordan billy bruce albert
    willie gabriel logan alan ralph roy eugene randy vincent russell louis philip bobby johnny
    bradley oliver harry liam mary patricia jennifer linda elizabeth barbara susan jessica sarah
    karen lisa nancy betty margaret sandra ashley kimberly emily donna michelle carol amanda
    dorothy melissa deborah stephanie rebecca sharon laura cynthia kathleen amy angela shirley
    anna brenda pamela emma nicole helen samantha katherine christine debra rachel carolyn janet
    catherine heather diane ruth julie olivia joyce virginia victoria kelly lauren christina
    joan evelyn judith megan andrea cheryl hannah jacqueline martha gloria teresa ann sara
    madison frances kathryn janice jean abigail alice judy sophia grace denise amber doris
    marilyn danielle beverly isabella theresa diana natalie brittany charlotte marie kayla
    alexis lori lucy chloe ella mia ava""".split()
)
_NOT_NAMES = frozenset(
    """the a an what which how who where when why is are does do question answer reply text extract
    json city name age true false yes no capital united new north south east west saint san los
    las el la le de des du von van mr mrs ms dr""".split()
)


def token_bucket(tokens: float | None) -> str | None:
    """``<100``, ``100-250``, ..., ``>=8000`` (edges :data:`TOKEN_EDGES`)."""
    if tokens is None:
        return None
    lower = 0
    for edge in TOKEN_EDGES:
        if tokens < edge:
            return f"<{edge}" if lower == 0 else f"{lower}-{edge}"
        lower = edge
    return f">={TOKEN_EDGES[-1]}"


def _script(text: str) -> str | None:
    counts: dict[str, int] = {}
    for char in text:
        if char.isalpha() and ord(char) > 0x24F:
            name = unicodedata.name(char, "")
            script = (
                "cjk"
                if ("CJK" in name or "HIRAGANA" in name or "KATAKANA" in name or "HANGUL" in name)
                else name.split(" ")[0].lower()
            )
            counts[script] = counts.get(script, 0) + 1
    letters = sum(1 for c in text if c.isalpha())
    if counts and letters:
        script, count = max(counts.items(), key=lambda kv: kv[1])
        if count / letters > 0.3:
            return script
    return None


def detect_language(text: str) -> str:
    """A two-letter code, a script name, or ``other``; see the module docstring."""
    script = _script(text)
    if script is not None:
        return script
    words = [w.lower() for w in _TOKEN.findall(text)]
    if not words:
        return "other"
    scores = {lang: sum(w in vocab for w in words) for lang, vocab in _WORDS.items()}
    lang, best = max(scores.items(), key=lambda kv: kv[1])
    needed = 1 if len(words) <= 6 else 2
    return lang if best >= needed and best >= 0.05 * len(words) else "other"


def detect_names(text: str) -> str:
    """``none``, ``english`` or ``non_english`` (see the module docstring)."""
    for match in _ACCENTED_CAPITALISED.finditer(text):
        word = match.group(0)
        if word.isascii() or word.lower() in _NOT_NAMES:  # (tested first: slicing the text is costly)
            continue
        before = text[: match.start()].rstrip()
        sentence_start = not before or before[-1] in '.!?¿¡:;\n"«'
        if not sentence_start:
            return "non_english"
    found = "none"
    for first, last in _NAME_PAIR.findall(text):
        if first.lower() in _NOT_NAMES or last.lower() in _NOT_NAMES:
            continue
        if first.lower() in _ENGLISH_FIRST and first.isascii() and last.isascii():
            found = "english" if found == "none" else found
        else:
            return "non_english"
    return found


def derive_item_features(
    text: str, tokens: float | None, language: Callable[[str], str] | None = None
) -> dict[str, Any]:
    """The derived attributes of one item's input text (tokens: measured, or estimated);
    ``language`` replaces :func:`detect_language` (the traffic import passes a trained model)."""
    estimate = tokens if tokens is not None else len(text) / 4.0
    return {
        "input_tokens": token_bucket(estimate),
        "lang": (language or detect_language)(text),
        "names": detect_names(text),
        # (str.isascii is O(1); on ASCII text only 0-9 are digits: the same answers, faster)
        "non_ascii": not text.isascii() and any(c.isalpha() for run in _NON_ASCII.findall(text) for c in run),
        "has_numbers": _ASCII_DIGIT.search(text) is not None if text.isascii() else any(c.isdigit() for c in text),
        "asks_json": "json" in text.lower(),
    }
