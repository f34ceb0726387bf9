//! Hierarchical Krum (SCIENCE.md §8).

use mfn_core::federated::{KrumParams, aggregate, byzantine_count, krum_select};
use proptest::prelude::*;

fn golden_input() -> Vec<Vec<f64>> {
    vec![
        vec![1.0, 2.0, 3.0],
        vec![1.1, 2.1, 3.1],
        vec![0.9, 1.9, 2.9],
        vec![100.0, 100.0, 100.0],
    ]
}

/// With seed 42 the cluster draws are [0, 1, 1, 0]: {g0, outlier} and {g1, g2}. Both
/// clusters are too small for Krum (2 ≤ 2·f(2) + 2) and take the mean; (1.1 + 0.9)/2 is
/// exactly 1.0 (and so on), and the lower median of the two representatives picks it.
#[test]
fn golden_two_clusters_default_seed() {
    let p = KrumParams {
        num_clusters: 2,
        ..KrumParams::default()
    };
    assert_eq!(p.seed, 42);
    assert_eq!(aggregate(&golden_input(), &p).unwrap(), vec![1.0, 2.0, 3.0]);
}

/// The golden depends on the cluster draw; the seeds that pair g0 with g1 or g2 (or
/// put g0 and one neighbour with the outlier) give a neighbour's coordinates instead.
#[test]
fn golden_is_seed_dependent_but_always_honest() {
    let mut exact = 0;
    for seed in 0..64 {
        let p = KrumParams {
            num_clusters: 2,
            seed,
            ..KrumParams::default()
        };
        let r = aggregate(&golden_input(), &p).unwrap();
        if r == [1.0, 2.0, 3.0] {
            exact += 1;
        }
        // Never pulled towards the outlier.
        assert!(
            r.iter()
                .zip([1.0, 2.0, 3.0])
                .all(|(a, b)| (a - b).abs() <= 0.1 + 1e-12),
            "seed {seed}: {r:?}"
        );
    }
    assert!(exact > 0 && exact < 64);
}

#[test]
fn aggregate_is_reproducible() {
    let g: Vec<Vec<f64>> = (0..40)
        .map(|i| vec![i as f64 * 0.01, 1.0 - i as f64 * 0.02])
        .collect();
    let p = KrumParams::default();
    assert_eq!(aggregate(&g, &p).unwrap(), aggregate(&g, &p).unwrap());
}

#[test]
fn byzantine_budget_formula() {
    // f(n) = min(⌈nβ⌉, max(0, ⌊(n−3)/2⌋)).
    for (n, beta, f) in [
        (1, 0.2, 0),
        (3, 0.4, 0),
        (4, 0.2, 0),
        (5, 0.2, 1),
        (10, 0.2, 2),
        (11, 0.2, 3),
        (10, 0.0, 0),
        (100, 0.49, 48),
        (7, 0.49, 2),
    ] {
        assert_eq!(byzantine_count(n, beta), f, "n = {n}, beta = {beta}");
    }
}

#[test]
fn krum_prefers_the_dense_group_and_ties_go_first() {
    let g: [&[f64]; 5] = [&[10.0], &[0.0], &[0.1], &[0.2], &[-9.0]];
    assert_eq!(krum_select(&g, 1).unwrap(), 2);
    let same: [&[f64]; 4] = [&[1.0, 1.0]; 4];
    assert_eq!(krum_select(&same, 0).unwrap(), 0);
    assert_eq!(krum_select(&same[..1], 5).unwrap(), 0);
}

#[test]
fn input_errors_are_clear() {
    let p = KrumParams::default();
    let msg = |g: &[Vec<f64>]| aggregate(g, &p).unwrap_err().to_string();
    assert!(msg(&[]).contains("no gradients"));
    assert!(msg(&[vec![]]).contains("empty"));
    assert!(msg(&[vec![1.0, 2.0], vec![1.0, 2.0], vec![1.0]]).contains("gradient 2"));
    assert!(msg(&[vec![1.0], vec![f64::NAN]]).contains("non-finite"));
    assert!(msg(&[vec![f64::INFINITY]]).contains("non-finite"));
    let g: [&[f64]; 4] = [&[1.0]; 4];
    assert!(
        krum_select(&g, 1)
            .unwrap_err()
            .to_string()
            .contains("2f + 2")
    );
    assert!(krum_select(&[], 0).is_err());
}

