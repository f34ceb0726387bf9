//! The modern API's primitives: `mfn.simulate`, the stepper behind local streams and
//! steering, Nernst, aggregation, box counting and IFS.
//!
//! Parameters are validated by `mfn-service`'s request types ([`SimInput::resolve`]
//! and friends), the same checks and messages every server door applies, with the
//! science's own upper limits in place of a server's configured ones ([`limits`]). The
//! results are dicts keyed by the REST and gRPC field names (`pot_mean_mV`, …); the
//! Python layer turns them into the same dataclasses the gRPC client builds.

use mfn_core::field::{Simulation, SimulationResult};
use mfn_service::ServiceError;
use mfn_service::request::{
    AggregateRequest, FeaturesRequest, FractalRequest, IfsRequest, Limits, NernstRequest, SimInput,
};
use numpy::ndarray::{Array2, Array3};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::dropin::{rows_of, square};
use crate::errors::{core_err, invalid, service_err};

/// In-process limits: the science's (`mfn-core`), not a server's configuration.
pub fn limits() -> Limits {
    Limits {
        max_grid_size: mfn_core::field::MAX_GRID_SIZE,
        max_steps: mfn_core::field::MAX_STEPS,
        ..Limits::default()
    }
}

/// A Python int for a `u32` request field: out-of-range values are clamped so the
/// request's own check refuses them, and [`given`] puts the caller's value back into
/// the message.
fn u32_field(v: Option<i64>) -> Option<u32> {
    v.map(|v| u32::try_from(v.max(0)).unwrap_or(u32::MAX))
}

fn given(py: Python<'_>, mut e: ServiceError, values: &[(&str, Option<i64>)]) -> PyErr {
    if let Some(field) = e.field.clone()
        && let Some((_, Some(v))) = values.iter().find(|(f, _)| *f == field)
        && let Some(clamped) = u32_field(Some(*v))
    {
        e.message = e.message.replacen(
            &format!("{field} = {clamped}"),
            &format!("{field} = {v}"),
            1,
        );
    }
    service_err(py, &e)
}

/// A seed given as a Python int, `[0, 2⁶⁴)`.
fn seed_field(py: Python<'_>, field: &str, v: Option<i128>) -> PyResult<Option<u64>> {
    v.map(|v| {
        u64::try_from(v).map_err(|_| {
            invalid(
                py,
                field,
                format!(
                    "{field} = {v} is out of range: must be in [0, {}]",
                    u64::MAX
                ),
            )
        })
    })
    .transpose()
}

/// The simulation parameters of every modern call, as a request.
#[allow(clippy::too_many_arguments)]
fn sim_input(
    py: Python<'_>,
    seed: Option<i128>,
    grid_size: Option<i64>,
    steps: Option<i64>,
    alpha: Option<f64>,
    spike_probability: Option<f64>,
    turing_enabled: Option<bool>,
    turing_threshold: Option<f64>,
    quantum_jitter: Option<bool>,
    jitter_var: Option<f64>,
) -> PyResult<SimInput> {
    Ok(SimInput {
        seed: seed_field(py, "seed", seed)?,
        grid_size: u32_field(grid_size),
        steps: u32_field(steps),
        alpha,
        spike_probability,
        turing_enabled,
        turing_threshold,
        quantum_jitter,
        jitter_var,
    })
}

/// The summary of a run as a dict with the wire's names (field excluded).
fn summary_dict<'py>(
    py: Python<'py>,
    r: &SimulationResult,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("seed", seed)?;
    d.set_item("grid_size", r.grid_size)?;
    d.set_item("steps", r.steps)?;
    d.set_item("growth_events", r.growth_events)?;
    d.set_item("turing_activations", r.turing_activations)?;
    d.set_item("clamping_events", r.clamping_events)?;
    d.set_item("pot_min_mV", r.pot_min_mv)?;
    d.set_item("pot_max_mV", r.pot_max_mv)?;
    d.set_item("pot_mean_mV", r.pot_mean_mv)?;
    d.set_item("pot_std_mV", r.pot_std_mv)?;
    d.set_item("fractal_dimension", r.fractal_dimension)?;
    d.set_item("activator_mean", r.activator_mean)?;
    d.set_item("inhibitor_mean", r.inhibitor_mean)?;
    Ok(d)
}

