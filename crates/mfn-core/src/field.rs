//! The mycelium potential field: reaction–diffusion with growth events and Turing
//! patterning.
//!
//! # Model
//! The membrane potential `V` (volts) lives on an N×N grid with periodic boundaries.
//! Each step applies, in order:
//!
//! 1. **Growth event** with probability `p`: one uniformly chosen cell gains a spike
//!    `V[r,c] += N(0.02, 0.005)` V.
//! 2. **Diffusion**, explicit Euler with Δx = Δt = 1: `V ← V + α·L(V)` where
//!    `L(u)[i,j] = u[i−1,j] + u[i+1,j] + u[i,j−1] + u[i,j+1] − 4·u[i,j]`.
//! 3. **Turing patterning** (optional), activator `a` and inhibitor `i`:
//!    ```text
//!    a' = a + (D_a·L(a) + r_a·(a·(1 − a) − i))      D_a = 0.1,  r_a = 0.01
//!    i' = i + (D_i·L(i) + r_i·(a' − i))             D_i = 0.05, r_i = 0.02
//!    V[a' > θ] += 0.005 V;  a', i' clipped to [0, 1]
//!    ```
//!    `L(a)` and `L(i)` are both taken from the pre-update fields; the inhibitor uses the
//!    *updated* activator (a Gauss–Seidel-style coupling inherited from the reference).
//!    The brackets matter: the reference updates in place (`a += D_a·La + r_a·(…)`), so
//!    NumPy evaluates the whole increment first and adds it to `a` last. Floating-point
//!    addition is not associative; `(a + D_a·L(a)) + r_a·(…)` differs in the last bits of
//!    `a` and `i` (and flips a cell of `V` whenever `a'` lies within an ulp of `θ`).
//! 4. **Quantum jitter** (optional): `V += N(0, √σ²)` per cell.
//! 5. **Clamp** `V` to `[−0.095, 0.040]` V, counting the cells that needed it.
//!
//! The initial state is `V ~ N(−0.070, 0.005)` and, with Turing enabled,
//! `a, i ~ U(0, 0.1)`, drawn in that order, row-major.
//!
//! # Stability
//! The explicit scheme for `u_t = α·Δu` on a unit grid is stable iff `α ≤ 1/4` (the
//! von Neumann / CFL condition `α·Δt/Δx² ≤ 1/(2d)` with d = 2). Larger `α` makes the
//! highest mode grow as `(1 − 8α)^t`; the reference silently saturated at the clamp, we
//! reject it. The Turing diffusivities 0.1 and 0.05 are within the same bound.
//!
//! # Bit-exactness
//! Results equal the NumPy reference bit for bit: the random stream is NumPy's
//! ([`crate::rng`]), the stencil adds the four neighbours in exactly the order written
//! above, every expression keeps the reference's association, no fused multiply-add is
//! used (Rust never contracts `a*b + c` on its own), and statistics use NumPy's pairwise
//! summation ([`crate::stats`]). One step is a single fused pass over each row triple of
//! `V`, `a` and `i` (diffusion, Turing update and mask, jitter, clamp and both counters
//! together; see `kernel`): the arithmetic per cell is the reference's, only the memory
//! traffic differs. The pass is vectorised (AVX-512 or AVX2 when the CPU has it, chosen
//! at run time); lanes compute exactly what scalar code does, as no FMA is used. Grids of at
//! least [`PARALLEL_MIN_GRID`] run each step row-parallel on the current rayon pool,
//! and draw their initial Turing state on two of its threads (the same draws, in
//! pieces whose stream positions are known in advance).
//! The state is one array per field, updated in place in bands of rows (one band below
//! [`PARALLEL_MIN_GRID`]): each band sweeps a ring of its rows plus two row slots,
//! writing each new row over an old row whose last reader has run, and reads the rows
//! just outside it where no band writes them (`kernel::band`, `kernel::ring`). Every
//! cell reads only the previous state, so any thread count gives the same bytes.
//!
//! ```
//! use mfn_core::field::{simulate, SimulationParams};
//! let p = SimulationParams { grid_size: 8, steps: 3, ..Default::default() };
//! let r = simulate(&p, 42).unwrap();
//! assert_eq!(r.growth_events, 2);
//! assert_eq!(r.field[0], -0.07031207471055746);
//! ```

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result, check_range_f64, check_range_usize};
use crate::rng::Rng;
use crate::stats;

mod kernel;
use kernel::Padded;

/// Grids at least this wide run each step row-parallel on the rayon pool, when no
/// other such step is running in the process (two simulations stepping at once each
/// step on one thread: see `LargeStep` in the source).
pub const PARALLEL_MIN_GRID: usize = 256;

/// Grids at least this wide take two steps per pass over the state in
/// [`Simulation::run`] (the kernel's `pair`): measured on a 2-core AVX-512 Xeon
/// (`kernel_timing parts|parts1 N STEPS 7`, three alternated rounds), 512×512 steps
/// 1–6 % faster on one thread and 8–10 % on two (fewer joins), 256×256 2 % and 12 %;
/// but 128×128 11 % slower on one thread (the pass's row set-up costs more than the
/// one trip through the caches saves when the state already fits the core's L2).
pub const PAIR_MIN_GRID: usize = 256;

/// Steps of grids of at least [`PARALLEL_MIN_GRID`] running in this process now.
static LARGE_STEPS: AtomicUsize = AtomicUsize::new(0);

/// One large step in flight. A step goes row-parallel only when it is `alone`: two
/// simulations stepping at once already keep two cores busy, and both splitting their
/// rows over one pool made each several times slower (two Python threads, 256×256×200:
/// 64 ms for the pair against 19.6 ms for one run). The choice is per step, and the
/// bytes are the same either way.
struct LargeStep {
    /// Alone and on a pool of more than one thread: share the work out.
    parallel: bool,
}

impl LargeStep {
    /// Held for the length of one sweep (a step or a pair of steps), the initial draws
    /// or a summary of an N×N grid; `None` below [`PARALLEL_MIN_GRID`], which always
    /// runs on the calling thread.
    fn enter(n: usize) -> Option<LargeStep> {
        (n >= PARALLEL_MIN_GRID).then(|| {
            let alone = LARGE_STEPS.fetch_add(1, Ordering::AcqRel) == 0;
            LargeStep {
                parallel: alone && rayon::current_num_threads() > 1,
            }
        })
    }

    fn parallel(large: &Option<LargeStep>) -> bool {
        large.as_ref().is_some_and(|l| l.parallel)
    }
}

