//! Centralities with NetworkX's definitions and normalisations.
//!
//! - **Degree**: `C_D(v) = deg(v) / (n − 1)`; for directed graphs `deg = in + out`
//!   (`nx.degree_centrality`); a self-loop counts twice.
//! - **Betweenness** (Brandes 2001): `C_B(v) = Σ_{s≠v≠t} σ_st(v) / σ_st`, rescaled as
//!   NetworkX 3.6 `_rescale`: normalised by `1 / (K (N − 1))` with `N = n` (endpoints) or
//!   `n − 1`, `K = N` or the sample size `k`; unnormalised undirected values are halved.
//!   Unweighted and exact: rustworkx-core's parallel Brandes. Weighted (Dijkstra) or
//!   sampled (`k` sources drawn with a seeded ChaCha8): our transcription of NetworkX.
//! - **Closeness** (Wasserman–Faust improved, `wf_improved=True`):
//!   `C(u) = (r − 1)/Σ d(v, u) · (r − 1)/(n − 1)` over the `r` nodes that reach `u`
//!   (incoming distances for directed graphs, as NetworkX). Unweighted: rustworkx-core;
//!   weighted (weights as distances, as NetworkX's `distance=`): Dijkstra on the reverse.
//! - **Eigenvector**: power iteration on `A + I` (left eigenvector, in-edges for directed
//!   graphs), Euclidean normalisation, stop when `Σ|x − x'| < n·tol` (rustworkx-core,
//!   a port of `nx.eigenvector_centrality`; `max_iter = 100`, `tol = 1e-6`).
//! - **PageRank**: `x ← α (x W + (Σ_dangling x) d) + (1 − α) p` with `W` the
//!   row-stochastic weighted adjacency (undirected edges both ways), `d = p` for dangling
//!   nodes, stop when `Σ|x − x'| < n·tol` (`nx.pagerank`: `α = 0.85`, `tol = 1e-6`,
//!   `max_iter = 100`).

use std::collections::HashMap;

use petgraph::{Directed, Undirected};
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use rustworkx_core::centrality as rx;

use super::sssp;
use crate::{Graph, GraphError, Limits, NodeId, View};

/// Degree centrality of every node, in node order.
///
/// ```
/// use mfn_graph::{algo::centrality::degree_centrality, generators};
/// let g = generators::star("s", 4).unwrap(); // hub 0 and 4 leaves
/// let c = degree_centrality(&g);
/// assert_eq!(c[0], 1.0);
/// assert_eq!(c[1], 0.25);
/// ```
pub fn degree_centrality(g: &Graph) -> Vec<f64> {
    let n = g.num_nodes();
    let mut deg = vec![0.0; n];
    for (u, v, _) in g.edges() {
        deg[g.node_index(u).expect("node")] += 1.0;
        deg[g.node_index(v).expect("node")] += 1.0;
    }
    if n <= 1 {
        return vec![1.0; n];
    }
    let s = 1.0 / (n as f64 - 1.0);
    deg.iter().map(|d| d * s).collect()
}

/// Options of [`betweenness_centrality`].
#[derive(Debug, Clone, Default)]
pub struct BetweennessOptions {
    /// Normalise (NetworkX default `true`).
    pub normalized: bool,
    /// Count the endpoints of paths.
    pub endpoints: bool,
    /// Weight attribute (Dijkstra) or `None` (hops).
    pub weight: Option<String>,
    /// Sample `k` source nodes.
    pub k: Option<usize>,
    /// Seed of the sample.
    pub seed: u64,
}

/// Betweenness centrality of every node, in node order.
pub fn betweenness_centrality(
    g: &Graph,
    opts: &BetweennessOptions,
    limits: &Limits,
) -> Result<Vec<f64>, GraphError> {
    let n = g.num_nodes();
    GraphError::check_limit(
        "nodes",
        n,
        "max_nodes_all_pairs",
        limits.max_nodes_all_pairs,
    )?;
    let view = g.view(opts.weight.as_deref())?;
    check_non_negative(&view)?;
    if let Some(k) = opts.k
        && (k == 0 || k > n)
    {
        return Err(GraphError::invalid(
            "k",
            format!("must be in [1, num_nodes ({n})]"),
        ));
    }
    if opts.weight.is_none() && opts.k.is_none() {
        let out = if view.directed {
            rx::betweenness_centrality(
                &view.petgraph::<Directed>(),
                opts.endpoints,
                opts.normalized,
                50,
            )
        } else {
            rx::betweenness_centrality(
                &view.petgraph::<Undirected>(),
                opts.endpoints,
                opts.normalized,
                50,
            )
        };
        return Ok(out.into_iter().map(|v| v.unwrap_or(0.0)).collect());
    }
    let sources: Vec<usize> = match opts.k {
        Some(k) => {
            let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
            sample(&mut rng, n, k).into_vec()
        }
        None => (0..n).collect(),
    };
    let weighted = opts.weight.is_some();
    let mut bc = vec![0.0; n];
    let mut delta = vec![0.0; n];
    for &s in &sources {
        let sp = if weighted {
            sssp::dijkstra(&view.out, s, true)
        } else {
            sssp::bfs(&view.out, s, true)
        };
        for &v in &sp.order {
            delta[v] = 0.0;
        }
        if opts.endpoints {
            bc[s] += sp.order.len() as f64 - 1.0;
        }
        for &w in sp.order.iter().rev() {
            let coeff = (1.0 + delta[w]) / sp.sigma[w];
            for &v in &sp.pred[w] {
                delta[v] += sp.sigma[v] * coeff;
            }
            if w != s {
                bc[w] += delta[w] + if opts.endpoints { 1.0 } else { 0.0 };
            }
        }
    }
    rescale(&mut bc, opts, view.directed, &sources);
    Ok(bc)
}

