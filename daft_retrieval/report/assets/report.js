"use strict";
// The browser side of daft_retrieval's HTML report: decodes the embedded data (gzip JSON, base64) and renders
// the summary, tests, per-query chart and table, the query detail and the provenance. Text from the data is
// only ever inserted as text (textContent / text nodes), never as markup.

const PAGE_SIZE = 50;
const SVG_NS = "http://www.w3.org/2000/svg";
const DASH = "–";

let DATA = null;
const state = {
  ds: 0, baseline: null, system: null, measure: null,
  sortKey: "diff", sortDir: -1, filter: "", page: 0,
  query: null, left: null, right: null, pinned: null,
};

// ---------- helpers ----------

const $ = (id) => document.getElementById(id);

/** An element with attributes (`class`, `data-*`, ...) and children (strings become text nodes). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  return node;
}

const isNum = (x) => typeof x === "number" && Number.isFinite(x);
const fmt = (x, digits = 4) => (isNum(x) ? x.toFixed(digits) : DASH);
const fmtSigned = (x) => (isNum(x) ? (x > 0 ? "+" : "") + x.toFixed(4) : DASH);
const fmtP = (p) => (!isNum(p) ? DASH : p !== 0 && p < 1e-4 ? p.toExponential(1) : p.toFixed(4));
const fmtInt = (x) => (isNum(x) ? String(x) : DASH);

function fillSelect(select, values, selected) {
  select.replaceChildren(...values.map((v) => el("option", { value: v, selected: v === selected }, v)));
  select.value = selected;
}

async function decodeData() {
  const text = $("report-data").textContent.trim();
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return JSON.parse(await new Response(stream).text());
}

const dataset = () => DATA.datasets[state.ds];

/** The test row for (system, baseline, measure), or null. */
function findTest(system, baseline, measure) {
  return dataset().tests.find((t) => t.system === system && t.baseline === baseline && t.measure === measure) || null;
}

function significance(test) {
  if (!test || !isNum(test.p_corrected) || !(test.p_corrected < DATA.alpha)) return null;
  if (!isNum(test.difference) || test.difference === 0) return null;
  return test.difference > 0 ? { mark: "▲", cls: "sig-up" } : { mark: "▼", cls: "sig-down" };
}

function testTooltip(test) {
  return [
    `${test.system} vs ${test.baseline} on ${test.measure}`,
    `difference ${fmtSigned(test.difference)}, 95% CI [${fmt(test.ci_low)}, ${fmt(test.ci_high)}]`,
    `p (t-test) ${fmtP(test.p_t_test)}, p (randomisation) ${fmtP(test.p_randomization)}`,
    `p (corrected, ${test.correction ?? DASH}) ${fmtP(test.p_corrected)}`,
    `wins / ties / losses ${fmtInt(test.wins)} / ${fmtInt(test.ties)} / ${fmtInt(test.losses)}`,
  ].join("\n");
}

/** A td of a number: 4 decimals shown, the JSON number in full in data-value. */
function numberCell(value, attrs) {
  return el("td", { class: "num", "data-value": isNum(value) ? String(value) : null, ...attrs }, fmt(value));
}

// ---------- systems x measures ----------

function renderMean() {
  const mean = DATA.mean;
  $("mean-section").hidden = !mean;
  if (!mean) return;
  const systems = Object.keys(mean);
  const measures = [...new Set(systems.flatMap((s) => Object.keys(mean[s])))];
  $("mean").replaceChildren(
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "System"), measures.map((m) => el("th", { scope: "col" }, m)))),
    el("tbody", {}, systems.map((s) => el("tr", {}, el("th", { scope: "row" }, s),
      measures.map((m) => numberCell(mean[s][m], { "data-system": s, "data-measure": m }))))),
  );
}

