//! Wall-clock timing of the field kernel and of the plain-stencil yardstick, for
//! `scripts/bench/kernel.py` (which interleaves it with NumPy, Numba and `mfn`).
//!
//! ```text
//! cargo run --release -p mfn-core --example kernel_timing -- stencil N STEPS RUNS
//! cargo run --release -p mfn-core --example kernel_timing -- simulate N STEPS RUNS
//! cargo run --release -p mfn-core --example kernel_timing -- run N STEPS RUNS
//! cargo run --release -p mfn-core --example kernel_timing -- parts N STEPS RUNS
//! cargo run --release -p mfn-core --example kernel_timing -- parts1 N STEPS RUNS
//! cargo run --release -p mfn-core --example kernel_timing -- draws N 0 RUNS
//! ```
//!
//! Prints one JSON object: `median_ms` and `min_ms` of wall-clock time per run,
//! `cpu_ms` (this thread's CPU time per run over the batch, which leaves out time
//! other processes held the core), `cpu_all_ms` (the same summed over every thread of
//! the process, for multi-threaded runs), `runs` (and, for `parts`, the medians of the
//! initial draws, the steps and the summary separately). Every mode but `parts` runs
//! once untimed first (see `time_ms`). Threads: the global rayon pool, so
//! `RAYON_NUM_THREADS` sets them.

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

/// Wall-clock ms of each of `runs` calls of `f`, after one untimed call, and the CPU
/// time of this thread and of the whole process over the timed calls. The peers are
/// timed in a long-lived Python process whose allocator already holds the pages their
/// arrays need; the untimed call puts this process in the same state (a first 512×512
/// run also faults in its 6 MB of state: 61 ms against 51 for the next ones).
fn time_ms(runs: usize, mut f: impl FnMut()) -> (Vec<f64>, Option<f64>, Option<f64>) {
    f();
    let (cpu, all) = (thread_cpu_ms(), process_cpu_ms());
    let ms = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let since = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
    (
        ms,
        since(cpu, thread_cpu_ms()),
        since(all, process_cpu_ms()),
    )
}

/// CPU time this thread has run, in ms (Linux `schedstat`, ns resolution); `None`
/// elsewhere. On a shared machine it leaves out the time other processes held the
/// core, which wall-clock time does not. The kernel brings a running thread's figure
/// up to date only at a tick or a switch (it lags by up to a few ms), so yield first:
/// `sched_yield` updates it.
fn thread_cpu_ms() -> Option<f64> {
    std::thread::yield_now();
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e6)
}

/// CPU time of every thread of the process (this one and the rayon pool's), in ms.
/// The pool's threads are parked when this is read, so their figures are current.
fn process_cpu_ms() -> Option<f64> {
    std::thread::yield_now();
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let s = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += s.split_whitespace().next()?.parse::<f64>().ok()?;
    }
    Some(total / 1e6)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: kernel_timing stencil|simulate|run|parts|parts1|draws N STEPS RUNS";
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
    let (ms, cpu, cpu_all) = match what.as_str() {
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
        "run" => time_ms(runs, || {
            // What the NumPy and Numba peers do: initial draws, the steps, and the
            // final V, a and i as row-major arrays; no summary statistics and no
            // fractal dimension (which `simulate` adds).
            let mut sim = Simulation::new(black_box(&p), 42).unwrap();
            sim.run(steps).unwrap();
            black_box((sim.field(), sim.activator(), sim.inhibitor()));
        }),
        "parts" | "parts1" => {
            // `parts1`: the steps one at a time (`step`), where `parts` takes them as
            // `run` does, two per pass over the state.
            let single = what == "parts1";
            let (mut init, mut step, mut summary) = (Vec::new(), Vec::new(), Vec::new());
            let mut stats_only = Vec::new();
            for _ in 0..runs {
                let t = Instant::now();
                let mut sim = Simulation::new(&p, 42).unwrap();
                init.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                if single {
                    for _ in 0..steps {
                        sim.step().unwrap();
                    }
                } else {
                    sim.run(steps).unwrap();
                }
                step.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                black_box(sim.summary());
                summary.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                black_box(sim.summary_without_field());
                stats_only.push(t.elapsed().as_secs_f64() * 1e3);
            }
            println!(
                "{{\"init_ms\": {}, \"steps_ms\": {}, \"summary_ms\": {}, \"summary_without_field_ms\": {}, \"runs\": {runs}}}",
                median(init),
                median(step),
                median(summary),
                median(stats_only)
            );
            return;
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    // Per run, over the batch. `cpu` is meaningful for one thread only; `cpu_all` is
    // the total work of a multi-threaded run, not its span.
    let per_run = |x: Option<f64>| x.map_or("null".to_string(), |x| format!("{}", x / runs as f64));
    let (cpu, cpu_all) = (per_run(cpu), per_run(cpu_all));
    let min = ms.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "{{\"median_ms\": {}, \"min_ms\": {min}, \"cpu_ms\": {cpu}, \"cpu_all_ms\": {cpu_all}, \"runs\": {runs}}}",
        median(ms)
    );
}
