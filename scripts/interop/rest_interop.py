#!/usr/bin/env python3
"""REST interop: `mfn serve`'s HTTP port against clients we did not write.

- Python's urllib as the HTTP client: every REST operation returns the same numbers as
  the same request over gRPC (grpcio stubs), the reference's unversioned paths included;
- openapi-spec-validator checks /openapi.json against the OpenAPI 3.1 specification;
- curl runs the README's REST examples exactly as written;
- prometheus_client parses the mfn_http_* metrics after known traffic;
- Python's hmac signs a REST request per SERVICE.md in signed mode.

    python scripts/interop/rest_interop.py /path/to/mfn
"""
import hashlib
import hmac
import json
import os
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grpc_interop as gi  # noqa: E402 - shared server harness and reporting

expect, expect_eq, Failure = gi.expect, gi.expect_eq, gi.Failure
ROOT = gi.ROOT


def http(port, method, path, body=None, headers=None):
    """(status, headers, body bytes) of one request; error statuses are answers too."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("content-type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def post_json(port, path, body, headers=None):
    status, hdrs, raw = http(port, "POST", path, body, headers)
    expect_eq(f"POST {path} status ({raw[:200]!r})", status, 200)
    return json.loads(raw), hdrs


class Rest:
    def __init__(self, channel, server):
        self.port = server.http_port
        self.sim = gi.rpc.MFNSimulationServiceStub(channel)
        self.feat = gi.rpc.MFNFeaturesServiceStub(channel)
        self.val = gi.rpc.MFNValidationServiceStub(channel)
        self.myc = gi.rpc.MyceliumServiceStub(channel)

    def simulate_equals_grpc(self):
        params = {"grid_size": 24, "steps": 30, "seed": 7, "alpha": 0.15, "include_field": True}
        ref = self.sim.RunSimulation(gi.pb.RunSimulationRequest(**params), timeout=gi.RPC_TIMEOUT)
        for path in ("/v1/simulate", "/simulate"):
            doc, hdrs = post_json(self.port, path, params, {"x-request-id": "rest-1"})
            expect_eq("X-Request-ID echoed", hdrs.get("x-request-id"), "rest-1")
            expect_eq("request_id", doc["request_id"], "rest-1")
            for name in gi.SIM_STATS + ["activator_mean", "inhibitor_mean", "field_sha256"]:
                expect_eq(f"{path} {name}", doc[name], getattr(ref, name))
            expect_eq(f"{path} field_mV", doc["field_mV"], list(ref.field_mV))
        return f"field sha256 {ref.field_sha256[:12]}… equal on gRPC, /v1/simulate, /simulate"

    def features_equal_grpc(self):
        params = {"grid_size": 32, "steps": 40, "seed": 3}
        ref = self.feat.ExtractFeatures(gi.pb.ExtractFeaturesRequest(**params),
                                        timeout=gi.RPC_TIMEOUT)
        doc, _ = post_json(self.port, "/v1/features", params)
        expect_eq("feature names", list(doc["features"]), gi.FEATURES)
        for name in gi.FEATURES:
            expect_eq(name, doc["features"][name], getattr(ref.features, name))
        return f"D_box {doc['features']['D_box']}"

    def validate_equals_grpc(self):
        params = {"grid_size": 16, "steps": 16, "epochs": 1, "batch_size": 2}
        ref = self.val.ValidatePattern(gi.pb.ValidatePatternRequest(**params),
                                       timeout=gi.RPC_TIMEOUT)
        for path in ("/v1/validate", "/validate"):
            doc, _ = post_json(self.port, path, params)
            for name in ("loss_start", "loss_final", "loss_drop", "lyapunov_exponent",
                         "nernst_numeric_mV", "example_fractal_dim"):
                expect_eq(f"{path} {name}", doc[name], getattr(ref, name))
        return f"loss_final {doc['loss_final']}"

    def nernst_equals_grpc(self):
        ref = self.myc.ComputeNernst(gi.pb.NernstRequest(
            z_valence=1, concentration_out_M=0.005, concentration_in_M=0.14),
            timeout=gi.RPC_TIMEOUT)
        # The reference's names (molar) on its path, the gRPC names on /v1.
        a, _ = post_json(self.port, "/nernst", {"z_valence": 1, "concentration_out_molar": 0.005,
                                                "concentration_in_molar": 0.14})
        b, _ = post_json(self.port, "/v1/nernst", {"z_valence": 1, "concentration_out_M": 0.005,
                                                   "concentration_in_M": 0.14})
        expect_eq("/nernst potential_mV", a["potential_mV"], ref.potential_mV)
        expect_eq("/v1/nernst potential_mV", b["potential_mV"], ref.potential_mV)
        return f"{ref.potential_mV:.4f} mV"

    def aggregate_equals_grpc(self):
        grads = [[1.0, 2.0, 3.0]] * 3 + [[1.1, 2.1, 2.9], [100.0, -100.0, 50.0]]
        ref = self.myc.AggregateFederated(gi.pb.FederatedAggregateRequest(
            gradients=[gi.pb.Gradient(values=g) for g in grads], num_clusters=2),
            timeout=gi.RPC_TIMEOUT)
        for path in ("/v1/federated/aggregate", "/federated/aggregate"):
            doc, _ = post_json(self.port, path, {"gradients": grads, "num_clusters": 2})
            expect_eq(f"{path} aggregated_gradient", doc["aggregated_gradient"],
                      list(ref.aggregated_gradient))
        return f"{list(ref.aggregated_gradient)}"

    def errors_have_the_shape(self):
        status, hdrs, raw = http(self.port, "POST", "/v1/simulate", {"grid_size": 100000},
                                 {"x-request-id": "bad-1"})
        expect_eq("status", status, 400)
        doc = json.loads(raw)
        expect_eq("error_code", doc["error_code"], "INVALID_ARGUMENT")
        expect_eq("details field", doc["details"][0]["field"], "grid_size")
        expect_eq("request_id", doc["request_id"], "bad-1")
        expect("512" in doc["message"], f"limit not named: {doc['message']}")
        status, _, raw = http(self.port, "POST", "/v1/simulate", {"grdi_size": 16})
        expect_eq("typo status", status, 400)
        expect_eq("typo field", json.loads(raw)["details"][0]["field"], "grdi_size")
        status, _, raw = http(self.port, "GET", "/v1/nope")
        expect_eq("unknown route", (status, json.loads(raw)["error_code"]), (404, "NOT_FOUND"))
        status, _, _ = http(self.port, "POST", "/v1/simulate", b"x" * (11 * 1024 * 1024))
        expect_eq("11 MB body over the 10 MB limit", status, 413)
        return "400 / 404 / 413 with the JSON error body"

    def field_png(self):
        status, hdrs, raw = http(self.port, "GET", "/v1/simulate/field.png?grid_size=32&steps=20")
        expect_eq("status", status, 200)
        expect_eq("content-type", hdrs.get("content-type"), "image/png")
        expect(raw[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG")
        width, height = struct.unpack(">II", raw[16:24])
        expect(width > height >= 512, f"{width}x{height}")
        return f"{width}×{height} PNG, {len(raw)} bytes"

    def openapi_is_valid(self):
        from openapi_spec_validator import validate

        status, _, raw = http(self.port, "GET", "/openapi.json")
        expect_eq("status", status, 200)
        doc = json.loads(raw)
        validate(doc)
        for path in ("/v1/simulate", "/simulate", "/v1/features", "/v1/validate", "/validate",
                     "/v1/nernst", "/nernst", "/v1/federated/aggregate", "/federated/aggregate",
                     "/v1/simulate/field.png"):
            expect(path in doc["paths"], f"{path} not in /openapi.json")
        return f"OpenAPI {doc['openapi']}, {len(doc['paths'])} paths, valid"

    def http_metrics(self):
        from prometheus_client.parser import text_string_to_metric_families

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            text = r.read().decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        total = families.get("mfn_http_requests")
        expect(total is not None, "no mfn_http_requests_total")
        ok = [s for s in total.samples if s.labels.get("endpoint") == "/v1/simulate"
              and s.labels.get("status") == "200" and s.labels.get("method") == "POST"]
        expect(ok and ok[0].value >= 1, f"POST /v1/simulate 200 not counted: {total.samples[:4]}")
        bad = [s for s in total.samples if s.labels.get("status") == "400"]
        expect(bad, "400s not counted")
        expect_eq("duration type", families["mfn_http_request_duration_seconds"].type, "histogram")
        expect("mfn_http_requests_in_progress" in families, "no in-progress gauge")
        return f"/v1/simulate 200 × {ok[0].value:g}"


def readme_curl(port, workdir):
    """The README's REST curl examples, run as written (only the port substituted)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The REST API"):]
    section = section[:section.index("\n## ", 4)]
    calls = []
    for block in section.split("```console")[1:]:
        calls += [line[2:] for line in block.split("```")[0].splitlines()
                  if line.startswith("$ curl ")]
    expect(len(calls) >= 3, f"README shows {len(calls)} curl calls")
    for call in calls:
        argv = shlex.split(call.replace("127.0.0.1:8080", f"127.0.0.1:{port}"))
        res = subprocess.run(argv, capture_output=True, timeout=60, check=False, cwd=workdir)
        expect(res.returncode == 0, f"{call!r} failed: {res.stderr.decode()[-300:]}")
        if "-o " not in call:
            doc = json.loads(res.stdout)
            expect("error_code" not in doc, f"{call!r} answered an error: {doc}")
    return f"{len(calls)} curl calls"


