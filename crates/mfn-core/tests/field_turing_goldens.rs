//! Goldens of the Turing branch, computed by the NumPy transcription of the reference
//! (`scripts/interop/numpy_reference.py`, NumPy 2.4, `default_rng(seed)`), not by this
//! engine. The activator and inhibitor are compared bit for bit (SHA-256 of the
//! little-endian bytes), which catches the association of the in-place update
//! `a += D_a·La + r_a·(a(1−a) − i)`: `(a + D_a·La) + r_a·(…)` differs in the last bits of
//! every one of these runs. Low thresholds in [0.02, 0.12] make the mask (and so `V`)
//! depend on the activator's last bits; two cases add jitter.

use mfn_core::field::{Simulation, SimulationParams, SimulationResult, simulate};
use mfn_core::stats;
use sha2::{Digest, Sha256};

fn sha256(x: &[f64]) -> String {
    let mut h = Sha256::new();
    for v in x {
        h.update(v.to_le_bytes());
    }
    hex::encode(h.finalize())
}

struct Golden {
    seed: u64,
    n: usize,
    steps: usize,
    threshold: f64,
    jitter_var: Option<f64>,
    growth: u64,
    activations: u64,
    clamped: u64,
    activator_mean: f64,
    inhibitor_mean: f64,
    field_sum: f64,
    activator_sha: &'static str,
    inhibitor_sha: &'static str,
    field_sha: &'static str,
}

const A42: &str = "40c68244745376cc2c31e575de37a10a3fc874b51cbe17d4d49be9d73db8b8f0";
const I42: &str = "fc36573fa46cff7c790ffbe3219fa873e354a5aa81ecb277be642553fa0671be";

const GOLDENS: [Golden; 7] = [
    Golden {
        seed: 42,
        n: 32,
        steps: 200,
        threshold: 0.02,
        jitter_var: None,
        growth: 55,
        activations: 204_758,
        clamped: 182_679,
        // The example: the old association gave 0.044013794552320684.
        activator_mean: 0.04401379455232069,
        inhibitor_mean: 0.04573542252974987,
        field_sum: 40.96,
        activator_sha: A42,
        inhibitor_sha: I42,
        field_sha: "9d2f5e9160aeb5d5fe1173643aebac35754bff01f9b8dc1897e5666ae210fc69",
    },
    Golden {
        seed: 42,
        n: 32,
        steps: 200,
        threshold: 0.05,
        jitter_var: None,
        growth: 55,
        activations: 37_855,
        clamped: 20_900,
        activator_mean: 0.04401379455232069,
        inhibitor_mean: 0.04573542252974987,
        field_sum: 24.657139341988085,
        activator_sha: A42,
        inhibitor_sha: I42,
        field_sha: "1f69ba3651fb2f4d5d705d0024d9e74333f5f6529821e9a4a95319f4de7acb6d",
    },
    Golden {
        seed: 7,
        n: 32,
        steps: 200,
        threshold: 0.08,
        jitter_var: None,
        growth: 48,
        activations: 46,
        clamped: 0,
        activator_mean: 0.04305364805001919,
        inhibitor_mean: 0.04490023570243161,
        field_sum: -70.86286749292856,
        activator_sha: "a5ef8c878eab3e7b9ec3f3ba61bf1aa0929204a3a4a8473844ef5b9356ba5966",
        inhibitor_sha: "4bab8c1662af247f7f61ee497b71bb82c93fc049b17d775ed991208b65455841",
        field_sha: "adfbea2f561a0622c5b7d5f14fdaecc83a61d56d03dd95e9bb178e2177fa6691",
    },
    Golden {
        seed: 42,
        n: 32,
        steps: 200,
        threshold: 0.12,
        jitter_var: None,
        growth: 55,
        activations: 0,
        clamped: 0,
        activator_mean: 0.04401379455232069,
        inhibitor_mean: 0.04573542252974987,
        field_sum: -70.74139659192932,
        activator_sha: A42,
        inhibitor_sha: I42,
        field_sha: "48480109975d2b9735dc4272fe7903c13cc93051d16e2ccfb36a56d2e673ca2b",
    },
    Golden {
        seed: 3,
        n: 24,
        steps: 150,
        threshold: 0.03,
        jitter_var: Some(0.0005),
        growth: 41,
        activations: 86_206,
        clamped: 24_960,
        activator_mean: 0.04587598137413697,
        inhibitor_mean: 0.047358037396034114,
        field_sum: 12.98213998109983,
        activator_sha: "d3129c9b9fe9ff41543c0b3e49650e5614bd01651b5ce60d6d4d4d52809191a3",
        inhibitor_sha: "1568e53d64c61af914618ef79497445aaac227f18fd666ceb520e27910c55a2e",
        field_sha: "7034a0a8598155f0d9fe92e1fead7f17a1d08e04cd46b464cf878bc3f3942a3d",
    },
    Golden {
        seed: 42,
        n: 32,
        steps: 200,
        threshold: 0.1,
        jitter_var: Some(0.002),
        growth: 45,
        activations: 0,
        clamped: 37_170,
        activator_mean: 0.04401379455232069,
        inhibitor_mean: 0.04573542252974987,
        field_sum: -28.257154391963553,
        activator_sha: A42,
        inhibitor_sha: I42,
        field_sha: "3c56f2da2d713600bb7ccc187a83ccff3ab65592017fbedf6a0e540ea0d59705",
    },
    // The default configuration (SCIENCE.md's N=64 golden run).
    Golden {
        seed: 42,
        n: 64,
        steps: 64,
        threshold: 0.75,
        jitter_var: None,
        growth: 14,
        activations: 0,
        clamped: 0,
        activator_mean: 0.047323205921577564,
        inhibitor_mean: 0.04866038951290295,
        field_sum: -286.84600312073167,
        activator_sha: "5180b6158d8bbb80dd08bb1f56a551811834d7e27565cd42eef8a2a3dc8a07d8",
        inhibitor_sha: "969324c48e9fc0c2aff031b9b95772259f29507a4b02739ba9a8d0f16b7fb2ea",
        field_sha: "881fcee89a280d452ee1bdccb97e2a4b5eba9e0fcbfb7e6b02cf098b899d4e7b",
    },
];

