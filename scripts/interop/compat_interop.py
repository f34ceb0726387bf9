#!/usr/bin/env python3
"""Drop-in checks for clients of the Python MFN (issue 20), each with a real third-party
client written the way the reference's users write them:

- WebSocket: a Python `websockets` client following the reference flow message by
  message (`init` → `auth {api_key, timestamp, signature}` → `subscribe {stream_type,
  params}` → `simulation_state`… → `simulation_complete`, answering `heartbeat` with
  `pong`), in key mode (timestamps in ms and s, HMAC-SHA256 over str(int(timestamp)))
  and with auth off; a wrong signature and a stale timestamp get `auth_failed`.
- MCP, dev defaults: MFN_MCP_COMPAT_CLIENTS (50) concurrent clients of the official SDK
  against `mfn serve` with MFN_ENV=dev and nothing else set, each creating a graph and
  adding nodes 20 times: all succeed and every write is kept.
- MCP, throttled (staging, low limits): the SDK's MCPError says "rate limited" and the
  delay.
- REST with `requests`, as a FastAPI client: every error body has `detail`; a 401 has
  `WWW-Authenticate: API-Key header="X-API-Key"`; a 429 has `retry_after` and
  `Retry-After`.
- Prometheus: seed 000's names on /metrics after gRPC calls —
  grpc_request_duration_seconds{service,method}, grpc_requests_total{service,method,
  status}, grpc_rate_limit_exceeded_total{api_key} (hash prefix or anonymous), and
  grpc_server_* kept; the audit line has service, method, duration_ms, status,
  api_key_hash and metadata{seed, grid_size, steps}, and never the key.
- MCP, seed 003's names: graph_info, node_degree, all_pairs_shortest_path, health_check,
  resource_status, get_metrics, the create_social_network prompt.

    python scripts/interop/compat_interop.py /path/to/mfn
"""
import asyncio
import hashlib
import hmac
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
import urllib.request
from pathlib import Path

import grpc
import httpx2
import requests
import websockets
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grpc_interop as gi  # noqa: E402 - shared server harness, stubs and reporting

expect, expect_eq, Failure = gi.expect, gi.expect_eq, gi.Failure
CLIENTS = int(os.environ.get("MFN_MCP_COMPAT_CLIENTS", "50"))
WRITES = 20


class Report:
    def __init__(self):
        self.passed = self.failed = 0

    async def check(self, name, fn, *args):
        t0 = time.monotonic()
        try:
            note = await fn(*args)
        except Failure as e:
            self.record(name, False, str(e))
        except Exception as e:  # noqa: BLE001 - a bug in a check is a failure, not a crash
            self.record(name, False, f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
        else:
            self.record(name, True, f"{note or ''} [{time.monotonic() - t0:.1f} s]")

    def record(self, name, ok, msg=""):
        if ok:
            self.passed += 1
            print(f"PASS  {name}" + (f" ({msg})" if msg else ""), flush=True)
        else:
            self.failed += 1
            print(f"FAIL  {name}: {msg}", flush=True)


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


# --- WebSocket: the reference flow, message by message ---------------------------------

def reference_signature(api_key, timestamp):
    return hmac.new(api_key.encode(), str(int(timestamp)).encode(), hashlib.sha256).hexdigest()


async def ws_reference_flow(port, api_key, ts_unit, signed=True):
    """The reference's MFNWebSocketClient: each request is followed by one recv()."""
    url = f"ws://127.0.0.1:{port}/ws/simulation_live"
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "init", "payload": {
            "protocol_version": "1.0", "client_info": "python-client"}}))
        init = json.loads(await ws.recv())
        expect_eq("init answer", init["type"], "init")
        expect_eq("protocol_version", init["payload"].get("protocol_version"), "1.0")
        if api_key is not None:
            ts = int(time.time() * 1000) if ts_unit == "ms" else int(time.time())
            payload = {"api_key": api_key, "timestamp": ts}
            if signed:
                payload["signature"] = reference_signature(api_key, ts)
            await ws.send(json.dumps({"type": "auth", "payload": payload}))
            resp = json.loads(await ws.recv())
            expect_eq("auth answer", resp["type"], "auth_success")
        await ws.send(json.dumps({"type": "subscribe", "payload": {
            "stream_type": "simulation_live", "stream_id": "example-sim-1",
            "params": {"seed": 42, "grid_size": 32, "steps": 20,
                       "update_interval_steps": 5}}}))
        resp = json.loads(await ws.recv())
        expect_eq("subscribe answer", resp["type"], "subscribe_success")
        states = []
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
            t = msg.get("type")
            if t == "simulation_state":
                p = msg["payload"]
                state = p["state"]
                # The reference client's own print line.
                _ = f"[{p['step']:3d}/{p['total_steps']:3d}] pot_mean={state['pot_mean_mV']:.2f}mV, " \
                    f"active={state['active_nodes']}"
                expect(isinstance(p["metrics"]["growth_events"], float), "metrics.growth_events")
                expect(0 <= state["active_nodes"] <= 32 * 32, f"active_nodes {state['active_nodes']}")
                states.append(p["step"])
            elif t == "simulation_complete":
                m = msg["payload"]["final_metrics"]
                for k in ("growth_events", "pot_min_mV", "pot_max_mV", "pot_mean_mV",
                          "pot_std_mV", "fractal_dimension"):
                    expect(k in m, f"final_metrics lacks {k}: {m}")
                break
            elif t == "heartbeat":
                await ws.send(json.dumps({"type": "pong", "timestamp": int(time.time() * 1000)}))
            elif t == "error":
                raise Failure(f"error: {msg['payload']}")
        expect_eq("update_interval_steps=5 over 20 steps", states, [5, 10, 15])
        await ws.send(json.dumps({"type": "close"}))
    return f"init → auth → subscribe → states {states} → complete " \
           f"(final growth_events {m['growth_events']:.0f}, D {m['fractal_dimension']:.3f})"


