//! Wall-clock timing of the field kernel and of the plain-stencil yardstick, for
//! `scripts/bench/kernel.py` (which interleaves it with NumPy, Numba and `mfn`).
//!
//! ```text
//! cargo run --release -p mfn-core --example kernel_timing -- stencil N STEPS RUNS
//! cargo run --release -p mfn-core --example kernel_timing -- simulate N STEPS RUNS
//! cargo run --release -p mfn-core --example kernel_timing -- parts N STEPS RUNS
//! cargo run --release -p mfn-core --example kernel_timing -- draws N 0 RUNS
//! ```
//!
//! Prints one JSON object: `median_ms`, `min_ms`, `runs` (and, for `parts`, the medians
//! of the initial draws, the steps and the summary separately). Threads: the global
//! rayon pool, so `RAYON_NUM_THREADS` sets them.

use std::hint::black_box;
use std::time::Instant;

use mfn_core::field::{Simulation, SimulationParams, simulate};
use mfn_core::rng::Rng;

#[path = "../benches/common/plain_stencil.rs"]
mod plain_stencil;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

fn time_ms(runs: usize, mut f: impl FnMut()) -> Vec<f64> {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: kernel_timing stencil|simulate|parts|draws N STEPS RUNS";
    let [what, n, steps, runs] = args.as_slice() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let parse = |s: &str| -> usize {
        s.parse().unwrap_or_else(|_| {
            eprintln!("{usage}");
            std::process::exit(2)
        })
    };
    let (n, steps, runs) = (parse(n), parse(steps), parse(runs).max(1));
    let p = SimulationParams {
        grid_size: n,
        steps,
        ..Default::default()
    };
    let ms = match what.as_str() {
        "stencil" => {
            let mut u = vec![0.0; n * n];
            Rng::new(1).fill_normal(&mut u, -0.07, 0.005);
            let mut scratch = vec![0.0; n * n];
            time_ms(runs, || {
                plain_stencil::plain_stencil(black_box(&mut u), &mut scratch, n, steps, 0.18)
            })
        }
        "draws" => {
            // The initial state alone: N² normals and 2·N² uniforms.
            let mut rng = Rng::new(1);
            let (mut v, mut a) = (vec![0.0; n * n], vec![0.0; 2 * n * n]);
            time_ms(runs, || {
                rng.fill_normal(black_box(&mut v), -0.07, 0.005);
                rng.fill_uniform(black_box(&mut a), 0.0, 0.1);
            })
        }
        "simulate" => time_ms(runs, || {
            black_box(simulate(black_box(&p), 42).unwrap());
        }),
        "parts" => {
            let (mut init, mut step, mut summary) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..runs {
                let t = Instant::now();
                let mut sim = Simulation::new(&p, 42).unwrap();
                init.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                for _ in 0..steps {
                    sim.step().unwrap();
                }
                step.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                black_box(sim.summary());
                summary.push(t.elapsed().as_secs_f64() * 1e3);
            }
            println!(
                "{{\"init_ms\": {}, \"steps_ms\": {}, \"summary_ms\": {}, \"runs\": {runs}}}",
                median(init),
                median(step),
                median(summary)
            );
            return;
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    if std::env::var_os("KT_ALL").is_some() {
        eprintln!("{ms:?}");
    }
    let min = ms.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "{{\"median_ms\": {}, \"min_ms\": {min}, \"runs\": {runs}}}",
        median(ms)
    );
}