fn params(g: &Golden) -> SimulationParams {
    SimulationParams {
        grid_size: g.n,
        steps: g.steps,
        turing_threshold: g.threshold,
        quantum_jitter: g.jitter_var.is_some(),
        jitter_var: g.jitter_var.unwrap_or(0.0005),
        ..Default::default()
    }
}

#[test]
fn turing_runs_match_numpy_bit_for_bit() {
    for g in &GOLDENS {
        let p = params(g);
        let r = simulate(&p, g.seed).unwrap();
        let case = format!(
            "seed {} n {} thr {} jitter {:?}",
            g.seed, g.n, g.threshold, g.jitter_var
        );
        assert_eq!(r.growth_events, g.growth, "{case}");
        assert_eq!(r.turing_activations, g.activations, "{case}");
        assert_eq!(r.clamping_events, g.clamped, "{case}");
        assert_eq!(r.activator_mean, g.activator_mean, "{case}");
        assert_eq!(r.inhibitor_mean, g.inhibitor_mean, "{case}");
        assert_eq!(stats::sum(&r.field), g.field_sum, "{case}");
        assert_eq!(sha256(&r.field), g.field_sha, "{case}");

        let mut sim = Simulation::new(&p, g.seed).unwrap();
        for _ in 0..g.steps {
            sim.step().unwrap();
        }
        assert_eq!(sha256(sim.activator()), g.activator_sha, "{case}");
        assert_eq!(sha256(sim.inhibitor()), g.inhibitor_sha, "{case}");
        assert_eq!(sim.summary(), r, "{case}");
    }
}

/// The initial state of a large Turing grid (drawn on two threads when the pool has
/// them) is the serial draws' bytes, and leaves the generator where they leave it.
#[test]
fn initial_state_is_the_same_on_any_thread_count() {
    let pools = [1, 2, 3].map(|threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    });
    for (n, seed) in [(256, 1), (257, 2), (300, 3)] {
        let p = SimulationParams {
            grid_size: n,
            ..Default::default()
        };
        let init = |pool: &rayon::ThreadPool| {
            pool.install(|| {
                let sim = Simulation::new(&p, seed).unwrap();
                let bytes = (
                    sha256(sim.field()),
                    sha256(sim.activator()),
                    sha256(sim.inhibitor()),
                );
                (bytes, sim.into_rng().pcg64_state())
            })
        };
        let one = init(&pools[0]);
        assert_eq!(init(&pools[1]), one, "n = {n}");
        assert_eq!(init(&pools[2]), one, "n = {n}");
    }
}

/// Row-parallel steps (grids ≥ 256) give the same bytes on 1, 2 and 3 threads, with
/// and without Turing and jitter, and so do runs that switch between serial and
/// parallel steps, and between single steps and pairs of steps in one pass.
#[test]
fn row_parallel_steps_are_bit_exact_on_any_thread_count() {
    let base = SimulationParams {
        grid_size: 260,
        steps: 6,
        spike_probability: 1.0,
        turing_threshold: 0.06,
        ..Default::default()
    };
    let variants = [
        base.clone(),
        SimulationParams {
            quantum_jitter: true,
            ..base.clone()
        },
        SimulationParams {
            turing_enabled: false,
            quantum_jitter: true,
            ..base.clone()
        },
        // Bands of 64 rows: the last band is one row.
        SimulationParams {
            grid_size: 257,
            quantum_jitter: true,
            ..base.clone()
        },
    ];
    let pools = [1, 2, 3].map(|threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    });
    for p in &variants {
        // Step k on `pools[schedule[k]]`: one thread sweeps the bands one after the
        // other, more share them out; steps alternate between going down and up.
        // The summary (read on two threads when the pool has them) is taken on the
        // pool of the last step.
        // `(pool, k)`: `run(k)` on that pool (two steps per pass, a single step for an
        // odd one out).
        let run_in = |schedule: &[(usize, usize)]| {
            let mut sim = Simulation::new(p, 5).unwrap();
            for &(pool, k) in schedule {
                pools[pool].install(|| sim.run(k).unwrap());
            }
            let last = &pools[schedule.last().unwrap().0];
            // Before `field()` caches the field: the summary copies it from the state.
            let summary = last.install(|| sim.summary());
            let stats_only = last.install(|| sim.summary_without_field());
            (
                sha256(sim.field()),
                sha256(sim.activator()),
                sha256(sim.inhibitor()),
                summary,
                stats_only,
            )
        };
        let run = |schedule: [usize; 6]| run_in(&schedule.map(|pool| (pool, 1)));
        let one = run([0; 6]);
        assert!(one.3.turing_activations > 0 || !p.turing_enabled);
        assert_eq!(
            one.4,
            SimulationResult {
                field: Vec::new(),
                ..one.3.clone()
            }
        );
        assert_eq!(run([1; 6]), one, "{p:?}");
        assert_eq!(run([2; 6]), one, "{p:?}");
        assert_eq!(run([0, 1, 0, 0, 1, 2]), one, "mixed, {p:?}");
        for threads in 0..3 {
            assert_eq!(run_in(&[(threads, 6)]), one, "pairs, {p:?}");
        }
        assert_eq!(
            run_in(&[(1, 1), (0, 2), (2, 3)]),
            one,
            "steps and pairs, {p:?}"
        );
    }
}
