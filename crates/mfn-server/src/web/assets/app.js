// The MFN live page, tab "Simulation": one simulation stream (/ws/simulation_live, field
// as binary) and one feature stream (/ws/stream_features) per run. Protocol:
// docs/WEBSOCKET.md. Also the page-wide parts: the tabs and the API key field (used by
// both tabs; graphs.js, loaded after this script, uses `$`, `apiKey`, `showKeyField` and
// `download` from here).
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("params");
const heatmap = $("heatmap");
const KEY_STORE = "mfn.api_key";
const TABS = ["sim", "graphs"];

// The API key typed in the header (remembered for this browser tab only).
function apiKey() {
  const typed = $("api-key").value.trim();
  if (typed) { sessionStorage.setItem(KEY_STORE, typed); return typed; }
  return sessionStorage.getItem(KEY_STORE) || "";
}

function showKeyField() {
  $("key-row").hidden = false;
}

// Tabs: the buttons in the header switch the panels; the URL hash (#graphs) names the
// open tab, and a `mfn:tab` event on document tells the panels.
function showTab(name, { focus = false } = {}) {
  if (!TABS.includes(name)) name = "sim";
  for (const t of TABS) {
    const on = t === name;
    const tab = $(`tab-${t}`);
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`panel-${t}`).hidden = !on;
    if (on && focus) tab.focus();
  }
  const hash = name === "sim" ? "" : `#${name}`;
  if (location.hash !== hash) history.replaceState(null, "", hash || location.pathname + location.search);
  if (name === "sim") drawCharts();
  document.dispatchEvent(new CustomEvent("mfn:tab", { detail: name }));
}

function onTabKey(ev) {
  const i = TABS.indexOf(ev.currentTarget.id.slice(4));
  const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[ev.key];
  if (next === undefined) return;
  ev.preventDefault();
  showTab(TABS[(next + TABS.length) % TABS.length], { focus: true });
}

// Viridis, 9 anchors interpolated into a 256-entry table.
const VIRIDIS = [
  [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
  [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
];
const LUT = (() => {
  const t = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * (VIRIDIS.length - 1);
    const k = Math.min(Math.floor(x), VIRIDIS.length - 2);
    const f = x - k;
    for (let c = 0; c < 3; c++) t[i * 3 + c] = VIRIDIS[k][c] * (1 - f) + VIRIDIS[k + 1][c] * f;
  }
  return t;
})();

// Everything about the current run; exposed for the browser test and for JSON export.
const run = {
  id: 0,
  params: null,
  running: false,
  total: 0,
  step: 0,
  states: [],       // simulation_state / simulation_complete payloads (without the field)
  features: [],     // feature_update payloads
  complete: null,
  featuresComplete: null,
  dropped: 0,
  fieldStep: -1,
  fieldRange: null,
  heatmapUpdates: 0,
  errors: [],
};
window.mfn = run;

class Channel {
  constructor(path, onMessage, onBinary) {
    this.path = path;
    this.onMessage = onMessage;
    this.onBinary = onBinary;
    this.ws = null;
    this.ready = null;
    this.init = null;
  }

  // Resolves once the socket is open, `init` arrived and (when required) auth succeeded.
  connect(key) {
    if (this.ready) return this.ready;
    this.ready = new Promise((resolve, reject) => {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(`${proto}//${location.host}${this.path}`);
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      let settled = false;
      const fail = (msg) => { if (!settled) { settled = true; reject(new Error(msg)); } };
      ws.onmessage = (ev) => {
        if (typeof ev.data !== "string") { this.onBinary(ev.data); return; }
        const msg = JSON.parse(ev.data);
        const p = msg.payload || {};
        if (msg.type === "init") {
          this.init = p;
          if (p.auth_required && !p.authenticated) {
            if (!key) { showKeyField(); fail("this server needs an API key (field at the top)"); return; }
            this.send("auth", { api_key: key });
          } else { settled = true; resolve(p); }
        } else if (msg.type === "auth_success") {
          settled = true; resolve(this.init);
        } else if (msg.type === "auth_failed") {
          showKeyField();
          fail(`authentication failed: ${p.message}`);
        } else if (msg.type === "heartbeat") {
          this.send("pong", {});
        } else {
          this.onMessage(msg.type, p);
        }
      };
      ws.onclose = (ev) => {
        this.ready = null;
        fail(`connection closed (${ev.code})`);
        setConn(false, ev.code === 1000 ? "closed" : `closed: ${ev.reason || ev.code}`);
        if (run.running) finish(`connection lost: ${ev.reason || ev.code}`);
      };
      ws.onerror = () => fail("cannot connect");
    });
    return this.ready;
  }

  send(type, payload) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type, payload }));
    }
  }
}