async def ws_features_reference(port):
    url = f"ws://127.0.0.1:{port}/ws/stream_features"
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "init", "payload": {"protocol_version": "1.0"}}))
        expect_eq("init", json.loads(await ws.recv())["type"], "init")
        await ws.send(json.dumps({"type": "subscribe", "payload": {
            "stream_type": "stream_features", "stream_id": "example-features-1",
            "params": {"update_interval_ms": 10, "compression": False}}}))
        expect_eq("subscribe", json.loads(await ws.recv())["type"], "subscribe_success")
        seqs = []
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if msg["type"] == "feature_update":
                f = msg["payload"]["features"]
                _ = f"[{msg['payload']['sequence']:4d}] fractal_dim={f.get('fractal_dimension', 0):.3f}, " \
                    f"active_nodes={f.get('active_nodes', 0):.0f}"
                expect("fractal_dimension" in f and "active_nodes" in f, f"features {sorted(f)}")
                seqs.append(msg["payload"]["sequence"])
            elif msg["type"] == "simulation_complete":
                break
    expect(seqs == list(range(len(seqs))) and seqs, f"sequence {seqs}")
    return f"{len(seqs)} feature_update, sequence 0..{seqs[-1]}"


async def ws_auth_refusals(port, api_key):
    url = f"ws://127.0.0.1:{port}/ws/simulation_live"
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "init", "payload": {"protocol_version": "1.0"}}))
        await ws.recv()
        ts = int(time.time() * 1000)
        await ws.send(json.dumps({"type": "auth", "payload": {
            "api_key": api_key, "timestamp": ts, "signature": "0" * 64}}))
        bad = json.loads(await ws.recv())
        expect_eq("wrong signature", bad["type"], "auth_failed")
        old = ts - 6 * 60 * 1000
        await ws.send(json.dumps({"type": "auth", "payload": {
            "api_key": api_key, "timestamp": old, "signature": reference_signature(api_key, old)}}))
        stale = json.loads(await ws.recv())
        expect_eq("timestamp 6 min old", stale["type"], "auth_failed")
        await ws.send(json.dumps({"type": "subscribe", "payload": {
            "stream_type": "simulation_live", "stream_id": "x", "params": {}}}))
        refused = json.loads(await ws.recv())
        expect_eq("subscribe before auth", refused["type"], "subscribe_failed")
    return f"bad signature and stale timestamp → auth_failed ({bad['payload']['reason']}, " \
           f"{stale['payload']['reason']}); subscribe before auth refused"