function renderSummary() {
  const ds = dataset();
  // approximate systems only: Overlap@10 and the first measure's delta to exact (columns shown when any has them)
  const against = ds.against_exact || {};
  const approx = Object.keys(against).length > 0;
  const deltaName = `Δ ${ds.measures[0]} to exact`;
  const head = el("tr", {}, el("th", { scope: "col" }, "System"),
    ds.measures.map((m) => el("th", { scope: "col" }, m)), el("th", { scope: "col" }, "Judged@10"),
    approx ? [el("th", { scope: "col" }, "Overlap@10"), el("th", { scope: "col" }, deltaName)] : []);
  const rows = ds.systems.map((system) => {
    const cells = ds.measures.map((measure) => {
      const value = (ds.table[system] || {})[measure];
      const td = numberCell(value, { "data-system": system, "data-measure": measure });
      const test = system === state.baseline ? null : findTest(system, state.baseline, measure);
      if (test) td.title = testTooltip(test);
      const sig = significance(test);
      if (sig) {
        td.classList.add(sig.cls);
        td.append(el("span", { class: `mark ${sig.cls}`, "aria-label": sig.cls === "sig-up" ? "significantly better" : "significantly worse" }, ` ${sig.mark}`));
      }
      return td;
    });
    const judged = (ds.judged || {})[system];
    return el("tr", { class: system === state.baseline ? "baseline" : null }, el("th", { scope: "row" }, system), cells,
      numberCell(judged, { class: "num judged", "data-system": system, "data-measure": "Judged@10" }),
      approx ? exactCells(against[system], ds.measures[0]) : []);
  });
  $("summary").replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
  $("summary-note").textContent = `▲ / ▼: significantly better / worse than ${state.baseline} (corrected p < ${DATA.alpha}). Hover a cell for the test.`;
}

/** Overlap@10 and the delta to exact of an approximate system; empty cells (no value) for an exact one. */
function exactCells(entry, first) {
  if (!entry) return [el("td", { class: "num exact" }), el("td", { class: "num exact" })];
  const delta = (entry.delta_to_exact || {})[first];
  return [numberCell(entry["Overlap@10"], { class: "num exact", "data-overlap": "" }),
    el("td", { class: "num exact", "data-value": isNum(delta) ? String(delta) : null, "data-delta": first }, fmtSigned(delta))];
}

function renderTests() {
  const cols = ["System", "Baseline", "Measure", "Difference", "95% CI", "p (t-test)", "p (randomisation)", "p (corrected)", "d_z", "Wins / ties / losses"];
  const rows = dataset().tests.map((t) => {
    const sig = significance(t);
    return el("tr", { class: sig ? sig.cls : null, "data-system": t.system, "data-baseline": t.baseline, "data-measure": t.measure },
      el("td", {}, t.system), el("td", {}, t.baseline), el("td", {}, t.measure),
      el("td", { class: "num" }, fmtSigned(t.difference)),
      el("td", { class: "num" }, isNum(t.ci_low) || isNum(t.ci_high) ? `[${fmt(t.ci_low)}, ${fmt(t.ci_high)}]` : DASH),
      el("td", { class: "num" }, fmtP(t.p_t_test)), el("td", { class: "num" }, fmtP(t.p_randomization)),
      el("td", { class: "num" }, fmtP(t.p_corrected) + (t.correction ? ` (${t.correction})` : ""), sig ? ` ${sig.mark}` : ""),
      el("td", { class: "num" }, fmt(t.effect_size)),
      el("td", { class: "num" }, `${fmtInt(t.wins)} / ${fmtInt(t.ties)} / ${fmtInt(t.losses)}`));
  });
  $("tests").replaceChildren(el("thead", {}, el("tr", {}, cols.map((c) => el("th", { scope: "col" }, c)))),
    el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: cols.length }, "No tests."))));
}

// ---------- per-query values ----------

function perQuery(measure, system) {
  const bySystem = (dataset().values || {})[measure] || {};
  return bySystem[system] || [];
}

/** Baseline value, system value and difference of every query for the selected measure and system. */
function queryRows() {
  const ds = dataset();
  const base = perQuery(state.measure, state.baseline);
  const sys = perQuery(state.measure, state.system);
  return ds.queries.map((id, i) => {
    const b = isNum(base[i]) ? base[i] : null;
    const s = isNum(sys[i]) ? sys[i] : null;
    return { index: i, id: String(id), text: ds.query_text ? ds.query_text[i] ?? null : null,
      baseline: b, system: s, diff: b !== null && s !== null ? s - b : null };
  });
}