const sim = new Channel("/ws/simulation_live", onSimMessage, onField);
const feat = new Channel("/ws/stream_features", onFeatureMessage, () => {});

function setConn(open, text) {
  $("conn").className = "conn " + (open ? "open" : "error");
  $("conn-text").textContent = text;
}

function status(text) { $("status").textContent = text; }

function readParams() {
  const f = new FormData(form);
  const num = (k) => Number(f.get(k));
  return {
    seed: num("seed"),
    grid_size: num("grid_size"),
    steps: num("steps"),
    alpha: num("alpha"),
    spike_probability: num("spike_probability"),
    turing_enabled: f.get("turing_enabled") === "on",
    steps_per_frame: num("steps_per_frame"),
    frame_interval_ms: num("frame_interval_ms"),
  };
}

async function start(ev) {
  ev.preventDefault();
  if (run.running) return;
  $("form-error").textContent = "";
  const params = readParams();
  const key = apiKey();
  Object.assign(run, {
    id: run.id + 1, params, running: true, total: params.steps, step: 0, states: [],
    features: [], complete: null, featuresComplete: null, dropped: 0, fieldStep: -1,
    fieldRange: null, errors: [], startedAt: Date.now(),
  });
  updateStatus();
  drawCharts();
  $("start").disabled = true;
  $("stop").disabled = false;
  status("Connecting…");
  try {
    const init = await sim.connect(key);
    setConn(true, `connected · auth ${init.auth_mode}`);
    await feat.connect(key);
  } catch (e) {
    failRun(e.message);
    return;
  }
  const id = `run-${run.id}`;
  sim.send("subscribe", { stream_id: id, ...params, field_format: "binary" });
  feat.send("subscribe", { stream_id: id, ...params });
  status("Starting…");
}

function stop() {
  if (!run.running) return;
  const id = `run-${run.id}`;
  sim.send("unsubscribe", { stream_id: id });
  feat.send("unsubscribe", { stream_id: id });
  finish(`Stopped at step ${run.step} of ${run.total}.`);
}

function finish(text) {
  run.running = false;
  $("start").disabled = false;
  $("stop").disabled = true;
  $("download-json").disabled = run.states.length === 0;
  status(text);
}

function failRun(text) {
  run.errors.push(text);
  $("form-error").textContent = text;
  finish(`Error: ${text}`);
}

function current(p) { return run.running && p.stream_id === `run-${run.id}`; }

function onSimMessage(type, p) {
  if (type === "subscribe_failed") {
    if (p.stream_id === `run-${run.id}`) failRun(p.field ? `${p.field}: ${p.message}` : p.message);
    return;
  }
  if (type === "subscribe_success") { status(`Running (request ${p.request_id}).`); return; }
  if (type === "error") {
    if (current(p) || !p.stream_id) failRun(`${p.error_code}: ${p.message}`);
    return;
  }
  if (type === "close") { status(`Server closed the connection: ${p.reason}`); return; }
  if (type !== "simulation_state" && type !== "simulation_complete") return;
  if (!current(p) && type !== "simulation_complete") return;
  if (p.stream_id !== `run-${run.id}`) return;
  run.states.push(p);
  run.step = p.step;
  run.dropped = p.dropped || 0;
  showNumbers(p);
  updateStatus();
  drawCharts();
  if (type === "simulation_complete") {
    run.complete = p;
    const ms = p.meta ? Number(p.meta.elapsed_ms).toFixed(0) : "?";
    finish(`Complete: ${p.step} steps in ${ms} ms server time, ${run.states.length} frames, ${run.dropped} dropped.`);
  }
}

function onFeatureMessage(type, p) {
  if (type === "subscribe_failed" && p.stream_id === `run-${run.id}`) {
    run.errors.push(`features: ${p.message}`);
    return;
  }
  if (type !== "feature_update" && type !== "simulation_complete") return;
  if (p.stream_id !== `run-${run.id}`) return;
  run.features.push(p);
  if (type === "simulation_complete") run.featuresComplete = p;
  const f = p.features || {};
  $("n-active").textContent = f.f_active !== undefined ? f.f_active.toFixed(4) : "—";
  drawCharts();
}

