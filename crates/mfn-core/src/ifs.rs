//! Iterated function systems and Lyapunov exponents.
//!
//! # IFS fractal
//! An iterated function system is a finite set of contractions `w_k`; its attractor is
//! the unique compact set `A = ∪ w_k(A)` (Hutchinson 1981). The *chaos game* (Barnsley,
//! *Fractals Everywhere*, 1988) approximates `A` by iterating a randomly chosen map.
//! Here each map is a rotation-and-scaling followed by a translation,
//!
//! ```text
//! w_k(x, y) = (a·x + b·y + e,  c·x + d·y + f)
//! a = s·cos θ,  b = −s·sin θ,  c = s·sin θ,  d = s·cos θ
//! ```
//!
//! with the parameters drawn per map, in this order, from the caller's generator:
//! `s = uniform(0.2, 0.5)`, `θ = uniform(0, 2π)`, `e = uniform(−1, 1)`,
//! `f = uniform(−1, 1)`. The orbit starts at `(0, 0)` with no burn-in; before each point
//! the map index is drawn as `k = integers(0, num_transforms)`, the map is applied and
//! the new point recorded. Every draw, and every floating-point operation (left to right,
//! no fused multiply-add), follows the Python reference, so the same seed gives the same
//! points bit for bit.
//!
//! The orbit's Lyapunov exponent is the mean log-contraction of the maps it used,
//!
//! ```text
//! λ = (1/M) Σ_points ln |a_k·d_k − b_k·c_k| = mean of ln s_k²
//! ```
//!
//! summed left to right over the points whose `|det| > 1e-10` (`M` of them; `λ = 0` if
//! none). With `s ∈ [0.2, 0.5)`, `λ ∈ [2 ln 0.2, 2 ln 0.5) ≈ [−3.22, −1.39)`: the
//! system is contracting, as it must be for the attractor to exist.
//!
//! # Lyapunov exponent of a field history
//! For a sequence of fields `h_0 … h_(T−1)` (time step `dt`),
//!
//! ```text
//! λ = Σ_(t≥1) ln RMS(h_t − h_(t−1)) / ((T − 1)·dt),   RMS(x) = sqrt(mean(x²))
//! ```
//!
//! where terms with `RMS ≤ 1e-12` contribute 0 but still count in the divisor, so a
//! frozen history has `λ = 0`. The mean is NumPy's pairwise mean.
//!
//! ```
//! use mfn_core::{ifs::generate_fractal_ifs, rng::Rng};
//! let r = generate_fractal_ifs(&mut Rng::new(42), 1000, 4)?;
//! assert_eq!(r.points.len(), 1000);
//! assert!(r.lyapunov < 0.0);
//! # Ok::<(), mfn_core::CoreError>(())
//! ```

use std::f64::consts::TAU;

use crate::error::{CoreError, Result, check_range_usize};
use crate::rng::Rng;
use crate::stats;

/// Largest accepted `num_points`.
pub const MAX_POINTS: usize = 10_000_000;

/// Largest accepted `num_transforms`.
pub const MAX_TRANSFORMS: usize = 64;

/// Determinants at or below this magnitude are left out of the Lyapunov mean.
const DET_EPS: f64 = 1e-10;

/// RMS differences at or below this contribute nothing to [`lyapunov_from_history`].
const RMS_EPS: f64 = 1e-12;

/// Points of an IFS orbit and the orbit's Lyapunov exponent.
///
/// ```
/// let r = mfn_core::ifs::generate_fractal_ifs(&mut mfn_core::rng::Rng::new(1), 10, 2)?;
/// assert_eq!(r.points.len(), 10);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct IfsResult {
    /// Orbit points `(x, y)`, in the order generated.
    pub points: Vec<[f64; 2]>,
    /// Mean `ln |det|` of the maps applied (negative: contracting).
    pub lyapunov: f64,
}

/// One affine map `(x, y) → (a·x + b·y + e, c·x + d·y + f)`.
#[derive(Debug, Clone, Copy)]
struct Affine {
    a: f64,
    b: f64,
    c: f64,
    d: f64,
    e: f64,
    f: f64,
}