impl Drop for LargeStep {
    fn drop(&mut self) {
        LARGE_STEPS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Activator diffusivity `D_a`.
pub const D_A: f64 = 0.1;
/// Inhibitor diffusivity `D_i`.
pub const D_I: f64 = 0.05;
/// Activator reaction rate `r_a`.
pub const R_A: f64 = 0.01;
/// Inhibitor reaction rate `r_i`.
pub const R_I: f64 = 0.02;
/// Potential added where the activator exceeds the threshold (V).
pub const TURING_INCREMENT: f64 = 0.005;
/// Lower clamp of the potential (V).
pub const V_MIN: f64 = -0.095;
/// Upper clamp of the potential (V).
pub const V_MAX: f64 = 0.040;
/// Binarisation threshold for "active" tissue (V, strict `>`).
pub const V_THRESHOLD_ACTIVE: f64 = -0.060;
/// Largest grid the core accepts; services apply their own, smaller limit.
pub const MAX_GRID_SIZE: usize = 1024;
/// Smallest grid (the stencil and box counting need a few cells).
pub const MIN_GRID_SIZE: usize = 4;
/// Most steps the core accepts.
pub const MAX_STEPS: usize = 10_000;
/// Largest stable diffusion coefficient (CFL limit of the explicit scheme).
pub const ALPHA_CFL_LIMIT: f64 = 0.25;

/// Parameters of a field simulation (SCIENCE.md §2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimulationParams {
    /// Grid side N, in `[4, 1024]`.
    pub grid_size: usize,
    /// Number of steps, in `[1, 10000]`.
    pub steps: usize,
    /// Diffusion coefficient α, in `(0, 0.25]` (CFL limit).
    pub alpha: f64,
    /// Probability of a growth event per step, in `[0, 1]`.
    pub spike_probability: f64,
    /// Run the activator–inhibitor system.
    pub turing_enabled: bool,
    /// Activator level above which the potential is raised, in `[0, 1]`.
    pub turing_threshold: f64,
    /// Add Gaussian noise to the potential every step.
    pub quantum_jitter: bool,
    /// Variance of the jitter (V²), in `[0, 0.01]`.
    pub jitter_var: f64,
}

impl Default for SimulationParams {
    fn default() -> Self {
        SimulationParams {
            grid_size: 64,
            steps: 64,
            alpha: 0.18,
            spike_probability: 0.25,
            turing_enabled: true,
            turing_threshold: 0.75,
            quantum_jitter: false,
            jitter_var: 0.0005,
        }
    }
}

impl SimulationParams {
    /// Check every parameter against its range; the error names the parameter and the
    /// allowed range.
    ///
    /// ```
    /// use mfn_core::field::SimulationParams;
    /// let bad = SimulationParams { alpha: 0.3, ..Default::default() };
    /// let e = bad.validate().unwrap_err().to_string();
    /// assert!(e.contains("alpha") && e.contains("CFL"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_range_usize("grid_size", self.grid_size, MIN_GRID_SIZE, MAX_GRID_SIZE)?;
        check_range_usize("steps", self.steps, 1, MAX_STEPS)?;
        if !(self.alpha > 0.0 && self.alpha <= ALPHA_CFL_LIMIT) {
            return Err(CoreError::out_of_range(
                "alpha",
                self.alpha,
                "must be in (0, 0.25]: explicit Euler diffusion is unstable above the CFL limit 0.25",
            ));
        }
        check_range_f64("spike_probability", self.spike_probability, 0.0, 1.0)?;
        check_range_f64("turing_threshold", self.turing_threshold, 0.0, 1.0)?;
        check_range_f64("jitter_var", self.jitter_var, 0.0, 0.01)?;
        Ok(())
    }
}

/// Outcome of a simulation: the final field and its summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimulationResult {
    /// Grid side N.
    pub grid_size: usize,
    /// Steps run.
    pub steps: usize,
    /// Final potential in volts, row-major N×N.
    pub field: Vec<f64>,
    /// Number of growth events (spikes).
    pub growth_events: u64,
    /// Number of cell-steps where the activator exceeded the threshold.
    pub turing_activations: u64,
    /// Number of cell-steps clamped to `[V_MIN, V_MAX]`.
    pub clamping_events: u64,
    /// Minimum potential (mV).
    pub pot_min_mv: f64,
    /// Maximum potential (mV).
    pub pot_max_mv: f64,
    /// Mean potential (mV).
    pub pot_mean_mv: f64,
    /// Population standard deviation of the potential (mV).
    pub pot_std_mv: f64,
    /// Mean activator level (0 without Turing).
    pub activator_mean: f64,
    /// Mean inhibitor level (0 without Turing).
    pub inhibitor_mean: f64,
    /// Box-counting dimension of `V > −60 mV`.
    pub fractal_dimension: f64,
}

/// A running simulation, advanced one step at a time; streams use it to emit frames of
/// one continuous run.
///
/// ```
/// use mfn_core::field::{simulate, Simulation, SimulationParams};
/// let p = SimulationParams { grid_size: 16, steps: 10, ..Default::default() };
/// let mut sim = Simulation::new(&p, 42).unwrap();
/// while sim.steps_done() < p.steps {
///     sim.step().unwrap();
/// }
/// assert_eq!(sim.summary(), simulate(&p, 42).unwrap());
/// ```
#[derive(Clone, Debug)]
pub struct Simulation {
    params: SimulationParams,
    rng: Rng,
    n: usize,
    /// V, a and i in the kernel's padded layout (rows of `kernel::stride(n)` with halo
    /// columns, see [`kernel::LEAD`]), in bands of rows with two spare row slots each
    /// ([`slot`], [`kernel::band`]); a and i are empty without Turing.
    v: Padded,
    a: Padded,
    i: Padded,
    /// Where each band's first row is: slot 0 or 2 of the band.
    base: usize,
    /// Per band, the rows of each field that its sweep overwrites before the
    /// neighbour band reads them (one for a step, two for a pair of steps), copied
    /// before the sweep; the whole-grid sweep's wrap-around row likewise. Pairs keep
    /// two sets, each pass reading one and writing the other (see `pair_saved`).
    saved: Padded,
    /// `Some((k, h))` when set `h` of a pair's copies holds the rows the next pair
    /// reads, written by the bands of the pair that ended at step `k` as they finished
    /// (so the next pair need not copy them first).
    pair_saved: Option<(usize, usize)>,
    /// One step's jitter draws (N² or empty without jitter).
    jitter: Vec<f64>,
    /// The second step's of a pair ([`kernel::pair`]; empty until one runs).
    jitter2: Vec<f64>,
    /// The instruction set the kernel runs on, detected once.
    arch: pulp::Arch,
    /// Row-major N×N copies of the state, made on first access after a step.
    views: Views,
    steps_done: usize,
    growth_events: u64,
    turing_activations: u64,
    clamping_events: u64,
}

impl Simulation {
    /// Validate `params` and draw the initial state from `default_rng(seed)`.
    pub fn new(params: &SimulationParams, seed: u64) -> Result<Self> {
        params.validate()?;
        Self::with_rng(params, Rng::new(seed))
    }

    /// Validate `params` and draw the initial state from `rng` (which the simulation
    /// then owns; see [`simulate_with_rng`] to keep using a shared generator).
    pub fn with_rng(params: &SimulationParams, mut rng: Rng) -> Result<Self> {
        params.validate()?;
        let n = params.grid_size;
        let cells = n * n;
        let large = LargeStep::enter(n);
        let (v, a, i) = if params.turing_enabled && LargeStep::parallel(&large) {
            draw_initial_parallel(n, &mut rng)
        } else {
            // Row-major draws, written straight into the padded rows.
            let v = draw_padded(n, |row| rng.fill_normal(row, -0.070, 0.005));
            let (a, i) = if params.turing_enabled {
                let a = draw_padded(n, |row| rng.fill_uniform(row, 0.0, 0.1));
                let i = draw_padded(n, |row| rng.fill_uniform(row, 0.0, 0.1));
                (a, i)
            } else {
                (Padded::default(), Padded::default())
            };
            (v, a, i)
        };
        drop(large);
        Ok(Simulation {
            params: params.clone(),
            rng,
            n,
            v,
            a,
            i,
            base: 0,
            jitter: if params.quantum_jitter {
                vec![0.0; cells]
            } else {
                Vec::new()
            },
            jitter2: Vec::new(),
            saved: Padded::default(),
            pair_saved: None,
            arch: pulp::Arch::new(),
            views: Views::default(),
            steps_done: 0,
            growth_events: 0,
            turing_activations: 0,
            clamping_events: 0,
        })
    }

