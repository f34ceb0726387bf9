//! The 18 features (SCIENCE.md §5) against the reference golden and by construction.

use mfn_core::features::{FeatureOptions, Features, Threshold, cluster_sizes, extract_features};
use mfn_core::field::{SimulationParams, simulate_with_history};
use proptest::prelude::*;

fn history(n: usize, steps: usize, seed: u64) -> Vec<Vec<f64>> {
    let p = SimulationParams {
        grid_size: n,
        steps,
        ..SimulationParams::default()
    };
    let (_, h) = simulate_with_history(&p, seed).unwrap();
    assert_eq!(h.len(), steps);
    h
}

/// Reference values for 32×32, 32 steps, seed 42 (history[t] = field after step t+1).
#[test]
fn golden_32x32_seed_42() {
    let golden: [f64; 18] = [
        0.0,
        0.0,
        -71.09454351242177,
        -67.27469469838402,
        -69.94989814999815,
        0.5591327365361041,
        0.2236791665853145,
        0.09424593359398514,
        0.08824437382069292,
        7.249311410581399,
        32.0,
        -1015.6993654009838,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
    ];
    let f = extract_features(&history(32, 32, 42), 32, &FeatureOptions::default()).unwrap();
    for ((name, got), want) in f.to_pairs().into_iter().zip(golden) {
        if want == 0.0 {
            assert_eq!(got, 0.0, "{name}");
        } else {
            let rel = ((got - want) / want).abs();
            assert!(rel <= 1e-12, "{name}: {got} vs {want} (rel {rel:e})");
        }
    }
    // Everything but E_trend (the reference fits it with np.polyfit) matches to the bit.
    for (i, (got, want)) in f.values().into_iter().zip(golden).enumerate() {
        if i != 11 {
            assert_eq!(got.to_bits(), want.to_bits(), "{}", Features::NAMES[i]);
        }
    }
}

/// SCIENCE.md §5: an adaptive (median) threshold gives D ≈ 1.76 on default fields.
#[test]
fn adaptive_threshold_gives_a_fractal_dimension_on_default_fields() {
    let h = history(64, 64, 42);
    let opts = FeatureOptions {
        threshold: Threshold::AdaptiveMedian,
        ..FeatureOptions::default()
    };
    let f = extract_features(&h, 64, &opts).unwrap();
    println!("adaptive D_box = {}, D_r2 = {}", f.d_box, f.d_r2);
    assert!((f.d_box - 1.76).abs() < 0.15, "D_box = {}", f.d_box);
    assert!(f.d_r2 > 0.99);
    // Strictly above the median of an even count of distinct values: exactly half.
    assert_eq!(f.f_active, 0.5);
    // −60 mV (default): nothing is active.
    let f0 = extract_features(&h, 64, &FeatureOptions::default()).unwrap();
    assert_eq!((f0.d_box, f0.f_active, f0.n_clusters_low), (0.0, 0.0, 0.0));
}

#[test]
fn fixed_threshold_replaces_minus_60_everywhere_but_med_and_high() {
    let n = 5;
    // A plus-shaped blob at −55 mV with a −45 mV centre, and a −35 mV corner.
    let mut v = vec![-0.070; n * n];
    for k in [7, 11, 12, 13, 17] {
        v[k] = -0.055;
    }
    v[12] = -0.045;
    v[24] = -0.035;
    let at = |t| {
        let o = FeatureOptions {
            threshold: Threshold::FixedMv(t),
            ..FeatureOptions::default()
        };
        extract_features(std::slice::from_ref(&v), n, &o).unwrap()
    };
    let f = at(-60.0);
    assert_eq!(
        (f.n_clusters_low, f.max_cluster_size, f.f_active),
        (2.0, 5.0, 6.0 / 25.0)
    );
    assert_eq!((f.n_clusters_med, f.n_clusters_high), (2.0, 1.0));
    assert_eq!(f.cluster_size_std, 2.0); // sizes [5, 1]
    let f = at(-50.0);
    assert_eq!(
        (f.n_clusters_low, f.max_cluster_size, f.f_active),
        (2.0, 1.0, 2.0 / 25.0)
    );
    assert_eq!(f.cluster_size_std, 0.0);
    assert_eq!((f.n_clusters_med, f.n_clusters_high), (2.0, 1.0));
    let f = at(-30.0);
    assert_eq!(
        (f.n_clusters_low, f.max_cluster_size, f.f_active),
        (0.0, 0.0, 0.0)
    );
    assert_eq!((f.n_clusters_med, f.n_clusters_high), (2.0, 1.0));
}