# --- MCP ---------------------------------------------------------------------------------

def mcp_client(url, key=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(120.0))
    return Client(streamable_http_client(url, http_client=http), mode="legacy")


async def mcp_fifty_dev_clients(url):
    async def one(i):
        async with mcp_client(url) as c:
            name = f"agent_{i}"
            r = await c.call_tool("create_graph", {"name": name, "overwrite": True})
            expect(not r.is_error, f"create_graph: {r.content}")
            for k in range(WRITES):
                r = await c.call_tool("add_nodes", {"graph": name, "nodes": [f"n{k}"]})
                expect(not r.is_error, f"add_nodes: {r.content}")
            info = await c.call_tool("get_info", {"graph": name})
            return info.structured_content["num_nodes"]

    t0 = time.perf_counter()
    done = await asyncio.gather(*(one(i) for i in range(CLIENTS)), return_exceptions=True)
    wall = time.perf_counter() - t0
    failed = [d for d in done if isinstance(d, BaseException)]
    expect(not failed, f"{len(failed)} of {CLIENTS} failed: {failed[:3]!r}")
    expect(all(d == WRITES for d in done), f"node counts {done}")
    return f"{CLIENTS}/{CLIENTS} clients × (create + {WRITES} writes) ok, every write kept, " \
           f"{wall:.1f} s"


async def mcp_throttled_says_so(url):
    """Staging, 2 requests per second: the SDK must hand the agent our message."""
    async with mcp_client(url) as c:
        for _ in range(40):
            try:
                await c.call_tool("list_graphs", {})
            except MCPError as e:
                msg = e.error.message
                expect("rate limited" in msg, f"message {msg!r}")
                expect("retry after" in msg and " ms" in msg, f"no delay in {msg!r}")
                data = e.error.data or {}
                expect(data.get("retry_after", 0) >= 1, f"error.data {data}")
                return f"MCPError {e.error.code}: {msg!r}"
    raise Failure("40 calls at 2 rps were never throttled")


async def mcp_seed_003_names(url, key=None):
    async with mcp_client(url, key) as c:
        tools = {t.name for t in (await c.list_tools()).tools}
        for name in ("node_degree", "all_pairs_shortest_path", "health_check",
                     "resource_status", "get_metrics"):
            expect(name in tools, f"{name} not listed")
        g = "seed003"
        r = await c.call_tool("generate_graph", {"name": g, "kind": "path", "n": 5, "overwrite": True})
        expect(not r.is_error, f"generate_graph: {r.content}")
        info = await c.call_tool("graph_info", {"graph": g})
        expect(not info.is_error and info.structured_content["num_nodes"] == 5, f"graph_info {info.content}")
        deg = await c.call_tool("node_degree", {"graph": g, "node": 2})
        expect(not deg.is_error and deg.structured_content["degree"] == 2, f"node_degree {deg.content}")
        ap = await c.call_tool("all_pairs_shortest_path", {"graph": g})
        expect(not ap.is_error, f"all_pairs_shortest_path {ap.content}")
        paths = ap.structured_content["paths"]
        expect_eq("path 0 → 4", paths["0"]["4"], [0, 1, 2, 3, 4])
        h = await c.call_tool("health_check", {})
        expect(not h.is_error and h.structured_content["status"] == "healthy", f"health {h.content}")
        rs = await c.call_tool("resource_status", {})
        expect(not rs.is_error, f"resource_status {rs.content}")
        m = await c.call_tool("get_metrics", {})
        expect(not m.is_error, f"get_metrics {m.content}")
        mine = m.structured_content
        expect(mine["graphs"] >= 1 and "limits" in mine, f"get_metrics {mine}")
        prompts = [p.name for p in (await c.list_prompts()).prompts]
        expect("create_social_network" in prompts, f"prompts {prompts}")
        p = await c.get_prompt("create_social_network", {"name": "club", "size": "12"})
        text = p.messages[0].content.text
        expect("create_graph" in text or "generate_graph" in text, text[:200])
    return f"{len(tools)} tools incl. seed 003's; get_metrics {json.dumps(mine)[:120]}"


# --- REST (requests, as a FastAPI client) and Prometheus ---------------------------------

