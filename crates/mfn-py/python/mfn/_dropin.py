"""The reference's functions (MyceliumFractalNet 4.1), computed by the MFN engine.

Same names, arguments, defaults and return shapes, so ``from mfn import
simulate_mycelium_field`` replaces ``from mycelium_fractal_net import …``. Functions that
take ``rng`` draw from that ``numpy.random.Generator(PCG64)`` exactly as the reference
does and leave it where the reference would (any other bit generator is refused with a
``TypeError``). Where SCIENCE.md §9 fixes the reference, so do these: ``alpha`` above the
CFL limit 0.25 is refused instead of silently saturating, and the aggregation is
reproducible (``rng=None`` means ``default_rng(42)``, not OS entropy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _core
from ._errors import InvalidArgument
from ._types import FeatureVector

simulate_mycelium_field = _core.simulate_mycelium_field
generate_fractal_ifs = _core.generate_fractal_ifs
compute_nernst_potential = _core.compute_nernst_potential


def _finite(name: str, a: np.ndarray) -> None:
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        i = int(np.flatnonzero(~np.isfinite(a.ravel()))[0])
        raise InvalidArgument(f"{name} has a non-finite value at flat index {i}", field=name)


def _numeric(name: str, values) -> np.ndarray:
    a = np.asarray(values)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise InvalidArgument(f"{name} must be a numeric array, got dtype {a.dtype}", field=name)
    return a


def estimate_fractal_dimension(binary_field, min_box_size: int = 2,
                               max_box_size: int | None = None, num_scales: int = 5) -> float:
    """Box-counting dimension of a square binary pattern (SCIENCE.md §4).

    Box sizes are ``unique(int(geomspace(min_box_size, max_box_size, num_scales)))`` with
    ``max_box_size`` defaulting to ``min(min_box_size·2^(num_scales−1), N/2)``; the slope
    of ``ln(count)`` against ``ln(1/size)`` over the sizes with a non-empty count, or 0.0
    when fewer than two remain. Non-zero cells count as occupied.
    """
    a = _numeric("binary_field", binary_field)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise InvalidArgument(f"binary_field must be a square 2D array, got shape {a.shape}",
                              field="binary_field")
    _finite("binary_field", a)
    mask = np.ascontiguousarray(a if a.dtype == bool else a != 0)
    return _core.box_count(mask, min_box_size, max_box_size, num_scales)[0]


@dataclass(frozen=True)
class FeatureConfig:
    """Options of :func:`compute_features`: the activity threshold θ in mV (default
    −60; ``adaptive_threshold`` uses the final field's median instead), the number of
    box-counting scales and the stationarity window of ``T_stable``."""

    threshold_low_mv: float = -60.0
    adaptive_threshold: bool = False
    num_scales: int = 5
    stable_window: int = 10


def compute_features(field_snapshots, config: FeatureConfig | None = None) -> FeatureVector:
    """The 18 features (SCIENCE.md §5) of a field history in volts: a ``T×N×N`` array
    (or one ``N×N`` field, T = 1), as the reference's ``analytics.compute_features``."""
    cfg = config or FeatureConfig()
    a = _numeric("field_snapshots", field_snapshots)
    if a.ndim == 2:
        a = a[None, :, :]
    if a.ndim != 3:
        raise InvalidArgument(
            f"field_snapshots must be N×N or T×N×N, got {a.ndim} dimension(s)",
            field="field_snapshots")
    h = np.ascontiguousarray(a, dtype=np.float64)
    values = _core.features_of_history(h, cfg.threshold_low_mv, cfg.adaptive_threshold,
                                       cfg.num_scales, cfg.stable_window)
    return FeatureVector.from_values(values)


def compute_lyapunov_exponent(field_history, dt: float = 1.0) -> float:
    """Lyapunov exponent of a field history (SCIENCE.md §6):
    ``Σ_t ln RMS(h_t − h_(t−1)) / ((T − 1)·dt)``."""
    a = _numeric("field_history", field_history)
    if a.ndim < 2:
        raise InvalidArgument(
            f"field_history must have one frame per row (T×N×N or T×M), got {a.ndim} "
            "dimension(s)", field="field_history")
    h = np.ascontiguousarray(a.reshape(a.shape[0], -1), dtype=np.float64)
    return _core.lyapunov_of_history(h, dt)


def _as_matrix(client_gradients) -> tuple[np.ndarray, object]:
    grads = list(client_gradients)
    if not grads:
        raise InvalidArgument("No gradients to aggregate", field="client_gradients")
    like = grads[0]
    rows = []
    for i, g in enumerate(grads):
        if hasattr(g, "detach") and hasattr(g, "cpu"):  # a torch tensor
            g = g.detach().cpu().numpy()
        r = _numeric(f"client_gradients[{i}]", g).reshape(-1).astype(np.float64)
        if rows and r.shape != rows[0].shape:
            raise InvalidArgument(
                f"client_gradients: gradient {i} has {r.size} values, gradient 0 has "
                f"{rows[0].size}", field="client_gradients")
        rows.append(r)
    return np.ascontiguousarray(np.stack(rows)), like


class HierarchicalKrumAggregator:
    """Byzantine-robust aggregation (SCIENCE.md §8): clusters of Krum, then Krum and
    the coordinate-wise median over the cluster representatives."""

    def __init__(self, num_clusters: int = 100, byzantine_fraction: float = 0.2,
                 sample_fraction: float = 0.1) -> None:
        self.num_clusters = num_clusters
        self.byzantine_fraction = byzantine_fraction
        self.sample_fraction = sample_fraction

    def aggregate(self, client_gradients, rng: np.random.Generator | None = None):
        """The robust aggregate of ``client_gradients`` (arrays or torch tensors of one
        size; a torch tensor comes back when they are tensors, else a float64 array of
        the first gradient's shape). The sample (above 1000 gradients) and the cluster
        assignment are drawn from ``rng`` (``default_rng(42)`` when ``None``)."""
        g, like = _as_matrix(client_gradients)
        if rng is None:
            rng = np.random.default_rng(42)
        out = _core.krum_aggregate(g, rng, self.num_clusters, self.byzantine_fraction,
                                   self.sample_fraction)
        shape = getattr(like, "shape", None)
        if shape is not None and int(np.prod(tuple(shape))) == out.size:
            out = out.reshape(tuple(shape))
        if type(like).__module__.startswith("torch"):
            import torch

            return torch.from_numpy(out).to(dtype=like.dtype)
        return out
