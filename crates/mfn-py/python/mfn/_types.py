"""Result objects of the modern API, the same whether computed in-process or by a server.

Every result is a frozen dataclass. In-process results come from the engine (``mfn._core``),
remote ones from a gRPC response or a REST/MCP tool result; both go through the
``*_from`` constructors below, which read the wire's field names (``pot_mean_mV``, …),
so a script moves between :class:`mfn.Local` and :class:`mfn.Client` by changing the
line that makes the engine.

Units follow the wire: potentials in millivolts (``*_mv``), fields in volts
(``field``) with ``field_mv`` beside them. Over gRPC a field travels in millivolts
(``V·1000``, the server's own product); ``field_mv`` is then exact and ``field`` is
``field_mv / 1000`` (within one ulp of the engine's volts), while ``field_sha256`` is
the server's digest of its exact volts, so ``local.field_sha256 == remote.field_sha256``
checks the run bit for bit.
"""

from __future__ import annotations

import hashlib
import dataclasses as dc
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

FEATURE_NAMES = (
    "D_box", "D_r2", "V_min", "V_max", "V_mean", "V_std", "V_skew", "V_kurt", "dV_mean",
    "dV_max", "T_stable", "E_trend", "f_active", "N_clusters_low", "N_clusters_med",
    "N_clusters_high", "max_cluster_size", "cluster_size_std",
)

Get = Callable[[str], Any]


def _getter(source: Any) -> Get:
    """Read wire fields from a dict (engine, REST, MCP) or a protobuf message (gRPC)."""
    if isinstance(source, Mapping):
        return source.__getitem__
    return lambda name: getattr(source, name)


