"""Runs for the viewer's tests: a known pair (hand-counted tags) and a run of hostile outputs.

The known pair: 12 items (``v0``..``v11``, attribute ``lang`` en/fr), 3 repeats, exact-match
scoring against the reference ``A<i>``. Per item, the base and the candidate answer right or wrong:

=========  ==========================  ==========================  =========
items      base                        candidate                   tag
=========  ==========================  ==========================  =========
v0-v3      always right                always wrong                regressed
v4-v5      always wrong                always right                improved
v6-v8      always right                always right                unchanged
v9         always wrong                always wrong                unchanged
v10-v11    always right                right on repeat 0 only      flaky
=========  ==========================  ==========================  =========

So: regressed 4, improved 2, unchanged 4, flaky 2 (of 12).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tailgate.runner import RunOptions, run_sync
from tailgate.store import Store
from tests.support.suites import make_suite

EXPECTED_TAGS = {"regressed": 4, "improved": 2, "unchanged": 4, "flaky": 2}
HOSTILE_MARK = "PWNED-MARK"


def pair_items() -> list[dict[str, Any]]:
    return [
        {"id": f"v{i}", "question": f"Say the code of item {i}.", "answer": f"A{i}", "lang": "en" if i % 2 else "fr"}
        for i in range(12)
    ]


def _item(prompt: Any) -> int:
    text = prompt if isinstance(prompt, str) else str(prompt[-1]["content"])
    match = re.search(r"item (\d+)\.", text)
    assert match, text
    return int(match.group(1))


def _reply(right: bool, i: int) -> dict[str, Any]:
    return {"text": f"A{i}" if right else "nope", "tokens_in": 8, "tokens_out": 2, "finish_reason": "stop"}


def base_model(prompt: Any, params: dict[str, Any]) -> dict[str, Any]:
    i = _item(prompt)
    return _reply(i not in (4, 5, 9), i)


def cand_model(prompt: Any, params: dict[str, Any]) -> dict[str, Any]:
    i = _item(prompt)
    if i in (10, 11):
        return _reply(int(params["seed"]) == 0, i)
    return _reply(i in (4, 5, 6, 7, 8), i)


def hostile_payloads(count: int = 300) -> list[str]:
    """``count`` outputs that would run script or fetch off the machine if rendered as HTML."""
    mark = f"window.__pwned=1;console.log('{HOSTILE_MARK}')"
    kinds = [
        f"<script>{mark}</script>",
        f'<svg onload="{mark}"><circle r="5"/></svg>',
        f'<img src="http://198.51.100.7/x.png" onerror="{mark}">',
        f'<a href="javascript:{mark}">click me</a>',
        f'**bold** [link](javascript:{mark}) <b onmouseover="{mark}">hover</b>\n```html\n<script>{mark}</script>\n```',
        f"\x1b[31mred\x1b[0m \x1b]8;;http://198.51.100.7/\x07link\x1b]8;;\x07 <script>{mark}</script>",
        f'\u202eRTL override\u202c <iframe src="javascript:{mark}"></iframe>',
        '<link rel="stylesheet" href="http://198.51.100.7/x.css"><style>@import url(http://198.51.100.7/y.css);</style>',
        f'<object data="http://198.51.100.7/x.swf"></object><video src=x onerror="{mark}"></video>',
        f'"><script>{mark}</script><img src=x onerror={mark}>',
    ]
    out = [kinds[k % len(kinds)] + f" #{k}" for k in range(count)]
    out[-1] = "<script>" + mark + "</script>" + "x" * (1 << 20)  # a 1 MB string
    return out


def hostile_model(prompt: Any, params: dict[str, Any]) -> dict[str, Any]:
    i = _item(prompt)
    payloads = hostile_payloads()
    return {"text": payloads[i % len(payloads)], "tokens_in": 8, "tokens_out": 2, "finish_reason": "stop"}


def hostile_items(count: int = 300) -> list[dict[str, Any]]:
    payloads = hostile_payloads(count)
    # the attribute values are hostile too: they name the slices of the diff's table
    langs = [f'<img src=x onerror="window.__pwned=1">{k}' for k in range(2)]
    return [
        {
            "id": f"h{i}",
            "question": f"Say the code of item {i}. {payloads[i][:200]}",
            "answer": f"A{i}",
            "lang": langs[i % 2],
        }
        for i in range(count)
    ]


TWO_TEMPLATES = [
    {"name": "original", "messages": [{"role": "user", "content": "{{ question }}"}], "text": "Q: {{ question }}\nA:"},
    {"name": "para", "messages": [{"role": "user", "content": "Please: {{ question }}"}], "text": "{{ question }}"},
]


def make_pair(folder: Path, templates: list[dict[str, Any]] | None = None) -> tuple[Store, str, str]:
    """The known pair in a new store under ``folder``: (store, base run id, candidate run id);
    ``templates``: the variants (default: one, ``original``; the models answer the same on any)."""
    store = Store(folder / "store")
    suite = make_suite(
        folder / "suite",
        pair_items(),
        repeats=3,
        templates=templates,
        scorers=[{"type": "exact"}],
        extra={
            "dataset": {"path": "items.jsonl", "id": "id", "reference": "answer", "attributes": ["lang"]},
            "decoding": {"temperature": 0.7, "seed": 0},
        },
    )
    ids = []
    for name, model in (("base", "base_model"), ("cand", "cand_model")):
        result = run_sync(
            RunOptions(
                suite=str(suite),
                model=f"python:tests.support.view_runs:{model}",
                store=str(store.root),
                cache=False,
                run_id=name,
            )
        )
        ids.append(result.run_id)
    return store, ids[0], ids[1]


def make_hostile(folder: Path) -> tuple[Store, str, str]:
    """A pair over 300 items whose inputs and candidate outputs are hostile."""
    store = Store(folder / "store")
    suite = make_suite(
        folder / "suite",
        hostile_items(),
        scorers=[{"type": "exact"}],
        extra={"dataset": {"path": "items.jsonl", "id": "id", "reference": "answer", "attributes": ["lang"]}},
    )
    ids = []
    for name, model in (("polite", "base_model"), ("hostile", "hostile_model")):
        result = run_sync(
            RunOptions(
                suite=str(suite),
                model=f"python:tests.support.view_runs:{model}",
                store=str(store.root),
                cache=False,
                run_id=name,
            )
        )
        ids.append(result.run_id)
    return store, ids[0], ids[1]
