// The live page in a real browser: start `mfn serve` on free ports, open the page in
// headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core), start a run,
// check that the heatmap changes and the charts fill, download the PNG and the JSON, stop
// a second run, and save a screenshot for reviewers.
//
//   node scripts/browser/page.mjs path/to/mfn [output-dir]   # default output: target/browser
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync, readFileSync } from "node:fs";
import net from "node:net";
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

const httpPort = await freePort();
const grpcPort = await freePort();
const base = `http://127.0.0.1:${httpPort}`;
const server = spawn(mfn, ["serve"], {
  env: {
    ...process.env,
    MFN_ENV: "dev",
    MFN_HOST: "127.0.0.1",
    MFN_HTTP_PORT: String(httpPort),
    MFN_GRPC_PORT: String(grpcPort),
    MFN_LOG_LEVEL: "warn",
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
  page.on("pageerror", (e) => {
    pageErrors.push(String(e));
    console.error(`page error: ${e}`);
  });
  page.on("console", (m) => {
    if (m.type() === "error") {
      pageErrors.push(m.text());
      console.error(`console error: ${m.text()}`);
    }
  });

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
  check(pageErrors.length === 0, `no errors in the page console${pageErrors.length ? ": " + pageErrors.join("; ") : ""}`);
  writeFileSync(path.join(outDir, "result.txt"), "ok\n");
} catch (e) {
  failed = true;
  console.error(e.stack || String(e));
  if (page) {
    // What the page showed, for the log and a reviewer.
    const state = await page.evaluate(() => ({
      status: document.getElementById("status").textContent,
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
}
if (failed) process.exit(1);
console.log("browser check passed");
