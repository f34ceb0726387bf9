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
//! traffic differs. The pass is vectorised (AVX2 when the CPU has it, chosen at run
//! time); lanes compute exactly what scalar code does, as no FMA is used. Grids of at
//! least [`PARALLEL_MIN_GRID`] run each step row-parallel on the current rayon pool.
//! The state is one array per field, updated in place: a serial step sweeps a ring of
//! N + 2 row slots, writing each new row over an old row whose last reader has run
//! (`kernel::ring`); a parallel step's blocks keep each new row until the row below
//! has read the old one, and copy the rows around them first. Either way every cell
//! reads only the previous state, so any thread count gives the same bytes.
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

/// Steps of grids of at least [`PARALLEL_MIN_GRID`] running in this process now.
static LARGE_STEPS: AtomicUsize = AtomicUsize::new(0);

/// One large step in flight. A step goes row-parallel only when it is `alone`: two
/// simulations stepping at once already keep two cores busy, and both splitting their
/// rows over one pool made each several times slower (two Python threads, 256×256×200:
/// 64 ms for the pair against 19.6 ms for one run). The choice is per step, and the
/// bytes are the same either way.
struct LargeStep {
    alone: bool,
}

impl LargeStep {
    fn enter() -> LargeStep {
        LargeStep {
            alone: LARGE_STEPS.fetch_add(1, Ordering::AcqRel) == 0,
        }
    }
}

impl Drop for LargeStep {
    fn drop(&mut self) {
        LARGE_STEPS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Rows per parallel task. Each block copies the two rows around it before the step
/// (its ghosts), so small blocks copy more: measured at 512² on 2 threads, 100 steps,
/// 8 rows took 72–83 ms, 16 rows 60 ms, 32 rows 50 ms, 64 rows 41–48 ms.
const PARALLEL_BLOCK_ROWS: usize = 64;

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
    /// columns, see [`kernel::LEAD`]) in N + 2 row slots, row 0 in slot `base`
    /// ([`kernel::ring`]); a and i are empty without Turing.
    v: Padded,
    a: Padded,
    i: Padded,
    /// The slot of row 0: 0 or 2.
    base: usize,
    /// The rows around each block, copied before a step (see [`step_rows`]).
    ghosts: Padded,
    /// One step's jitter draws (N² or empty without jitter).
    jitter: Vec<f64>,
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
        // Row-major draws, written straight into the padded rows.
        let v = draw_padded(n, |row| rng.fill_normal(row, -0.070, 0.005));
        let (a, i) = if params.turing_enabled {
            let a = draw_padded(n, |row| rng.fill_uniform(row, 0.0, 0.1));
            let i = draw_padded(n, |row| rng.fill_uniform(row, 0.0, 0.1));
            (a, i)
        } else {
            (Padded::default(), Padded::default())
        };
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
            ghosts: Padded::default(),
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
        self.views
            .v
            .get_or_init(|| unpad(self.state(&self.v), self.n))
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
        let n = self.n;
        let p = &self.params;

        // 1. Growth event.
        if self.rng.random() < p.spike_probability {
            let r = self.rng.integers(n as u64) as usize;
            let c = self.rng.integers(n as u64) as usize;
            let s = kernel::stride(n);
            let row = &mut self.v[(self.base + r) * s..][..s];
            row[kernel::LEAD + c] += self.rng.normal(0.02, 0.005);
            // Keep the halo equal to the interior (columns 0 and N−1 appear twice).
            kernel::fill_halo(row, n);
            self.growth_events += 1;
        }
        // 4's draws come before the pass that uses them, in row-major order.
        if p.quantum_jitter {
            self.rng
                .fill_normal(&mut self.jitter, 0.0, p.jitter_var.sqrt());
        }

        // 2–5 fused per row ([`kernel`]): every cell reads only the previous state, so
        // rows are independent and large grids run row-parallel.
        let k = kernel::Consts {
            alpha: p.alpha,
            threshold: p.turing_threshold,
        };
        let large = (n >= PARALLEL_MIN_GRID).then(LargeStep::enter);
        let alone = large.as_ref().is_some_and(|l| l.alone);
        let parallel = alone && rayon::current_num_threads() > 1;
        let counts = if parallel {
            let base = self.base * kernel::stride(n);
            fn at(x: &mut Padded, from: usize, n: usize) -> &mut [f64] {
                if x.is_empty() {
                    return &mut [];
                }
                &mut x[from..][..n * kernel::stride(n)]
            }
            step_rows(
                self.arch,
                Whole {
                    n,
                    v: at(&mut self.v, base, n),
                    a: at(&mut self.a, base, n),
                    i: at(&mut self.i, base, n),
                    z: &self.jitter,
                    ghosts: &mut self.ghosts,
                },
                PARALLEL_BLOCK_ROWS,
                k,
            )
        } else {
            let counts = kernel::ring(
                self.arch,
                kernel::Ring {
                    n,
                    v: &mut self.v,
                    a: &mut self.a,
                    i: &mut self.i,
                    z: &self.jitter,
                    base: self.base,
                    saved: &mut self.ghosts,
                },
                k,
            );
            self.base = 2 - self.base;
            counts
        };
        self.views = Views::default();
        self.turing_activations += counts.activations;
        self.clamping_events += counts.clamped;
        self.steps_done += 1;
        if counts.nonfinite > 0 {
            return Err(CoreError::NonFinite {
                step: self.steps_done,
            });
        }
        Ok(())
    }