def rest_errors(port, key):
    base = f"http://127.0.0.1:{port}"
    r = requests.post(f"{base}/v1/nernst", json={"z_valence": 1}, timeout=10)
    expect_eq("no key", r.status_code, 401)
    expect_eq("WWW-Authenticate", r.headers.get("WWW-Authenticate"), 'API-Key header="X-API-Key"')
    expect(r.json()["detail"], f"401 body {r.text}")
    r = requests.post(f"{base}/v1/simulate", json={"grid_size": 100000},
                      headers={"X-API-Key": key}, timeout=10)
    expect_eq("bad grid_size", r.status_code, 400)
    body = r.json()
    expect("grid_size" in body["detail"] and body["detail"] == body["message"], f"400 body {body}")
    throttled = None
    for _ in range(50):
        r = requests.post(f"{base}/v1/nernst", headers={"X-API-Key": key}, timeout=10, json={
            "z_valence": 1, "concentration_out_M": 0.005, "concentration_in_M": 0.14})
        if r.status_code == 429:
            throttled = r
            break
    expect(throttled is not None, "50 requests at 3 rps were never throttled")
    body = throttled.json()
    expect(isinstance(body.get("retry_after"), int) and body["retry_after"] >= 1, f"429 body {body}")
    expect_eq("Retry-After = retry_after", throttled.headers.get("Retry-After"), str(body["retry_after"]))
    expect("rate limited" in body["detail"], f"429 detail {body['detail']}")
    return f"401 WWW-Authenticate, 400 detail, 429 retry_after={body['retry_after']} + header"


def samples(port, key):
    # Outside dev, /metrics needs a key too (MFN_METRICS_AUTH), as Prometheus sends it.
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                 headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read().decode()
    out = []
    for fam in text_string_to_metric_families(text):
        out.extend(fam.samples)
    return out


def prometheus_seed_000(server, key):
    channel = grpc.insecure_channel(server.target)
    sim = gi.rpc.MFNSimulationServiceStub(channel)
    md = [("x-api-key", key)]
    sim.RunSimulation(gi.pb.RunSimulationRequest(seed=42, grid_size=32, steps=8), metadata=md)
    try:
        sim.RunSimulation(gi.pb.RunSimulationRequest(seed=1, grid_size=100000), metadata=md)
    except grpc.RpcError:
        pass
    try:
        sim.RunSimulation(gi.pb.RunSimulationRequest(seed=1), metadata=[("x-api-key", "wrong")])
    except grpc.RpcError:
        pass
    channel.close()
    s = samples(server.http_port, key)

    def has(name, **labels):
        return [x for x in s if x.name == name
                and all(x.labels.get(k) == v for k, v in labels.items())]

    expect(has("grpc_requests_total", service="MFNSimulationService", method="RunSimulation",
               status="OK"), "grpc_requests_total{status=OK}")
    expect(has("grpc_requests_total", service="MFNSimulationService", method="RunSimulation",
               status="INVALID_ARGUMENT"), "grpc_requests_total{status=INVALID_ARGUMENT}")
    expect(has("grpc_request_duration_seconds_bucket", service="MFNSimulationService",
               method="RunSimulation"), "grpc_request_duration_seconds_bucket")
    expect(has("grpc_server_handled_total", grpc_method="RunSimulation", grpc_code="OK"),
           "grpc_server_handled_total kept")
    expect(has("grpc_server_handling_seconds_bucket", grpc_method="RunSimulation"),
           "grpc_server_handling_seconds kept")
    expect(has("grpc_auth_failures_total", reason="unknown_key"), "grpc_auth_failures_total{reason}")
    limited = has("grpc_rate_limit_exceeded_total")
    expect(limited, "grpc_rate_limit_exceeded_total")
    keys = {x.labels.get("api_key") for x in limited}
    expect(all(k == "anonymous" or k.startswith("sha256:") for k in keys), f"api_key labels {keys}")
    expect(key not in json.dumps([x.labels for x in s]), "a key in the metrics")
    return f"seed 000 names present; rate-limit api_key labels {sorted(keys)}"


