// The live page in a real browser: start `mfn serve` on free ports (graphs stored in a
// temporary MFN_DATA_DIR), open the page in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core), and
// - Simulation tab: start a run, check that the heatmap changes and the charts fill,
//   download the PNG and the JSON, stop a second run; screenshot page.png;
// - Graphs tab: list the (empty) store, generate the karate club, draw it, the betweenness
//   table, extract a mycelial network with its metrics, a REST error in the status line,
//   the tabs by mouse, keyboard and URL; screenshot graph.png. The parts that need the
//   visualize_graph and extract_network tools run when GET /v1/tools lists them, and
//   then must pass (an SVG that does not render or an empty metrics table fails);
// - CORS from another origin (allowed, refused, preflight) and the /docs page (a badge
//   for every method, aliases under their operations); screenshot docs.png.
//
//   node scripts/browser/page.mjs path/to/mfn [output-dir]   # default output: target/browser
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const mfn = process.argv[2];
const outDir = path.resolve(process.argv[3] || path.join(here, "..", "..", "target", "browser"));
const chromiumPath = process.env.MFN_CHROMIUM || "/usr/bin/chromium";
if (!mfn) {
  console.error("usage: node scripts/browser/page.mjs path/to/mfn [output-dir]");
  process.exit(2);
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

async function waitHealthy(base, server) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`mfn serve exited with ${server.exitCode}`);
    try {
      const r = await fetch(`${base}/health`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("mfn serve did not become healthy within 30 s");
}

function watchConsole(p, errors) {
  p.on("pageerror", (e) => {
    errors.push(String(e));
    console.error(`page error: ${e}`);
  });
  p.on("console", (m) => {
    if (m.type() === "error") {
      errors.push(m.text());
      console.error(`console error: ${m.text()}`);
    }
  });
}

// REST straight from the check (same server, no key: MFN_ENV=dev has auth off).
async function rest(method, route, body) {
  const r = await fetch(`${base}${route}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await r.json();
  if (!r.ok) throw new Error(`${method} ${route}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

// The drawing of `name` coloured by `colorBy`, once the page has it (or failed).
async function drawing(name, colorBy) {
  await page.waitForFunction(([n, c]) => {
    const d = window.mfnGraphs.drawing;
    return d && d.name === n && d.color_by === c && d.status !== "pending";
  }, [name, colorBy], { timeout: 60_000 });
  return page.evaluate(() => {
    const img = document.getElementById("graph-img");
    const out = {
      status: window.mfnGraphs.drawing.status,
      w: img.naturalWidth,
      h: img.naturalHeight,
      shown: !img.hidden && img.getBoundingClientRect().width > 100,
      blob: img.src.startsWith("blob:"),
      inked: 0,
      hash: 0,
      placeholder: document.getElementById("graph-placeholder").textContent,
      error: window.mfnGraphs.errors.at(-1) || "",
    };
    if (img.naturalWidth > 0) {
      // Pixels that are not the white background: edges and nodes.
      const c = document.createElement("canvas");
      c.width = img.naturalWidth; c.height = img.naturalHeight;
      const ctx = c.getContext("2d");
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] < 230 || d[i + 1] < 230 || d[i + 2] < 230) out.inked++;
        out.hash = (out.hash * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) >>> 0;
      }
    }
    return out;
  });
}

function checkDrawn(d, what) {
  check(d.status === "loaded" && d.w > 0 && d.h > 0 && d.shown && d.blob,
    `${what}: the SVG renders as an image (${d.w}×${d.h}, ${d.status}${d.error ? `, ${d.error}` : ""})`);
  check(d.inked > 500, `${what}: the drawing has ${d.inked} non-background pixels`);
}

