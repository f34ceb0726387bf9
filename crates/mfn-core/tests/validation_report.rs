//! Pattern validation (SCIENCE.md §7): the report, its invariants and its determinism.

use mfn_core::CoreError;
use mfn_core::nernst::{NernstParams, nernst_potential_mv, rt_over_f_mv};
use mfn_core::validation::{
    DATASET_SIZE, NUM_FEATURES, ValidationConfig, ValidationReport, build_dataset, validate_pattern,
};

/// Every `f64` field of the report as raw bits, in a fixed order.
fn bits(r: &ValidationReport) -> Vec<u64> {
    [
        r.loss_start,
        r.loss_final,
        r.loss_drop,
        r.pot_min_mV,
        r.pot_max_mV,
        r.example_fractal_dim,
        r.lyapunov_exponent,
        r.lyapunov_mean,
        r.nernst_numeric_mV,
        r.nernst_symbolic_mV,
        r.nernst_rtfz_mV,
    ]
    .iter()
    .map(|v| v.to_bits())
    .chain([r.growth_events])
    .collect()
}

fn small() -> ValidationConfig {
    ValidationConfig {
        grid_size: 16,
        steps: 8,
        ..Default::default()
    }
}

#[test]
fn defaults_give_a_finite_consistent_report() {
    let r = validate_pattern(&ValidationConfig::default()).unwrap();
    for (name, v) in [
        ("loss_start", r.loss_start),
        ("loss_final", r.loss_final),
        ("loss_drop", r.loss_drop),
        ("pot_min_mV", r.pot_min_mV),
        ("pot_max_mV", r.pot_max_mV),
        ("example_fractal_dim", r.example_fractal_dim),
        ("lyapunov_exponent", r.lyapunov_exponent),
        ("lyapunov_mean", r.lyapunov_mean),
        ("nernst_numeric_mV", r.nernst_numeric_mV),
        ("nernst_symbolic_mV", r.nernst_symbolic_mV),
        ("nernst_rtfz_mV", r.nernst_rtfz_mV),
    ] {
        assert!(v.is_finite(), "{name} = {v}");
    }
    assert_eq!(r.loss_drop, r.loss_start - r.loss_final);
    assert!(r.loss_start >= 0.0 && r.loss_final >= 0.0);
    // The fields stay inside the clamp range and near the −70 mV rest potential.
    assert!(-95.0 <= r.pot_min_mV && r.pot_min_mV <= r.pot_max_mV && r.pot_max_mV <= 40.0);
    assert!(r.pot_min_mV < -70.0 && r.pot_max_mV > -70.0);
    // IFS contractions have s ∈ [0.2, 0.5], so ln s² ∈ [ln 0.04, ln 0.25].
    for l in [r.lyapunov_exponent, r.lyapunov_mean] {
        assert!((0.04f64.ln()..=0.25f64.ln()).contains(&l), "lyapunov {l}");
    }
    assert!((0.0..=2.0).contains(&r.example_fractal_dim));
    assert!(r.growth_events <= 64);
}

#[test]
fn nernst_fields_match_the_nernst_module() {
    let r = validate_pattern(&small()).unwrap();
    let k = NernstParams::new(1, 0.005, 0.140, Some(310.0)).unwrap();
    assert_eq!(r.nernst_numeric_mV, nernst_potential_mv(&k));
    assert_eq!(r.nernst_numeric_mV, -89.01066911987907);
    assert_eq!(r.nernst_rtfz_mV, rt_over_f_mv(310.0));
    assert_eq!(r.nernst_rtfz_mV, 26.71224675678714);
    assert!((r.nernst_symbolic_mV - r.nernst_numeric_mV).abs() < 1e-12);
}

#[test]
fn same_config_gives_the_same_bits() {
    let cfg = ValidationConfig {
        epochs: 3,
        batch_size: 3,
        ..Default::default()
    };
    let a = validate_pattern(&cfg).unwrap();
    let b = validate_pattern(&cfg).unwrap();
    assert_eq!(bits(&a), bits(&b));
}

#[test]
fn thread_count_does_not_change_the_bits() {
    let cfg = ValidationConfig {
        epochs: 2,
        ..small()
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| validate_pattern(&cfg).unwrap())
    };
    let one = run(1);
    for threads in [2, 4] {
        assert_eq!(bits(&one), bits(&run(threads)), "{threads} threads");
    }
}

#[test]
fn seed_changes_the_dataset_and_the_example() {
    let a = validate_pattern(&small()).unwrap();
    let b = validate_pattern(&ValidationConfig { seed: 7, ..small() }).unwrap();
    assert_ne!(a.pot_min_mV, b.pot_min_mV);
    assert_ne!(a.lyapunov_exponent, b.lyapunov_exponent);
    assert_ne!(a.loss_start, b.loss_start);
}