/// NetworkX 3.6 `_rescale` of betweenness.
fn rescale(bc: &mut [f64], opts: &BetweennessOptions, directed: bool, sources: &[usize]) {
    let n = bc.len() as f64;
    let big_n = if opts.endpoints { n } else { n - 1.0 };
    if big_n < 2.0 {
        return;
    }
    let k = opts.k.map(|k| k as f64);
    let k_source = k.unwrap_or(big_n);
    let correction = if directed { 1.0 } else { 2.0 };
    if k.is_none() || opts.endpoints {
        let scale = if opts.normalized {
            1.0 / (k_source * (big_n - 1.0))
        } else {
            big_n / (k_source * correction)
        };
        if scale != 1.0 {
            bc.iter_mut().for_each(|b| *b *= scale);
        }
        return;
    }
    let (source, nonsource) = if opts.normalized {
        (
            if k_source > 1.0 {
                1.0 / ((k_source - 1.0) * (big_n - 1.0))
            } else {
                f64::NAN
            },
            1.0 / (k_source * (big_n - 1.0)),
        )
    } else {
        (
            if k_source > 1.0 {
                big_n / ((k_source - 1.0) * correction)
            } else {
                f64::NAN
            },
            big_n / (k_source * correction),
        )
    };
    let mut is_source = vec![false; bc.len()];
    sources.iter().for_each(|&s| is_source[s] = true);
    for (i, b) in bc.iter_mut().enumerate() {
        *b *= if is_source[i] { source } else { nonsource };
    }
}

/// Reject negative weights for the Dijkstra-based measures.
pub(crate) fn check_non_negative(view: &View<'_>) -> Result<(), GraphError> {
    if let Some(&(u, v, w)) = view.edges.iter().find(|e| e.2 < 0.0) {
        return Err(GraphError::invalid(
            "weight",
            format!(
                "edge ({}, {}) has negative weight {w}; this measure needs non-negative weights",
                view.ids[u], view.ids[v]
            ),
        ));
    }
    Ok(())
}

/// Closeness centrality (Wasserman–Faust improved when `wf_improved`), in node order.
/// `weight`: the distance attribute, or `None` for hops.
pub fn closeness_centrality(
    g: &Graph,
    weight: Option<&str>,
    wf_improved: bool,
    limits: &Limits,
) -> Result<Vec<f64>, GraphError> {
    let n = g.num_nodes();
    GraphError::check_limit(
        "nodes",
        n,
        "max_nodes_all_pairs",
        limits.max_nodes_all_pairs,
    )?;
    let view = g.view(weight)?;
    check_non_negative(&view)?;
    if weight.is_none() {
        let out = if view.directed {
            rx::closeness_centrality(&view.petgraph::<Directed>(), wf_improved, 50)
        } else {
            rx::closeness_centrality(&view.petgraph::<Undirected>(), wf_improved, 50)
        };
        return Ok(out.into_iter().map(|v| v.unwrap_or(0.0)).collect());
    }
    // Distances *to* u: search the reverse graph (`inc`).
    Ok((0..n)
        .map(|u| {
            let sp = sssp::dijkstra(&view.inc, u, false);
            let tot: f64 = sp.order.iter().map(|&v| sp.dist[v]).sum();
            let r = sp.order.len() as f64;
            if tot > 0.0 && n > 1 {
                let c = (r - 1.0) / tot;
                if wf_improved {
                    c * (r - 1.0) / (n as f64 - 1.0)
                } else {
                    c
                }
            } else {
                0.0
            }
        })
        .collect())
}