def audit_line(server, key):
    lines = []
    for line in server.log_path.read_text(errors="replace").splitlines():
        try:
            v = json.loads(line)
        except ValueError:
            continue
        if v.get("target") == "mfn::audit":
            lines.append(v)
    expect(lines, "no audit line")
    run = [v for v in lines if v.get("method") == "RunSimulation" and v.get("status") == "OK"]
    expect(run, "no audit line for RunSimulation")
    a = run[0]
    for k in ("service", "method", "duration_ms", "status", "api_key_hash", "metadata"):
        expect(k in a, f"audit line lacks {k}: {a}")
    expect_eq("service", a["service"], "MFNSimulationService")
    meta = json.loads(a["metadata"]) if isinstance(a["metadata"], str) else a["metadata"]
    expect_eq("metadata", meta, {"seed": 42, "grid_size": 32, "steps": 8})
    expect(a["api_key_hash"].startswith("sha256:"), a["api_key_hash"])
    text = server.log_path.read_text(errors="replace")
    expect(key not in text, "the key is in the log")
    return f"{len(lines)} audit lines; {json.dumps({k: a[k] for k in ('service', 'method', 'status', 'api_key_hash', 'metadata')})}"


async def amain(mfn):
    report = Report()
    t0 = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="mfn-compat-interop-"))
    servers = []

    def start(name, env):
        s = gi.Server(mfn, workdir, name, env=env)
        servers.append(s)
        s.start()
        wait_http(s)
        return s

    try:
        gi.generate_stubs(workdir / "stubs")
        # Dev defaults: nothing but MFN_ENV=dev (the harness's) and an in-memory store.
        dev = start("dev", {"MFN_LOG_FORMAT": "json"})
        url = f"http://127.0.0.1:{dev.http_port}/mcp"
        await report.check(f"mcp: {CLIENTS} SDK clients on a dev server with default limits",
                           mcp_fifty_dev_clients, url)
        await report.check("ws: reference flow, auth off (no auth message)",
                           ws_reference_flow, dev.http_port, None, "ms")
        await report.check("ws: reference flow, auth off, auth message sent",
                           ws_reference_flow, dev.http_port, "any-key", "ms", False)
        await report.check("ws: reference feature stream", ws_features_reference, dev.http_port)
        await report.check("mcp: seed 003 tool names and prompt", mcp_seed_003_names, url)

        key = "compat-key-" + os.urandom(8).hex()
        keyed = start("key", {"MFN_ENV": "staging", "MFN_AUTH_MODE": "key", "MFN_API_KEYS": key,
                              "MFN_RATE_LIMIT_RPS": "3", "MFN_LOG_FORMAT": "json"})
        await report.check("ws: reference flow, key mode, signed, ms timestamp",
                           ws_reference_flow, keyed.http_port, key, "ms")
        await report.check("ws: reference flow, key mode, signed, s timestamp",
                           ws_reference_flow, keyed.http_port, key, "s")
        await report.check("ws: reference flow, key mode, unsigned",
                           ws_reference_flow, keyed.http_port, key, "ms", False)
        await report.check("ws: wrong signature, stale timestamp", ws_auth_refusals,
                           keyed.http_port, key)
        time.sleep(1.5)
        await report.check("rest: requests sees detail, WWW-Authenticate, retry_after",
                           asyncio.to_thread, rest_errors, keyed.http_port, key)
        time.sleep(1.5)
        await report.check("prometheus: seed 000 metric names", asyncio.to_thread,
                           prometheus_seed_000, keyed, key)
        await report.check("audit: seed 000 log fields", asyncio.to_thread, audit_line, keyed, key)

        # Staging refuses to start without a key, even with auth off.
        slow = start("throttled", {"MFN_ENV": "staging", "MFN_AUTH_MODE": "off", "MFN_API_KEYS": key,
                                   "MFN_ANON_RATE_LIMIT_RPS": "2"})
        await report.check("mcp: a throttled call says rate limited and when to retry",
                           mcp_throttled_says_so, f"http://127.0.0.1:{slow.http_port}/mcp")
    finally:
        for s in servers:
            s.stop()
            if report.failed:
                print(f"---- {s.name} log tail ----\n{s.tail()}\n----")
        if os.environ.get("MFN_INTEROP_KEEP") == "1":
            print(f"(kept {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"compat interop took {time.monotonic() - t0:.1f} s")
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
