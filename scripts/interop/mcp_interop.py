#!/usr/bin/env python3
"""MCP interop: `mfn mcp` (stdio) and `mfn serve`'s /mcp (streamable HTTP, auth on)
against the official Python SDK (`mcp` from PyPI), a client we did not write.

For each transport and each connect mode the SDK offers (`mode="legacy"`: the
initialize handshake with a session; `mode="auto"`: `server/discover`, which
negotiates the stateless 2026-07-28 revision):
- tools/list: every tool has an inputSchema and an outputSchema;
- every structuredContent we get is validated against the tool's outputSchema
  (jsonschema), and the text content is the same JSON;
- a graph is created and degree / betweenness / pagerank / shortest_path /
  connected_components are compared with NetworkX;
- extract_network then betweenness_centrality on its graph, when the registry lists it;
- graph:// resources are listed and read (node-link JSON, compared with NetworkX);
- both prompts are fetched; bad arguments give isError naming the field;
- progress notifications arrive for a long tool that was given a progress token.
Then, over HTTP: no key is 401, a foreign Origin is 403, another tenant's graph is not
found; and the load test: MFN_MCP_LOAD_CLIENTS (100) concurrent clients, each making
MFN_MCP_LOAD_CALLS (100) tool calls, mixed writes and reads on its own graph, all must
succeed and every graph's final node count must be exact.

    python scripts/interop/mcp_interop.py /path/to/mfn

MFN_MCP_TRANSCRIPT=FILE writes the JSON-RPC of a short stdio session there (the README's
transcript is one).
"""
import asyncio
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import httpx2
import jsonschema
import networkx as nx
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grpc_interop as gi  # noqa: E402 - shared server harness and reporting

expect, expect_eq, Failure = gi.expect, gi.expect_eq, gi.Failure
MODES = ("legacy", "auto")
LOAD_CLIENTS = int(os.environ.get("MFN_MCP_LOAD_CLIENTS", "100"))
LOAD_CALLS = int(os.environ.get("MFN_MCP_LOAD_CALLS", "100"))


class Report:
    def __init__(self):
        self.passed = self.failed = 0

    async def check(self, name, fn, *args):
        try:
            note = await fn(*args)
        except Failure as e:
            self.record(name, False, str(e))
        except Exception as e:  # noqa: BLE001 - a bug in a check is a failure, not a crash
            self.record(name, False, f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
        else:
            self.record(name, True, note or "")

    def record(self, name, ok, msg=""):
        if ok:
            self.passed += 1
            print(f"PASS  {name}" + (f" ({msg})" if msg else ""), flush=True)
        else:
            self.failed += 1
            print(f"FAIL  {name}: {msg}", flush=True)


def http_client(key=None, origin=None):
    headers = {}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if origin:
        headers["Origin"] = origin
    return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0))


def http_mcp(url, key, mode, origin=None):
    return Client(streamable_http_client(url, http_client=http_client(key, origin)), mode=mode)


def stdio_mcp(mfn, data_dir, mode):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MFN_", "GRPC_"))}
    env.update({"MFN_DATA_DIR": str(data_dir), "MFN_LOG_LEVEL": "warn"})
    return Client(StdioServerParameters(command=mfn, args=["mcp"], env=env), mode=mode)