#[test]
fn single_field_has_zero_temporal_features() {
    let h = history(16, 5, 3);
    let f = extract_features(&h[4..], 16, &FeatureOptions::default()).unwrap();
    assert_eq!(
        (f.dv_mean, f.dv_max, f.t_stable, f.e_trend),
        (0.0, 0.0, 0.0, 0.0)
    );
    let g = extract_features(&h, 16, &FeatureOptions::default()).unwrap();
    // Static features only look at the final frame.
    assert_eq!(
        (f.v_min, f.v_max, f.v_mean, f.v_std),
        (g.v_min, g.v_max, g.v_mean, g.v_std)
    );
    // 5 frames < window 10 → T_stable 0.
    assert_eq!(g.t_stable, 0.0);
}

#[test]
fn t_stable_finds_the_first_step_of_a_stable_run() {
    let n = 4;
    // Frames 0..=4 change by a non-uniform step (s_t > 0.001 mV), then stay frozen.
    let mut h: Vec<Vec<f64>> = Vec::new();
    let mut f: Vec<f64> = vec![-0.070; n * n];
    for t in 0..30 {
        if t > 0 && t <= 4 {
            f[0] += 0.001;
        }
        h.push(f.clone());
    }
    // Differences 0..=3 are unstable, 4.. stable; the 10th stable one is t = 13 →
    // T_stable = 13 − 10 + 2 = 5.
    let opts = FeatureOptions::default();
    assert_eq!(extract_features(&h, n, &opts).unwrap().t_stable, 5.0);
    // Never stable for the window → T.
    let o = FeatureOptions {
        stable_window: 27,
        ..opts
    };
    assert_eq!(extract_features(&h, n, &o).unwrap().t_stable, 30.0);
    let o = FeatureOptions {
        stable_window: 25,
        ..opts
    };
    assert_eq!(extract_features(&h, n, &o).unwrap().t_stable, 5.0);
}

#[test]
fn energy_trend_is_the_slope_of_the_sum_of_squares() {
    let n = 2;
    // Uniform field V_t = −70 + t mV: E_t = 4·(−70 + t)², slope of a parabola sampled
    // at t = 0..3 is 4·(2·(−70)·1 + 3) = −548 (LS slope of (a+t)² over 0..3 is 2a + 3).
    let h: Vec<Vec<f64>> = (0..4)
        .map(|t| vec![(-70.0 + t as f64) / 1000.0; n * n])
        .collect();
    let f = extract_features(&h, n, &FeatureOptions::default()).unwrap();
    assert!((f.e_trend - -548.0).abs() < 1e-9, "{}", f.e_trend);
    assert!((f.dv_mean - 1.0).abs() < 1e-12 && (f.dv_max - 1.0).abs() < 1e-12);
}

#[test]
fn skew_and_kurtosis_of_a_two_point_field() {
    // Half −70, half −60.1 mV: symmetric → skew 0; two-point kurtosis 1 − 3 = −2.
    let n = 4;
    let v: Vec<f64> = (0..n * n)
        .map(|k| if k % 2 == 0 { -0.070 } else { -0.0601 })
        .collect();
    let f = extract_features(&[v], n, &FeatureOptions::default()).unwrap();
    assert!(
        f.v_skew.abs() < 1e-9 && (f.v_kurt + 2.0).abs() < 1e-9,
        "{} {}",
        f.v_skew,
        f.v_kurt
    );
    // A constant field: σ = 0 → both 0.
    let f = extract_features(&[vec![-0.07; 16]], 4, &FeatureOptions::default()).unwrap();
    assert_eq!((f.v_std, f.v_skew, f.v_kurt), (0.0, 0.0, 0.0));
}

