"""The runs a shadow session stores (the contract in docs/shadow.md), readable by report/compare."""

from __future__ import annotations

import json
from pathlib import Path

from tailgate.records import RECORD_COLUMNS
from tailgate.shadow import mirror_share, request_key
from tailgate.store import Store
from tailgate.traffic import TrafficTable
from tests.shadow._servers import Behaviour, Upstream, chat_body, request, shadowed, wait_for
from tests.support.cli import tailgate

REQUESTS: list[tuple[str, dict[str, object]]] = [
    (
        "/v1/chat/completions",
        {"model": "m", "messages": [{"role": "user", "content": "What is 2+2?"}], "temperature": 0.2},
    ),
    ("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "Stream it"}], "stream": True}),
    ("/v1/completions", {"model": "m", "prompt": "Once upon a time", "max_tokens": 5}),
    ("/v1/embeddings", {"model": "e", "input": "embed me"}),
    (
        "/v1/chat/completions",
        {
            "model": "m",
            "messages": [{"role": "user", "content": "JSON please"}],
            "response_format": {"type": "json_object"},
        },
    ),
]


def _session(tmp_path: Path, run_id: str = "sess", **options: object) -> tuple[Store, dict[str, object]]:
    store = Store(tmp_path / "store")
    with (
        Upstream("primary") as primary,
        Upstream("candidate") as cand,
        Upstream("candidate-two") as cand2,
        shadowed(primary, [cand, cand2], noise=1.0, store=str(store.root), run_id=run_id, **options) as proxy,
    ):
        for path, body in REQUESTS:
            assert request(proxy.url, path, json.dumps(body).encode(), {"Content-Type": "application/json"})[0] == 200
        wait_for(lambda: proxy.proxy.health()["records"].get("noise", 0) == len(REQUESTS))
    return store, proxy.summary


def test_the_runs_follow_the_contract(tmp_path: Path) -> None:
    store, summary = _session(tmp_path)
    assert summary["records"] == {"primary": 5, "candidate": 5, "candidate-2": 5, "noise": 5}
    runs = {r.run_id: r for r in store.list_runs()}
    assert set(runs) == {"sess-primary", "sess-candidate", "sess-candidate-2", "sess-noise"}
    keys = {request_key(path, dict(body.items())) for path, body in REQUESTS}
    for run_id, label in [
        ("sess-primary", "primary"),
        ("sess-candidate", "candidate"),
        ("sess-candidate-2", "candidate-2"),
        ("sess-noise", "primary"),
    ]:
        manifest = store.manifest(run_id)
        assert manifest.status == "completed"
        assert manifest.suite.name == "shadow"
        shadow = manifest.extra["shadow"]
        assert shadow["session"] == "sess"
        assert shadow["sample"] == 1.0
        assert shadow["noise"] == 1.0
        assert manifest.model.spec == label
        rows = store.read_records(run_id).to_pylist()
        assert {r["item_id"] for r in rows} == keys
        assert set(rows[0]) == {c.name for c in RECORD_COLUMNS}
        items = {i["item_id"]: i for i in store.read_items(run_id)}
        assert set(items) == keys
        for r in rows:
            assert r["sample_id"] == f"{r['item_id']}/shadow/0"
            assert (r["variant"], r["repeat"], r["model"], r["attempts"], r["cached"]) == ("shadow", 0, label, 1, False)
            assert r["error_class"] is None
            assert r["latency_ms"] > 0
            item = items[r["item_id"]]
            assert item["input"]["path"] in {p for p, _ in REQUESTS}
            assert {"lang", "input_tokens", "asks_json", "has_code"} <= set(item["attributes"])
        by_mode = {r["mode"]: r for r in rows}
        assert by_mode["embeddings"]["output"] is None
        assert by_mode["embeddings"]["score"] is None
        assert by_mode["completion"]["output"].endswith("Once upon a time")
        chat = [r for r in rows if r["mode"] == "chat"]
        streamed = next(r for r in chat if "Stream it" in r["prompt"])
        name = "primary" if label == "primary" else ("candidate-two" if label == "candidate-2" else "candidate")
        assert streamed["output"] == f"{name} says: Stream it"  # the concatenated deltas
        assert streamed["tokens_in"] == 7
        assert streamed["finish_reason"] == "stop"
        asked = next(r for r in chat if "JSON please" in r["prompt"])
        assert json.loads(asked["scores"])["json_valid"]["value"] == 1.0
        assert asked["score"] == 1.0
        assert json.loads(next(r for r in chat if "2+2" in r["prompt"])["params"]) == {"temperature": 0.2}
    traffic = TrafficTable(store.traffic_dir).read().to_pylist()
    assert len(traffic) == 5
    assert {t["format"] for t in traffic} == {"shadow"}
    columns = [json.loads(t["columns"]) for t in traffic]
    assert all(
        c["mirrored"] and c["noise"] and c["candidate_latency_ms"] > 0 and c["candidate-2_ttft_ms"] > 0 for c in columns
    )
    assert all(c["primary_ttft_ms"] is not None for c in columns)


def test_report_and_compare_read_the_runs(tmp_path: Path) -> None:
    store, _ = _session(tmp_path)
    report = tailgate("--store", str(store.root), "report", "sess-primary")
    assert report.returncode == 0, report.stderr
    compared = tailgate("--store", str(store.root), "compare", "sess-primary", "sess-candidate")
    assert compared.returncode == 0, compared.stderr
    assert "paired on 4 items" in compared.stdout  # (the embedding has no score: not paired)
    policy = tmp_path / "gate.yaml"
    # the same answers on 4 items: the delta's interval is +-0.602 (the bound on the share of items
    # that could differ: 4 items cannot rule out a regression of 0.5), which a bound of -0.7 passes
    policy.write_text(
        "name: shadow\nrules:\n  - overall_delta: {min_lower_bound: -0.7}\n  - min_items: {min: 4}\n"
        "  - latency: {percentile: 95, max_ms: 20000}\n",
        encoding="utf-8",
    )
    gated = tailgate("--store", str(store.root), "gate", "sess-primary", "sess-candidate", "--policy", str(policy))
    assert gated.returncode == 0, gated.stdout + gated.stderr  # the same answers: the gate passes


def test_the_same_run_id_appends_and_a_repeat_is_recorded_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with Upstream("primary") as primary, Upstream("candidate") as cand:
        for round_ in range(2):
            with shadowed(primary, [cand], store=str(store.root), run_id="again") as proxy:
                for i in range(3):
                    request(proxy.url, "/v1/chat/completions", chat_body(f"q{i + 2 * round_}"))
                request(proxy.url, "/v1/chat/completions", chat_body("q0"))  # the same request again
                wait_for(lambda: proxy.proxy.health()["counts"].get("skipped.repeat", 0) >= 1)
                wanted = 3 + 2 * round_
                wait_for(lambda: len(cand.seen) == wanted)  # noqa: B023  (called before the next round)
    rows = store.read_records("again-candidate").to_pylist()
    assert sorted(r["prompt"] for r in rows) == sorted(
        json.dumps([{"content": f"q{i}", "role": "user"}], separators=(",", ":")) for i in range(5)
    )
    manifest = store.manifest("again-primary")
    assert len(manifest.sessions) == 2
    assert manifest.counts is not None
    assert manifest.counts.done == 5


def test_the_candidate_model_override_and_failures_as_records(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    with (
        Upstream("primary") as primary,
        Upstream("candidate", Behaviour(kind="status", status=503, body=b"down")) as cand,
        shadowed(primary, [cand], store=str(store.root), run_id="ovr", candidate_model="cand-model") as proxy,
    ):
        request(proxy.url, "/v1/chat/completions", chat_body("hello"))
        wait_for(lambda: proxy.proxy.health()["records"].get("candidate", 0) == 1)
    assert json.loads(primary.seen[0].body)["model"] == "m"
    assert json.loads(cand.seen[0].body)["model"] == "cand-model"
    (record,) = store.read_records("ovr-candidate").to_pylist()
    assert (record["error_class"], record["output"], record["score"]) == ("server_error", None, None)
    assert "503" in record["error_message"]


def test_only_the_sampled_share_is_mirrored(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    bodies = [chat_body(f"request number {i}") for i in range(200)]
    expected = sum(mirror_share(request_key("/v1/chat/completions", json.loads(b))) < 0.25 for b in bodies)
    with (
        Upstream("primary") as primary,
        Upstream("candidate") as cand,
        shadowed(primary, [cand], store=str(store.root), run_id="share", sample=0.25) as proxy,
    ):
        for body in bodies:
            request(proxy.url, "/v1/chat/completions", body)
        wait_for(lambda: proxy.proxy.health()["records"].get("candidate", 0) == expected)
        counts = proxy.proxy.health()["counts"]
        assert counts["mirrored"] == expected
        assert counts["not_sampled"] == 200 - expected
    assert len(TrafficTable(store.traffic_dir).read()) == 200  # every proxied request is a traffic row
