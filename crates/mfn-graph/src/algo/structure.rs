//! Structure: components, clustering and transitivity, core numbers, summary
//! statistics, efficiency, spanning trees, cycles, colouring, matching, maximum flow
//! and topological order — each with NetworkX's definition.
//!
//! - **Clustering** (`nx.clustering`, unweighted): undirected
//!   `c(v) = 2 T(v) / (k (k − 1))` with `k` the degree without self-loops; directed
//!   (Fagiolo 2007) `c(v) = T(v) / (2 (k_tot (k_tot − 1) − 2 k_↔))`.
//!   `average_clustering` is the mean over all nodes (zeros counted); transitivity
//!   `3 × triangles / connected triples` (rustworkx-core).
//! - **Density**: `m / (n (n − 1))` directed, `2m / (n (n − 1))` undirected, 0 for n ≤ 1.
//! - **Efficiency** (Latora & Marchiori 2001): global `E = Σ_{u≠v} 1/d(u,v) / (n (n − 1))`;
//!   local = mean over `v` of the global efficiency of the subgraph induced by `v`'s
//!   neighbours (`nx.global_efficiency`, `nx.local_efficiency`, undirected).
//! - **Core number** (Batagelj–Zaversnik, rustworkx-core): largest `k` such that the node
//!   is in the `k`-core; directed graphs use in + out degree, as NetworkX.

use std::collections::HashSet;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::{Directed, Undirected};
use rustworkx_core::coloring::{ColoringStrategy, greedy_node_color_with_coloring_strategy};
use rustworkx_core::connectivity as rxc;

use super::csr::{Csr, MIN_SOURCES, Progress, par_chunks};
use super::msbfs;
use super::sssp;
use crate::tools::{Control, NoControl};
use crate::{Graph, GraphError, Limits, NodeId, View};

/// Connected components (weak for directed graphs unless `strong`), largest first;
/// each component's nodes in node order.
///
/// Undirected: a search over the cached adjacency's rows. Weak components of a
/// directed graph: union–find over its edges. Strong components: Tarjan's search,
/// iterative.
pub fn connected_components(g: &Graph, strong: bool) -> Result<Vec<Vec<NodeId>>, GraphError> {
    connected_components_ctl(g, strong, &NoControl)
}

/// [`connected_components`], checking `ctl` every [`ARCS_PER_CHECK`] arcs.
pub fn connected_components_ctl(
    g: &Graph,
    strong: bool,
    ctl: &dyn Control,
) -> Result<Vec<Vec<NodeId>>, GraphError> {
    if strong && g.is_directed() {
        return Ok(strong_components(g, ctl)?
            .into_iter()
            .map(|c| {
                c.into_iter()
                    .map(|i| g.node_at(i).expect("index").clone())
                    .collect()
            })
            .collect());
    }
    // Straight from the labels to the ids: no lists of indices in between.
    let (label, sizes) = component_labels(g, ctl)?;
    Ok(ranked(&label, &sizes, |i| {
        g.node_at(i).expect("index").clone()
    }))
}

/// Arcs (or edges) a components search scans between two cancellation checks: about
/// 0.4 ms of work.
pub const ARCS_PER_CHECK: usize = 1 << 16;

/// [`connected_components`] as node indices.
pub(crate) fn component_indices(
    g: &Graph,
    strong: bool,
    ctl: &dyn Control,
) -> Result<Vec<Vec<usize>>, GraphError> {
    if strong && g.is_directed() {
        return strong_components(g, ctl);
    }
    let (label, sizes) = component_labels(g, ctl)?;
    Ok(ranked(&label, &sizes, |i| i))
}

/// Tarjan's strong components, largest first, ties by smallest node, each in node
/// order.
///
/// Iterative, over the cached out-rows ([`Tarjan`]): the depth of the search costs heap,
/// not the thread's stack (petgraph's `tarjan_scc` recurses once per tree edge: a
/// directed path of 30,000 nodes overflowed a 2 MiB worker stack and aborted the
/// server). Checks `ctl` every [`ARCS_PER_CHECK`] arcs.
fn strong_components(g: &Graph, ctl: &dyn Control) -> Result<Vec<Vec<usize>>, GraphError> {
    let n = g.num_nodes();
    let all: Vec<u32> = (0..n as u32).collect();
    let mut comps: Vec<Vec<usize>> = Tarjan::new(n)
        .components(&g.adjacency().out, &all, |_| true, &mut Ticks::new(ctl))?
        .into_iter()
        .map(|c| c.into_iter().map(|v| v as usize).collect())
        .collect();
    comps.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a[0].cmp(&b[0])));
    Ok(comps)
}

/// Counts arcs scanned and checks for cancellation every [`ARCS_PER_CHECK`].
struct Ticks<'c> {
    ctl: &'c dyn Control,
    arcs: usize,
}

impl<'c> Ticks<'c> {
    fn new(ctl: &'c dyn Control) -> Self {
        Ticks { ctl, arcs: 0 }
    }

    fn add(&mut self, arcs: usize) -> Result<(), GraphError> {
        self.arcs += arcs;
        if self.arcs >= ARCS_PER_CHECK {
            self.arcs = 0;
            self.ctl.check()?;
        }
        Ok(())
    }
}

/// Tarjan's search, reusable over subsets of one graph's nodes: its arrays are sized
/// for the whole graph once and reset only where a search went.
struct Tarjan {
    /// Discovery order ([`Tarjan::NEW`] before the search reaches the node).
    index: Vec<u32>,
    /// The lowest discovery order reachable through the node's subtree and one back arc.
    low: Vec<u32>,
    on_stack: Vec<bool>,
    /// Nodes of the components not yet closed, in discovery order.
    stack: Vec<u32>,
    /// The search's path: each node with the offset of its next arc in the rows.
    path: Vec<(u32, u32)>,
    next: u32,
}

impl Tarjan {
    const NEW: u32 = u32::MAX;

