"""``mfn.Client`` and ``mfn.AsyncClient``: the gRPC API of ``mfn serve`` from Python.

Both have the methods of :class:`mfn.Local` with the same arguments and results, plus
``health()`` and ``steer()``. Every call:

- carries a fresh UUID in ``x-request-id`` (also the message's ``request_id``);
- authenticates as configured: nothing, ``x-api-key``, or ``x-api-key`` with
  ``x-timestamp`` and ``x-signature`` = hex HMAC-SHA256(key, ``{timestamp}:{request_id}:{path}``)
  (SERVICE.md "Security"; the scheme of ``mfn-client``). Each attempt gets a new request
  id, timestamp and signature, so a retry is never taken for a replay;
- has a deadline per attempt (``deadline`` seconds; for streams it bounds the wait
  for the first frame only, unless ``stream_deadline`` bounds the whole stream);
- is retried on ``UNAVAILABLE``, ``DEADLINE_EXCEEDED`` and ``RESOURCE_EXHAUSTED`` only,
  with exponential backoff and full jitter, never sooner than the server's hint
  (``google.rpc.RetryInfo`` in ``grpc-status-details-bin``, else ``retry-after``), within
  an overall budget. Streams are retried until their first frame; a steered stream is
  never retried.

Failures raise the :mod:`mfn._errors` classes with the gRPC code, the message and the
field at fault (from a ``google.rpc.BadRequest`` detail). Graph tools go over REST
(``POST /v1/tools/{name}`` on ``http_url``) with the same credentials.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import queue
import random
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any, AsyncIterator, Iterator

import numpy as np

from ._errors import InvalidArgument, MfnError, error_for
from ._local import _extract_network, _sim_args, _f64_2d
from ._types import (
    FeatureFrame, FeaturesResult, FractalResult, Frame, IfsResult, NernstResult, Network,
    SimulationResult, SteerAck, ValidationReport, feature_frame_from, features_from,
    frame_from, simulation_from, validation_from,
)

RETRYABLE = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED")
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_SVC = "/mfn.v1."
PATHS = {
    "RunSimulation": _SVC + "MFNSimulationService/RunSimulation",
    "StreamSimulation": _SVC + "MFNSimulationService/StreamSimulation",
    "SteerSimulation": _SVC + "MFNSimulationService/SteerSimulation",
    "ExtractFeatures": _SVC + "MFNFeaturesService/ExtractFeatures",
    "StreamFeatures": _SVC + "MFNFeaturesService/StreamFeatures",
    "ValidatePattern": _SVC + "MFNValidationService/ValidatePattern",
    "ComputeNernst": _SVC + "MyceliumService/ComputeNernst",
    "AggregateFederated": _SVC + "MyceliumService/AggregateFederated",
    "ComputeFractalDimension": _SVC + "MyceliumService/ComputeFractalDimension",
    "GenerateIFS": _SVC + "MyceliumService/GenerateIFS",
    "HealthCheck": _SVC + "MyceliumService/HealthCheck",
}


def sign(key: str, timestamp: int, request_id: str, path: str) -> str:
    """``x-signature``: lowercase hex HMAC-SHA256 of ``{timestamp}:{request_id}:{path}``
    keyed with the API key (``path`` is the gRPC method path or the HTTP path)."""
    msg = f"{timestamp}:{request_id}:{path}".encode()
    return hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed call is tried again: at most ``max_attempts`` attempts in all;
    the wait before retry n is uniform in ``[0, min(max_backoff, initial_backoff ·
    multiplier^(n−1))]`` and at least the server's hint; no retry starts once
    ``budget`` seconds would be exceeded."""

    max_attempts: int = 4
    initial_backoff: float = 0.1
    multiplier: float = 2.0
    max_backoff: float = 5.0
    budget: float = 60.0

    def ceiling(self, retry: int) -> float:
        return min(self.max_backoff, self.initial_backoff * self.multiplier ** (retry - 1))


@dataclass
class ClientStats:
    """Attempts sent (first attempts and retries) and retries, over the client's life."""

    attempts: int = 0
    retries: int = 0


def _read(pem: bytes | str | None) -> bytes | None:
    if pem is None or isinstance(pem, bytes):
        return pem
    if pem.lstrip().startswith("-----BEGIN"):
        return pem.encode()
    with open(pem, "rb") as f:
        return f.read()


