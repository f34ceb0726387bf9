//! Metrics of a spatial (mycelial) network: any graph whose nodes carry coordinates
//! `x`, `y` and whose edges carry a `length` (the Euclidean distance between the ends
//! when absent). References: Bebber et al. 2007 (Proc R Soc B 274:2307), Fricker lab
//! network analysis, NEFI.
//!
//! - tips = nodes of degree 1, junctions = degree ≥ 3; degree histogram N1, N2, N3, N≥4;
//! - total length `L = Σ length`; branch length mean / median / max;
//! - hyphal growth unit `L / tips`;
//! - meshedness `α = (E − N + C) / (2N − 5)` (C connected components; planar graphs
//!   have `α ∈ [0, 1]`);
//! - cost `L / L_MST`, `L_MST` the Euclidean minimum spanning tree over the nodes (Prim,
//!   O(n²) on the complete geometric graph);
//! - global efficiency with `length` as distance (Latora–Marchiori);
//! - robustness: size of the largest component, as a fraction of the nodes, after
//!   removing 10, 25 and 50 % of the edges, at random (seeded) and in decreasing edge
//!   betweenness (computed once on the intact graph, rustworkx-core);
//! - fractal dimension: filled in by the caller (box counting of the skeleton lives in
//!   `mfn-core`).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::algo::structure;
use crate::tools::{Control, NoControl};
use crate::{Attrs, Graph, GraphError, Limits, NodeId};

/// Node counts by degree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DegreeHistogram {
    /// Degree 1 (tips).
    pub n1: usize,
    /// Degree 2.
    pub n2: usize,
    /// Degree 3.
    pub n3: usize,
    /// Degree 4 or more.
    pub n4_plus: usize,
}

/// Branch length statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BranchLength {
    /// Mean edge length.
    pub mean: f64,
    /// Median edge length.
    pub median: f64,
    /// Longest edge.
    pub max: f64,
}

/// Largest-component fractions after edge removal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Robustness {
    /// Fractions of edges removed.
    pub fractions: Vec<f64>,
    /// Largest component / nodes after random removal (seeded).
    pub random: Vec<f64>,
    /// Largest component / nodes after removal by decreasing edge betweenness.
    pub betweenness: Vec<f64>,
}

/// `network_metrics` result (GRAPH.md keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkMetrics {
    /// Nodes.
    pub num_nodes: usize,
    /// Edges.
    pub num_edges: usize,
    /// Degree-1 nodes.
    pub tips: usize,
    /// Degree ≥ 3 nodes.
    pub junctions: usize,
    /// Nodes by degree.
    pub degree_histogram: DegreeHistogram,
    /// Sum of edge lengths.
    pub total_length: f64,
    /// Edge length statistics (null without edges).
    pub branch_length: Option<BranchLength>,
    /// Total length per tip (null without tips).
    pub hyphal_growth_unit: Option<f64>,
    /// Meshedness α (null for fewer than 3 nodes).
    pub meshedness: Option<f64>,
    /// Total length over the Euclidean MST length (null when that is 0).
    pub cost: Option<f64>,
    /// Length-weighted global efficiency.
    pub global_efficiency: f64,
    /// Largest-component fractions under edge removal.
    pub robustness: Robustness,
    /// Box-counting dimension of the skeleton, when the caller has it.
    pub fractal_dimension: Option<f64>,
}

fn coord(id: &NodeId, a: &Attrs, k: &str) -> Result<f64, GraphError> {
    a.get(k).and_then(serde_json::Value::as_f64).ok_or_else(|| {
        GraphError::invalid(
            "graph",
            format!("node {id}: attribute {k:?} must be a number"),
        )
    })
}

/// Compute the metrics; `seed` drives the random removal.
pub fn network_metrics(
    g: &Graph,
    fractal_dimension: Option<f64>,
    seed: u64,
    limits: &Limits,
) -> Result<NetworkMetrics, GraphError> {
    network_metrics_ctl(g, fractal_dimension, seed, limits, &NoControl)
}