/** Stable sort: nulls last in both directions, ties keep the dataset's query order. */
function sortRows(rows, key, dir) {
  return rows.slice().sort((a, b) => {
    const x = a[key], y = b[key];
    if (x === null || y === null) return (x === null) - (y === null);
    if (x < y) return -dir;
    if (x > y) return dir;
    return 0;
  });
}

// ---------- chart ----------

let chartOrder = [];

function renderChart(rows) {
  const chart = $("chart");
  const W = 800, H = 260, left = 56, right = 10, top = 12, bottom = 36;
  const sorted = sortRows(rows.filter((r) => r.diff !== null), "diff", -1);
  chartOrder = sorted;
  const helped = sorted.filter((r) => r.diff > 0).length;
  const hurt = sorted.filter((r) => r.diff < 0).length;
  const tied = sorted.length - helped - hurt;
  const extent = Math.max(1e-12, ...sorted.map((r) => Math.abs(r.diff)));
  const plotW = W - left - right, plotH = H - top - bottom;
  const y = (v) => top + plotH / 2 - (v / extent) * (plotH / 2);
  const y0 = y(0);
  const bw = sorted.length ? plotW / sorted.length : plotW;
  let pos = "", neg = "";
  sorted.forEach((r, i) => {
    if (r.diff === 0) return;
    const x = (left + i * bw).toFixed(2);
    const seg = `M${x} ${y0.toFixed(2)}V${y(r.diff).toFixed(2)}h${Math.max(bw, 0.5).toFixed(3)}V${y0.toFixed(2)}Z`;
    if (r.diff > 0) pos += seg; else neg += seg;
  });
  const label = (x, yy, text, anchor = "end") => {
    const t = svg("text", { x, y: yy, "text-anchor": anchor, class: "axis-label" });
    t.textContent = text;
    return t;
  };
  const compare = state.system !== state.baseline;
  chart.replaceChildren(
    svg("rect", { x: left, y: top, width: plotW, height: plotH, class: "plot-bg" }),
    Object.assign(svg("path", { id: "chart-pos", class: "bar-pos", d: pos || "M0 0" })),
    svg("path", { id: "chart-neg", class: "bar-neg", d: neg || "M0 0" }),
    svg("line", { x1: left, x2: W - right, y1: y0, y2: y0, class: "zero-line" }),
    svg("line", { id: "chart-cursor", x1: 0, x2: 0, y1: top, y2: top + plotH, class: "cursor", visibility: "hidden" }),
    label(left - 4, top + 10, `+${extent.toFixed(3)}`), label(left - 4, y0 + 4, "0"),
    label(left - 4, top + plotH, `−${extent.toFixed(3)}`),
    label(left + plotW / 2, H - 8, `${sorted.length} queries, most helped → most hurt`, "middle"),
    label(14, top + plotH / 2, `Δ ${state.measure}`, "middle"),
  );
  chart.lastChild.setAttribute("transform", `rotate(-90 14 ${top + plotH / 2})`);
  chart.setAttribute("aria-label", `Per-query difference of ${state.measure}, ${state.system} minus ${state.baseline}`);
  chart.dataset.left = left;
  chart.dataset.width = plotW;
  $("chart-caption").textContent = compare
    ? `${state.system} − ${state.baseline} on ${state.measure}: ${helped} helped, ${hurt} hurt, ${tied} tied.`
    : `Only ${state.baseline}: nothing to compare (${state.system} against itself, ${tied} tied).`;
  markChartCursor();
}

function markChartCursor() {
  const cursor = $("chart-cursor");
  const chart = $("chart");
  const i = chartOrder.findIndex((r) => r.id === state.query);
  if (!cursor || i < 0) { if (cursor) cursor.setAttribute("visibility", "hidden"); return; }
  const bw = Number(chart.dataset.width) / chartOrder.length;
  const x = Number(chart.dataset.left) + (i + 0.5) * bw;
  cursor.setAttribute("x1", x); cursor.setAttribute("x2", x); cursor.setAttribute("visibility", "visible");
}

