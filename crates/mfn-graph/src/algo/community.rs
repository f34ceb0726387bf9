//! Community detection and modularity.
//!
//! **Modularity** (`nx.community.modularity`, resolution γ): undirected
//! `Q = Σ_c [L_c/m − γ (d_c / 2m)²]`, directed `Q = Σ_c [L_c/m − γ d⁺_c d⁻_c / m²]`, with
//! `L_c` the weight inside community `c` and `d_c` its total (in/out) strength.
//!
//! - **Louvain** (Blondel et al. 2008): a transcription of `nx.community.louvain_communities`
//!   — nodes visited in a seeded random order move to the neighbouring community of
//!   largest positive gain `ΔQ = w_{u→C}/m − γ k_u Σ_C / (2m²)` (directed:
//!   `w/m − γ (k⁺_u Σ⁻_C + k⁻_u Σ⁺_C)/m²`); communities are then aggregated and the pass
//!   repeats while modularity grows by more than `threshold` (1e-7). No maintained Rust
//!   crate implements it over petgraph, so it is ours.
//! - **Label propagation** (`nx.community.asyn_lpa_communities`): nodes in a seeded random
//!   order adopt the label of largest (weighted) frequency among their neighbours,
//!   keeping their own on ties if it is among the best, else a seeded random choice,
//!   until no label changes.
//! - **Greedy modularity** (Clauset–Newman–Moore 2004): start from singletons and merge
//!   the connected pair of communities with the largest `ΔQ` while `ΔQ > 0`.

use std::collections::{BTreeMap, HashMap};

use rand::SeedableRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;

use crate::{Graph, GraphError, NodeId, View};

/// Modularity of a partition given as community labels per node (node order).
pub fn modularity(view: &View<'_>, labels: &[usize], resolution: f64) -> f64 {
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let mut out_s = vec![0.0; k];
    let mut in_s = vec![0.0; k];
    let mut inner = vec![0.0; k];
    let mut m = 0.0;
    for &(u, v, w) in &view.edges {
        m += w;
        out_s[labels[u]] += w;
        in_s[labels[v]] += w;
        if labels[u] == labels[v] {
            inner[labels[u]] += w;
        }
    }
    if m == 0.0 {
        return 0.0;
    }
    (0..k)
        .map(|c| {
            if view.directed {
                inner[c] / m - resolution * out_s[c] * in_s[c] / (m * m)
            } else {
                let d = out_s[c] + in_s[c];
                inner[c] / m - resolution * d * d / (4.0 * m * m)
            }
        })
        .sum()
}

/// Communities as node-id lists (each in node order, largest community first) from
/// labels.
pub fn groups(view: &View<'_>, labels: &[usize]) -> Vec<Vec<NodeId>> {
    let mut by: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &l) in labels.iter().enumerate() {
        by.entry(l).or_default().push(i);
    }
    let mut comms: Vec<Vec<usize>> = by.into_values().collect();
    comms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a[0].cmp(&b[0])));
    comms
        .into_iter()
        .map(|c| c.into_iter().map(|i| view.ids[i].clone()).collect())
        .collect()
}

/// Relabel to `0..k` in order of first appearance.
fn compact(labels: &mut [usize]) {
    let mut map = HashMap::new();
    for l in labels.iter_mut() {
        let next = map.len();
        *l = *map.entry(*l).or_insert(next);
    }
}

/// One aggregated level of Louvain.
struct Level {
    /// Neighbour weights without self-loops (in + out for directed graphs).
    nbrs: Vec<HashMap<usize, f64>>,
    /// Weighted degree (undirected, self-loops twice) or out-degree.
    k_out: Vec<f64>,
    /// Weighted in-degree (directed), else equal to `k_out`.
    k_in: Vec<f64>,
    /// Edges `(u, v, w)` of this level (self-loops included).
    edges: Vec<(usize, usize, f64)>,
}

impl Level {
    fn new(n: usize, edges: Vec<(usize, usize, f64)>, directed: bool) -> Level {
        let mut nbrs = vec![HashMap::new(); n];
        let mut k_out = vec![0.0; n];
        let mut k_in = vec![0.0; n];
        for &(u, v, w) in &edges {
            if u != v {
                *nbrs[u].entry(v).or_insert(0.0) += w;
                *nbrs[v].entry(u).or_insert(0.0) += w;
            }
            if directed {
                k_out[u] += w;
                k_in[v] += w;
            } else {
                k_out[u] += w;
                k_out[v] += w;
            }
        }
        if !directed {
            k_in.clone_from(&k_out);
        }
        Level {
            nbrs,
            k_out,
            k_in,
            edges,
        }
    }
}