    fn new(n: usize) -> Self {
        Tarjan {
            index: vec![Tarjan::NEW; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            path: Vec::new(),
            next: 0,
        }
    }

    /// The strong components of the subgraph induced by `nodes` (those for which
    /// `inside` holds), each in node order, in the order they close.
    fn components(
        &mut self,
        rows: &super::adjacency::Rows,
        nodes: &[u32],
        inside: impl Fn(usize) -> bool,
        ticks: &mut Ticks<'_>,
    ) -> Result<Vec<Vec<u32>>, GraphError> {
        let mut comps: Vec<Vec<u32>> = Vec::new();
        for &s in nodes {
            if self.index[s as usize] != Tarjan::NEW {
                continue;
            }
            self.open(s as usize, rows);
            while let Some(&(v, k)) = self.path.last() {
                let v = v as usize;
                if k < rows.off[v + 1] {
                    self.path.last_mut().expect("open").1 += 1;
                    ticks.add(1)?;
                    let w = rows.adj[k as usize] as usize;
                    if !inside(w) {
                        continue;
                    }
                    if self.index[w] == Tarjan::NEW {
                        self.open(w, rows);
                    } else if self.on_stack[w] {
                        self.low[v] = self.low[v].min(self.index[w]);
                    }
                    continue;
                }
                self.path.pop();
                if let Some(&(u, _)) = self.path.last() {
                    self.low[u as usize] = self.low[u as usize].min(self.low[v]);
                }
                if self.low[v] == self.index[v] {
                    let mut c = Vec::new();
                    loop {
                        let w = self.stack.pop().expect("v is on the stack");
                        self.on_stack[w as usize] = false;
                        c.push(w);
                        if w as usize == v {
                            break;
                        }
                    }
                    c.sort_unstable();
                    comps.push(c);
                }
            }
        }
        for &v in nodes {
            self.index[v as usize] = Tarjan::NEW;
        }
        self.next = 0;
        Ok(comps)
    }

    fn open(&mut self, v: usize, rows: &super::adjacency::Rows) {
        self.index[v] = self.next;
        self.low[v] = self.next;
        self.next += 1;
        self.on_stack[v] = true;
        self.stack.push(v as u32);
        self.path.push((v as u32, rows.off[v]));
    }
}

/// The (weak) component of every node index, components numbered in the order of
/// their smallest node, and their sizes.
fn component_labels(g: &Graph, ctl: &dyn Control) -> Result<(Vec<u32>, Vec<usize>), GraphError> {
    let n = g.num_nodes();
    if !g.is_directed() {
        // A search over the cached rows (sequential reads, one visit per arc); the
        // sources go up, so each component is found from its smallest node.
        let rows = &g.adjacency().out;
        let mut label = vec![u32::MAX; n];
        let mut queue: Vec<u32> = Vec::with_capacity(n);
        let mut sizes: Vec<usize> = Vec::new();
        let mut ticks = Ticks::new(ctl);
        let mut before = 0;
        for s in 0..n {
            if label[s] != u32::MAX {
                continue;
            }
            let c = sizes.len() as u32;
            label[s] = c;
            queue.clear();
            queue.push(s as u32);
            let mut head = 0;
            // Once every node has a label the rest of the queue can find nothing: on a
            // connected graph that skips the arcs of the last levels (ER n = 1000,
            // p = 0.01: 3,000 of 10,000).
            while head < queue.len() && before + queue.len() < n {
                let v = queue[head] as usize;
                head += 1;
                let nbrs = rows.nbrs(v);
                for &w in nbrs {
                    if label[w as usize] == u32::MAX {
                        label[w as usize] = c;
                        queue.push(w);
                    }
                }
                ticks.add(nbrs.len())?;
            }
            sizes.push(queue.len());
            before += queue.len();
        }
        return Ok((label, sizes));
    }
    // Weak components of a directed graph: union–find over the edges.
    let mut parent: Vec<u32> = (0..n as u32).collect();
    fn find(p: &mut [u32], mut x: u32) -> u32 {
        while p[x as usize] != x {
            let gp = p[p[x as usize] as usize];
            p[x as usize] = gp;
            x = gp;
        }
        x
    }
    for (k, &(u, v)) in g.adjacency().ends.iter().enumerate() {
        if k % ARCS_PER_CHECK == ARCS_PER_CHECK - 1 {
            ctl.check()?;
        }
        let (a, b) = (find(&mut parent, u), find(&mut parent, v));
        if a != b {
            // The smaller index becomes the root: roots are first members.
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            parent[hi as usize] = lo;
        }
    }
    let mut slot = vec![u32::MAX; n];
    let mut sizes: Vec<usize> = Vec::new();
    let label = (0..n as u32)
        .map(|i| {
            let r = find(&mut parent, i) as usize;
            if slot[r] == u32::MAX {
                slot[r] = sizes.len() as u32;
                sizes.push(0);
            }
            sizes[slot[r] as usize] += 1;
            slot[r]
        })
        .collect();
    Ok((label, sizes))
}

/// The components as lists, largest first (ties: smallest node first, the labels'
/// order), each in node order: `item(i)` for node index `i`.
fn ranked<T>(label: &[u32], sizes: &[usize], item: impl Fn(usize) -> T) -> Vec<Vec<T>> {
    if sizes.len() == 1 {
        // A connected graph: every node in order, without the per-node list lookup.
        return vec![(0..label.len()).map(item).collect()];
    }
    let mut order: Vec<u32> = (0..sizes.len() as u32).collect();
    // Stable: equal sizes keep the labels' order.
    order.sort_by_key(|&c| std::cmp::Reverse(sizes[c as usize]));
    let mut rank = vec![0u32; sizes.len()];
    for (pos, &c) in order.iter().enumerate() {
        rank[c as usize] = pos as u32;
    }
    let mut out: Vec<Vec<T>> = order
        .iter()
        .map(|&c| Vec::with_capacity(sizes[c as usize]))
        .collect();
    for (i, &c) in label.iter().enumerate() {
        out[rank[c as usize] as usize].push(item(i));
    }
    out
}

/// Neighbour sets without self: (predecessors, successors); equal when undirected.
fn nbr_sets(view: &View<'_>) -> (Vec<HashSet<usize>>, Vec<HashSet<usize>>) {
    let set = |adj: &Vec<Vec<(usize, f64)>>| -> Vec<HashSet<usize>> {
        adj.iter()
            .enumerate()
            .map(|(i, a)| a.iter().map(|e| e.0).filter(|&j| j != i).collect())
            .collect()
    };
    (set(&view.inc), set(&view.out))
}

/// Local clustering coefficient of every node, in node order (unweighted).
///
/// ```
/// use mfn_graph::{algo::structure::clustering, generators};
/// let c = clustering(&generators::complete("k", 4).unwrap()).unwrap();
/// assert_eq!(c, vec![1.0; 4]);
/// ```
pub fn clustering(g: &Graph) -> Result<Vec<f64>, GraphError> {
    clustering_ctl(g, &NoControl)
}

/// [`clustering`], checking `ctl` every 256 nodes.
pub fn clustering_ctl(g: &Graph, ctl: &dyn Control) -> Result<Vec<f64>, GraphError> {
    if !g.is_directed() {
        return Ok(triangles_undirected(g, ctl)?
            .into_iter()
            .map(|(t, k)| {
                if t == 0 {
                    0.0
                } else {
                    t as f64 / (k * (k - 1)) as f64
                }
            })
            .collect());
    }
    let view = g.view(None)?;
    let (pred, succ) = nbr_sets(&view);
    let n = view.n();
    if !view.directed {
        return Ok((0..n)
            .map(|v| {
                let nb = &succ[v];
                let k = nb.len();
                if k < 2 {
                    return 0.0;
                }
                let t: usize = nb.iter().map(|&u| succ[u].intersection(nb).count()).sum();
                t as f64 / (k * (k - 1)) as f64
            })
            .collect());
    }
    (0..n)
        .map(|i| {
            if i % 256 == 0 {
                ctl.check()?;
            }
            let (ip, is) = (&pred[i], &succ[i]);
            let mut t = 0usize;
            for &j in ip.iter().chain(is.iter()) {
                let (jp, js) = (&pred[j], &succ[j]);
                t += ip.intersection(jp).count()
                    + ip.intersection(js).count()
                    + is.intersection(jp).count()
                    + is.intersection(js).count();
            }
            let dt = ip.len() + is.len();
            let db = ip.intersection(is).count();
            Ok(if t == 0 {
                0.0
            } else {
                t as f64 / ((dt * (dt - 1) - 2 * db) * 2) as f64
            })
        })
        .collect()
}

/// Per node of an undirected graph: `(t, k)` with `k` the degree without self-loops and
/// `t = Σ_{u ∈ N(v)} |N(u) ∩ N(v)|` (twice the triangles through `v`), as NetworkX's
/// `_triangles_and_degree_iter`. Marks `N(v)` and scans each neighbour's row; parallel
/// over fixed chunks of nodes (integer counts: exact).
fn triangles_undirected(g: &Graph, ctl: &dyn Control) -> Result<Vec<(usize, usize)>, GraphError> {
    let csr = Csr::build(g, None)?;
    let n = csr.n();
    let nodes: Vec<usize> = (0..n).collect();
    let parts = par_chunks(&nodes, 256, |chunk| {
        let mut mark = vec![u32::MAX; n];
        let mut out = Vec::with_capacity(chunk.len());
        for &v in chunk {
            if v % 256 == 0 {
                ctl.check()?;
            }
            let nb = csr.out.nbrs(v);
            let mut k = 0;
            for &u in nb {
                if u as usize != v {
                    mark[u as usize] = v as u32;
                    k += 1;
                }
            }
            let mut t = 0usize;
            for &u in nb {
                if u as usize == v {
                    continue;
                }
                for &w in csr.out.nbrs(u as usize) {
                    if w != u && mark[w as usize] == v as u32 {
                        t += 1;
                    }
                }
            }
            out.push((t, k));
        }
        Ok(out)
    })?;
    Ok(parts.into_iter().flatten().collect())
}

/// Clustering of every node and transitivity (`None` for directed graphs) from one
/// triangle count: what `clustering_coefficients` returns.
pub fn clustering_and_transitivity(g: &Graph) -> Result<(Vec<f64>, Option<f64>), GraphError> {
    clustering_and_transitivity_ctl(g, &NoControl)
}

/// [`clustering_and_transitivity`], checking `ctl` every 256 nodes.
pub fn clustering_and_transitivity_ctl(
    g: &Graph,
    ctl: &dyn Control,
) -> Result<(Vec<f64>, Option<f64>), GraphError> {
    if g.is_directed() {
        return Ok((clustering_ctl(g, ctl)?, None));
    }
    let tk = triangles_undirected(g, ctl)?;
    let (mut tri, mut contri) = (0usize, 0usize);
    let c = tk
        .iter()
        .map(|&(t, k)| {
            tri += t;
            contri += k * k.saturating_sub(1);
            if t == 0 {
                0.0
            } else {
                t as f64 / (k * (k - 1)) as f64
            }
        })
        .collect();
    let tr = if tri == 0 {
        0.0
    } else {
        tri as f64 / contri as f64
    };
    Ok((c, Some(tr)))
}

/// Transitivity of an undirected graph (`None` for directed graphs, where NetworkX
/// does not define it): `Σ t / Σ k (k − 1)` as `nx.transitivity`.
pub fn transitivity(g: &Graph) -> Result<Option<f64>, GraphError> {
    if g.is_directed() {
        return Ok(None);
    }
    Ok(clustering_and_transitivity(g)?.1)
}

/// Core number of every node, in node order. Self-loops are not allowed (NetworkX).
///
/// Undirected graphs: rustworkx-core. Directed graphs follow `nx.core_number`, which
/// peels by total degree `in + out` over `all_neighbors` — a reciprocal pair counts
/// twice — so they use our bucket peeling over that multiset of neighbours.
pub fn core_number(g: &Graph) -> Result<Vec<usize>, GraphError> {
    if let Some((u, _, _)) = g.edges().find(|(u, v, _)| u == v) {
        return Err(GraphError::FailedPrecondition(format!(
            "graph: core number is undefined with self-loops (node {u})"
        )));
    }
    let view = g.view(None)?;
    let n = view.n();
    if view.directed {
        let nbrs: Vec<Vec<usize>> = (0..n)
            .map(|i| {
                view.out[i]
                    .iter()
                    .chain(&view.inc[i])
                    .map(|e| e.0)
                    .collect()
            })
            .collect();
        return Ok(peel(&nbrs));
    }
    let map = rxc::core_number(view.petgraph::<Undirected>());
    let mut out = vec![0; n];
    for (k, v) in map {
        out[k.index()] = v;
    }
    Ok(out)
}

/// Batagelj–Zaversnik peeling over neighbour multisets: `O(n + m)`.
fn peel(nbrs: &[Vec<usize>]) -> Vec<usize> {
    let n = nbrs.len();
    let mut deg: Vec<usize> = nbrs.iter().map(Vec::len).collect();
    let max = deg.iter().copied().max().unwrap_or(0);
    let mut bins: Vec<Vec<usize>> = vec![Vec::new(); max + 1];
    for (v, &d) in deg.iter().enumerate() {
        bins[d].push(v);
    }
    let mut done = vec![false; n];
    let mut core = vec![0; n];
    let mut k = 0;
    let mut d = 0;
    while d <= max {
        let Some(v) = bins[d].pop() else {
            d += 1;
            continue;
        };
        if done[v] || deg[v] != d {
            continue; // stale bucket entry
        }
        done[v] = true;
        k = k.max(d);
        core[v] = k;
        for &u in &nbrs[v] {
            if !done[u] && deg[u] > d {
                deg[u] -= 1;
                bins[deg[u]].push(u);
                if deg[u] < d {
                    d = deg[u];
                }
            }
        }
    }
    core
}

/// Density (NetworkX): `m / (n (n − 1))`, doubled for undirected graphs.
pub fn density(g: &Graph) -> f64 {
    let (n, m) = (g.num_nodes() as f64, g.num_edges() as f64);
    if n <= 1.0 {
        return 0.0;
    }
    let d = m / (n * (n - 1.0));
    if g.is_directed() { d } else { 2.0 * d }
}

/// Degree of every node (in + out for directed graphs; a self-loop counts twice).
pub fn degrees(g: &Graph) -> Vec<usize> {
    let mut deg = vec![0; g.num_nodes()];
    for (u, v, _) in g.edges() {
        deg[g.node_index(u).expect("node")] += 1;
        deg[g.node_index(v).expect("node")] += 1;
    }
    deg
}

/// Summary statistics of a graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    /// Nodes.
    pub num_nodes: usize,
    /// Edges.
    pub num_edges: usize,
    /// Density.
    pub density: f64,
    /// Directed?
    pub is_directed: bool,
    /// Connected (strongly, for directed graphs; false for the empty graph).
    pub is_connected: bool,
    /// Degree mean, population standard deviation, min, max.
    pub degree: [f64; 4],
    /// Largest eccentricity (hops), when connected.
    pub diameter: Option<f64>,
    /// Smallest eccentricity, when connected.
    pub radius: Option<f64>,
    /// Mean distance over ordered pairs, when connected.
    pub average_shortest_path_length: Option<f64>,
}

