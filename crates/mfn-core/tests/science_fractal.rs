//! Box-counting dimension: the reference's box sizes, known shapes, invariants.

use mfn_core::fractal::{
    BoxCountParams, box_count, box_count_sizes, box_sizes, field_fractal_dimension,
};
use proptest::prelude::*;

fn sizes(n: usize) -> Vec<usize> {
    box_sizes(n, &BoxCountParams::default()).unwrap()
}

#[test]
fn default_sizes_follow_the_truncated_geomspace() {
    assert_eq!(sizes(64), vec![2, 4, 7, 16, 32]);
    assert_eq!(sizes(128), vec![2, 4, 7, 16, 32]);
    assert_eq!(sizes(1024), vec![2, 4, 7, 16, 32]);
    assert_eq!(sizes(32), vec![2, 3, 5, 9, 16]);
    assert_eq!(sizes(16), vec![2, 3, 5, 8]);
    assert_eq!(sizes(8), vec![2, 3, 4]);
}

#[test]
fn tiny_grids_raise_the_default_max_box_to_min_box() {
    // N = 1: default max_box = min(32, 1) = 1 < 2 → 2, as the reference.
    assert_eq!(sizes(1), vec![2]);
    assert_eq!(sizes(3), vec![2, 3]);
    let r = box_count(&[true], 1, &BoxCountParams::default()).unwrap();
    assert_eq!((r.dimension, r.r_squared), (0.0, 0.0));
}

#[test]
fn explicit_max_box_and_scales() {
    let p = BoxCountParams {
        min_box: 1,
        max_box: Some(243),
        num_scales: 6,
    };
    // 10^(3·log10 3) = 27.000000000000004 truncates to 27.
    assert_eq!(box_sizes(243, &p).unwrap(), vec![1, 3, 9, 27, 81, 243]);
}

#[test]
fn filled_square_has_dimension_two() {
    // Grid sizes whose crops lose little; N = 100 loses a border at s = 7 and gives 2.035.
    for n in [64, 128, 224, 256] {
        let r = box_count(&vec![true; n * n], n, &BoxCountParams::default()).unwrap();
        assert!((r.dimension - 2.0).abs() < 0.02, "n = {n}: {}", r.dimension);
        assert!(r.r_squared > 0.999);
    }
}

#[test]
fn straight_lines_have_dimension_one() {
    let n = 128;
    let row: Vec<bool> = (0..n * n).map(|k| k / n == 40).collect();
    let col: Vec<bool> = (0..n * n).map(|k| k % n == 77).collect();
    let diag: Vec<bool> = (0..n * n).map(|k| k / n == k % n).collect();
    for (name, m) in [("row", row), ("column", col), ("diagonal", diag)] {
        let r = box_count(&m, n, &BoxCountParams::default()).unwrap();
        assert!((r.dimension - 1.0).abs() < 0.02, "{name}: {}", r.dimension);
    }
}

fn sierpinski_carpet(level: u32) -> (Vec<bool>, usize) {
    let n = 3usize.pow(level);
    let mask = (0..n * n)
        .map(|k| {
            let (mut i, mut j) = (k / n, k % n);
            while i > 0 || j > 0 {
                if i % 3 == 1 && j % 3 == 1 {
                    return false;
                }
                i /= 3;
                j /= 3;
            }
            true
        })
        .collect();
    (mask, n)
}

#[test]
fn sierpinski_carpet_has_dimension_ln8_over_ln3() {
    let expected = 8f64.ln() / 3f64.ln();
    let (mask, n) = sierpinski_carpet(5);
    assert_eq!(n, 243);
    let r = box_count_sizes(&mask, n, &[1, 3, 9, 27, 81]).unwrap();
    assert_eq!(r.counts, vec![32768, 4096, 512, 64, 8]);
    assert!((r.dimension - expected).abs() < 0.02, "{}", r.dimension);
    assert!((r.dimension - expected).abs() < 1e-12);
    // Through the geomspace path with powers of 3.
    let p = BoxCountParams {
        min_box: 1,
        max_box: Some(81),
        num_scales: 5,
    };
    let r = box_count(&mask, n, &p).unwrap();
    assert_eq!(r.box_sizes, vec![1, 3, 9, 27, 81]);
    assert!((r.dimension - expected).abs() < 0.02);
}

#[test]
fn empty_mask_has_dimension_zero() {
    let r = box_count(&vec![false; 64 * 64], 64, &BoxCountParams::default()).unwrap();
    assert_eq!((r.dimension, r.r_squared), (0.0, 0.0));
    assert_eq!(r.counts, vec![0; 5]);
}

#[test]
fn a_single_cell_has_dimension_zero() {
    let n = 64;
    let mut m = vec![false; n * n];
    m[5 * n + 9] = true;
    let r = box_count(&m, n, &BoxCountParams::default()).unwrap();
    assert_eq!(r.counts, vec![1; 5]);
    assert_eq!(r.dimension, 0.0);
}