/// Run a seeded simulation: a dict of the summary (wire names), the parameters used,
/// `field` (N×N volts, the engine's buffer handed to NumPy without a copy) and
/// `history` (T×N×N volts after every step, or `None`).
#[pyfunction]
#[pyo3(signature = (seed=None, grid_size=None, steps=None, alpha=None, spike_probability=None, turing_enabled=None, turing_threshold=None, quantum_jitter=None, jitter_var=None, history=false))]
#[allow(clippy::too_many_arguments)]
pub fn simulate<'py>(
    py: Python<'py>,
    seed: Option<i128>,
    grid_size: Option<i64>,
    steps: Option<i64>,
    alpha: Option<f64>,
    spike_probability: Option<f64>,
    turing_enabled: Option<bool>,
    turing_threshold: Option<f64>,
    quantum_jitter: Option<bool>,
    jitter_var: Option<f64>,
    history: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let input = sim_input(
        py,
        seed,
        grid_size,
        steps,
        alpha,
        spike_probability,
        turing_enabled,
        turing_threshold,
        quantum_jitter,
        jitter_var,
    )?;
    let counts = [("grid_size", grid_size), ("steps", steps)];
    let spec = if history {
        // The history budget of `with_history` feature requests (128 MB of doubles).
        FeaturesRequest {
            sim: input,
            with_history: true,
            ..FeaturesRequest::default()
        }
        .resolve(&limits())
        .map(|f| f.sim)
    } else {
        input.resolve(&limits())
    }
    .map_err(|e| given(py, e, &counts))?;
    let p = spec.params.clone();
    let seed = spec.seed;
    let run = py.detach(
        move || -> Result<(SimulationResult, Option<Vec<f64>>), ServiceError> {
            let mut sim = Simulation::new(&p, seed)?;
            let mut frames =
                history.then(|| Vec::with_capacity(p.steps * p.grid_size * p.grid_size));
            for _ in 0..p.steps {
                sim.step()?;
                if let Some(h) = frames.as_mut() {
                    h.extend_from_slice(sim.field());
                }
            }
            Ok((sim.summary(), frames))
        },
    );
    let (mut r, frames) = run.map_err(|e| service_err(py, &e))?;
    let n = r.grid_size;
    let d = summary_dict(py, &r, seed)?;
    params_into(&d, &spec.params)?;
    d.set_item("field", square(py, std::mem::take(&mut r.field), n)?)?;
    match frames {
        Some(h) => {
            let t = h.len() / (n * n);
            let a = Array3::from_shape_vec((t, n, n), h)
                .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
            d.set_item("history", a.into_pyarray(py))?;
        }
        None => d.set_item("history", py.None())?,
    }
    Ok(d)
}

fn params_into(d: &Bound<'_, PyDict>, p: &mfn_core::field::SimulationParams) -> PyResult<()> {
    d.set_item("alpha", p.alpha)?;
    d.set_item("spike_probability", p.spike_probability)?;
    d.set_item("turing_enabled", p.turing_enabled)?;
    d.set_item("turing_threshold", p.turing_threshold)?;
    d.set_item("quantum_jitter", p.quantum_jitter)?;
    d.set_item("jitter_var", p.jitter_var)
}

/// One continuous run advanced frame by frame: local streams and local steering.
///
/// `Stepper(seed=None, grid_size=None, …)` validates like `simulate`; `advance(k)`
/// runs `k` steps with the GIL released and returns the frame (wire names, the field
/// when asked); `set_parameters` changes `alpha` / `spike_probability` between frames,
/// as a steering command does on the server.
#[pyclass(module = "mfn._core")]
pub struct Stepper {
    sim: Simulation,
    seed: u64,
    total_steps: usize,
}