// Binary field message: "MFNF", u32 header_len, step, total, rows, cols, u16 id length,
// id, padding; then rows*cols little-endian f32 values in mV.
function onField(buf) {
  const dv = new DataView(buf);
  if (buf.byteLength < 26 || dv.getUint32(0, false) !== 0x4d464e46) return;
  const header = dv.getUint32(4, true);
  const step = dv.getUint32(8, true);
  const rows = dv.getUint32(16, true);
  const cols = dv.getUint32(20, true);
  const idLen = dv.getUint16(24, true);
  const id = new TextDecoder().decode(new Uint8Array(buf, 26, idLen));
  if (id !== `run-${run.id}`) return;
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < values.length; i++) values[i] = dv.getFloat32(header + 4 * i, true);
  drawField(values, rows, cols);
  run.fieldStep = step;
  run.heatmapUpdates += 1;
  $("download-png").disabled = false;
}

function drawField(values, rows, cols) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (!(hi > lo)) hi = lo + 1e-3;
  run.fieldRange = [lo, hi];
  if (heatmap.width !== cols || heatmap.height !== rows) { heatmap.width = cols; heatmap.height = rows; }
  const ctx = heatmap.getContext("2d");
  const img = ctx.createImageData(cols, rows);
  const scale = 255 / (hi - lo);
  for (let i = 0; i < values.length; i++) {
    const k = Math.max(0, Math.min(255, Math.round((values[i] - lo) * scale))) * 3;
    img.data[i * 4] = LUT[k];
    img.data[i * 4 + 1] = LUT[k + 1];
    img.data[i * 4 + 2] = LUT[k + 2];
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  $("legend-max").textContent = `${hi.toFixed(2)} mV`;
  $("legend-min").textContent = `${lo.toFixed(2)} mV`;
}

function drawColorbar() {
  const c = $("colorbar");
  const ctx = c.getContext("2d");
  for (let y = 0; y < c.height; y++) {
    const k = Math.round((1 - y / (c.height - 1)) * 255) * 3;
    ctx.fillStyle = `rgb(${LUT[k]},${LUT[k + 1]},${LUT[k + 2]})`;
    ctx.fillRect(0, y, c.width, 1);
  }
}

function fmt(v, d = 3) { return v === undefined || v === null ? "—" : Number(v).toFixed(d); }

function showNumbers(p) {
  $("n-mean").textContent = `${fmt(p.pot_mean_mV)} mV`;
  $("n-std").textContent = `${fmt(p.pot_std_mV)} mV`;
  $("n-range").textContent = `${fmt(p.pot_min_mV, 2)} / ${fmt(p.pot_max_mV, 2)}`;
  $("n-growth").textContent = p.growth_events;
  $("n-fd").textContent = fmt(p.fractal_dimension);
}

function updateStatus() {
  $("step-text").textContent = `step ${run.step} / ${run.total}`;
  $("progress-bar").style.width = run.total ? `${(100 * run.step) / run.total}%` : "0";
  $("frames").textContent = run.states.length;
  $("dropped").textContent = run.dropped;
}

