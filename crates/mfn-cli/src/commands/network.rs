//! `mfn network`: extract the mycelial network of a simulated field (`--seed`,
//! `--grid-size`, `--steps`) or of a file (`--input`: PNG, `.npy` or CSV) and print its
//! metrics (GRAPH.md keys); `--png FILE` draws it over its field. Runs the
//! `extract_network` and `visualize_graph` tools in-process, as REST and MCP do.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{Value, json};

use crate::local::Local;

/// Flags of `mfn network`.
#[derive(Debug, Clone, Args)]
pub struct NetworkArgs {
    /// Seed of the simulation
    #[arg(long, default_value_t = mfn_service::request::DEFAULT_SEED)]
    pub seed: u64,
    /// Grid side N of the simulation
    #[arg(long, default_value_t = 64)]
    pub grid_size: u32,
    /// Simulation steps
    #[arg(long, default_value_t = 64)]
    pub steps: u32,
    /// Extract from a file instead: PNG (grey levels), .npy or CSV (a square field in volts)
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Mask threshold: adaptive_median (default), otsu or fixed (with --threshold-mv)
    #[arg(long, value_name = "RULE")]
    pub threshold: Option<String>,
    /// Fixed mask threshold in mV (implies --threshold fixed)
    #[arg(long, value_name = "MV")]
    pub threshold_mv: Option<f64>,
    /// Prune spurs shorter than this many pixels (default 3)
    #[arg(long, value_name = "PX")]
    pub min_branch_px: Option<usize>,
    /// Draw the network over its field into FILE (PNG)
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
}

/// Run the verb: the extraction result (graph summary, pixels, metrics).
pub fn run(args: &NetworkArgs) -> Result<Value> {
    let mut options = serde_json::Map::new();
    if let Some(t) = &args.threshold {
        options.insert("threshold".into(), json!(t));
    }
    if let Some(mv) = args.threshold_mv {
        options.insert("threshold_mv".into(), json!(mv));
    }
    if let Some(px) = args.min_branch_px {
        options.insert("min_branch_px".into(), json!(px));
    }
    let mut call = json!({"name": "network", "options": options});
    match &args.input {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("--input: cannot read {}", path.display()))?;
            call["upload"] = serde_json::to_value(crate::input::upload(&bytes))?;
        }
        None => {
            call["simulation"] =
                json!({"seed": args.seed, "grid_size": args.grid_size, "steps": args.steps});
        }
    }
    let local = Local::new()?;
    let result = local
        .call_op("extract_network", call)
        .with_context(|| match &args.input {
            Some(p) => format!("--input {}", p.display()),
            None => "extract_network".to_owned(),
        })?
        .to_value()?;
    if let Some(path) = &args.png {
        let image = local
            .call_op("visualize_graph", json!({"graph": "network"}))?
            .image
            .context("visualize_graph made no image")?;
        std::fs::write(path, &image.data)
            .with_context(|| format!("--png: cannot write {}", path.display()))?;
    }
    Ok(result)
}