/// Louvain communities: `(labels per node, modularity)`.
pub fn louvain(view: &View<'_>, resolution: f64, threshold: f64, seed: u64) -> (Vec<usize>, f64) {
    let n = view.n();
    let mut labels: Vec<usize> = (0..n).collect();
    if view.edges.is_empty() {
        return (labels, 0.0);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let directed = view.directed;
    let m: f64 = view.edges.iter().map(|e| e.2).sum();
    let mut level = Level::new(n, view.edges.clone(), directed);
    let mut modq = modularity(view, &labels, resolution);
    loop {
        let ln = level.nbrs.len();
        let mut node2com: Vec<usize> = (0..ln).collect();
        let mut s_out = level.k_out.clone();
        let mut s_in = level.k_in.clone();
        let mut order: Vec<usize> = (0..ln).collect();
        order.shuffle(&mut rng);
        let mut improvement = false;
        let mut moves = 1;
        while moves > 0 {
            moves = 0;
            for &u in &order {
                let mut best_com = node2com[u];
                let mut best = 0.0;
                let mut w2c: Vec<(usize, f64)> = Vec::new();
                {
                    let mut acc: HashMap<usize, f64> = HashMap::new();
                    for (&v, &w) in &level.nbrs[u] {
                        let c = node2com[v];
                        if !acc.contains_key(&c) {
                            w2c.push((c, 0.0));
                        }
                        *acc.entry(c).or_insert(0.0) += w;
                    }
                    for e in &mut w2c {
                        e.1 = acc[&e.0];
                    }
                    w2c.sort_by_key(|e| e.0);
                }
                let (ko, ki) = (level.k_out[u], level.k_in[u]);
                s_out[best_com] -= ko;
                s_in[best_com] -= ki;
                let w_own = w2c.iter().find(|e| e.0 == best_com).map_or(0.0, |e| e.1);
                let cost = |c: usize, s_out: &[f64], s_in: &[f64]| {
                    if directed {
                        resolution * (ko * s_in[c] + ki * s_out[c]) / (m * m)
                    } else {
                        resolution * s_out[c] * ko / (2.0 * m * m)
                    }
                };
                let remove = -w_own / m + cost(best_com, &s_out, &s_in);
                for &(c, w) in &w2c {
                    let gain = remove + w / m - cost(c, &s_out, &s_in);
                    if gain > best {
                        best = gain;
                        best_com = c;
                    }
                }
                s_out[best_com] += ko;
                s_in[best_com] += ki;
                if best_com != node2com[u] {
                    node2com[u] = best_com;
                    improvement = true;
                    moves += 1;
                }
            }
        }
        if !improvement {
            break;
        }
        compact(&mut node2com);
        for l in labels.iter_mut() {
            *l = node2com[*l];
        }
        let new_q = modularity(view, &labels, resolution);
        if new_q - modq <= threshold {
            modq = new_q;
            break;
        }
        modq = new_q;
        let k = node2com.iter().max().map_or(0, |x| x + 1);
        let mut agg: HashMap<(usize, usize), f64> = HashMap::new();
        let mut keys = Vec::new();
        for &(u, v, w) in &level.edges {
            let (mut a, mut b) = (node2com[u], node2com[v]);
            if !directed && a > b {
                std::mem::swap(&mut a, &mut b);
            }
            let e = agg.entry((a, b)).or_insert_with(|| {
                keys.push((a, b));
                0.0
            });
            *e += w;
        }
        let edges = keys
            .into_iter()
            .map(|key| (key.0, key.1, agg[&key]))
            .collect();
        level = Level::new(k, edges, directed);
    }
    compact(&mut labels);
    (labels, modq)
}

/// Asynchronous label propagation (seeded): labels per node.
pub fn label_propagation(view: &View<'_>, weighted: bool, seed: u64) -> Vec<usize> {
    let n = view.n();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut labels: Vec<usize> = (0..n).collect();
    let mut order: Vec<usize> = (0..n).collect();
    let mut changed = true;
    let mut rounds = 0;
    while changed && rounds < 10_000 {
        changed = false;
        rounds += 1;
        order.shuffle(&mut rng);
        for &u in &order {
            if view.out[u].is_empty() {
                continue;
            }
            let mut freq: Vec<(usize, f64)> = Vec::new();
            for &(v, w) in &view.out[u] {
                let add = if weighted { w } else { 1.0 };
                match freq.iter_mut().find(|e| e.0 == labels[v]) {
                    Some(e) => e.1 += add,
                    None => freq.push((labels[v], add)),
                }
            }
            let max = freq.iter().map(|e| e.1).fold(f64::NEG_INFINITY, f64::max);
            let best: Vec<usize> = freq.iter().filter(|e| e.1 == max).map(|e| e.0).collect();
            if !best.contains(&labels[u]) {
                labels[u] = *best.choose(&mut rng).expect("non-empty");
                changed = true;
            }
        }
    }
    compact(&mut labels);
    labels
}

/// Clauset–Newman–Moore greedy modularity: labels per node.
pub fn greedy_modularity(view: &View<'_>, resolution: f64) -> Vec<usize> {
    let n = view.n();
    let m: f64 = view.edges.iter().map(|e| e.2).sum();
    let mut labels: Vec<usize> = (0..n).collect();
    if m == 0.0 {
        return labels;
    }
    let directed = view.directed;
    // Community graph: w[c][d] = weight from c to d (both directions stored).
    let mut w: Vec<HashMap<usize, f64>> = vec![HashMap::new(); n];
    let mut k_out = vec![0.0; n];
    let mut k_in = vec![0.0; n];
    for &(u, v, wt) in &view.edges {
        if u != v {
            *w[u].entry(v).or_insert(0.0) += wt;
            *w[v].entry(u).or_insert(0.0) += wt;
        }
        if directed {
            k_out[u] += wt;
            k_in[v] += wt;
        } else {
            k_out[u] += wt;
            k_out[v] += wt;
        }
    }
    if !directed {
        k_in.clone_from(&k_out);
    }
    let mut alive = vec![true; n];
    let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    loop {
        let mut best: Option<(f64, usize, usize)> = None;
        for c in 0..n {
            if !alive[c] {
                continue;
            }
            for (&d, &wcd) in &w[c] {
                if d <= c {
                    continue;
                }
                let dq = if directed {
                    wcd / m - resolution * (k_out[c] * k_in[d] + k_out[d] * k_in[c]) / (m * m)
                } else {
                    wcd / m - resolution * k_out[c] * k_out[d] / (2.0 * m * m)
                };
                if best.is_none_or(|b| dq > b.0 || (dq == b.0 && (c, d) < (b.1, b.2))) {
                    best = Some((dq, c, d));
                }
            }
        }
        match best {
            Some((dq, c, d)) if dq > 0.0 => {
                // Merge d into c.
                alive[d] = false;
                let wd = std::mem::take(&mut w[d]);
                for (e, x) in wd {
                    w[e].remove(&d);
                    if e != c {
                        *w[c].entry(e).or_insert(0.0) += x;
                        *w[e].entry(c).or_insert(0.0) += x;
                    }
                }
                w[c].remove(&d);
                k_out[c] += k_out[d];
                k_in[c] += k_in[d];
                let md = std::mem::take(&mut members[d]);
                members[c].extend(md);
            }
            _ => break,
        }
    }
    for (c, ms) in members.iter().enumerate() {
        for &i in ms {
            labels[i] = c;
        }
    }
    compact(&mut labels);
    labels
}

/// Run a community method by name (`louvain`, `label_propagation`,
/// `greedy_modularity`): `(communities, modularity)`.
pub fn detect(
    g: &Graph,
    method: &str,
    weight: Option<&str>,
    resolution: f64,
    seed: u64,
) -> Result<(Vec<Vec<NodeId>>, f64), GraphError> {
    if !(resolution.is_finite() && resolution > 0.0) {
        return Err(GraphError::invalid(
            "resolution",
            "must be a finite number > 0",
        ));
    }
    let view = g.view(weight)?;
    if view.edges.iter().any(|e| e.2 < 0.0) {
        return Err(GraphError::invalid(
            "weight",
            "community detection needs non-negative weights",
        ));
    }
    let labels = match method {
        "louvain" => louvain(&view, resolution, 1e-7, seed).0,
        "label_propagation" => label_propagation(&view, weight.is_some(), seed),
        "greedy_modularity" => greedy_modularity(&view, resolution),
        other => {
            return Err(GraphError::invalid(
                "method",
                format!("{other:?} is not one of louvain, label_propagation, greedy_modularity"),
            ));
        }
    };
    let q = modularity(&view, &labels, resolution);
    Ok((groups(&view, &labels), q))
}