/// Eigenvector centrality (NetworkX semantics), in node order. Fails when the power
/// iteration does not converge in `max_iter` iterations.
pub fn eigenvector_centrality(
    g: &Graph,
    weight: Option<&str>,
    max_iter: usize,
    tol: f64,
) -> Result<Vec<f64>, GraphError> {
    if g.num_nodes() == 0 {
        return Err(GraphError::invalid(
            "graph",
            "eigenvector centrality of an empty graph is undefined",
        ));
    }
    let view = g.view(weight)?;
    let w =
        |e: petgraph::graph::EdgeReference<'_, f64>| -> Result<f64, GraphError> { Ok(*e.weight()) };
    let res = if view.directed {
        rx::eigenvector_centrality(&view.petgraph::<Directed>(), w, Some(max_iter), Some(tol))?
    } else {
        rx::eigenvector_centrality(&view.petgraph::<Undirected>(), w, Some(max_iter), Some(tol))?
    };
    res.ok_or_else(|| {
        GraphError::FailedPrecondition(format!(
            "max_iter: power iteration did not converge in {max_iter} iterations (tol {tol})"
        ))
    })
}

/// Options of [`pagerank`].
#[derive(Debug, Clone)]
pub struct PageRankOptions {
    /// Damping factor α (0.85).
    pub alpha: f64,
    /// Personalization vector (missing nodes get 0); `None` = uniform.
    pub personalization: Option<HashMap<NodeId, f64>>,
    /// Weight attribute, or `None` for 1 per edge.
    pub weight: Option<String>,
    /// Iteration cap (100).
    pub max_iter: usize,
    /// Tolerance (1e-6), compared with `Σ|x − x'| / n`.
    pub tol: f64,
}

impl Default for PageRankOptions {
    fn default() -> Self {
        PageRankOptions {
            alpha: 0.85,
            personalization: None,
            weight: Some("weight".into()),
            max_iter: 100,
            tol: 1e-6,
        }
    }
}

/// PageRank (NetworkX semantics), in node order.
///
/// ```
/// use mfn_graph::{algo::centrality::{pagerank, PageRankOptions}, generators};
/// let g = generators::cycle("c", 5).unwrap();
/// let pr = pagerank(&g, &PageRankOptions::default()).unwrap();
/// assert!(pr.iter().all(|x| (x - 0.2).abs() < 1e-12));
/// ```
pub fn pagerank(g: &Graph, opts: &PageRankOptions) -> Result<Vec<f64>, GraphError> {
    let n = g.num_nodes();
    if n == 0 {
        return Ok(Vec::new());
    }
    if !(0.0..=1.0).contains(&opts.alpha) {
        return Err(GraphError::invalid("alpha", "must be in [0, 1]"));
    }
    let view = g.view(opts.weight.as_deref())?;
    let p: Vec<f64> = match &opts.personalization {
        None => vec![1.0 / n as f64; n],
        Some(map) => {
            let mut p = vec![0.0; n];
            for (id, v) in map {
                let i = g.require_node("personalization", id)?;
                if !(v.is_finite() && *v >= 0.0) {
                    return Err(GraphError::invalid(
                        "personalization",
                        format!("value of {id} must be finite and >= 0"),
                    ));
                }
                p[i] = *v;
            }
            let s: f64 = p.iter().sum();
            if s == 0.0 {
                return Err(GraphError::invalid(
                    "personalization",
                    "must have a non-zero sum",
                ));
            }
            p.iter().map(|x| x / s).collect()
        }
    };
    let strength: Vec<f64> = view
        .out
        .iter()
        .map(|a| a.iter().map(|e| e.1).sum())
        .collect();
    let dangling: Vec<usize> = (0..n).filter(|&i| strength[i] == 0.0).collect();
    let mut x = vec![1.0 / n as f64; n];
    let mut next = vec![0.0; n];
    for _ in 0..opts.max_iter {
        let danglesum: f64 = opts.alpha * dangling.iter().map(|&i| x[i]).sum::<f64>();
        next.iter_mut().for_each(|v| *v = 0.0);
        for (i, adj) in view.out.iter().enumerate() {
            if strength[i] == 0.0 {
                continue;
            }
            let xi = opts.alpha * x[i] / strength[i];
            for &(j, w) in adj {
                next[j] += xi * w;
            }
        }
        for i in 0..n {
            next[i] += danglesum * p[i] + (1.0 - opts.alpha) * p[i];
        }
        let err: f64 = next.iter().zip(&x).map(|(a, b)| (a - b).abs()).sum();
        std::mem::swap(&mut x, &mut next);
        if err < n as f64 * opts.tol {
            return Ok(x);
        }
    }
    Err(GraphError::FailedPrecondition(format!(
        "max_iter: pagerank did not converge in {} iterations (tol {})",
        opts.max_iter, opts.tol
    )))
}
