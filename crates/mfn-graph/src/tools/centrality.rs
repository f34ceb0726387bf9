//! Centrality tools: degree, betweenness, closeness, eigenvector, PageRank, and
//! several of them at once. Every result is complete, sorted and paged.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{PagedGraphArgs, ToolContext, ToolSpec, get, hundred, per_node, tol6, weight_key, yes};
use crate::algo::centrality;
use crate::paging::NodeValues;
use crate::tool;
use crate::{Graph, GraphError, NodeId};

/// `betweenness_centrality` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BetweennessArgs {
    /// Graph name.
    pub graph: String,
    /// Normalise (default true).
    #[serde(default = "yes")]
    pub normalized: bool,
    /// Count path endpoints.
    #[serde(default)]
    pub endpoints: bool,
    /// Weight attribute (Dijkstra); hops when absent.
    pub weight: Option<String>,
    /// Sample this many source nodes.
    pub k: Option<usize>,
    /// Seed of the sample.
    #[serde(default)]
    pub seed: u64,
    /// Page size.
    pub top_k: Option<usize>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// `closeness_centrality` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosenessArgs {
    /// Graph name.
    pub graph: String,
    /// Distance attribute; hops when absent.
    pub weight: Option<String>,
    /// Wasserman–Faust scaling (default true).
    #[serde(default = "yes")]
    pub wf_improved: bool,
    /// Page size.
    pub top_k: Option<usize>,
    /// Cursor.
    pub cursor: Option<String>,
}

fn alpha85() -> f64 {
    0.85
}

/// `eigenvector_centrality` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EigenvectorArgs {
    /// Graph name.
    pub graph: String,
    /// Weight attribute; 1 per edge when absent.
    pub weight: Option<String>,
    /// Iteration cap (100).
    #[serde(default = "hundred")]
    pub max_iter: usize,
    /// Tolerance (1e-6).
    #[serde(default = "tol6")]
    pub tol: f64,
    /// Page size.
    pub top_k: Option<usize>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// `pagerank` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageRankArgs {
    /// Graph name.
    pub graph: String,
    /// Damping factor (0.85).
    #[serde(default = "alpha85")]
    pub alpha: f64,
    /// Personalization: `[{node, value}]` (missing nodes get 0).
    pub personalization: Option<Vec<PersonalizationEntry>>,
    /// Weight attribute (default `weight`; `null` for 1 per edge).
    #[serde(default = "weight_key")]
    pub weight: Option<String>,
    /// Iteration cap (100).
    #[serde(default = "hundred")]
    pub max_iter: usize,
    /// Tolerance (1e-6).
    #[serde(default = "tol6")]
    pub tol: f64,
    /// Page size.
    pub top_k: Option<usize>,
    /// Cursor.
    pub cursor: Option<String>,
}

/// One personalization weight.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonalizationEntry {
    /// Node.
    pub node: NodeId,
    /// Weight (≥ 0).
    pub value: f64,
}

/// A centrality measure of `centrality_measures`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// `degree_centrality`.
    Degree,
    /// `betweenness_centrality` (normalised, exact).
    Betweenness,
    /// `closeness_centrality` (Wasserman–Faust improved).
    Closeness,
    /// `eigenvector_centrality` (100 iterations, tol 1e-6).
    Eigenvector,
    /// `pagerank` (α 0.85, weight `weight`).
    Pagerank,
}

impl Measure {
    /// Every measure, in the order of the default list.
    pub const ALL: [Measure; 5] = [
        Measure::Degree,
        Measure::Betweenness,
        Measure::Closeness,
        Measure::Eigenvector,
        Measure::Pagerank,
    ];

    /// The measure's name (its key in the result).
    pub fn name(self) -> &'static str {
        match self {
            Measure::Degree => "degree",
            Measure::Betweenness => "betweenness",
            Measure::Closeness => "closeness",
            Measure::Eigenvector => "eigenvector",
            Measure::Pagerank => "pagerank",
        }
    }

    /// The measure of every node, in node order, with the tools' defaults.
    fn compute(self, g: &Graph, ctx: &ToolContext<'_>) -> Result<Vec<f64>, GraphError> {
        let limits = ctx.store.limits();
        Ok(match self {
            Measure::Degree => centrality::degree_centrality(g),
            Measure::Betweenness => centrality::betweenness_centrality_ctl(
                g,
                &centrality::BetweennessOptions {
                    normalized: true,
                    ..Default::default()
                },
                limits,
                ctx.control,
            )?,
            Measure::Closeness => {
                centrality::closeness_centrality_ctl(g, None, true, limits, ctx.control)?
            }
            Measure::Eigenvector => {
                centrality::eigenvector_centrality_ctl(g, None, 100, 1e-6, ctx.control)?
            }
            Measure::Pagerank => {
                centrality::pagerank_ctl(g, &centrality::PageRankOptions::default(), ctx.control)?
            }
        })
    }
}

