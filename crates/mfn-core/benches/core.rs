//! Criterion benches of the science kernels (`cargo bench -p mfn-core --bench core`).
//!
//! `stencil/*` is the yardstick the issue asks for: a plain periodic 5-point stencil
//! `u ← u + α·L(u)` on the same grid, one array, no growth, no Turing, no clamp
//! (`benches/common/plain_stencil.rs`). The simulation does three such stencils per step
//! (V, a, i) plus the reaction terms, so its cell-updates/s are compared against this
//! loop side by side. `scripts/bench/kernel.py` times the same two against NumPy and a
//! Numba port in one run.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mfn_core::features::{FeatureOptions, extract_features};
use mfn_core::federated::{KrumParams, aggregate};
use mfn_core::field::{SimulationParams, simulate, simulate_with_history};
use mfn_core::fractal::{BoxCountParams, box_count};
use mfn_core::rng::Rng;
use mfn_core::validation::{ValidationConfig, validate_pattern};

#[path = "common/plain_stencil.rs"]
mod plain_stencil;
use plain_stencil::plain_stencil;

const GRIDS: [(usize, usize); 3] = [(64, 64), (128, 100), (512, 100)];

fn bench_simulate(c: &mut Criterion) {
    let mut g = c.benchmark_group("simulate");
    for (n, steps) in GRIDS {
        let p = SimulationParams {
            grid_size: n,
            steps,
            ..Default::default()
        };
        g.throughput(Throughput::Elements((n * n * steps) as u64));
        if n >= 512 {
            g.sample_size(10);
        }
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{n}x{n}x{steps}")),
            &p,
            |b, p| b.iter(|| simulate(black_box(p), 42).unwrap()),
        );
    }
    g.finish();

    let mut g = c.benchmark_group("stencil");
    for (n, steps) in GRIDS {
        g.throughput(Throughput::Elements((n * n * steps) as u64));
        if n >= 512 {
            g.sample_size(10);
        }
        let mut rng = Rng::new(1);
        let mut u = vec![0.0; n * n];
        rng.fill_normal(&mut u, -0.07, 0.005);
        let mut scratch = vec![0.0; n * n];
        g.bench_function(
            BenchmarkId::from_parameter(format!("{n}x{n}x{steps}")),
            |b| b.iter(|| plain_stencil(black_box(&mut u), &mut scratch, n, steps, 0.18)),
        );
    }
    g.finish();
}

fn bench_analysis(c: &mut Criterion) {
    let p = SimulationParams {
        grid_size: 64,
        steps: 64,
        ..Default::default()
    };
    let (res, history) = simulate_with_history(&p, 42).unwrap();
    let mut g = c.benchmark_group("analysis");
    g.bench_function("features/64x64x64_history", |b| {
        b.iter(|| extract_features(black_box(&history), 64, &FeatureOptions::default()).unwrap())
    });
    let mask: Vec<bool> = res.field.iter().map(|&v| v > res.field[0]).collect();
    g.bench_function("fractal/64x64", |b| {
        b.iter(|| box_count(black_box(&mask), 64, &BoxCountParams::default()).unwrap())
    });
    let mut rng = Rng::new(5);
    let grads: Vec<Vec<f64>> = (0..100)
        .map(|_| (0..128).map(|_| rng.standard_normal()).collect())
        .collect();
    g.bench_function("federated/100x128", |b| {
        b.iter(|| aggregate(black_box(&grads), &KrumParams::default()).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("validation");
    g.sample_size(10);
    g.bench_function("default", |b| {
        b.iter(|| validate_pattern(black_box(&ValidationConfig::default())).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench_simulate, bench_analysis);
criterion_main!(benches);
