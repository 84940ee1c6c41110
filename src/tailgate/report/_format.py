"""How every renderer prints a number: an estimate, a p-value, a percentage, an n.

One place, so that the terminal, Markdown and HTML say the same thing the same way. Text
functions return plain text (the terminal and Markdown escape it their own way); the ``html_``
ones return markup with every interpolated text escaped. :func:`safe` is the first step of a
renderer: a copy of a typed result whose every string is neutralised (control and bidi
characters made visible), so widths are measured on the text that is shown.
"""

from __future__ import annotations

import dataclasses
from html import escape
from typing import TYPE_CHECKING, Any, TypeVar

from tailgate.text import neutralize

if TYPE_CHECKING:  # an Estimate formats itself: nothing here needs analysis (numpy) at run time
    from tailgate.analysis import Estimate

__all__ = [
    "count",
    "estimate",
    "html_estimate",
    "interval",
    "markdown",
    "number",
    "p_value",
    "percent",
    "safe",
    "too_few",
]

T = TypeVar("T")


def estimate(e: Estimate, digits: int = 3, sign: str = "", *, why: bool = False) -> str:
    """The estimate as "value [low, high]" (the value alone without an interval); "n/a" without
    a value, with the reason when ``why``. ``sign="+"`` for a difference."""
    if e.value is None and why:
        return f"n/a ({e.method})"
    return format(e, f"{sign}.{digits}f")


def html_estimate(e: Estimate, digits: int = 3, sign: str = "") -> str:
    """:func:`estimate` as HTML; without a value, the reason in a note."""
    if e.value is None:
        return f"n/a <span class='note'>({escape(e.method)})</span>"
    return escape(estimate(e, digits, sign))


def interval(low: float | None, high: float | None, digits: int = 3, missing: str = "n/a") -> str:
    """ "[low, high]", or ``missing`` when there is none."""
    if low is None or high is None:
        return missing
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def too_few(method: str) -> str:
    """What a percentile without an interval lacks, from its ``method``: items or samples."""
    return "too few items" if method.startswith("too few items") else "too few samples"


def number(x: float | None, digits: int = 3) -> str:
    """A number in fixed point; "n/a" for None."""
    return "n/a" if x is None else f"{x:.{digits}f}"


def p_value(p: float | None) -> str:
    """A p-value in two significant digits; an exact 0 (below the smallest double) as "<1e-300"."""
    if p is None:
        return "n/a"
    return "<1e-300" if p == 0 else f"{p:.2g}"


def percent(x: float | None, digits: int = 0) -> str:
    """A share as a percentage ("42%"); "n/a" for None."""
    return "n/a" if x is None else f"{x:.{digits}%}"


def count(n: int | None) -> str:
    """A count of items or samples; "n/a" for None."""
    return "n/a" if n is None else str(n)


def markdown(text: str) -> str:
    """``text`` for a Markdown table cell or line: neutralised, whitespace folded to one line,
    HTML-escaped (GitHub renders raw HTML) and ``|`` quoted."""
    return escape(" ".join(neutralize(str(text)).split())).replace("|", "\\|")


def safe(result: T) -> T:
    """A copy of ``result`` (frozen dataclasses, lists, tuples, dicts, strings, numbers) with
    every string, dict keys included, passed through :func:`tailgate.text.neutralize`."""
    return _safe(result)  # type: ignore[no-any-return]


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return neutralize(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _safe(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    if isinstance(value, dict):
        return {_safe(k): _safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_safe(v) for v in value)
    return value