#[test]
fn cells_outside_the_crop_are_ignored() {
    // Only the last row of a 64-grid is set: at s = 7 the crop is 63×63 → no box.
    let n = 64;
    let m: Vec<bool> = (0..n * n).map(|k| k / n == 63).collect();
    let r = box_count(&m, n, &BoxCountParams::default()).unwrap();
    assert_eq!(r.box_sizes, vec![2, 4, 7, 16, 32]);
    assert_eq!(r.counts, vec![32, 16, 0, 4, 2]);
    assert!((r.dimension - 1.0).abs() < 1e-12);
}

#[test]
fn invalid_inputs_are_rejected_with_the_field_named() {
    let p = BoxCountParams::default();
    let err = |r: mfn_core::Result<_>| r.unwrap_err().field();
    assert_eq!(err(box_count(&[true; 15], 4, &p)), Some("mask"));
    assert_eq!(err(box_count(&[], 0, &p)), Some("n"));
    let bad = |min_box, max_box, num_scales| BoxCountParams {
        min_box,
        max_box,
        num_scales,
    };
    assert_eq!(
        err(box_count(&[true; 16], 4, &bad(0, None, 5))),
        Some("min_box")
    );
    assert_eq!(
        err(box_count(&[true; 16], 4, &bad(2, None, 1))),
        Some("num_scales")
    );
    assert_eq!(
        err(box_count(&[true; 16], 4, &bad(2, None, 65))),
        Some("num_scales")
    );
    assert_eq!(
        err(box_count(&[true; 16], 4, &bad(3, Some(2), 5))),
        Some("max_box")
    );
    assert_eq!(err(box_count_sizes(&[true; 16], 4, &[])), Some("sizes"));
    assert_eq!(err(box_count_sizes(&[true; 16], 4, &[2, 0])), Some("sizes"));
    // 64 scales with a huge default max box must not overflow.
    assert!(box_sizes(1024, &bad(1000, None, 64)).is_ok());
}

#[test]
fn field_dimension_uses_a_strict_minus_60_mv_threshold() {
    let n = 64;
    assert_eq!(field_fractal_dimension(&vec![-0.060; n * n], n), 0.0);
    assert!((field_fractal_dimension(&vec![-0.0599; n * n], n) - 2.0).abs() < 0.02);
    // Wrong length: 0, not a panic.
    assert_eq!(field_fractal_dimension(&[0.0; 3], n), 0.0);
}

fn transpose(m: &[bool], n: usize) -> Vec<bool> {
    (0..n * n).map(|k| m[(k % n) * n + k / n]).collect()
}

proptest! {
    #[test]
    fn default_params_give_finite_results(
        (n, mask) in (1usize..48).prop_flat_map(|n| (Just(n), prop::collection::vec(any::<bool>(), n * n)))
    ) {
        let r = box_count(&mask, n, &BoxCountParams::default()).unwrap();
        prop_assert!(r.dimension.is_finite());
        prop_assert!((0.0..=1.0).contains(&r.r_squared));
        prop_assert_eq!(r.box_sizes.len(), r.counts.len());
        // Transposing the mask permutes boxes within each size.
        let t = box_count(&transpose(&mask, n), n, &BoxCountParams::default()).unwrap();
        prop_assert_eq!(r.counts, t.counts);
    }

    #[test]
    fn nested_sizes_bound_the_dimension_to_0_2(
        bits in prop::collection::vec(0u8..4, 64 * 64)
    ) {
        // Sizes that divide each other and the grid: every pairwise slope is in [0, 2],
        // so the least-squares slope is too.
        let density = bits[0];
        let mask: Vec<bool> = bits.iter().map(|&b| b < density).collect();
        let r = box_count_sizes(&mask, 64, &[1, 2, 4, 8, 16, 32]).unwrap();
        prop_assert!(r.dimension >= -1e-12 && r.dimension <= 2.0 + 1e-12, "{}", r.dimension);
        prop_assert!(r.counts.windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn empty_masks_have_dimension_zero(n in 1usize..70, scales in 2usize..10) {
        let p = BoxCountParams { num_scales: scales, ..BoxCountParams::default() };
        let r = box_count(&vec![false; n * n], n, &p).unwrap();
        prop_assert_eq!(r.dimension, 0.0);
        prop_assert_eq!(r.r_squared, 0.0);
    }

    #[test]
    fn sizes_are_sorted_unique_and_bounded(n in 1usize..2000, min_box in 1usize..20, k in 2usize..64) {
        let p = BoxCountParams { min_box, max_box: None, num_scales: k };
        let s = box_sizes(n, &p).unwrap();
        prop_assert!(!s.is_empty());
        prop_assert!(s.windows(2).all(|w| w[0] < w[1]));
        // Endpoints are exact; interior 10^log10(m) may truncate to m − 1 when
        // max_box = min_box (tiny grids), as in NumPy.
        prop_assert!(s.contains(&min_box));
        prop_assert!(s[0] + 1 >= min_box);
        prop_assert!(s.len() <= k);
    }
}
