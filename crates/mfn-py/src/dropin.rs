//! The reference's functions, with its names, arguments, defaults and return shapes.
//!
//! `simulate_mycelium_field`, `generate_fractal_ifs` and the federated aggregation draw
//! from the caller's `numpy.random.Generator` ([`crate::generator`]) and leave it where
//! the reference would. Parameters are checked by `mfn-core` with the science's limits
//! (SCIENCE.md), so an unstable `alpha` is refused rather than silently saturating;
//! an error leaves the caller's generator untouched. The thin Python wrappers in
//! `mfn/_dropin.py` turn lists and tensors into the arrays these functions take.

use mfn_core::CoreError;
use mfn_core::features::{FeatureOptions, Threshold, extract_features};
use mfn_core::federated::{KrumParams, aggregate_with_rng};
use mfn_core::field::{Simulation, SimulationParams};
use mfn_core::fractal::{BoxCountParams, box_count as core_box_count};
use mfn_core::ifs::lyapunov_from_history;
use mfn_core::nernst::{NernstParams, nernst_potential_v};
use mfn_core::rng::Rng;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors::{core_err, core_err_renamed, invalid};
use crate::generator::Borrowed;

/// A count parameter given as a Python int: negative values are refused by the same
/// check (and message) as values too large.
pub(crate) fn count(v: i64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// A core error about a count clamped by [`count`]: the message shows the value the
/// caller gave (`given` maps field names to the Python ints).
pub(crate) fn shown(py: Python<'_>, e: CoreError, given: &[(&str, i64)]) -> PyErr {
    let mut e = mfn_service::ServiceError::from(e);
    if let Some(field) = e.field.clone()
        && let Some((_, v)) = given.iter().find(|(f, _)| *f == field)
    {
        e.message = e.message.replacen(
            &format!("{field} = {}", usize::MAX),
            &format!("{field} = {v}"),
            1,
        );
    }
    crate::errors::service_err(py, &e)
}

/// `simulate_mycelium_field(rng, grid_size=64, steps=64, alpha=0.18,
/// spike_probability=0.25, turing_enabled=True, turing_threshold=0.75,
/// quantum_jitter=False, jitter_var=0.0005) -> (field, growth_events)`
///
/// The final potential field in volts (an N×N float64 array) and the number of growth
/// events, drawn from `rng` exactly as the reference draws; `rng` is left after the
/// run's last draw. Raises `TypeError` for a generator other than
/// `numpy.random.Generator(PCG64)` and `mfn.InvalidArgument` (a `ValueError`) naming
/// the parameter and its range, e.g. `alpha` above the CFL limit 0.25.
#[pyfunction]
#[pyo3(signature = (rng, grid_size=64, steps=64, alpha=0.18, spike_probability=0.25, turing_enabled=true, turing_threshold=0.75, quantum_jitter=false, jitter_var=0.0005))]
#[allow(clippy::too_many_arguments)]
pub fn simulate_mycelium_field<'py>(
    py: Python<'py>,
    rng: &Bound<'py, PyAny>,
    grid_size: i64,
    steps: i64,
    alpha: f64,
    spike_probability: f64,
    turing_enabled: bool,
    turing_threshold: f64,
    quantum_jitter: bool,
    jitter_var: f64,
) -> PyResult<(Bound<'py, PyArray2<f64>>, u64)> {
    let params = SimulationParams {
        grid_size: count(grid_size),
        steps: count(steps),
        alpha,
        spike_probability,
        turing_enabled,
        turing_threshold,
        quantum_jitter,
        jitter_var,
    };
    if let Err(e) = params.validate() {
        return Err(shown(py, e, &[("grid_size", grid_size), ("steps", steps)]));
    }
    let (borrowed, stream) = Borrowed::take(rng)?;
    let n = params.grid_size;
    let run = py.detach(move || -> Result<(Vec<f64>, u64, Rng), CoreError> {
        let mut sim = Simulation::with_rng(&params, stream)?;
        for _ in 0..params.steps {
            sim.step()?;
        }
        Ok((sim.field().to_vec(), sim.growth_events(), sim.into_rng()))
    });
    match run {
        Ok((field, growth, advanced)) => {
            borrowed.give_back(py, Some(&advanced))?;
            Ok((square(py, field, n)?, growth))
        }
        Err(e) => {
            borrowed.give_back(py, None)?;
            Err(core_err(py, e))
        }
    }
}

