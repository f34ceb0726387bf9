//! `mfn features`: simulate, then extract the 18 canonical features (SCIENCE.md §5).
//!
//! Without `--with-history` the features are computed from the final field alone
//! (a history of one frame, so the temporal features are 0); with it, from every
//! step's field.

use anyhow::Result;
use clap::Args;
use mfn_core::features::Features;
use mfn_service::ops::features::ExtractFeatures;
use mfn_service::request::FeaturesRequest;
use serde::Serialize;

use super::SimFlags;
use crate::local::Local;

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

/// Simulate and extract through the service.
pub fn run(args: &FeaturesArgs) -> Result<FeaturesReport> {
    let req = FeaturesRequest {
        sim: args.sim.input(),
        threshold_mv: args.threshold_mv,
        adaptive_threshold: args.adaptive_threshold,
        with_history: args.with_history,
    };
    let r = Local::new()?.run::<ExtractFeatures>(req)?;
    Ok(FeaturesReport {
        features: r.features,
    })
}
