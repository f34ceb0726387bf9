//! Graph generators (NetworkX's definitions, seeded). Node ids are integers `0..n`.
//! Random generators draw from a ChaCha8 stream seeded with `seed`, so the same seed
//! gives the same graph on every platform (not the same graph as NetworkX's Mersenne
//! Twister).
//!
//! | name | NetworkX | graph |
//! |---|---|---|
//! | `erdos_renyi` | `gnp_random_graph(n, p)` | each pair (ordered when directed) with probability `p` |
//! | `barabasi_albert` | `barabasi_albert_graph(n, m)` | star on `m + 1` nodes, then each new node attaches to `m` distinct nodes chosen proportionally to degree |
//! | `watts_strogatz` | `watts_strogatz_graph(n, k, p)` | ring lattice, each node to its `k/2` nearest on each side, each edge rewired with probability `p` |
//! | `grid_2d` | `grid_2d_graph(rows, cols)` | node `r·cols + c` with attributes `row`, `col` |
//! | `complete`, `path`, `cycle` | same names | `n` nodes |
//! | `star` | `star_graph(n)` | hub `0` and `n` leaves |
//! | `karate_club` | `karate_club_graph()` | Zachary's 34 members, 78 edges, `weight` = interactions, node `club` |

use std::collections::HashSet;

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Attrs, Graph, GraphError, Limits, NodeId};

fn empty(name: &str, n: usize, directed: bool) -> Result<Graph, GraphError> {
    let mut g = Graph::new(name, directed)?;
    for i in 0..n {
        g.add_node(NodeId::Int(i as i64), Attrs::new());
    }
    Ok(g)
}

fn edge(g: &mut Graph, u: usize, v: usize) {
    g.add_edge(NodeId::Int(u as i64), NodeId::Int(v as i64), Attrs::new());
}

fn check(n: usize, edges: f64, limits: &Limits) -> Result<(), GraphError> {
    GraphError::check_limit("n", n, "max_nodes", limits.max_nodes)?;
    GraphError::check_limit(
        "edges",
        edges.min(u64::MAX as f64) as usize,
        "max_edges",
        limits.max_edges,
    )
}

fn check_p(field: &str, p: f64) -> Result<(), GraphError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(GraphError::invalid(field, "must be in [0, 1]"))
    }
}

/// `G(n, p)`.
pub fn erdos_renyi(
    name: &str,
    n: usize,
    p: f64,
    directed: bool,
    seed: u64,
    limits: &Limits,
) -> Result<Graph, GraphError> {
    check_p("p", p)?;
    let pairs = n as f64 * (n as f64 - 1.0) / if directed { 1.0 } else { 2.0 };
    check(n, pairs * p * 1.1 + 10.0, limits)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = empty(name, n, directed)?;
    for u in 0..n {
        let start = if directed { 0 } else { u + 1 };
        for v in start..n {
            if u != v && rng.random::<f64>() < p {
                edge(&mut g, u, v);
            }
        }
    }
    Ok(g)
}

/// Barabási–Albert preferential attachment, `1 <= m < n`.
pub fn barabasi_albert(
    name: &str,
    n: usize,
    m: usize,
    seed: u64,
    limits: &Limits,
) -> Result<Graph, GraphError> {
    if m < 1 || m >= n {
        return Err(GraphError::invalid(
            "m",
            format!("must be in [1, n) = [1, {n})"),
        ));
    }
    check(n, (m * n) as f64, limits)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = empty(name, n, false)?;
    let mut repeated: Vec<usize> = Vec::with_capacity(2 * m * n);
    for v in 1..=m {
        edge(&mut g, 0, v);
        repeated.extend([0, v]);
    }
    for src in (m + 1)..n {
        let mut targets = HashSet::with_capacity(m);
        while targets.len() < m {
            targets.insert(*repeated.choose(&mut rng).expect("non-empty"));
        }
        let mut targets: Vec<usize> = targets.into_iter().collect();
        targets.sort_unstable();
        for t in targets {
            edge(&mut g, src, t);
            repeated.extend([src, t]);
        }
    }
    Ok(g)
}

/// Watts–Strogatz small world: even `k < n`, rewiring probability `p`.
pub fn watts_strogatz(
    name: &str,
    n: usize,
    k: usize,
    p: f64,
    seed: u64,
    limits: &Limits,
) -> Result<Graph, GraphError> {
    check_p("p", p)?;
    if k >= n {
        return Err(GraphError::invalid("k", format!("must be < n ({n})")));
    }
    check(n, (n * k / 2) as f64, limits)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = empty(name, n, false)?;
    for j in 1..=k / 2 {
        for u in 0..n {
            edge(&mut g, u, (u + j) % n);
        }
    }
    for j in 1..=k / 2 {
        for u in 0..n {
            let v = (u + j) % n;
            if rng.random::<f64>() < p {
                let (iu, iv) = (NodeId::Int(u as i64), NodeId::Int(v as i64));
                // Degree n − 1: no free target.
                if (0..n)
                    .filter(|&w| w != u)
                    .all(|w| g.has_edge(&iu, &NodeId::Int(w as i64)))
                {
                    continue;
                }
                let w = loop {
                    let w = rng.random_range(0..n);
                    if w != u && !g.has_edge(&iu, &NodeId::Int(w as i64)) {
                        break w;
                    }
                };
                g.remove_edge(&iu, &iv);
                edge(&mut g, u, w);
            }
        }
    }
    Ok(g)
}