function onChartClick(event) {
  if (!chartOrder.length) return;
  const chart = $("chart");
  const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(chart.getScreenCTM().inverse());
  const bw = Number(chart.dataset.width) / chartOrder.length;
  const i = Math.min(chartOrder.length - 1, Math.max(0, Math.floor((point.x - Number(chart.dataset.left)) / bw)));
  openQuery(chartOrder[i].id, true);
}

// ---------- per-query table ----------

const QUERY_COLUMNS = [["id", "Query"], ["text", "Text"], ["baseline", "Baseline"], ["system", "System"], ["diff", "Difference"]];

function renderQueries(rows) {
  const needle = state.filter.toLowerCase();
  const filtered = needle
    ? rows.filter((r) => r.id.toLowerCase().includes(needle) || (r.text || "").toLowerCase().includes(needle))
    : rows;
  const sorted = sortRows(filtered, state.sortKey, state.sortDir);
  const pages = Math.max(1, Math.ceil(sorted.length / PAGE_SIZE));
  state.page = Math.min(Math.max(0, state.page), pages - 1);
  const shown = sorted.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE);
  const names = { baseline: state.baseline, system: state.system };
  const head = el("tr", {}, QUERY_COLUMNS.map(([key, name]) => {
    const active = key === state.sortKey;
    return el("th", { scope: "col", "data-sort": key, tabindex: 0, class: active ? "sorted" : null,
      "aria-sort": active ? (state.sortDir > 0 ? "ascending" : "descending") : "none" },
    names[key] ? `${name} (${names[key]})` : name, active ? (state.sortDir > 0 ? " ▲" : " ▼") : "");
  }));
  const body = shown.map((r) => el("tr", { "data-query": r.id, tabindex: 0, class: r.id === state.query ? "selected" : null },
    el("td", {}, r.id), el("td", { class: "text" }, r.text ?? DASH),
    numberCell(r.baseline), numberCell(r.system),
    el("td", { class: `num ${r.diff > 0 ? "pos" : r.diff < 0 ? "neg" : ""}`, "data-value": r.diff === null ? null : String(r.diff) }, fmtSigned(r.diff))));
  $("queries").replaceChildren(el("thead", {}, head),
    el("tbody", {}, body.length ? body : el("tr", {}, el("td", { colspan: 5 }, "No query matches."))));
  $("page").textContent = `page ${state.page + 1} of ${pages}`;
  $("prev").disabled = state.page === 0;
  $("next").disabled = state.page >= pages - 1;
}

// ---------- query detail ----------

function relevanceClass(grade) {
  if (!isNum(grade)) return "unjudged";
  if (grade < 0) return "rel-neg";
  return `rel-${Math.min(3, Math.floor(grade))}`;
}

function ranking(system, query) {
  return ((dataset().rankings || {})[system] || {})[query] || [];
}

function movement(rank, otherRank) {
  if (otherRank === undefined) return { text: "new", cls: "move-new" };
  if (otherRank === rank) return { text: "=", cls: "move-same" };
  return otherRank > rank ? { text: `↑${otherRank - rank}`, cls: "move-up" } : { text: `↓${rank - otherRank}`, cls: "move-down" };
}