    /// The parameters this simulation runs with.
    pub fn params(&self) -> &SimulationParams {
        &self.params
    }

    /// Steps completed so far.
    pub fn steps_done(&self) -> usize {
        self.steps_done
    }

    /// The current potential field (volts, row-major N×N).
    pub fn field(&self) -> &[f64] {
        self.views.v.get_or_init(|| unpad(self.grid(&self.v)))
    }

    /// Growth events so far.
    pub fn growth_events(&self) -> u64 {
        self.growth_events
    }

    /// Change the diffusion coefficient mid-run (steering); validated like a parameter.
    pub fn set_alpha(&mut self, alpha: f64) -> Result<()> {
        let p = SimulationParams {
            alpha,
            ..self.params.clone()
        };
        p.validate()?;
        self.params = p;
        Ok(())
    }

    /// Change the growth probability mid-run (steering); validated like a parameter.
    pub fn set_spike_probability(&mut self, spike_probability: f64) -> Result<()> {
        let p = SimulationParams {
            spike_probability,
            ..self.params.clone()
        };
        p.validate()?;
        self.params = p;
        Ok(())
    }

    /// Advance one step. Runs past `params.steps` are allowed (the stepper does not
    /// stop by itself); an error is returned if the field stops being finite.
    pub fn step(&mut self) -> Result<()> {
        self.draw_step();
        // 2–5 fused per row ([`kernel`]): every cell reads only the previous state, so
        // rows are independent and large grids run row-parallel.
        let k = self.consts();
        let large = LargeStep::enter(self.n);
        let counts = self.sweep_bands(LargeStep::parallel(&large), k);
        self.finish([counts], large)
    }

    /// Two steps in one pass over the state ([`kernel::pair`]): the bytes, counters
    /// and generator state of two [`step`](Self::step)s. The second step's draws come
    /// before the pass too (none of them depends on the state), in the same order.
    fn step_pair(&mut self) -> Result<()> {
        let n = self.n;
        let first = self.draw_step();
        let spike = self.draw_growth();
        if self.params.quantum_jitter {
            self.jitter2.resize(n * n, 0.0);
            let sd = self.params.jitter_var.sqrt();
            self.rng.fill_normal(&mut self.jitter2, 0.0, sd);
        }
        let k = self.consts();
        let large = LargeStep::enter(n);
        let counts = self.sweep_pair(LargeStep::parallel(&large), k, [first, spike]);
        self.finish(counts, large)
    }

    /// A step's draws before its sweep: 1, the growth event, added to V (and
    /// returned); then 4's jitter, in row-major order.
    fn draw_step(&mut self) -> Option<kernel::Spike> {
        let n = self.n;
        let spike = self.draw_growth();
        if let Some(spike) = spike {
            let s = kernel::stride(n);
            let row = &mut self.v[slot(n, self.base, spike.row) * s..][..s];
            row[kernel::LEAD + spike.col] += spike.amount;
            // Keep the halo equal to the interior (columns 0 and N−1 appear twice).
            kernel::fill_halo(row, n);
        }
        let p = &self.params;
        if p.quantum_jitter {
            self.rng
                .fill_normal(&mut self.jitter, 0.0, p.jitter_var.sqrt());
        }
        spike
    }

    /// The growth event of a step, drawn: with probability `spike_probability`, a
    /// cell (row, then column) and the amount added to V there.
    fn draw_growth(&mut self) -> Option<kernel::Spike> {
        let n = self.n as u64;
        if self.rng.random() < self.params.spike_probability {
            self.growth_events += 1;
            Some(kernel::Spike {
                row: self.rng.integers(n) as usize,
                col: self.rng.integers(n) as usize,
                amount: self.rng.normal(0.02, 0.005),
            })
        } else {
            None
        }
    }

    fn consts(&self) -> kernel::Consts {
        kernel::Consts {
            alpha: self.params.alpha,
            threshold: self.params.turing_threshold,
        }
    }

    /// Book the counts of the `K` steps just swept; the first step that left a cell
    /// not finite is an error.
    fn finish<const K: usize>(
        &mut self,
        counts: [kernel::Counts; K],
        large: Option<LargeStep>,
    ) -> Result<()> {
        drop(large);
        // Every sweep, of one step or two, leaves the state at the other base.
        self.base = 2 - self.base;
        self.views = Views::default();
        let mut failed = None;
        for c in counts {
            self.turing_activations += c.activations;
            self.clamping_events += c.clamped;
            self.steps_done += 1;
            if c.nonfinite > 0 && failed.is_none() {
                failed = Some(self.steps_done);
            }
        }
        match failed {
            Some(step) => Err(CoreError::NonFinite { step }),
            None => Ok(()),
        }
    }

    /// Advance `steps` steps, stopping at the first error: the bytes of as many
    /// [`step`](Self::step)s. Grids of at least [`PAIR_MIN_GRID`] take them two at a
    /// time in one pass over the state (the kernel's `pair`); an error in the first of
    /// two steps is then returned after both.
    ///
    /// A grid that steps row-parallel runs the whole loop on the rayon pool, so the
    /// calling thread hands the work over once instead of once per step (and a pool
    /// thread, not a sleeping caller, takes the steps' serial parts): at 512×512×100
    /// on two threads, 31 ms against 33.
    pub fn run(&mut self, steps: usize) -> Result<()> {
        let handover = self.n >= PARALLEL_MIN_GRID
            && rayon::current_thread_index().is_none()
            && rayon::current_num_threads() > 1;
        let mut go = || {
            let pairs = if self.steps_per_pass() == 2 {
                steps / 2
            } else {
                0
            };
            for _ in 0..pairs {
                self.step_pair()?;
            }
            (2 * pairs..steps).try_for_each(|_| self.step())
        };
        if handover {
            rayon::scope(|_| go())
        } else {
            go()
        }
    }

    /// Advance until `target` steps are done (none if they are), a pass of
    /// [`steps_per_pass`](Self::steps_per_pass) steps at a time, calling `check` before
    /// each pass — a caller's cancellation test: the bytes of as many
    /// [`step`](Self::step)s.
    pub fn run_to<E: From<CoreError>>(
        &mut self,
        target: usize,
        mut check: impl FnMut() -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        while self.steps_done < target {
            check()?;
            let k = self.steps_per_pass().min(target - self.steps_done);
            self.run(k)?;
        }
        Ok(())
    }

    /// How many steps [`run`](Self::run) takes per pass over the state: 2 for grids of
    /// at least [`PAIR_MIN_GRID`], else 1. A caller that advances a few steps at a time
    /// (to check for cancellation between them) should advance this many.
    pub fn steps_per_pass(&self) -> usize {
        if self.n >= PAIR_MIN_GRID { 2 } else { 1 }
    }

    /// The activator `a` after the last step (row-major; empty without Turing).
    pub fn activator(&self) -> &[f64] {
        self.views.a.get_or_init(|| unpad(self.grid(&self.a)))
    }