class _Config:
    """Validated settings shared by the sync and async clients."""

    def __init__(self, target: str, api_key: str | None, auth: str | None, deadline: float,
                 stream_deadline: float | None, retry: RetryPolicy | None,
                 root_certificates, certificate_chain, private_key, server_name: str | None,
                 http_url: str | None, compression: str | None, options) -> None:
        if target.startswith("https://"):
            self.tls, host = True, target[len("https://"):]
        elif target.startswith("http://"):
            self.tls, host = False, target[len("http://"):]
        else:
            self.tls, host = root_certificates is not None, target
        self.host = host.rstrip("/")
        if auth is None:
            auth = "key" if api_key else "off"
        if auth not in ("off", "key", "signed"):
            raise InvalidArgument(f"auth must be 'off', 'key' or 'signed', got {auth!r}",
                                  field="auth")
        if auth != "off" and not api_key:
            raise InvalidArgument(f"auth {auth!r} needs an api_key", field="api_key")
        if api_key is not None and (not api_key or not api_key.isascii()
                                    or not api_key.isprintable() or " " in api_key):
            raise InvalidArgument("api_key must be non-empty printable ascii", field="api_key")
        if not deadline > 0:
            raise InvalidArgument("deadline must be positive (seconds)", field="deadline")
        self.api_key, self.auth, self.deadline = api_key, auth, float(deadline)
        self.stream_deadline = stream_deadline
        self.retry = retry or RetryPolicy()
        if self.retry.max_attempts < 1:
            raise InvalidArgument("retry max_attempts must be at least 1", field="retry")
        self.root = _read(root_certificates)
        self.chain, self.key = _read(certificate_chain), _read(private_key)
        if (self.chain is None) != (self.key is None):
            raise InvalidArgument("a client certificate needs its private key and vice versa",
                                  field="certificate_chain")
        self.server_name = server_name
        self.http_url = http_url.rstrip("/") if http_url else None
        self.options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                        *(options or [])]
        if server_name:
            self.options.append(("grpc.ssl_target_name_override", server_name))
        self.compression = compression

    def credentials(self):
        import grpc

        return grpc.ssl_channel_credentials(root_certificates=self.root, private_key=self.key,
                                            certificate_chain=self.chain)

    def attempt(self, path: str) -> tuple[str, list[tuple[str, str]]]:
        """A fresh request id and the headers of one attempt."""
        rid = str(uuid.uuid4())
        md = [("x-request-id", rid)]
        if self.auth != "off":
            md.append(("x-api-key", self.api_key))
            if self.auth == "signed":
                ts = int(time.time())
                md += [("x-timestamp", str(ts)), ("x-signature", sign(self.api_key, ts, rid, path))]
        return rid, md

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cadata=self.root.decode() if self.root else None)
        if self.chain is not None:
            import os
            import tempfile

            # ssl loads a client identity from files only.
            with tempfile.TemporaryDirectory() as d:
                c, k = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
                with open(c, "wb") as f:
                    f.write(self.chain)
                with open(k, "wb") as f:
                    f.write(self.key)
                ctx.load_cert_chain(c, k)
        # REST checks the certificate against http_url's host (server_name is gRPC's).
        return ctx


def _grpc_compression(name: str | None):
    import grpc

    if name is None:
        return None
    return {"gzip": grpc.Compression.Gzip, "deflate": grpc.Compression.Deflate}[name]


def _status_error(e, request_id: str | None = None) -> MfnError:
    """An ``MfnError`` for a ``grpc.RpcError`` (code, message, BadRequest field)."""
    code = e.code().name if e.code() is not None else "UNKNOWN"
    field = None
    for d in _details(e):
        if d.DESCRIPTOR.full_name == "google.rpc.BadRequest" and d.field_violations:
            field = d.field_violations[0].field
    return error_for(code, e.details() or code.lower(), field, request_id)


def _details(e) -> list:
    """The unpacked ``google.rpc`` details of a status (BadRequest, RetryInfo)."""
    try:
        from google.rpc import error_details_pb2
        from grpc_status import rpc_status
    except ImportError:  # grpcio-status is optional: no details, plain codes
        return []
    try:
        status = rpc_status.from_call(e)
    except Exception:  # noqa: BLE001 - a malformed detail must not hide the error itself
        return []
    out = []
    for any_ in status.details if status is not None else []:
        for cls in (error_details_pb2.RetryInfo, error_details_pb2.BadRequest):
            if any_.Is(cls.DESCRIPTOR):
                msg = cls()
                any_.Unpack(msg)
                out.append(msg)
    return out


def retry_hint(e) -> float:
    """The server's wait hint in seconds: ``google.rpc.RetryInfo``, else ``retry-after``."""
    for d in _details(e):
        if d.DESCRIPTOR.full_name == "google.rpc.RetryInfo":
            return d.retry_delay.seconds + d.retry_delay.nanos / 1e9
    try:
        for k, v in e.trailing_metadata() or ():
            if k == "retry-after":
                return float(v)
    except Exception:  # noqa: BLE001
        pass
    return 0.0


def _meta(resp) -> dict:
    out = dict(resp.meta.meta) if resp.HasField("meta") else {}
    if getattr(resp, "request_id", ""):
        out["request_id"] = resp.request_id
    return out


def _square(values, n: int) -> np.ndarray | None:
    if not len(values):
        return None
    return np.array(values, dtype=np.float64).reshape(n, n)


class _Api:
    """Building requests and results: what the sync and async clients share."""

    def _pb(self):
        from .v1 import mfn_pb2

        return mfn_pb2

    def _sim_request(self, cls, sim: dict, **extra):
        return cls(**sim, **extra)

    def _simulation(self, resp, sim: dict) -> SimulationResult:
        n = resp.grid_size
        return simulation_from(resp, sim, field_mv=_square(resp.field_mV, n),
                               field_sha256=resp.field_sha256, meta=_meta(resp))

    def _frame(self, f, n: int) -> Frame:
        return frame_from(f, field_mv=_square(f.field_mV, n), meta=_meta(f))

    def _event(self, ev, n: int):
        if ev.HasField("ack"):
            a = ev.ack
            return SteerAck(a.command_index, a.command, a.applied_at_step, a.alpha,
                            a.spike_probability, a.paused)
        return self._frame(ev.frame, n)

    def _features_request(self, cls, sim, threshold_mv, adaptive_threshold, with_history,
                          **extra):
        args = dict(sim, adaptive_threshold=adaptive_threshold, with_history=with_history,
                    **extra)
        if threshold_mv is not None:
            args["threshold_mv"] = threshold_mv
        return cls(**args)

    @staticmethod
    def _check_spf(steps_per_frame: int, steps: int) -> None:
        from ._local import Local

        Local._check_spf(steps_per_frame, steps)

    def _aggregate_request(self, gradients, num_clusters, byzantine_fraction, sample_fraction,
                           seed):
        pb = self._pb()
        g = _f64_2d("gradients", gradients)
        return pb.FederatedAggregateRequest(
            gradients=[pb.Gradient(values=row) for row in g], num_clusters=num_clusters,
            byzantine_fraction=byzantine_fraction, sample_fraction=sample_fraction, seed=seed)

    def _fractal_request(self, values, threshold, num_scales, min_box):
        v = _f64_2d("values", values)
        if v.shape[0] != v.shape[1]:
            raise InvalidArgument(f"values must be a square array, got {v.shape[0]}×{v.shape[1]}",
                                  field="values")
        if not np.isfinite(v).all():
            i = int(np.flatnonzero(~np.isfinite(v.ravel()))[0])
            raise InvalidArgument(f"values has a non-finite value at index {i}", field="values")
        return self._pb().FractalRequest(values=v.ravel(), size=v.shape[0], threshold=threshold,
                                         num_scales=num_scales, min_box=min_box)

    def _steer_start(self, sim, steps_per_frame, include_field, paused):
        pb = self._pb()
        run = pb.StreamSimulationRequest(**sim, steps_per_frame=steps_per_frame,
                                         include_field=include_field)
        return pb.SteerCommand(start=pb.SteerStart(run=run, paused=paused))