async function tableRows(selector) {
  return page.$$eval(`${selector} tbody tr`, (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
}

// The Graphs tab. visualize_graph and extract_network are checked when the server lists
// them; without them the page must say so and still list, generate and measure graphs.
async function graphsTab(context, pageErrors) {
  const tools = (await rest("GET", "/v1/tools")).tools.map((t) => t.name);
  const hasVisualize = tools.includes("visualize_graph");
  const hasExtract = tools.includes("extract_network");
  console.log(`# graphs tab: visualize_graph ${hasVisualize ? "listed" : "NOT listed"}, extract_network ${hasExtract ? "listed" : "NOT listed"}`);

  await page.click("#tab-graphs");
  check(await page.isVisible("#panel-graphs") && !(await page.isVisible("#panel-sim")),
    "the Graphs tab shows its panel and hides the simulation");
  check(new URL(page.url()).hash === "#graphs", "the URL names the open tab (#graphs)");
  await page.waitForFunction(() => window.mfnGraphs.loaded, null, { timeout: 15_000 });
  const first = await page.evaluate(() => ({
    tools: window.mfnGraphs.tools, list: window.mfnGraphs.list.length, errors: window.mfnGraphs.errors,
  }));
  check(first.errors.length === 0 && JSON.stringify(first.tools) === JSON.stringify(tools),
    `the tab reads the server's ${tools.length} tools`);
  check(first.list === 0 && (await page.textContent("#graph-list-note")).startsWith("No graphs"),
    "a fresh store lists no graphs");
  if (!hasVisualize) {
    const note = await page.textContent("#graph-placeholder");
    check(note.includes("no visualize_graph"), `without visualize_graph the page says so (${note})`);
  }
  if (!hasExtract) {
    check(await page.isDisabled("#extract") && (await page.textContent("#extract-note")).includes("no extract_network"),
      "without extract_network the Extract button is off and the page says why");
  }

  // Generate → listed, selected, described, drawn.
  await page.click("#generate-karate");
  await page.waitForFunction(() => window.mfnGraphs.info && window.mfnGraphs.info.name === "karate"
    || window.mfnGraphs.errors.length > 0, null, { timeout: 30_000 });
  const listed = await page.$$eval("#graph-list button", (bs) => bs.map((b) => b.textContent));
  check(listed.length === 1 && listed[0].includes("karate") && listed[0].includes("34 n · 78 e"),
    `Generate karate club lists it (${listed.join(" | ")})`);
  const info = await page.textContent("#graph-info");
  check(info === "34 nodes · 78 edges · undirected", `the selected graph is described by get_info (${info})`);
  if (hasVisualize) {
    checkDrawn(await drawing("karate", "degree"), "karate, colour by degree");
  } else {
    const d = await drawing("karate", "degree");
    check(d.status === "unavailable" && !d.shown, "without visualize_graph no image is shown");
    console.log("skip - drawing karate: the server does not list visualize_graph");
  }

  // Betweenness: the top 10, as REST says.
  await page.click("#betweenness");
  await page.waitForFunction(() => window.mfnGraphs.centrality && window.mfnGraphs.centrality.graph === "karate"
    || window.mfnGraphs.errors.length > 0, null, { timeout: 30_000 });
  const rows = await tableRows("#centrality");
  const top = (await rest("POST", "/v1/tools/betweenness_centrality", { graph: "karate", top_k: 10 })).values;
  check(rows.length === 10 && rows.every((r, i) => r[0] === String(top[i].node) && Math.abs(Number(r[1]) - top[i].value) < 1e-4),
    `the betweenness table has REST's top 10 (${rows.slice(0, 2).map((r) => r.join(" ")).join(", ")}, …)`);

  mkdirSync(outDir, { recursive: true });
  if (hasVisualize) {
    // Another colouring is another drawing; the PNG button saves a PNG.
    const before = await drawing("karate", "degree");
    await page.selectOption("#color-by", "community");
    const after = await drawing("karate", "community");
    checkDrawn(after, "karate, colour by community");
    check(after.hash !== before.hash, "colour by community redraws the graph differently");
    const [png] = await Promise.all([page.waitForEvent("download"), page.click("#graph-png")]);
    const pngPath = path.join(outDir, "graph-karate.png");
    await png.saveAs(pngPath);
    check(readFileSync(pngPath).subarray(0, 8).toString("hex") === "89504e470d0a1a0a", "the graph's Download PNG saves a PNG");
  } else {
    console.log("skip - colouring and PNG download: the server does not list visualize_graph");
  }

  // The extract form: the fixed threshold has its mV field.
  await page.selectOption("#extract-form select[name=threshold]", "fixed");
  check(await page.isVisible("#threshold-mv-row"), "threshold fixed shows the mV field");
  await page.selectOption("#extract-form select[name=threshold]", "adaptive_median");
  check(!(await page.isVisible("#threshold-mv-row")), "threshold adaptive_median hides it");
  if (hasExtract) {
    await page.fill("#extract-form input[name=name]", "mycelium");
    await page.fill("#extract-form input[name=seed]", "42");
    await page.fill("#extract-form input[name=grid_size]", "64");
    await page.fill("#extract-form input[name=steps]", "200");
    await page.fill("#extract-form input[name=min_branch_px]", "3");
    const errorsBefore = await page.evaluate(() => window.mfnGraphs.errors.length);
    await page.click("#extract");
    await page.waitForFunction((n) => window.mfnGraphs.info && window.mfnGraphs.info.name === "mycelium"
      || window.mfnGraphs.errors.length > n, errorsBefore, { timeout: 120_000 });
    const errs = await page.evaluate((n) => window.mfnGraphs.errors.slice(n), errorsBefore);
    check(errs.length === 0, `Extract runs extract_network${errs.length ? `: ${errs.join("; ")}` : ""}`);
    const metrics = Object.fromEntries((await tableRows("#metrics")).map(([k, v]) => [k, v]));
    const keys = Object.keys(metrics);
    check(keys.length > 0 && (await page.isVisible("#metrics-card")),
      `the metrics table is filled (${keys.slice(0, 6).map((k) => `${k} ${metrics[k]}`).join(", ")}${keys.length > 6 ? ", …" : ""})`);
    const ginfo = await page.evaluate(() => window.mfnGraphs.info);
    check(ginfo.num_nodes > 0 && (!("num_nodes" in metrics) || Number(metrics.num_nodes) === ginfo.num_nodes),
      `the extracted graph has ${ginfo.num_nodes} nodes and ${ginfo.num_edges} edges, as its metrics say`);
    check((await page.$$eval("#graph-list button", (bs) => bs.map((b) => b.dataset.name))).includes("mycelium"),
      "the extracted network is listed");
    check(await page.inputValue("#color-by") === "kind", "an extracted network is coloured by node kind");
    if (hasVisualize) checkDrawn(await drawing("mycelium", "kind"), "mycelium over its field, colour by kind");
    await page.click("#betweenness");
    await page.waitForFunction(() => window.mfnGraphs.centrality && window.mfnGraphs.centrality.graph === "mycelium"
      || window.mfnGraphs.errors.length > 0, null, { timeout: 60_000 });
    check((await tableRows("#centrality")).length > 0, "the betweenness of the extracted network");
  } else {
    console.log("skip - Extract network: the server does not list extract_network");
  }

  const status = await page.textContent("#graph-status");
  check(!(await page.$eval("#graph-status", (e) => e.classList.contains("error"))), `graph status line: ${status}`);
  const shot = path.join(outDir, "graph.png");
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  // A REST error (a graph deleted behind the page's back) shows in the status line.
  await rest("POST", "/v1/graphs", { name: "ghost" });
  await page.click("#graphs-refresh");
  await page.waitForSelector('#graph-list button[data-name="ghost"]');
  await rest("DELETE", "/v1/graphs/ghost");
  const quiet = pageErrors.length;
  await page.click('#graph-list button[data-name="ghost"]');
  await page.waitForFunction(() => document.getElementById("graph-status").classList.contains("error"), null, { timeout: 15_000 });
  const err = await page.textContent("#graph-status");
  check(err.includes("NOT_FOUND") && err.includes("\"ghost\" not found") && err.includes("request "),
    `a REST error shows in the status line (${err})`);
  // Chromium logs the 404 itself as a console error; only that one is expected here.
  const logged = pageErrors.splice(quiet);
  check(logged.every((e) => e.includes("status of 404")), `only the expected 404 is logged (${logged.length})`);
  await page.click("#graphs-refresh");

  // Tabs by keyboard, and back to the simulation with its charts redrawn.
  await page.focus("#tab-graphs");
  await page.keyboard.press("ArrowLeft");
  check(await page.isVisible("#panel-sim") && !(await page.isVisible("#panel-graphs"))
    && (await page.evaluate(() => document.activeElement.id)) === "tab-sim",
    "ArrowLeft on the tabs opens and focuses Simulation");
  check(new URL(page.url()).hash === "", "the simulation tab has no hash");
  const inked = await page.evaluate(() => {
    const c = document.getElementById("chart-potential");
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200 && (d[i] > 100 || d[i + 1] > 150)) n++;
    return n;
  });
  check(inked > 100, "the simulation tab is as it was (charts drawn)");

  // A link to /#graphs opens the Graphs tab directly, with the store listed.
  const second = await context.newPage();
  watchConsole(second, pageErrors);
  await second.goto(`${base}/#graphs`);
  await second.waitForFunction(() => window.mfnGraphs.loaded, null, { timeout: 15_000 });
  const names = await second.$$eval("#graph-list button", (bs) => bs.map((b) => b.dataset.name));
  check(await second.isVisible("#panel-graphs") && names.includes("karate") && !names.includes("ghost"),
    `/#graphs opens the Graphs tab (${names.join(", ")})`);
  await second.close();
}

// A second server that asks for an API key (MFN_AUTH_MODE=key): the first 401 of the
// Graphs tab shows the key field in the header; with the key typed there, REST calls
// carry x-api-key and the simulation tab's WebSocket authenticates with the same key.
// REST CORS (seed 004 §10) and the /docs page, on a server that allows one other origin.
// Both origins are the same loopback server under two host names (http://localhost:P
// and http://127.0.0.1:P), so the browser applies CORS between real pages.
async function corsAndDocs(browser) {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const allowed = `http://localhost:${port}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), "mfn-page-cors-"));
  const srv = spawn(mfn, ["serve"], {
    env: {
      ...process.env,
      MFN_ENV: "dev",
      MFN_CORS_ORIGINS: allowed,
      MFN_HOST: "127.0.0.1",
      MFN_HTTP_PORT: String(port),
      MFN_GRPC_PORT: String(await freePort()),
      MFN_LOG_LEVEL: "error",
      MFN_DATA_DIR: dir,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    await waitHealthy(api, srv);
    const nernst = (target) => `fetch(${JSON.stringify(target + "/v1/nernst")}, {method: "POST",
      headers: {"content-type": "application/json"},
      body: JSON.stringify({z_valence: 1, concentration_out_molar: 0.005, concentration_in_molar: 0.14, temperature_k: 310})})
      .then(async (r) => ({status: r.status, body: await r.json()}), (e) => ({error: String(e)}))`;
    const p = await context.newPage();
    await p.goto(`${allowed}/`);
    const ok = await p.evaluate(nernst(api));
    check(ok.status === 200 && Math.abs(ok.body.potential_mV + 89.0) < 1.0,
      `CORS: a page on the allowed origin ${allowed} fetches ${api}/v1/nernst (${JSON.stringify(ok).slice(0, 80)})`);
    await p.goto(`${api}/`);
    const refused = await p.evaluate(nernst(allowed));
    check(refused.error && refused.error.includes("Failed to fetch"),
      `CORS: a page on another origin is refused (${JSON.stringify(refused).slice(0, 80)})`);
    const preflight = await fetch(`${api}/v1/nernst`, {
      method: "OPTIONS",
      headers: { origin: allowed, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    check(preflight.ok && preflight.headers.get("access-control-allow-origin") === allowed
      && /POST/i.test(preflight.headers.get("access-control-allow-methods") || ""),
      `CORS: the preflight is answered (${preflight.status}, allow-origin ${preflight.headers.get("access-control-allow-origin")})`);

    await p.goto(`${api}/docs`);
    await p.waitForSelector("details.op", { timeout: 15_000 });
    const docs = await p.$$eval("details.op summary", (ss) => ss.map((s) => {
      const v = s.querySelector(".verb");
      return { verb: v && v.textContent, bg: v && getComputedStyle(v).backgroundColor, path: s.querySelector(".path").textContent };
    }));
    const unbadged = docs.filter((d) => !d.verb || d.bg === "rgba(0, 0, 0, 0)");
    const verbs = [...new Set(docs.map((d) => d.verb))].sort();
    check(unbadged.length === 0 && ["DELETE", "GET", "POST", "PUT"].every((v) => verbs.includes(v)),
      `docs: every operation has a coloured method badge (${verbs.join(", ")}; ${unbadged.length} without)`);
    const aliasText = (await p.$$eval(".aliases", (as) => as.map((a) => a.textContent))).join(" ");
    const top = docs.map((d) => d.path);
    check(!top.includes("/nernst") && !top.includes("/federated/aggregate")
      && aliasText.includes("/nernst") && aliasText.includes("/federated/aggregate"),
      `docs: the reference's aliases are listed under their operations, not as operations (${top.length} operations, ${top[0]} first)`);
    mkdirSync(outDir, { recursive: true });
    const shot = path.join(outDir, "docs.png");
    await p.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
  } finally {
    await context.close();
    srv.kill("SIGTERM");
    await new Promise((resolve) => {
      if (srv.exitCode !== null) resolve();
      else srv.on("exit", resolve);
    });
    rmSync(dir, { recursive: true, force: true });
  }
}

