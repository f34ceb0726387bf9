//! Centralities with NetworkX's definitions and normalisations.
//!
//! - **Degree**: `C_D(v) = deg(v) / (n − 1)`; for directed graphs `deg = in + out`
//!   (`nx.degree_centrality`); a self-loop counts twice.
//! - **Betweenness** (Brandes 2001): `C_B(v) = Σ_{s≠v≠t} σ_st(v) / σ_st`, rescaled as
//!   NetworkX 3.6 `_rescale`: normalised by `1 / (K (N − 1))` with `N = n` (endpoints) or
//!   `n − 1`, `K = N` or the sample size `k`; unnormalised undirected values are halved.
//!   Unweighted (all sources or a sample of `k` drawn with a seeded ChaCha8): our
//!   Brandes over breadth-first searches, eight sources at a time on graphs where their
//!   levels overlap (`algo/brandes.rs`). Weighted (Dijkstra): our transcription of
//!   NetworkX.
//! - **Closeness** (Wasserman–Faust improved, `wf_improved=True`):
//!   `C(u) = (r − 1)/Σ d(v, u) · (r − 1)/(n − 1)` over the `r` nodes that reach `u`
//!   (incoming distances for directed graphs, as NetworkX). Unweighted: breadth-first
//!   searches over the in-arcs, 64 at a time as bit sets where their levels overlap
//!   (`algo/msbfs.rs`); weighted (weights as distances, as NetworkX's `distance=`):
//!   Dijkstra on the reverse.
//! - **Eigenvector**: power iteration on `A + I` (left eigenvector, in-edges for directed
//!   graphs), Euclidean normalisation, stop when `Σ|x − x'| < n·tol` (rustworkx-core,
//!   a port of `nx.eigenvector_centrality`; `max_iter = 100`, `tol = 1e-6`).
//! - **PageRank**: `x ← α (x W + (Σ_dangling x) d) + (1 − α) p` with `W` the
//!   row-stochastic weighted adjacency (undirected edges both ways), `d = p` for dangling
//!   nodes, stop when `Σ|x − x'| < n·tol` (`nx.pagerank`: `α = 0.85`, `tol = 1e-6`,
//!   `max_iter = 100`).

use std::collections::HashMap;

use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;

use super::brandes;
use super::csr::{Csr, MIN_SOURCES, Progress, STEP, par_chunks};
use super::msbfs;
use super::sssp;
use crate::tools::{Control, NoControl};
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
    for &(u, v) in &g.adjacency().ends {
        deg[u as usize] += 1.0;
        deg[v as usize] += 1.0;
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
    betweenness_centrality_ctl(g, opts, limits, &NoControl)
}