class Checker:
    """The functional checks over one connected client."""

    def __init__(self, client, tag):
        self.c, self.tag = client, tag
        self.schemas = {}

    async def call(self, tool, args, ok=True):
        r = await self.c.call_tool(tool, args)
        if ok:
            text = r.content[0].text if r.content and r.content[0].type == "text" else None
            expect(not r.is_error, f"{tool}: isError: {text}")
            schema = self.schemas.get(tool)
            expect(schema is not None, f"{tool}: no outputSchema")
            jsonschema.validate(r.structured_content, schema)
            expect_eq(f"{tool} text content = structuredContent", json.loads(text),
                      r.structured_content)
            return r.structured_content
        return r

    async def tools(self):
        listed = (await self.c.list_tools()).tools
        for t in listed:
            expect(t.input_schema.get("type") == "object", f"{t.name}: inputSchema not object")
            expect(t.output_schema and t.output_schema.get("type") == "object",
                   f"{t.name}: no object outputSchema")
            expect(t.annotations is not None and t.annotations.read_only_hint is not None,
                   f"{t.name}: no readOnlyHint")
            jsonschema.validators.validator_for(t.output_schema).check_schema(t.output_schema)
            self.schemas[t.name] = t.output_schema
        for name in ("create_graph", "get_info", "betweenness_centrality", "simulate_field"):
            expect(name in self.schemas, f"{name} not listed")
        return f"{len(listed)} tools, protocol {self.c.protocol_version}"

    async def server_info(self):
        info = self.c.server_info
        expect(info is not None and info.name == "mfn", f"server info {info!r}")
        expect("extract_network" in (self.c.instructions or ""), "instructions do not chain tools")
        return f"{info.name} {info.version}"

    async def algorithms_match_networkx(self):
        g = f"karate_{self.tag}"
        await self.call("generate_graph", {"name": g, "kind": "karate_club", "overwrite": True})
        ref = nx.karate_club_graph()
        info = await self.call("get_info", {"graph": g})
        expect_eq("num_nodes", info["num_nodes"], ref.number_of_nodes())
        expect_eq("num_edges", info["num_edges"], ref.number_of_edges())
        for tool, want in (("degree_centrality", nx.degree_centrality(ref)),
                           ("betweenness_centrality", nx.betweenness_centrality(ref)),
                           ("pagerank", nx.pagerank(ref))):
            res = await self.call(tool, {"graph": g, "top_k": 1000})
            got = {v["node"]: v["value"] for v in res["values"]}
            expect_eq(f"{tool} nodes", sorted(got), sorted(want))
            for n, x in want.items():
                gi.expect_close(f"{tool}[{n}]", got[n], x, rel=1e-6, abs_=1e-9)
        sp = await self.call("shortest_path", {"graph": g, "source": 0, "target": 26})
        expect_eq("shortest_path length", sp["length"], nx.shortest_path_length(ref, 0, 26))
        expect(nx.is_simple_path(ref, sp["path"]), f"not a path of the graph: {sp['path']}")
        await self.call("add_edges", {"graph": g, "edges": [[100, 101]]})
        cc = await self.call("connected_components", {"graph": g})
        ref.add_edge(100, 101)
        expect_eq("components sizes", cc["sizes"],
                  sorted((len(c) for c in nx.connected_components(ref)), reverse=True))
        return "degree, betweenness, pagerank (rel 1e-6), shortest_path, components = NetworkX"

    async def resources(self):
        g = f"karate_{self.tag}"
        listed = (await self.c.list_resources()).resources
        uris = [str(r.uri) for r in listed]
        expect(f"graph://{g}" in uris, f"graph://{g} not in {uris}")
        templates = (await self.c.list_resource_templates()).resource_templates
        expect_eq("template", [t.uri_template for t in templates], ["graph://{name}"])
        read = await self.c.read_resource(f"graph://{g}")
        doc = json.loads(read.contents[0].text)
        back = nx.node_link_graph(doc, edges="edges" if "edges" in doc else "links")
        expect_eq("resource nodes", back.number_of_nodes(), 36)
        expect_eq("resource edges", back.number_of_edges(), 79)
        try:
            await self.c.read_resource("graph://no_such_graph")
        except MCPError as e:
            return f"{len(listed)} resource(s); missing graph → JSON-RPC {e.error.code}"
        raise Failure("reading a missing graph succeeded")

    async def prompts(self):
        listed = [p.name for p in (await self.c.list_prompts()).prompts]
        expect_eq("prompts", sorted(listed), ["analyze_graph", "analyze_mycelium", "create_social_network"])
        p = await self.c.get_prompt("analyze_graph", {"graph": f"karate_{self.tag}"})
        expect("betweenness_centrality" in p.messages[0].content.text, "analyze_graph text")
        p = await self.c.get_prompt("analyze_mycelium", {"seed": "7", "grid_size": "32"})
        text = p.messages[0].content.text
        expect("simulate_field" in text and "extract_network" in text, "analyze_mycelium text")
        return "analyze_graph, analyze_mycelium, create_social_network"

    async def errors(self):
        r = await self.call("simulate_field", {"grid_size": 100000}, ok=False)
        expect(r.is_error, "grid_size 100000 did not give isError")
        text = r.content[0].text
        expect("grid_size" in text, f"message does not name the field: {text}")
        r = await self.call("get_info", {"graph": "nope_" + self.tag}, ok=False)
        expect(r.is_error and "NOT_FOUND" in r.content[0].text, r.content[0].text)
        try:
            await self.c.call_tool("no_such_tool", {})
        except MCPError as e:
            expect_eq("unknown tool code", e.error.code, -32602)
        else:
            raise Failure("an unknown tool was not a protocol error")
        return f"isError: {text[:70]}…"

    async def mycelium_chain(self):
        sim = await self.call("simulate_field", {"seed": 7, "grid_size": 32, "steps": 24})
        feats = await self.call("extract_features", {"seed": 7, "grid_size": 32, "steps": 24})
        if "extract_network" not in self.schemas:
            print("      notice: extract_network is not in this build's registry; "
                  "skipped extract_network → betweenness_centrality", flush=True)
            return f"simulate_field + extract_features ok ({len(sim)} / {len(feats)} keys); " \
                   "extract_network not listed"
        name = f"myc_{self.tag}"
        net = await self.call("extract_network", {
            "name": name, "overwrite": True,
            "simulation": {"seed": 7, "grid_size": 32, "steps": 24}})
        info = await self.call("get_info", {"graph": name})
        expect_eq("stored network size", info["num_nodes"], net["metrics"]["num_nodes"])
        bc = await self.call("betweenness_centrality", {"graph": name, "top_k": 5})
        expect_eq("betweenness page", len(bc["values"]), min(5, info["num_nodes"]))
        return f"network {net.get('metrics', {}).get('num_nodes')} nodes; top junction " \
               f"{bc['values'][0] if bc['values'] else None}"

    async def progress(self):
        g = f"ba_{self.tag}"
        await self.call("generate_graph", {"name": g, "kind": "barabasi_albert", "n": 3000,
                                           "m": 3, "seed": 1, "overwrite": True})
        seen = []

        async def on_progress(progress, total, message):
            seen.append((progress, total))

        r = await self.c.call_tool("betweenness_centrality", {"graph": g, "top_k": 3},
                                   progress_callback=on_progress)
        expect(not r.is_error, r.content[0].text if r.content else "error")
        if not seen:
            # The door forwards whatever the registry reports (unit-tested in
            # mfn_server::mcp); a tool that never reports sends nothing.
            return "notice: no notification (betweenness_centrality reports no progress " \
                   "in this build); the call with a progressToken succeeded"
        done = [p for p, _ in seen]
        expect(done == sorted(done), f"progress not increasing: {done}")
        return f"{len(seen)} notifications, last {seen[-1]}"


