"""MFN — MyceliumFractalNet's engine, in-process, and a client for ``mfn serve``.

Three ways in:

**Drop-in functions** of the Python reference (MyceliumFractalNet 4.1), same names,
arguments, defaults and return shapes, bit for bit::

    import numpy as np
    from mfn import simulate_mycelium_field
    field, growth = simulate_mycelium_field(np.random.default_rng(42), grid_size=64, steps=64)

**The modern API**, module-level functions (an in-process :class:`Local` engine)::

    import mfn
    r = mfn.simulate(seed=42, grid_size=128, steps=100)
    r.field, r.growth_events, r.pot_mean_mv
    for frame in mfn.stream(seed=42, steps=100, steps_per_frame=20): ...

**A server**, with the same methods and results (``pip install 'mfn[client]'``)::

    eng = mfn.Client("http://localhost:50051", api_key="…", auth="signed")
    r = eng.simulate(seed=42, grid_size=128, steps=100)

Errors are :class:`MfnError` subclasses; bad input raises :class:`InvalidArgument`
(a ``ValueError``) naming the parameter and its range.
"""

from __future__ import annotations

from . import _core
from ._dropin import (
    FeatureConfig, HierarchicalKrumAggregator, compute_features, compute_lyapunov_exponent,
    compute_nernst_potential, estimate_fractal_dimension, generate_fractal_ifs,
    simulate_mycelium_field,
)
from ._errors import (
    AlreadyExists, Cancelled, DeadlineExceeded, Internal, InvalidArgument, MfnError, NotFound,
    PermissionDenied, ResourceExhausted, Unauthenticated, Unavailable, Unprocessable,
)
from ._local import Local, LocalSteering
from ._types import (
    FEATURE_NAMES, FeatureFrame, FeatureVector, FeaturesResult, FractalResult, Frame, IfsResult,
    NernstResult, Network, SimulationResult, SteerAck, ValidationReport,
)

__version__ = _core.__version__

_default = Local()
simulate = _default.simulate
stream = _default.stream
steer = _default.steer
features = _default.features
stream_features = _default.stream_features
validate = _default.validate
nernst = _default.nernst
aggregate = _default.aggregate
fractal_dimension = _default.fractal_dimension
ifs = _default.ifs
extract_network = _default.extract_network
tool = _default.tool


def __getattr__(name: str):
    # The client needs grpcio; import it only when asked for.
    if name in ("Client", "AsyncClient", "RetryPolicy", "Steering", "AsyncSteering", "sign"):
        from . import _client

        return getattr(_client, name)
    raise AttributeError(f"module 'mfn' has no attribute {name!r}")


__all__ = [
    "simulate_mycelium_field", "compute_nernst_potential", "estimate_fractal_dimension",
    "generate_fractal_ifs", "compute_features", "FeatureConfig", "compute_lyapunov_exponent",
    "HierarchicalKrumAggregator",
    "simulate", "stream", "steer", "features", "stream_features", "validate", "nernst",
    "aggregate", "fractal_dimension", "ifs", "extract_network", "tool",
    "Local", "LocalSteering", "Client", "AsyncClient", "RetryPolicy", "Steering",
    "AsyncSteering", "sign",
    "SimulationResult", "Frame", "SteerAck", "FeatureVector", "FeaturesResult", "FeatureFrame",
    "ValidationReport", "NernstResult", "FractalResult", "IfsResult", "Network",
    "FEATURE_NAMES",
    "MfnError", "InvalidArgument", "Unprocessable", "NotFound", "AlreadyExists",
    "Unauthenticated", "PermissionDenied", "ResourceExhausted", "Unavailable",
    "DeadlineExceeded", "Cancelled", "Internal",
]