#[test]
fn serialises_with_canonical_names_in_order() {
    let f = extract_features(&[vec![-0.07; 16]], 4, &FeatureOptions::default()).unwrap();
    let json = serde_json::to_value(f).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted_names = Features::NAMES.to_vec();
    sorted_names.sort_unstable();
    let mut sorted_keys = keys.clone();
    sorted_keys.sort_unstable();
    assert_eq!(sorted_keys, sorted_names);
    let text = serde_json::to_string(&f).unwrap();
    let positions: Vec<usize> = Features::NAMES
        .iter()
        .map(|k| text.find(&format!("\"{k}\"")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    let back: Features = serde_json::from_str(&text).unwrap();
    assert_eq!(back, f);
}

#[test]
fn invalid_inputs_are_rejected() {
    let o = FeatureOptions::default();
    let field =
        |h: &[Vec<f64>], n, o: &FeatureOptions| extract_features(h, n, o).unwrap_err().field();
    assert_eq!(field(&[], 4, &o), Some("history"));
    assert_eq!(field(&[vec![0.0; 16]], 0, &o), Some("n"));
    let err = extract_features(&[vec![0.0; 16], vec![0.0; 15]], 4, &o).unwrap_err();
    assert!(err.to_string().contains("frame 1"), "{err}");
    let mut bad = vec![0.0; 16];
    bad[3] = f64::NAN;
    assert_eq!(field(&[bad], 4, &o), Some("history"));
    let t = FeatureOptions {
        threshold: Threshold::FixedMv(f64::INFINITY),
        ..o
    };
    assert_eq!(field(&[vec![0.0; 16]], 4, &t), Some("threshold_mv"));
    let s = FeatureOptions { num_scales: 1, ..o };
    assert_eq!(field(&[vec![0.0; 16]], 4, &s), Some("num_scales"));
    let w = FeatureOptions {
        stable_window: 0,
        ..o
    };
    assert_eq!(field(&[vec![0.0; 16]], 4, &w), Some("stable_window"));
}

/// Slow reference: union–find over right/down neighbours, sizes by first cell.
fn slow_clusters(mask: &[bool], n: usize) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..n * n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for k in 0..n * n {
        if !mask[k] {
            continue;
        }
        for q in [
            (k % n + 1 < n).then_some(k + 1),
            (k / n + 1 < n).then_some(k + n),
        ]
        .into_iter()
        .flatten()
        {
            if mask[q] {
                let (a, b) = (find(&mut parent, k), find(&mut parent, q));
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    let mut order: Vec<usize> = Vec::new();
    let mut sizes: Vec<usize> = Vec::new();
    for (k, _) in mask.iter().enumerate().filter(|&(_, &m)| m) {
        let r = find(&mut parent, k);
        match order.iter().position(|&x| x == r) {
            Some(i) => sizes[i] += 1,
            None => {
                order.push(r);
                sizes.push(1);
            }
        }
    }
    sizes
}

proptest! {
    #[test]
    fn clusters_match_a_slow_reference(
        (n, mask) in (1usize..24).prop_flat_map(|n| (Just(n), prop::collection::vec(any::<bool>(), n * n)))
    ) {
        let fast = cluster_sizes(&mask, n).unwrap();
        prop_assert_eq!(&fast, &slow_clusters(&mask, n));
        prop_assert_eq!(fast.iter().sum::<usize>(), mask.iter().filter(|&&b| b).count());
    }

    #[test]
    fn features_are_finite_and_bounded(seed in 0u64..1000, thr in -75.0f64..-65.0) {
        let h = history(16, 12, seed);
        let o = FeatureOptions { threshold: Threshold::FixedMv(thr), ..FeatureOptions::default() };
        let f = extract_features(&h, 16, &o).unwrap();
        prop_assert!(f.values().iter().all(|v| v.is_finite()));
        prop_assert!((0.0..=1.0).contains(&f.f_active) && (0.0..=1.0).contains(&f.d_r2));
        prop_assert!(f.v_min <= f.v_mean && f.v_mean <= f.v_max);
        prop_assert!(f.max_cluster_size <= 256.0 && f.n_clusters_low <= 128.0);
    }
}