def signed_request(port, key):
    """A signed REST call built by Python's hmac from SERVICE.md alone is accepted."""
    body = {"z_valence": 1, "concentration_out_M": 0.005, "concentration_in_M": 0.14}

    def headers(path, ts=None, rid=None):
        ts = str(int(time.time())) if ts is None else ts
        rid = rid or str(uuid.uuid4())
        sig = hmac.new(key.encode(), f"{ts}:{rid}:{path}".encode(), hashlib.sha256).hexdigest()
        return {"x-api-key": key, "x-timestamp": ts, "x-request-id": rid, "x-signature": sig}

    good = headers("/v1/nernst")
    status, _, raw = http(port, "POST", "/v1/nernst", body, good)
    expect_eq(f"signed call ({raw[:200]!r})", status, 200)
    status, _, _ = http(port, "POST", "/v1/nernst", body, good)
    expect_eq("replayed request id", status, 401)
    status, _, _ = http(port, "POST", "/v1/nernst", body, headers("/v1/simulate"))
    expect_eq("signature for another path", status, 401)
    status, _, _ = http(port, "POST", "/v1/nernst", body,
                        headers("/v1/nernst", ts=str(int(time.time()) - 301)))
    expect_eq("301 s old", status, 401)
    status, _, raw = http(port, "POST", "/v1/nernst", body)
    expect_eq("no key", (status, json.loads(raw)["error_code"]), (401, "UNAUTHENTICATED"))
    return "accepted; replay, wrong path, stale timestamp and no key → 401"


