//! Flat adjacency (compressed sparse rows) for the hot algorithms, plus the helpers
//! they share: cooperative cancellation with monotonic progress, and a deterministic
//! parallel map over fixed chunks of sources.
//!
//! [`Csr::build`] reads the stored [`Graph`] once: node `i` is the `i`-th node in
//! insertion order (as in [`crate::View`]); each node's neighbours keep the edge
//! insertion order of `View::out` (an undirected edge `(u, v)` appears in `u`'s row and,
//! unless a self-loop, in `v`'s). Integer node ids in a compact range are mapped to
//! indices through a table instead of hashing each edge end.

use std::sync::Mutex;

use rayon::prelude::*;

use crate::tools::Control;
use crate::{Graph, GraphError, NodeId};

/// Compressed sparse rows: `adj[off[i]..off[i + 1]]` are `i`'s neighbours.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rows {
    /// Row offsets, `n + 1` entries.
    pub off: Vec<u32>,
    /// Neighbour indices.
    pub adj: Vec<u32>,
    /// Weight of each arc (empty when the CSR was built without weights).
    pub w: Vec<f64>,
}

impl Rows {
    /// Neighbours of `i`.
    #[inline]
    pub fn nbrs(&self, i: usize) -> &[u32] {
        &self.adj[self.off[i] as usize..self.off[i + 1] as usize]
    }

    /// Weights of `i`'s arcs, aligned with [`Rows::nbrs`].
    #[inline]
    pub fn weights(&self, i: usize) -> &[f64] {
        &self.w[self.off[i] as usize..self.off[i + 1] as usize]
    }

    fn from_arcs(n: usize, arcs: &[(u32, u32)], w: Option<&[f64]>, both: bool) -> Rows {
        let mut deg = vec![0u32; n + 1];
        for &(u, v) in arcs {
            deg[u as usize] += 1;
            if both && u != v {
                deg[v as usize] += 1;
            }
        }
        let mut off = Vec::with_capacity(n + 1);
        let mut acc = 0u32;
        off.push(0);
        for d in &deg[..n] {
            acc += d;
            off.push(acc);
        }
        let total = acc as usize;
        let mut pos: Vec<u32> = off[..n].to_vec();
        let mut adj = vec![0u32; total];
        let mut wt = if w.is_some() {
            vec![0.0; total]
        } else {
            Vec::new()
        };
        for (k, &(u, v)) in arcs.iter().enumerate() {
            let p = pos[u as usize] as usize;
            adj[p] = v;
            pos[u as usize] += 1;
            if let Some(w) = w {
                wt[p] = w[k];
            }
            if both && u != v {
                let p = pos[v as usize] as usize;
                adj[p] = u;
                pos[v as usize] += 1;
                if let Some(w) = w {
                    wt[p] = w[k];
                }
            }
        }
        Rows { off, adj, w: wt }
    }
}

/// The graph as flat rows; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct Csr<'g> {
    /// Node ids by index.
    pub ids: Vec<&'g NodeId>,
    /// Whether the graph is directed.
    pub directed: bool,
    /// Out-arcs (both directions when undirected).
    pub out: Rows,
    /// In-arcs when directed; empty when undirected (use [`Csr::inc`]).
    inc_rows: Rows,
}

/// Map node ids to indices: a table for compact integer ids, else the graph's hash map.
pub(crate) struct IndexOf<'g> {
    g: &'g Graph,
    min: i64,
    table: Vec<u32>,
}

impl<'g> IndexOf<'g> {
    /// Build the mapping for `g`.
    pub fn new(g: &'g Graph) -> Self {
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
        IndexOf { g, min, table }
    }

    /// Index of a node of the graph.
    #[inline]
    pub fn get(&self, id: &NodeId) -> u32 {
        if !self.table.is_empty()
            && let NodeId::Int(i) = id
        {
            return self.table[(i - self.min) as usize];
        }
        self.g.node_index(id).expect("edge end is a node") as u32
    }
}

