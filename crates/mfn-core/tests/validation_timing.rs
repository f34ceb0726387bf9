//! Wall time of the default pattern validation (target: ≤ 26 ms in release, 50× the
//! reference's 1.31 s). Ignored by default; run with
//!
//! ```text
//! cargo test --release -p mfn-core --test validation_timing -- --ignored --nocapture
//! ```

use std::time::{Duration, Instant};

use mfn_core::validation::{ValidationConfig, build_dataset, validate_pattern};

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn default_validation_time() {
    let cfg = ValidationConfig::default();
    let first = best_of(1, || validate_pattern(&cfg).unwrap());
    let total = best_of(30, || validate_pattern(&cfg).unwrap());
    let dataset = best_of(30, || build_dataset(&cfg).unwrap());
    println!(
        "validate_pattern (default config): first {first:?}, best of 30 {total:?}; \
         of which dataset {dataset:?}"
    );
}