def _sha256_le(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<f8").tobytes()).hexdigest()


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """A field simulation (SCIENCE.md §2): parameters, counters, statistics, the field.

    ``field`` is the final potential in volts (N×N float64; in-process it is the
    engine's own buffer, handed to NumPy without a copy), ``history`` the field after
    every step (T×N×N) when asked for. Statistics are of the final field in mV, std
    with ddof 0.
    """

    seed: int
    grid_size: int
    steps: int
    alpha: float
    spike_probability: float
    turing_enabled: bool
    turing_threshold: float
    quantum_jitter: bool
    jitter_var: float
    growth_events: int
    turing_activations: int
    clamping_events: int
    pot_min_mv: float
    pot_max_mv: float
    pot_mean_mv: float
    pot_std_mv: float
    fractal_dimension: float
    activator_mean: float
    inhibitor_mean: float
    field: np.ndarray | None
    history: np.ndarray | None = None
    meta: dict = dc.field(default_factory=dict, repr=False)
    _field_mv: np.ndarray | None = dc.field(default=None, repr=False)
    _field_sha256: str | None = dc.field(default=None, repr=False)

    @property
    def field_mv(self) -> np.ndarray | None:
        """The final field in mV (``field · 1000``, as every server door sends it)."""
        if self._field_mv is not None:
            return self._field_mv
        return None if self.field is None else self.field * 1000.0

    @property
    def field_sha256(self) -> str | None:
        """SHA-256 (hex) of the final field as little-endian f64 volts, row-major: the
        digest ``mfn simulate`` prints and servers report."""
        if self._field_sha256 is not None:
            return self._field_sha256
        return None if self.field is None else _sha256_le(self.field)

    @property
    def growth(self) -> int:
        """Alias of ``growth_events``."""
        return self.growth_events


def simulation_from(source: Any, params: Mapping[str, Any], *, field_v=None, field_mv=None,
                    history=None, field_sha256=None, meta=None) -> SimulationResult:
    g = _getter(source)
    if field_v is None and field_mv is not None:
        field_v = field_mv / 1000.0
    return SimulationResult(
        seed=int(g("seed")), grid_size=int(g("grid_size")), steps=int(g("steps")),
        alpha=params["alpha"], spike_probability=params["spike_probability"],
        turing_enabled=params["turing_enabled"], turing_threshold=params["turing_threshold"],
        quantum_jitter=params["quantum_jitter"], jitter_var=params["jitter_var"],
        growth_events=int(g("growth_events")), turing_activations=int(g("turing_activations")),
        clamping_events=int(g("clamping_events")), pot_min_mv=g("pot_min_mV"),
        pot_max_mv=g("pot_max_mV"), pot_mean_mv=g("pot_mean_mV"), pot_std_mv=g("pot_std_mV"),
        fractal_dimension=g("fractal_dimension"), activator_mean=g("activator_mean"),
        inhibitor_mean=g("inhibitor_mean"), field=field_v, history=history,
        meta=dict(meta or {}), _field_mv=field_mv, _field_sha256=field_sha256 or None)


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame of a streamed (or steered) run: the state after ``step`` steps.

    ``alpha`` and ``spike_probability`` are the values in force for the steps of this
    frame; ``field`` (volts) is present when the stream was opened with
    ``include_field=True``. The last frame has ``is_final`` and equals the unary result
    of the same run.
    """

    step: int
    total_steps: int
    growth_events: int
    turing_activations: int
    clamping_events: int
    pot_min_mv: float
    pot_max_mv: float
    pot_mean_mv: float
    pot_std_mv: float
    fractal_dimension: float
    is_final: bool
    alpha: float
    spike_probability: float
    field: np.ndarray | None = None
    meta: dict = dc.field(default_factory=dict, repr=False)
    _field_mv: np.ndarray | None = dc.field(default=None, repr=False)

    @property
    def field_mv(self) -> np.ndarray | None:
        """The field in mV (exact over gRPC, ``field · 1000`` in-process)."""
        if self._field_mv is not None:
            return self._field_mv
        return None if self.field is None else self.field * 1000.0


def frame_from(source: Any, *, field_v=None, field_mv=None, meta=None) -> Frame:
    g = _getter(source)
    if field_v is None and field_mv is not None:
        field_v = field_mv / 1000.0
    return Frame(
        step=int(g("step")), total_steps=int(g("total_steps")),
        growth_events=int(g("growth_events")), turing_activations=int(g("turing_activations")),
        clamping_events=int(g("clamping_events")), pot_min_mv=g("pot_min_mV"),
        pot_max_mv=g("pot_max_mV"), pot_mean_mv=g("pot_mean_mV"), pot_std_mv=g("pot_std_mV"),
        fractal_dimension=g("fractal_dimension"), is_final=bool(g("is_final")),
        alpha=g("alpha"), spike_probability=g("spike_probability"), field=field_v,
        meta=dict(meta or {}), _field_mv=field_mv)


@dataclass(frozen=True)
class SteerAck:
    """A steering command's acknowledgement: the step at which it took effect and the
    parameters in force afterwards. Replaying the start and every change with
    ``apply_at_step = applied_at_step`` reproduces the run bit for bit."""

    command_index: int
    command: str
    applied_at_step: int
    alpha: float
    spike_probability: float
    paused: bool


@dataclass(frozen=True)
class FeatureVector:
    """The 18 canonical features (SCIENCE.md §5), by the reference's names."""

    D_box: float
    D_r2: float
    V_min: float
    V_max: float
    V_mean: float
    V_std: float
    V_skew: float
    V_kurt: float
    dV_mean: float
    dV_max: float
    T_stable: float
    E_trend: float
    f_active: float
    N_clusters_low: float
    N_clusters_med: float
    N_clusters_high: float
    max_cluster_size: float
    cluster_size_std: float

    NAMES = FEATURE_NAMES

    def to_array(self) -> np.ndarray:
        """The 18 values as a float64 array, in the canonical order."""
        return np.array([getattr(self, n) for n in FEATURE_NAMES], dtype=np.float64)

    def to_dict(self) -> dict[str, float]:
        """``{name: value}`` in the canonical order."""
        return {n: getattr(self, n) for n in FEATURE_NAMES}

    @classmethod
    def from_values(cls, values) -> "FeatureVector":
        """From 18 values in the canonical order."""
        values = list(values)
        if len(values) != len(FEATURE_NAMES):
            raise ValueError(f"a feature vector has 18 values, got {len(values)}")
        return cls(*(float(v) for v in values))


def features_vector_from(source: Any) -> FeatureVector:
    g = _getter(source)
    return FeatureVector(*(float(g(n)) for n in FEATURE_NAMES))


@dataclass(frozen=True)
class FeaturesResult:
    """``ExtractFeatures``: the 18 features and the summary of the run they came from."""

    features: FeatureVector
    growth_events: int
    pot_min_mv: float
    pot_max_mv: float
    pot_mean_mv: float
    pot_std_mv: float
    fractal_dimension: float
    meta: dict = dc.field(default_factory=dict, repr=False, compare=False)


def features_from(source: Any, meta=None) -> FeaturesResult:
    g = _getter(source)
    return FeaturesResult(
        features=features_vector_from(g("features")), growth_events=int(g("growth_events")),
        pot_min_mv=g("pot_min_mV"), pot_max_mv=g("pot_max_mV"), pot_mean_mv=g("pot_mean_mV"),
        pot_std_mv=g("pot_std_mV"), fractal_dimension=g("fractal_dimension"),
        meta=dict(meta or {}))


@dataclass(frozen=True)
class FeatureFrame:
    """Features after ``step`` steps of a streamed run."""

    step: int
    total_steps: int
    features: FeatureVector
    growth_events: int
    pot_mean_mv: float
    pot_std_mv: float
    is_final: bool
    meta: dict = dc.field(default_factory=dict, repr=False, compare=False)


def feature_frame_from(source: Any, meta=None) -> FeatureFrame:
    g = _getter(source)
    return FeatureFrame(
        step=int(g("step")), total_steps=int(g("total_steps")),
        features=features_vector_from(g("features")), growth_events=int(g("growth_events")),
        pot_mean_mv=g("pot_mean_mV"), pot_std_mv=g("pot_std_mV"), is_final=bool(g("is_final")),
        meta=dict(meta or {}))


VALIDATION_FIELDS = (
    "loss_start", "loss_final", "loss_drop", "pot_min_mV", "pot_max_mV", "example_fractal_dim",
    "growth_events", "lyapunov_exponent", "lyapunov_mean", "nernst_numeric_mV",
    "nernst_symbolic_mV", "nernst_rtfz_mV",
)


@dataclass(frozen=True)
class ValidationReport:
    """``ValidatePattern`` (SCIENCE.md §7): every field of the reference's report."""

    loss_start: float
    loss_final: float
    loss_drop: float
    pot_min_mv: float
    pot_max_mv: float
    example_fractal_dim: float
    growth_events: int
    lyapunov_exponent: float
    lyapunov_mean: float
    nernst_numeric_mv: float
    nernst_symbolic_mv: float
    nernst_rtfz_mv: float
    meta: dict = dc.field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, float]:
        """The reference's ``run_validation`` dict (its key names, ``…_mV``)."""
        return {k: float(getattr(self, k.replace("_mV", "_mv"))) for k in VALIDATION_FIELDS}