impl<'g> Csr<'g> {
    /// Build from the stored graph. `weight`: the attribute to read (missing = 1,
    /// non-numeric or NaN = error naming the edge); `None` builds no weights.
    pub fn build(g: &'g Graph, weight: Option<&str>) -> Result<Csr<'g>, GraphError> {
        Self::build_inner(g, weight, false)
    }

    /// As [`Csr::build`], but always with weights: every arc weighs 1 when `weight` is
    /// `None`.
    pub fn build_weighted(g: &'g Graph, weight: Option<&str>) -> Result<Csr<'g>, GraphError> {
        Self::build_inner(g, weight, true)
    }

    fn build_inner(g: &'g Graph, weight: Option<&str>, ones: bool) -> Result<Csr<'g>, GraphError> {
        let n = g.num_nodes();
        let index = IndexOf::new(g);
        let m = g.num_edges();
        let mut edges = Vec::with_capacity(m);
        let mut edge_w = Vec::with_capacity(if weight.is_some() { m } else { 0 });
        for (u, v, attrs) in g.edges() {
            if let Some(key) = weight {
                match Graph::weight_of(attrs, key) {
                    Some(w) if !w.is_nan() => edge_w.push(w),
                    _ => {
                        return Err(GraphError::invalid(
                            "weight",
                            format!("edge ({u}, {v}): attribute {key:?} is not a number"),
                        ));
                    }
                }
            }
            edges.push((index.get(u), index.get(v)));
        }
        if weight.is_none() && ones {
            edge_w = vec![1.0; m];
        }
        let directed = g.is_directed();
        let w = (weight.is_some() || ones).then_some(edge_w.as_slice());
        let out = Rows::from_arcs(n, &edges, w, !directed);
        let inc_rows = if directed {
            let rev: Vec<(u32, u32)> = edges.iter().map(|&(u, v)| (v, u)).collect();
            Rows::from_arcs(n, &rev, w, false)
        } else {
            Rows::default()
        };
        Ok(Csr {
            ids: g.nodes().map(|(k, _)| k).collect(),
            directed,
            out,
            inc_rows,
        })
    }

    /// Number of nodes.
    pub fn n(&self) -> usize {
        self.ids.len()
    }

    /// In-arcs (the out-arcs when undirected).
    pub fn inc(&self) -> &Rows {
        if self.directed {
            &self.inc_rows
        } else {
            &self.out
        }
    }
}

/// Progress over `total` units shared by worker threads: each [`Progress::step`]
/// reports the running count under a lock, so the caller sees `done` strictly
/// increasing and ending at `total`, and returns `Cancelled` once the caller is gone.
pub(crate) struct Progress<'c> {
    ctl: &'c dyn Control,
    total: u64,
    done: Mutex<u64>,
}

impl<'c> Progress<'c> {
    /// Progress of `total` units reported to `ctl`.
    pub fn new(ctl: &'c dyn Control, total: usize) -> Self {
        Progress {
            ctl,
            total: total as u64,
            done: Mutex::new(0),
        }
    }

    /// `k` more units are done; `Err(Cancelled)` when the caller is gone.
    pub fn step(&self, k: usize) -> Result<(), GraphError> {
        let mut d = self.done.lock().unwrap_or_else(|e| e.into_inner());
        *d += k as u64;
        self.ctl.checkpoint(*d, self.total)
    }
}

/// Units of work between two progress reports of a parallel loop.
pub(crate) const STEP: usize = 16;

/// Smallest chunk of sources of a parallel search loop: small graphs run on the
/// calling thread (dispatching to the pool costs more than their searches).
pub(crate) const MIN_SOURCES: usize = 64;

/// Split `items` into a fixed number of contiguous chunks (independent of the thread
/// count), run `f` on each in parallel and return the results in chunk order — so a
/// reduction over them in order is bit-identical on any machine.
pub(crate) fn par_chunks<T, R, F>(items: &[T], min_chunk: usize, f: F) -> Result<Vec<R>, GraphError>
where
    T: Sync,
    R: Send,
    F: Fn(&[T]) -> Result<R, GraphError> + Sync,
{
    const CHUNKS: usize = 64;
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let size = items.len().div_ceil(CHUNKS).max(min_chunk.max(1));
    if size >= items.len() {
        // One chunk: run it here, without waking the thread pool.
        return Ok(vec![f(items)?]);
    }
    items.par_chunks(size).map(&f).collect()
}
