"""``mfn.Client`` and ``mfn.AsyncClient`` against real ``mfn serve`` processes (plain, API
key, HMAC-signed, TLS, mTLS): every result equals the in-process API bit for bit, streams
included; retries are observed against servers that refuse with RESOURCE_EXHAUSTED."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from concurrent import futures

import numpy as np
import pytest

grpc = pytest.importorskip("grpc")

import mfn  # noqa: E402
from mfn import _client  # noqa: E402

SIM = dict(seed=11, grid_size=24, steps=30, alpha=0.2, spike_probability=0.5)


def same_simulation(remote: mfn.SimulationResult, local: mfn.SimulationResult) -> None:
    for k in ("seed", "grid_size", "steps", "growth_events", "turing_activations",
              "clamping_events", "pot_min_mv", "pot_max_mv", "pot_mean_mv", "pot_std_mv",
              "fractal_dimension", "activator_mean", "inhibitor_mean", "alpha",
              "spike_probability"):
        assert getattr(remote, k) == getattr(local, k), k
    assert remote.field_sha256 == local.field_sha256  # the server's digest of its volts
    assert remote.field_mv.tobytes() == local.field_mv.tobytes()  # mV exactly
    assert np.array_equal(remote.field, local.field) or np.allclose(
        remote.field, local.field, rtol=2.3e-16, atol=0)


def same_frames(remote, local) -> None:
    assert len(remote) == len(local)
    for a, b in zip(remote, local):
        for k in ("step", "total_steps", "growth_events", "turing_activations",
                  "clamping_events", "pot_min_mv", "pot_max_mv", "pot_mean_mv", "pot_std_mv",
                  "fractal_dimension", "is_final"):
            assert getattr(a, k) == getattr(b, k), k
        if b.field is not None:
            assert a.field_mv.tobytes() == b.field_mv.tobytes()


def check_everything(c) -> None:
    """Every operation of `c` equals the in-process engine's."""
    local = mfn.Local()
    same_simulation(c.simulate(**SIM), local.simulate(**SIM))
    same_frames(list(c.stream(**SIM, steps_per_frame=7, include_field=True)),
                list(local.stream(**SIM, steps_per_frame=7, include_field=True)))
    assert c.features(**SIM, with_history=True) == local.features(**SIM, with_history=True)
    assert (list(c.stream_features(**SIM, steps_per_frame=10))
            == list(local.stream_features(**SIM, steps_per_frame=10)))
    assert c.nernst(2, 2e-3, 100e-9) == local.nernst(2, 2e-3, 100e-9)
    g = np.random.default_rng(4).normal(size=(12, 5))
    assert c.aggregate(g, num_clusters=3, seed=9).tobytes() == local.aggregate(
        g, num_clusters=3, seed=9).tobytes()
    field = local.simulate(seed=3).field
    assert c.fractal_dimension(field, threshold=float(np.median(field))) == \
        local.fractal_dimension(field, threshold=float(np.median(field)))
    ri, li = c.ifs(seed=5, points=2000, transforms=6), local.ifs(seed=5, points=2000,
                                                                  transforms=6)
    assert (ri.lyapunov, ri.num_points, ri.points_sha256) == (li.lyapunov, li.num_points,
                                                               li.points_sha256)


def test_plain_server_equals_in_process(plain_server):
    with mfn.Client(f"http://{plain_server.target}", http_url=plain_server.http_url) as c:
        assert c.health()["status"] == "SERVING"
        check_everything(c)
        v = dict(grid_size=16, steps=8)
        assert c.validate(**v) == mfn.validate(**v)
        # History over the wire: a frame per step.
        rh = c.simulate(seed=2, grid_size=8, steps=5, history=True)
        lh = mfn.simulate(seed=2, grid_size=8, steps=5, history=True)
        assert np.allclose(rh.history, lh.history, rtol=1e-15, atol=0)
        # Graph tools over REST: the same network as in-process.
        rn = c.extract_network(name="remote-net", seed=42)
        ln = mfn.extract_network(name="local-net", seed=42)
        assert rn.nodes == ln.nodes and rn.edges == ln.edges and rn.metrics == ln.metrics
        assert c.tool("get_info", graph="remote-net")["num_nodes"] == len(rn.nodes)
        # Errors: the server's message, field and code.
        with pytest.raises(mfn.InvalidArgument, match="grid_size") as e:
            c.simulate(grid_size=100_000)
        assert e.value.field == "grid_size" and e.value.request_id
        with pytest.raises(mfn.InvalidArgument):
            list(c.stream(steps=5, steps_per_frame=50))
        with pytest.raises(mfn.NotFound):
            c.tool("get_info", graph="no-such-graph")
        assert c.stats.retries == 0