def validation_from(source: Any, meta=None) -> ValidationReport:
    g = _getter(source)
    values = {k.replace("_mV", "_mv"): g(k) for k in VALIDATION_FIELDS}
    values["growth_events"] = int(values["growth_events"])
    return ValidationReport(**values, meta=dict(meta or {}))


@dataclass(frozen=True)
class NernstResult:
    """``ComputeNernst``: the potential and RT/F in mV, the temperature used in K."""

    potential_mv: float
    rt_over_f_mv: float
    temperature_k: float
    meta: dict = dc.field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class FractalResult:
    """``ComputeFractalDimension``: the box-counting fit."""

    dimension: float
    r_squared: float
    box_sizes: tuple[int, ...]
    counts: tuple[int, ...]
    meta: dict = dc.field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, eq=False)
class IfsResult:
    """``GenerateIFS``: the orbit's Lyapunov exponent and, in-process, its points
    (``num_points × 2``); ``points_sha256`` fingerprints them either way."""

    lyapunov: float
    num_points: int
    points: np.ndarray | None = None
    meta: dict = dc.field(default_factory=dict, repr=False)
    _points_sha256: str | None = dc.field(default=None, repr=False)

    @property
    def points_sha256(self) -> str | None:
        """SHA-256 (hex) of the points as little-endian f64 (x, y) pairs."""
        if self._points_sha256 is not None:
            return self._points_sha256
        return None if self.points is None else _sha256_le(self.points)


@dataclass(frozen=True, eq=False)
class Network:
    """A mycelial network extracted from a field (GRAPH.md): the stored graph's nodes
    (``id``, ``x``, ``y`` pixels, ``kind``, ``pixels``) and edges (``source``,
    ``target``, ``length`` pixels, ``pixels``), the extraction's figures and the
    network metrics. ``graph`` is a ``networkx.Graph`` when networkx is installed."""

    name: str
    nodes: list[dict]
    edges: list[dict]
    metrics: dict
    width: int
    height: int
    threshold_mv: float | None
    mask_pixels: int
    skeleton_pixels: int
    source: str
    node_link: dict = dc.field(repr=False, default_factory=dict)

    @property
    def graph(self):
        """The network as a ``networkx.Graph`` (``None`` without networkx)."""
        try:
            return self.to_networkx()
        except ImportError:
            return None

    def to_networkx(self):
        """The network as a ``networkx.Graph``; raises ``ImportError`` without networkx."""
        import networkx as nx

        g = nx.Graph()
        g.graph.update(self.node_link.get("graph", {}))
        for n in self.nodes:
            attrs = {k: v for k, v in n.items() if k != "id"}
            g.add_node(n["id"], **attrs)
        for e in self.edges:
            attrs = {k: v for k, v in e.items() if k not in ("source", "target")}
            g.add_edge(e["source"], e["target"], **attrs)
        return g


def network_from(extracted: Mapping[str, Any], node_link: Mapping[str, Any]) -> Network:
    return Network(
        name=extracted["graph"]["name"], nodes=list(node_link.get("nodes", [])),
        edges=list(node_link.get("edges", node_link.get("links", []))),
        metrics=dict(extracted["metrics"]), width=int(extracted["width"]),
        height=int(extracted["height"]), threshold_mv=extracted.get("threshold_mv"),
        mask_pixels=int(extracted["mask_pixels"]),
        skeleton_pixels=int(extracted["skeleton_pixels"]), source=extracted["source"],
        node_link=dict(node_link))