/// [`network_metrics`] with checkpoints: the efficiency searches report their progress
/// (`2n` units), then the robustness step checks for cancellation before and after the
/// edge betweenness.
pub fn network_metrics_ctl(
    g: &Graph,
    fractal_dimension: Option<f64>,
    seed: u64,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<NetworkMetrics, GraphError> {
    let n = g.num_nodes();
    GraphError::check_limit(
        "nodes",
        n,
        "max_nodes_all_pairs",
        limits.max_nodes_all_pairs,
    )?;
    let xy: Vec<(f64, f64)> = g
        .nodes()
        .map(|(id, a)| Ok((coord(id, a, "x")?, coord(id, a, "y")?)))
        .collect::<Result<_, GraphError>>()?;
    // Lengths, written into a working copy so efficiency can read them.
    let mut work = g.clone();
    let mut lengths = Vec::with_capacity(g.num_edges());
    for (u, v, a) in g.edges() {
        let len = match a.get("length") {
            Some(x) => x.as_f64().filter(|l| *l >= 0.0).ok_or_else(|| {
                GraphError::invalid(
                    "graph",
                    format!("edge ({u}, {v}): length must be a number >= 0"),
                )
            })?,
            None => {
                let (p, q) = (
                    xy[g.node_index(u).expect("node")],
                    xy[g.node_index(v).expect("node")],
                );
                (p.0 - q.0).hypot(p.1 - q.1)
            }
        };
        lengths.push(len);
        let mut la = Attrs::new();
        la.insert("length".into(), len.into());
        work.edge_attrs_mut(u, v).expect("edge").extend(la);
    }
    let deg = structure::degrees(g);
    let hist = DegreeHistogram {
        n1: deg.iter().filter(|&&d| d == 1).count(),
        n2: deg.iter().filter(|&&d| d == 2).count(),
        n3: deg.iter().filter(|&&d| d == 3).count(),
        n4_plus: deg.iter().filter(|&&d| d >= 4).count(),
    };
    let tips = hist.n1;
    let junctions = hist.n3 + hist.n4_plus;
    let total: f64 = lengths.iter().sum();
    let branch_length = (!lengths.is_empty()).then(|| {
        let mut s = lengths.clone();
        s.sort_by(f64::total_cmp);
        let k = s.len();
        let median = if k % 2 == 1 {
            s[k / 2]
        } else {
            (s[k / 2 - 1] + s[k / 2]) / 2.0
        };
        BranchLength {
            mean: total / k as f64,
            median,
            max: s[k - 1],
        }
    });
    let comps = structure::connected_components(g, false)?.len();
    let (nf, ef) = (n as f64, g.num_edges() as f64);
    let meshedness = (n >= 3).then(|| (ef - nf + comps as f64) / (2.0 * nf - 5.0));
    let mst = euclidean_mst(&xy);
    let cost = (mst > 0.0).then(|| total / mst);
    let global_efficiency = if g.is_directed() {
        0.0
    } else {
        structure::efficiency_ctl(&work, Some("length"), limits, ctl)?.0
    };
    if ctl.cancelled() {
        return Err(GraphError::Cancelled);
    }
    let robustness = robustness(g, seed)?;
    if ctl.cancelled() {
        return Err(GraphError::Cancelled);
    }
    Ok(NetworkMetrics {
        num_nodes: n,
        num_edges: g.num_edges(),
        tips,
        junctions,
        degree_histogram: hist,
        total_length: total,
        branch_length,
        hyphal_growth_unit: (tips > 0).then(|| total / tips as f64),
        meshedness,
        cost,
        global_efficiency,
        robustness,
        fractal_dimension,
    })
}

/// Length of the Euclidean minimum spanning tree (Prim on the complete graph).
fn euclidean_mst(xy: &[(f64, f64)]) -> f64 {
    let n = xy.len();
    if n < 2 {
        return 0.0;
    }
    let mut best = vec![f64::INFINITY; n];
    let mut done = vec![false; n];
    let mut total = 0.0;
    best[0] = 0.0;
    for _ in 0..n {
        let (u, d) = (0..n)
            .filter(|&i| !done[i])
            .map(|i| (i, best[i]))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("a node left");
        done[u] = true;
        total += d;
        for v in 0..n {
            if !done[v] {
                let dv = (xy[u].0 - xy[v].0).hypot(xy[u].1 - xy[v].1);
                if dv < best[v] {
                    best[v] = dv;
                }
            }
        }
    }
    total
}

fn largest_fraction(n: usize, edges: &[(usize, usize)], keep: &[bool]) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for (i, &(u, v)) in edges.iter().enumerate() {
        if keep[i] {
            let (a, b) = (find(&mut parent, u), find(&mut parent, v));
            parent[a] = b;
        }
    }
    let mut size = vec![0usize; n];
    for i in 0..n {
        let r = find(&mut parent, i);
        size[r] += 1;
    }
    *size.iter().max().expect("n > 0") as f64 / n as f64
}

fn robustness(g: &Graph, seed: u64) -> Result<Robustness, GraphError> {
    let fractions = vec![0.1, 0.25, 0.5];
    let view = g.view(None)?;
    let n = view.n();
    let edges: Vec<(usize, usize)> = view.edges.iter().map(|e| (e.0, e.1)).collect();
    let m = edges.len();
    let mut random_order: Vec<usize> = (0..m).collect();
    random_order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let eb = if view.directed {
        rustworkx_core::centrality::edge_betweenness_centrality(
            &view.petgraph::<petgraph::Directed>(),
            false,
            50,
        )
    } else {
        rustworkx_core::centrality::edge_betweenness_centrality(
            &view.petgraph::<petgraph::Undirected>(),
            false,
            50,
        )
    };
    let mut bc_order: Vec<usize> = (0..m).collect();
    bc_order.sort_by(|&a, &b| {
        eb[b]
            .unwrap_or(0.0)
            .total_cmp(&eb[a].unwrap_or(0.0))
            .then(a.cmp(&b))
    });
    let after = |order: &[usize]| -> Vec<f64> {
        fractions
            .iter()
            .map(|f| {
                let removed = (f * m as f64).round() as usize;
                let mut keep = vec![true; m];
                order.iter().take(removed).for_each(|&e| keep[e] = false);
                largest_fraction(n, &edges, &keep)
            })
            .collect()
    };
    Ok(Robustness {
        random: after(&random_order),
        betweenness: after(&bc_order),
        fractions,
    })
}