    /// The activator `a` after the last step (row-major; empty without Turing).
    pub fn activator(&self) -> &[f64] {
        self.views
            .a
            .get_or_init(|| unpad(self.state(&self.a), self.n))
    }

    /// The inhibitor `i` after the last step (row-major; empty without Turing).
    pub fn inhibitor(&self) -> &[f64] {
        self.views
            .i
            .get_or_init(|| unpad(self.state(&self.i), self.n))
    }

    /// Summary of the current state (what [`simulate`] returns after the last step).
    pub fn summary(&self) -> SimulationResult {
        SimulationResult {
            field: match self.views.v.get() {
                Some(f) => f.clone(),
                None => unpad(self.state(&self.v), self.n),
            },
            ..self.summary_without_field()
        }
    }

    /// [`summary`](Self::summary) with an empty `field`: the statistics are read from
    /// the state in place, so nothing of size N² is copied or allocated (a stream frame
    /// without the field costs the step plus one read of the state).
    pub fn summary_without_field(&self) -> SimulationResult {
        let v = self.grid(&self.v);
        let (lo, hi) = stats::min_max(&v);
        let mean = stats::mean(&v);
        let (activator_mean, inhibitor_mean) = if self.params.turing_enabled {
            (
                stats::mean(&self.grid(&self.a)),
                stats::mean(&self.grid(&self.i)),
            )
        } else {
            (0.0, 0.0)
        };
        SimulationResult {
            grid_size: self.n,
            steps: self.steps_done,
            field: Vec::new(),
            growth_events: self.growth_events,
            turing_activations: self.turing_activations,
            clamping_events: self.clamping_events,
            pot_min_mv: lo * 1000.0,
            pot_max_mv: hi * 1000.0,
            pot_mean_mv: mean * 1000.0,
            pot_std_mv: stats::var_about(&v, mean).sqrt() * 1000.0,
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

    /// The N rows of a state array in its ring (empty stays empty).
    fn state<'a>(&self, padded: &'a [f64]) -> &'a [f64] {
        if padded.is_empty() {
            return padded;
        }
        let s = kernel::stride(self.n);
        &padded[self.base * s..][..self.n * s]
    }

    /// The row-major N×N interior of a padded state array, read in place.
    fn grid<'a>(&self, padded: &'a [f64]) -> stats::Rows<'a> {
        stats::Rows {
            data: self.state(padded),
            cols: self.n,
            stride: kernel::stride(self.n),
            offset: kernel::LEAD,
        }
    }

    /// Take back the generator (after the run), e.g. to keep drawing from a shared
    /// stream as the reference does.
    pub fn into_rng(self) -> Rng {
        self.rng
    }
}

/// Unpadded views of the state (see [`Simulation::field`]).
#[derive(Clone, Debug, Default)]
struct Views {
    v: OnceLock<Vec<f64>>,
    a: OnceLock<Vec<f64>>,
    i: OnceLock<Vec<f64>>,
}

/// An N×N field in the padded layout, each row's N values drawn by `draw` in order.
fn draw_padded(n: usize, mut draw: impl FnMut(&mut [f64])) -> Padded {
    let s = kernel::stride(n);
    // Two more row slots for the kernel's ring ([`kernel::ring`]).
    let mut out = Padded::with_len((n + 2) * s);
    for row in out.chunks_exact_mut(s).take(n) {
        draw(&mut row[kernel::LEAD..][..n]);
        kernel::fill_halo(row, n);
    }
    out
}

/// The row-major N×N interior of a padded field (empty stays empty).
fn unpad(padded: &[f64], n: usize) -> Vec<f64> {
    let s = kernel::stride(n);
    let mut out = Vec::with_capacity(padded.len() / s * n);
    for row in padded.chunks_exact(s) {
        out.extend_from_slice(&row[kernel::LEAD..][..n]);
    }
    out
}

