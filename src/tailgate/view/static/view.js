// tailgate view: the page's only script. Hand-written, no build step, no dependency.
// Everything from a run is put in the page with textContent (never innerHTML); links are built
// with URLSearchParams on this page's own path. State lives in the query string (filter, item,
// offset), changed with history.pushState: reload and back/forward restore it.
"use strict";

(function () {
  const STATIC = document.querySelector('meta[name="tailgate-data"]').content === "static";
  const main = document.getElementById("main");
  const input = document.getElementById("filter");
  const errorBox = document.getElementById("error");
  const cache = {};
  let meta = null;
  let submitted = null; // when the filter form was last submitted (performance.now())
  let poll = null; // the timer that asks again for a diff still being computed

  // -- data ---------------------------------------------------------------------------------
  async function fetchJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    const body = await response.json();
    if (!response.ok) {
      const err = new Error(body.error || response.statusText);
      err.body = body;
      throw err;
    }
    return body;
  }

  async function staticTable(name) {
    if (!cache[name]) cache[name] = await fetchJSON("data/" + name);
    return cache[name];
  }

  async function api(kind, params) {
    if (!STATIC) {
      const query = params ? "?" + new URLSearchParams(params).toString() : "";
      return fetchJSON("api/" + kind + query);
    }
    if (kind === "items") {
      const table = await staticTable("filters.json");
      const file = table[params.filter];
      if (!file || Number(params.offset || 0) > 0) {
        throw new Error("this static export has the first page of all items, of each tag and of each slice only; " +
          "run `tailgate view` for any filter");
      }
      return fetchJSON("data/" + file);
    }
    if (kind.startsWith("item/")) {
      const files = await staticTable("item-files.json");
      const file = files[decodeURIComponent(kind.slice(5))];
      if (!file) throw new Error("this item is not in the static export (only the items its lists show)");
      return fetchJSON("data/" + file);
    }
    return fetchJSON("data/" + kind + ".json");
  }

  // -- DOM helpers ----------------------------------------------------------------------------
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function add(parent, ...children) {
    for (const child of children) if (child) parent.appendChild(child);
    return parent;
  }
  function textOf(t) {
    // a run's string: {text, length}; longer ones were cut by the server
    if (!t) return el("span", "muted", "(none)");
    const node = el("pre", "text", t.text);
    if (t.length > t.text.length) {
      add(node, el("span", "muted", " … (" + (t.length - t.text.length) + " more characters not shown)"));
    }
    return node;
  }
  function href(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined) q.set(k, v);
    return "?" + q.toString();
  }
  function link(params, ...children) {
    const a = el("a");
    a.href = href(params);
    a.addEventListener("click", (ev) => {
      if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
      ev.preventDefault();
      navigate(params);
    });
    return add(a, ...children);
  }
  function navigate(params) {
    history.pushState(null, "", href(params));
    render();
  }

  // -- numbers: each one carries its n and its interval (data-n, data-ci, and in its text) ----
  function fmt(x, signed, digits) {
    if (x === null || x === undefined) return "—";
    const d = digits === undefined ? 3 : digits;
    const s = Number(x).toFixed(d);
    return signed && x > 0 ? "+" + s : s;
  }
  function nText(e) {
    let s = "n=" + e.n_items;
    if (e.n_samples !== undefined && e.n_samples !== e.n_items) s += " (" + e.n_samples + " samples)";
    return s;
  }
  function est(e, signed, node) {
    const span = node || el("span");
    span.classList.add("num");
    const ci = e.low === null || e.low === undefined ? "none: " + e.method : "[" + fmt(e.low, signed) + ", " + fmt(e.high, signed) + "]";
    span.dataset.n = String(e.n_items);
    span.dataset.ci = ci;
    span.title = e.method + " (" + Math.round((e.confidence || 0.95) * 100) + "% interval)";
    add(span, el("span", "v", fmt(e.value, signed)));
    add(span, el("span", "ci", e.low === null || e.low === undefined ? "[no interval]" : ci));
    add(span, el("span", "n", nText(e)));
    return span;
  }
  function pct(x) {
    return x === null || x === undefined ? "—" : (100 * x).toFixed(1) + "%";
  }
  function shareEl(s, node) {
    const span = node || el("span");
    span.classList.add("num");
    const e = s.share;
    const ci = e.low === null ? "none: " + e.method : "[" + pct(e.low) + ", " + pct(e.high) + "]";
    span.dataset.n = String(s.total);
    span.dataset.ci = ci;
    span.title = e.method;
    add(span, el("span", "v", s.count + " of " + s.total));
    add(span, el("span", "ci", pct(e.value) + " " + (e.low === null ? "[no interval]" : ci)));
    add(span, el("span", "n", "n=" + s.total));
    return span;
  }
  function countEl(k, what) {
    const span = el("span", "num", k + (what ? " " + what : ""));
    span.dataset.n = String(k);
    span.dataset.ci = "exact: a count";
    span.dataset.kind = "count";
    return span;
  }
  function observed(value, n, unit, what) {
    // no value (an unscored sample, no latency recorded): no number, so nothing to qualify
    if (value === null || value === undefined) return el("span", "muted", "—");
    const span = el("span", "num");
    span.dataset.n = String(n);
    span.dataset.ci = "none: " + what;
    span.dataset.kind = "observation";
    add(span, el("span", "v", fmt(value, false, unit === "ms" ? 0 : 3) + (unit ? " " + unit : "")));
    add(span, el("span", "ci", "[" + what + "]"));
    add(span, el("span", "n", "n=" + n));
    return span;
  }
  function table(headers, rows) {
    const t = el("table");
    const head = add(el("thead"), add(el("tr"), ...headers.map((h) => el("th", null, h))));
    const body = el("tbody");
    for (const cells of rows) {
      const tr = el("tr");
      for (const c of cells) add(tr, c instanceof Node ? add(el("td"), c) : el("td", null, c));
      add(body, tr);
    }
    return add(t, head, body);
  }

  // -- screens --------------------------------------------------------------------------------
  function state() {
    const q = new URLSearchParams(location.search);
    return { filter: q.has("filter") ? q.get("filter") : null, item: q.get("item"), offset: Number(q.get("offset") || 0), help: q.has("help") };
  }

  async function render() {
    const begin = performance.now();
    if (poll !== null) clearTimeout(poll);
    poll = null;
    const s = state();
    errorBox.hidden = true;
    input.value = s.filter || "";
    try {
      if (!meta) meta = await api("meta");
      showRuns();
      let screen;
      if (s.help) screen = help();
      else if (s.item) screen = await itemScreen(s.item, s.filter);
      else if (s.filter !== null) screen = await itemsScreen(s.filter, s.offset);
      else screen = meta.mode === "diff" ? await diffScreen() : await reportScreen();
      const fetched = performance.now();
      main.replaceChildren(screen);
      // (timings for bench/view_speed.py: data fetched and screen built, then put in the page)
      document.body.dataset.renderMs = (performance.now() - begin).toFixed(1);
      document.body.dataset.buildMs = (fetched - begin).toFixed(1);
      if (submitted !== null) document.body.dataset.roundTripMs = (performance.now() - submitted).toFixed(1);
      submitted = null;
      document.title = "tailgate view" + (s.filter ? " · " + s.filter : "");
    } catch (err) {
      showError(err);
      main.replaceChildren();
    }
  }

  function showRuns() {
    const runs = document.getElementById("runs");
    const parts = meta.runs.map((r) => r.run_id + " (" + r.model + ")");
    runs.textContent = meta.mode === "diff" ? "base " + parts[0] + " → candidate " + parts[1] : parts[0];
    if (STATIC) {
      input.readOnly = true;
      input.title = "a static export: the precomputed filters only (tags, slices); run tailgate view for any filter";
    }
  }

  function showError(err) {
    const body = err.body || {};
    let message = err.message;
    if (body.column) message += "\n" + (body.filter || "") + "\n" + " ".repeat(body.column - 1) + "^";
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function computing(what) {
    return el("span", "computing muted", "computing… (" + what + ")");
  }

  async function diffScreen() {
    const d = await api("diff");
    const root = el("div", "diff");
    if (d.pending) {
      // the server is still computing the comparison: tags and levels now, the rest when ready
      document.body.dataset.pending = "1";
      poll = setTimeout(() => { if (state().filter === null && !state().item && !state().help) render(); }, 700);
    } else {
      delete document.body.dataset.pending;
    }
    for (const w of d.warnings || []) add(root, el("p", "warning text", "⚠ " + w));
    add(root, el("h2", null, "Overall (paired on shared items)"));
    let delta = computing("the paired test");
    if (!d.pending) {
      delta = link({ filter: "" });
      est(d.overall.estimate, true, delta);
      if (d.overall.p_value !== null && d.overall.p_value !== undefined) {
        add(delta, el("span", "p", "p=" + Number(d.overall.p_value).toPrecision(2) + " (" + (d.overall.test || "") + ")"));
      }
    }
    add(root, table(["base", "candidate", "candidate − base"], [[est(d.levels.base), est(d.levels.cand), delta]]));
    if (d.pending) add(root, add(el("p", "muted", "paired: "), computing("the pairing")));
    else add(root, add(el("p", "muted", "paired: "), countEl(d.pairing.shared_items, "items"), el("span", null, " · only in base: "),
      countEl(d.pairing.only_in_base), el("span", null, " · only in candidate: "), countEl(d.pairing.only_in_cand)));
    add(root, el("h2", null, "Items by tag"));
    const tags = el("div", "tags");
    for (const [tag, s] of Object.entries(d.tags)) {
      const a = link({ filter: "tag:" + tag }, el("span", "tag tag-" + tag, tag), el("br"));
      a.classList.add("tagcount");
      a.id = "tag-" + tag;
      shareEl(s, add(a, el("span")).lastChild);
      add(tags, a);
    }
    add(root, tags);
    add(root, el("p", "muted", "flaky: in either run some unit's repeats disagree; else regressed / improved / unchanged by the item's pass rate (docs/view.md)."));
    if (d.pending) {
      add(root, el("h2", null, "Beyond accuracy (paired)"), add(el("p"), computing("the paired bootstrap")));
      const wait = add(el("p"), computing("the slice table: each slice's paired test, BH-adjusted"));
      wait.id = "slices-pending";
      add(root, el("h2", null, "Slices (largest drop first)"), wait);
      return root;
    }
    const beyond = Object.entries(d.beyond_accuracy || {});
    if (beyond.length) {
      add(root, el("h2", null, "Beyond accuracy (paired)"));
      add(root, table(["measure", "base", "candidate", "candidate − base"], beyond.map(([name, m]) => [
        el("span", "label", name.replace(/_/g, " ")),
        m.base_estimate ? est(m.base_estimate) : el("span", "muted", "(see the delta)"),
        m.cand_estimate ? est(m.cand_estimate) : el("span", "muted", "(see the delta)"),
        add(est(m.delta || m.estimate, true), el("span", "p", m.p_value === null || m.p_value === undefined ? "" : "p=" + Number(m.p_value).toPrecision(2))),
      ])));
    }
    add(root, el("h2", null, "Slices (largest drop first)"));
    const fdr = d.options.fdr;
    const rows = d.slices.map((s) => {
      const cell = link({ filter: s.filter });
      est(s.delta, true, cell);
      const mark = s.p_bh <= fdr ? "✱" : "";
      add(cell, el("span", "p", "p_BH=" + Number(s.p_bh).toPrecision(2)), el("span", "bh", mark));
      if (s.delta.value > 0) cell.classList.add("up");
      return [link({ filter: s.filter }, el("span", "label", s.slice)), el("span", "label", s.kind),
        est(s.levels.base), est(s.levels.cand), cell];
    });
    const t = table(["slice", "kind", "base", "candidate", "delta [CI] · BH-adjusted p (✱: significant at the FDR)"], rows);
    t.id = "slices";
    add(root, t);
    add(root, add(el("p", "muted", "FDR of the ✱ marks: "), el("span", "label", String(fdr))));
    if (!d.slices.length) add(root, el("p", "muted", "no slice has enough shared items (min_items)."));
    return root;
  }

  async function reportScreen() {
    const r = await api("report");
    const root = el("div", "report");
    const o = r.overview;
    add(root, el("h2", null, "Headline"));
    add(root, table(["mean score", "pass rate", "items", "samples", "unscored"], [[
      est(o.score), est(o.pass_rate), countEl(o.n_items), countEl(o.n_samples), countEl(o.n_unscored),
    ]]));
    add(root, link({ filter: "" }, el("span", null, "browse every item and sample →")));
    const percentiles = (list) => table(["percentile", "value [CI]"], list.map((p) => [
      el("span", "label", "p" + p.q), est(p, false),
    ]));
    if (r.percentiles.score.length) add(root, el("h2", null, "Score percentiles"), percentiles(r.percentiles.score));
    if (r.percentiles.latency_ms.length) add(root, el("h2", null, "Latency percentiles (ms)"), percentiles(r.percentiles.latency_ms));
    const sliceRows = (list) => list.map((s) => {
      const name = el("span", "label", s.feature + "=" + s.value);
      return [s.filter ? link({ filter: s.filter }, name) : name, s.filter ? est(s.estimate, false, link({ filter: s.filter })) : est(s.estimate)];
    });
    if (r.worst_slices && r.worst_slices.length) add(root, el("h2", null, "Worst slices (by the upper end of their interval)"), table(["slice", "mean score [CI]"], sliceRows(r.worst_slices)));
    if (r.pass_k && r.pass_k.length) {
      add(root, el("h2", null, "pass@k and pass^k"));
      add(root, table(["k", "pass@k", "pass^k"], r.pass_k.map((p) => [el("span", "label", String(p.k)), est(p.pass_at_k), est(p.pass_hat_k)])));
    }
    const prof = r.profile || {};
    const parts = [["never passed (share of items)", prof.never_pass], ["intra-item correlation (ICC)", prof.icc], ["Gini of item failure rates", prof.gini]];
    if (r.consistency) parts.push(["answer consistency (mean)", r.consistency.mean]);
    add(root, el("h2", null, "Failure profile"), table(["measure", "value [CI]"], parts.filter(([, e]) => e).map(([name, e]) => [el("span", "label", name), est(e)])));
    if (r.worst_items && r.worst_items.length) {
      add(root, el("h2", null, "Worst items"));
      add(root, table(["item", "mean score", "input"], r.worst_items.map((w) => [
        link({ filter: "", item: w.item_id }, el("span", "label", w.source_id || w.item_id)),
        w.view ? est(w.view.cand.score) : el("span", "muted", ""),
        add(el("span", "snippet text"), document.createTextNode(w.input || "")),
      ])));
    }
    add(root, el("h2", null, "Slices"));
    add(root, table(["slice", "mean score [CI]"], sliceRows(r.slices)));
    return root;
  }

  async function itemsScreen(filter, offset) {
    const r = await api("items", { filter: filter, offset: offset });
    const root = el("div", "items");
    add(root, el("h2", null, "Items"));
    const summary = add(el("p"), el("span", "muted", "matching: "), shareEl(r.matched));
    add(root, summary);
    if (r.tags) {
      const tags = el("div", "tags");
      for (const [tag, s] of Object.entries(r.tags)) add(tags, add(el("span", "tagcount"), el("span", "tag tag-" + tag, tag + " "), shareEl(s)));
      add(root, tags);
    }
    const levels = el("p");
    if (r.levels.base) add(levels, el("span", "muted", "base "), est(r.levels.base), el("span", "muted", "  candidate "));
    add(levels, est(r.levels.cand));
    add(root, levels);
    const diff = meta.mode === "diff";
    const headers = ["item"].concat(diff ? ["tag", "base score", "candidate score", "candidate slowest"] : ["score", "slowest"], ["input"]);
    const rows = r.rows.map((row) => {
      const name = link({ filter: filter, item: row.item_id }, el("span", "label", row.source_id || row.item_id));
      const cells = [name];
      if (diff) cells.push(el("span", "tag tag-" + row.tag, row.tag), est(row.base.score));
      cells.push(est(row.cand.score), observed(row.cand.latency_max, row.cand.samples, "ms", "the slowest sample"));
      cells.push(row.input ? add(el("span", "snippet text"), document.createTextNode(row.input.text)) : el("span", "muted", ""));
      return cells;
    });
    const t = table(headers, rows);
    t.id = "items";
    add(root, t);
    const pager = el("div", "pager");
    if (offset > 0) add(pager, link({ filter: filter, offset: Math.max(0, offset - meta.page) || null }, el("span", null, "← previous")));
    if (offset + r.rows.length < r.matched.count) add(pager, link({ filter: filter, offset: offset + meta.page }, el("span", null, "next →")));
    return add(root, pager);
  }

  async function itemScreen(itemId, filter) {
    const r = await api("item/" + encodeURIComponent(itemId));
    const root = el("div", "item");
    add(root, el("h2", "label", "Item " + (r.source_id || r.item_id)));
    if (filter !== null) add(root, link({ filter: filter }, el("span", null, "← back to the list")));
    const head = el("p");
    if (r.tag) add(head, el("span", "tag tag-" + r.tag, r.tag + " "));
    if (r.base) add(head, el("span", "muted", " base "), est(r.base.score));
    add(head, el("span", "muted", r.base ? " candidate " : " score "), est(r.cand.score));
    add(root, head);
    add(root, el("h2", null, "Input"));
    for (const [field, value] of Object.entries(r.input)) add(root, el("div", "label", field), textOf(value));
    if (!Object.keys(r.input).length) add(root, el("span", "muted", "(none recorded)"));
    add(root, el("h2", null, "Reference"), textOf(r.reference));
    const attrs = Object.entries(r.attributes);
    if (attrs.length) add(root, el("h2", null, "Attributes"), table(["attribute", "value"], attrs.map(([k, v]) => [el("span", "label", k), el("span", "label", v === null ? "—" : v)])));
    const sides = el("div", "sides");
    for (const side of r.sides) add(sides, sideEl(side));
    add(root, el("h2", null, "Outputs (repeats collapsed into answer classes)"), sides);
    return root;
  }

  function sideEl(side) {
    const box = el("div", "side side-" + side.role);
    add(box, el("h3", "label", (side.role === "cand" ? "candidate" : side.role) + ": " + side.run_id + " (" + side.model + ")"));
    for (const c of side.classes) {
      const entry = el("div", "answer-class");
      add(entry, el("span", "label", "variant " + c.variant + " · answer "), el("code", "text", c.answer), el("span", null, " "), shareEl(c.share));
      add(entry, el("span", "muted", " passed: "), countEl(c.passed, "samples"));
      add(entry, el("div", "label", "repeats " + c.repeats.join(", ")));
      add(entry, add(el("div", "output"), textOf(c.example)));
      add(box, entry);
    }
    const every = add(el("details"), add(el("summary", null, "every sample: "), countEl(side.samples.length, "samples")));
    add(every, table(["variant", "repeat", "score", "latency", "output"], side.samples.map((s) => [
      el("span", "label", s.variant), el("span", "label", String(s.repeat)),
      observed(s.score, 1, "", "one sample"), observed(s.latency_ms, 1, "ms", "one sample"),
      s.error ? el("span", "label", "error: " + s.error) : add(el("div", "output"), textOf(s.output)),
    ])));
    return add(box, every);
  }

  function help() {
    const root = el("div", "help");
    add(root, el("h2", null, "Filter syntax"));
    add(root, el("p", null, "Terms separated by spaces; an item must meet all of them. A leading - negates a term. Quote values with spaces: text:\"capital of\"."));
    const rows = [
      ["score<0.5", "the item's mean score (the candidate's with two runs); also base.score, cand.score"],
      ["delta<=-0.2", "candidate − base mean score of the item"],
      ["latency>800", "the item's slowest sample in ms; also base.latency, cand.latency"],
      ["samples>=3", "scored samples of the item"],
      ["scores.judge<1", "mean of one scorer's values (a judge's verdicts); also base.scores.NAME"],
      ["tag:regressed,flaky", "the item's tag (two runs); a comma list means any of them"],
      ["slice:lang=fr", "an attribute's value (derived ones: slice:auto:length=long)"],
      ["variant:original", "only these variants' samples count (scores and tags are recomputed on them)"],
      ["id:q12", "the item id or dataset id starts with this"],
      ["text:paris  or  paris", "the input contains this (case-insensitive)"],
      ["output:\"I cannot\"", "some sample's output contains this"],
    ];
    add(root, table(["example", "meaning"], rows.map(([a, b]) => [el("code", "label", a), el("span", "label", b)])));
    return root;
  }

  document.getElementById("filter-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (STATIC) return;
    submitted = performance.now();
    navigate({ filter: input.value.trim() });
  });
  window.addEventListener("popstate", render);
  render();
})();
