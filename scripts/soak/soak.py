#!/usr/bin/env python3
"""Soak and chaos: mixed load on every door of one `mfn serve`, kill -9 and restart of the
server with its graph store checked, SIGTERM under load (issue #17, docs/RELIABILITY.md).

    python scripts/soak/soak.py /path/to/mfn [--seconds 60] [--json out.json]

Timeline over --seconds (D):
  0        server A starts (durable graph store in a temporary dir); load starts on every
           door: REST simulate + graph tools, gRPC RunSimulation, the reference WebSocket
           flow, MCP tools/call over streamable HTTP, and a writer adding one edge per
           acknowledged request (rotating graphs every ROTATE edges, each checked before
           it is deleted).
  0.2 D    kill -9 of A, restart on the same ports and store (B); every acknowledged edge
           must be there.
  0.2 D .. warm-up of B (a quarter of its time), then its RSS is sampled every second.
  D        SIGTERM under load: B must exit 0 within its shutdown timeout; a third start
           checks the acknowledged edges again.

MFN_SOAK_KEEP=1 keeps the temporary dir (server logs, store) after a pass.

Output: one line per phase, then errors by door and status (intended ones — refused
connections while the server is down, UNAVAILABLE during a drain — apart), RSS growth
after warm-up, and lost acknowledged writes. Exit 1 unless: growth < --max-growth (10 %),
0 unintended errors, 0 lost writes, and both shutdowns clean.
"""
import argparse
import collections
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import grpc  # noqa: E402
import websockets.sync.client as ws_client  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))
import grpc_interop as gi  # noqa: E402 - stub generation

