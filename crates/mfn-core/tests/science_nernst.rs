//! Nernst potentials against the goldens of SCIENCE.md §3.

use mfn_core::nernst::{NernstParams, nernst_potential_mv, rt_over_f_mv};

fn e(z: i32, c_out: f64, c_in: f64) -> f64 {
    nernst_potential_mv(&NernstParams::new(z, c_out, c_in, None).unwrap())
}

#[test]
fn potassium_golden_is_exact() {
    assert_eq!(e(1, 5e-3, 140e-3), -89.01066911987907);
}

#[test]
fn sodium_chloride_calcium_goldens() {
    assert!((e(1, 145e-3, 12e-3) - 66.5623).abs() < 5e-5);
    assert!((e(-1, 120e-3, 4e-3) - -90.8536).abs() < 5e-5);
    // 100 nM inside is clamped to 1 µM.
    assert!((e(2, 2e-3, 100e-9) - 101.5186).abs() < 5e-5);
    assert_eq!(e(2, 2e-3, 100e-9), e(2, 2e-3, 1e-6));
}

#[test]
fn rt_over_f_at_body_temperature_is_exact() {
    assert_eq!(rt_over_f_mv(310.0), 26.71224675678714);
}

#[test]
fn absent_temperature_means_310_k() {
    let a = NernstParams::new(1, 5e-3, 140e-3, None).unwrap();
    let b = NernstParams::new(1, 5e-3, 140e-3, Some(310.0)).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.temperature_k, 310.0);
}

#[test]
fn valence_must_be_allowed() {
    for z in [-2, -1, 1, 2, 3] {
        assert!(NernstParams::new(z, 1e-3, 1e-3, None).is_ok(), "z = {z}");
    }
    for z in [0, -3, 4, i32::MAX] {
        let err = NernstParams::new(z, 1e-3, 1e-3, None).unwrap_err();
        assert_eq!(err.field(), Some("z"), "z = {z}");
    }
}

#[test]
fn temperature_range_is_enforced() {
    assert!(NernstParams::new(1, 1e-3, 1e-3, Some(273.0)).is_ok());
    assert!(NernstParams::new(1, 1e-3, 1e-3, Some(373.0)).is_ok());
    for t in [0.0, 272.9, 373.1, f64::NAN, f64::INFINITY] {
        let err = NernstParams::new(1, 1e-3, 1e-3, Some(t)).unwrap_err();
        assert_eq!(err.field(), Some("temperature_k"), "T = {t}");
        assert!(err.to_string().contains("temperature_k"));
    }
}

#[test]
fn concentrations_must_be_finite_and_non_negative() {
    for c in [-1e-3, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(
            NernstParams::new(1, c, 1e-3, None).unwrap_err().field(),
            Some("c_out_m")
        );
        assert_eq!(
            NernstParams::new(1, 1e-3, c, None).unwrap_err().field(),
            Some("c_in_m")
        );
    }
    // Zero is allowed and clamped.
    assert_eq!(e(1, 0.0, 0.0), 0.0);
}

#[test]
fn valence_sign_flips_the_potential() {
    let pos = e(1, 10e-3, 1e-3);
    let neg = e(-1, 10e-3, 1e-3);
    assert_eq!(pos, -neg);
    assert!((pos - rt_over_f_mv(310.0) * 10f64.ln()).abs() < 1e-12);
}
