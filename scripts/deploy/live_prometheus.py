"""The alerts and the dashboard against a real Prometheus scraping a real `mfn serve`.

1. `mfn serve` on loopback with API keys (one generous, one limited to 1 request/s),
   and a second, idle `mfn serve` with TLS on both ports (a self-signed certificate from
   `openssl`, valid for 10 days), which alone exports the certificate-expiry gauge;
2. Prometheus (Debian's) scrapes both /metrics every second (the second over HTTPS,
   trusting that certificate) and evaluates the PrometheusRule's groups (intervals
   shortened to 1 s);
3. load for ~20 s: `mfn bench` unary and stream calls over gRPC, REST simulations and a
   tool call, calls with a wrong key (auth failures) and a burst on the limited key
   (rate limiting);
4. through Prometheus' HTTP API: every recording and alert expression must parse and
   evaluate, every rule must report health "ok", every dashboard query must return at
   least one series, and every name in deploy/monitoring/metrics.txt must be exported
   by one of the two servers (or its pre-rename `today=` name, until issue 15 lands);
   the TLS server must be up, its gauge must equal the certificate's notAfter, and
   MfnTlsCertificateExpiringSoon (< 14 days) must be pending or firing for it while
   MfnTlsCertificateExpiryImminent (< 3 days) is not.

    python live_prometheus.py path/to/mfn
"""

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
import promql_names  # noqa: E402

LOAD_SECONDS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 10,
         context: ssl.SSLContext | None = None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_until(what: str, check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def self_signed(work: Path, days: int) -> tuple[Path, Path, float]:
    """A self-signed certificate for 127.0.0.1 valid for `days` days, its key, and its
    notAfter in Unix seconds."""
    cert, key = work / "tls.crt", work / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", str(days), "-subj", "/CN=mfn-live-prometheus",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    end = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", str(cert)],
                         check=True, capture_output=True, text=True).stdout.strip()
    return cert, key, float(ssl.cert_time_to_seconds(end.removeprefix("notAfter=")))