class Client(_Api):
    """A synchronous client of ``mfn serve``'s gRPC API (and its REST tools).

    ``target``: ``"http://host:port"``, ``"https://host:port"`` or ``"host:port"``
    (TLS when ``root_certificates`` is given). ``api_key`` with ``auth="key"`` (the
    default when a key is given) or ``"signed"``. TLS: ``root_certificates`` (PEM bytes,
    text or a file path), ``certificate_chain``/``private_key`` for mTLS,
    ``server_name`` to check another name than the host. ``http_url`` is the server's
    HTTP address (``"http://host:8080"``) for :meth:`tool` and :meth:`extract_network`.
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, target: str, *, api_key: str | None = None, auth: str | None = None,
                 deadline: float = 30.0, stream_deadline: float | None = None,
                 retry: RetryPolicy | None = None, root_certificates=None,
                 certificate_chain=None, private_key=None, server_name: str | None = None,
                 http_url: str | None = None, compression: str | None = None,
                 options=None) -> None:
        import grpc

        from .v1 import mfn_pb2_grpc as rpc

        self._cfg = _Config(target, api_key, auth, deadline, stream_deadline, retry,
                            root_certificates, certificate_chain, private_key, server_name,
                            http_url, compression, options)
        c = self._cfg
        comp = _grpc_compression(compression)
        if c.tls:
            self._channel = grpc.secure_channel(c.host, c.credentials(), options=c.options,
                                                compression=comp)
        else:
            self._channel = grpc.insecure_channel(c.host, options=c.options, compression=comp)
        self._sim = rpc.MFNSimulationServiceStub(self._channel)
        self._feat = rpc.MFNFeaturesServiceStub(self._channel)
        self._val = rpc.MFNValidationServiceStub(self._channel)
        self._myc = rpc.MyceliumServiceStub(self._channel)
        self.stats = ClientStats()
        self._lock = threading.Lock()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def _count(self, retry: bool) -> None:
        with self._lock:
            self.stats.attempts += 1
            self.stats.retries += int(retry)

    # -- the attempt loop ----------------------------------------------------------

    def _call(self, name: str, method, message, *, stream: bool = False):
        import grpc

        c = self._cfg
        p = c.retry
        start = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            rid, md = c.attempt(PATHS[name])
            if hasattr(message, "request_id"):
                message.request_id = rid
            remaining = p.budget - (time.monotonic() - start)
            timeout = max(0.001, min(c.deadline, remaining))
            self._count(attempt > 1)
            try:
                if not stream:
                    return method(message, metadata=md, timeout=timeout)
                call = method(message, metadata=md, timeout=c.stream_deadline)
                first = _first(call, timeout)
                return first, call, rid
            except grpc.RpcError as e:
                err = e
            code = err.code().name if err.code() is not None else "UNKNOWN"
            if code not in RETRYABLE or attempt >= p.max_attempts:
                raise _status_error(err, rid) from None
            wait = max(random.uniform(0, p.ceiling(attempt)), retry_hint(err))
            if time.monotonic() - start + wait >= p.budget:
                raise _status_error(err, rid) from None
            time.sleep(wait)

    def _stream(self, name: str, method, message, convert) -> Iterator:
        first, call, rid = self._call(name, method, message, stream=True)

        def frames():
            import grpc

            try:
                if first is not None:
                    yield convert(first)
                for f in call:
                    yield convert(f)
            except grpc.RpcError as e:
                raise _status_error(e, rid) from None
            finally:
                call.cancel()

        return frames()

    # -- operations ------------------------------------------------------------------

    def health(self) -> dict:
        """``MyceliumService/HealthCheck``: ``{"status", "version", "uptime_seconds"}``."""
        r = self._call("HealthCheck", self._myc.HealthCheck, self._pb().HealthCheckRequest())
        return {"status": r.status, "version": r.version, "uptime_seconds": r.uptime_seconds}

    def simulate(self, seed: int = 42, grid_size: int = 64, steps: int = 64,
                 alpha: float = 0.18, spike_probability: float = 0.25,
                 turing_enabled: bool = True, turing_threshold: float = 0.75,
                 quantum_jitter: bool = False, jitter_var: float = 0.0005, *,
                 history: bool = False) -> SimulationResult:
        """``RunSimulation`` (see :meth:`mfn.Local.simulate`). With ``history`` the run is
        streamed a frame per step and the history assembled from the frames (mV/1000)."""
        sim = _sim_args(seed, grid_size, steps, alpha, spike_probability, turing_enabled,
                        turing_threshold, quantum_jitter, jitter_var)
        pb = self._pb()
        r = self._call("RunSimulation", self._sim.RunSimulation,
                       pb.RunSimulationRequest(**sim, include_field=True))
        out = self._simulation(r, sim)
        if history:
            frames = [f.field for f in self.stream(**sim, steps_per_frame=1, include_field=True)]
            out = _with_history(out, np.stack(frames))
        return out

    def stream(self, seed: int = 42, grid_size: int = 64, steps: int = 64,
               alpha: float = 0.18, spike_probability: float = 0.25,
               turing_enabled: bool = True, turing_threshold: float = 0.75,
               quantum_jitter: bool = False, jitter_var: float = 0.0005, *,
               steps_per_frame: int = 10, include_field: bool = False,
               frame_interval_ms: int = 0) -> Iterator[Frame]:
        """``StreamSimulation``: an iterator of :class:`mfn.Frame`; the last has
        ``is_final`` and equals :meth:`simulate`."""
        sim = _sim_args(seed, grid_size, steps, alpha, spike_probability, turing_enabled,
                        turing_threshold, quantum_jitter, jitter_var)
        req = self._pb().StreamSimulationRequest(**sim, steps_per_frame=steps_per_frame,
                                                 include_field=include_field,
                                                 frame_interval_ms=frame_interval_ms)
        return self._stream("StreamSimulation", self._sim.StreamSimulation, req,
                            lambda f: self._frame(f, grid_size))

    def steer(self, seed: int = 42, grid_size: int = 64, steps: int = 64,
              alpha: float = 0.18, spike_probability: float = 0.25,
              turing_enabled: bool = True, turing_threshold: float = 0.75,
              quantum_jitter: bool = False, jitter_var: float = 0.0005, *,
              steps_per_frame: int = 10, include_field: bool = False,
              paused: bool = False) -> "Steering":
        """``SteerSimulation``: start a run and steer it while its frames stream back.

        Returns a :class:`Steering`: call ``set_parameters(alpha=…, spike_probability=…,
        apply_at_step=…)``, ``pause()``, ``resume()``, ``stop()``, and iterate its events
        (:class:`mfn.Frame` and :class:`mfn.SteerAck`). Starting ``paused=True`` makes
        commands sent before ``resume()`` apply before the first step. Not retried.
        """
        sim = _sim_args(seed, grid_size, steps, alpha, spike_probability, turing_enabled,
                        turing_threshold, quantum_jitter, jitter_var)
        start = self._steer_start(sim, steps_per_frame, include_field, paused)
        rid, md = self._cfg.attempt(PATHS["SteerSimulation"])
        start.start.run.request_id = rid
        self._count(False)
        return Steering(self, self._sim.SteerSimulation, start, md, rid, grid_size)

    def features(self, seed: int = 42, grid_size: int = 64, steps: int = 64,
                 alpha: float = 0.18, spike_probability: float = 0.25,
                 turing_enabled: bool = True, turing_threshold: float = 0.75,
                 quantum_jitter: bool = False, jitter_var: float = 0.0005, *,
                 threshold_mv: float | None = None, adaptive_threshold: bool = False,
                 with_history: bool = False) -> FeaturesResult:
        """``ExtractFeatures`` (see :meth:`mfn.Local.features`)."""
        sim = _sim_args(seed, grid_size, steps, alpha, spike_probability, turing_enabled,
                        turing_threshold, quantum_jitter, jitter_var)
        req = self._features_request(self._pb().ExtractFeaturesRequest, sim, threshold_mv,
                                     adaptive_threshold, with_history)
        r = self._call("ExtractFeatures", self._feat.ExtractFeatures, req)
        return features_from(r, _meta(r))

    def stream_features(self, seed: int = 42, grid_size: int = 64, steps: int = 64,
                        alpha: float = 0.18, spike_probability: float = 0.25,
                        turing_enabled: bool = True, turing_threshold: float = 0.75,
                        quantum_jitter: bool = False, jitter_var: float = 0.0005, *,
                        threshold_mv: float | None = None, adaptive_threshold: bool = False,
                        with_history: bool = False,
                        steps_per_frame: int = 10) -> Iterator[FeatureFrame]:
        """``StreamFeatures``: an iterator of :class:`mfn.FeatureFrame`."""
        sim = _sim_args(seed, grid_size, steps, alpha, spike_probability, turing_enabled,
                        turing_threshold, quantum_jitter, jitter_var)
        req = self._features_request(self._pb().StreamFeaturesRequest, sim, threshold_mv,
                                     adaptive_threshold, with_history,
                                     steps_per_frame=steps_per_frame)
        return self._stream("StreamFeatures", self._feat.StreamFeatures, req,
                            lambda f: feature_frame_from(f, _meta(f)))

    def validate(self, seed: int = 42, epochs: int = 1, batch_size: int = 4,
                 grid_size: int = 64, steps: int = 64, turing_enabled: bool = True,
                 quantum_jitter: bool = False) -> ValidationReport:
        """``ValidatePattern`` (see :meth:`mfn.Local.validate`)."""
        req = self._pb().ValidatePatternRequest(
            seed=seed, epochs=epochs, batch_size=batch_size, grid_size=grid_size, steps=steps,
            turing_enabled=turing_enabled, quantum_jitter=quantum_jitter)
        r = self._call("ValidatePattern", self._val.ValidatePattern, req)
        return validation_from(r, _meta(r))

    def nernst(self, z_valence: int, concentration_out_molar: float,
               concentration_in_molar: float, temperature_k: float = 310.0) -> NernstResult:
        """``ComputeNernst``: the potential in mV."""
        req = self._pb().NernstRequest(z_valence=z_valence,
                                       concentration_out_M=concentration_out_molar,
                                       concentration_in_M=concentration_in_molar,
                                       temperature_K=temperature_k)
        r = self._call("ComputeNernst", self._myc.ComputeNernst, req)
        return NernstResult(r.potential_mV, r.rt_over_f_mV, r.temperature_K, _meta(r))

    def aggregate(self, gradients, num_clusters: int = 10, byzantine_fraction: float = 0.2,
                  sample_fraction: float = 0.1, seed: int = 42) -> np.ndarray:
        """``AggregateFederated``: the robust aggregate of the rows of ``gradients``."""
        req = self._aggregate_request(gradients, num_clusters, byzantine_fraction,
                                      sample_fraction, seed)
        r = self._call("AggregateFederated", self._myc.AggregateFederated, req)
        return np.array(r.aggregated_gradient, dtype=np.float64)

    def fractal_dimension(self, values, threshold: float = -0.060, num_scales: int = 5,
                          min_box: int = 2) -> FractalResult:
        """``ComputeFractalDimension`` of a square array."""
        req = self._fractal_request(values, threshold, num_scales, min_box)
        r = self._call("ComputeFractalDimension", self._myc.ComputeFractalDimension, req)
        return FractalResult(r.fractal_dimension, r.r_squared, tuple(r.box_sizes),
                             tuple(r.counts), _meta(r))

    def ifs(self, seed: int = 42, points: int = 10000, transforms: int = 4) -> IfsResult:
        """``GenerateIFS``: the Lyapunov exponent and the points' digest (the points
        themselves stay on the server)."""
        req = self._pb().IfsRequest(seed=seed, points=points, transforms=transforms)
        r = self._call("GenerateIFS", self._myc.GenerateIFS, req)
        return IfsResult(lyapunov=r.lyapunov, num_points=r.num_points, meta=_meta(r),
                         _points_sha256=r.points_sha256)

    # -- tools over REST -----------------------------------------------------------

    def tool(self, name: str, /, **args: Any) -> dict:
        """``POST /v1/tools/{name}`` on ``http_url``: a tool of the server's registry
        with keyword arguments, signed and retried like every call."""
        return _rest_tool(self._cfg, self._count, name, args, time.sleep)

    def extract_network(self, field=None, *, name: str = "network", seed: int = 42,
                        grid_size: int = 64, steps: int = 64, alpha: float = 0.18,
                        spike_probability: float = 0.25, turing_enabled: bool = True,
                        turing_threshold: float = 0.75, quantum_jitter: bool = False,
                        jitter_var: float = 0.0005, options: dict | None = None,
                        overwrite: bool = True) -> Network:
        """The mycelial network of a field on the server (see
        :meth:`mfn.Local.extract_network`), over REST tools."""
        return _extract_network(self.tool, field, name, _sim_args(
            seed, grid_size, steps, alpha, spike_probability, turing_enabled,
            turing_threshold, quantum_jitter, jitter_var), options, overwrite)


def _with_history(r: SimulationResult, history: np.ndarray) -> SimulationResult:
    from dataclasses import replace

    return replace(r, history=history)


def _first(call, timeout: float):
    """The first frame of a stream, waiting at most ``timeout`` seconds (None at the end)."""
    import grpc

    box: dict = {}
    done = threading.Event()

    def read():
        try:
            box["v"] = next(call)
        except StopIteration:
            box["v"] = None
        except grpc.RpcError as e:
            box["e"] = e
        done.set()

    threading.Thread(target=read, daemon=True, name="mfn-first-frame").start()
    if not done.wait(timeout):
        call.cancel()
        done.wait(1.0)
        raise _patch_deadline()(timeout)
    if "e" in box:
        raise box["e"]
    return box["v"]


def _patch_deadline():
    """The error of a stream whose first frame did not come in time: a ``grpc.RpcError``
    with ``DEADLINE_EXCEEDED``, so the attempt loop retries it like any other."""
    import grpc

    class DeadlineError(grpc.RpcError):
        def __init__(self, timeout: float) -> None:
            self._t = timeout

        def code(self):
            return grpc.StatusCode.DEADLINE_EXCEEDED

        def details(self):
            return f"no first frame within {self._t * 1000:.0f} ms"

        def trailing_metadata(self):
            return ()

    return DeadlineError


class Steering:
    """A steered run (:meth:`Client.steer`): commands go out while events come in."""

    _END = object()

    def __init__(self, client: Client, method, start, metadata, request_id: str,
                 grid_size: int) -> None:
        self._client, self._n, self.request_id = client, grid_size, request_id
        self._q: queue.Queue = queue.Queue()
        self._q.put(start)

        def commands():
            while True:
                c = self._q.get()
                if c is Steering._END:
                    return
                yield c

        self._call = method(commands(), metadata=metadata,
                            timeout=client._cfg.stream_deadline)

    def __enter__(self) -> "Steering":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _send(self, **command) -> None:
        self._q.put(self._client._pb().SteerCommand(**command))

    def set_parameters(self, alpha: float | None = None, spike_probability: float | None = None,
                       apply_at_step: int | None = None) -> None:
        """Change ``alpha``/``spike_probability`` (at ``apply_at_step``, default the
        next frame boundary)."""
        self._send(set_parameters=self._client._pb().SteerParameters(
            alpha=alpha, spike_probability=spike_probability, apply_at_step=apply_at_step))

    def pause(self) -> None:
        """Stop computing after the current frame until :meth:`resume`."""
        self._send(pause=self._client._pb().SteerPause())

    def resume(self) -> None:
        """Continue a paused run."""
        self._send(resume=self._client._pb().SteerResume())

    def stop(self) -> None:
        """End the run: the server sends a final frame at the current step."""
        self._send(stop=self._client._pb().SteerStop())

    def close(self) -> None:
        """Stop sending commands and cancel the call."""
        self._q.put(Steering._END)
        self._call.cancel()

    def __iter__(self) -> Iterator[Any]:
        import grpc

        try:
            for ev in self._call:
                out = self._client._event(ev, self._n)
                yield out
                if isinstance(out, Frame) and out.is_final:
                    break
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                raise _status_error(e, self.request_id) from None
        finally:
            self._q.put(Steering._END)


# -- REST tools ----------------------------------------------------------------------

def _rest_tool(cfg: _Config, count, name: str, args: dict, sleep) -> dict:
    """One tool call over REST with the client's credentials and retry policy (sync)."""
    if cfg.http_url is None:
        raise InvalidArgument("tools go over REST: give the client http_url=", field="http_url")
    path = f"/v1/tools/{name}"
    body = json.dumps(args).encode()
    ctx = cfg.ssl_context() if cfg.http_url.startswith("https://") else None
    p = cfg.retry
    start = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        rid, md = cfg.attempt(path)
        req = urllib.request.Request(cfg.http_url + path, data=body, method="POST",
                                     headers={"content-type": "application/json", **dict(md)})
        count(attempt > 1)
        try:
            with urllib.request.urlopen(req, timeout=cfg.deadline, context=ctx) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            err, hint = _http_error(e, rid)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            err, hint = error_for("UNAVAILABLE", f"cannot reach {cfg.http_url}: {e}", None, rid), 0.0
        if err.code not in RETRYABLE or attempt >= p.max_attempts:
            raise err
        wait = max(random.uniform(0, p.ceiling(attempt)), hint)
        if time.monotonic() - start + wait >= p.budget:
            raise err
        sleep(wait)