async def functional(report, label, make_client):
    for mode in MODES:
        name = f"{label} mode={mode}"
        try:
            async with make_client(mode) as client:
                ch = Checker(client, f"{label}_{mode}".replace("-", "_"))
                await report.check(f"{name}: tools/list, schemas", ch.tools)
                await report.check(f"{name}: server info and instructions", ch.server_info)
                await report.check(f"{name}: algorithms = NetworkX", ch.algorithms_match_networkx)
                await report.check(f"{name}: graph:// resources", ch.resources)
                await report.check(f"{name}: prompts", ch.prompts)
                await report.check(f"{name}: isError for bad arguments", ch.errors)
                await report.check(f"{name}: simulate → extract_network → betweenness",
                                   ch.mycelium_chain)
                await report.check(f"{name}: progress notifications", ch.progress)
        except Exception as e:  # noqa: BLE001
            report.record(f"{name}: connect", False, f"{type(e).__name__}: {e}")


async def http_security(url, key, other_key):
    def raw(headers, body):
        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
        req.add_header("content-type", "application/json")
        req.add_header("accept", "application/json, text/event-stream")
        for k, v in headers.items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "interop", "version": "0"}}}
    expect_eq("no key", raw({}, init), 401)
    expect_eq("foreign Origin", raw({"x-api-key": key, "Origin": "https://evil.example"}, init),
              403)
    expect_eq("x-api-key", raw({"x-api-key": key}, init), 200)
    async with http_mcp(url, key, "legacy") as a:
        r = await a.call_tool("create_graph", {"name": "tenant_secret"})
        expect(not r.is_error, "create_graph")
    async with http_mcp(url, other_key, "auto") as b:
        r = await b.call_tool("get_info", {"graph": "tenant_secret"})
        expect(r.is_error and "NOT_FOUND" in r.content[0].text, "another tenant's graph visible")
        names = [str(x.uri) for x in (await b.list_resources()).resources]
        expect("graph://tenant_secret" not in names, "another tenant's resource listed")
    return "401 without key, 403 for a foreign Origin, another tenant's graph not found"