def main(mfn: str) -> int:
    work = Path(tempfile.mkdtemp(prefix="mfn-live-prom-"))
    procs: list[subprocess.Popen] = []
    try:
        return run(mfn, work, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


def run(mfn: str, work: Path, procs: list) -> int:
    grpc_port, http_port, prom_port = free_port(), free_port(), free_port()
    load_key, tiny_key = secrets.token_hex(32), secrets.token_hex(32)
    sha = lambda k: hashlib.sha256(k.encode()).hexdigest()  # noqa: E731
    (work / "keys.txt").write_text(
        f"{sha(load_key)} name=load scopes=compute rps=100000 concurrent=1000\n"
        f"{sha(tiny_key)} name=tiny scopes=compute rps=1 concurrent=1\n"
    )
    env = dict(
        os.environ,
        MFN_ENV="dev",
        MFN_AUTH_MODE="key",
        MFN_API_KEYS_FILE=str(work / "keys.txt"),
        MFN_GRPC_PORT=str(grpc_port),
        MFN_HTTP_PORT=str(http_port),
        MFN_DATA_DIR=":memory:",
        MFN_LOG_LEVEL="warn",
    )
    server_log = open(work / "server.log", "w")
    procs.append(subprocess.Popen([mfn, "serve"], env=env, stdout=server_log, stderr=server_log))
    base = f"http://127.0.0.1:{http_port}"
    wait_until("mfn /ready", lambda: http("GET", base + "/ready")[0] == 200)

    # The TLS replica: TLS on both ports with one certificate, 10 days before its end.
    cert, key, not_after = self_signed(work, 10)
    tls_grpc_port, tls_http_port = free_port(), free_port()
    tls_env = dict(
        os.environ,
        MFN_ENV="dev",
        MFN_GRPC_PORT=str(tls_grpc_port),
        MFN_HTTP_PORT=str(tls_http_port),
        MFN_DATA_DIR=":memory:",
        MFN_LOG_LEVEL="warn",
        MFN_TLS_CERT_PATH=str(cert),
        MFN_TLS_KEY_PATH=str(key),
    )
    tls_log = open(work / "server-tls.log", "w")
    procs.append(subprocess.Popen([mfn, "serve"], env=tls_env, stdout=tls_log, stderr=tls_log))
    tls_base = f"https://127.0.0.1:{tls_http_port}"
    trust = ssl.create_default_context(cafile=str(cert))
    wait_until("mfn (tls) /ready over https",
               lambda: http("GET", tls_base + "/ready", context=trust)[0] == 200)

    # Prometheus: the PrometheusRule's groups, evaluated every second.
    rule = yaml.safe_load(promql_names.RULE.read_text())
    groups = rule["spec"]["groups"]
    for g in groups:
        g["interval"] = "1s"
    (work / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    (work / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(work / "rules.yaml")],
                "scrape_configs": [
                    {
                        "job_name": "mfn-http",
                        "static_configs": [
                            {"targets": [f"127.0.0.1:{http_port}"], "labels": {"namespace": "loopback", "pod": "mfn-0"}}
                        ],
                    },
                    # Same job label as the rules select; a target label wins over job_name.
                    {
                        "job_name": "mfn-https",
                        "scheme": "https",
                        "tls_config": {"ca_file": str(cert)},
                        "static_configs": [
                            {"targets": [f"127.0.0.1:{tls_http_port}"],
                             "labels": {"job": "mfn-http", "namespace": "loopback", "pod": "mfn-tls"}}
                        ],
                    },
                ],
            }
        )
    )
    prom_log = open(work / "prometheus.log", "w")
    procs.append(
        subprocess.Popen(
            [
                "prometheus",
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--log.level=warn",
            ],
            stdout=prom_log,
            stderr=prom_log,
        )
    )
    prom = f"http://127.0.0.1:{prom_port}"
    wait_until("prometheus ready", lambda: http("GET", prom + "/-/ready")[0] == 200)

    # --- load --------------------------------------------------------------------
    remote = f"http://127.0.0.1:{grpc_port}"
    started = time.monotonic()
    bench = [
        subprocess.Popen(
            [mfn, "--remote", remote, "--api-key", load_key, "bench", "unary", "--rpc", "run-simulation",
             "--grid-size", "32", "--steps", "32", "--vary-seed", "--invalid-every", "25",
             "--connections", "2", "--in-flight", "2", "--duration", str(LOAD_SECONDS), "--warmup", "1"],
            stdout=subprocess.DEVNULL, stderr=open(work / "bench-unary.log", "w"),
        ),
        subprocess.Popen(
            [mfn, "--remote", remote, "--api-key", load_key, "bench", "stream", "--streams", "4",
             "--grid-size", "32", "--steps", "400", "--fps", "20",
             "--connections", "1", "--duration", str(LOAD_SECONDS), "--warmup", "1"],
            stdout=subprocess.DEVNULL, stderr=open(work / "bench-stream.log", "w"),
        ),
    ]
    stop = threading.Event()
    counts = {"rest": 0, "tool": 0, "bad_key": 0, "limited": 0}

    def rest_loop():
        seed = 0
        while not stop.is_set():
            seed += 1
            body = json.dumps({"seed": seed, "grid_size": 16, "steps": 16}).encode()
            http("POST", base + "/v1/simulate", body, {"content-type": "application/json", "x-api-key": load_key})
            counts["rest"] += 1
            code, _ = http("POST", base + "/v1/tools/nernst", json.dumps({}).encode(),
                           {"content-type": "application/json", "x-api-key": load_key})
            counts["tool"] += code < 500
            http("POST", base + "/v1/nernst", b"{}", {"content-type": "application/json", "x-api-key": "wrong-key"})
            counts["bad_key"] += 1
            code, _ = http("POST", base + "/v1/nernst", b"{}", {"content-type": "application/json", "x-api-key": tiny_key})
            counts["limited"] += code == 429
            time.sleep(0.05)

    threads = [threading.Thread(target=rest_loop, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    # gRPC calls with a wrong key, through the SDK.
    for _ in range(5):
        subprocess.run([mfn, "--remote", remote, "--api-key", "wrong-key", "nernst"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    for b in bench:
        b.wait(timeout=LOAD_SECONDS + 60)
    stop.set()
    for t in threads:
        t.join()
    time.sleep(3)  # two more scrapes and rule evaluations
    print(f"load: {time.monotonic() - started:.0f} s; REST {counts['rest']}, tool calls {counts['tool']}, "
          f"wrong-key {counts['bad_key']}, rate-limited {counts['limited']}; bench exit codes "
          f"{[b.returncode for b in bench]}")
    failures = []
    if any(b.returncode != 0 for b in bench):
        failures.append("mfn bench failed: see bench-*.log")
    if counts["limited"] == 0:
        failures.append("the limited key was never rate limited")

    # --- what the server exports ----------------------------------------------------
    _, text = http("GET", base + "/metrics")
    _, tls_text = http("GET", tls_base + "/metrics", context=trust)
    exported = {
        line.split("{")[0].split(" ")[0]
        for line in (text + tls_text).decode().splitlines()
        if line and not line.startswith("#")
    }
    exported.add("up")  # Prometheus' own
    rename = {}
    for name, today in promql_names.listed().items():
        if name in exported:
            if today:
                print(f"note: {name} is exported now; drop 'today={today}' from metrics.txt")
            continue
        if today and today in exported:
            rename[name] = today
            print(f"{name}: not exported yet, checking its current name {today}")
            continue
        failures.append(f"metrics.txt names {name}, which mfn serve does not export")

    def query(expr: str):
        for new, old in rename.items():
            expr = expr.replace(new, old)
        status, body = http("GET", prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        data = json.loads(body)
        return status, data

    # --- every rule expression parses and evaluates --------------------------------
    for r in promql_names.rules():
        name = r.get("alert") or r.get("record")
        status, data = query(r["expr"])
        if status != 200 or data.get("status") != "success":
            failures.append(f"rule {name}: {data.get('error', status)}")
        else:
            print(f"rule  ok  {name}: {len(data['data']['result'])} series now")
    _, body = http("GET", prom + "/api/v1/rules")
    for g in json.loads(body)["data"]["groups"]:
        for r in g["rules"]:
            if r.get("health") != "ok":
                failures.append(f"prometheus reports rule {r['name']}: {r.get('health')} {r.get('lastError', '')}")
    alerts = json.loads(http("GET", prom + "/api/v1/alerts")[1])["data"]["alerts"]
    firing = [a["labels"]["alertname"] for a in alerts]
    print(f"alerts pending or firing after the run: {sorted(set(firing)) or 'none'}")

    # --- the TLS replica, scraped over HTTPS ------------------------------------------
    tls_checks = 3
    _, data = query('up{job="mfn-http",pod="mfn-tls"}')
    up = [r["value"][1] for r in data["data"]["result"]]
    if up != ["1"]:
        failures.append(f"Prometheus did not scrape the TLS replica over https: up = {up}")
    _, data = query('mfn_tls_certificate_expiry_timestamp_seconds{pod="mfn-tls"}')
    gauge = [float(r["value"][1]) for r in data["data"]["result"]]
    print(f"tls: up {up}, expiry gauge {gauge}, certificate notAfter {not_after:.0f}")
    if gauge != [not_after]:
        failures.append(f"mfn_tls_certificate_expiry_timestamp_seconds is {gauge}, the certificate says {not_after}")
    on_tls = {a["labels"]["alertname"] for a in alerts if a["labels"].get("pod") == "mfn-tls"}
    if "MfnTlsCertificateExpiringSoon" not in on_tls or "MfnTlsCertificateExpiryImminent" in on_tls:
        failures.append(f"a certificate 10 days from its end should raise only MfnTlsCertificateExpiringSoon: {on_tls}")

    # --- every dashboard query returns series ---------------------------------------
    for title, expr in promql_names.panel_queries():
        status, data = query(expr)
        if status != 200 or data.get("status") != "success":
            failures.append(f"panel {title!r}: {data.get('error', status)}: {expr}")
            continue
        n = len(data["data"]["result"])
        print(f"panel {'ok ' if n else 'EMPTY'} {title}: {n} series")
        if n == 0:
            failures.append(f"panel {title!r} returned no series: {expr}")

    for f in failures:
        print(f"FAIL {f}")
    rules_n, panels_n = len(promql_names.rules()), len(promql_names.panel_queries())
    print(f"{rules_n + panels_n + tls_checks - len(failures)} passed, {len(failures)} failed")
    if failures:
        for log in ("server.log", "server-tls.log", "prometheus.log", "bench-unary.log", "bench-stream.log"):
            print(f"--- {log}\n{(work / log).read_text()[-3000:]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