async function keyedServer(browser) {
  const key = "page-check-key-0123456789abcdef";
  const port = await freePort();
  const keyedBase = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), "mfn-page-keyed-"));
  const keyed = spawn(mfn, ["serve"], {
    env: {
      ...process.env,
      MFN_ENV: "dev",
      MFN_AUTH_MODE: "key",
      MFN_API_KEY: key,
      MFN_HOST: "127.0.0.1",
      MFN_HTTP_PORT: String(port),
      MFN_GRPC_PORT: String(await freePort()),
      MFN_LOG_LEVEL: "error",
      MFN_DATA_DIR: dir,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  try {
    await waitHealthy(keyedBase, keyed);
    const p = await context.newPage();
    const errors = [];
    watchConsole(p, errors);
    await p.goto(`${keyedBase}/#graphs`);
    await p.waitForFunction(() => window.mfnGraphs.loaded, null, { timeout: 15_000 });
    const said = await p.textContent("#graph-status");
    check(await p.isVisible("#key-row") && said.includes("UNAUTHENTICATED") && said.includes("API key"),
      `keyed server: a 401 shows the API key field (${said})`);
    await p.fill("#api-key", key);
    await p.click("#graphs-refresh");
    await p.waitForFunction(() => window.mfnGraphs.tools !== null
      && !document.getElementById("graph-status").classList.contains("error"), null, { timeout: 15_000 });
    const before = await p.evaluate(() => window.mfnGraphs.errors.length);
    await p.click("#generate-karate");
    await p.waitForFunction((n) => window.mfnGraphs.info && window.mfnGraphs.info.name === "karate"
      || window.mfnGraphs.errors.length > n, before, { timeout: 30_000 });
    const after = await p.evaluate(() => ({ errors: window.mfnGraphs.errors, list: window.mfnGraphs.list.map((g) => g.name) }));
    check(after.errors.length === before && after.list.includes("karate"),
      `keyed server: with the key, the tab generates and lists graphs${after.errors.length > before ? `: ${after.errors.slice(before).join("; ")}` : ""}`);
    await p.click("#tab-sim");
    await p.fill("input[name=grid_size]", "32");
    await p.fill("input[name=steps]", "30");
    await p.fill("input[name=steps_per_frame]", "10");
    await p.click("#start");
    await p.waitForFunction(() => window.mfn.complete !== null || window.mfn.errors.length > 0, null, { timeout: 30_000 });
    const sim = await p.evaluate(() => ({ step: window.mfn.complete && window.mfn.complete.step, errors: window.mfn.errors }));
    check(sim.step === 30 && sim.errors.length === 0, `keyed server: the simulation tab authenticates with the same key${sim.errors.length ? `: ${sim.errors.join("; ")}` : ""}`);
    check(errors.length > 0 && errors.every((e) => e.includes("status of 401")),
      `keyed server: only the expected 401s are logged (${errors.length})`);
  } finally {
    await context.close();
    keyed.kill("SIGTERM");
    await new Promise((resolve) => {
      if (keyed.exitCode !== null) resolve();
      else keyed.on("exit", resolve);
    });
    rmSync(dir, { recursive: true, force: true });
  }
}

const httpPort = await freePort();
const grpcPort = await freePort();
const base = `http://127.0.0.1:${httpPort}`;
const dataDir = mkdtempSync(path.join(os.tmpdir(), "mfn-page-"));
const server = spawn(mfn, ["serve"], {
  env: {
    ...process.env,
    MFN_ENV: "dev",
    MFN_HOST: "127.0.0.1",
    MFN_HTTP_PORT: String(httpPort),
    MFN_GRPC_PORT: String(grpcPort),
    MFN_LOG_LEVEL: "warn",
    MFN_DATA_DIR: dataDir,
  },
  stdio: ["ignore", "inherit", "inherit"],
});
let browser;
let page;
let failed = false;
try {
  await waitHealthy(base, server);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    acceptDownloads: true,
  });
  page = await context.newPage();
  const pageErrors = [];
  watchConsole(page, pageErrors);

  await page.goto(`${base}/`);
  check((await page.title()).includes("MFN"), "the page loads");
  check((await page.textContent(".links")).includes(String(grpcPort)), "the page names the gRPC port");

  await page.fill("input[name=grid_size]", "96");
  await page.fill("input[name=steps]", "300");
  await page.fill("input[name=steps_per_frame]", "3");
  await page.fill("input[name=frame_interval_ms]", "30");
  await page.click("#start");

  const heatmapHash = () =>
    page.evaluate(() => {
      const c = document.getElementById("heatmap");
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let h = 0;
      for (let i = 0; i < d.length; i++) h = (h * 31 + d[i]) >>> 0;
      return { hash: h, step: window.mfn.fieldStep, w: c.width };
    });
  await page.waitForFunction(() => window.mfn.heatmapUpdates >= 2, null, { timeout: 30_000 });
  const first = await heatmapHash();
  check(first.w === 96, "the heatmap has the grid's resolution");
  await page.waitForFunction((s) => window.mfn.fieldStep >= s + 60, first.step, { timeout: 30_000 });
  const second = await heatmapHash();
  check(second.step > first.step && second.hash !== first.hash,
    `the heatmap changes between step ${first.step} and step ${second.step}`);

  await page.waitForFunction(() => window.mfn.complete !== null, null, { timeout: 60_000 });
  const run = await page.evaluate(() => ({
    states: window.mfn.states.length,
    features: window.mfn.features.length,
    last: window.mfn.complete,
    fd: window.mfn.features.map((f) => f.features.D_box),
    errors: window.mfn.errors,
  }));
  check(run.last.step === 300, "the run completes at step 300");
  check(run.states >= 10, `the charts have ${run.states} simulation frames`);
  check(run.features >= 10, `the fractal chart has ${run.features} feature frames`);
  check(run.errors.length === 0, "no run errors");
  // The chart canvases hold drawn lines (pixels in the series' colours).
  const inked = await page.evaluate(() =>
    ["chart-potential", "chart-fractal", "chart-growth"].map((id) => {
      const c = document.getElementById(id);
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 200 && (d[i] > 100 || d[i + 1] > 150)) n++;
      return n;
    }));
  check(inked.every((n) => n > 100), `the three charts are drawn (${inked.join(", ")} line pixels)`);
  const status = await page.textContent("#status");
  check(status.startsWith("Complete"), `status line: ${status}`);

  mkdirSync(outDir, { recursive: true });
  const [png] = await Promise.all([page.waitForEvent("download"), page.click("#download-png")]);
  const pngPath = path.join(outDir, "heatmap.png");
  await png.saveAs(pngPath);
  const sig = readFileSync(pngPath).subarray(0, 8).toString("hex");
  check(sig === "89504e470d0a1a0a", "Download PNG saves a PNG");
  const [json] = await Promise.all([page.waitForEvent("download"), page.click("#download-json")]);
  const jsonPath = path.join(outDir, "run.json");
  await json.saveAs(jsonPath);
  const saved = JSON.parse(readFileSync(jsonPath, "utf8"));
  check(saved.complete.step === 300 && saved.frames.length === run.states, "Download JSON saves the run");

  const shot = path.join(outDir, "page.png");
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  // A second, long run is stopped by the Stop button, and the server stops computing.
  await page.fill("input[name=steps]", "10000");
  await page.fill("input[name=frame_interval_ms]", "20");
  await page.click("#start");
  await page.waitForFunction(() => window.mfn.states.length >= 3, null, { timeout: 30_000 });
  await page.click("#stop");
  const stopped = await page.textContent("#status");
  check(stopped.startsWith("Stopped"), `Stop stops the run (${stopped})`);
  const deadline = Date.now() + 15_000;
  let active = -1;
  while (Date.now() < deadline) {
    const m = await (await fetch(`${base}/metrics`)).text();
    const line = m.split("\n").find((l) => l.startsWith("mfn_ws_subscriptions"));
    active = line ? Number(line.split(" ").pop()) : 0;
    if (active === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  check(active === 0, "the server ended the subscriptions");

  await graphsTab(context, pageErrors);
  await keyedServer(browser);
  await corsAndDocs(browser);
  check(pageErrors.length === 0, `no errors in the page console${pageErrors.length ? ": " + pageErrors.join("; ") : ""}`);
  writeFileSync(path.join(outDir, "result.txt"), "ok\n");
} catch (e) {
  failed = true;
  console.error(e.stack || String(e));
  if (page) {
    // What the page showed, for the log and a reviewer.
    const state = await page.evaluate(() => ({
      status: document.getElementById("status").textContent,
      graphStatus: document.getElementById("graph-status").textContent,
      graphs: window.mfnGraphs && {
        tools: window.mfnGraphs.tools && window.mfnGraphs.tools.length,
        list: window.mfnGraphs.list.map((g) => g.name),
        selected: window.mfnGraphs.selected,
        drawing: window.mfnGraphs.drawing,
        errors: window.mfnGraphs.errors,
      },
      error: document.getElementById("form-error").textContent,
      conn: document.getElementById("conn-text").textContent,
      frames: window.mfn && window.mfn.states.length,
      heatmapUpdates: window.mfn && window.mfn.heatmapUpdates,
      errors: window.mfn && window.mfn.errors,
    })).catch((err) => String(err));
    console.error("page state:", JSON.stringify(state));
    mkdirSync(outDir, { recursive: true });
    await page.screenshot({ path: path.join(outDir, "failure.png"), fullPage: true }).catch(() => {});
  }
} finally {
  if (browser) await browser.close();
  server.kill("SIGTERM");
  await new Promise((resolve) => {
    if (server.exitCode !== null) resolve();
    else server.on("exit", resolve);
  });
  rmSync(dataDir, { recursive: true, force: true });
}
if (failed) process.exit(1);
console.log("browser check passed");