#[test]
fn parameter_ranges_are_enforced() {
    let g = golden_input();
    let field = |p: KrumParams| aggregate(&g, &p).unwrap_err().field();
    let d = KrumParams::default();
    assert_eq!(
        field(KrumParams {
            num_clusters: 0,
            ..d
        }),
        Some("num_clusters")
    );
    assert_eq!(
        field(KrumParams {
            num_clusters: 1001,
            ..d
        }),
        Some("num_clusters")
    );
    for b in [-0.1, 0.5, f64::NAN] {
        assert_eq!(
            field(KrumParams {
                byzantine_fraction: b,
                ..d
            }),
            Some("byzantine_fraction")
        );
    }
    for s in [0.0, 1.01, -1.0, f64::NAN] {
        assert_eq!(
            field(KrumParams {
                sample_fraction: s,
                ..d
            }),
            Some("sample_fraction")
        );
    }
    assert!(
        aggregate(
            &g,
            &KrumParams {
                num_clusters: 1000,
                byzantine_fraction: 0.0,
                sample_fraction: 1.0,
                ..d
            }
        )
        .is_ok()
    );
}

#[test]
fn large_inputs_are_sampled_and_stay_robust() {
    // 1500 honest gradients near (1, −1) and 300 far outliers (16.7%).
    let mut g: Vec<Vec<f64>> = (0..1500)
        .map(|i| {
            let t = i as f64 / 1500.0;
            vec![
                1.0 + 0.01 * (t * 37.0).sin(),
                -1.0 + 0.01 * (t * 53.0).cos(),
            ]
        })
        .collect();
    g.extend((0..300).map(|i| vec![1e4 + i as f64, -1e4]));
    let p = KrumParams {
        num_clusters: 5,
        ..KrumParams::default()
    };
    let r = aggregate(&g, &p).unwrap();
    assert!(
        (r[0] - 1.0).abs() < 0.05 && (r[1] + 1.0).abs() < 0.05,
        "{r:?}"
    );
    assert_eq!(r, aggregate(&g, &p).unwrap());
}

proptest! {
    /// Krum's guarantee: with f far outliers among n > 2f + 2 gradients, the selected
    /// gradient is an honest one.
    #[test]
    fn krum_selects_an_honest_gradient(
        honest in prop::collection::vec(prop::collection::vec(-1.0f64..1.0, 3), 3..20),
        outlier_scale in 100.0f64..1e6,
        f_req in 0usize..10,
        seed_dir in prop::collection::vec(-1.0f64..1.0, 3),
    ) {
        let n_honest = honest.len();
        // n = n_honest + f > 2f + 2  ⇔  f < n_honest − 2.
        let f = f_req.min(n_honest - 3);
        let mut all = honest.clone();
        for k in 0..f {
            all.push(seed_dir.iter().map(|d| outlier_scale * (d + 2.0) * (k as f64 + 1.0)).collect());
        }
        let refs: Vec<&[f64]> = all.iter().map(Vec::as_slice).collect();
        let i = krum_select(&refs, f).unwrap();
        prop_assert!(i < n_honest, "selected outlier {i} of {}", all.len());
    }

    #[test]
    fn aggregate_of_identical_gradients_is_that_gradient(
        v in prop::collection::vec(-1e3f64..1e3, 1..8), n in 1usize..60, clusters in 1usize..20, seed in any::<u64>()
    ) {
        let g = vec![v.clone(); n];
        let p = KrumParams { num_clusters: clusters, seed, ..KrumParams::default() };
        // Means and the 0.7/0.3 blend may round in the last bits.
        let r = aggregate(&g, &p).unwrap();
        prop_assert!(r.iter().zip(&v).all(|(a, b)| (a - b).abs() <= 1e-12 * b.abs().max(1.0)), "{r:?} vs {v:?}");
    }
}