async def load_part(url, keys, mode, clients):
    """Clients `clients` (indices) of the load test, concurrently in this process:
    (calls made, failures, latencies)."""
    failures = []
    latencies = []

    async def one(i):
        graph = f"load_{i}"
        added = 0
        calls = 0
        async with http_mcp(url, keys[i % len(keys)], mode) as c:
            async def call(tool, args):
                nonlocal calls
                t = time.perf_counter()
                r = await c.call_tool(tool, args)
                latencies.append(time.perf_counter() - t)
                calls += 1
                if r.is_error:
                    failures.append(f"client {i} {tool}: {r.content[0].text}")
                return r.structured_content

            await call("create_graph", {"name": graph, "overwrite": True})
            while calls < LOAD_CALLS - 1:
                if calls % 2 == 1:
                    await call("add_nodes", {"graph": graph, "nodes": [added, f"n{added}"]})
                    added += 2
                else:
                    await call("get_info", {"graph": graph})
            info = await call("get_info", {"graph": graph})
            if info is None or info["num_nodes"] != added:
                failures.append(f"client {i}: {info and info['num_nodes']} nodes, want {added}")
            return calls

    done = await asyncio.gather(*(one(i) for i in clients), return_exceptions=True)
    failures += [f"client failed: {d!r}" for d in done if isinstance(d, BaseException)]
    return sum(d for d in done if isinstance(d, int)), failures, latencies


def load_process(url, keys, mode, clients):
    return asyncio.run(load_part(url, keys, mode, clients))