    /// The inhibitor `i` after the last step (row-major; empty without Turing).
    pub fn inhibitor(&self) -> &[f64] {
        self.views.i.get_or_init(|| unpad(self.grid(&self.i)))
    }

    /// Summary of the current state (what [`simulate`] returns after the last step).
    pub fn summary(&self) -> SimulationResult {
        self.summarize(true)
    }

    /// [`summary`](Self::summary) with an empty `field`: the statistics are read from
    /// the state in place, so nothing of size N² is copied or allocated (a stream frame
    /// without the field costs the step plus one read of the state).
    pub fn summary_without_field(&self) -> SimulationResult {
        self.summarize(false)
    }

    /// The statistics of V (min, max, mean, then the variance about it) and, beside
    /// them, the means of a and i. A large grid whose steps go row-parallel reads the
    /// two sides on two threads; each reduction is the same sequential code either
    /// way, so the digits are too.
    fn summarize(&self, with_field: bool) -> SimulationResult {
        let v = self.grid(&self.v);
        let of_v = || {
            let (lo, hi) = stats::min_max(&v);
            let mean = stats::mean(&v);
            (lo, hi, mean, stats::var_about(&v, mean))
        };
        let means = || {
            if self.params.turing_enabled {
                (
                    stats::mean(&self.grid(&self.a)),
                    stats::mean(&self.grid(&self.i)),
                )
            } else {
                (0.0, 0.0)
            }
        };
        let large = LargeStep::enter(self.n);
        let (of_v, means) = if LargeStep::parallel(&large) {
            rayon::join(of_v, means)
        } else {
            (of_v(), means())
        };
        drop(large);
        let ((lo, hi, mean, var), (activator_mean, inhibitor_mean)) = (of_v, means);
        // On the calling thread: made on a pool thread, the 2 MB copy of a 512x512
        // field cost 0.4–0.7 ms more (`kernel_timing parts 512 100 5`, two threads).
        let field = match (with_field, self.views.v.get()) {
            (false, _) => Vec::new(),
            (true, Some(f)) => f.clone(),
            (true, None) => unpad(v),
        };
        SimulationResult {
            grid_size: self.n,
            steps: self.steps_done,
            field,
            growth_events: self.growth_events,
            turing_activations: self.turing_activations,
            clamping_events: self.clamping_events,
            pot_min_mv: lo * 1000.0,
            pot_max_mv: hi * 1000.0,
            pot_mean_mv: mean * 1000.0,
            pot_std_mv: var.sqrt() * 1000.0,
            activator_mean,
            inhibitor_mean,
            // No cell above the threshold: an empty mask, dimension 0 (the common
            // quiet frame skips building it).
            fractal_dimension: if hi <= V_THRESHOLD_ACTIVE {
                0.0
            } else {
                crate::fractal::field_fractal_dimension(&v, self.n)
            },
        }
    }

    /// V, a and i read in place, in row-major order (a and i empty without Turing):
    /// for reductions and digests that must not copy the state.
    pub fn grids(&self) -> [stats::Rows<'_>; 3] {
        [self.grid(&self.v), self.grid(&self.a), self.grid(&self.i)]
    }

