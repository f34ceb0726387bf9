//! The algorithms' view of the compact adjacency kept beside a graph
//! ([`super::adjacency`]), plus the helpers they share: cooperative cancellation with
//! monotonic progress, and a deterministic parallel map over fixed chunks of sources.
//!
//! [`Csr::build`] borrows the graph's cached rows (built on the first call, then shared)
//! and, when a weight attribute is named, the arc weights for it (cached for the last
//! name asked). Node `i` is the `i`-th node in insertion order; each node's neighbours
//! keep the edge insertion order (an undirected edge `(u, v)` appears in `u`'s row and,
//! unless a self-loop, in `v`'s).

use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

use super::adjacency::{Adjacency, Rows};
use crate::tools::Control;
use crate::{Graph, GraphError};

/// One direction of arcs with their weights, if the view has weights.
#[derive(Debug, Clone)]
pub(crate) struct Arcs<'g> {
    rows: &'g Rows,
    w: Option<Arc<[f64]>>,
}

impl Arcs<'_> {
    /// Neighbours of `i`.
    #[inline]
    pub fn nbrs(&self, i: usize) -> &[u32] {
        self.rows.nbrs(i)
    }

    /// Weights of `i`'s arcs, aligned with [`Arcs::nbrs`] (the view must have weights).
    #[inline]
    pub fn weights(&self, i: usize) -> &[f64] {
        let w = self.w.as_deref().expect("a weighted view");
        &w[self.rows.off[i] as usize..self.rows.off[i + 1] as usize]
    }
}

/// The graph as flat rows; see the module documentation.
#[derive(Debug, Clone)]
pub(crate) struct Csr<'g> {
    /// The graph's cached adjacency.
    pub adj: &'g Adjacency,
    /// Whether the graph is directed.
    pub directed: bool,
    /// Out-arcs (both directions when undirected).
    pub out: Arcs<'g>,
    /// In-arcs (the out-arcs when undirected).
    inc: Arcs<'g>,
    /// Whether every weight is 1 (or no weight was asked for).
    pub all_one: bool,
}

impl<'g> Csr<'g> {
    /// The view of `g`. `weight`: the attribute to read (missing = 1, non-numeric or
    /// NaN = error naming the edge); `None` gives no weights.
    pub fn build(g: &'g Graph, weight: Option<&str>) -> Result<Csr<'g>, GraphError> {
        let adj = g.adjacency();
        let (ow, iw, all_one) = match weight {
            None => (None, None, true),
            Some(key) => {
                let w = adj.weights(g, key)?;
                (Some(w.out.clone()), w.inc.clone(), w.all_one)
            }
        };
        let inc_w = if adj.directed { iw } else { ow.clone() };
        Ok(Csr {
            adj,
            directed: adj.directed,
            out: Arcs {
                rows: &adj.out,
                w: ow,
            },
            inc: Arcs {
                rows: adj.inc(),
                w: inc_w,
            },
            all_one,
        })
    }

    /// Number of nodes.
    #[inline]
    pub fn n(&self) -> usize {
        self.adj.n()
    }

    /// In-arcs (the out-arcs when undirected).
    #[inline]
    pub fn inc(&self) -> &Arcs<'g> {
        &self.inc
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

    /// `Err(Cancelled)` when the caller is gone (an atomic load): for long units, such
    /// as a batch of searches, between their steps.
    pub fn check(&self) -> Result<(), GraphError> {
        self.ctl.check()
    }

    /// Unit `k` of a loop is done: `Err(Cancelled)` when the caller is gone, checked
    /// after every unit (an atomic load) so that a cancelled search stops within one
    /// source, not [`STEP`]; progress is reported every [`STEP`] units.
    pub fn tick(&self, k: usize) -> Result<(), GraphError> {
        if k % STEP == STEP - 1 {
            self.step(STEP)
        } else {
            self.ctl.check()
        }
    }
}

/// Units of work between two progress reports of a parallel loop.
pub(crate) const STEP: usize = 16;

/// Smallest chunk of sources of a parallel search loop: small graphs run on the
/// calling thread (dispatching to the pool costs more than their searches).
pub(crate) const MIN_SOURCES: usize = 64;

/// The pool the searches of one call fan out on, one thread per core, apart from the
/// caller's. In the server a call runs on a worker of the compute gate, itself a rayon
/// pool; fanning out on the gate's threads would let one long algorithm take every
/// worker (a rayon thread takes stolen chunks before newly queued jobs), and an
/// unrelated call would wait for it to finish. The caller waits here instead, and the
/// other workers stay free. `None` when the threads cannot be started: the caller's
/// pool is used.
fn search_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(std::thread::available_parallelism().map_or(1, |n| n.get()))
            .thread_name(|i| format!("mfn-graph-search-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

/// Split `items` into a fixed number of contiguous chunks (independent of the thread
/// count), run `f` on each in parallel on [`search_pool`] and return the results in
/// chunk order — so a reduction over them in order is bit-identical on any machine.
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
    let run = || items.par_chunks(size).map(&f).collect();
    match search_pool() {
        Some(pool) => pool.install(run),
        None => run(),
    }
}

/// Graphs of the shapes the batched searches must agree with one-source searches on:
/// small-world (ER, directed ER, BA, karate), a lattice, a star, and pieces (isolated
/// nodes and a path beside a sparse ER).
#[cfg(test)]
pub(crate) fn shapes() -> Vec<Graph> {
    use crate::{Limits, generators};
    let lim = Limits::default();
    let mut pieces = generators::erdos_renyi("pieces", 160, 0.008, false, 5, &lim).unwrap();
    for k in 0..6 {
        pieces.add_node((1000 + k).into(), Default::default());
    }
    pieces.add_edge(2000.into(), 2001.into(), Default::default());
    pieces.add_edge(2001.into(), 2002.into(), Default::default());
    vec![
        generators::erdos_renyi("er", 150, 0.04, false, 1, &lim).unwrap(),
        generators::erdos_renyi("di", 120, 0.03, true, 2, &lim).unwrap(),
        generators::barabasi_albert("ba", 300, 3, 3, &lim).unwrap(),
        generators::grid_2d("grid", 9, 11, &lim).unwrap(),
        generators::karate_club("k").unwrap(),
        generators::star("s", 20).unwrap(),
        pieces,
    ]
}
