//! `mfn features`: simulate, then extract the 18 canonical features (SCIENCE.md §5).
//!
//! Without `--with-history` the features are computed from the final field alone
//! (a history of one frame, so the temporal features are 0); with it, from every
//! step's field.

use anyhow::Result;
use clap::Args;
use mfn_core::features::{self, FeatureOptions, Features, Threshold};
use mfn_core::field;
use serde::Serialize;

use super::SimFlags;

/// Flags of `mfn features`.
#[derive(Debug, Clone, Args)]
pub struct FeaturesArgs {
    /// Seed and simulation parameters.
    #[command(flatten)]
    pub sim: SimFlags,
    /// Compute the features from every step's field, not only the final one
    #[arg(long)]
    pub with_history: bool,
    /// Activity threshold in mV for the fractal and cluster features (default −60)
    #[arg(long, value_name = "X", conflicts_with = "adaptive_threshold")]
    pub threshold_mv: Option<f64>,
    /// Use the median of the final field as the activity threshold
    #[arg(long)]
    pub adaptive_threshold: bool,
}

/// What `mfn features` reports.
#[derive(Debug, Clone, Serialize)]
pub struct FeaturesReport {
    /// The 18 features, by canonical name.
    pub features: Features,
}

/// Validate, simulate, extract.
pub fn run(args: &FeaturesArgs) -> Result<FeaturesReport> {
    let params = args.sim.params();
    params.validate()?;
    let mut opts = FeatureOptions::default();
    if args.adaptive_threshold {
        opts.threshold = Threshold::AdaptiveMedian;
    } else if let Some(mv) = args.threshold_mv {
        anyhow::ensure!(
            mv.is_finite(),
            "threshold_mv = {mv} is out of range: must be a finite number"
        );
        opts.threshold = Threshold::FixedMv(mv);
    }
    let n = params.grid_size;
    let history = if args.with_history {
        field::simulate_with_history(&params, args.sim.seed)?.1
    } else {
        vec![field::simulate(&params, args.sim.seed)?.field]
    };
    let features = features::extract_features(&history, n, &opts)?;
    Ok(FeaturesReport { features })
}