/// An N×N array over `values` (moved, not copied).
pub(crate) fn square<'py>(
    py: Python<'py>,
    values: Vec<f64>,
    n: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let a = Array2::from_shape_vec((n, n), values)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
    Ok(a.into_pyarray(py))
}

/// `generate_fractal_ifs(rng, num_points=10000, num_transforms=4) -> (points, lyapunov)`
///
/// A chaos-game orbit of `num_transforms` random contractive affine maps, as a
/// `(num_points, 2)` float64 array, and its Lyapunov exponent (mean log-contraction,
/// negative). Draws from `rng` as the reference does and leaves it after the last draw.
#[pyfunction]
#[pyo3(signature = (rng, num_points=10000, num_transforms=4))]
pub fn generate_fractal_ifs<'py>(
    py: Python<'py>,
    rng: &Bound<'py, PyAny>,
    num_points: i64,
    num_transforms: i64,
) -> PyResult<(Bound<'py, PyArray2<f64>>, f64)> {
    let (points, transforms) = (count(num_points), count(num_transforms));
    let (borrowed, mut stream) = Borrowed::take(rng)?;
    let run = py.detach(move || {
        mfn_core::ifs::generate_fractal_ifs(&mut stream, points, transforms).map(|r| (r, stream))
    });
    match run {
        Ok((r, advanced)) => {
            borrowed.give_back(py, Some(&advanced))?;
            let n = r.points.len();
            let flat: Vec<f64> = r.points.into_flattened();
            let a = Array2::from_shape_vec((n, 2), flat)
                .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
            Ok((a.into_pyarray(py), r.lyapunov))
        }
        Err(e) => {
            // The core checks both counts before its first draw.
            borrowed.give_back(py, None)?;
            Err(shown(
                py,
                e,
                &[
                    ("num_points", num_points),
                    ("num_transforms", num_transforms),
                ],
            ))
        }
    }
}

/// `compute_nernst_potential(z_valence, concentration_out_molar,
/// concentration_in_molar, temperature_k=310.0) -> float`
///
/// The Nernst equilibrium potential in volts, `(R·T)/(z·F)·ln(c_out/c_in)`, with the
/// concentrations clamped below at 1 µM. `z_valence` must be one of −2, −1, 1, 2, 3 and
/// `temperature_k` in [273, 373] K.
#[pyfunction]
#[pyo3(signature = (z_valence, concentration_out_molar, concentration_in_molar, temperature_k=310.0))]
pub fn compute_nernst_potential(
    py: Python<'_>,
    z_valence: i64,
    concentration_out_molar: f64,
    concentration_in_molar: f64,
    temperature_k: f64,
) -> PyResult<f64> {
    let z = i32::try_from(z_valence).unwrap_or(i32::MAX);
    NernstParams::new(
        z,
        concentration_out_molar,
        concentration_in_molar,
        Some(temperature_k),
    )
    .map(|p| nernst_potential_v(&p))
    .map_err(|e| {
        core_err_renamed(
            py,
            e,
            &[
                ("z", "z_valence"),
                ("c_out_m", "concentration_out_molar"),
                ("c_in_m", "concentration_in_molar"),
            ],
        )
    })
}

/// Box counting of a square boolean mask: `(dimension, r_squared, box_sizes, counts)`.
/// `estimate_fractal_dimension` returns the first of these.
#[pyfunction]
#[pyo3(signature = (mask, min_box_size=2, max_box_size=None, num_scales=5))]
pub fn box_count(
    py: Python<'_>,
    mask: PyReadonlyArray2<'_, bool>,
    min_box_size: i64,
    max_box_size: Option<i64>,
    num_scales: i64,
) -> PyResult<(f64, f64, Vec<usize>, Vec<u64>)> {
    let shape = mask.shape();
    if shape[0] != shape[1] {
        return Err(invalid(
            py,
            "binary_field",
            format!(
                "binary_field must be a square 2D array, got {}×{}",
                shape[0], shape[1]
            ),
        ));
    }
    let n = shape[0];
    let cells: Vec<bool> = mask.as_array().iter().copied().collect();
    let params = BoxCountParams {
        min_box: count(min_box_size),
        max_box: max_box_size.map(count),
        num_scales: count(num_scales),
    };
    let r = py
        .detach(move || core_box_count(&cells, n, &params))
        .map_err(|e| {
            core_err_renamed(
                py,
                e,
                &[
                    ("min_box", "min_box_size"),
                    ("max_box", "max_box_size"),
                    ("n", "binary_field"),
                ],
            )
        })?;
    Ok((r.dimension, r.r_squared, r.box_sizes, r.counts))
}