function rankingList(system, other, query, side) {
  const ds = dataset();
  const docs = ds.docs || { ids: [], titles: [], snippets: [] };
  const otherRanks = new Map(ranking(other, query).slice(0, ds.k).map((row, i) => [row[0], i + 1]));
  const rows = ranking(system, query).slice(0, ds.k);
  if (!rows.length) return el("p", { class: "note" }, `No ranking of ${system} for this query.`);
  return el("ol", { class: "ranking", id: `ranking-${side}` }, rows.map(([doc, score, relevance], i) => {
    const rank = i + 1;
    const move = movement(rank, otherRanks.get(doc));
    const cls = relevanceClass(relevance);
    const docId = String(docs.ids[doc] ?? doc);
    return el("li", { "data-doc": docId, "data-rank": rank, "data-relevance": isNum(relevance) ? String(relevance) : "unjudged", tabindex: 0 },
      el("span", { class: "rank" }, String(rank)),
      el("span", { class: `badge ${cls}`, title: isNum(relevance) ? `relevance ${relevance}` : "unjudged" }, isNum(relevance) ? String(relevance) : "?"),
      el("span", { class: `move ${move.cls}`, title: `rank in ${other}` }, move.text),
      el("span", { class: "score num" }, fmt(score)),
      el("div", { class: "doc" },
        el("div", { class: "doc-title" }, docs.titles[doc] ?? docId, el("span", { class: "doc-id" }, ` ${docId}`)),
        docs.snippets[doc] ? el("div", { class: "snippet" }, docs.snippets[doc]) : null));
  }));
}

function renderDetail() {
  const detail = $("detail");
  const ds = dataset();
  const index = ds.queries.findIndex((q) => String(q) === state.query);
  if (index < 0) {
    detail.replaceChildren(el("h2", {}, "Query detail"), el("p", { class: "note" }, "Select a query in the chart or the table."));
    return;
  }
  const systemSelect = (id, value) => {
    const select = el("select", { id });
    fillSelect(select, ds.systems, value);
    return select;
  };
  const values = el("table", { class: "values", id: "detail-values" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Measure"), el("th", { scope: "col" }, state.left), el("th", { scope: "col" }, state.right))),
    el("tbody", {}, ds.measures.map((m) => el("tr", { "data-measure": m }, el("th", { scope: "row" }, m),
      numberCell(perQuery(m, state.left)[index], { "data-system": state.left }),
      numberCell(perQuery(m, state.right)[index], { "data-system": state.right })))));
  detail.replaceChildren(
    el("h2", {}, "Query ", el("span", { id: "detail-query" }, state.query)),
    el("p", { class: "query-text", id: "detail-text" }, ds.query_text ? ds.query_text[index] ?? DASH : DASH),
    values,
    el("div", { class: "rankings" },
      el("div", { class: "side" }, el("label", {}, "Left ", systemSelect("left-system", state.left)), rankingList(state.left, state.right, state.query, "left")),
      el("div", { class: "side" }, el("label", {}, "Right ", systemSelect("right-system", state.right)), rankingList(state.right, state.left, state.query, "right"))),
  );
  $("left-system").addEventListener("change", (e) => { state.left = e.target.value; renderDetail(); });
  $("right-system").addEventListener("change", (e) => { state.right = e.target.value; renderDetail(); });
  highlight(state.pinned);
}

function highlight(doc) {
  for (const li of $("detail").querySelectorAll("li[data-doc]")) li.classList.toggle("linked", doc !== null && li.dataset.doc === doc);
}

function openQuery(id, scroll = false) {
  state.query = id;
  state.pinned = null;
  renderDetail();
  for (const tr of $("queries").querySelectorAll("tr[data-query]")) tr.classList.toggle("selected", tr.dataset.query === id);
  markChartCursor();
  if (scroll) $("detail").scrollIntoView({ block: "start" }); // a user's click: show what it opened
}

// ---------- provenance ----------

function tree(value) {
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    if (!entries.length) return el("span", { class: "leaf" }, Array.isArray(value) ? "[]" : "{}");
    return el("ul", { class: "tree" }, entries.map(([key, v]) =>
      el("li", {}, el("span", { class: "key" }, key), v !== null && typeof v === "object" ? tree(v) : [": ", el("span", { class: "leaf" }, JSON.stringify(v))])));
  }
  return el("span", { class: "leaf" }, JSON.stringify(value));
}

// ---------- wiring ----------

function systemChoices() {
  const others = dataset().systems.filter((s) => s !== state.baseline);
  return others.length ? others : [state.baseline];
}

function renderPerQuery() {
  const rows = queryRows();
  renderChart(rows);
  renderQueries(rows);
}