#[test]
fn training_steps_change_the_loss() {
    // One batch of all 16 samples per epoch: the last epoch sees the same batch after
    // 49 Adam steps, so its loss must differ from the first.
    let cfg = ValidationConfig {
        epochs: 50,
        batch_size: 64,
        ..small()
    };
    let r = validate_pattern(&cfg).unwrap();
    assert_ne!(r.loss_start, r.loss_final);
    assert!(r.loss_final < r.loss_start, "{r:?}");
}

#[test]
fn invalid_config_errors_name_the_field_and_range() {
    let cases = [
        (
            ValidationConfig {
                epochs: 0,
                ..Default::default()
            },
            "epochs",
            "[1, 100]",
        ),
        (
            ValidationConfig {
                epochs: 101,
                ..Default::default()
            },
            "epochs",
            "[1, 100]",
        ),
        (
            ValidationConfig {
                batch_size: 0,
                ..Default::default()
            },
            "batch_size",
            "[1, 64]",
        ),
        (
            ValidationConfig {
                batch_size: 65,
                ..Default::default()
            },
            "batch_size",
            "[1, 64]",
        ),
        (
            ValidationConfig {
                grid_size: 3,
                ..Default::default()
            },
            "grid_size",
            "[4, 256]",
        ),
        (
            ValidationConfig {
                grid_size: 257,
                ..Default::default()
            },
            "grid_size",
            "[4, 256]",
        ),
        (
            ValidationConfig {
                steps: 0,
                ..Default::default()
            },
            "steps",
            "[1, 1000]",
        ),
        (
            ValidationConfig {
                steps: 1001,
                ..Default::default()
            },
            "steps",
            "[1, 1000]",
        ),
    ];
    for (cfg, field, range) in cases {
        let e = validate_pattern(&cfg).unwrap_err();
        assert!(matches!(e, CoreError::OutOfRange { .. }), "{e:?}");
        assert_eq!(e.field(), Some(field));
        let msg = e.to_string();
        assert!(msg.contains(field) && msg.contains(range), "{msg}");
        assert_eq!(build_dataset(&cfg).unwrap_err(), e);
    }
    // A huge grid is rejected before anything is allocated.
    let huge = ValidationConfig {
        grid_size: usize::MAX,
        ..Default::default()
    };
    assert_eq!(huge.validate().unwrap_err().field(), Some("grid_size"));
}

#[test]
fn dataset_has_sixteen_samples_of_four_scaled_features() {
    let cfg = ValidationConfig::default();
    let ds = build_dataset(&cfg).unwrap();
    assert_eq!(ds.x.len(), DATASET_SIZE);
    assert_eq!(ds.y.len(), DATASET_SIZE);
    assert_eq!(ds.lyapunov.len(), DATASET_SIZE);
    assert_eq!(ds.x[0].len(), NUM_FEATURES);
    for (x, &y) in ds.x.iter().zip(&ds.y) {
        assert_eq!(y, 0.5 * x[0] + 0.2 * x[1] - 0.1 * x[2]);
        // mean and max are ~ −0.07 V, scaled ×10; the std is a fraction of a mV.
        assert!((-0.95..=0.4).contains(&x[1]), "{x:?}");
        assert!(x[2] >= 0.0 && x[2] < 0.1, "{x:?}");
        assert!(x[3] >= x[1], "{x:?}");
        assert!(x[0].is_finite());
    }
    assert!(ds.pot_min_mv <= ds.pot_max_mv);
    // The report's potential range is the dataset's.
    let r = validate_pattern(&cfg).unwrap();
    assert_eq!((r.pot_min_mV, r.pot_max_mV), (ds.pot_min_mv, ds.pot_max_mv));
    assert_eq!(r.lyapunov_mean, mfn_core::stats::mean(&ds.lyapunov));
}

#[test]
fn report_json_uses_the_reference_keys() {
    let r = validate_pattern(&small()).unwrap();
    let v = serde_json::to_value(&r).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = vec![
        "loss_start",
        "loss_final",
        "loss_drop",
        "pot_min_mV",
        "pot_max_mV",
        "example_fractal_dim",
        "growth_events",
        "lyapunov_exponent",
        "lyapunov_mean",
        "nernst_numeric_mV",
        "nernst_symbolic_mV",
        "nernst_rtfz_mV",
    ];
    want.sort_unstable();
    assert_eq!(keys, want);
    assert!(v["growth_events"].is_u64());
    let back: ValidationReport = serde_json::from_value(v).unwrap();
    assert_eq!(bits(&back), bits(&r));
}

#[test]
fn config_defaults_and_partial_json() {
    let cfg: ValidationConfig = serde_json::from_str(r#"{"epochs": 3}"#).unwrap();
    assert_eq!(
        cfg,
        ValidationConfig {
            epochs: 3,
            ..Default::default()
        }
    );
    let d = ValidationConfig::default();
    assert_eq!(
        (
            d.seed,
            d.epochs,
            d.batch_size,
            d.grid_size,
            d.steps,
            d.turing_enabled,
            d.quantum_jitter
        ),
        (42, 1, 4, 64, 64, true, false)
    );
}
