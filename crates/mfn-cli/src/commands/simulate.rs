//! `mfn simulate`: run one field simulation and report its metrics.
//!
//! The field hash is SHA-256 over the final field in volts (little-endian `f64`,
//! row-major), so two runs agree on it exactly when they agree bit for bit.
//! `--repeat K` runs the same simulation K times in-process and adds wall-clock timing;
//! every run must produce the same field, and the report is the K = 1 report plus
//! `timing`. With Turing, `activator_sha256`/`inhibitor_sha256` hash the final
//! activator and inhibitor the same way (the NumPy interop check compares all three).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mfn_service::ops::Progress;
use mfn_service::request::SimulationRequest;
use mfn_service::response::SimulationResponse;
use mfn_service::service::SimulationOutput;
use serde::Serialize;

use super::{SimFlags, check_flag_range};
use crate::local::Local;
use crate::{heatmap, input};

/// Show a progress bar when a run does at least this many cell updates (steps · N²).
const PROGRESS_MIN_CELL_UPDATES: u128 = 50_000_000;
/// Allowed values of `--repeat`.
const REPEAT_RANGE: (usize, usize) = (1, 1000);

/// Flags of `mfn simulate`.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Seed and simulation parameters.
    #[command(flatten)]
    pub sim: SimFlags,
    /// Write a heatmap of the final field (PNG with a colour bar in mV) to FILE
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
    /// Write the final field in volts to FILE as a float64 .npy array of shape (N, N)
    #[arg(long, value_name = "FILE.npy")]
    pub field_out: Option<PathBuf>,
    /// Run K times in-process and report min/median wall time, K in [1, 1000]
    #[arg(long, value_name = "K")]
    pub repeat: Option<usize>,
}

/// What `mfn simulate` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulateReport {
    /// Spikes injected (SCIENCE.md §2 step 1).
    pub growth_events: u64,
    /// Cells that received the Turing increment, summed over steps.
    pub turing_activations: u64,
    /// Cells clamped into [−95, 40] mV, summed over steps.
    pub clamping_events: u64,
    /// Minimum of the final field, mV.
    #[serde(rename = "pot_min_mV")]
    pub pot_min_mv: f64,
    /// Maximum of the final field, mV.
    #[serde(rename = "pot_max_mV")]
    pub pot_max_mv: f64,
    /// Mean of the final field, mV.
    #[serde(rename = "pot_mean_mV")]
    pub pot_mean_mv: f64,
    /// Population standard deviation of the final field, mV.
    #[serde(rename = "pot_std_mV")]
    pub pot_std_mv: f64,
    /// Box-counting dimension of the cells above −60 mV.
    pub fractal_dimension: f64,
    /// SHA-256 hex of the final field (volts, little-endian f64, row-major).
    pub field_sha256: String,
    /// Mean of the final activator (0 without Turing).
    pub activator_mean: f64,
    /// Mean of the final inhibitor (0 without Turing).
    pub inhibitor_mean: f64,
    /// SHA-256 hex of the final activator (little-endian f64, row-major); absent
    /// without Turing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activator_sha256: Option<String>,
    /// SHA-256 hex of the final inhibitor, like `activator_sha256`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inhibitor_sha256: Option<String>,
    /// Wall-clock timing, present with `--repeat`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
}

/// Wall-clock timing over repeated in-process runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    /// Number of runs.
    pub runs: usize,
    /// Fastest run, ms.
    pub min_ms: f64,
    /// Median run, ms (mean of the middle two for an even count).
    pub median_ms: f64,
}

impl From<SimulationResponse> for SimulateReport {
    /// The report's keys of the service's response (every door's).
    fn from(r: SimulationResponse) -> Self {
        let s = r.summary;
        SimulateReport {
            growth_events: s.growth_events,
            turing_activations: s.turing_activations,
            clamping_events: s.clamping_events,
            pot_min_mv: s.pot_min_mV,
            pot_max_mv: s.pot_max_mV,
            pot_mean_mv: s.pot_mean_mV,
            pot_std_mv: s.pot_std_mV,
            fractal_dimension: s.fractal_dimension,
            field_sha256: r.field_sha256,
            activator_mean: s.activator_mean,
            inhibitor_mean: s.inhibitor_mean,
            activator_sha256: None,
            inhibitor_sha256: None,
            timing: None,
        }
    }
}

