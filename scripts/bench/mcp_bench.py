#!/usr/bin/env python3
"""MCP door benchmarks (docs/BENCHMARKS.md "MCP door").

1. stdio: `get_info` on a 1,000-node graph, sequential round trips over `mfn mcp`'s
   pipes (raw JSON-RPC lines: the SDK's own overhead is not the server's), p50/p99;
2. HTTP with auth on (`Authorization: Bearer`), a legacy session on one keep-alive
   connection, the same call, p50/p99;
3. calls/s with 100 concurrent HTTP clients: h2load (HTTP/1.1, 100 connections, one
   request in flight each) sending a stateless 2026-07-28 `tools/call` of `get_info`;
4. RSS of `mfn serve` holding 1,000 stored graphs of 1,000 nodes each (after creating
   them, and after reading every one back).

    python scripts/bench/mcp_bench.py /path/to/release/mfn [--calls 2000]

Prints one JSON object; nothing here asserts a target.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "mcp-bench", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def summary(lat):
    return {"calls": len(lat), "p50_ms": round(pct(lat, 0.5) * 1e3, 3),
            "p99_ms": round(pct(lat, 0.99) * 1e3, 3), "max_ms": round(max(lat) * 1e3, 3)}


def hermetic(extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MFN_", "GRPC_"))}
    env.update({"MFN_LOG_LEVEL": "warn"}, **extra)
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def call_msg(i, tool, args, meta=None):
    params = {"name": tool, "arguments": args}
    if meta:
        params["_meta"] = meta
    return {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": params}


def bench_stdio(mfn, work, calls):
    p = subprocess.Popen([mfn, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=hermetic({"MFN_DATA_DIR": str(work / "stdio")}))

    def rpc(msg):
        p.stdin.write((json.dumps(msg) + "\n").encode())
        p.stdin.flush()
        if "id" not in msg:
            return None
        return json.loads(p.stdout.readline())

    rpc({"jsonrpc": "2.0", "id": 0, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "bench", "version": "1"}}})
    rpc({"jsonrpc": "2.0", "method": "notifications/initialized"})
    r = rpc(call_msg(1, "generate_graph", {"name": "g", "kind": "erdos_renyi", "n": 1000,
                                           "p": 0.01, "seed": 1, "overwrite": True}))
    assert not r["result"]["isError"], r
    lat = []
    for i in range(calls + 200):
        t = time.perf_counter()
        r = rpc(call_msg(10 + i, "get_info", {"graph": "g"}))
        dt = time.perf_counter() - t
        assert r["result"]["structuredContent"]["num_nodes"] == 1000, r
        if i >= 200:  # warm-up
            lat.append(dt)
    p.stdin.close()
    p.wait(timeout=10)
    return summary(lat)


class Serve:
    def __init__(self, mfn, work, key):
        self.grpc, self.http = free_port(), free_port()
        self.log = work / "serve.log"
        self.proc = subprocess.Popen(
            [mfn, "serve", "--host", "127.0.0.1", "--grpc-port", str(self.grpc),
             "--http-port", str(self.http)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"),
            env=hermetic({"MFN_AUTH_MODE": "key", "MFN_API_KEY": key,
                          "MFN_DATA_DIR": str(work / "http"), "MFN_COMPUTE_QUEUE": "1024",
                          "MFN_RATE_LIMIT_RPS": "1000000", "MFN_RATE_LIMIT_CONCURRENT": "1000"}))
        deadline = time.monotonic() + 30
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.http, timeout=2)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("mfn serve did not start")
            time.sleep(0.1)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Session:
    """A legacy-era session on one keep-alive HTTP/1.1 connection."""

    def __init__(self, port, key):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.h = {"authorization": f"Bearer {key}", "content-type": "application/json",
                  "accept": "application/json, text/event-stream"}
        self.sid = None
        r = self.post({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                       "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                  "clientInfo": {"name": "bench", "version": "1"}}})
        assert r["result"]["serverInfo"]["name"] == "mfn", r
        self.h["mcp-protocol-version"] = "2025-06-18"
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def post(self, msg):
        h = dict(self.h)
        if self.sid:
            h["mcp-session-id"] = self.sid
        self.c.request("POST", "/mcp", json.dumps(msg), h)
        resp = self.c.getresponse()
        body = resp.read().decode()
        self.sid = self.sid or resp.getheader("mcp-session-id")
        if "id" not in msg:
            return None
        data = [line[5:].strip() for line in body.splitlines() if line.startswith("data:")]
        data = [d for d in data if d]
        return json.loads(data[-1] if data else body)


def bench_http(port, key, calls):
    s = Session(port, key)
    r = s.post(call_msg(1, "generate_graph", {"name": "g", "kind": "erdos_renyi", "n": 1000,
                                              "p": 0.01, "seed": 1, "overwrite": True}))
    assert not r["result"]["isError"], r
    lat = []
    for i in range(calls + 200):
        t = time.perf_counter()
        r = s.post(call_msg(10 + i, "get_info", {"graph": "g"}))
        dt = time.perf_counter() - t
        assert r["result"]["structuredContent"]["num_nodes"] == 1000, r
        if i >= 200:
            lat.append(dt)
    return summary(lat)


def bench_h2load(port, key, work, seconds):
    if not shutil.which("h2load"):
        return {"skipped": "h2load not installed (apt-get install nghttp2-client)"}
    body = work / "get_info.json"
    body.write_text(json.dumps(call_msg(1, "get_info", {"graph": "g"}, META)))
    cmd = ["h2load", "--h1", "-t", "1", "-c", "100", "-m", "1", "-D", str(seconds),
           "--warm-up-time", "2", "-d", str(body),
           "-H", f"authorization: Bearer {key}", "-H", "content-type: application/json",
           "-H", "accept: application/json, text/event-stream",
           "-H", "mcp-protocol-version: 2026-07-28", "-H", "mcp-method: tools/call",
           "-H", "mcp-name: get_info", f"http://127.0.0.1:{port}/mcp"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    res = {"command": " ".join(cmd).replace(key, "$KEY").replace(str(body), "get_info.json")
           .replace(str(port), "$HTTP")}
    for line in out.splitlines():
        if line.startswith("finished in"):
            res["req_per_s"] = float(line.split(",")[1].split()[0])
        if line.startswith("status codes:"):
            res["status_codes"] = line.split(":", 1)[1].strip()
        if line.startswith("time for request:"):
            f = line.split()
            res["mean"] = f[5]
            res["max"] = f[4]
    return res


def bench_rss(srv, key, graphs):
    s = Session(srv.http, key)
    # The tenant's limit is 1,000 graphs (MFN_GRAPH_MAX_GRAPHS): make room.
    s.post(call_msg(99, "delete_graph", {"graph": "g"}))
    before = rss_mb(srv.proc.pid)
    t = time.perf_counter()
    for i in range(graphs):
        r = s.post(call_msg(100 + i, "generate_graph",
                            {"name": f"r{i}", "kind": "erdos_renyi", "n": 1000, "p": 0.004,
                             "seed": i, "overwrite": True}))
        assert not r["result"]["isError"], r
    created = time.perf_counter() - t
    after_create = rss_mb(srv.proc.pid)
    for i in range(graphs):
        r = s.post(call_msg(5000 + i, "get_info", {"graph": f"r{i}"}))
        assert r["result"]["structuredContent"]["num_nodes"] == 1000, r
    return {"graphs": graphs, "nodes_each": 1000, "rss_before_mb": before,
            "rss_after_create_mb": after_create, "rss_after_read_all_mb": rss_mb(srv.proc.pid),
            "create_s": round(created, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mfn")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--graphs", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=10)
    a = ap.parse_args()
    mfn = str(Path(a.mfn).resolve())
    work = Path(tempfile.mkdtemp(prefix="mfn-mcp-bench-"))
    key = "bench-" + uuid.uuid4().hex
    out = {}
    srv = None
    try:
        for name, run in (
            ("stdio_get_info", lambda: bench_stdio(mfn, work, a.calls)),
            ("http_get_info_auth", lambda: bench_http(srv.http, key, a.calls)),
            ("http_100_clients", lambda: bench_h2load(srv.http, key, work, a.seconds)),
            ("rss_1000_graphs", lambda: bench_rss(srv, key, a.graphs)),
        ):
            if name == "http_get_info_auth":
                srv = Serve(mfn, work, key)
            out[name] = run()
            print(name, json.dumps(out[name]), file=sys.stderr, flush=True)
    except Exception:
        if srv:
            print(srv.log.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    sys.exit(main())