/// Run the chaos game for `num_points` points over `num_transforms` random similarity
/// maps, drawing everything from `rng` (see the module docs for the exact order).
///
/// Errors: `num_points` outside `[1, 10_000_000]`, `num_transforms` outside `[1, 64]`;
/// nothing is drawn from `rng` in that case.
///
/// ```
/// use mfn_core::{ifs::generate_fractal_ifs, rng::Rng};
/// let a = generate_fractal_ifs(&mut Rng::new(7), 500, 4)?;
/// let b = generate_fractal_ifs(&mut Rng::new(7), 500, 4)?;
/// assert_eq!(a, b);
/// assert!(generate_fractal_ifs(&mut Rng::new(7), 0, 4).is_err());
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn generate_fractal_ifs(
    rng: &mut Rng,
    num_points: usize,
    num_transforms: usize,
) -> Result<IfsResult> {
    check_range_usize("num_points", num_points, 1, MAX_POINTS)?;
    check_range_usize("num_transforms", num_transforms, 1, MAX_TRANSFORMS)?;

    let maps: Vec<Affine> = (0..num_transforms)
        .map(|_| {
            let s = rng.uniform(0.2, 0.5);
            let theta = rng.uniform(0.0, TAU);
            let (sin, cos) = (theta.sin(), theta.cos());
            let a = s * cos;
            let b = -s * sin;
            let c = s * sin;
            let d = s * cos;
            let e = rng.uniform(-1.0, 1.0);
            let f = rng.uniform(-1.0, 1.0);
            Affine { a, b, c, d, e, f }
        })
        .collect();

    let mut points = Vec::with_capacity(num_points);
    let (mut x, mut y) = (0.0f64, 0.0f64);
    let mut log_det_sum = 0.0;
    let mut kept = 0usize;
    for _ in 0..num_points {
        let m = maps[rng.integers(num_transforms as u64) as usize];
        let x_new = m.a * x + m.b * y + m.e;
        let y_new = m.c * x + m.d * y + m.f;
        x = x_new;
        y = y_new;
        points.push([x, y]);
        let det = (m.a * m.d - m.b * m.c).abs();
        if det > DET_EPS {
            log_det_sum += det.ln();
            kept += 1;
        }
    }
    let lyapunov = if kept == 0 {
        0.0
    } else {
        log_det_sum / kept as f64
    };
    Ok(IfsResult { points, lyapunov })
}

/// Lyapunov exponent of a field history (frames of equal, non-zero length; see the
/// module docs).
///
/// Errors: fewer than two frames, an empty or ragged frame (naming its index), a
/// non-finite value, `dt` not finite and positive.
///
/// ```
/// use mfn_core::ifs::lyapunov_from_history;
/// // Differences shrink by e each step: ln RMS = 0, −1, −2 → λ = −3/3 = −1.
/// let e = std::f64::consts::E;
/// let h = vec![vec![0.0; 4], vec![1.0; 4], vec![1.0 + 1.0 / e; 4], vec![1.0 + 1.0 / e + 1.0 / (e * e); 4]];
/// assert!((lyapunov_from_history(&h, 1.0)? + 1.0).abs() < 1e-12);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn lyapunov_from_history(history: &[Vec<f64>], dt: f64) -> Result<f64> {
    if !(dt.is_finite() && dt > 0.0) {
        return Err(CoreError::out_of_range("dt", dt, "must be finite and > 0"));
    }
    if history.len() < 2 {
        return Err(CoreError::invalid(
            "history",
            format!("needs at least 2 frames, got {}", history.len()),
        ));
    }
    let cells = history[0].len();
    if cells == 0 {
        return Err(CoreError::invalid("history", "frame 0 is empty"));
    }
    for (t, frame) in history.iter().enumerate() {
        if frame.len() != cells {
            return Err(CoreError::invalid(
                "history",
                format!("frame {t} has {} values, frame 0 has {cells}", frame.len()),
            ));
        }
        if let Some(i) = frame.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::invalid(
                "history",
                format!("frame {t} has a non-finite value at index {i}"),
            ));
        }
    }

    let mut sq = vec![0.0; cells];
    let mut log_sum = 0.0;
    for pair in history.windows(2) {
        for ((s, &now), &before) in sq.iter_mut().zip(&pair[1]).zip(&pair[0]) {
            let d = (now - before).abs();
            *s = d * d;
        }
        let rms = stats::mean(&sq).sqrt();
        if rms > RMS_EPS {
            log_sum += rms.ln();
        }
    }
    Ok(log_sum / ((history.len() - 1) as f64 * dt))
}

/// The bytes the CLI hashes to fingerprint an orbit: each point as little-endian `f64`
/// `x` then `y`, in order (16 bytes per point).
///
/// ```
/// let bytes = mfn_core::ifs::points_sha256_bytes(&[[1.0, -2.0]]);
/// assert_eq!(bytes.len(), 16);
/// assert_eq!(&bytes[..8], &1.0f64.to_le_bytes());
/// ```
pub fn points_sha256_bytes(points: &[[f64; 2]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(points.len() * 16);
    for p in points {
        out.extend_from_slice(&p[0].to_le_bytes());
        out.extend_from_slice(&p[1].to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_history_has_zero_exponent() {
        let h = vec![vec![0.5; 9]; 5];
        assert_eq!(lyapunov_from_history(&h, 1.0).unwrap(), 0.0);
    }

    #[test]
    fn limits_are_checked_before_drawing() {
        let mut rng = Rng::new(3);
        let before = rng.clone().next_u64();
        assert!(generate_fractal_ifs(&mut rng, 1, 65).is_err());
        assert!(generate_fractal_ifs(&mut rng, MAX_POINTS + 1, 4).is_err());
        assert_eq!(rng.next_u64(), before);
    }
}
