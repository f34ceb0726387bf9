// The MFN live page, tab "Graphs": the tenant's stored graphs over REST (same origin),
// drawn by the server's visualize_graph tool. Uses `$`, `apiKey`, `showKeyField` and
// `download` from app.js (loaded first). Routes: GET /v1/tools, GET /v1/graphs,
// GET /v1/graphs/{name}, POST /v1/tools/{visualize_graph, extract_network,
// generate_graph, betweenness_centrality}. Errors are the JSON error body of
// docs/SERVICE.md ({error_code, message, details, request_id}), shown in the status line.
"use strict";

(() => {
// Everything the tab shows; exposed for the browser test.
const graphs = {
  tools: null,        // tool names from GET /v1/tools (null: not known yet)
  list: [],           // [{name, directed, num_nodes, num_edges}]
  truncated: false,
  selected: null,     // name of the graph shown
  info: null,         // its get_info
  drawing: null,      // {name, color_by, status: pending|loaded|error|unavailable, width, height}
  metrics: new Map(), // graph name → extract_network metrics (this page's extractions)
  centrality: null,   // {graph, values: [{node, value}], truncated}
  errors: [],
  loaded: false,      // the first opening of the tab has listed the tools and graphs
  loading: false,
};
window.mfnGraphs = graphs;

const LIST_PAGE = 500;
const DRAW_SIDE = 800;
// Shown first, in this order; other scalar metrics follow by name.
const METRIC_ORDER = [
  "num_nodes", "num_edges", "tips", "junctions", "total_length", "meshedness", "cost",
  "global_efficiency", "fractal_dimension",
];

let selectSeq = 0;
let drawSeq = 0;
let imageUrl = null;

function gstatus(text, isError = false) {
  const s = $("graph-status");
  s.textContent = text;
  s.classList.toggle("error", isError);
}

function has(tool) { return graphs.tools === null || graphs.tools.includes(tool); }

// A REST call with the API key; a non-2xx answer throws an Error carrying the server's
// error body (`code`, `status`, `requestId`).
async function api(method, path, body, accept = "application/json") {
  const headers = { accept };
  const key = apiKey();
  if (key) headers["x-api-key"] = key;
  if (body !== undefined) headers["content-type"] = "application/json";
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new Error(`cannot reach the server (${e.message})`);
  }
  if (r.ok) return r;
  let e = {};
  try { e = await r.json(); } catch { /* not the JSON error body */ }
  let message = e.message || `${r.status} ${r.statusText}`;
  for (const d of Array.isArray(e.details) ? e.details : []) {
    if (d && d.message && !message.includes(d.message)) message += ` (${d.field ? `${d.field}: ` : ""}${d.message})`;
  }
  const err = new Error(message);
  err.code = e.error_code || `HTTP_${r.status}`;
  err.status = r.status;
  err.requestId = e.request_id || "";
  if (r.status === 401) {
    showKeyField();
    err.message += " — enter an API key at the top";
  }
  throw err;
}

function fail(what, e) {
  const text = `${what}: ${e.code ? `${e.code}: ` : ""}${e.message}`;
  graphs.errors.push(text);
  gstatus(text + (e.requestId ? ` (request ${e.requestId})` : ""), true);
}

async function loadTools() {
  try {
    const r = await (await api("GET", "/v1/tools")).json();
    graphs.tools = (r.tools || []).map((t) => t.name);
  } catch (e) {
    fail("listing the tools", e);
    return;
  }
  const missing = (tool, why) => (has(tool) ? "" : `This server has no ${tool} tool, so ${why}.`);
  $("extract-note").textContent = missing("extract_network", "networks cannot be extracted here");
  $("extract").disabled = !has("extract_network");
  $("generate-karate").disabled = !has("generate_graph");
  if (!has("visualize_graph")) placeholder(missing("visualize_graph", "graphs are not drawn"));
}

async function refreshList() {
  try {
    const r = await (await api("GET", `/v1/graphs?top_k=${LIST_PAGE}`)).json();
    graphs.list = r.graphs || [];
    graphs.truncated = Boolean(r.truncated);
  } catch (e) {
    fail("listing the graphs", e);
    return false;
  }
  renderList();
  return true;
}

function renderList() {
  const ul = $("graph-list");
  ul.replaceChildren();
  for (const g of graphs.list) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.name = g.name;
    b.className = g.name === graphs.selected ? "selected" : "";
    b.setAttribute("aria-pressed", String(g.name === graphs.selected));
    const name = document.createElement("span");
    name.className = "gname";
    name.textContent = g.name;
    const size = document.createElement("span");
    size.className = "gsize";
    size.textContent = `${g.num_nodes} n · ${g.num_edges} e${g.directed ? " · dir." : ""}`;
    b.append(name, size);
    b.addEventListener("click", () => select(g.name));
    li.append(b);
    ul.append(li);
  }
  $("graph-count").textContent = graphs.list.length + (graphs.truncated ? "+" : "");
  $("graph-list-note").textContent = graphs.list.length === 0
    ? "No graphs yet: generate one or extract a network."
    : graphs.truncated ? `The first ${graphs.list.length} graphs, by name.` : "Select one to draw it.";
}

