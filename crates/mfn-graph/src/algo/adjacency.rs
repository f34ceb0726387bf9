//! The compact adjacency kept beside a graph ([`crate::Graph::adjacency`]): built once
//! per version of the graph, dropped by any mutation, shared by every algorithm call on
//! the stored (immutable) graph.
//!
//! - Node `i` is the `i`-th node in insertion order.
//! - Out-rows (compressed sparse rows): `out.nbrs(i)` are `i`'s successors — both ends of
//!   an undirected edge, a self-loop once — in edge insertion order, which is the order
//!   of NetworkX's adjacency dicts for a graph built the same way. Each arc also carries
//!   its edge's index (`out.edges(i)`), so a weight is read only for the arcs an
//!   algorithm touches.
//! - In-rows for directed graphs (the out-rows otherwise).
//! - Node ids → indices: a table for integer ids in a compact range (no hashing), else
//!   the graph's own map.
//! - Arc weights for one attribute name (the last one asked for; `weight` in practice)
//!   are kept too; other names are read per call.

use std::sync::{Arc, Mutex};

use crate::{Graph, GraphError, NodeId};

/// Compressed sparse rows: `adj[off[i]..off[i + 1]]` are `i`'s neighbours, `eid` the
/// index of each arc's edge.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rows {
    /// Row offsets, `n + 1` entries.
    pub off: Vec<u32>,
    /// Neighbour indices.
    pub adj: Vec<u32>,
    /// Edge index of each arc.
    pub eid: Vec<u32>,
}

impl Rows {
    /// Neighbours of `i`.
    #[inline]
    pub fn nbrs(&self, i: usize) -> &[u32] {
        &self.adj[self.off[i] as usize..self.off[i + 1] as usize]
    }

    /// Edge indices of `i`'s arcs, aligned with [`Rows::nbrs`].
    #[inline]
    pub fn edges(&self, i: usize) -> &[u32] {
        &self.eid[self.off[i] as usize..self.off[i + 1] as usize]
    }

    /// Degree of `i` in these rows.
    #[inline]
    pub fn len(&self, i: usize) -> usize {
        (self.off[i + 1] - self.off[i]) as usize
    }

    /// Counting sort of `arcs` (edge `k` is `arcs[k]`) by tail; with `both`, each arc
    /// also goes the other way (self-loops once).
    fn from_arcs(n: usize, arcs: &[(u32, u32)], both: bool) -> Rows {
        let mut off = vec![0u32; n + 1];
        for &(u, v) in arcs {
            off[u as usize + 1] += 1;
            if both && u != v {
                off[v as usize + 1] += 1;
            }
        }
        for i in 0..n {
            off[i + 1] += off[i];
        }
        let total = off[n] as usize;
        let mut pos: Vec<u32> = off[..n].to_vec();
        let mut adj = vec![0u32; total];
        let mut eid = vec![0u32; total];
        for (k, &(u, v)) in arcs.iter().enumerate() {
            let p = pos[u as usize] as usize;
            adj[p] = v;
            eid[p] = k as u32;
            pos[u as usize] += 1;
            if both && u != v {
                let p = pos[v as usize] as usize;
                adj[p] = u;
                eid[p] = k as u32;
                pos[v as usize] += 1;
            }
        }
        Rows { off, adj, eid }
    }

    fn heap_bytes(&self) -> usize {
        4 * (self.off.capacity() + self.adj.capacity() + self.eid.capacity())
    }
}