def test_async_client_equals_in_process(plain_server):
    async def main():
        async with mfn.AsyncClient(f"http://{plain_server.target}",
                                   http_url=plain_server.http_url) as c:
            same_simulation(await c.simulate(**SIM), mfn.simulate(**SIM))
            frames = [f async for f in c.stream(**SIM, steps_per_frame=7, include_field=True)]
            same_frames(frames, list(mfn.stream(**SIM, steps_per_frame=7, include_field=True)))
            ff = [f async for f in c.stream_features(**SIM, steps_per_frame=10)]
            assert ff == list(mfn.stream_features(**SIM, steps_per_frame=10))
            assert await c.features(**SIM) == mfn.features(**SIM)
            assert await c.nernst(1, 5e-3, 140e-3) == mfn.nernst(1, 5e-3, 140e-3)
            with pytest.raises(mfn.InvalidArgument, match="alpha"):
                await c.simulate(alpha=0.5)
            net = await c.extract_network(name="async-net", seed=42, grid_size=32, steps=16)
            assert net.nodes == mfn.extract_network(name="async-l", seed=42, grid_size=32,
                                                    steps=16).nodes
            # Steering: start paused, change alpha at step 12, resume.
            async with c.steer(seed=5, grid_size=16, steps=30, steps_per_frame=10,
                               paused=True) as run:
                await run.set_parameters(alpha=0.22, apply_at_step=12)
                await run.resume()
                events = [e async for e in run]
            return events

    events = asyncio.run(main())
    final = [e for e in events if isinstance(e, mfn.Frame)][-1]
    local = [e for e in steered_locally(12) if isinstance(e, mfn.Frame)][-1]
    assert (final.step, final.pot_mean_mv, final.growth_events) == (
        local.step, local.pot_mean_mv, local.growth_events)


def steered_locally(at: int) -> list:
    with mfn.steer(seed=5, grid_size=16, steps=30, steps_per_frame=10, paused=True) as run:
        run.set_parameters(alpha=0.22, apply_at_step=at)
        run.resume()
        return list(run)


def test_sync_steering_equals_local(plain_server):
    with mfn.Client(plain_server.target) as c:
        with c.steer(seed=5, grid_size=16, steps=30, steps_per_frame=10, paused=True,
                     include_field=True) as run:
            run.set_parameters(alpha=0.22, apply_at_step=12)
            run.resume()
            events = list(run)
    acks = [e for e in events if isinstance(e, mfn.SteerAck)]
    frames = [e for e in events if isinstance(e, mfn.Frame)]
    applied = [a for a in acks if a.command == "set_parameters"]
    assert applied and applied[0].applied_at_step == 12 and applied[0].alpha == 0.22
    assert frames[-1].is_final and frames[-1].step == 30
    local = [e for e in steered_locally(12) if isinstance(e, mfn.Frame)]
    same_frames([f for f in frames if f.step in (10, 20, 30)],
                [f for f in local if f.step in (10, 20, 30)])
    # Stop mid-run: a final frame at the current step.
    with mfn.Client(plain_server.target) as c:
        with c.steer(seed=5, grid_size=16, steps=1000, steps_per_frame=1,
                     paused=True) as run:
            run.stop()
            events = list(run)
    last = [e for e in events if isinstance(e, mfn.Frame)][-1]
    assert last.is_final and last.step < 1000


