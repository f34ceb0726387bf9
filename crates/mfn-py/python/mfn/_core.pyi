"""Type stubs of the native module ``mfn._core`` (crates/mfn-py/src). Use the package
``mfn``; these are its building blocks."""

from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

F64Array = npt.NDArray[np.float64]

def simulate_mycelium_field(
    rng: np.random.Generator,
    grid_size: int = 64,
    steps: int = 64,
    alpha: float = 0.18,
    spike_probability: float = 0.25,
    turing_enabled: bool = True,
    turing_threshold: float = 0.75,
    quantum_jitter: bool = False,
    jitter_var: float = 0.0005,
) -> tuple[F64Array, int]:
    """The final field in volts (N×N) and the number of growth events, drawn from
    ``rng`` (a ``Generator(PCG64)``) as the reference draws; ``rng`` is left after the
    run's last draw."""

def generate_fractal_ifs(
    rng: np.random.Generator, num_points: int = 10000, num_transforms: int = 4
) -> tuple[F64Array, float]:
    """An IFS orbit (``num_points × 2``) and its Lyapunov exponent, drawn from ``rng``."""

def compute_nernst_potential(
    z_valence: int,
    concentration_out_molar: float,
    concentration_in_molar: float,
    temperature_k: float = 310.0,
) -> float:
    """The Nernst potential in volts."""

def box_count(
    mask: npt.NDArray[np.bool_],
    min_box_size: int = 2,
    max_box_size: int | None = None,
    num_scales: int = 5,
) -> tuple[float, float, list[int], list[int]]:
    """``(dimension, r_squared, box_sizes, counts)`` of a square boolean mask."""

def features_of_history(
    history: F64Array,
    threshold_mv: float | None = None,
    adaptive_threshold: bool = False,
    num_scales: int = 5,
    stable_window: int = 10,
) -> list[float]:
    """The 18 features of a ``T×N×N`` history in volts, canonical order."""

def lyapunov_of_history(history: F64Array, dt: float = 1.0) -> float:
    """The Lyapunov exponent of a ``T×cells`` history."""

def krum_aggregate(
    gradients: F64Array,
    rng: np.random.Generator,
    num_clusters: int = 100,
    byzantine_fraction: float = 0.2,
    sample_fraction: float = 0.1,
) -> F64Array:
    """Hierarchical Krum over the rows of ``gradients``, drawing from ``rng``."""

def simulate(
    seed: int | None = None,
    grid_size: int | None = None,
    steps: int | None = None,
    alpha: float | None = None,
    spike_probability: float | None = None,
    turing_enabled: bool | None = None,
    turing_threshold: float | None = None,
    quantum_jitter: bool | None = None,
    jitter_var: float | None = None,
    history: bool = False,
) -> dict[str, Any]:
    """A seeded run: the summary (wire names), the parameters, ``field`` and ``history``."""

def nernst(
    z_valence: int,
    concentration_out_molar: float,
    concentration_in_molar: float,
    temperature_k: float | None = None,
) -> tuple[float, float, float]:
    """``(potential_mV, rt_over_f_mV, temperature_K)``."""

def aggregate(
    gradients: F64Array,
    num_clusters: int | None = None,
    byzantine_fraction: float | None = None,
    sample_fraction: float | None = None,
    seed: int | None = None,
) -> F64Array:
    """Seeded hierarchical Krum over the rows of ``gradients``."""

def fractal_dimension(
    values: F64Array,
    threshold: float | None = None,
    num_scales: int | None = None,
    min_box: int | None = None,
) -> tuple[float, float, list[int], list[int]]:
    """Box counting of ``values > threshold``."""

def ifs(
    seed: int | None = None, points: int | None = None, transforms: int | None = None
) -> tuple[F64Array, float]:
    """A seeded IFS orbit and its Lyapunov exponent."""

def call_tool(name: str, args: str) -> tuple[str, tuple[str, bytes] | None]:
    """A tool of the registry with JSON arguments: ``(result_json, image)``."""

class Stepper:
    """One run advanced frame by frame (local streams and steering)."""

    def __init__(
        self,
        seed: int | None = None,
        grid_size: int | None = None,
        steps: int | None = None,
        alpha: float | None = None,
        spike_probability: float | None = None,
        turing_enabled: bool | None = None,
        turing_threshold: float | None = None,
        quantum_jitter: bool | None = None,
        jitter_var: float | None = None,
    ) -> None: ...
    @property
    def steps_done(self) -> int: ...
    @property
    def total_steps(self) -> int: ...
    @property
    def parameters(self) -> tuple[float, float]: ...
    def advance(self, steps: int, include_field: bool = False) -> dict[str, Any]: ...
    def set_parameters(
        self, alpha: float | None = None, spike_probability: float | None = None
    ) -> None: ...