def _http_error(e, rid: str) -> tuple[MfnError, float]:
    try:
        doc = json.loads(e.read() or b"{}")
    except ValueError:
        doc = {}
    code = doc.get("error_code") or {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED",
                                     403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                                     429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE",
                                     504: "DEADLINE_EXCEEDED"}.get(e.code, "INTERNAL")
    if code == "PAYLOAD_TOO_LARGE":
        code = "RESOURCE_EXHAUSTED"
    details = doc.get("details") or []
    field = details[0].get("field") if details else None
    hint = float(e.headers.get("retry-after") or 0)
    return error_for(code, doc.get("message", f"http {e.code}"), field,
                     doc.get("request_id", rid)), hint


# -- asyncio -------------------------------------------------------------------------

class AsyncClient(_Api):
    """The asyncio twin of :class:`Client` (``grpc.aio``): the same arguments, ``await``
    on every operation, ``async for`` over streams and steering events."""

    def __init__(self, target: str, **kwargs: Any) -> None:
        import grpc.aio

        from .v1 import mfn_pb2_grpc as rpc

        names = ("api_key", "auth", "deadline", "stream_deadline", "retry",
                 "root_certificates", "certificate_chain", "private_key", "server_name",
                 "http_url", "compression", "options")
        unknown = set(kwargs) - set(names)
        if unknown:
            raise TypeError(f"unexpected argument(s): {', '.join(sorted(unknown))}")
        defaults = dict(api_key=None, auth=None, deadline=30.0, stream_deadline=None,
                        retry=None, root_certificates=None, certificate_chain=None,
                        private_key=None, server_name=None, http_url=None, compression=None,
                        options=None)
        defaults.update(kwargs)
        self._cfg = _Config(target, **defaults)
        c = self._cfg
        comp = _grpc_compression(c.compression)
        if c.tls:
            self._channel = grpc.aio.secure_channel(c.host, c.credentials(), options=c.options,
                                                    compression=comp)
        else:
            self._channel = grpc.aio.insecure_channel(c.host, options=c.options,
                                                      compression=comp)
        self._sim = rpc.MFNSimulationServiceStub(self._channel)
        self._feat = rpc.MFNFeaturesServiceStub(self._channel)
        self._val = rpc.MFNValidationServiceStub(self._channel)
        self._myc = rpc.MyceliumServiceStub(self._channel)
        self.stats = ClientStats()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    def _count(self, retry: bool) -> None:
        self.stats.attempts += 1
        self.stats.retries += int(retry)

    async def _call(self, name: str, method, message, *, stream: bool = False):
        import grpc

        c = self._cfg
        p = c.retry
        start = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            rid, md = c.attempt(PATHS[name])
            if hasattr(message, "request_id"):
                message.request_id = rid
            remaining = p.budget - (time.monotonic() - start)
            timeout = max(0.001, min(c.deadline, remaining))
            self._count(attempt > 1)
            try:
                if not stream:
                    return await method(message, metadata=md, timeout=timeout)
                call = method(message, metadata=md, timeout=c.stream_deadline)
                try:
                    first = await asyncio.wait_for(call.read(), timeout)
                except asyncio.TimeoutError:
                    call.cancel()
                    raise _patch_deadline()(timeout) from None
                if first is grpc.aio.EOF:
                    first = None
                return first, call, rid
            except grpc.RpcError as e:
                err = e
            code = err.code().name if err.code() is not None else "UNKNOWN"
            if code not in RETRYABLE or attempt >= p.max_attempts:
                raise _status_error(err, rid) from None
            wait = max(random.uniform(0, p.ceiling(attempt)), retry_hint(err))
            if time.monotonic() - start + wait >= p.budget:
                raise _status_error(err, rid) from None
            await asyncio.sleep(wait)

    async def _stream(self, name, method, message, convert) -> AsyncIterator:
        import grpc

        first, call, rid = await self._call(name, method, message, stream=True)
        try:
            if first is None:
                return
            yield convert(first)
            while True:
                f = await call.read()
                if f is grpc.aio.EOF:
                    return
                yield convert(f)
        except grpc.RpcError as e:
            raise _status_error(e, rid) from None
        finally:
            call.cancel()

    async def health(self) -> dict:
        """``MyceliumService/HealthCheck``."""
        r = await self._call("HealthCheck", self._myc.HealthCheck, self._pb().HealthCheckRequest())
        return {"status": r.status, "version": r.version, "uptime_seconds": r.uptime_seconds}

    async def simulate(self, seed: int = 42, grid_size: int = 64, steps: int = 64,
                       alpha: float = 0.18, spike_probability: float = 0.25,
                       turing_enabled: bool = True, turing_threshold: float = 0.75,
                       quantum_jitter: bool = False, jitter_var: float = 0.0005, *,
                       history: bool = False) -> SimulationResult:
        """``RunSimulation`` (see :meth:`Client.simulate`)."""
        sim = _sim_args(seed, grid_size, steps, alpha, spike_probability, turing_enabled,
                        turing_threshold, quantum_jitter, jitter_var)
        r = await self._call("RunSimulation", self._sim.RunSimulation,
                             self._pb().RunSimulationRequest(**sim, include_field=True))
        out = self._simulation(r, sim)
        if history:
            frames = [f.field async for f in self.stream(**sim, steps_per_frame=1,
                                                          include_field=True)]
            out = _with_history(out, np.stack(frames))
        return out

    def stream(self, seed: int = 42, grid_size: int = 64, steps: int = 64,
               alpha: float = 0.18, spike_probability: float = 0.25,
               turing_enabled: bool = True, turing_threshold: float = 0.75,
               quantum_jitter: bool = False, jitter_var: float = 0.0005, *,
               steps_per_frame: int = 10, include_field: bool = False,
               frame_interval_ms: int = 0) -> AsyncIterator[Frame]:
        """``StreamSimulation`` as an async iterator of :class:`mfn.Frame`."""
        sim = _sim_args(seed, grid_size, steps, alpha, spike_probability, turing_enabled,
                        turing_threshold, quantum_jitter, jitter_var)
        req = self._pb().StreamSimulationRequest(**sim, steps_per_frame=steps_per_frame,
                                                 include_field=include_field,
                                                 frame_interval_ms=frame_interval_ms)
        return self._stream("StreamSimulation", self._sim.StreamSimulation, req,
                            lambda f: self._frame(f, grid_size))

    def stream_features(self, seed: int = 42, grid_size: int = 64, steps: int = 64,
                        alpha: float = 0.18, spike_probability: float = 0.25,
                        turing_enabled: bool = True, turing_threshold: float = 0.75,
                        quantum_jitter: bool = False, jitter_var: float = 0.0005, *,
                        threshold_mv: float | None = None, adaptive_threshold: bool = False,
                        with_history: bool = False,
                        steps_per_frame: int = 10) -> AsyncIterator[FeatureFrame]:
        """``StreamFeatures`` as an async iterator of :class:`mfn.FeatureFrame`."""
        sim = _sim_args(seed, grid_size, steps, alpha, spike_probability, turing_enabled,
                        turing_threshold, quantum_jitter, jitter_var)
        req = self._features_request(self._pb().StreamFeaturesRequest, sim, threshold_mv,
                                     adaptive_threshold, with_history,
                                     steps_per_frame=steps_per_frame)
        return self._stream("StreamFeatures", self._feat.StreamFeatures, req,
                            lambda f: feature_frame_from(f, _meta(f)))

    async def features(self, seed: int = 42, grid_size: int = 64, steps: int = 64,
                       alpha: float = 0.18, spike_probability: float = 0.25,
                       turing_enabled: bool = True, turing_threshold: float = 0.75,
                       quantum_jitter: bool = False, jitter_var: float = 0.0005, *,
                       threshold_mv: float | None = None, adaptive_threshold: bool = False,
                       with_history: bool = False) -> FeaturesResult:
        """``ExtractFeatures``."""
        sim = _sim_args(seed, grid_size, steps, alpha, spike_probability, turing_enabled,
                        turing_threshold, quantum_jitter, jitter_var)
        req = self._features_request(self._pb().ExtractFeaturesRequest, sim, threshold_mv,
                                     adaptive_threshold, with_history)
        r = await self._call("ExtractFeatures", self._feat.ExtractFeatures, req)
        return features_from(r, _meta(r))

    async def validate(self, seed: int = 42, epochs: int = 1, batch_size: int = 4,
                       grid_size: int = 64, steps: int = 64, turing_enabled: bool = True,
                       quantum_jitter: bool = False) -> ValidationReport:
        """``ValidatePattern``."""
        req = self._pb().ValidatePatternRequest(
            seed=seed, epochs=epochs, batch_size=batch_size, grid_size=grid_size, steps=steps,
            turing_enabled=turing_enabled, quantum_jitter=quantum_jitter)
        r = await self._call("ValidatePattern", self._val.ValidatePattern, req)
        return validation_from(r, _meta(r))

    async def nernst(self, z_valence: int, concentration_out_molar: float,
                     concentration_in_molar: float, temperature_k: float = 310.0) -> NernstResult:
        """``ComputeNernst``."""
        req = self._pb().NernstRequest(z_valence=z_valence,
                                       concentration_out_M=concentration_out_molar,
                                       concentration_in_M=concentration_in_molar,
                                       temperature_K=temperature_k)
        r = await self._call("ComputeNernst", self._myc.ComputeNernst, req)
        return NernstResult(r.potential_mV, r.rt_over_f_mV, r.temperature_K, _meta(r))

    async def aggregate(self, gradients, num_clusters: int = 10, byzantine_fraction: float = 0.2,
                        sample_fraction: float = 0.1, seed: int = 42) -> np.ndarray:
        """``AggregateFederated``."""
        req = self._aggregate_request(gradients, num_clusters, byzantine_fraction,
                                      sample_fraction, seed)
        r = await self._call("AggregateFederated", self._myc.AggregateFederated, req)
        return np.array(r.aggregated_gradient, dtype=np.float64)

    async def fractal_dimension(self, values, threshold: float = -0.060, num_scales: int = 5,
                                min_box: int = 2) -> FractalResult:
        """``ComputeFractalDimension``."""
        req = self._fractal_request(values, threshold, num_scales, min_box)
        r = await self._call("ComputeFractalDimension", self._myc.ComputeFractalDimension, req)
        return FractalResult(r.fractal_dimension, r.r_squared, tuple(r.box_sizes),
                             tuple(r.counts), _meta(r))

    async def ifs(self, seed: int = 42, points: int = 10000, transforms: int = 4) -> IfsResult:
        """``GenerateIFS``."""
        req = self._pb().IfsRequest(seed=seed, points=points, transforms=transforms)
        r = await self._call("GenerateIFS", self._myc.GenerateIFS, req)
        return IfsResult(lyapunov=r.lyapunov, num_points=r.num_points, meta=_meta(r),
                         _points_sha256=r.points_sha256)

    def steer(self, seed: int = 42, grid_size: int = 64, steps: int = 64,
              alpha: float = 0.18, spike_probability: float = 0.25,
              turing_enabled: bool = True, turing_threshold: float = 0.75,
              quantum_jitter: bool = False, jitter_var: float = 0.0005, *,
              steps_per_frame: int = 10, include_field: bool = False,
              paused: bool = False) -> "AsyncSteering":
        """``SteerSimulation`` (see :meth:`Client.steer`); ``async for`` over the events."""
        sim = _sim_args(seed, grid_size, steps, alpha, spike_probability, turing_enabled,
                        turing_threshold, quantum_jitter, jitter_var)
        start = self._steer_start(sim, steps_per_frame, include_field, paused)
        rid, md = self._cfg.attempt(PATHS["SteerSimulation"])
        start.start.run.request_id = rid
        self._count(False)
        return AsyncSteering(self, start, md, rid, grid_size)

    async def tool(self, name: str, /, **args: Any) -> dict:
        """``POST /v1/tools/{name}`` on ``http_url`` (run in a worker thread)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, lambda: _rest_tool(self._cfg, self._count, name, args, time.sleep))

    async def extract_network(self, field=None, **kwargs: Any) -> Network:
        """The mycelial network of a field on the server (see :meth:`Client.extract_network`)."""
        loop = asyncio.get_running_loop()

        def tool(name, /, **args):
            return _rest_tool(self._cfg, self._count, name, args, time.sleep)

        def run():
            sim = {k: kwargs.pop(k) for k in list(kwargs)
                   if k in ("seed", "grid_size", "steps", "alpha", "spike_probability",
                            "turing_enabled", "turing_threshold", "quantum_jitter",
                            "jitter_var")}
            from ._local import SIM_DEFAULTS

            return _extract_network(tool, field, kwargs.get("name", "network"),
                                    {**SIM_DEFAULTS, **sim}, kwargs.get("options"),
                                    kwargs.get("overwrite", True))

        return await loop.run_in_executor(None, run)


class AsyncSteering:
    """A steered run of :class:`AsyncClient`: ``await set_parameters(…)`` etc. and
    ``async for`` over the events."""

    def __init__(self, client: AsyncClient, start, metadata, request_id: str,
                 grid_size: int) -> None:
        self._client, self._n, self.request_id = client, grid_size, request_id
        self._call = client._sim.SteerSimulation(metadata=metadata,
                                                 timeout=client._cfg.stream_deadline)
        self._start = start
        self._started = False

    async def _send(self, **command) -> None:
        if not self._started:
            self._started = True
            await self._call.write(self._start)
        await self._call.write(self._client._pb().SteerCommand(**command))

    async def set_parameters(self, alpha: float | None = None,
                             spike_probability: float | None = None,
                             apply_at_step: int | None = None) -> None:
        """Change ``alpha``/``spike_probability``."""
        await self._send(set_parameters=self._client._pb().SteerParameters(
            alpha=alpha, spike_probability=spike_probability, apply_at_step=apply_at_step))

    async def pause(self) -> None:
        """Pause the run."""
        await self._send(pause=self._client._pb().SteerPause())

    async def resume(self) -> None:
        """Resume the run."""
        await self._send(resume=self._client._pb().SteerResume())

    async def stop(self) -> None:
        """Stop the run (a final frame follows)."""
        await self._send(stop=self._client._pb().SteerStop())

    async def close(self) -> None:
        """Cancel the call."""
        self._call.cancel()

    async def __aenter__(self) -> "AsyncSteering":
        if not self._started:
            self._started = True
            await self._call.write(self._start)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def __aiter__(self):
        return self._events()

    async def _events(self):
        import grpc

        if not self._started:
            self._started = True
            await self._call.write(self._start)
        try:
            while True:
                ev = await self._call.read()
                if ev is grpc.aio.EOF:
                    return
                out = self._client._event(ev, self._n)
                yield out
                if isinstance(out, Frame) and out.is_final:
                    return
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                raise _status_error(e, self.request_id) from None