def test_api_key_and_signed(make_server):
    key = secrets.token_hex(32)
    srv = make_server("key", {"MFN_AUTH_MODE": "key", "MFN_API_KEYS": key})
    with mfn.Client(srv.target, api_key=key) as c:
        same_simulation(c.simulate(**SIM), mfn.simulate(**SIM))
    with mfn.Client(srv.target, api_key="wrong-" + key, retry=_client.RetryPolicy(1)) as c:
        with pytest.raises(mfn.Unauthenticated):
            c.simulate(**SIM)
    with mfn.Client(srv.target) as c:
        with pytest.raises(mfn.Unauthenticated):
            c.nernst(1, 5e-3, 140e-3)
    signed = make_server("signed", {"MFN_AUTH_MODE": "signed", "MFN_API_KEYS": key})
    with mfn.Client(signed.target, api_key=key, auth="signed",
                    http_url=signed.http_url) as c:
        check_everything(c)
        net = c.extract_network(name="signed-net", seed=42, grid_size=32, steps=16)
        assert net.nodes
    with mfn.Client(signed.target, api_key=key, auth="key") as c:
        with pytest.raises(mfn.Unauthenticated):
            c.simulate(**SIM)


def test_signature_scheme_matches_the_rust_sdk():
    # crates/mfn-client/src/auth.rs pins the same vector.
    assert mfn.sign("test-key-0123456789", 1_700_000_000,
                    "3f2c1a9e-0000-4000-8000-000000000001",
                    "/mfn.v1.MFNSimulationService/RunSimulation") == \
        "85b69f689e5401f52de4cae816d228102a5bebd769f4dfdabf75990e6ad708b6"


def test_tls_and_mtls(make_server, pki):
    d = pki["dir"]
    tls = make_server("tls", {"MFN_TLS_CERT_PATH": str(d / "server.pem"),
                              "MFN_TLS_KEY_PATH": str(d / "server.key")}, tls=True)
    with mfn.Client(f"https://localhost:{tls.grpc_port}", root_certificates=pki["ca"]) as c:
        check_everything(c)
    with mfn.Client(f"https://localhost:{tls.grpc_port}",
                    root_certificates=str(d / "ca.pem")) as c:
        assert [f.step for f in c.stream(**SIM, steps_per_frame=15)] == [15, 30]
    with mfn.Client(f"http://127.0.0.1:{tls.grpc_port}",
                    retry=_client.RetryPolicy(max_attempts=1), deadline=5) as c:
        with pytest.raises(mfn.MfnError):
            c.nernst(1, 5e-3, 140e-3)
    mtls = make_server("mtls", {"MFN_TLS_CERT_PATH": str(d / "server.pem"),
                                "MFN_TLS_KEY_PATH": str(d / "server.key"),
                                "MFN_TLS_CLIENT_CA_PATH": str(d / "ca.pem")}, tls=True)
    with mfn.Client(f"https://localhost:{mtls.grpc_port}", root_certificates=pki["ca"],
                    certificate_chain=pki["client_cert"], private_key=pki["client_key"]) as c:
        same_simulation(c.simulate(**SIM), mfn.simulate(**SIM))
    with mfn.Client(f"https://localhost:{mtls.grpc_port}", root_certificates=pki["ca"],
                    retry=_client.RetryPolicy(max_attempts=1), deadline=5) as c:
        with pytest.raises(mfn.MfnError):
            c.simulate(**SIM)


# -- retries -------------------------------------------------------------------------