#[pymethods]
impl Stepper {
    #[new]
    #[pyo3(signature = (seed=None, grid_size=None, steps=None, alpha=None, spike_probability=None, turing_enabled=None, turing_threshold=None, quantum_jitter=None, jitter_var=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        seed: Option<i128>,
        grid_size: Option<i64>,
        steps: Option<i64>,
        alpha: Option<f64>,
        spike_probability: Option<f64>,
        turing_enabled: Option<bool>,
        turing_threshold: Option<f64>,
        quantum_jitter: Option<bool>,
        jitter_var: Option<f64>,
    ) -> PyResult<Self> {
        let input = sim_input(
            py,
            seed,
            grid_size,
            steps,
            alpha,
            spike_probability,
            turing_enabled,
            turing_threshold,
            quantum_jitter,
            jitter_var,
        )?;
        let spec = input
            .resolve(&limits())
            .map_err(|e| given(py, e, &[("grid_size", grid_size), ("steps", steps)]))?;
        let p = spec.params.clone();
        let sim = py
            .detach(move || Simulation::new(&p, spec.seed))
            .map_err(|e| core_err(py, e))?;
        Ok(Stepper {
            total_steps: spec.params.steps,
            seed: spec.seed,
            sim,
        })
    }

    /// Steps done so far.
    #[getter]
    fn steps_done(&self) -> usize {
        self.sim.steps_done()
    }

    /// Steps of the whole run.
    #[getter]
    fn total_steps(&self) -> usize {
        self.total_steps
    }

    /// The parameters in force: `(alpha, spike_probability)`.
    #[getter]
    fn parameters(&self) -> (f64, f64) {
        let p = self.sim.params();
        (p.alpha, p.spike_probability)
    }

    /// Run `steps` more steps (not past the end) and return the frame after them.
    #[pyo3(signature = (steps, include_field=false))]
    fn advance<'py>(
        &mut self,
        py: Python<'py>,
        steps: usize,
        include_field: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let todo = steps.min(self.total_steps - self.sim.steps_done());
        let (alpha, spike_probability) = self.parameters();
        let sim = &mut self.sim;
        let r = py
            .detach(move || -> Result<SimulationResult, mfn_core::CoreError> {
                for _ in 0..todo {
                    sim.step()?;
                }
                Ok(sim.summary())
            })
            .map_err(|e| core_err(py, e))?;
        let d = summary_dict(py, &r, self.seed)?;
        d.set_item("step", r.steps)?;
        d.set_item("total_steps", self.total_steps)?;
        d.set_item("is_final", r.steps >= self.total_steps)?;
        d.set_item("alpha", alpha)?;
        d.set_item("spike_probability", spike_probability)?;
        let n = r.grid_size;
        if include_field {
            d.set_item("field", square(py, r.field, n)?)?;
        } else {
            d.set_item("field", py.None())?;
        }
        Ok(d)
    }

    /// Change `alpha` and/or `spike_probability` for the steps that follow; validated
    /// like the run's own parameters.
    #[pyo3(signature = (alpha=None, spike_probability=None))]
    fn set_parameters(
        &mut self,
        py: Python<'_>,
        alpha: Option<f64>,
        spike_probability: Option<f64>,
    ) -> PyResult<()> {
        if let Some(a) = alpha {
            self.sim.set_alpha(a).map_err(|e| core_err(py, e))?;
        }
        if let Some(p) = spike_probability {
            self.sim
                .set_spike_probability(p)
                .map_err(|e| core_err(py, e))?;
        }
        Ok(())
    }
}

/// `ComputeNernst`: `(potential_mV, rt_over_f_mV, temperature_K)`.
#[pyfunction]
#[pyo3(signature = (z_valence, concentration_out_molar, concentration_in_molar, temperature_k=None))]
pub fn nernst(
    py: Python<'_>,
    z_valence: i64,
    concentration_out_molar: f64,
    concentration_in_molar: f64,
    temperature_k: Option<f64>,
) -> PyResult<(f64, f64, f64)> {
    let p = NernstRequest {
        z_valence: i32::try_from(z_valence).unwrap_or(i32::MAX),
        concentration_out_m: concentration_out_molar,
        concentration_in_m: concentration_in_molar,
        temperature_k,
    }
    .resolve()
    .map_err(|e| service_err(py, &e))?;
    Ok((
        mfn_core::nernst::nernst_potential_mv(&p),
        mfn_core::nernst::rt_over_f_mv(p.temperature_k),
        p.temperature_k,
    ))
}