function selectDataset(i) {
  state.ds = i;
  const ds = dataset();
  state.baseline = (ds.baselines && ds.baselines[0]) || ds.systems[0];
  state.system = systemChoices()[0];
  state.measure = ds.measures[0];
  state.left = state.baseline;
  state.right = state.system;
  state.query = null;
  state.page = 0;
  $("dataset-name").textContent = ds.name;
  fillSelect($("baseline"), ds.baselines && ds.baselines.length ? ds.baselines : [state.baseline], state.baseline);
  fillSelect($("system"), systemChoices(), state.system);
  fillSelect($("measure"), ds.measures, state.measure);
  renderSummary();
  renderTests();
  renderPerQuery();
  renderDetail();
}

function wire() {
  $("dataset").addEventListener("change", (e) => selectDataset(Number(e.target.value)));
  $("baseline").addEventListener("change", (e) => {
    state.baseline = e.target.value;
    if (!systemChoices().includes(state.system)) state.system = systemChoices()[0];
    fillSelect($("system"), systemChoices(), state.system);
    state.left = state.baseline; state.right = state.system;
    renderSummary(); renderPerQuery(); renderDetail();
  });
  $("system").addEventListener("change", (e) => {
    state.system = e.target.value; state.right = state.system; state.left = state.baseline;
    renderPerQuery(); renderDetail();
  });
  $("measure").addEventListener("change", (e) => { state.measure = e.target.value; renderPerQuery(); });
  $("filter").addEventListener("input", (e) => { state.filter = e.target.value; state.page = 0; renderQueries(queryRows()); });
  $("prev").addEventListener("click", () => { state.page -= 1; renderQueries(queryRows()); });
  $("next").addEventListener("click", () => { state.page += 1; renderQueries(queryRows()); });
  const queries = $("queries");
  const sortBy = (th) => {
    const key = th.dataset.sort;
    if (state.sortKey === key) state.sortDir = -state.sortDir;
    else { state.sortKey = key; state.sortDir = key === "diff" || key === "baseline" || key === "system" ? -1 : 1; }
    state.page = 0;
    renderQueries(queryRows());
  };
  queries.addEventListener("click", (e) => {
    const th = e.target.closest("th[data-sort]");
    if (th) return sortBy(th);
    const tr = e.target.closest("tr[data-query]");
    if (tr) openQuery(tr.dataset.query, true);
  });
  queries.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" && e.key !== " ") return;
    const th = e.target.closest("th[data-sort]");
    const tr = e.target.closest("tr[data-query]");
    if (th || tr) e.preventDefault();
    if (th) sortBy(th); else if (tr) openQuery(tr.dataset.query, true);
  });
  $("chart").addEventListener("click", onChartClick);
  const detail = $("detail");
  const docOf = (e) => { const li = e.target.closest("li[data-doc]"); return li ? li.dataset.doc : null; };
  detail.addEventListener("mouseover", (e) => { const doc = docOf(e); if (doc !== null) highlight(doc); });
  detail.addEventListener("mouseout", () => highlight(state.pinned));
  detail.addEventListener("focusin", (e) => { const doc = docOf(e); if (doc !== null) highlight(doc); });
  detail.addEventListener("click", (e) => {
    const doc = docOf(e);
    if (doc === null) return;
    state.pinned = state.pinned === doc ? null : doc;
    highlight(state.pinned);
  });
}

async function main() {
  try {
    DATA = await decodeData();
  } catch (error) {
    $("status").textContent = `The report data could not be read: ${error}`;
    return;
  }
  const names = DATA.datasets.map((d) => d.name);
  $("dataset-label").hidden = names.length < 2;
  const select = $("dataset");
  select.replaceChildren(...names.map((n, i) => el("option", { value: i }, n)));
  $("provenance-tree").replaceChildren(tree(DATA.provenance ?? {}));
  renderMean();
  wire();
  if (names.length) selectDataset(0);
  $("status").textContent = "";
  $("status").hidden = true;
  $("app").hidden = false;
  document.body.dataset.ready = "1";
}

main();
