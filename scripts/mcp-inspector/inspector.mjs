// The MCP Inspector CLI (@modelcontextprotocol/inspector-cli, pinned in package.json)
// as a client we did not write: it lists the tools and calls them over stdio (`mfn mcp`,
// one process per call, graphs persisted in MFN_DATA_DIR between them) and over
// streamable HTTP (`mfn serve`, /mcp).
//
// inspector-cli 0.15.0 cannot send request headers, so the HTTP server it talks to runs
// with authentication off (dev); the authenticated HTTP path is covered by the Python
// SDK (scripts/interop/mcp_interop.py) and crates/mfn-server/tests/mcp.rs.
//
//   node scripts/mcp-inspector/inspector.mjs /path/to/mfn
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, "node_modules/@modelcontextprotocol/inspector-cli/build/index.js");
const mfn = process.argv[2];
if (!mfn) {
  console.error("usage: node inspector.mjs /path/to/mfn");
  process.exit(2);
}
const work = mkdtempSync(join(tmpdir(), "mfn-inspector-"));
let passed = 0;
let failed = 0;

function hermeticEnv(extra) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("MFN_") && !k.startsWith("GRPC_")),
  );
  return { ...env, MFN_LOG_LEVEL: "warn", ...extra };
}

async function inspector(target, args, env) {
  const { stdout } = await run("node", [cli, ...target, ...args], {
    env,
    timeout: 60_000,
    maxBuffer: 16 << 20,
  });
  return JSON.parse(stdout);
}

async function check(name, fn) {
  try {
    const note = await fn();
    passed += 1;
    console.log(`PASS  ${name}${note ? ` (${note})` : ""}`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL  ${name}: ${e.stack || e}`);
  }
}

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

async function suite(label, target, env) {
  await check(`${label}: tools/list`, async () => {
    const r = await inspector(target, ["--method", "tools/list"], env);
    const names = r.tools.map((t) => t.name);
    for (const n of ["create_graph", "get_info", "betweenness_centrality", "simulate_field"]) {
      expect(names.includes(n), `${n} not listed`);
    }
    expect(r.tools.every((t) => t.outputSchema?.type === "object"), "a tool lacks an outputSchema");
    return `${names.length} tools`;
  });
  await check(`${label}: tools/call generate_graph then get_info`, async () => {
    const g = await inspector(
      target,
      ["--method", "tools/call", "--tool-name", "generate_graph",
        "--tool-arg", "name=karate", "--tool-arg", "kind=karate_club", "--tool-arg", "overwrite=true"],
      env,
    );
    expect(!g.isError, JSON.stringify(g));
    const r = await inspector(
      target,
      ["--method", "tools/call", "--tool-name", "get_info", "--tool-arg", "graph=karate"],
      env,
    );
    expect(r.structuredContent?.num_nodes === 34, JSON.stringify(r));
    return `karate: ${r.structuredContent.num_nodes} nodes, ${r.structuredContent.num_edges} edges`;
  });
  await check(`${label}: tools/call nernst_potential (numbers from the schema)`, async () => {
    const r = await inspector(
      target,
      ["--method", "tools/call", "--tool-name", "nernst_potential", "--tool-arg", "z_valence=1",
        "--tool-arg", "concentration_out_m=0.005", "--tool-arg", "concentration_in_m=0.14"],
      env,
    );
    const mv = r.structuredContent?.potential_mV;
    expect(Math.abs(mv + 89.0) < 0.1, JSON.stringify(r));
    return `${mv.toFixed(3)} mV`;
  });
  await check(`${label}: resources/read graph://karate`, async () => {
    const r = await inspector(target, ["--method", "resources/read", "--uri", "graph://karate"], env);
    const doc = JSON.parse(r.contents[0].text);
    expect(doc.nodes.length === 34, `${doc.nodes.length} nodes`);
    return "node-link JSON, 34 nodes";
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function waitHealth(port, proc) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`mfn serve exited with ${proc.exitCode}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.ok) return;
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("/health did not answer");
}

let server;
try {
  await suite("stdio", [mfn, "mcp"], hermeticEnv({ MFN_DATA_DIR: join(work, "stdio") }));

  const [grpc, http] = [await freePort(), await freePort()];
  server = spawn(
    mfn,
    ["serve", "--host", "127.0.0.1", "--grpc-port", String(grpc), "--http-port", String(http)],
    { env: hermeticEnv({ MFN_ENV: "dev", MFN_DATA_DIR: join(work, "http") }), stdio: "ignore" },
  );
  await waitHealth(http, server);
  await suite("http", [`http://127.0.0.1:${http}/mcp`], hermeticEnv({}));
} finally {
  server?.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}
console.log(`inspector: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