/// [`betweenness_centrality`] reporting one progress unit per source to `ctl` and
/// stopping with [`GraphError::Cancelled`] when `ctl` is cancelled.
///
/// Unweighted: Brandes with breadth-first searches over flat rows, eight sources at a
/// time where that pays (dependencies pulled from each node's successors rather than
/// pushed to its predecessors), sources split into fixed chunks run in parallel, the
/// chunks' partial sums added in chunk order (the result does not depend on the number
/// of threads).
pub fn betweenness_centrality_ctl(
    g: &Graph,
    opts: &BetweennessOptions,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<Vec<f64>, GraphError> {
    let n = g.num_nodes();
    GraphError::check_limit(
        "nodes",
        n,
        "max_nodes_all_pairs",
        limits.max_nodes_all_pairs,
    )?;
    if let Some(k) = opts.k
        && (k == 0 || k > n)
    {
        return Err(GraphError::invalid(
            "k",
            format!("must be in [1, num_nodes ({n})]"),
        ));
    }
    let sources: Vec<usize> = match opts.k {
        Some(k) => {
            let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
            sample(&mut rng, n, k).into_vec()
        }
        None => (0..n).collect(),
    };
    let progress = Progress::new(ctl, sources.len());
    if opts.weight.is_none() {
        let csr = Csr::build(g, None)?;
        let mut bc = brandes::brandes(&csr, &sources, opts.endpoints, &progress)?;
        rescale(&mut bc, opts, csr.directed, &sources);
        return Ok(bc);
    }
    let view = g.view(opts.weight.as_deref())?;
    check_non_negative(&view)?;
    let mut bc = vec![0.0; n];
    let mut delta = vec![0.0; n];
    for (done, &s) in sources.iter().enumerate() {
        let sp = sssp::dijkstra(&view.out, s, true);
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
        if done + 1 == sources.len() && !sources.len().is_multiple_of(STEP) {
            progress.step(sources.len() % STEP)?;
        } else {
            progress.tick(done)?;
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
    closeness_centrality_ctl(g, weight, wf_improved, limits, &NoControl)
}

/// NetworkX's closeness from the distances to `u`: `(r − 1) / Σd`, times
/// `(r − 1) / (n − 1)` when `wf_improved`.
fn closeness_of(tot: f64, r: f64, n: usize, wf_improved: bool) -> f64 {
    if tot > 0.0 && n > 1 {
        let c = (r - 1.0) / tot;
        if wf_improved {
            c * ((r - 1.0) / (n as f64 - 1.0))
        } else {
            c
        }
    } else {
        0.0
    }
}

/// [`closeness_centrality`] reporting one progress unit per node to `ctl`, stopping
/// with [`GraphError::Cancelled`]. One search per node, or 64 at once (in parallel over
/// fixed chunks; each value is an exact integer sum, so the result is thread-count
/// independent).
pub fn closeness_centrality_ctl(
    g: &Graph,
    weight: Option<&str>,
    wf_improved: bool,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<Vec<f64>, GraphError> {
    let n = g.num_nodes();
    GraphError::check_limit(
        "nodes",
        n,
        "max_nodes_all_pairs",
        limits.max_nodes_all_pairs,
    )?;
    let progress = Progress::new(ctl, n);
    let nodes: Vec<usize> = (0..n).collect();
    let parts = if weight.is_none() {
        let csr = Csr::build(g, None)?;
        // Distances *to* u: search the in-arcs.
        let sums = msbfs::distance_sums(csr.inc(), n, &nodes, &progress)?;
        let vals = sums
            .into_iter()
            .map(|r| closeness_of(r.total as f64, r.reached as f64, n, wf_improved));
        vec![vals.collect()]
    } else {
        let view = g.view(weight)?;
        check_non_negative(&view)?;
        par_chunks(&nodes, MIN_SOURCES, |chunk| {
            let mut vals = Vec::with_capacity(chunk.len());
            for &u in chunk {
                let sp = sssp::dijkstra(&view.inc, u, false);
                let tot: f64 = sp.order.iter().map(|&v| sp.dist[v]).sum();
                vals.push(closeness_of(tot, sp.order.len() as f64, n, wf_improved));
                progress.step(1)?;
            }
            Ok(vals)
        })?
    };
    Ok(parts.into_iter().flatten().collect())
}

/// Eigenvector centrality (NetworkX semantics), in node order. Fails when the power
/// iteration does not converge in `max_iter` iterations.
pub fn eigenvector_centrality(
    g: &Graph,
    weight: Option<&str>,
    max_iter: usize,
    tol: f64,
) -> Result<Vec<f64>, GraphError> {
    eigenvector_centrality_ctl(g, weight, max_iter, tol, &NoControl)
}

/// [`eigenvector_centrality`] with a checkpoint per iteration (`max_iter` units).
/// A transcription of `nx.eigenvector_centrality`: start from `1/n`, iterate
/// `x ← x + x A` (in-edges), normalise by the Euclidean norm, stop when
/// `Σ|x − x_last| < n · tol`.
pub fn eigenvector_centrality_ctl(
    g: &Graph,
    weight: Option<&str>,
    max_iter: usize,
    tol: f64,
    ctl: &dyn Control,
) -> Result<Vec<f64>, GraphError> {
    let n = g.num_nodes();
    if n == 0 {
        return Err(GraphError::invalid(
            "graph",
            "eigenvector centrality of an empty graph is undefined",
        ));
    }
    let csr = Csr::build(g, weight)?;
    let mut x = vec![1.0 / n as f64; n];
    let mut last = vec![0.0; n];
    for it in 0..max_iter {
        ctl.checkpoint(it as u64, max_iter as u64)?;
        last.copy_from_slice(&x);
        for (v, &xv) in last.iter().enumerate() {
            let nb = csr.out.nbrs(v);
            if csr.all_one {
                for &u in nb {
                    x[u as usize] += xv;
                }
            } else {
                for (&u, &w) in nb.iter().zip(csr.out.weights(v)) {
                    x[u as usize] += xv * w;
                }
            }
        }
        let norm = x.iter().map(|z| z * z).sum::<f64>().sqrt();
        let norm = if norm == 0.0 { 1.0 } else { norm };
        x.iter_mut().for_each(|z| *z /= norm);
        let err: f64 = x.iter().zip(&last).map(|(a, b)| (a - b).abs()).sum();
        if err < n as f64 * tol {
            return Ok(x);
        }
    }
    Err(GraphError::FailedPrecondition(format!(
        "max_iter: power iteration did not converge in {max_iter} iterations (tol {tol})"
    )))
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
    pagerank_ctl(g, opts, &NoControl)
}

/// [`pagerank`] with a checkpoint per iteration (`max_iter` units).
pub fn pagerank_ctl(
    g: &Graph,
    opts: &PageRankOptions,
    ctl: &dyn Control,
) -> Result<Vec<f64>, GraphError> {
    let n = g.num_nodes();
    if n == 0 {
        return Ok(Vec::new());
    }
    if !(0.0..=1.0).contains(&opts.alpha) {
        return Err(GraphError::invalid("alpha", "must be in [0, 1]"));
    }
    let csr = Csr::build(g, opts.weight.as_deref())?;
    let adj = csr.adj;
    let p: Vec<f64> = match &opts.personalization {
        None => vec![1.0 / n as f64; n],
        Some(map) => {
            let mut p = vec![0.0; n];
            for (id, v) in map {
                let i = adj
                    .index(g, id)
                    .ok_or_else(|| GraphError::no_node("personalization", id))?;
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
    // Pull form: x'[j] = α Σ_{i → j} x[i] w_ij / s_i + (α Σ_dangling x + 1 − α) p[j],
    // reading each node's in-arcs (sequential writes, one pass per iteration).
    let unweighted = csr.all_one;
    let strength: Vec<f64> = if unweighted {
        (0..n).map(|i| adj.out.len(i) as f64).collect()
    } else {
        (0..n).map(|i| csr.out.weights(i).iter().sum()).collect()
    };
    let inv: Vec<f64> = strength
        .iter()
        .map(|&s| if s == 0.0 { 0.0 } else { 1.0 / s })
        .collect();
    let dangling: Vec<usize> = (0..n).filter(|&i| strength[i] == 0.0).collect();
    let inc = csr.inc();
    let mut x = vec![1.0 / n as f64; n];
    let mut next = vec![0.0; n];
    let mut y = vec![0.0; n];
    let alpha = opts.alpha;
    for it in 0..opts.max_iter {
        ctl.checkpoint(it as u64, opts.max_iter as u64)?;
        let danglesum: f64 = alpha * dangling.iter().map(|&i| x[i]).sum::<f64>();
        for i in 0..n {
            y[i] = alpha * x[i] * inv[i];
        }
        let mut err = 0.0;
        for j in 0..n {
            let nb = inc.nbrs(j);
            let mut acc = 0.0;
            if unweighted {
                for &i in nb {
                    acc += y[i as usize];
                }
            } else {
                for (&i, &w) in nb.iter().zip(inc.weights(j)) {
                    acc += y[i as usize] * w;
                }
            }
            let v = acc + danglesum * p[j] + (1.0 - alpha) * p[j];
            err += (v - x[j]).abs();
            next[j] = v;
        }
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
