//! Nernst equilibrium potentials.
//!
//! The Nernst equation gives the membrane potential at which the diffusive flux of an
//! ion across a membrane is balanced by the electric field (Nernst 1889; Hille,
//! *Ion Channels of Excitable Membranes*, 3rd ed., ch. 1):
//!
//! ```text
//! E = (R·T)/(z·F) · ln(c_out / c_in)          [V]
//! ```
//!
//! with the gas constant `R = 8.314 J/(mol·K)`, Faraday's constant
//! `F = 96485.33212 C/mol`, the absolute temperature `T` in kelvin, the ion's valence
//! `z` and its concentrations outside and inside the cell in mol/L. The result is
//! reported in millivolts: `E_mV = (R·T)/(z·F) · ln(c_out/c_in) · 1000`, evaluated in
//! exactly this order so that it matches the Python reference digit for digit.
//!
//! Concentrations are clamped below at `1e-6 M` (1 µM) before the logarithm, so a
//! nominal zero — or a 100 nM resting calcium level — gives a finite potential; this is
//! the reference's convention. An absent temperature means body temperature, 310 K
//! (never 0 K). At 310 K, `RT/F = 26.71224675678714 mV`.
//!
//! Accepted inputs: `z ∈ {−2, −1, 1, 2, 3}`, `T ∈ [273, 373] K`, concentrations finite
//! and `≥ 0`.
//!
//! ```
//! use mfn_core::nernst::{nernst_potential_mv, NernstParams};
//! // K⁺: 5 mM outside, 140 mM inside, 310 K.
//! let k = NernstParams::new(1, 5e-3, 140e-3, None)?;
//! assert_eq!(nernst_potential_mv(&k), -89.01066911987907);
//! # Ok::<(), mfn_core::CoreError>(())
//! ```

use crate::error::{CoreError, Result, check_range_f64};

/// Gas constant `R` in J/(mol·K), as used by the reference.
pub const GAS_CONSTANT: f64 = 8.314;

/// Faraday's constant `F` in C/mol.
pub const FARADAY: f64 = 96485.33212;

/// Default temperature (body temperature) in kelvin.
pub const DEFAULT_TEMPERATURE_K: f64 = 310.0;

/// Lower clamp applied to both concentrations before the logarithm, in mol/L.
pub const MIN_CONCENTRATION_M: f64 = 1e-6;

/// Valences accepted by [`NernstParams::new`].
pub const ALLOWED_VALENCES: [i32; 5] = [-2, -1, 1, 2, 3];

/// Validated inputs of the Nernst equation.
///
/// ```
/// let p = mfn_core::nernst::NernstParams::new(2, 2e-3, 100e-9, Some(310.0))?;
/// assert_eq!(p.temperature_k, 310.0);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NernstParams {
    /// Ion valence (charge number), one of [`ALLOWED_VALENCES`].
    pub z: i32,
    /// Extracellular concentration in mol/L.
    pub c_out_m: f64,
    /// Intracellular concentration in mol/L.
    pub c_in_m: f64,
    /// Absolute temperature in kelvin, in `[273, 373]`.
    pub temperature_k: f64,
}

impl NernstParams {
    /// Validate and build the parameters; `temperature_k = None` means 310 K.
    ///
    /// Errors name the offending field: `z` (not in {−2, −1, 1, 2, 3}),
    /// `temperature_k` (outside [273, 373] K), `c_out_m` / `c_in_m` (negative or not
    /// finite).
    ///
    /// ```
    /// use mfn_core::nernst::NernstParams;
    /// assert!(NernstParams::new(0, 5e-3, 140e-3, None).is_err());
    /// let err = NernstParams::new(1, 5e-3, 140e-3, Some(0.0)).unwrap_err();
    /// assert_eq!(err.field(), Some("temperature_k"));
    /// ```
    pub fn new(z: i32, c_out_m: f64, c_in_m: f64, temperature_k: Option<f64>) -> Result<Self> {
        if !ALLOWED_VALENCES.contains(&z) {
            return Err(CoreError::out_of_range(
                "z",
                z,
                "must be one of -2, -1, 1, 2, 3",
            ));
        }
        let temperature_k = temperature_k.unwrap_or(DEFAULT_TEMPERATURE_K);
        check_range_f64("temperature_k", temperature_k, 273.0, 373.0)?;
        check_concentration("c_out_m", c_out_m)?;
        check_concentration("c_in_m", c_in_m)?;
        Ok(NernstParams {
            z,
            c_out_m,
            c_in_m,
            temperature_k,
        })
    }
}

fn check_concentration(field: &'static str, c: f64) -> Result<()> {
    if !c.is_finite() {
        return Err(CoreError::invalid(
            field,
            format!("concentration must be finite, got {c}"),
        ));
    }
    if c < 0.0 {
        return Err(CoreError::out_of_range(field, c, "must be >= 0 mol/L"));
    }
    Ok(())
}

/// Nernst potential in millivolts: `(R·T)/(z·F) · ln(c_out/c_in) · 1000`, with both
/// concentrations clamped below at [`MIN_CONCENTRATION_M`].
///
/// ```
/// use mfn_core::nernst::{nernst_potential_mv, NernstParams};
/// // Ca²⁺ 2 mM / 100 nM: the inside is clamped to 1 µM.
/// let ca = NernstParams::new(2, 2e-3, 100e-9, None)?;
/// assert!((nernst_potential_mv(&ca) - 101.5186).abs() < 1e-4);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn nernst_potential_mv(p: &NernstParams) -> f64 {
    nernst_potential_v(p) * 1000.0
}

/// Nernst potential in volts, `(R·T)/(z·F) · ln(c_out/c_in)`: the value of the
/// reference's `compute_nernst_potential`; [`nernst_potential_mv`] is this times 1000.
///
/// ```
/// use mfn_core::nernst::{nernst_potential_mv, nernst_potential_v, NernstParams};
/// let k = NernstParams::new(1, 5e-3, 140e-3, None)?;
/// assert_eq!(nernst_potential_v(&k) * 1000.0, nernst_potential_mv(&k));
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn nernst_potential_v(p: &NernstParams) -> f64 {
    let c_out = p.c_out_m.max(MIN_CONCENTRATION_M);
    let c_in = p.c_in_m.max(MIN_CONCENTRATION_M);
    let rt_zf = (GAS_CONSTANT * p.temperature_k) / (f64::from(p.z) * FARADAY);
    rt_zf * (c_out / c_in).ln()
}

/// The thermal voltage `RT/F` in millivolts at `temperature_k`.
///
/// ```
/// assert_eq!(mfn_core::nernst::rt_over_f_mv(310.0), 26.71224675678714);
/// ```
pub fn rt_over_f_mv(temperature_k: f64) -> f64 {
    GAS_CONSTANT * temperature_k / FARADAY * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamp_applies_to_zero_concentration() {
        let p = NernstParams::new(1, 0.0, 1e-6, None).unwrap();
        assert_eq!(nernst_potential_mv(&p), 0.0);
    }
}
