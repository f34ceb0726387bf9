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

use crate::limits::ATTR_BYTES;
use crate::tools::{Control, NoControl};
use crate::{Attrs, Graph, GraphError, Limits, NodeId};

fn empty(name: &str, n: usize, directed: bool, ctl: &dyn Control) -> Result<Graph, GraphError> {
    let mut g = Graph::new(name, directed)?;
    for i in 0..n {
        if i.is_multiple_of(CHECK_EVERY) {
            ctl.check()?;
        }
        g.add_node(NodeId::Int(i as i64), Attrs::new());
    }
    Ok(g)
}

fn edge(g: &mut Graph, u: usize, v: usize) {
    g.add_edge(NodeId::Int(u as i64), NodeId::Int(v as i64), Attrs::new());
}

/// Operations between two cancellation checks of a generator loop.
const CHECK_EVERY: usize = 1 << 16;

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
    erdos_renyi_ctl(name, n, p, directed, seed, limits, &NoControl)
}

fn erdos_renyi_ctl(
    name: &str,
    n: usize,
    p: f64,
    directed: bool,
    seed: u64,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<Graph, GraphError> {
    check_p("p", p)?;
    let pairs = n as f64 * (n as f64 - 1.0) / if directed { 1.0 } else { 2.0 };
    check(n, pairs * p * 1.1 + 10.0, limits)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = empty(name, n, directed, ctl)?;
    for u in 0..n {
        // One row is at most n draws: check between rows.
        ctl.check()?;
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
    barabasi_albert_ctl(name, n, m, seed, limits, &NoControl)
}

fn barabasi_albert_ctl(
    name: &str,
    n: usize,
    m: usize,
    seed: u64,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<Graph, GraphError> {
    if m < 1 || m >= n {
        return Err(GraphError::invalid(
            "m",
            format!("must be in [1, n) = [1, {n})"),
        ));
    }
    check(n, (m * n) as f64, limits)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = empty(name, n, false, ctl)?;
    let mut repeated: Vec<usize> = Vec::with_capacity(2 * m * n);
    for v in 1..=m {
        edge(&mut g, 0, v);
        repeated.extend([0, v]);
    }
    for src in (m + 1)..n {
        if src.is_multiple_of((CHECK_EVERY / m).max(1)) {
            ctl.check()?;
        }
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
    watts_strogatz_ctl(name, n, k, p, seed, limits, &NoControl)
}

fn watts_strogatz_ctl(
    name: &str,
    n: usize,
    k: usize,
    p: f64,
    seed: u64,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<Graph, GraphError> {
    check_p("p", p)?;
    if k >= n {
        return Err(GraphError::invalid("k", format!("must be < n ({n})")));
    }
    check(n, (n * k / 2) as f64, limits)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = empty(name, n, false, ctl)?;
    // Degrees kept by hand: "no free target" is a degree test, not a scan of all nodes.
    let mut deg = vec![0usize; n];
    for j in 1..=k / 2 {
        ctl.check()?;
        for u in 0..n {
            let v = (u + j) % n;
            if !g.has_edge(&NodeId::Int(u as i64), &NodeId::Int(v as i64)) {
                deg[u] += 1;
                deg[v] += 1;
            }
            edge(&mut g, u, v);
        }
    }
    for j in 1..=k / 2 {
        for u in 0..n {
            if u.is_multiple_of(CHECK_EVERY) {
                ctl.check()?;
            }
            let v = (u + j) % n;
            if rng.random::<f64>() < p {
                let (iu, iv) = (NodeId::Int(u as i64), NodeId::Int(v as i64));
                // Degree n − 1: no free target.
                if deg[u] >= n - 1 {
                    continue;
                }
                let w = loop {
                    let w = rng.random_range(0..n);
                    if w != u && !g.has_edge(&iu, &NodeId::Int(w as i64)) {
                        break w;
                    }
                };
                if g.remove_edge(&iu, &iv) {
                    deg[v] -= 1;
                    deg[u] -= 1;
                }
                edge(&mut g, u, w);
                deg[u] += 1;
                deg[w] += 1;
            }
        }
    }
    Ok(g)
}

/// `rows × cols` grid; node `r·cols + c` carries `row` and `col`.
pub fn grid_2d(name: &str, rows: usize, cols: usize, limits: &Limits) -> Result<Graph, GraphError> {
    grid_2d_ctl(name, rows, cols, limits, &NoControl)
}

fn grid_2d_ctl(
    name: &str,
    rows: usize,
    cols: usize,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<Graph, GraphError> {
    check(
        rows.saturating_mul(cols),
        2.0 * rows as f64 * cols as f64,
        limits,
    )?;
    let mut g = Graph::new(name, false)?;
    for r in 0..rows {
        ctl.check()?;
        for c in 0..cols {
            let mut a = Attrs::new();
            a.insert("row".into(), r.into());
            a.insert("col".into(), c.into());
            g.add_node(NodeId::Int((r * cols + c) as i64), a);
        }
    }
    for r in 0..rows {
        ctl.check()?;
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
    complete_ctl(name, n, &NoControl)
}

fn complete_ctl(name: &str, n: usize, ctl: &dyn Control) -> Result<Graph, GraphError> {
    let mut g = empty(name, n, false, ctl)?;
    for u in 0..n {
        ctl.check()?;
        for v in u + 1..n {
            edge(&mut g, u, v);
        }
    }
    Ok(g)
}

/// Path `0 − 1 − … − (n−1)`.
pub fn path(name: &str, n: usize) -> Result<Graph, GraphError> {
    path_ctl(name, n, &NoControl)
}

fn path_ctl(name: &str, n: usize, ctl: &dyn Control) -> Result<Graph, GraphError> {
    let mut g = empty(name, n, false, ctl)?;
    for u in 1..n {
        if u.is_multiple_of(CHECK_EVERY) {
            ctl.check()?;
        }
        edge(&mut g, u - 1, u);
    }
    Ok(g)
}

/// Cycle on `n` nodes.
pub fn cycle(name: &str, n: usize) -> Result<Graph, GraphError> {
    cycle_ctl(name, n, &NoControl)
}

fn cycle_ctl(name: &str, n: usize, ctl: &dyn Control) -> Result<Graph, GraphError> {
    let mut g = path_ctl(name, n, ctl)?;
    if n > 2 {
        edge(&mut g, n - 1, 0);
    }
    Ok(g)
}

/// Star: hub `0` and `n` leaves (`n + 1` nodes, as `nx.star_graph(n)`).
pub fn star(name: &str, n: usize) -> Result<Graph, GraphError> {
    star_ctl(name, n, &NoControl)
}

fn star_ctl(name: &str, n: usize, ctl: &dyn Control) -> Result<Graph, GraphError> {
    let mut g = empty(name, n + 1, false, ctl)?;
    for v in 1..=n {
        if v.is_multiple_of(CHECK_EVERY) {
            ctl.check()?;
        }
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

/// A generator family (`generate_graph`'s `kind`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `G(n, p)`; needs `n`, `p`; `directed` optional.
    ErdosRenyi,
    /// Preferential attachment; needs `n`, `m`.
    BarabasiAlbert,
    /// Small world; needs `n`, `k`, `p`.
    WattsStrogatz,
    /// `rows × cols` lattice; needs `rows`, `cols`.
    #[serde(rename = "grid_2d")]
    Grid2d,
    /// `K_n`; needs `n`.
    Complete,
    /// Path on `n` nodes.
    Path,
    /// Cycle on `n` nodes.
    Cycle,
    /// Hub and `n` leaves.
    Star,
    /// Zachary's karate club (no parameters).
    KarateClub,
}

impl Kind {
    /// The name in `generate_graph`'s `kind`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::ErdosRenyi => "erdos_renyi",
            Kind::BarabasiAlbert => "barabasi_albert",
            Kind::WattsStrogatz => "watts_strogatz",
            Kind::Grid2d => "grid_2d",
            Kind::Complete => "complete",
            Kind::Path => "path",
            Kind::Cycle => "cycle",
            Kind::Star => "star",
            Kind::KarateClub => "karate_club",
        }
    }
}

/// Parameters of [`generate`]: the family and the arguments it reads (the others are
/// ignored).
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
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
    pub directed: bool,
    /// Random seed.
    pub seed: u64,
}

impl Params {
    /// Parameters of `kind` with every argument absent, undirected, seed 0.
    pub fn new(kind: Kind) -> Params {
        Params {
            kind,
            n: None,
            m: None,
            k: None,
            p: None,
            rows: None,
            cols: None,
            directed: false,
            seed: 0,
        }
    }
}

/// Generate a graph of family `params.kind` (the `generate_graph` tool).
///
/// ```
/// use mfn_graph::generators::{generate, Kind, Params};
/// let g = generate("s", &Params { n: Some(5), ..Params::new(Kind::Star) }, &Default::default()).unwrap();
/// assert_eq!((g.num_nodes(), g.num_edges()), (6, 5));
/// ```
pub fn generate(name: &str, params: &Params, limits: &Limits) -> Result<Graph, GraphError> {
    generate_ctl(name, params, limits, &NoControl)
}

/// [`generate`], checking `ctl` while it works.
pub fn generate_ctl(
    name: &str,
    params: &Params,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<Graph, GraphError> {
    let kind = params.kind.name();
    let need = |v: Option<usize>, f: &str| {
        v.ok_or_else(|| GraphError::invalid(f, format!("required by {kind}")))
    };
    let needp =
        |v: Option<f64>| v.ok_or_else(|| GraphError::invalid("p", format!("required by {kind}")));
    let (nodes, edges, field) = size(params)?;
    GraphError::check_limit(
        if field == "n" { "n" } else { "nodes" },
        usize::try_from(nodes).unwrap_or(usize::MAX),
        "max_nodes",
        limits.max_nodes,
    )?;
    check(0, edges as f64, limits)?;
    // The graph, plus two attributes per node of a grid.
    let attrs = if params.kind == Kind::Grid2d {
        2 * ATTR_BYTES
    } else {
        0
    };
    limits.budget(
        field,
        Limits::graph_bytes(nodes, edges).saturating_add(nodes.saturating_mul(attrs)),
    )?;
    let p = params;
    match p.kind {
        Kind::ErdosRenyi => erdos_renyi_ctl(
            name,
            need(p.n, "n")?,
            needp(p.p)?,
            p.directed,
            p.seed,
            limits,
            ctl,
        ),
        Kind::BarabasiAlbert => {
            barabasi_albert_ctl(name, need(p.n, "n")?, need(p.m, "m")?, p.seed, limits, ctl)
        }
        Kind::WattsStrogatz => watts_strogatz_ctl(
            name,
            need(p.n, "n")?,
            need(p.k, "k")?,
            needp(p.p)?,
            p.seed,
            limits,
            ctl,
        ),
        Kind::Grid2d => grid_2d_ctl(
            name,
            need(p.rows, "rows")?,
            need(p.cols, "cols")?,
            limits,
            ctl,
        ),
        Kind::Complete => complete_ctl(name, need(p.n, "n")?, ctl),
        Kind::Path => path_ctl(name, need(p.n, "n")?, ctl),
        Kind::Cycle => cycle_ctl(name, need(p.n, "n")?, ctl),
        Kind::Star => star_ctl(name, need(p.n, "n")?, ctl),
        Kind::KarateClub => karate_club(name),
    }
}

/// The size a generator will make, known before it runs: `(nodes, edges, field)` with
/// `edges` exact or an upper bound (Erdős–Rényi: the mean plus six standard
/// deviations), and `field` the argument that sets the size. Missing arguments are
/// errors naming them.
///
/// ```
/// use mfn_graph::generators::{size, Kind, Params};
/// let k = Params { n: Some(4400), ..Params::new(Kind::Complete) };
/// assert_eq!(size(&k).unwrap(), (4400, 4400 * 4399 / 2, "n"));
/// ```
pub fn size(params: &Params) -> Result<(u64, u64, &'static str), GraphError> {
    let kind = params.kind.name();
    let need = |v: Option<usize>, f: &str| {
        v.map(|v| v as u64)
            .ok_or_else(|| GraphError::invalid(f, format!("required by {kind}")))
    };
    Ok(match params.kind {
        Kind::ErdosRenyi => {
            let n = need(params.n, "n")?;
            let p = params
                .p
                .ok_or_else(|| GraphError::invalid("p", format!("required by {kind}")))?;
            check_p("p", p)?;
            let pairs = n as f64 * (n as f64 - 1.0) / if params.directed { 1.0 } else { 2.0 };
            let mean = pairs * p;
            let bound = mean + 6.0 * (mean * (1.0 - p)).max(0.0).sqrt() + 16.0;
            (n, bound.min(pairs).max(0.0) as u64, "n")
        }
        Kind::BarabasiAlbert => {
            let (n, m) = (need(params.n, "n")?, need(params.m, "m")?);
            (n, n.saturating_mul(m), "n")
        }
        Kind::WattsStrogatz => {
            let (n, k) = (need(params.n, "n")?, need(params.k, "k")?);
            (n, n.saturating_mul(k / 2), "n")
        }
        Kind::Grid2d => {
            let (r, c) = (need(params.rows, "rows")?, need(params.cols, "cols")?);
            let nodes = r.saturating_mul(c);
            (nodes, nodes.saturating_mul(2), "rows")
        }
        Kind::Complete => {
            let n = need(params.n, "n")?;
            (n, n.saturating_mul(n.saturating_sub(1)) / 2, "n")
        }
        Kind::Path => {
            let n = need(params.n, "n")?;
            (n, n.saturating_sub(1), "n")
        }
        Kind::Cycle | Kind::Star => {
            let n = need(params.n, "n")?;
            (n + u64::from(params.kind == Kind::Star), n, "n")
        }
        Kind::KarateClub => (34, 78, "kind"),
    })
}
