//! `mfn._core`: the native half of the `mfn` Python package.
//!
//! The package (`crates/mfn-py/python/mfn`) re-exports these functions under the
//! reference's names and wraps the modern API's results in dataclasses. Everything here
//! is an adapter: parameters are validated by `mfn-core` (drop-in functions, whose
//! limits are the science's) or by `mfn-service`'s request types (modern API, the same
//! checks and messages as every server door), the computation is `mfn-core`'s, and the
//! GIL is released while it runs.
//!
//! | module | holds |
//! |---|---|
//! | [`generator`] | reading and writing a NumPy `Generator(PCG64)`'s state |
//! | [`dropin`] | the reference's functions (`simulate_mycelium_field`, …) |
//! | [`api`] | the modern API's primitives (`simulate`, the stepper, features, …) |
//! | [`engine`] | an in-process `MfnService` for the tool registry |
//! | [`errors`] | `CoreError` / `ServiceError` → `mfn.MfnError` subclasses |

use pyo3::prelude::*;

pub mod api;
pub mod dropin;
pub mod engine;
pub mod errors;
pub mod generator;

/// The extension module `mfn._core`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(dropin::simulate_mycelium_field, m)?)?;
    m.add_function(wrap_pyfunction!(dropin::generate_fractal_ifs, m)?)?;
    m.add_function(wrap_pyfunction!(dropin::compute_nernst_potential, m)?)?;
    m.add_function(wrap_pyfunction!(dropin::box_count, m)?)?;
    m.add_function(wrap_pyfunction!(dropin::features_of_history, m)?)?;
    m.add_function(wrap_pyfunction!(dropin::lyapunov_of_history, m)?)?;
    m.add_function(wrap_pyfunction!(dropin::krum_aggregate, m)?)?;
    m.add_function(wrap_pyfunction!(api::simulate, m)?)?;
    m.add_function(wrap_pyfunction!(api::nernst, m)?)?;
    m.add_function(wrap_pyfunction!(api::aggregate, m)?)?;
    m.add_function(wrap_pyfunction!(api::fractal_dimension, m)?)?;
    m.add_function(wrap_pyfunction!(api::ifs, m)?)?;
    m.add_function(wrap_pyfunction!(engine::call_tool, m)?)?;
    m.add_class::<api::Stepper>()?;
    Ok(())
}
