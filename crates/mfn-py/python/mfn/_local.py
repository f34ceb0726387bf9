"""The in-process engine: :class:`Local`, and the module-level functions bound to one.

:class:`Local` and :class:`mfn.Client` have the same methods with the same arguments
and return the same result objects, so code moves between the two by changing the line
that creates the engine::

    eng = mfn.Local()                                   # in this process
    eng = mfn.Client("http://mfn.example.com:50051")    # on a server
    r = eng.simulate(seed=7, grid_size=128, steps=100)

Parameters are checked by the service layer's request types (the server's checks and
messages, with the science's limits instead of a server's configuration), the work is
``mfn-core``'s, and the GIL is released while it runs, so threads run in parallel.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import numpy as np

from . import _core
from ._types import (
    Frame, FeatureFrame, FeatureVector, FeaturesResult, FractalResult, IfsResult,
    NernstResult, Network, SimulationResult, SteerAck, ValidationReport, feature_frame_from,
    features_from, frame_from, network_from, simulation_from, validation_from,
)

#: Defaults of the simulation parameters (SCIENCE.md §2; checked against the engine's
#: own defaults by the tests).
SIM_DEFAULTS = dict(seed=42, grid_size=64, steps=64, alpha=0.18, spike_probability=0.25,
                    turing_enabled=True, turing_threshold=0.75, quantum_jitter=False,
                    jitter_var=0.0005)
PARAM_NAMES = ("alpha", "spike_probability", "turing_enabled", "turing_threshold",
               "quantum_jitter", "jitter_var")


def _sim_args(seed, grid_size, steps, alpha, spike_probability, turing_enabled,
              turing_threshold, quantum_jitter, jitter_var) -> dict[str, Any]:
    return dict(seed=seed, grid_size=grid_size, steps=steps, alpha=alpha,
                spike_probability=spike_probability, turing_enabled=turing_enabled,
                turing_threshold=turing_threshold, quantum_jitter=quantum_jitter,
                jitter_var=jitter_var)


def _f64_2d(name: str, values) -> np.ndarray:
    from ._errors import InvalidArgument

    a = np.asarray(values)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise InvalidArgument(f"{name} must be a numeric array, got dtype {a.dtype}",
                              field=name)
    if a.ndim != 2:
        raise InvalidArgument(f"{name} must be a 2-D array, got {a.ndim} dimension(s)",
                              field=name)
    return np.ascontiguousarray(a, dtype=np.float64)


class Local:
    """The MFN engine in this process. Cheap to create; all instances share one
    engine (compute threads, the in-memory graph store)."""

    # -- simulation --------------------------------------------------------------

    def simulate(self, seed: int = 42, grid_size: int = 64, steps: int = 64,
                 alpha: float = 0.18, spike_probability: float = 0.25,
                 turing_enabled: bool = True, turing_threshold: float = 0.75,
                 quantum_jitter: bool = False, jitter_var: float = 0.0005, *,
                 history: bool = False) -> SimulationResult:
        """Run a seeded simulation (``default_rng(seed)``) and return its result.

        ``history=True`` keeps the field after every step (``result.history``,
        T×N×N volts; at most 2²⁴ values). Raises :class:`mfn.InvalidArgument` naming
        the parameter and its range.
        """
        d = _core.simulate(seed, grid_size, steps, alpha, spike_probability, turing_enabled,
                           turing_threshold, quantum_jitter, jitter_var, history)
        return simulation_from(d, d, field_v=d["field"], history=d["history"])

    def stream(self, seed: int = 42, grid_size: int = 64, steps: int = 64,
               alpha: float = 0.18, spike_probability: float = 0.25,
               turing_enabled: bool = True, turing_threshold: float = 0.75,
               quantum_jitter: bool = False, jitter_var: float = 0.0005, *,
               steps_per_frame: int = 10, include_field: bool = False) -> Iterator[Frame]:
        """Frames of one continuous run, after steps k, 2k, … and the last; the last has
        ``is_final`` and equals :meth:`simulate` for the same parameters."""
        self._check_spf(steps_per_frame, steps)
        stepper = _core.Stepper(seed, grid_size, steps, alpha, spike_probability,
                                turing_enabled, turing_threshold, quantum_jitter, jitter_var)

        def frames() -> Iterator[Frame]:
            while stepper.steps_done < stepper.total_steps:
                d = stepper.advance(steps_per_frame, include_field)
                yield frame_from(d, field_v=d["field"])

        return frames()

    def steer(self, seed: int = 42, grid_size: int = 64, steps: int = 64,
              alpha: float = 0.18, spike_probability: float = 0.25,
              turing_enabled: bool = True, turing_threshold: float = 0.75,
              quantum_jitter: bool = False, jitter_var: float = 0.0005, *,
              steps_per_frame: int = 10, include_field: bool = False,
              paused: bool = False) -> "LocalSteering":
        """A run steered while it streams (see :class:`mfn.Client.steer`): send
        ``set_parameters``/``pause``/``resume``/``stop`` and iterate the events
        (:class:`Frame` and :class:`SteerAck`)."""
        self._check_spf(steps_per_frame, steps)
        stepper = _core.Stepper(seed, grid_size, steps, alpha, spike_probability,
                                turing_enabled, turing_threshold, quantum_jitter, jitter_var)
        return LocalSteering(stepper, steps_per_frame, include_field, paused)

    @staticmethod
    def _check_spf(steps_per_frame: int, steps: int) -> None:
        from ._errors import InvalidArgument

        if not isinstance(steps_per_frame, int) or not 1 <= steps_per_frame <= steps:
            raise InvalidArgument(
                f"steps_per_frame = {steps_per_frame} is out of range: must be in [1, {steps}]",
                field="steps_per_frame")

    # -- features and validation -------------------------------------------------

    def features(self, seed: int = 42, grid_size: int = 64, steps: int = 64,
                 alpha: float = 0.18, spike_probability: float = 0.25,
                 turing_enabled: bool = True, turing_threshold: float = 0.75,
                 quantum_jitter: bool = False, jitter_var: float = 0.0005, *,
                 threshold_mv: float | None = None, adaptive_threshold: bool = False,
                 with_history: bool = False) -> FeaturesResult:
        """Simulate, then the 18 features (SCIENCE.md §5) and the run's summary."""
        args = _sim_args(seed, grid_size, steps, alpha, spike_probability, turing_enabled,
                         turing_threshold, quantum_jitter, jitter_var)
        args.update(adaptive_threshold=adaptive_threshold, with_history=with_history)
        if threshold_mv is not None:
            args["threshold_mv"] = threshold_mv
        return features_from(self.tool("extract_features", **args))

    def stream_features(self, seed: int = 42, grid_size: int = 64, steps: int = 64,
                        alpha: float = 0.18, spike_probability: float = 0.25,
                        turing_enabled: bool = True, turing_threshold: float = 0.75,
                        quantum_jitter: bool = False, jitter_var: float = 0.0005, *,
                        threshold_mv: float | None = None, adaptive_threshold: bool = False,
                        with_history: bool = False,
                        steps_per_frame: int = 10) -> Iterator[FeatureFrame]:
        """Features as one run progresses (of the history so far with
        ``with_history``, else of the current field); the last equals :meth:`features`."""
        self._check_spf(steps_per_frame, steps)
        stepper = _core.Stepper(seed, grid_size, steps, alpha, spike_probability,
                                turing_enabled, turing_threshold, quantum_jitter, jitter_var)

        def frames() -> Iterator[FeatureFrame]:
            kept: list[np.ndarray] = []
            while stepper.steps_done < stepper.total_steps:
                if with_history:
                    # Every step's field, as the server keeps it.
                    end = min(stepper.steps_done + steps_per_frame, stepper.total_steps)
                    while stepper.steps_done < end:
                        d = stepper.advance(1, True)
                        kept.append(d["field"])
                    hist = np.stack(kept)
                else:
                    d = stepper.advance(steps_per_frame, True)
                    hist = d["field"][None, :, :]
                values = _core.features_of_history(hist, threshold_mv, adaptive_threshold)
                yield FeatureFrame(step=d["step"], total_steps=d["total_steps"],
                                   features=FeatureVector.from_values(values),
                                   growth_events=d["growth_events"],
                                   pot_mean_mv=d["pot_mean_mV"], pot_std_mv=d["pot_std_mV"],
                                   is_final=d["is_final"])

        return frames()

    def validate(self, seed: int = 42, epochs: int = 1, batch_size: int = 4,
                 grid_size: int = 64, steps: int = 64, turing_enabled: bool = True,
                 quantum_jitter: bool = False) -> ValidationReport:
        """Pattern validation (SCIENCE.md §7): train the small model on 16 simulated
        fields and report losses, field statistics, Lyapunov exponents and Nernst checks."""
        return validation_from(self.tool(
            "validate_patterns", seed=seed, epochs=epochs, batch_size=batch_size,
            grid_size=grid_size, steps=steps, turing_enabled=turing_enabled,
            quantum_jitter=quantum_jitter))

    # -- the other operations ----------------------------------------------------

    def nernst(self, z_valence: int, concentration_out_molar: float,
               concentration_in_molar: float, temperature_k: float = 310.0) -> NernstResult:
        """Nernst potential in mV (SCIENCE.md §3)."""
        mv, rtf, t = _core.nernst(z_valence, concentration_out_molar, concentration_in_molar,
                                  temperature_k)
        return NernstResult(potential_mv=mv, rt_over_f_mv=rtf, temperature_k=t)

    def aggregate(self, gradients, num_clusters: int = 10, byzantine_fraction: float = 0.2,
                  sample_fraction: float = 0.1, seed: int = 42) -> np.ndarray:
        """Hierarchical Krum over the rows of ``gradients`` (SCIENCE.md §8), seeded."""
        g = _f64_2d("gradients", gradients)
        return _core.aggregate(g, num_clusters, byzantine_fraction, sample_fraction, seed)

    def fractal_dimension(self, values, threshold: float = -0.060, num_scales: int = 5,
                          min_box: int = 2) -> FractalResult:
        """Box-counting dimension of a square array thresholded at ``threshold`` (strict
        ``>``; volts for a field, 0.5 for a 0/1 mask)."""
        v = _f64_2d("values", values)
        d, r2, sizes, counts = _core.fractal_dimension(v, threshold, num_scales, min_box)
        return FractalResult(dimension=d, r_squared=r2, box_sizes=tuple(sizes),
                             counts=tuple(counts))

    def ifs(self, seed: int = 42, points: int = 10000, transforms: int = 4) -> IfsResult:
        """A seeded IFS orbit and its Lyapunov exponent (SCIENCE.md §6)."""
        pts, lyap = _core.ifs(seed, points, transforms)
        return IfsResult(lyapunov=lyap, num_points=len(pts), points=pts)

    # -- graphs and networks -----------------------------------------------------

    def tool(self, name: str, /, **args: Any) -> dict:
        """Call a tool of the one registry (graph tools, ``extract_network``,
        ``visualize_graph``, the MFN operations) with keyword arguments; the result is
        the JSON object a server returns for ``POST /v1/tools/{name}``. A rendering
        tool's image is under ``"_image"`` as ``(mime_type, bytes)``."""
        text, image = _core.call_tool(name, json.dumps(args))
        out = json.loads(text)
        if image is not None:
            out["_image"] = image
        return out

    def extract_network(self, field=None, *, name: str = "network", seed: int = 42,
                        grid_size: int = 64, steps: int = 64, alpha: float = 0.18,
                        spike_probability: float = 0.25, turing_enabled: bool = True,
                        turing_threshold: float = 0.75, quantum_jitter: bool = False,
                        jitter_var: float = 0.0005, options: dict | None = None,
                        overwrite: bool = True) -> Network:
        """The mycelial network of a field (GRAPH.md): of ``field`` (a square array in
        volts) when given, else of the simulation the other arguments describe. The
        graph is stored under ``name`` (graph tools can then analyse it) and returned
        with its nodes, edges and metrics."""
        return _extract_network(self.tool, field, name, _sim_args(
            seed, grid_size, steps, alpha, spike_probability, turing_enabled,
            turing_threshold, quantum_jitter, jitter_var), options, overwrite)