async function select(name) {
  const seq = ++selectSeq;
  graphs.selected = name;
  graphs.info = null;
  renderList();
  $("graph-title").textContent = name;
  $("graph-info").textContent = "";
  $("betweenness").disabled = false;
  if (!graphs.centrality || graphs.centrality.graph !== name) showCentrality(null);
  showMetrics(name);
  let info;
  try {
    info = await (await api("GET", `/v1/graphs/${encodeURIComponent(name)}`)).json();
  } catch (e) {
    if (seq !== selectSeq) return;
    ++drawSeq;
    graphs.drawing = null;
    $("graph-png").disabled = true;
    $("betweenness").disabled = true;
    placeholder(`${name} could not be read; see the status line.`);
    fail(`graph ${name}`, e);
    return;
  }
  if (seq !== selectSeq) return;
  graphs.info = info;
  $("graph-info").textContent =
    `${info.num_nodes} nodes · ${info.num_edges} edges · ${info.directed ? "directed" : "undirected"}`;
  gstatus(`Graph ${name}: ${info.num_nodes} nodes, ${info.num_edges} edges.`);
  await draw();
}

function visualizeArgs(name, format) {
  return {
    graph: name, format, layout: "auto", color_by: $("color-by").value,
    width: DRAW_SIDE, height: DRAW_SIDE,
  };
}

function placeholder(text) {
  $("graph-img").hidden = true;
  $("graph-placeholder").hidden = false;
  $("graph-placeholder").textContent = text;
}

// Draw the selected graph: the SVG from visualize_graph as an <img> of a blob URL (an
// SVG image runs no script and loads nothing, whatever the graph's names and attributes).
async function draw() {
  const name = graphs.selected;
  if (!name) return;
  const seq = ++drawSeq;
  const color_by = $("color-by").value;
  graphs.drawing = { name, color_by, status: "pending" };
  $("graph-png").disabled = true;
  if (!has("visualize_graph")) {
    graphs.drawing.status = "unavailable";
    placeholder("This server has no visualize_graph tool, so graphs are not drawn.");
    return;
  }
  $("graph-frame").classList.add("busy");
  try {
    const r = await api("POST", "/v1/tools/visualize_graph", visualizeArgs(name, "svg"), "image/svg+xml");
    const type = r.headers.get("content-type") || "";
    const blob = await r.blob();
    if (seq !== drawSeq) return;
    if (!type.startsWith("image/svg")) throw new Error(`visualize_graph answered ${type || "no content type"}, not an SVG image`);
    const size = await showImage(blob, seq);
    if (seq !== drawSeq) return;
    Object.assign(graphs.drawing, { status: "loaded", ...size });
    $("graph-png").disabled = false;
  } catch (e) {
    if (seq !== drawSeq) return;
    graphs.drawing.status = "error";
    placeholder("The drawing failed; see the status line.");
    fail(`drawing ${name}`, e);
  } finally {
    if (seq === drawSeq) $("graph-frame").classList.remove("busy");
  }
}

function showImage(blob, seq) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(blob);
    const img = $("graph-img");
    img.onload = () => {
      if (imageUrl && imageUrl !== url) URL.revokeObjectURL(imageUrl);
      imageUrl = url;
      if (seq === drawSeq) {
        img.hidden = false;
        $("graph-placeholder").hidden = true;
      }
      resolve({ width: img.naturalWidth, height: img.naturalHeight });
    };
    img.onerror = () => {
      URL.revokeObjectURL(url);
      reject(new Error("the browser could not decode the SVG"));
    };
    img.src = url;
  });
}

async function downloadPng() {
  const name = graphs.selected;
  if (!name) return;
  $("graph-png").disabled = true;
  try {
    const r = await api("POST", "/v1/tools/visualize_graph", visualizeArgs(name, "png"), "image/png");
    const type = r.headers.get("content-type") || "";
    if (!type.startsWith("image/png")) throw new Error(`visualize_graph answered ${type}, not a PNG`);
    download(`${name}-${$("color-by").value}.png`, await r.blob());
    gstatus(`Saved ${name} as PNG.`);
  } catch (e) {
    fail(`PNG of ${name}`, e);
  } finally {
    $("graph-png").disabled = graphs.drawing === null || graphs.drawing.status !== "loaded";
  }
}

async function generateKarate() {
  const btn = $("generate-karate");
  btn.disabled = true;
  gstatus("Generating karate_club…");
  try {
    const g = await (await api("POST", "/v1/tools/generate_graph",
      { name: "karate", kind: "karate_club", overwrite: true })).json();
    gstatus(`Generated ${g.name}: ${g.num_nodes} nodes, ${g.num_edges} edges.`);
    if (await refreshList()) await select(g.name);
  } catch (e) {
    fail("generate_graph", e);
  } finally {
    btn.disabled = !has("generate_graph");
  }
}