/// The whole state (its N rows), for [`step_rows`].
struct Whole<'a> {
    n: usize,
    v: &'a mut [f64],
    a: &'a mut [f64],
    i: &'a mut [f64],
    z: &'a [f64],
    /// Room for the ghost rows, kept between steps.
    ghosts: &'a mut Padded,
}

/// One step over blocks of `block_rows` rows (at least two blocks) on the rayon pool,
/// each block in place ([`kernel::rows`]). The rows just outside each block are copied
/// first, so a block never reads a neighbour's new values, and the counters are integer
/// sums: the bytes are those of one serial sweep whatever the split and the thread
/// count.
fn step_rows(
    arch: pulp::Arch,
    w: Whole<'_>,
    block_rows: usize,
    k: kernel::Consts,
) -> kernel::Counts {
    let n = w.n;
    let s = kernel::stride(n);
    let blocks = n.div_ceil(block_rows);
    debug_assert!(blocks > 1);
    let fields = if w.a.is_empty() { 1 } else { 3 };
    // Per block: [up, down] × [v, a, i], one padded row each ([`kernel::Ghosts`]).
    let copied = |j: usize| j % 3 < fields;
    w.ghosts.resize(blocks * 6 * s);
    let ghosts = &mut w.ghosts[..];
    for (b, g) in ghosts.chunks_exact_mut(6 * s).enumerate() {
        let up = (b * block_rows + n - 1) % n;
        let down = ((b + 1) * block_rows).min(n) % n;
        for (j, st) in [&*w.v, &*w.a, &*w.i, &*w.v, &*w.a, &*w.i]
            .into_iter()
            .enumerate()
        {
            if copied(j) {
                let r = if j < 3 { up } else { down };
                g[j * s..][..s].copy_from_slice(&st[r * s..][..s]);
            }
        }
    }
    let chunk = block_rows * s;
    // Without Turing `a` and `i` are empty: give every block an empty slice.
    fn split(x: &mut [f64], chunk: usize, blocks: usize) -> Vec<&mut [f64]> {
        if x.is_empty() {
            (0..blocks).map(|_| <&mut [f64]>::default()).collect()
        } else {
            x.chunks_mut(chunk).collect()
        }
    }
    let ghosts = &*ghosts;
    let z = w.z;
    type Part<'x> = ((&'x mut [f64], &'x mut [f64]), &'x mut [f64]);
    let run = |(b, ((v, a), i)): (usize, Part<'_>)| {
        let g = &ghosts[b * 6 * s..][..6 * s];
        let row = |j: usize| -> &[f64] { if copied(j) { &g[j * s..][..s] } else { &[] } };
        let ghosts = kernel::Ghosts {
            up: [row(0), row(1), row(2)],
            down: [row(3), row(4), row(5)],
        };
        let block = kernel::Block {
            n,
            first_row: b * block_rows,
            v,
            a,
            i,
            z,
        };
        kernel::rows(arch, block, ghosts, k)
    };
    let a_blocks = split(w.a, chunk, blocks);
    let i_blocks = split(w.i, chunk, blocks);
    w.v.par_chunks_mut(chunk)
        .zip(a_blocks)
        .zip(i_blocks)
        .enumerate()
        .map(run)
        .reduce(kernel::Counts::default, |x, y| x + y)
}

/// Run a simulation from `default_rng(seed)`.
pub fn simulate(params: &SimulationParams, seed: u64) -> Result<SimulationResult> {
    let mut sim = Simulation::new(params, seed)?;
    for _ in 0..params.steps {
        sim.step()?;
    }
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
    let outcome = (0..params.steps).try_for_each(|_| sim.step());
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

    /// The baseline (SSE2) build of the kernel gives the same bytes as the one the CPU
    /// picked (AVX2 here), for every branch combination.
    #[test]
    fn every_instruction_set_gives_the_same_bytes() {
        for (turing, jitter, n) in [(true, false, 33), (true, true, 20), (false, true, 17)] {
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
            let mut detected = Simulation::new(&p, 3).unwrap();
            let mut baseline = Simulation::new(&p, 3).unwrap();
            baseline.arch = pulp::Arch::Scalar;
            for _ in 0..p.steps {
                detected.step().unwrap();
                baseline.step().unwrap();
            }
            assert_eq!(detected.summary(), baseline.summary());
            assert_eq!(detected.activator(), baseline.activator());
            assert_eq!(detected.inhibitor(), baseline.inhibitor());
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
