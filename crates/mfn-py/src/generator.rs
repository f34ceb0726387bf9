//! A NumPy `Generator` backed by `PCG64`, borrowed for one computation.
//!
//! The reference's functions draw from the caller's `numpy.random.Generator`. We read
//! its bit generator's complete state (`bit_generator.state`: the 128-bit state and
//! increment, and the cached 32-bit half `has_uint32`/`uinteger`), run the computation
//! on `mfn_core::rng::Rng` — bit-compatible with NumPy's PCG64 and its distributions —
//! and write the advanced state back, so the caller's generator ends exactly where the
//! reference would leave it. The bit generator's own lock is held from the read to the
//! write-back, as NumPy holds it while it draws, so another thread sharing the
//! generator cannot interleave. Any other bit generator is refused: its stream is not
//! one we reproduce.

use mfn_core::rng::{Pcg64State, Rng};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The caller's generator, locked until [`Borrowed::give_back`].
pub struct Borrowed<'py> {
    bit_generator: Bound<'py, PyAny>,
    lock: Bound<'py, PyAny>,
}

impl<'py> Borrowed<'py> {
    /// Lock `generator`'s bit generator and read its state: the lock and the stream,
    /// positioned where the caller's generator is. Errors: `TypeError` when
    /// `generator` is not a `numpy.random.Generator` or its bit generator is not
    /// `PCG64`.
    pub fn take(generator: &Bound<'py, PyAny>) -> PyResult<(Self, Rng)> {
        let bit_generator = generator.getattr("bit_generator").map_err(|_| {
            PyTypeError::new_err(format!(
                "rng must be a numpy.random.Generator (numpy.random.default_rng(seed)), got {}",
                type_name(generator)
            ))
        })?;
        let kind = type_name(&bit_generator);
        if kind != "PCG64" {
            return Err(PyTypeError::new_err(format!(
                "rng must be backed by PCG64 (numpy.random.default_rng(seed) or Generator(PCG64(seed))), got {kind}: only PCG64's stream is reproduced"
            )));
        }
        let lock = bit_generator.getattr("lock")?;
        lock.call_method0("acquire")?;
        match read_state(&bit_generator) {
            Ok(state) => Ok((
                Borrowed {
                    bit_generator,
                    lock,
                },
                Rng::from_pcg64_state(state),
            )),
            Err(e) => {
                lock.call_method0("release")?;
                Err(e)
            }
        }
    }

    /// Write `advanced`'s state back (`None`: the computation failed, the caller's
    /// generator is left untouched) and unlock the generator.
    pub fn give_back(self, py: Python<'py>, advanced: Option<&Rng>) -> PyResult<()> {
        let written = match advanced {
            Some(rng) => write_state(py, &self.bit_generator, rng.pcg64_state()),
            None => Ok(()),
        };
        self.lock.call_method0("release")?;
        written
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "an unknown type".to_string(), |n| n.to_string())
}

fn read_state(bit_generator: &Bound<'_, PyAny>) -> PyResult<Pcg64State> {
    let all = bit_generator.getattr("state")?;
    let inner = all.get_item("state")?;
    let state: u128 = inner.get_item("state")?.extract()?;
    let inc: u128 = inner.get_item("inc")?.extract()?;
    let has_uint32: i64 = all.get_item("has_uint32")?.extract()?;
    let uinteger: u32 = all.get_item("uinteger")?.extract()?;
    Ok(Pcg64State {
        state,
        inc,
        has_uint32: has_uint32 != 0,
        uinteger,
    })
}

fn write_state(py: Python<'_>, bit_generator: &Bound<'_, PyAny>, s: Pcg64State) -> PyResult<()> {
    let inner = PyDict::new(py);
    inner.set_item("state", s.state)?;
    inner.set_item("inc", s.inc)?;
    let all = PyDict::new(py);
    all.set_item("bit_generator", "PCG64")?;
    all.set_item("state", inner)?;
    all.set_item("has_uint32", i64::from(s.has_uint32))?;
    all.set_item("uinteger", s.uinteger)?;
    bit_generator.setattr("state", all)
}