async function extract(ev) {
  ev.preventDefault();
  const form = $("extract-form");
  const f = new FormData(form);
  const num = (k) => Number(f.get(k));
  const name = String(f.get("name")).trim();
  const options = { threshold: f.get("threshold"), min_branch_px: num("min_branch_px") };
  if (options.threshold === "fixed") options.threshold_mv = num("threshold_mv");
  const body = {
    name, overwrite: true,
    simulation: { seed: num("seed"), grid_size: num("grid_size"), steps: num("steps") },
    options,
  };
  $("extract").disabled = true;
  gstatus(`Extracting ${name}: ${body.simulation.steps} steps on ${body.simulation.grid_size}² …`);
  try {
    const r = await (await api("POST", "/v1/tools/extract_network", body)).json();
    const g = r.graph || {};
    const gname = g.name || name;
    // The metrics, then how the network was found (extract_network's other fields).
    const found = {};
    if (r.width) found["field (px)"] = `${r.width} × ${r.height}`;
    if (typeof r.threshold_mv === "number") found["threshold used (mV)"] = r.threshold_mv;
    if (typeof r.mask_pixels === "number") found["mask pixels"] = r.mask_pixels;
    if (typeof r.skeleton_pixels === "number") found["skeleton pixels"] = r.skeleton_pixels;
    graphs.metrics.set(gname, { metrics: r.metrics || {}, found });
    gstatus(`Extracted ${gname}: ${g.num_nodes} nodes, ${g.num_edges} edges.`);
    // Extracted nodes carry `kind` (tip, junction, …): the telling colouring.
    $("color-by").value = "kind";
    if (await refreshList()) await select(gname);
  } catch (e) {
    fail("extract_network", e);
  } finally {
    $("extract").disabled = !has("extract_network");
  }
}

function fmtValue(v) {
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(4) : v.toFixed(4);
  }
  if (typeof v === "boolean" || typeof v === "string") return String(v);
  return null;
}

function row(tbody, key, value) {
  const tr = document.createElement("tr");
  const th = document.createElement("th");
  th.textContent = key;
  const td = document.createElement("td");
  td.textContent = value;
  tr.append(th, td);
  tbody.append(tr);
}

function showMetrics(name) {
  const e = graphs.metrics.get(name);
  $("metrics-card").hidden = !e;
  const tbody = $("metrics").tBodies[0];
  tbody.replaceChildren();
  if (!e) return;
  $("metrics-of").textContent = `of ${name}`;
  const m = e.metrics;
  const keys = [...METRIC_ORDER.filter((k) => k in m), ...Object.keys(m).filter((k) => !METRIC_ORDER.includes(k)).sort()];
  for (const k of keys) {
    const v = m[k] === null ? "—" : fmtValue(m[k]);
    if (v !== null) row(tbody, k, v);
  }
  const n = tbody.rows.length;
  for (const [k, v] of Object.entries(e.found)) row(tbody, k, fmtValue(v));
  if (tbody.rows[n]) tbody.rows[n].classList.add("sep");
}

function showCentrality(c) {
  graphs.centrality = c;
  const tbody = $("centrality").tBodies[0];
  tbody.replaceChildren();
  if (!c) return;
  for (const { node, value } of c.values) row(tbody, String(node), fmtValue(value) ?? "—");
}

async function betweenness() {
  const name = graphs.selected;
  if (!name) return;
  $("betweenness").disabled = true;
  gstatus(`Betweenness of ${name}…`);
  try {
    const r = await (await api("POST", "/v1/tools/betweenness_centrality", { graph: name, top_k: 10 })).json();
    if (graphs.selected !== name) return;
    showCentrality({ graph: name, values: r.values || [], truncated: Boolean(r.truncated) });
    gstatus(`Betweenness of ${name}: the top ${graphs.centrality.values.length} nodes.`);
  } catch (e) {
    fail(`betweenness_centrality of ${name}`, e);
  } finally {
    $("betweenness").disabled = graphs.selected === null;
  }
}

async function onFirstOpen() {
  gstatus("Loading…");
  await loadTools();
  if (await refreshList()) {
    gstatus(`${graphs.list.length}${graphs.truncated ? "+" : ""} stored graph${graphs.list.length === 1 ? "" : "s"}.`);
  }
  graphs.loaded = true;
}

document.addEventListener("mfn:tab", (ev) => {
  if (ev.detail === "graphs" && !graphs.loaded && !graphs.loading) {
    graphs.loading = true;
    onFirstOpen().finally(() => { graphs.loading = false; });
  }
});
$("graphs-refresh").addEventListener("click", async () => {
  if (graphs.tools === null) await loadTools();
  if (await refreshList()) gstatus(`${graphs.list.length}${graphs.truncated ? "+" : ""} stored graphs.`);
});
$("generate-karate").addEventListener("click", generateKarate);
$("extract-form").addEventListener("submit", extract);
$("extract-form").elements.threshold.addEventListener("change", (ev) => {
  $("threshold-mv-row").hidden = ev.target.value !== "fixed";
});
$("color-by").addEventListener("change", draw);
$("graph-png").addEventListener("click", downloadPng);
$("betweenness").addEventListener("click", betweenness);
})();