impl Timing {
    fn from_durations(durations: &[Duration]) -> Self {
        let mut ms: Vec<f64> = durations.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let mid = ms.len() / 2;
        let median_ms = if ms.len() % 2 == 1 {
            ms[mid]
        } else {
            (ms[mid - 1] + ms[mid]) / 2.0
        };
        Timing {
            runs: ms.len(),
            min_ms: ms[0],
            median_ms,
        }
    }
}

/// Simulate through the service (K times with `--repeat`), write the requested files,
/// report.
pub fn run(args: &SimulateArgs) -> Result<SimulateReport> {
    let runs = args.repeat.unwrap_or(1);
    check_flag_range("repeat", runs, REPEAT_RANGE.0, REPEAT_RANGE.1)?;
    let local = Local::new()?;
    let req = SimulationRequest {
        sim: args.sim.input(),
        include_field: args.png.is_some() || args.field_out.is_some() || runs > 1,
    };
    let progress = progress_bar(&args.sim, runs);
    let mut durations = Vec::with_capacity(runs);
    let mut first: Option<(SimulationOutput, SimulationResponse)> = None;
    for run in 0..runs {
        // The bar counts the steps of every run; each run reports from zero.
        let sink = progress.clone().map(|pb| {
            let base = (run * args.sim.steps) as u64;
            std::sync::Arc::new(move |done: u64, _total: u64| pb.set_position(base + done))
                as Progress
        });
        let start = Instant::now();
        let call = Local::call(sink);
        let (out, meta) = local.block_on(local.service().simulate(&call, &req))?;
        durations.push(start.elapsed());
        match &first {
            None => {
                let response = SimulationResponse::new(&out, &meta);
                first = Some((out, response));
            }
            Some((f, _)) if !same_bits(&f.result.field, &out.result.field) => {
                bail!("simulation: repeated runs produced different fields (nondeterminism)")
            }
            Some(_) => {}
        }
    }
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let (out, response) = first.expect("at least one run");
    let n = out.spec.params.grid_size;
    if let Some(path) = &args.field_out {
        input::write_field_npy(path, &out.result.field, n)?;
    }
    if let Some(path) = &args.png {
        heatmap::write_png(path, &out.result.field, n)?;
    }
    let mut report = SimulateReport::from(response);
    if let Some(t) = &out.turing_sha256 {
        report.activator_sha256 = Some(t.0.clone());
        report.inhibitor_sha256 = Some(t.1.clone());
    }
    report.timing = args.repeat.map(|_| Timing::from_durations(&durations));
    Ok(report)
}

/// A progress bar on stderr for long runs; none when stderr is not a terminal (so
/// pipes, CI logs and tests never see bar output).
fn progress_bar(sim: &SimFlags, runs: usize) -> Option<ProgressBar> {
    let n = sim.grid_size as u128;
    let work = sim.steps as u128 * n * n;
    if work < PROGRESS_MIN_CELL_UPDATES || !std::io::stderr().is_terminal() {
        return None;
    }
    let total = (sim.steps as u64).saturating_mul(runs as u64);
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "simulating {wide_bar} {pos}/{len} steps, {elapsed} elapsed, eta {eta}",
    )
    .expect("valid progress template");
    pb.set_style(style);
    Some(pb)
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_median() {
        let d = |ms: u64| Duration::from_millis(ms);
        let t = Timing::from_durations(&[d(5), d(1), d(3)]);
        assert_eq!((t.runs, t.min_ms, t.median_ms), (3, 1.0, 3.0));
        let t = Timing::from_durations(&[d(4), d(2), d(8), d(6)]);
        assert_eq!((t.runs, t.min_ms, t.median_ms), (4, 2.0, 5.0));
    }
}
