//! `generate_graph`: seeded graphs of the classic families ([`crate::generators`]).

use serde::Deserialize;

use super::{ToolContext, ToolSpec};
use crate::GraphError;
use crate::generators::{self, Kind};
use crate::store::GraphInfo;
use crate::tool;

/// `generate_graph` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateArgs {
    /// Name of the new graph.
    pub name: String,
    /// The family.
    pub kind: Kind,
    /// Nodes (star: leaves).
    pub n: Option<usize>,
    /// Edges per new node (barabasi_albert).
    pub m: Option<usize>,
    /// Ring neighbours (watts_strogatz).
    pub k: Option<usize>,
    /// Probability (erdos_renyi, watts_strogatz).
    pub p: Option<f64>,
    /// Rows (grid_2d).
    pub rows: Option<usize>,
    /// Columns (grid_2d).
    pub cols: Option<usize>,
    /// Directed (erdos_renyi).
    #[serde(default)]
    pub directed: bool,
    /// Random seed.
    #[serde(default)]
    pub seed: u64,
    /// Replace an existing graph of that name.
    #[serde(default)]
    pub overwrite: bool,
}

pub(super) const TOOLS: &[ToolSpec] = &[tool! {
    name: "generate_graph",
    description: "Generate a graph (seeded): erdos_renyi, barabasi_albert, watts_strogatz, grid_2d, complete, path, cycle, star, karate_club",
    mutates: true,
    args: GenerateArgs,
    output: GraphInfo,
    handler: generate_graph,
}];

fn generate_graph(ctx: &ToolContext<'_>, a: GenerateArgs) -> Result<GraphInfo, GraphError> {
    let params = generators::Params {
        kind: a.kind,
        n: a.n,
        m: a.m,
        k: a.k,
        p: a.p,
        rows: a.rows,
        cols: a.cols,
        directed: a.directed,
        seed: a.seed,
    };
    let g = generators::generate_ctl(&a.name, &params, ctx.store.limits(), ctx.control)?;
    let info = GraphInfo::of(&g);
    ctx.store.put(ctx.tenant, g, a.overwrite)?;
    Ok(info)
}
