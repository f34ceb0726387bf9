//! `community_detection`: Louvain, label propagation or greedy modularity, with the
//! partition's modularity.

use serde::{Deserialize, Serialize};

use super::{ToolContext, ToolSpec, get, one, weight_key};
use crate::algo::community::{self, Method};
use crate::tool;
use crate::{GraphError, NodeId};

/// `community_detection` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunityArgs {
    /// Graph name.
    pub graph: String,
    /// The method (louvain by default).
    #[serde(default)]
    pub method: Method,
    /// Weight attribute (default `weight`, missing = 1; `null` for 1 per edge).
    #[serde(default = "weight_key")]
    pub weight: Option<String>,
    /// Modularity resolution γ (1).
    #[serde(default = "one")]
    pub resolution: f64,
    /// Random seed.
    #[serde(default)]
    pub seed: u64,
}

/// `community_detection` result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Communities {
    /// Communities, largest first.
    pub communities: Vec<Vec<NodeId>>,
    /// Modularity of the partition.
    pub modularity: f64,
    /// Method used.
    pub method: Method,
}

pub(super) const TOOLS: &[ToolSpec] = &[tool! {
    name: "community_detection",
    description: "Communities (louvain, label_propagation, greedy_modularity) and modularity",
    mutates: false,
    args: CommunityArgs,
    output: Communities,
    handler: community_detection,
}];

fn community_detection(ctx: &ToolContext<'_>, a: CommunityArgs) -> Result<Communities, GraphError> {
    let g = get(ctx, &a.graph)?;
    let (communities, modularity) = community::detect_ctl(
        &g,
        a.method,
        a.weight.as_deref(),
        a.resolution,
        a.seed,
        ctx.control,
    )?;
    Ok(Communities {
        communities,
        modularity,
        method: a.method,
    })
}