    /// The row-major N×N interior of a padded state array, read in place.
    fn grid<'a>(&self, padded: &'a [f64]) -> stats::Rows<'a> {
        let s = kernel::stride(self.n);
        stats::Rows {
            data: padded.get(self.base * s..).unwrap_or(&[]),
            rows: if padded.is_empty() { 0 } else { self.n },
            cols: self.n,
            stride: s,
            offset: kernel::LEAD,
            band: band_rows(self.n),
            // One band: its spare slots are after the last row.
            gap: if band_rows(self.n) < self.n { 2 } else { 0 },
        }
    }

    /// The state's shape for a sweep ([`Shape`]).
    fn shape(&self) -> Shape {
        let n = self.n;
        let rows = band_rows(n);
        Shape {
            n,
            s: kernel::stride(n),
            rows,
            bands: n.div_ceil(rows),
            fields: if self.a.is_empty() { 1 } else { 3 },
            down: self.base == 2,
        }
    }

    /// One step of every band ([`kernel::band`]), on the rayon pool if `parallel`.
    fn sweep_bands(&mut self, parallel: bool, k: kernel::Consts) -> kernel::Counts {
        let Shape {
            n,
            s,
            rows,
            bands,
            fields,
            down,
        } = self.shape();
        if bands == 1 {
            let ring = kernel::Ring {
                n,
                v: &mut self.v,
                a: &mut self.a,
                i: &mut self.i,
                z: &self.jitter,
                base: self.base,
                saved: &mut self.saved,
            };
            return kernel::ring(self.arch, ring, k);
        }
        // The one row of each band that its own sweep overwrites before its neighbour
        // has read it (the first going down, the last going up), copied first.
        if self.saved.len() < bands * 3 * s {
            self.saved.resize(bands * 3 * s);
        }
        for (b, saved) in self.saved.chunks_exact_mut(3 * s).take(bands).enumerate() {
            let x = if down {
                b * rows
            } else {
                ((b + 1) * rows).min(n) - 1
            };
            for (f, row) in saved.chunks_exact_mut(s).enumerate().take(fields) {
                let st = [&self.v, &self.a, &self.i][f];
                row.copy_from_slice(&st[slot(n, self.base, x) * s..][..s]);
            }
        }
        let saved = &self.saved[..];
        let (arch, z) = (self.arch, &self.jitter[..]);
        let run = |b: usize, parts| {
            let band = kernel::Band {
                n,
                first_row: b * rows,
                len: ((b + 1) * rows).min(n) - b * rows,
                down,
                parts,
                z,
            };
            kernel::band(arch, band, k)
        };
        let states = [&mut self.v, &mut self.a, &mut self.i];
        let mut work: Vec<[kernel::Part<'_>; 3]> = (0..bands).map(|_| Default::default()).collect();
        for (f, st) in states.into_iter().enumerate().take(fields) {
            let (bodies, kepts): (Vec<_>, Vec<_>) = st
                .chunks_mut((rows + 2) * s)
                .map(|band| split_band(band, s, down))
                .unzip();
            for (b, body) in bodies.into_iter().enumerate() {
                work[b][f] = band_part(b, f, body, &kepts, saved, down);
            }
        }
        // Going up, each thread's share of the bands (the pool splits the list in
        // halves, so with two threads the first half stays with the calling thread)
        // is swept last band first: the rows a step going down wrote last are the first
        // the next one reads, still in the core's cache (1 thread, 512×512×100: steps
        // 29.3–29.5 → 27.4–27.6 ms, `RAYON_NUM_THREADS=1 kernel_timing parts 512 100 5`).
        let share = if parallel {
            bands.div_ceil(rayon::current_num_threads().min(bands))
        } else {
            bands
        };
        let mut work: Vec<_> = work.into_iter().enumerate().collect();
        if !down {
            work.chunks_mut(share).for_each(<[_]>::reverse);
        }
        let sum = |x: kernel::Counts, y| x + y;
        if parallel {
            work.into_par_iter()
                .map(|(b, parts)| run(b, parts))
                .reduce(kernel::Counts::default, sum)
        } else {
            work.into_iter()
                .map(|(b, parts)| run(b, parts))
                .fold(kernel::Counts::default(), sum)
        }
    }

    /// Two steps of every band in one pass each ([`kernel::pair`]), on the rayon pool
    /// if `parallel`; `spikes` are the two steps' growth events (the first already
    /// added to V).
    fn sweep_pair(
        &mut self,
        parallel: bool,
        k: kernel::Consts,
        spikes: [Option<kernel::Spike>; 2],
    ) -> [kernel::Counts; 2] {
        let Shape {
            n,
            s,
            rows,
            bands,
            fields,
            down,
        } = self.shape();
        let len_of = |b: usize| ((b + 1) * rows).min(n) - b * rows;
        // The rows of a band of `len` rows that a pass going `down` overwrites before a
        // neighbour has read them (its first two; going up its last two), and row x's
        // slot among the band's two copies.
        let early = |down: bool, len: usize| {
            if down {
                0..len.min(2)
            } else {
                len.saturating_sub(2)..len
            }
        };
        let saved_slot = |down: bool, x: usize, len: usize| if down { x } else { x + 2 - len };
        // Two sets of copies: this pass reads set h, and each band writes the rows the
        // next pass (going the other way) reads into set 1 − h as soon as it has
        // written them, while they are in its core's cache. Only if the last pair did
        // not end here (first, or after a single step) are they copied now, one band
        // after the other: at 512×512 on two threads that took 13–16 µs a pass.
        let set = bands * 6 * s;
        if self.saved.len() < 2 * set {
            self.saved.resize(2 * set);
        }
        let (h, ready) = match self.pair_saved {
            Some((done, h)) => (h, done == self.steps_done),
            None => (0, false),
        };
        let (reads, writes) = {
            let (x, y) = self.saved[..2 * set].split_at_mut(set);
            if h == 0 { (x, y) } else { (y, x) }
        };
        let states = [&self.v, &self.a, &self.i];
        let mut copy = |f: usize, g: usize| {
            let (b, x) = (g / rows, g % rows);
            let j = saved_slot(down, x, len_of(b));
            reads[((b * 3 + f) * 2 + j) * s..][..s]
                .copy_from_slice(&states[f][slot(n, self.base, g) * s..][..s]);
        };
        if !ready {
            for b in 0..bands {
                for f in 0..fields {
                    for x in early(down, len_of(b)) {
                        copy(f, b * rows + x);
                    }
                }
            }
        } else if let Some(spike) = spikes[0] {
            // The first step's growth event came after the copies.
            let (b, x) = (spike.row / rows, spike.row % rows);
            if early(down, len_of(b)).contains(&x) {
                copy(0, spike.row);
            }
        }
        let saved = &*reads;
        let states = [&mut self.v, &mut self.a, &mut self.i];
        let mut bodies: [Vec<&mut [f64]>; 3] = Default::default();
        let mut kepts: [Vec<&[f64]>; 3] = Default::default();
        for (f, st) in states.into_iter().enumerate().take(fields) {
            (bodies[f], kepts[f]) = st
                .chunks_mut((rows + 2) * s)
                .map(|band| split_band(band, s, down))
                .unzip();
        }
        // Old row g of field f where no band writes it during the pass: a copy if its
        // band overwrites it early, else in its band's kept slots (going down old rows
        // len − 2 and len − 1, going up 0 and 1).
        let old = |f: usize, g: usize| -> &[f64] {
            let (b, x) = (g / rows, g % rows);
            let len = len_of(b);
            if early(down, len).contains(&x) {
                &saved[((b * 3 + f) * 2 + saved_slot(down, x, len)) * s..][..s]
            } else {
                let j = if down { x + 2 - len } else { x };
                &kepts[f][b][j * s..][..s]
            }
        };
        let mut work: Vec<(usize, [kernel::PairPart<'_>; 3], &mut [f64])> = writes
            .chunks_exact_mut(6 * s)
            .enumerate()
            .map(|(b, next)| (b, Default::default(), next))
            .collect();
        for (f, bodies) in bodies.into_iter().enumerate().take(fields) {
            for (b, body) in bodies.into_iter().enumerate() {
                let (first, last) = (b * rows, b * rows + len_of(b));
                let g = |d: isize| (first as isize + d).rem_euclid(n as isize) as usize;
                work[b].1[f] = kernel::PairPart {
                    body,
                    kept: kepts[f][b],
                    outside: [
                        old(f, g(-2)),
                        old(f, g(-1)),
                        old(f, last % n),
                        old(f, (last + 1) % n),
                    ],
                };
            }
        }
        let (arch, z) = (self.arch, [&self.jitter[..], &self.jitter2[..]]);
        let mid_len = 3 * fields * s;
        let run =
            |mid: &mut Padded,
             (b, mut parts, next): (usize, [kernel::PairPart<'_>; 3], &mut [f64])| {
                let len = len_of(b);
                let pair = kernel::Pair {
                    n,
                    first_row: b * rows,
                    len,
                    down,
                    parts: parts.each_mut().map(|p| kernel::PairPart {
                        body: &mut *p.body,
                        kept: p.kept,
                        outside: p.outside,
                    }),
                    z: if z[0].is_empty() { [&[][..]; 2] } else { z },
                    spike: spikes[1],
                    mid,
                };
                let counts = kernel::pair(arch, pair, k);
                for (f, part) in parts.iter().enumerate().take(fields) {
                    for x in early(!down, len) {
                        next[(f * 2 + saved_slot(!down, x, len)) * s..][..s]
                            .copy_from_slice(&part.body[x * s..][..s]);
                    }
                }
                counts
            };
        // As in `sweep_bands`: going up, each thread's share of the bands last first.
        let share = if parallel {
            bands.div_ceil(rayon::current_num_threads().min(bands))
        } else {
            bands
        };
        if !down {
            work.chunks_mut(share).for_each(<[_]>::reverse);
        }
        let sum = |[a, b]: [kernel::Counts; 2], [c, d]: [kernel::Counts; 2]| [a + c, b + d];
        let counts = if parallel {
            work.into_par_iter()
                .map_init(|| Padded::with_len(mid_len), run)
                .reduce(Default::default, sum)
        } else {
            let mut mid = Padded::with_len(mid_len);
            work.into_iter()
                .map(|w| run(&mut mid, w))
                .fold(Default::default(), sum)
        };
        self.pair_saved = Some((self.steps_done + 2, 1 - h));
        counts
    }

    /// Take back the generator (after the run), e.g. to keep drawing from a shared
    /// stream as the reference does.
    pub fn into_rng(self) -> Rng {
        self.rng
    }
}

/// What a sweep needs of the state's layout: N, the row stride, rows per band, the
/// bands, the fields (V alone without Turing, else V, a and i) and the direction (down
/// from base 2, up from base 0).
#[derive(Clone, Copy)]
struct Shape {
    n: usize,
    s: usize,
    rows: usize,
    bands: usize,
    fields: usize,
    down: bool,
}

/// Unpadded views of the state (see [`Simulation::field`]).
#[derive(Clone, Debug, Default)]
struct Views {
    v: OnceLock<Vec<f64>>,
    a: OnceLock<Vec<f64>>,
    i: OnceLock<Vec<f64>>,
}

/// Rows per band of the state ([`kernel::band`]): grids of at least
/// [`PARALLEL_MIN_GRID`] are cut into bands of this many rows, which row-parallel steps
/// share out (and a serial step sweeps one after the other); smaller grids are one
/// band.
const BAND_ROWS: usize = 64;

/// Rows per band of an N×N grid ([`BAND_ROWS`]).
fn band_rows(n: usize) -> usize {
    if n >= PARALLEL_MIN_GRID { BAND_ROWS } else { n }
}

/// The slot of row `x` of an N×N state whose bands start at `base` (0 or 2): each band
/// has two row slots more than rows.
fn slot(n: usize, base: usize, x: usize) -> usize {
    x + 2 * (x / band_rows(n)) + base
}

/// An N×N field in the padded layout, each row's N values drawn by `draw` in order.
fn draw_padded(n: usize, draw: impl FnMut(&mut [f64])) -> Padded {
    let mut out = padded(n);
    fill_padded(&mut out, n, draw);
    out
}

/// Room for an N×N field in the padded layout (contents unspecified).
fn padded(n: usize) -> Padded {
    Padded::with_len((n + 2 * n.div_ceil(band_rows(n))) * kernel::stride(n))
}

/// Fill `out`'s N rows with `draw`, in order, and their halos.
fn fill_padded(out: &mut Padded, n: usize, mut draw: impl FnMut(&mut [f64])) {
    let s = kernel::stride(n);
    for x in 0..n {
        let row = &mut out[slot(n, 0, x) * s..][..s];
        draw(&mut row[kernel::LEAD..][..n]);
        kernel::fill_halo(row, n);
    }
}

/// The initial state of a large Turing grid on two pool threads, the bytes and the
/// final generator state of the serial draws. V's normals are drawn in two halves side
/// by side, the second from a guess of where it starts in the stream
/// ([`Rng::fill_normal_rows`]), into i's array, which it then copies into V's rows;
/// then a's and i's uniforms, one word each, are drawn side by side, i's from the
/// stream skipped N² draws ahead.
fn draw_initial_parallel(n: usize, rng: &mut Rng) -> (Padded, Padded, Padded) {
    // Taken on this thread, where arrays of its finished simulations wait (`Padded`).
    let (mut v, mut a, mut i) = (padded(n), padded(n), padded(n));
    let s = kernel::stride(n);
    let rows = band_rows(n);
    let mut v_rows: Vec<&mut [f64]> = v
        .chunks_mut((rows + 2) * s)
        .flat_map(|band| band.chunks_exact_mut(s).take(rows))
        .take(n)
        .map(|row| &mut row[kernel::LEAD..][..n])
        .collect();
    rng.fill_normal_rows(&mut v_rows, &mut i, -0.070, 0.005);
    drop(v_rows);
    for x in 0..n {
        kernel::fill_halo(&mut v[slot(n, 0, x) * s..][..s], n);
    }
    let mut rest = rng.clone();
    rest.skip((n * n) as u64);
    rayon::join(
        || fill_padded(&mut a, n, |row| rng.fill_uniform(row, 0.0, 0.1)),
        || fill_padded(&mut i, n, |row| rest.fill_uniform(row, 0.0, 0.1)),
    );
    *rng = rest;
    (v, a, i)
}

/// A band's row slots: those a step writes and the two it keeps (see [`kernel::Part`]).
fn split_band(band: &mut [f64], s: usize, down: bool) -> (&mut [f64], &[f64]) {
    let len = band.len() / s - 2;
    if down {
        let (body, kept) = band.split_at_mut(len * s);
        (body, kept)
    } else {
        let (kept, body) = band.split_at_mut(2 * s);
        (body, kept)
    }
}

/// Band b of field f for a step, with the rows just outside it: the neighbour's kept
/// row on the side the sweep starts from, the copy (`saved`: per band, one row per
/// field) of the row the neighbour overwrites on the other.
fn band_part<'a>(
    b: usize,
    f: usize,
    body: &'a mut [f64],
    kepts: &[&'a [f64]],
    saved: &'a [f64],
    down: bool,
) -> kernel::Part<'a> {
    let bands = kepts.len();
    let s = kepts[b].len() / 2;
    let (prev, next) = ((b + bands - 1) % bands, (b + 1) % bands);
    let copy = |b: usize| &saved[(3 * b + f) * s..][..s];
    let (above, below) = if down {
        (&kepts[prev][s..], copy(next))
    } else {
        (copy(prev), &kepts[next][..s])
    };
    kernel::Part {
        body,
        kept: kepts[b],
        above,
        below,
    }
}

/// A row-major copy of a grid read in place.
fn unpad(grid: stats::Rows<'_>) -> Vec<f64> {
    let mut out = Vec::with_capacity(grid.rows * grid.cols);
    for r in 0..grid.rows {
        out.extend_from_slice(grid.row(r));
    }
    out
}

/// Run a simulation from `default_rng(seed)`.
pub fn simulate(params: &SimulationParams, seed: u64) -> Result<SimulationResult> {
    let mut sim = Simulation::new(params, seed)?;
    sim.run(params.steps)?;
    Ok(sim.summary())
}

/// Run a simulation drawing from a shared generator, which is left positioned after
/// the run's last draw (the reference's `simulate(rng, …)`).
///
/// ```
/// use mfn_core::{field::{simulate, simulate_with_rng, SimulationParams}, rng::Rng};
/// let p = SimulationParams { grid_size: 8, steps: 3, ..Default::default() };
/// let mut rng = Rng::new(42);
/// assert_eq!(simulate_with_rng(&p, &mut rng).unwrap(), simulate(&p, 42).unwrap());
/// ```
pub fn simulate_with_rng(params: &SimulationParams, rng: &mut Rng) -> Result<SimulationResult> {
    params.validate()?;
    let placeholder = Rng::new(0);
    let mut sim = Simulation::with_rng(params, std::mem::replace(rng, placeholder))?;
    let outcome = sim.run(params.steps);
    let summary = sim.summary();
    *rng = sim.into_rng();
    outcome.map(|()| summary)
}

/// Run a simulation and keep the field after every step: `history[t]` is the state
/// after step `t + 1` (T = `steps` frames).
pub fn simulate_with_history(
    params: &SimulationParams,
    seed: u64,
) -> Result<(SimulationResult, Vec<Vec<f64>>)> {
    let mut sim = Simulation::new(params, seed)?;
    let mut history = Vec::with_capacity(params.steps);
    for _ in 0..params.steps {
        sim.step()?;
        history.push(sim.field().to_vec());
    }
    Ok((sim.summary(), history))
}

/// Simulate many seeds in parallel (rayon). Each run is independent, so the results are
/// the same bytes as running them one at a time, in the order of `seeds`.
pub fn simulate_many(params: &SimulationParams, seeds: &[u64]) -> Vec<Result<SimulationResult>> {
    seeds.par_iter().map(|&s| simulate(params, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Seq;

    fn run(n: usize, steps: usize) -> SimulationResult {
        let p = SimulationParams {
            grid_size: n,
            steps,
            ..Default::default()
        };
        simulate(&p, 42).unwrap()
    }

    #[test]
    fn golden_n8_steps3() {
        let r = run(8, 3);
        assert_eq!(r.growth_events, 2);
        assert_eq!(stats::sum(&r.field), -4.416234402044351);
        let (lo, hi) = stats::min_max(&r.field);
        assert_eq!(lo, -0.07222537700526518);
        assert_eq!(hi, -0.06258683108778136);
        assert_eq!(
            r.field[..3],
            [
                -0.07031207471055746,
                -0.06955340557743396,
                -0.06921025934994618
            ]
        );
    }

    #[test]
    fn golden_n16_steps10() {
        let r = run(16, 10);
        assert_eq!(r.growth_events, 1);
        assert_eq!(stats::sum(&r.field), -17.959042582110875);
        let (lo, hi) = stats::min_max(&r.field);
        assert_eq!(lo, -0.07200391233595918);
        assert_eq!(hi, -0.06880168739837775);
    }

    #[test]
    fn golden_n64_steps64() {
        let r = run(64, 64);
        assert_eq!(r.growth_events, 14);
        assert_eq!(r.pot_min_mv, -70.70938698488536);
        assert_eq!(r.pot_max_mv, -67.30757873491174);
        assert_eq!(r.pot_mean_mv, -70.03076248064738);
        assert_eq!(r.pot_std_mv, 0.3302476077214526);
    }

    #[test]
    fn alpha_above_cfl_is_rejected_naming_the_limit() {
        let p = SimulationParams {
            alpha: 0.3,
            ..Default::default()
        };
        let e = simulate(&p, 1).unwrap_err();
        assert_eq!(e.field(), Some("alpha"));
        assert!(e.to_string().contains("0.25"));
    }

    #[test]
    fn each_parameter_is_range_checked() {
        let cases: Vec<(&str, SimulationParams)> = vec![
            (
                "grid_size",
                SimulationParams {
                    grid_size: 0,
                    ..Default::default()
                },
            ),
            (
                "grid_size",
                SimulationParams {
                    grid_size: MAX_GRID_SIZE + 1,
                    ..Default::default()
                },
            ),
            (
                "steps",
                SimulationParams {
                    steps: 0,
                    ..Default::default()
                },
            ),
            (
                "alpha",
                SimulationParams {
                    alpha: 0.0,
                    ..Default::default()
                },
            ),
            (
                "alpha",
                SimulationParams {
                    alpha: f64::NAN,
                    ..Default::default()
                },
            ),
            (
                "spike_probability",
                SimulationParams {
                    spike_probability: 1.5,
                    ..Default::default()
                },
            ),
            (
                "turing_threshold",
                SimulationParams {
                    turing_threshold: -0.1,
                    ..Default::default()
                },
            ),
            (
                "jitter_var",
                SimulationParams {
                    jitter_var: 0.02,
                    ..Default::default()
                },
            ),
        ];
        for (field, p) in cases {
            assert_eq!(p.validate().unwrap_err().field(), Some(field), "{p:?}");
        }
    }

    /// Every build of the kernel this CPU runs — baseline (SSE2), AVX2 and AVX-512 —
    /// gives the bytes of the baseline, for every branch combination and for grids whose
    /// rows end in a partial vector of 2, 4 and 8 lanes.
    #[test]
    fn every_instruction_set_gives_the_same_bytes() {
        #[allow(unused_mut)]
        let mut arches = vec![("baseline", pulp::Arch::Scalar)];
        #[cfg(target_arch = "x86_64")]
        {
            arches.extend(pulp::x86::V3::try_new().map(|s| ("AVX2", pulp::Arch::V3(s))));
            arches.extend(pulp::x86::V4::try_new().map(|s| ("AVX-512", pulp::Arch::V4(s))));
        }
        let names: Vec<_> = arches.iter().map(|a| a.0).collect();
        eprintln!("instruction sets compared: {names:?}");
        for (turing, jitter, n) in [
            (true, false, 33),
            (true, true, 20),
            (false, true, 17),
            (true, true, 71),
        ] {
            let p = SimulationParams {
                grid_size: n,
                steps: 40,
                spike_probability: 0.9,
                turing_enabled: turing,
                turing_threshold: 0.05,
                quantum_jitter: jitter,
                jitter_var: 0.002,
                ..Default::default()
            };
            // Single steps, then the same run two steps per pass (`kernel::pair`).
            let run = |arch| {
                let mut sim = Simulation::new(&p, 3).unwrap();
                sim.arch = arch;
                for _ in 0..p.steps {
                    sim.step().unwrap();
                }
                let mut pairs = Simulation::new(&p, 3).unwrap();
                pairs.arch = arch;
                for _ in 0..p.steps / 2 {
                    pairs.step_pair().unwrap();
                }
                (
                    sim.summary(),
                    sim.activator().to_vec(),
                    sim.inhibitor().to_vec(),
                    pairs.summary(),
                    pairs.activator().to_vec(),
                    pairs.inhibitor().to_vec(),
                )
            };
            let baseline = run(pulp::Arch::Scalar);
            assert!(
                baseline.0 == baseline.3 && baseline.1 == baseline.4 && baseline.2 == baseline.5,
                "pairs at {n}x{n}"
            );
            for &(name, arch) in &arches[1..] {
                assert!(
                    run(arch) == baseline,
                    "{name} at {n}x{n}, turing {turing}, jitter {jitter}"
                );
            }
        }
    }

    /// Two steps in one pass over the state ([`kernel::pair`], what `run` takes from
    /// [`PAIR_MIN_GRID`] up) give the bytes, counters and generator state of two single
    /// steps, on every band layout (one band; bands of 64 rows, the last of 1, 2, 3, 44
    /// or 64 rows), with and without Turing and jitter, odd step counts included, with
    /// growth events on the rows a pass computes twice (each band's edge rows, the
    /// grid's wrap-around rows) and on the rows whose copies the pass before made
    /// (`pair_saved`), and with single steps between pairs (after which the copies are
    /// made again).
    #[test]
    fn pairs_of_steps_give_the_bytes_of_single_steps() {
        // The step and row of each growth event, replayed from the generator in the
        // order the steps draw.
        let spikes = |p: &SimulationParams, mut rng: Rng| {
            let n = p.grid_size;
            let mut z = vec![0.0; n * n];
            let mut at = Vec::new();
            for step in 0..p.steps {
                if rng.random() < p.spike_probability {
                    at.push((step, rng.integers(n as u64) as usize));
                    rng.integers(n as u64);
                    rng.normal(0.02, 0.005);
                }
                if p.quantum_jitter {
                    rng.fill_normal(&mut z, 0.0, p.jitter_var.sqrt());
                }
            }
            at
        };
        let (mut edge_one_band, mut edge_bands) = (false, false);
        let (mut copied_one_band, mut copied_bands) = (false, false);
        for (n, turing, jitter, steps, seed) in [
            (4, true, true, 9, 1),
            (8, true, false, 40, 2),
            (8, false, true, 41, 3),
            (33, true, true, 20, 4),
            (64, true, false, 64, 5),
            (257, true, true, 13, 6),
            (300, true, false, 12, 7),
            (300, false, false, 11, 8),
            (256, true, false, 10, 9),
            (258, true, true, 8, 10),
            (259, true, false, 9, 11),
            (320, true, false, 24, 12),
        ] {
            let p = SimulationParams {
                grid_size: n,
                steps,
                spike_probability: 1.0,
                turing_enabled: turing,
                turing_threshold: 0.05,
                quantum_jitter: jitter,
                jitter_var: 0.002,
                ..Default::default()
            };
            let mut single = Simulation::new(&p, seed).unwrap();
            let rows = band_rows(n);
            let at = spikes(&p, single.rng.clone());
            // Second steps of pairs, on a band's edge rows or the grid's last row.
            let edges = at.iter().any(|&(step, r)| {
                step % 2 == 1
                    && step < steps / 2 * 2
                    && (r % rows == 0 || r % rows == rows - 1 || r == n - 1)
            });
            // First steps of pairs after the first (in the all-pairs run below, whose
            // passes go up from step 0, down from step 2, …), on a row the pass before
            // copied: going down a band's first two rows, going up its last two.
            let copied = at.iter().any(|&(step, r)| {
                let len = rows.min(n - r / rows * rows);
                let down = step % 4 == 2;
                step % 2 == 0
                    && step >= 2
                    && step < steps / 2 * 2
                    && if down {
                        r % rows < 2
                    } else {
                        r % rows + 2 >= len
                    }
            });
            if n < PARALLEL_MIN_GRID {
                edge_one_band |= edges;
                copied_one_band |= copied;
            } else {
                edge_bands |= edges;
                copied_bands |= copied;
            }
            for _ in 0..steps {
                single.step().unwrap();
            }
            // Pairs on every grid, small ones included (`run` takes them from
            // `PAIR_MIN_GRID` up): one band is the case where a band's neighbours are
            // itself. Then pairs with a single step after every two.
            let mut pairs = Simulation::new(&p, seed).unwrap();
            for _ in 0..steps / 2 {
                pairs.step_pair().unwrap();
            }
            if steps % 2 == 1 {
                pairs.step().unwrap();
            }
            let mut mixed = Simulation::new(&p, seed).unwrap();
            while mixed.steps_done() < steps {
                if mixed.steps_done() % 5 == 4 || mixed.steps_done() + 1 == steps {
                    mixed.step().unwrap();
                } else {
                    mixed.step_pair().unwrap();
                }
            }
            let single_rng = single.rng.pcg64_state();
            for (run, sim) in [("pairs", pairs), ("mixed", mixed)] {
                assert_eq!(sim.steps_done(), steps);
                let case =
                    format!("{run}: {n}x{n}, {steps} steps, turing {turing}, jitter {jitter}");
                assert!(sim.summary() == single.summary(), "{case}");
                assert!(sim.activator() == single.activator(), "{case}");
                assert!(sim.inhibitor() == single.inhibitor(), "{case}");
                assert_eq!(sim.into_rng().pcg64_state(), single_rng, "{case}");
            }
        }
        assert!(
            edge_one_band && edge_bands,
            "no growth event on a row computed twice"
        );
        assert!(
            copied_one_band && copied_bands,
            "no growth event on a row copied by the pass before"
        );
    }

    /// `run_to` advances a pass at a time (two steps from `PAIR_MIN_GRID` up), checks
    /// before each pass, and stops at the first failed check with the passes before it
    /// taken; the run is the one `simulate` makes.
    #[test]
    fn run_to_takes_passes_and_stops_at_a_failed_check() {
        for (n, passes) in [(PAIR_MIN_GRID, 4), (16, 7)] {
            let p = SimulationParams {
                grid_size: n,
                steps: 7,
                ..Default::default()
            };
            let mut sim = Simulation::new(&p, 1).unwrap();
            let mut checks = 0;
            sim.run_to(7, || {
                checks += 1;
                Ok::<(), CoreError>(())
            })
            .unwrap();
            assert_eq!((sim.steps_done(), checks), (7, passes), "{n}x{n}");
            assert_eq!(sim.summary(), simulate(&p, 1).unwrap(), "{n}x{n}");
            sim.run_to(5, || -> Result<()> { panic!("nothing to do") })
                .unwrap();

            let mut sim = Simulation::new(&p, 1).unwrap();
            let mut left = 2;
            let stop = sim.run_to(7, || {
                if left == 0 {
                    return Err(CoreError::NonFinite { step: 0 });
                }
                left -= 1;
                Ok(())
            });
            assert!(stop.is_err());
            assert_eq!(sim.steps_done(), 2 * sim.steps_per_pass(), "{n}x{n}");
        }
    }

    /// Arrays reused from a finished simulation (whatever they hold) give the bytes of
    /// fresh ones: a run on this thread after others of the same and other sizes equals
    /// the run on a new thread, whose arrays are all new.
    #[test]
    fn reused_arrays_change_nothing() {
        let p = |n, turing, jitter| SimulationParams {
            grid_size: n,
            steps: 12,
            spike_probability: 0.9,
            turing_enabled: turing,
            turing_threshold: 0.05,
            quantum_jitter: jitter,
            ..Default::default()
        };
        let run = |p: &SimulationParams, seed| {
            let mut sim = Simulation::new(p, seed).unwrap();
            for _ in 0..p.steps {
                sim.step().unwrap();
            }
            (
                sim.summary(),
                sim.activator().to_vec(),
                sim.inhibitor().to_vec(),
            )
        };
        let cases = [
            p(24, true, true),
            p(24, true, false),
            p(17, false, true),
            p(24, true, true),
        ];
        let here: Vec<_> = cases
            .iter()
            .zip(1..)
            .map(|(p, seed)| run(p, seed))
            .collect();
        let fresh: Vec<_> = cases
            .iter()
            .zip(1..)
            .map(|(p, seed)| std::thread::scope(|s| s.spawn(|| run(p, seed)).join().unwrap()))
            .collect();
        assert_eq!(here, fresh);
    }

    #[test]
    fn shared_rng_continues_after_the_run() {
        let p = SimulationParams {
            grid_size: 8,
            steps: 5,
            quantum_jitter: true,
            ..Default::default()
        };
        let mut a = Rng::new(9);
        simulate_with_rng(&p, &mut a).unwrap();
        let mut sim = Simulation::new(&p, 9).unwrap();
        for _ in 0..5 {
            sim.step().unwrap();
        }
        let mut b = sim.into_rng();
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn summary_read_in_place_equals_the_one_of_the_copies() {
        // Widths that are and are not multiples of 8 (the pairwise blocks then straddle
        // rows at unaligned offsets), with and without Turing and jitter.
        for (n, turing, jitter) in [
            (5, true, false),
            (13, true, true),
            (64, true, true),
            (100, false, true),
        ] {
            let p = SimulationParams {
                grid_size: n,
                steps: 7,
                turing_enabled: turing,
                quantum_jitter: jitter,
                turing_threshold: 0.02,
                ..Default::default()
            };
            let mut sim = Simulation::new(&p, 3).unwrap();
            for _ in 0..7 {
                sim.step().unwrap();
            }
            let v = sim.field();
            let want = SimulationResult {
                field: Vec::new(),
                pot_min_mv: stats::min_max(v).0 * 1000.0,
                pot_max_mv: stats::min_max(v).1 * 1000.0,
                pot_mean_mv: stats::mean(v) * 1000.0,
                pot_std_mv: stats::std(v) * 1000.0,
                activator_mean: if turing {
                    stats::mean(sim.activator())
                } else {
                    0.0
                },
                inhibitor_mean: if turing {
                    stats::mean(sim.inhibitor())
                } else {
                    0.0
                },
                fractal_dimension: crate::fractal::field_fractal_dimension(v, n),
                ..sim.summary()
            };
            assert_eq!(sim.summary_without_field(), want, "n = {n}");
            assert_eq!(sim.summary().field, v);
            let [gv, ga, _] = sim.grids();
            assert_eq!(stats::sum(&gv).to_bits(), stats::sum(v).to_bits());
            assert_eq!(ga.len(), if turing { n * n } else { 0 });
        }
    }
}