/// Summary statistics; the distance-based ones (O(n·m)) only when connected and
/// `n <= limits.max_nodes_all_pairs`.
pub fn statistics(g: &Graph, limits: &Limits) -> Result<Statistics, GraphError> {
    statistics_ctl(g, limits, &NoControl)
}

/// [`statistics`] with one progress unit per breadth-first search (`n` units).
pub fn statistics_ctl(
    g: &Graph,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<Statistics, GraphError> {
    let n = g.num_nodes();
    let deg = degrees(g);
    let degree = if n == 0 {
        [0.0; 4]
    } else {
        let mean = deg.iter().sum::<usize>() as f64 / n as f64;
        let var = deg.iter().map(|&d| (d as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        [
            mean,
            var.sqrt(),
            *deg.iter().min().expect("n > 0") as f64,
            *deg.iter().max().expect("n > 0") as f64,
        ]
    };
    let comps = component_indices(g, true, ctl)?;
    let is_connected = n > 0 && comps.len() == 1;
    let (mut diameter, mut radius, mut aspl) = (None, None, None);
    if is_connected {
        GraphError::check_limit(
            "nodes",
            n,
            "max_nodes_all_pairs",
            limits.max_nodes_all_pairs,
        )?;
        let csr = Csr::build(g, None)?;
        let progress = Progress::new(ctl, n);
        let nodes: Vec<usize> = (0..n).collect();
        // Eccentricities and Σ distances: integers, exact.
        let reach = msbfs::distance_sums(&csr.out, n, &nodes, &progress)?;
        let dmax = reach.iter().map(|r| r.ecc).max().unwrap_or(0) as f64;
        let rmin = reach.iter().map(|r| r.ecc).min().unwrap_or(0) as f64;
        let total = reach.iter().map(|r| r.total).sum::<u64>() as f64;
        diameter = Some(dmax);
        radius = Some(rmin);
        aspl = Some(if n > 1 {
            total / (n * (n - 1)) as f64
        } else {
            0.0
        });
    }
    Ok(Statistics {
        num_nodes: n,
        num_edges: g.num_edges(),
        density: density(g),
        is_directed: g.is_directed(),
        is_connected,
        degree,
        diameter,
        radius,
        average_shortest_path_length: aspl,
    })
}

fn global_eff(adj: &[Vec<(usize, f64)>], weighted: bool) -> f64 {
    let n = adj.len();
    if n < 2 {
        return 0.0;
    }
    let mut sum = 0.0;
    for s in 0..n {
        sum += inverse_distances(adj, s, weighted);
    }
    sum / (n * (n - 1)) as f64
}

/// `Σ_v 1 / d(s, v)` over the nodes reached from `s` (at a positive distance).
fn inverse_distances(adj: &[Vec<(usize, f64)>], s: usize, weighted: bool) -> f64 {
    let mut sum = 0.0;
    for (_, d) in paths_from(adj, s, weighted) {
        if d > 0.0 {
            sum += 1.0 / d;
        }
    }
    sum
}

/// [`global_eff`] in parallel over fixed chunks of sources, one progress unit each.
fn global_eff_par(
    adj: &[Vec<(usize, f64)>],
    weighted: bool,
    progress: &Progress<'_>,
) -> Result<f64, GraphError> {
    let n = adj.len();
    if n < 2 {
        return Ok(0.0);
    }
    let nodes: Vec<usize> = (0..n).collect();
    let parts = par_chunks(&nodes, MIN_SOURCES, |chunk| {
        let mut sum = 0.0;
        for &s in chunk {
            sum += inverse_distances(adj, s, weighted);
            progress.step(1)?;
        }
        Ok(sum)
    })?;
    Ok(parts.into_iter().sum::<f64>() / (n * (n - 1)) as f64)
}

fn paths_from(adj: &[Vec<(usize, f64)>], s: usize, weighted: bool) -> Vec<(usize, f64)> {
    let sp = sssp::distances(adj, s, weighted);
    sp.order.iter().map(|&v| (v, sp.dist[v])).collect()
}

/// Global and local efficiency of an undirected graph. `weight`: a length attribute
/// (NetworkX's efficiency is unweighted; `None` reproduces it).
pub fn efficiency(
    g: &Graph,
    weight: Option<&str>,
    limits: &Limits,
) -> Result<(f64, f64), GraphError> {
    efficiency_ctl(g, weight, limits, &NoControl)
}

/// [`efficiency`] with progress: `n` units for the global part (one per source), then
/// `n` for the local part (one per node), `2n` in all.
pub fn efficiency_ctl(
    g: &Graph,
    weight: Option<&str>,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<(f64, f64), GraphError> {
    if g.is_directed() {
        return Err(GraphError::FailedPrecondition(
            "graph: efficiency is defined for undirected graphs".into(),
        ));
    }
    let n = g.num_nodes();
    GraphError::check_limit(
        "nodes",
        n,
        "max_nodes_all_pairs",
        limits.max_nodes_all_pairs,
    )?;
    let view = g.view(weight)?;
    super::centrality::check_non_negative(&view)?;
    let weighted = weight.is_some();
    let progress = Progress::new(ctl, 2 * n);
    let global = global_eff_par(&view.out, weighted, &progress)?;
    if n == 1 {
        progress.step(1)?; // the global part of one node: no search
    }
    if n == 0 {
        return Ok((0.0, 0.0));
    }
    let mut local = 0.0;
    let mut pos = vec![usize::MAX; n];
    for v in 0..n {
        // G.subgraph(G[v]): the neighbours (v itself only with a self-loop).
        let nb: Vec<usize> = {
            let mut s: Vec<usize> = view.out[v].iter().map(|e| e.0).collect();
            s.sort_unstable();
            s.dedup();
            s
        };
        for (k, &u) in nb.iter().enumerate() {
            pos[u] = k;
        }
        let sub: Vec<Vec<(usize, f64)>> = nb
            .iter()
            .map(|&u| {
                view.out[u]
                    .iter()
                    .filter(|e| pos[e.0] != usize::MAX)
                    .map(|&(w, wt)| (pos[w], wt))
                    .collect()
            })
            .collect();
        local += global_eff(&sub, weighted);
        for &u in &nb {
            pos[u] = usize::MAX;
        }
        progress.step(1)?;
    }
    Ok((global, local / n as f64))
}

/// An edge of a result: ends and weight.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedEdge {
    /// Source (or first end).
    pub source: NodeId,
    /// Target (or second end).
    pub target: NodeId,
    /// Weight (or flow).
    pub weight: f64,
}

/// The algorithm of [`minimum_spanning_tree`].
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MstAlgorithm {
    /// Kruskal: edges by weight, union–find (petgraph).
    #[default]
    Kruskal,
    /// Prim: grow from a node by the lightest edge (petgraph), per component.
    Prim,
}

/// Minimum spanning tree (forest) of an undirected graph by Kruskal (petgraph) or Prim
/// (petgraph, run on each connected component: petgraph's Prim spans only the component
/// of its start node); returns the edges and their total weight.
pub fn minimum_spanning_tree(
    g: &Graph,
    weight: &str,
    algorithm: MstAlgorithm,
) -> Result<(Vec<WeightedEdge>, f64), GraphError> {
    let prim = algorithm == MstAlgorithm::Prim;
    if g.is_directed() {
        return Err(GraphError::FailedPrecondition(
            "graph: minimum spanning tree is defined for undirected graphs".into(),
        ));
    }
    let view = g.view(Some(weight))?;
    let pg = view.petgraph::<Undirected>();
    // (component-local index → view index) per component; one component for Kruskal.
    let parts: Vec<(petgraph::Graph<(), f64, Undirected>, Vec<usize>)> = if prim {
        let mut comp = vec![usize::MAX; view.n()];
        let mut members: Vec<Vec<usize>> = Vec::new();
        for s in 0..view.n() {
            if comp[s] != usize::MAX {
                continue;
            }
            let c = members.len();
            let reached = sssp::bfs(&view.out, s, false).order;
            for &v in &reached {
                comp[v] = c;
            }
            members.push(reached);
        }
        let mut local = vec![0; view.n()];
        for m in &members {
            for (i, &v) in m.iter().enumerate() {
                local[v] = i;
            }
        }
        let mut graphs: Vec<petgraph::Graph<(), f64, Undirected>> = members
            .iter()
            .map(|m| {
                let mut h = petgraph::Graph::default();
                m.iter().for_each(|_| {
                    h.add_node(());
                });
                h
            })
            .collect();
        for &(u, v, w) in &view.edges {
            graphs[comp[u]].add_edge(NodeIndex::new(local[u]), NodeIndex::new(local[v]), w);
        }
        graphs.into_iter().zip(members).collect()
    } else {
        vec![(pg, (0..view.n()).collect())]
    };
    let mut edges = Vec::new();
    let mut total = 0.0;
    for (h, map) in &parts {
        let elements: Vec<_> = if prim {
            petgraph::algo::min_spanning_tree_prim(h).collect()
        } else {
            petgraph::algo::min_spanning_tree(h).collect()
        };
        for el in elements {
            if let petgraph::data::Element::Edge {
                source,
                target,
                weight,
            } = el
            {
                total += weight;
                edges.push(WeightedEdge {
                    source: view.ids[map[source]].clone(),
                    target: view.ids[map[target]].clone(),
                    weight,
                });
            }
        }
    }
    Ok((edges, total))
}

/// What [`cycles`] finds: `(has_cycle, is_dag, cycles, truncated)`.
pub type CycleReport = (bool, Option<bool>, Vec<Vec<NodeId>>, bool);

/// Cycles: directed graphs report `(has_cycle, Some(is_dag), simple cycles up to
/// max_cycles, truncated)`; undirected graphs a cycle basis (`is_dag = None`).
pub fn cycles(g: &Graph, max_cycles: usize) -> Result<CycleReport, GraphError> {
    cycles_ctl(g, max_cycles, &Limits::default(), &NoControl)
}

/// [`cycles`] with a checkpoint every 64 simple cycles found (progress in cycles of
/// `max_cycles`), and the memory of the listed cycles (32 bytes per node) held to
/// `limits.max_call_bytes` (error naming `max_cycles`).
pub fn cycles_ctl(
    g: &Graph,
    max_cycles: usize,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<CycleReport, GraphError> {
    if g.is_directed() {
        let (has, cycles, truncated) = simple_cycles(g, max_cycles, limits, ctl)?;
        let ids = |c: Vec<u32>| -> Vec<NodeId> {
            c.into_iter()
                .map(|i| g.node_at(i as usize).expect("index").clone())
                .collect()
        };
        return Ok((
            has,
            Some(!has),
            cycles.into_iter().map(ids).collect(),
            truncated,
        ));
    }
    let view = g.view(None)?;
    let (basis, truncated) = cycle_basis(g, max_cycles, limits, ctl)?;
    let basis: Vec<Vec<NodeId>> = basis
        .into_iter()
        .map(|c| {
            c.into_iter()
                .map(|i| view.ids[i as usize].clone())
                .collect()
        })
        .collect();
    Ok((!basis.is_empty(), None, basis, truncated))
}

/// Simple cycles of a directed graph (Johnson 1975): `(has_cycle, cycles, truncated)`,
/// at most `max` cycles, each from its smallest node index; self-loops first, in node
/// order, as one-node cycles (NetworkX's `simple_cycles` lists them; rustworkx-core's,
/// which this replaces, left them out unless told of them apart).
///
/// A work list holds strong components of two nodes or more, at first the graph's. For
/// a component `C` with smallest node `s`, a depth-first search within `C` lists the
/// cycles through `s`: a node stays blocked until a cycle is found through it, and
/// `B(w)` remembers the nodes to unblock with `w`, so no dead end is searched twice;
/// then the strong components of `C − s` join the list. Iterative (explicit stacks of
/// open nodes with their next arc), over the cached rows, with `O(n + m)` scratch
/// memory (rustworkx-core's copied each component into a new graph and kept hash sets
/// per node: 240 MB above the graph's own for the first cycle of a random directed
/// graph of a million arcs, 1.2 GB for a hundred). Checks `ctl` every
/// [`ARCS_PER_CHECK`] arcs, reports progress every 64 cycles, and holds the listed
/// cycles (32 bytes per node) to `limits.max_call_bytes`.
fn simple_cycles(
    g: &Graph,
    max: usize,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<(bool, Vec<Vec<u32>>, bool), GraphError> {
    let rows = &g.adjacency().out;
    let n = g.num_nodes();
    let mut ticks = Ticks::new(ctl);
    let mut cycles: Vec<Vec<u32>> = Vec::new();
    let mut listed = 0u64;
    let mut list = |c: Vec<u32>, cycles: &mut Vec<Vec<u32>>| -> Result<bool, GraphError> {
        if cycles.len() == max {
            return Ok(false);
        }
        listed += 32 * (c.len() as u64 + 1);
        limits.budget("max_cycles", listed)?;
        cycles.push(c);
        if cycles.len().is_multiple_of(64) {
            ctl.checkpoint(cycles.len() as u64, max as u64)?;
        }
        Ok(true)
    };
    let mut loops: Vec<u32> = g
        .adjacency()
        .ends
        .iter()
        .filter(|&&(u, v)| u == v)
        .map(|&(u, _)| u)
        .collect();
    loops.sort_unstable();
    for &v in &loops {
        if !list(vec![v], &mut cycles)? {
            return Ok((true, cycles, true));
        }
    }
    // The work list: (id, nodes) of components; `member[v]` is the id of v's.
    let mut tarjan = Tarjan::new(n);
    let mut member = vec![u32::MAX; n];
    let mut work: Vec<(u32, Vec<u32>)> = Vec::new();
    let mut ids = 0u32;
    let mut enqueue =
        |comps: Vec<Vec<u32>>, member: &mut [u32], work: &mut Vec<(u32, Vec<u32>)>| {
            for c in comps {
                if c.len() > 1 {
                    for &v in &c {
                        member[v as usize] = ids;
                    }
                    work.push((ids, c));
                    ids += 1;
                } else {
                    member[c[0] as usize] = u32::MAX;
                }
            }
        };
    let all: Vec<u32> = (0..n as u32).collect();
    let comps = tarjan.components(rows, &all, |_| true, &mut ticks)?;
    enqueue(comps, &mut member, &mut work);
    let has = !loops.is_empty() || !work.is_empty();
    let mut blocked = vec![false; n];
    let mut b: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut in_b: HashSet<(u32, u32)> = HashSet::new();
    let mut touched: Vec<u32> = Vec::new();
    let mut path: Vec<u32> = Vec::new();
    // Open nodes: (node, offset of its next arc, a cycle was found through it).
    let mut open: Vec<(u32, u32, bool)> = Vec::new();
    let mut unblocking: Vec<u32> = Vec::new();
    while let Some((id, nodes)) = work.pop() {
        let s = *nodes.iter().min().expect("a component has nodes") as usize;
        let inside = |w: usize| member[w] == id;
        blocked[s] = true;
        touched.push(s as u32);
        path.push(s as u32);
        open.push((s as u32, rows.off[s], false));
        while let Some(top) = open.last_mut() {
            let v = top.0 as usize;
            if top.1 < rows.off[v + 1] {
                let w = rows.adj[top.1 as usize] as usize;
                top.1 += 1;
                ticks.add(1)?;
                if w == v || !inside(w) {
                    continue;
                }
                if w == s {
                    top.2 = true;
                    if !list(path.clone(), &mut cycles)? {
                        return Ok((has, cycles, true));
                    }
                } else if !blocked[w] {
                    blocked[w] = true;
                    touched.push(w as u32);
                    path.push(w as u32);
                    open.push((w as u32, rows.off[w], false));
                }
                continue;
            }
            let (_, _, found) = open.pop().expect("open");
            path.pop();
            if found {
                // Unblock v and, through the B lists, every node blocked behind it.
                unblocking.push(v as u32);
                while let Some(x) = unblocking.pop() {
                    let x = x as usize;
                    if !blocked[x] {
                        continue;
                    }
                    blocked[x] = false;
                    ticks.add(b[x].len())?;
                    for y in b[x].drain(..) {
                        in_b.remove(&(x as u32, y));
                        if blocked[y as usize] {
                            unblocking.push(y);
                        }
                    }
                }
            } else {
                ticks.add(rows.len(v))?;
                for &w in rows.nbrs(v) {
                    if w as usize != v && inside(w as usize) && in_b.insert((w, v as u32)) {
                        b[w as usize].push(v as u32);
                    }
                }
            }
            if let Some(parent) = open.last_mut() {
                parent.2 |= found;
            }
        }
        // Reset what this search touched (clearing the whole set would cost its
        // capacity per component).
        for &v in &touched {
            blocked[v as usize] = false;
            for x in b[v as usize].drain(..) {
                in_b.remove(&(v, x));
            }
        }
        touched.clear();
        // Every cycle through s is listed: the rest are in the components of C − s.
        member[s] = u32::MAX;
        let rest: Vec<u32> = nodes.into_iter().filter(|&v| v as usize != s).collect();
        let comps = tarjan.components(rows, &rest, |w| member[w] == id, &mut ticks)?;
        enqueue(comps, &mut member, &mut work);
    }
    Ok((has, cycles, false))
}

/// A cycle basis of an undirected graph, as `nx.cycle_basis` (Paton 1969) finds it —
/// roots taken from the last node, a depth-first spanning tree, one cycle per non-tree
/// edge — stopping after `max` cycles (`truncated` when more exist). Cycles are found one
/// at a time, so the work and memory stop with the cap, the budget or a cancellation.
fn cycle_basis(
    g: &Graph,
    max: usize,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<(Vec<Vec<u32>>, bool), GraphError> {
    let adj = g.adjacency();
    let n = adj.n();
    let mut done = vec![false; n];
    let mut pred = vec![u32::MAX; n];
    let mut used: Vec<Option<HashSet<u32>>> = vec![None; n];
    let mut cycles: Vec<Vec<u32>> = Vec::new();
    let mut listed = 0u64;
    let mut steps = 0u32;
    let mut members: Vec<u32> = Vec::new();
    for root in (0..n).rev() {
        if done[root] {
            continue;
        }
        members.clear();
        let mut stack = vec![root as u32];
        pred[root] = root as u32;
        used[root] = Some(HashSet::new());
        members.push(root as u32);
        while let Some(z) = stack.pop() {
            for &nbr in adj.out.nbrs(z as usize) {
                steps = steps.wrapping_add(1);
                if steps.is_multiple_of(4096) {
                    ctl.check()?;
                }
                if used[nbr as usize].is_none() {
                    pred[nbr as usize] = z;
                    stack.push(nbr);
                    used[nbr as usize] = Some(HashSet::from([z]));
                    members.push(nbr);
                    continue;
                }
                let cycle = if nbr == z {
                    vec![z]
                } else if !used[z as usize].as_ref().expect("visited").contains(&nbr) {
                    let pn = used[nbr as usize].as_ref().expect("visited");
                    let mut cycle = vec![nbr, z];
                    let mut p = pred[z as usize];
                    while !pn.contains(&p) {
                        cycle.push(p);
                        p = pred[p as usize];
                        steps = steps.wrapping_add(1);
                        if steps.is_multiple_of(4096) {
                            ctl.check()?;
                        }
                    }
                    cycle.push(p);
                    used[nbr as usize].as_mut().expect("visited").insert(z);
                    cycle
                } else {
                    continue;
                };
                if cycles.len() == max {
                    return Ok((cycles, true));
                }
                listed += 32 * (cycle.len() as u64 + 1);
                limits.budget("max_cycles", listed)?;
                cycles.push(cycle);
            }
        }
        for &m in &members {
            done[m as usize] = true;
            used[m as usize] = None;
        }
    }
    Ok((cycles, false))
}

/// The strategy of [`coloring`] (NetworkX's names).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ColorStrategy {
    /// Nodes by decreasing degree.
    #[default]
    LargestFirst,
    /// DSatur: the node with the most distinct neighbour colours next
    /// (`saturation_largest_first` is accepted too).
    #[serde(alias = "saturation_largest_first")]
    Dsatur,
    /// Repeatedly a maximal independent set per colour.
    IndependentSet,
}

/// Greedy colouring: `largest_first`, `dsatur` (saturation) or `independent_set`
/// (rustworkx-core). Colour of every node in node order.
pub fn coloring(g: &Graph, strategy: ColorStrategy) -> Result<Vec<usize>, GraphError> {
    let strat = match strategy {
        ColorStrategy::LargestFirst => ColoringStrategy::Degree,
        ColorStrategy::Dsatur => ColoringStrategy::Saturation,
        ColorStrategy::IndependentSet => ColoringStrategy::IndependentSet,
    };
    let view = g.view(None)?;
    // Colouring ignores direction: read edges as undirected.
    let mut pg = petgraph::Graph::<(), f64, Undirected>::with_capacity(view.n(), view.edges.len());
    (0..view.n()).for_each(|_| {
        pg.add_node(());
    });
    for &(u, v, w) in &view.edges {
        if u != v {
            pg.add_edge(NodeIndex::new(u), NodeIndex::new(v), w);
        }
    }
    let map = greedy_node_color_with_coloring_strategy(&pg, |_| Ok::<_, GraphError>(None), strat)?;
    let mut out = vec![0; view.n()];
    for (k, c) in map {
        out[k.index()] = c;
    }
    Ok(out)
}

/// Matching of an undirected graph: maximum weight (weights rounded to 1e-6, the
/// blossom algorithm works on integers) or, with `max_cardinality`, a maximum-weight
/// matching among the maximum-cardinality ones. `weight = None` weighs every edge 1.
/// Returns the matched pairs (in node order) and their total weight.
///
/// Refuses graphs of more than `limits.max_nodes_matching` nodes: the blossom search has
/// no cancellation hook, and its time grows steeply with n (random graphs of 5,000 nodes:
/// 0.5–2.0 s; of 10,000: 6–18 s; docs/BENCHMARKS.md, "Calls that cannot be cancelled").
pub fn matching(
    g: &Graph,
    weight: Option<&str>,
    max_cardinality: bool,
    limits: &Limits,
) -> Result<(Vec<(NodeId, NodeId)>, f64), GraphError> {
    if g.is_directed() {
        return Err(GraphError::FailedPrecondition(
            "graph: matching is defined for undirected graphs".into(),
        ));
    }
    GraphError::check_limit(
        "nodes",
        g.num_nodes(),
        "max_nodes_matching",
        limits.max_nodes_matching,
    )?;
    let view = g.view(weight)?;
    let pg = view.petgraph::<Undirected>();
    let pairs = rustworkx_core::max_weight_matching::max_weight_matching(
        &pg,
        max_cardinality,
        |e| Ok::<i128, GraphError>((e.weight() * 1e6).round() as i128),
        false,
    )?;
    let mut pairs: Vec<(usize, usize)> = pairs
        .into_iter()
        .map(|(a, b)| (a.min(b), a.max(b)))
        .collect();
    pairs.sort_unstable();
    let total: f64 = pairs
        .iter()
        .map(|&(a, b)| {
            view.out[a]
                .iter()
                .find(|e| e.0 == b)
                .map(|e| e.1)
                .unwrap_or(0.0)
        })
        .sum();
    Ok((
        pairs
            .into_iter()
            .map(|(a, b)| (view.ids[a].clone(), view.ids[b].clone()))
            .collect(),
        total,
    ))
}

/// Maximum flow from `source` to `sink` (Dinic, petgraph). Capacities are the
/// `capacity` attribute; a missing one is unbounded, as in NetworkX. Undirected edges
/// carry flow either way. Returns the value and the positive flow per arc.
pub fn maximum_flow(
    g: &Graph,
    source: &NodeId,
    sink: &NodeId,
    capacity: &str,
) -> Result<(f64, Vec<WeightedEdge>), GraphError> {
    let s = g.require_node("source", source)?;
    let t = g.require_node("sink", sink)?;
    if s == t {
        return Err(GraphError::invalid("sink", "source and sink must differ"));
    }
    let mut finite = 0.0;
    let mut caps = Vec::with_capacity(g.num_edges());
    for (u, v, a) in g.edges() {
        let c = match a.get(capacity) {
            None => None,
            Some(x) => match x.as_f64() {
                Some(c) if c >= 0.0 && c.is_finite() => Some(c),
                _ => {
                    return Err(GraphError::invalid(
                        "capacity",
                        format!("edge ({u}, {v}): {capacity:?} must be a finite number >= 0"),
                    ));
                }
            },
        };
        finite += c.unwrap_or(0.0);
        caps.push((
            g.node_index(u).expect("node"),
            g.node_index(v).expect("node"),
            c,
        ));
    }
    let unbounded = 3.0 * finite + 1.0;
    let mut pg = petgraph::Graph::<(), f64, Directed>::with_capacity(g.num_nodes(), 2 * caps.len());
    (0..g.num_nodes()).for_each(|_| {
        pg.add_node(());
    });
    for &(u, v, c) in &caps {
        let c = c.unwrap_or(unbounded);
        pg.add_edge(NodeIndex::new(u), NodeIndex::new(v), c);
        if !g.is_directed() {
            pg.add_edge(NodeIndex::new(v), NodeIndex::new(u), c);
        }
    }
    let (value, flows) = petgraph::algo::dinics(&pg, NodeIndex::new(s), NodeIndex::new(t));
    if value >= unbounded {
        return Err(GraphError::FailedPrecondition(format!(
            "capacity: infinite capacity path from {source} to {sink}"
        )));
    }
    let ids: Vec<&NodeId> = g.nodes().map(|(k, _)| k).collect();
    let mut out = Vec::new();
    for e in pg.edge_references() {
        let f = flows[e.id().index()];
        if f > 0.0 {
            out.push(WeightedEdge {
                source: ids[e.source().index()].clone(),
                target: ids[e.target().index()].clone(),
                weight: f,
            });
        }
    }
    Ok((value, out))
}

/// A topological order of a directed acyclic graph (petgraph); fails on a cycle,
/// naming a node on it.
pub fn topological_sort(g: &Graph) -> Result<Vec<NodeId>, GraphError> {
    if !g.is_directed() {
        return Err(GraphError::FailedPrecondition(
            "graph: topological sort needs a directed graph".into(),
        ));
    }
    let view = g.view(None)?;
    let pg = view.petgraph::<Directed>();
    match petgraph::algo::toposort(&pg, None) {
        Ok(order) => Ok(order
            .into_iter()
            .map(|i| view.ids[i.index()].clone())
            .collect()),
        Err(cycle) => Err(GraphError::FailedPrecondition(format!(
            "graph: not a DAG, node {} is on a cycle",
            view.ids[cycle.node_id().index()]
        ))),
    }
}
