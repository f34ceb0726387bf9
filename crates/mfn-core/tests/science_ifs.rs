//! IFS fractals and Lyapunov exponents (SCIENCE.md §6).

use mfn_core::ifs::{generate_fractal_ifs, lyapunov_from_history, points_sha256_bytes};
use mfn_core::rng::Rng;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

/// Values of the Python reference (`generate_fractal_ifs(default_rng(42), 1000, 4)`,
/// NumPy 2.4), reproduced bit for bit.
#[test]
fn matches_the_reference_for_seed_42() {
    let mut rng = Rng::new(42);
    let r = generate_fractal_ifs(&mut rng, 1000, 4).unwrap();
    assert_eq!(r.lyapunov, -2.3317039324074043);
    assert_eq!(r.points[0], [0.7171958398227649, 0.3947360581187278]);
    assert_eq!(r.points[999], [0.33896242284434736, 0.20859283437867665]);
    assert_eq!(
        hex::encode(Sha256::digest(points_sha256_bytes(&r.points))),
        "675b1916663897d8ce302988042e1ea34b1895961bc9a2da8cd9224a29735e09"
    );
    // The generator is left where NumPy leaves it.
    assert_eq!(rng.next_u64(), 5790310659171566761);
}

#[test]
fn matches_the_reference_for_other_shapes() {
    let r = generate_fractal_ifs(&mut Rng::new(1234), 300, 7).unwrap();
    assert_eq!(r.lyapunov, -2.137441759691048);
    assert_eq!(r.points[299], [-0.6935837280765312, 0.899862665580334]);
    let r = generate_fractal_ifs(&mut Rng::new(0), 50, 1).unwrap();
    assert_eq!(r.lyapunov, -1.8776427721066864);
}

#[test]
fn single_map_exponent_is_ln_s_squared() {
    for seed in [0, 1, 2, 42, 99] {
        let s = Rng::new(seed).uniform(0.2, 0.5);
        let r = generate_fractal_ifs(&mut Rng::new(seed), 100, 1).unwrap();
        assert!((r.lyapunov - (s * s).ln()).abs() < 1e-12, "seed {seed}");
    }
}

#[test]
fn exponent_is_the_usage_weighted_mean_of_ln_s_squared() {
    // Re-draw the maps' scales and the index sequence by hand.
    let (points, maps) = (2000usize, 5usize);
    let mut rng = Rng::new(7);
    let scales: Vec<f64> = (0..maps)
        .map(|_| {
            let s = rng.uniform(0.2, 0.5);
            for _ in 0..3 {
                rng.random();
            }
            s
        })
        .collect();
    let expected: f64 = (0..points)
        .map(|_| (scales[rng.integers(maps as u64) as usize].powi(2)).ln())
        .sum::<f64>()
        / points as f64;
    let r = generate_fractal_ifs(&mut Rng::new(7), points, maps).unwrap();
    assert!(
        (r.lyapunov - expected).abs() < 1e-9,
        "{} vs {expected}",
        r.lyapunov
    );
}

#[test]
fn limits_are_enforced() {
    let mut rng = Rng::new(1);
    let field = |r: mfn_core::Result<_>| r.unwrap_err().field();
    assert_eq!(
        field(generate_fractal_ifs(&mut rng, 0, 4)),
        Some("num_points")
    );
    assert_eq!(
        field(generate_fractal_ifs(&mut rng, 10_000_001, 4)),
        Some("num_points")
    );
    assert_eq!(
        field(generate_fractal_ifs(&mut rng, 10, 0)),
        Some("num_transforms")
    );
    assert_eq!(
        field(generate_fractal_ifs(&mut rng, 10, 65)),
        Some("num_transforms")
    );
    assert!(generate_fractal_ifs(&mut rng, 1, 64).is_ok());
}

#[test]
fn history_exponent_of_geometric_decay() {
    // Uniform steps of size d_t = q^t (t = 0..T−2): RMS = q^t, so
    // λ = Σ t·ln q / ((T − 1)·dt).
    let (q, t_len, dt) = (0.5f64, 6usize, 0.5);
    let mut h = vec![vec![0.0; 9]];
    for t in 0..t_len - 1 {
        let prev = h[t][0];
        h.push(vec![prev + q.powi(t as i32); 9]);
    }
    let expected =
        (0..t_len - 1).map(|t| t as f64 * q.ln()).sum::<f64>() / ((t_len - 1) as f64 * dt);
    let got = lyapunov_from_history(&h, dt).unwrap();
    assert!((got - expected).abs() < 1e-12, "{got} vs {expected}");
}

#[test]
fn tiny_differences_count_in_the_divisor_only() {
    // Steps: RMS 1 (ln 0), RMS 1e-13 (skipped), RMS e (ln 1) → λ = 1/3.
    let e = std::f64::consts::E;
    let h = vec![
        vec![0.0; 4],
        vec![1.0; 4],
        vec![1.0 + 1e-13; 4],
        vec![1.0 + 1e-13 + e; 4],
    ];
    let got = lyapunov_from_history(&h, 1.0).unwrap();
    assert!((got - 1.0 / 3.0).abs() < 1e-12, "{got}");
}

#[test]
fn history_errors() {
    let field = |r: mfn_core::Result<f64>| r.unwrap_err().field();
    assert_eq!(field(lyapunov_from_history(&[], 1.0)), Some("history"));
    assert_eq!(
        field(lyapunov_from_history(&[vec![1.0]], 1.0)),
        Some("history")
    );
    let ragged = vec![vec![1.0, 2.0], vec![1.0, 2.0], vec![1.0]];
    let err = lyapunov_from_history(&ragged, 1.0).unwrap_err();
    assert!(err.to_string().contains("frame 2"), "{err}");
    assert_eq!(
        field(lyapunov_from_history(&[vec![], vec![]], 1.0)),
        Some("history")
    );
    assert_eq!(
        field(lyapunov_from_history(&[vec![1.0], vec![f64::NAN]], 1.0)),
        Some("history")
    );
    for dt in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(
            field(lyapunov_from_history(&[vec![1.0], vec![2.0]], dt)),
            Some("dt")
        );
    }
}

proptest! {
    #[test]
    fn orbits_are_deterministic_contracting_and_bounded(
        seed in any::<u64>(), points in 1usize..3000, maps in 1usize..=64
    ) {
        let a = generate_fractal_ifs(&mut Rng::new(seed), points, maps).unwrap();
        let b = generate_fractal_ifs(&mut Rng::new(seed), points, maps).unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(a.points.len(), points);
        // s ∈ [0.2, 0.5) → ln s² ∈ [2 ln 0.2, 2 ln 0.5).
        prop_assert!(a.lyapunov >= 2.0 * 0.2f64.ln() - 1e-12);
        prop_assert!(a.lyapunov < 2.0 * 0.5f64.ln() + 1e-12);
        // |p'| ≤ s·|p| + √2 with s < 1/2, from p = 0: |p| < 2√2.
        let bound = 2.0 * std::f64::consts::SQRT_2 + 1e-9;
        prop_assert!(a.points.iter().all(|p| p[0].hypot(p[1]) <= bound));
    }

    #[test]
    fn history_exponent_is_shift_invariant(
        frames in prop::collection::vec(prop::collection::vec(-1.0f64..1.0, 16), 2..12),
        shift in -5.0f64..5.0
    ) {
        let a = lyapunov_from_history(&frames, 1.0).unwrap();
        let shifted: Vec<Vec<f64>> = frames.iter().map(|f| f.iter().map(|v| v + shift).collect()).collect();
        let b = lyapunov_from_history(&shifted, 1.0).unwrap();
        prop_assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}