// A line chart: series = [{points: [[x, y]], color, band?: [[x, lo, hi]]}].
function lineChart(canvas, series, { yLabel = "", xMax = 1 } = {}) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const pad = { l: 52, r: 10, t: 8, b: 22 };
  const all = series.flatMap((s) => [
    ...s.points.map((p) => p[1]),
    ...(s.band || []).flatMap((b) => [b[1], b[2]]),
  ]).filter(Number.isFinite);
  let lo = all.length ? Math.min(...all) : 0, hi = all.length ? Math.max(...all) : 1;
  if (hi - lo < 1e-9) { lo = lo >= 0 ? lo : lo - 0.5; hi += 0.5; }
  // A little air around the data, but no negative axis for data that cannot be negative.
  const m = (hi - lo) * 0.08; lo = lo >= 0 ? Math.max(0, lo - m) : lo - m; hi += m;
  const X = (x) => pad.l + (x / Math.max(xMax, 1)) * (w - pad.l - pad.r);
  const Y = (y) => h - pad.b - ((y - lo) / (hi - lo)) * (h - pad.t - pad.b);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#8fa398";
  ctx.strokeStyle = "#24342c";
  ctx.lineWidth = 1;
  for (let i = 0; i <= 3; i++) {
    const y = lo + ((hi - lo) * i) / 3;
    ctx.beginPath(); ctx.moveTo(pad.l, Y(y)); ctx.lineTo(w - pad.r, Y(y)); ctx.stroke();
    ctx.fillText(Math.abs(hi - lo) < 0.1 ? y.toFixed(4) : y.toFixed(2), 4, Y(y) + 4);
  }
  ctx.fillText("0", pad.l, h - 6);
  const xm = `${xMax} steps`;
  ctx.fillText(xm, w - pad.r - ctx.measureText(xm).width, h - 6);
  if (yLabel) ctx.fillText(yLabel, pad.l + 4, pad.t + 10);
  for (const s of series) {
    if (s.band && s.band.length > 1) {
      ctx.fillStyle = s.bandColor;
      ctx.beginPath();
      s.band.forEach((b, i) => (i ? ctx.lineTo(X(b[0]), Y(b[2])) : ctx.moveTo(X(b[0]), Y(b[2]))));
      for (let i = s.band.length - 1; i >= 0; i--) ctx.lineTo(X(s.band[i][0]), Y(s.band[i][1]));
      ctx.closePath(); ctx.fill();
    }
    if (!s.points.length) continue;
    ctx.strokeStyle = s.color; ctx.lineWidth = 2;
    ctx.beginPath();
    s.points.forEach((p, i) => (i ? ctx.lineTo(X(p[0]), Y(p[1])) : ctx.moveTo(X(p[0]), Y(p[1]))));
    ctx.stroke();
    if (s.points.length === 1) { ctx.fillStyle = s.color; ctx.fillRect(X(s.points[0][0]) - 2, Y(s.points[0][1]) - 2, 4, 4); }
  }
}

function drawCharts() {
  const xMax = run.total || 1;
  const st = run.states;
  lineChart($("chart-potential"), [{
    points: st.map((p) => [p.step, p.pot_mean_mV]),
    band: st.map((p) => [p.step, p.pot_mean_mV - p.pot_std_mV, p.pot_mean_mV + p.pot_std_mV]),
    color: "#6fd39a", bandColor: "rgba(111, 211, 154, 0.18)",
  }], { xMax });
  const fd = run.features.length
    ? run.features.map((p) => [p.step, p.features.D_box])
    : st.map((p) => [p.step, p.fractal_dimension]);
  lineChart($("chart-fractal"), [{ points: fd, color: "#f2b45a" }], { xMax });
  lineChart($("chart-growth"), [{ points: st.map((p) => [p.step, p.growth_events]), color: "#8ab4ff" }], { xMax });
}

function download(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function downloadPng() {
  // Upscale with nearest-neighbour so a 64×64 field is a readable image.
  const scale = Math.max(1, Math.floor(512 / heatmap.width));
  const out = document.createElement("canvas");
  out.width = heatmap.width * scale; out.height = heatmap.height * scale;
  const ctx = out.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(heatmap, 0, 0, out.width, out.height);
  out.toBlob((b) => download(`mfn-seed${run.params.seed}-step${run.fieldStep}.png`, b), "image/png");
}

function downloadJson() {
  const body = {
    params: run.params,
    total_steps: run.total,
    frames: run.states,
    features: run.features,
    complete: run.complete,
    dropped: run.dropped,
  };
  download(`mfn-seed${run.params.seed}-run.json`, new Blob([JSON.stringify(body, null, 2)], { type: "application/json" }));
}

form.addEventListener("submit", start);
$("stop").addEventListener("click", stop);
$("download-png").addEventListener("click", downloadPng);
$("download-json").addEventListener("click", downloadJson);
window.addEventListener("resize", drawCharts);
if (sessionStorage.getItem(KEY_STORE)) {
  $("api-key").value = sessionStorage.getItem(KEY_STORE);
  showKeyField();
}
for (const t of TABS) {
  $(`tab-${t}`).addEventListener("click", () => showTab(t));
  $(`tab-${t}`).addEventListener("keydown", onTabKey);
}
window.addEventListener("hashchange", () => showTab(location.hash.slice(1)));
// After graphs.js has registered its listener (scripts run before DOMContentLoaded).
document.addEventListener("DOMContentLoaded", () => showTab(location.hash.slice(1)));
drawColorbar();
drawCharts();
