//! # mfn-core — the science of MyceliumFractalNet
//!
//! Pure computation, no I/O: every routine is a function of its typed, validated
//! parameters and a seed, so the same request gives the same bytes on every run and
//! every thread count.
//!
//! | module | computes |
//! |---|---|
//! | [`rng`] | NumPy-compatible random numbers (`default_rng(seed)`) |
//! | [`field`] | the reaction–diffusion potential field with growth and Turing patterning |
//! | [`nernst`] | membrane potentials |
//! | [`fractal`] | box-counting fractal dimension |
//! | [`features`] | the 18 canonical features of a field history |
//! | [`network`] | mycelial network extraction: mask, Zhang–Suen skeleton, graph |
//! | [`ifs`] | IFS fractals and Lyapunov exponents |
//! | [`validation`] | pattern validation by training a small model |
//! | [`federated`] | hierarchical Krum aggregation |
//! | [`stats`] | NumPy-compatible reductions (pairwise summation) |

/// The seed every seeded operation uses when none is given (the reference's default).
pub const DEFAULT_SEED: u64 = 42;

pub mod error;
pub mod features;
pub mod federated;
pub mod field;
pub mod fractal;
pub mod ifs;
pub mod nernst;
pub mod network;
pub mod rng;
pub mod stats;
pub mod validation;
mod ziggurat_tables;

pub use error::{CoreError, Result};