class Refusing:
    """A tiny grpcio server for MyceliumService/ComputeNernst that refuses the first
    `refusals` calls with RESOURCE_EXHAUSTED and a RetryInfo of `delay` seconds, then
    answers; it records every attempt's metadata."""

    def __init__(self, refusals: int, delay: float) -> None:
        from google.protobuf import duration_pb2
        from google.rpc import code_pb2, error_details_pb2, status_pb2
        from grpc_status import rpc_status

        from mfn.v1 import mfn_pb2, mfn_pb2_grpc

        self.seen: list[dict] = []
        outer = self

        class Svc(mfn_pb2_grpc.MyceliumServiceServicer):
            def ComputeNernst(self, request, context):
                outer.seen.append({**dict(context.invocation_metadata()),
                                   "at": time.monotonic(), "rid": request.request_id})
                if len(outer.seen) <= refusals:
                    info = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(
                        seconds=int(delay), nanos=int((delay % 1) * 1e9)))
                    detail = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED,
                                               message="compute queue is full")
                    detail.details.add().Pack(info)
                    context.abort_with_status(rpc_status.to_status(detail))
                return mfn_pb2.NernstResponse(request_id=request.request_id, potential_mV=1.5,
                                              rt_over_f_mV=2.5, temperature_K=310.0)

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        mfn_pb2_grpc.add_MyceliumServiceServicer_to_server(Svc(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def stop(self) -> None:
        self.server.stop(0)


def test_retries_honour_retry_info_with_fresh_signatures():
    srv = Refusing(refusals=2, delay=0.3)
    try:
        with mfn.Client(f"127.0.0.1:{srv.port}", api_key="k" * 16, auth="signed",
                        retry=_client.RetryPolicy(max_attempts=4, initial_backoff=0.01)) as c:
            t0 = time.monotonic()
            r = c.nernst(1, 5e-3, 140e-3)
            elapsed = time.monotonic() - t0
        assert r.potential_mv == 1.5
        assert (c.stats.attempts, c.stats.retries) == (3, 2)
        assert len(srv.seen) == 3
        # The server's hint is the minimum wait (0.3 s twice), not the 10 ms backoff.
        gaps = [b["at"] - a["at"] for a, b in zip(srv.seen, srv.seen[1:])]
        assert all(g >= 0.29 for g in gaps), gaps
        assert elapsed >= 0.58
        # Every attempt is new: request id, timestamp-bound signature, message id.
        rids = {s["x-request-id"] for s in srv.seen}
        assert len(rids) == 3 and {s["rid"] for s in srv.seen} == rids
        assert len({s["x-signature"] for s in srv.seen}) == 3
        for s in srv.seen:
            assert s["x-signature"] == mfn.sign("k" * 16, int(s["x-timestamp"]),
                                                s["x-request-id"],
                                                "/mfn.v1.MyceliumService/ComputeNernst")
        # Out of attempts: the last status is raised, with its code.
        srv2 = Refusing(refusals=10, delay=0.01)
        try:
            with mfn.Client(f"127.0.0.1:{srv2.port}",
                            retry=_client.RetryPolicy(max_attempts=3,
                                                      initial_backoff=0.01)) as c:
                with pytest.raises(mfn.ResourceExhausted, match="queue is full"):
                    c.nernst(1, 5e-3, 140e-3)
                assert c.stats.attempts == 3
        finally:
            srv2.stop()
    finally:
        srv.stop()


def test_async_retries():
    srv = Refusing(refusals=1, delay=0.2)

    async def main():
        async with mfn.AsyncClient(f"127.0.0.1:{srv.port}") as c:
            r = await c.nernst(1, 5e-3, 140e-3)
            return r, c.stats

    try:
        r, stats = asyncio.run(main())
        assert r.potential_mv == 1.5 and (stats.attempts, stats.retries) == (2, 1)
    finally:
        srv.stop()


def test_retries_against_a_saturated_mfn_serve(make_server):
    """One compute thread, no queue: concurrent calls are refused with
    RESOURCE_EXHAUSTED (and RetryInfo) and succeed on retry."""
    srv = make_server("busy", {"MFN_MAX_WORKERS": "1", "MFN_COMPUTE_QUEUE": "0",
                               "MFN_CACHE_ENTRIES": "0"})
    policy = _client.RetryPolicy(max_attempts=30, initial_backoff=0.05, max_backoff=0.5,
                                 budget=120)
    results, errors = [], []
    with mfn.Client(srv.target, retry=policy) as c:
        def call(i):
            try:
                results.append(c.simulate(seed=i, grid_size=128, steps=150))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert len(results) == 4
        assert c.stats.retries > 0, "no call was refused: the server was not saturated"
    for r in results:
        same_simulation(r, mfn.simulate(seed=r.seed, grid_size=128, steps=150))


def test_deadline_and_unreachable():
    port = __import__("conftest").free_ports(1)[0]
    with mfn.Client(f"127.0.0.1:{port}", deadline=0.5,
                    retry=_client.RetryPolicy(max_attempts=2, initial_backoff=0.01)) as c:
        with pytest.raises((mfn.Unavailable, mfn.DeadlineExceeded)):
            c.nernst(1, 5e-3, 140e-3)
        assert c.stats.attempts == 2
    with pytest.raises(mfn.InvalidArgument, match="api_key"):
        mfn.Client("127.0.0.1:1", auth="signed")
    with pytest.raises(mfn.InvalidArgument, match="http_url"):
        mfn.Client("127.0.0.1:1").tool("list_graphs")