/// `rows × cols` grid; node `r·cols + c` carries `row` and `col`.
pub fn grid_2d(name: &str, rows: usize, cols: usize, limits: &Limits) -> Result<Graph, GraphError> {
    check(
        rows.saturating_mul(cols),
        2.0 * (rows * cols) as f64,
        limits,
    )?;
    let mut g = Graph::new(name, false)?;
    for r in 0..rows {
        for c in 0..cols {
            let mut a = Attrs::new();
            a.insert("row".into(), r.into());
            a.insert("col".into(), c.into());
            g.add_node(NodeId::Int((r * cols + c) as i64), a);
        }
    }
    for r in 0..rows {
        for c in 0..cols {
            let i = r * cols + c;
            if r + 1 < rows {
                edge(&mut g, i, i + cols);
            }
            if c + 1 < cols {
                edge(&mut g, i, i + 1);
            }
        }
    }
    Ok(g)
}

/// Complete graph `K_n`.
pub fn complete(name: &str, n: usize) -> Result<Graph, GraphError> {
    let mut g = empty(name, n, false)?;
    for u in 0..n {
        for v in u + 1..n {
            edge(&mut g, u, v);
        }
    }
    Ok(g)
}

/// Path `0 − 1 − … − (n−1)`.
pub fn path(name: &str, n: usize) -> Result<Graph, GraphError> {
    let mut g = empty(name, n, false)?;
    for u in 1..n {
        edge(&mut g, u - 1, u);
    }
    Ok(g)
}

/// Cycle on `n` nodes.
pub fn cycle(name: &str, n: usize) -> Result<Graph, GraphError> {
    let mut g = path(name, n)?;
    if n > 2 {
        edge(&mut g, n - 1, 0);
    }
    Ok(g)
}

/// Star: hub `0` and `n` leaves (`n + 1` nodes, as `nx.star_graph(n)`).
pub fn star(name: &str, n: usize) -> Result<Graph, GraphError> {
    let mut g = empty(name, n + 1, false)?;
    for v in 1..=n {
        edge(&mut g, 0, v);
    }
    Ok(g)
}

/// Zachary's karate club with NetworkX's `weight` and `club` attributes
/// (rustworkx-core's edge list, which is NetworkX's).
pub fn karate_club(name: &str) -> Result<Graph, GraphError> {
    let kg: petgraph::Graph<bool, usize, petgraph::Undirected> =
        rustworkx_core::generators::karate_club_graph(|hi| hi, |w| w);
    let mut g = Graph::new(name, false)?;
    for i in kg.node_indices() {
        let mut a = Attrs::new();
        let club = if kg[i] { "Mr. Hi" } else { "Officer" };
        a.insert("club".into(), club.into());
        g.add_node(NodeId::Int(i.index() as i64), a);
    }
    let mut edges: Vec<(usize, usize, usize)> = kg
        .raw_edges()
        .iter()
        .map(|e| {
            let (a, b) = (e.source().index(), e.target().index());
            (a.min(b), a.max(b), e.weight)
        })
        .collect();
    edges.sort_unstable();
    for (u, v, w) in edges {
        let mut a = Attrs::new();
        a.insert("weight".into(), w.into());
        g.add_edge(NodeId::Int(u as i64), NodeId::Int(v as i64), a);
    }
    Ok(g)
}

/// Generate by name from JSON-ish parameters (the `generate_graph` tool).
#[allow(clippy::too_many_arguments)]
pub fn generate(
    name: &str,
    kind: &str,
    n: Option<usize>,
    m: Option<usize>,
    k: Option<usize>,
    p: Option<f64>,
    rows_cols: (Option<usize>, Option<usize>),
    directed: bool,
    seed: u64,
    limits: &Limits,
) -> Result<Graph, GraphError> {
    let need = |v: Option<usize>, f: &str| {
        v.ok_or_else(|| GraphError::invalid(f, format!("required by {kind}")))
    };
    let needp =
        |v: Option<f64>| v.ok_or_else(|| GraphError::invalid("p", format!("required by {kind}")));
    let small = |n: usize| -> Result<usize, GraphError> {
        GraphError::check_limit("n", n, "max_nodes", limits.max_nodes)?;
        Ok(n)
    };
    match kind {
        "erdos_renyi" => erdos_renyi(name, need(n, "n")?, needp(p)?, directed, seed, limits),
        "barabasi_albert" => barabasi_albert(name, need(n, "n")?, need(m, "m")?, seed, limits),
        "watts_strogatz" => {
            watts_strogatz(name, need(n, "n")?, need(k, "k")?, needp(p)?, seed, limits)
        }
        "grid_2d" => grid_2d(
            name,
            need(rows_cols.0, "rows")?,
            need(rows_cols.1, "cols")?,
            limits,
        ),
        "complete" => {
            let n = small(need(n, "n")?)?;
            check(n, n as f64 * (n as f64 - 1.0) / 2.0, limits)?;
            complete(name, n)
        }
        "path" => path(name, small(need(n, "n")?)?),
        "cycle" => cycle(name, small(need(n, "n")?)?),
        "star" => star(name, small(need(n, "n")?)?),
        "karate_club" => karate_club(name),
        other => Err(GraphError::invalid(
            "kind",
            format!(
                "{other:?} is not one of erdos_renyi, barabasi_albert, watts_strogatz, grid_2d, complete, path, cycle, star, karate_club"
            ),
        )),
    }
}