/// Weights of every edge for one attribute name.
#[derive(Debug)]
pub(crate) struct EdgeWeights {
    /// The attribute.
    pub key: String,
    /// Weight of edge `k` (missing attribute = 1).
    pub w: Vec<f64>,
    /// Weight of each out-arc, aligned with the out-rows.
    pub out: Arc<[f64]>,
    /// Weight of each in-arc when directed.
    pub inc: Option<Arc<[f64]>>,
    /// Whether every weight is 1 (the unweighted algorithm gives the same result).
    pub all_one: bool,
    /// Whether some weight is negative.
    pub negative: bool,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Adjacency {
    /// Whether the graph is directed.
    pub directed: bool,
    /// Out-arcs (both directions when undirected).
    pub out: Rows,
    /// In-arcs when directed; empty when undirected (use [`Adjacency::inc`]).
    inc_rows: Rows,
    /// Edge `k` as `(u, v)` indices, in insertion order.
    pub ends: Vec<(u32, u32)>,
    /// `table[id - min]` for compact integer ids, else empty.
    table: Vec<u32>,
    min: i64,
    weights: Mutex<Option<Arc<EdgeWeights>>>,
}

impl Adjacency {
    /// Build from the graph.
    pub fn build(g: &Graph) -> Adjacency {
        let n = g.num_nodes();
        let (mut min, mut max, mut ints) = (i64::MAX, i64::MIN, true);
        for (id, _) in g.nodes() {
            match id {
                NodeId::Int(i) => {
                    min = min.min(*i);
                    max = max.max(*i);
                }
                NodeId::Str(_) => {
                    ints = false;
                    break;
                }
            }
        }
        let span = (max as i128) - (min as i128) + 1;
        let mut table = Vec::new();
        if ints && n > 0 && span <= (4 * n as i128 + 1024) {
            table = vec![u32::MAX; span as usize];
            for (k, (id, _)) in g.nodes().enumerate() {
                if let NodeId::Int(i) = id {
                    table[(i - min) as usize] = k as u32;
                }
            }
        }
        let mut adj = Adjacency {
            directed: g.is_directed(),
            out: Rows::default(),
            inc_rows: Rows::default(),
            ends: Vec::new(),
            table,
            min,
            weights: Mutex::new(None),
        };
        let ends: Vec<(u32, u32)> = g
            .edges()
            .map(|(u, v, _)| {
                let i = adj.index(g, u).expect("edge end is a node") as u32;
                let j = adj.index(g, v).expect("edge end is a node") as u32;
                (i, j)
            })
            .collect();
        adj.out = Rows::from_arcs(n, &ends, !adj.directed);
        if adj.directed {
            let rev: Vec<(u32, u32)> = ends.iter().map(|&(u, v)| (v, u)).collect();
            adj.inc_rows = Rows::from_arcs(n, &rev, false);
        }
        adj.ends = ends;
        adj
    }

    /// Number of nodes.
    #[inline]
    pub fn n(&self) -> usize {
        self.out.off.len() - 1
    }

    /// In-arcs (the out-arcs when undirected).
    #[inline]
    pub fn inc(&self) -> &Rows {
        if self.directed {
            &self.inc_rows
        } else {
            &self.out
        }
    }

    /// Index of a node id, or `None` when it is not a node of `g`.
    #[inline]
    pub fn index(&self, g: &Graph, id: &NodeId) -> Option<usize> {
        if !self.table.is_empty() {
            if let NodeId::Int(i) = id {
                let k = i.checked_sub(self.min)?;
                return match self.table.get(usize::try_from(k).ok()?) {
                    Some(&x) if x != u32::MAX => Some(x as usize),
                    _ => None,
                };
            }
            return None;
        }
        g.node_index(id)
    }

    /// The weights of every edge for attribute `key` (missing = 1; a non-numeric or NaN
    /// value is an error naming the edge); the last key asked for is kept.
    pub fn weights(&self, g: &Graph, key: &str) -> Result<Arc<EdgeWeights>, GraphError> {
        if let Some(w) = self.weights.lock().expect("lock").as_ref()
            && w.key == key
        {
            return Ok(w.clone());
        }
        let mut w = Vec::with_capacity(g.num_edges());
        let (mut all_one, mut negative) = (true, false);
        for (u, v, attrs) in g.edges() {
            match Graph::weight_of(attrs, key) {
                Some(x) if !x.is_nan() => {
                    all_one &= x == 1.0;
                    negative |= x < 0.0;
                    w.push(x);
                }
                _ => {
                    return Err(GraphError::invalid(
                        "weight",
                        format!("edge ({u}, {v}): attribute {key:?} is not a number"),
                    ));
                }
            }
        }
        let per_arc =
            |rows: &Rows| -> Arc<[f64]> { rows.eid.iter().map(|&e| w[e as usize]).collect() };
        let out = per_arc(&self.out);
        let inc = self.directed.then(|| per_arc(&self.inc_rows));
        let w = Arc::new(EdgeWeights {
            key: key.to_owned(),
            w,
            out,
            inc,
            all_one,
            negative,
        });
        *self.weights.lock().expect("lock") = Some(w.clone());
        Ok(w)
    }

    /// Heap bytes held (for tests of the size estimate).
    #[allow(dead_code)]
    pub fn heap_bytes(&self) -> usize {
        self.out.heap_bytes()
            + self.inc_rows.heap_bytes()
            + 8 * self.ends.capacity()
            + 4 * self.table.capacity()
    }
}