def main(argv):
    if len(argv) != 2:  # noqa: PLR2004
        print(f"usage: {argv[0]} /path/to/mfn", file=sys.stderr)
        return 2
    mfn = str(Path(argv[1]).resolve())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = gi.Report()
    t0 = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="mfn-rest-interop-")
    try:
        report.check("setup: generate stubs with grpcio-tools", gi.generate_stubs,
                     Path(workdir) / "stubs")
        if gi.pb is None:
            return gi.finish(report, t0, "rest")
        plain = gi.Server(mfn, workdir, "rest")

        def checks(ch):
            r = Rest(ch, plain)
            return [
                ("POST /v1/simulate and /simulate = RunSimulation", r.simulate_equals_grpc),
                ("POST /v1/features = ExtractFeatures", r.features_equal_grpc),
                ("POST /v1/validate and /validate = ValidatePattern", r.validate_equals_grpc),
                ("POST /v1/nernst and /nernst = ComputeNernst", r.nernst_equals_grpc),
                ("POST /v1/federated/aggregate and alias = AggregateFederated",
                 r.aggregate_equals_grpc),
                ("errors: JSON shape and statuses", r.errors_have_the_shape),
                ("GET /v1/simulate/field.png", r.field_png),
                ("/openapi.json valid (openapi-spec-validator)", r.openapi_is_valid),
                ("README curl examples work as written", lambda: readme_curl(plain.http_port, workdir)),
                ("mfn_http_* metrics (prometheus_client parser)", r.http_metrics),
            ]

        gi.run_phase(report, plain, lambda: gi.insecure(plain), checks)

        key = "rest-interop-" + uuid.uuid4().hex
        signed = gi.Server(mfn, workdir, "rest-signed",
                           env={"MFN_AUTH_MODE": "signed", "MFN_API_KEY": key})
        gi.run_phase(report, signed, lambda: gi.insecure(signed),
                     lambda ch: [("Python hmac signs a REST request",
                                  lambda: signed_request(signed.http_port, key))])
        return gi.finish(report, t0, "rest")
    finally:
        if os.environ.get("MFN_INTEROP_KEEP") == "1":
            print(f"(kept {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