/// The 18 features of a `T×N×N` float64 history in volts, in the canonical order.
#[pyfunction]
#[pyo3(signature = (history, threshold_mv=None, adaptive_threshold=false, num_scales=5, stable_window=10))]
pub fn features_of_history(
    py: Python<'_>,
    history: PyReadonlyArray3<'_, f64>,
    threshold_mv: Option<f64>,
    adaptive_threshold: bool,
    num_scales: i64,
    stable_window: i64,
) -> PyResult<Vec<f64>> {
    let frames = frames_of(py, &history, "field_snapshots")?;
    let n = history.shape()[1];
    let mut options = FeatureOptions {
        num_scales: count(num_scales),
        stable_window: count(stable_window),
        ..FeatureOptions::default()
    };
    if adaptive_threshold {
        options.threshold = Threshold::AdaptiveMedian;
    } else if let Some(mv) = threshold_mv {
        options.threshold = Threshold::FixedMv(mv);
    }
    py.detach(move || extract_features(&frames, n, &options))
        .map(|f| f.values().to_vec())
        .map_err(|e| core_err_renamed(py, e, &[("history", "field_snapshots")]))
}

/// The frames of a square `T×N×N` history, copied out of NumPy's buffer.
pub(crate) fn frames_of(
    py: Python<'_>,
    history: &PyReadonlyArray3<'_, f64>,
    field: &str,
) -> PyResult<Vec<Vec<f64>>> {
    let shape = history.shape();
    if shape[1] != shape[2] {
        return Err(invalid(
            py,
            field,
            format!(
                "{field} must be T×N×N (square frames), got {}×{}×{}",
                shape[0], shape[1], shape[2]
            ),
        ));
    }
    let cells = shape[1] * shape[2];
    let a = history.as_array();
    let flat: Vec<f64> = a.iter().copied().collect();
    Ok(if cells == 0 {
        vec![Vec::new(); shape[0]]
    } else {
        flat.chunks(cells).map(<[f64]>::to_vec).collect()
    })
}

/// `compute_lyapunov_exponent(field_history, dt=1.0)` over a history given as a
/// `T×cells` array (one frame a row).
#[pyfunction]
#[pyo3(signature = (history, dt=1.0))]
pub fn lyapunov_of_history(
    py: Python<'_>,
    history: PyReadonlyArray2<'_, f64>,
    dt: f64,
) -> PyResult<f64> {
    let frames = rows_of(&history);
    py.detach(move || lyapunov_from_history(&frames, dt))
        .map_err(|e| core_err_renamed(py, e, &[("history", "field_history")]))
}

/// Hierarchical Krum over the rows of `gradients`, drawing the sample and the cluster
/// assignment from `rng` (`HierarchicalKrumAggregator.aggregate`).
#[pyfunction]
#[pyo3(signature = (gradients, rng, num_clusters=100, byzantine_fraction=0.2, sample_fraction=0.1))]
pub fn krum_aggregate<'py>(
    py: Python<'py>,
    gradients: PyReadonlyArray2<'py, f64>,
    rng: &Bound<'py, PyAny>,
    num_clusters: i64,
    byzantine_fraction: f64,
    sample_fraction: f64,
) -> PyResult<Bound<'py, numpy::PyArray1<f64>>> {
    let rows = rows_of(&gradients);
    let params = KrumParams {
        num_clusters: count(num_clusters),
        byzantine_fraction,
        sample_fraction,
        seed: 0,
    };
    if let Err(e) = params.validate() {
        return Err(shown(py, e, &[("num_clusters", num_clusters)]));
    }
    let (borrowed, mut stream) = Borrowed::take(rng)?;
    let run =
        py.detach(move || aggregate_with_rng(&rows, &params, &mut stream).map(|g| (g, stream)));
    match run {
        Ok((g, advanced)) => {
            borrowed.give_back(py, Some(&advanced))?;
            Ok(g.into_pyarray(py))
        }
        Err(e) => {
            borrowed.give_back(py, None)?;
            Err(core_err_renamed(
                py,
                e,
                &[("gradients", "client_gradients")],
            ))
        }
    }
}

/// The rows of a 2-D array, copied.
pub(crate) fn rows_of(a: &PyReadonlyArray2<'_, f64>) -> Vec<Vec<f64>> {
    a.as_array()
        .rows()
        .into_iter()
        .map(|r| r.to_vec())
        .collect()
}
