//! `network_metrics`: metrics of a spatial (mycelial) network ([`crate::network`]).

use serde::Deserialize;
use serde_json::Value;

use super::{ToolSpec, get};
use crate::network;
use crate::tool;

/// `network_metrics` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkMetricsArgs {
    /// Graph name (nodes with `x`, `y`; edges with `length`).
    pub graph: String,
    /// Box-counting dimension of the skeleton; default: the graph's
    /// `fractal_dimension` attribute (set by `extract_network`), else null.
    pub fractal_dimension: Option<f64>,
    /// Seed of the random edge removal.
    #[serde(default)]
    pub seed: u64,
}

pub(super) const TOOLS: &[ToolSpec] = &[tool! {
    name: "network_metrics",
    description: "Metrics of a spatial network (nodes x, y; edges length)",
    mutates: false,
    args: NetworkMetricsArgs,
    output: network::NetworkMetrics,
    handler: |c, a| {
        let g = get(c, &a.graph)?;
        // An extracted network carries its skeleton's dimension.
        let stored = g.attrs().get("fractal_dimension").and_then(Value::as_f64);
        network::network_metrics_ctl(
            &g,
            a.fractal_dimension.or(stored),
            a.seed,
            c.store.limits(),
            c.control,
        )
    },
}];