ROTATE = 500
SHUTDOWN_TIMEOUT_S = 10


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    def __init__(self, mfn, workdir):
        self.mfn, self.workdir = mfn, Path(workdir)
        self.grpc_port, self.http_port = free_ports(2)
        self.data = self.workdir / "data"
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MFN_", "GRPC_"))}
        env.update({
            "MFN_ENV": "dev", "MFN_DATA_DIR": str(self.data),
            # One client IP drives all the load: lift the anonymous per-IP limits.
            "MFN_ANON_RATE_LIMIT_RPS": "1000000", "MFN_ANON_RATE_LIMIT_CONCURRENT": "10000",
            "MFN_SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_TIMEOUT_S),
        })
        log = open(self.workdir / f"server-{self.starts}.log", "wb")
        self.proc = subprocess.Popen(
            [self.mfn, "serve", "--host", "127.0.0.1", "--grpc-port", str(self.grpc_port),
             "--http-port", str(self.http_port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"mfn serve exited with {self.proc.returncode}; see "
                                 f"{self.workdir}/server-{self.starts}.log")
            try:
                status, _ = http_call(self.http_port, "GET", "/ready", None, timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("mfn serve not ready after 60 s")

    def log_tail(self, n=30):
        lines = (self.workdir / f"server-{self.starts}.log").read_text(errors="replace")
        return "\n".join(lines.splitlines()[-n:])


def http_call(port, method, path, body, headers=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        h = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, (raw, dict(resp.getheaders()))
    finally:
        conn.close()


class Soak:
    def __init__(self, server, stubs):
        self.server = server
        self.pb, self.rpc = stubs
        self.stop = threading.Event()
        # "up" while the server should answer; "down" between kill -9 and restart;
        # "draining" after SIGTERM. Errors outside "up" are intended.
        self.phase = "up"
        self.lock = threading.Lock()
        self.outcomes = collections.Counter()  # (door, outcome, intended)
        self.acked = []  # (graph, u, v) acknowledged and not yet checked away
        self.lost = []
        self.checked = 0
        self.restarted = threading.Event()

    def record(self, door, outcome, ok=False):
        with self.lock:
            intended = ok or self.phase != "up"
            self.outcomes[(door, outcome, "ok" if ok else "intended" if intended else
                           "UNINTENDED")] += 1

    def loop(self, door, once):
        while not self.stop.is_set():
            try:
                once()
            except Exception as e:  # noqa: BLE001 - every failure is counted by kind
                self.record(door, type(e).__name__)
                time.sleep(0.05)

    # --- doors -----------------------------------------------------------------------
    def rest(self):
        status, _ = http_call(self.server.http_port, "POST", "/v1/simulate",
                              {"grid_size": 16, "steps": 10, "seed": 7})
        self.record("rest", str(status), status == 200)
        status, _ = http_call(self.server.http_port, "POST", "/v1/tools/pagerank",
                              {"graph": "karate"})
        self.record("rest", str(status), status in (200, 404))
        if status == 404:  # the graph is made on first use (and lost with :memory: only)
            http_call(self.server.http_port, "POST", "/v1/tools/generate_graph",
                      {"name": "karate", "kind": "karate_club", "overwrite": True})

    def grpc_once(self, channel):
        stub = self.rpc.MFNSimulationServiceStub(channel)
        try:
            stub.RunSimulation(self.pb.RunSimulationRequest(grid_size=16, steps=10), timeout=30)
            self.record("grpc", "OK", True)
        except grpc.RpcError as e:
            self.record("grpc", e.code().name)
            time.sleep(0.05)

    def grpc_loop(self):
        opts = [("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 500)]
        with grpc.insecure_channel(f"127.0.0.1:{self.server.grpc_port}", opts) as ch:
            while not self.stop.is_set():
                self.grpc_once(ch)

    def websocket(self):
        url = f"ws://127.0.0.1:{self.server.http_port}/ws/simulation_live"
        with ws_client.connect(url, open_timeout=10, close_timeout=2) as ws:
            ws.send(json.dumps({"type": "init", "payload": {"protocol_version": "1.0"}}))
            json.loads(ws.recv(timeout=10))
            ws.send(json.dumps({"type": "subscribe", "payload": {
                "stream_type": "simulation_live", "stream_id": "soak",
                "params": {"seed": 1, "grid_size": 16, "steps": 10,
                           "update_interval_steps": 5}}}))
            while True:
                msg = json.loads(ws.recv(timeout=30))
                if msg.get("type") == "heartbeat":
                    ws.send(json.dumps({"type": "pong", "timestamp": int(time.time() * 1000)}))
                elif msg.get("type") == "simulation_complete":
                    self.record("websocket", "complete", True)
                    return
                elif msg.get("type") == "error":
                    self.record("websocket", f"error:{msg['payload'].get('code')}")
                    return

    def mcp_loop(self):
        session = None
        rid = 0
        headers = {"Accept": "application/json, text/event-stream",
                   "MCP-Protocol-Version": "2025-06-18"}
        while not self.stop.is_set():
            try:
                if session is None:
                    status, (raw, h) = http_call(self.server.http_port, "POST", "/mcp", {
                        "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                            "protocolVersion": "2025-06-18", "capabilities": {},
                            "clientInfo": {"name": "soak", "version": "1"}}}, headers)
                    if status != 200:
                        self.record("mcp", f"initialize {status}")
                        time.sleep(0.05)
                        continue
                    session = {k.lower(): v for k, v in h.items()}.get("mcp-session-id")
                    http_call(self.server.http_port, "POST", "/mcp", {
                        "jsonrpc": "2.0", "method": "notifications/initialized"},
                        {**headers, "Mcp-Session-Id": session})
                rid += 1
                status, (raw, h) = http_call(self.server.http_port, "POST", "/mcp", {
                    "jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {
                        "name": "simulate_field",
                        "arguments": {"grid_size": 16, "steps": 10, "seed": 3}}},
                    {**headers, "Mcp-Session-Id": session})
                if status == 404 and self.restarted.is_set():
                    # Sessions live in the process: a new server does not know the old one.
                    self.record("mcp", "404 session of the killed server", True)
                    session = None
                    continue
                text = raw.decode()
                if "text/event-stream" in {k.lower(): v for k, v in h.items()}.get(
                        "content-type", ""):
                    # The last event with data (the stream opens with an empty one).
                    text = [line[5:] for line in text.splitlines()
                            if line.startswith("data:") and line[5:].strip()][-1]
                body = json.loads(text)
                ok = status == 200 and "result" in body and not body["result"].get("isError")
                self.record("mcp", str(status) if not ok or status != 200 else "200", ok)
                if not ok:
                    session = self.mcp_end(session, headers)
                    time.sleep(0.05)
            except Exception as e:  # noqa: BLE001
                self.record("mcp", type(e).__name__)
                session = self.mcp_end(session, headers)
                time.sleep(0.05)

    def mcp_end(self, session, headers):
        """Ends a session as a well-behaved client does (DELETE), so none are left over."""
        if session is not None:
            try:
                http_call(self.server.http_port, "DELETE", "/mcp", None,
                          {**headers, "Mcp-Session-Id": session}, timeout=5)
            except OSError:
                pass
        return None

    # --- acknowledged writes ---------------------------------------------------------
    def writer(self):
        gen, i = 0, 0
        graph = f"soak-{gen}"
        while not self.stop.is_set():
            try:
                status, _ = http_call(self.server.http_port, "POST", "/v1/tools/add_edges",
                                      {"graph": graph, "edges": [[i, i + 1]]})
                if status == 404:
                    status, _ = http_call(self.server.http_port, "POST",
                                          "/v1/tools/create_graph",
                                          {"name": graph, "overwrite": False})
                    self.record("writes", f"create {status}", status in (200, 409))
                    continue
                self.record("writes", str(status), status == 200)
                if status == 200:
                    with self.lock:
                        self.acked.append((graph, i, i + 1))
                    i += 1
                    if i % ROTATE == 0:
                        self.check_writes()
                        http_call(self.server.http_port, "POST", "/v1/tools/delete_graph",
                                  {"graph": graph})
                        with self.lock:
                            self.acked = [a for a in self.acked if a[0] != graph]
                        gen += 1
                        graph, i = f"soak-{gen}", 0
            except Exception as e:  # noqa: BLE001
                self.record("writes", type(e).__name__)
                time.sleep(0.05)

    def check_writes(self):
        """Every acknowledged edge is in the store (read back through export_graph)."""
        with self.lock:
            acked = list(self.acked)
        by_graph = collections.defaultdict(set)
        for g, u, v in acked:
            by_graph[g].add((u, v))
        for g, edges in by_graph.items():
            status, (raw, _) = http_call(self.server.http_port, "POST", "/v1/tools/export_graph",
                                         {"graph": g, "format": "json"}, timeout=60)
            if status != 200:
                self.lost.extend((g, u, v) for u, v in edges)
                continue
            doc = json.loads(json.loads(raw)["data"])
            have = {(e["source"], e["target"]) for e in doc.get("links", doc.get("edges", []))}
            have |= {(v, u) for u, v in have}
            missing = edges - have
            self.lost.extend((g, u, v) for u, v in missing)
            self.checked += len(edges)


def start_threads(soak):
    threads = [threading.Thread(target=soak.loop, args=("rest", soak.rest), daemon=True),
               threading.Thread(target=soak.grpc_loop, daemon=True),
               threading.Thread(target=soak.loop, args=("websocket", soak.websocket), daemon=True),
               threading.Thread(target=soak.mcp_loop, daemon=True),
               threading.Thread(target=soak.writer, daemon=True)]
    for t in threads:
        t.start()
    return threads


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mfn")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--max-growth", type=float, default=0.10)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="mfn-soak-")
    gi.generate_stubs(Path(workdir) / "stubs")
    server = Server(args.mfn, workdir)
    soak = Soak(server, (gi.pb, gi.rpc))
    failures = []
    t0 = time.monotonic()
    d = args.seconds

    def at(fraction):
        time.sleep(max(0.0, t0 + fraction * d - time.monotonic()))

    server.start()
    print(f"soak: {d:.0f} s; server A pid {server.proc.pid}, workdir {workdir}", flush=True)
    threads = start_threads(soak)

    at(0.2)
    with soak.lock:
        soak.phase = "down"
    server.proc.kill()
    server.proc.wait()
    acked_at_kill = len(soak.acked)
    server.start()
    soak.restarted.set()
    soak.check_writes()
    with soak.lock:
        soak.phase = "up"
    print(f"kill -9 at {time.monotonic() - t0:.1f} s; restarted (pid {server.proc.pid}); "
          f"{acked_at_kill} acknowledged edges since the last rotation, "
          f"{len(soak.lost)} lost", flush=True)

    # RSS of B: baseline after a quarter of its time, then one sample per second.
    warm = 0.2 + 0.8 / 4
    at(warm)
    samples = []
    while time.monotonic() < t0 + d:
        samples.append(rss_mb(server.proc.pid))
        if len(samples) % 30 == 1:
            print(f"  {time.monotonic() - t0:6.0f} s  RSS {samples[-1]:.1f} MiB", flush=True)
        time.sleep(1.0)
    base = sorted(samples[:3])[len(samples[:3]) // 2]
    end = sorted(samples[-3:])[len(samples[-3:]) // 2]
    growth = end / base - 1.0
    print(f"RSS of B after warm-up {base:.1f} MiB, at the end {end:.1f} MiB "
          f"({growth * 100:+.1f} %, max {max(samples):.1f} MiB, {len(samples)} samples)",
          flush=True)

    # SIGTERM under load.
    with soak.lock:
        soak.phase = "draining"
    t_term = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    try:
        rc = server.proc.wait(timeout=SHUTDOWN_TIMEOUT_S + 5)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        rc = "killed after the shutdown timeout"
    exit_s = time.monotonic() - t_term
    soak.stop.set()
    for t in threads:
        t.join(timeout=35)
    print(f"SIGTERM under load: exit {rc} after {exit_s:.2f} s", flush=True)
    if rc != 0:
        failures.append(f"SIGTERM: exit {rc}")
    server.start()
    soak.check_writes()
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(timeout=SHUTDOWN_TIMEOUT_S + 5)

    print("outcomes by door (count, door, outcome, kind):")
    unintended = 0
    for (door, outcome, kind), n in sorted(soak.outcomes.items()):
        print(f"  {n:7d}  {door:9s} {outcome:36s} {kind}")
        if kind == "UNINTENDED":
            unintended += n
    ok = sum(n for (_, _, kind), n in soak.outcomes.items() if kind == "ok")
    print(f"acknowledged writes checked: {soak.checked}, lost: {len(soak.lost)}"
          + (f" (first: {soak.lost[:5]})" if soak.lost else ""))
    if unintended:
        failures.append(f"{unintended} unintended errors")
    if soak.lost:
        failures.append(f"{len(soak.lost)} lost acknowledged writes")
    if growth >= args.max_growth:
        failures.append(f"RSS grew {growth * 100:.1f} % after warm-up "
                        f"(limit {args.max_growth * 100:.0f} %)")
    if ok == 0 or soak.checked == 0:
        failures.append("no successful calls or no writes checked: the load did not run")
    summary = {"seconds": d, "ok_calls": ok, "unintended_errors": unintended,
               "rss_mb_after_warmup": base, "rss_mb_end": end, "rss_growth": growth,
               "writes_checked": soak.checked, "writes_lost": len(soak.lost),
               "sigterm_exit_s": exit_s, "failures": failures}
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    print(f"soak: {ok} successful calls, {unintended} unintended errors, "
          f"RSS {growth * 100:+.1f} %, {len(soak.lost)} lost writes: "
          + ("PASS" if not failures else "FAIL: " + "; ".join(failures)))
    if failures:
        print(server.log_tail())
        print(f"server logs and store kept in {workdir}")
    elif not os.environ.get("MFN_SOAK_KEEP"):
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
