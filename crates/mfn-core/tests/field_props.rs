//! Invariants of the field simulation that must hold for every valid parameter set.

use mfn_core::field::{
    Simulation, SimulationParams, V_MAX, V_MIN, simulate, simulate_many, simulate_with_history,
};
use proptest::prelude::*;

fn params() -> impl Strategy<Value = SimulationParams> {
    (
        4usize..24,
        1usize..40,
        0.01f64..=0.25,
        0.0f64..=1.0,
        any::<bool>(),
        0.0f64..=1.0,
        any::<bool>(),
        0.0f64..=0.01,
    )
        .prop_map(
            |(n, steps, alpha, p, turing, thr, jitter, jvar)| SimulationParams {
                grid_size: n,
                steps,
                alpha,
                spike_probability: p,
                turing_enabled: turing,
                turing_threshold: thr,
                quantum_jitter: jitter,
                jitter_var: jvar,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The clamp holds after every step, whatever the parameters.
    #[test]
    fn field_stays_within_clamp_bounds(p in params(), seed in any::<u64>()) {
        let (res, history) = simulate_with_history(&p, seed).unwrap();
        for frame in history.iter().chain(std::iter::once(&res.field)) {
            prop_assert!(frame.iter().all(|v| (V_MIN..=V_MAX).contains(v)));
        }
        prop_assert!(res.pot_min_mv >= V_MIN * 1000.0 && res.pot_max_mv <= V_MAX * 1000.0);
    }

    /// Frames of one continuous run: the state after step k of a T-step run is the final
    /// state of a k-step run (one simulation, not restarts).
    #[test]
    fn frames_have_the_prefix_property(p in params(), seed in any::<u64>(), k in 1usize..40) {
        let k = k.min(p.steps);
        let (_, history) = simulate_with_history(&p, seed).unwrap();
        let short = SimulationParams { steps: k, ..p.clone() };
        prop_assert_eq!(&history[k - 1], &simulate(&short, seed).unwrap().field);
    }

    /// Same seed, same bytes.
    #[test]
    fn simulation_is_deterministic(p in params(), seed in any::<u64>()) {
        prop_assert_eq!(simulate(&p, seed).unwrap(), simulate(&p, seed).unwrap());
    }
}

/// Many seeds in parallel give the same bytes as one at a time, on 1, 2 and 4 threads.
#[test]
fn parallel_runs_match_serial_on_any_thread_count() {
    let p = SimulationParams {
        grid_size: 32,
        steps: 30,
        quantum_jitter: true,
        ..Default::default()
    };
    let seeds: Vec<u64> = (0..12).collect();
    let serial: Vec<_> = seeds.iter().map(|&s| simulate(&p, s).unwrap()).collect();
    for threads in [1, 2, 4] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let parallel: Vec<_> = pool
            .install(|| simulate_many(&p, &seeds))
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(parallel, serial, "{threads} threads");
    }
}

/// Steering is part of the deterministic input: the same commands at the same steps
/// give the same run.
#[test]
fn steering_is_deterministic_given_the_commands() {
    let p = SimulationParams {
        grid_size: 16,
        steps: 20,
        ..Default::default()
    };
    let run = || {
        let mut sim = Simulation::new(&p, 5).unwrap();
        for step in 0..20 {
            if step == 7 {
                sim.set_spike_probability(1.0).unwrap();
                sim.set_alpha(0.1).unwrap();
            }
            sim.step().unwrap();
        }
        sim.summary()
    };
    let a = run();
    assert_eq!(a, run());
    assert_ne!(a, simulate(&p, 5).unwrap());
    assert!(Simulation::new(&p, 5).unwrap().set_alpha(0.5).is_err());
}