def _extract_network(tool, field, name, sim, options, overwrite) -> Network:
    args: dict[str, Any] = {"name": name, "overwrite": overwrite}
    if field is not None:
        a = _f64_2d("field", field)
        if a.shape[0] != a.shape[1]:
            from ._errors import InvalidArgument
            raise InvalidArgument(f"field must be square, got {a.shape[0]}×{a.shape[1]}",
                                  field="field")
        args["field"] = {"size": int(a.shape[0]), "values": a.ravel().tolist()}
    else:
        args["simulation"] = sim
    if options is not None:
        args["options"] = options
    extracted = tool("extract_network", **args)
    exported = tool("export_graph", graph=name, format="json")
    return network_from(extracted, json.loads(exported["data"]))


class LocalSteering:
    """A steered run in this process: the same commands and events as a server's
    ``SteerSimulation``. Commands are applied between chunks of computation — at the
    next frame boundary, or exactly at ``apply_at_step`` — and acknowledged."""

    def __init__(self, stepper, steps_per_frame: int, include_field: bool,
                 paused: bool) -> None:
        self._s = stepper
        self._spf = steps_per_frame
        self._field = include_field
        self._paused = paused
        self._pending: list[tuple[int, dict]] = []
        self._events: list[Any] = []
        self._index = 0
        self._stopped = False
        self._ack("start")

    def __enter__(self) -> "LocalSteering":
        return self

    def __exit__(self, *exc) -> None:
        self._stopped = True

    def _ack(self, command: str) -> None:
        a, p = self._s.parameters
        self._events.append(SteerAck(self._index, command, self._s.steps_done, a, p,
                                     self._paused))
        self._index += 1

    def set_parameters(self, alpha: float | None = None, spike_probability: float | None = None,
                       apply_at_step: int | None = None) -> None:
        """Change ``alpha``/``spike_probability`` from step ``apply_at_step + 1`` on
        (default: the next frame boundary)."""
        self._pending.append((self._index, dict(alpha=alpha, spike_probability=spike_probability,
                                                apply_at_step=apply_at_step)))
        self._index += 1

    def pause(self) -> None:
        """Stop computing until :meth:`resume`."""
        self._paused = True
        self._ack("pause")

    def resume(self) -> None:
        """Continue a paused run."""
        self._paused = False
        self._ack("resume")

    def stop(self) -> None:
        """End the run now, with a final frame at the current step."""
        self._stopped = True
        self._ack("stop")

    def _apply_due(self) -> None:
        done = self._s.steps_done
        keep = []
        for index, cmd in self._pending:
            at = cmd["apply_at_step"]
            if at is None or at <= done:
                self._s.set_parameters(cmd["alpha"], cmd["spike_probability"])
                a, p = self._s.parameters
                self._events.append(SteerAck(index, "set_parameters", done, a, p, self._paused))
            else:
                keep.append((index, cmd))
        self._pending = keep

    def __iter__(self) -> Iterator[Any]:
        while True:
            while self._events:
                yield self._events.pop(0)
            if self._s.steps_done >= self._s.total_steps:
                return
            if self._stopped:
                d = self._s.advance(0, self._field)
                d["is_final"] = True
                yield frame_from(d, field_v=d["field"])
                return
            if self._paused:
                return
            self._apply_due()
            while self._events:
                yield self._events.pop(0)
            done = self._s.steps_done
            boundary = min((done // self._spf + 1) * self._spf, self._s.total_steps)
            due = [c["apply_at_step"] for _, c in self._pending
                   if c["apply_at_step"] is not None and done < c["apply_at_step"] < boundary]
            end = min([boundary, *due])
            d = self._s.advance(end - done, self._field and end == boundary)
            if end == boundary:
                yield frame_from(d, field_v=d["field"])