/// `centrality_measures` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasuresArgs {
    /// Graph name.
    pub graph: String,
    /// Measures to compute (all by default).
    pub measures: Option<Vec<Measure>>,
    /// Page size of each measure.
    pub top_k: Option<usize>,
}

/// `centrality_measures` result: one paged result per measure.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Measures {
    /// Measure name → values.
    pub measures: std::collections::BTreeMap<String, NodeValues>,
}

pub(super) const TOOLS: &[ToolSpec] = &[
    tool! {
        name: "degree_centrality",
        description: "Degree centrality deg/(n-1)",
        mutates: false,
        args: PagedGraphArgs,
        output: NodeValues,
        handler: |c, a| {
            let g = get(c, &a.graph)?;
            per_node(&g, centrality::degree_centrality(&g), a.top_k, a.cursor)
        },
    },
    tool! {
        name: "betweenness_centrality",
        description: "Betweenness centrality (Brandes; weighted, sampled)",
        mutates: false,
        args: BetweennessArgs,
        output: NodeValues,
        handler: |c, a| {
            let g = get(c, &a.graph)?;
            let opts = centrality::BetweennessOptions {
                normalized: a.normalized,
                endpoints: a.endpoints,
                weight: a.weight,
                k: a.k,
                seed: a.seed,
            };
            let v = centrality::betweenness_centrality_ctl(&g, &opts, c.store.limits(), c.control)?;
            per_node(&g, v, a.top_k, a.cursor)
        },
    },
    tool! {
        name: "closeness_centrality",
        description: "Closeness centrality (Wasserman-Faust improved)",
        mutates: false,
        args: ClosenessArgs,
        output: NodeValues,
        handler: |c, a| {
            let g = get(c, &a.graph)?;
            let v = centrality::closeness_centrality_ctl(
                &g,
                a.weight.as_deref(),
                a.wf_improved,
                c.store.limits(),
                c.control,
            )?;
            per_node(&g, v, a.top_k, a.cursor)
        },
    },
    tool! {
        name: "eigenvector_centrality",
        description: "Eigenvector centrality (power iteration)",
        mutates: false,
        args: EigenvectorArgs,
        output: NodeValues,
        handler: |c, a| {
            let g = get(c, &a.graph)?;
            let v = centrality::eigenvector_centrality_ctl(
                &g,
                a.weight.as_deref(),
                a.max_iter,
                a.tol,
                c.control,
            )?;
            per_node(&g, v, a.top_k, a.cursor)
        },
    },
    tool! {
        name: "pagerank",
        description: "PageRank with damping and personalization",
        mutates: false,
        args: PageRankArgs,
        output: NodeValues,
        handler: pagerank,
    },
    tool! {
        name: "centrality_measures",
        description: "Several centralities at once: degree, betweenness, closeness, eigenvector, pagerank",
        mutates: false,
        args: MeasuresArgs,
        output: Measures,
        handler: measures,
    },
];

fn pagerank(ctx: &ToolContext<'_>, a: PageRankArgs) -> Result<NodeValues, GraphError> {
    let g = get(ctx, &a.graph)?;
    let personalization = a.personalization.map(|p| {
        p.into_iter()
            .map(|e| (e.node, e.value))
            .collect::<HashMap<_, _>>()
    });
    let opts = centrality::PageRankOptions {
        alpha: a.alpha,
        personalization,
        weight: a.weight,
        max_iter: a.max_iter,
        tol: a.tol,
    };
    let v = centrality::pagerank_ctl(&g, &opts, ctx.control)?;
    per_node(&g, v, a.top_k, a.cursor)
}

fn measures(ctx: &ToolContext<'_>, a: MeasuresArgs) -> Result<Measures, GraphError> {
    let g = get(ctx, &a.graph)?;
    let list = a.measures.unwrap_or_else(|| Measure::ALL.to_vec());
    let mut out = std::collections::BTreeMap::new();
    for m in list {
        let v = m.compute(&g, ctx)?;
        out.insert(m.name().to_owned(), per_node(&g, v, a.top_k, None)?);
    }
    Ok(Measures { measures: out })
}