/// `AggregateFederated`: hierarchical Krum over the rows of `gradients`, seeded.
#[pyfunction]
#[pyo3(signature = (gradients, num_clusters=None, byzantine_fraction=None, sample_fraction=None, seed=None))]
pub fn aggregate<'py>(
    py: Python<'py>,
    gradients: PyReadonlyArray2<'py, f64>,
    num_clusters: Option<i64>,
    byzantine_fraction: Option<f64>,
    sample_fraction: Option<f64>,
    seed: Option<i128>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let req = AggregateRequest {
        gradients: rows_of(&gradients),
        num_clusters: u32_field(num_clusters),
        byzantine_fraction,
        sample_fraction,
        seed: seed_field(py, "seed", seed)?,
    };
    let params = req
        .resolve(&limits())
        .map_err(|e| given(py, e, &[("num_clusters", num_clusters)]))?;
    let out = py
        .detach(move || mfn_core::federated::aggregate(&req.gradients, &params))
        .map_err(|e| core_err(py, e))?;
    Ok(out.into_pyarray(py))
}

/// `ComputeFractalDimension`: `(dimension, r_squared, box_sizes, counts)` of the
/// square array `values` thresholded at `threshold` (strict `>`).
#[pyfunction]
#[pyo3(signature = (values, threshold=None, num_scales=None, min_box=None))]
pub fn fractal_dimension(
    py: Python<'_>,
    values: PyReadonlyArray2<'_, f64>,
    threshold: Option<f64>,
    num_scales: Option<i64>,
    min_box: Option<i64>,
) -> PyResult<(f64, f64, Vec<usize>, Vec<u64>)> {
    let shape = values.shape();
    if shape[0] != shape[1] {
        return Err(invalid(
            py,
            "values",
            format!(
                "values must be a square array, got {}×{}",
                shape[0], shape[1]
            ),
        ));
    }
    let flat: Vec<f64> = values.as_array().iter().copied().collect();
    if let Some(i) = flat.iter().position(|v| !v.is_finite()) {
        return Err(invalid(
            py,
            "values",
            format!("values has a non-finite value at index {i}"),
        ));
    }
    let req = FractalRequest {
        values: flat,
        size: u32::try_from(shape[0]).unwrap_or(u32::MAX),
        threshold,
        num_scales: u32_field(num_scales),
        min_box: u32_field(min_box),
    };
    let (mask, n, params) = req
        .resolve(&limits())
        .map_err(|e| given(py, e, &[("num_scales", num_scales), ("min_box", min_box)]))?;
    let r = py
        .detach(move || mfn_core::fractal::box_count(&mask, n, &params))
        .map_err(|e| core_err(py, e))?;
    Ok((r.dimension, r.r_squared, r.box_sizes, r.counts))
}

/// `GenerateIFS`: `(points (n×2), lyapunov)` of a seeded orbit.
#[pyfunction]
#[pyo3(signature = (seed=None, points=None, transforms=None))]
pub fn ifs<'py>(
    py: Python<'py>,
    seed: Option<i128>,
    points: Option<i64>,
    transforms: Option<i64>,
) -> PyResult<(Bound<'py, numpy::PyArray2<f64>>, f64)> {
    let req = IfsRequest {
        seed: seed_field(py, "seed", seed)?,
        points: u32_field(points),
        transforms: u32_field(transforms),
    };
    let (seed, n, maps) = req
        .resolve()
        .map_err(|e| given(py, e, &[("points", points), ("transforms", transforms)]))?;
    let r = py
        .detach(move || {
            mfn_core::ifs::generate_fractal_ifs(&mut mfn_core::rng::Rng::new(seed), n, maps)
        })
        .map_err(|e| core_err(py, e))?;
    let count = r.points.len();
    let a = Array2::from_shape_vec((count, 2), r.points.into_flattened())
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
    Ok((a.into_pyarray(py), r.lyapunov))
}