async def load(url, keys, mode):
    """LOAD_CLIENTS clients × LOAD_CALLS tool calls, each on its own graph (and its own
    key: its own tenant). The clients run at once, spread over one Python process per
    core: the SDK's per-call cost, not the server, bounds a single process."""
    procs = max(1, min(os.cpu_count() or 1, 4, LOAD_CLIENTS))
    parts = [list(range(LOAD_CLIENTS))[k::procs] for k in range(procs)]
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(procs) as pool:
        results = await asyncio.gather(*(
            loop.run_in_executor(pool, load_process, url, keys, mode, part) for part in parts))
    wall = time.perf_counter() - t0
    print(f"      load {mode}: {wall:.1f} s over {procs} client process(es)", flush=True)
    total = sum(r[0] for r in results)
    failures = [f for r in results for f in r[1]]
    latencies = sorted(x for r in results for x in r[2])
    expect(not failures, f"{len(failures)} failed call(s)/lost write(s): {failures[:5]}")
    expect_eq("calls made", total, LOAD_CLIENTS * LOAD_CALLS)
    p50 = latencies[len(latencies) // 2] * 1e3
    p99 = latencies[int(len(latencies) * 0.99)] * 1e3
    return (f"{LOAD_CLIENTS} clients × {LOAD_CALLS} calls ({mode}) = {total} calls, 100 % ok, "
            f"every node count exact; {wall:.1f} s, {total / wall:.0f} calls/s, "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")


def wait_http(server, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        if server.proc.poll() is not None:
            raise Failure(f"server exited with code {server.proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/health",
                                        timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise Failure("/health did not answer")
        time.sleep(0.2)


def transcript(mfn, data_dir, path):
    """A real stdio session, JSON-RPC lines in and out (for the README)."""
    msgs = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "readme", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "generate_graph",
                    "arguments": {"name": "karate", "kind": "karate_club"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
         "params": {"name": "betweenness_centrality",
                    "arguments": {"graph": "karate", "top_k": 3}}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
         "params": {"name": "get_info", "arguments": {"graph": "karate", "bogus": 1}}},
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MFN_", "GRPC_"))}
    env.update({"MFN_DATA_DIR": str(data_dir), "MFN_LOG_LEVEL": "warn"})
    stdin = "".join(json.dumps(m) + "\n" for m in msgs)
    p = subprocess.Popen([mfn, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, text=True)
    out = []
    for m in msgs:
        p.stdin.write(json.dumps(m) + "\n")
        p.stdin.flush()
        out.append("> " + json.dumps(m))
        if "id" in m:
            line = p.stdout.readline()
            out.append("< " + line.strip())
    p.stdin.close()
    p.wait(timeout=30)
    Path(path).write_text("\n".join(out) + "\n")
    expect(all(json.loads(l[2:]).get("jsonrpc") == "2.0" for l in out if l.startswith("< ")),
           "stdout carried something other than JSON-RPC")
    return f"{len(out)} lines → {path}"


async def amain(mfn):
    report = Report()
    t0 = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="mfn-mcp-interop-"))
    server = None
    try:
        data = workdir / "stdio-data"
        quick = os.environ.get("MFN_MCP_ONLY_LOAD") == "1"
        if not quick:
            await functional(report, "stdio", lambda mode: stdio_mcp(mfn, data, mode))
        if os.environ.get("MFN_MCP_TRANSCRIPT"):
            await report.check("stdio transcript",
                               lambda: asyncio.to_thread(transcript, mfn, workdir / "t-data",
                                                         os.environ["MFN_MCP_TRANSCRIPT"]))

        keys = [f"mcp-interop-{i:03d}-{uuid.uuid4().hex}" for i in range(max(LOAD_CLIENTS, 2))]
        server = gi.Server(mfn, workdir, "mcp-http", env={
            "MFN_AUTH_MODE": "key",
            "MFN_API_KEYS": ",".join(keys),
            "MFN_DATA_DIR": str(workdir / "http-data"),
            "MFN_LOG_LEVEL": "warn",
            # 100 agents at once: the compute gate fails fast beyond workers + queue.
            "MFN_COMPUTE_QUEUE": "1024",
        })
        server.start()
        wait_http(server)
        url = f"http://127.0.0.1:{server.http_port}/mcp"
        if not quick:
            await functional(report, "http", lambda mode: http_mcp(url, keys[0], mode))
        await report.check("http: security (401, 403, tenants)", http_security, url, keys[0],
                           keys[1])
        for mode in MODES:
            await report.check(f"http: load mode={mode}", load, url, keys, mode)
        log = server.log_path.read_text(errors="replace")
        leaked = [k for k in keys if k in log]
        report.record("http: no key in the server log", not leaked,
                      f"{len(leaked)} key(s) found" if leaked else f"{len(log)} bytes checked")
    finally:
        if server is not None:
            server.stop()
            if report.failed:
                print(f"---- server log tail ----\n{server.tail()}\n----")
        if os.environ.get("MFN_INTEROP_KEEP") == "1":
            print(f"(kept {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"mcp interop took {time.monotonic() - t0:.1f} s")
    print(f"interop: {report.passed} passed, {report.failed} failed", flush=True)
    return 1 if report.failed else 0


def main(argv):
    if len(argv) != 2:  # noqa: PLR2004
        print(f"usage: {argv[0]} /path/to/mfn", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return asyncio.run(amain(str(Path(argv[1]).resolve())))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
