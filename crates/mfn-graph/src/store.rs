//! Tenant-scoped graph persistence (GRAPH.md "Persistence").
//!
//! [`GraphStore`] is the seam: [`RedbStore`] is the embedded ACID store (one redb file
//! under the data directory), [`MemoryStore`] the transient one of the CLI and tests, and
//! `RedisStore` (feature `redis`, module `redis`) the shared one of replicas behind a
//! balancer.
//!
//! - **Durable before return**: `put` and `delete` commit a redb write transaction with
//!   the default `Durability::Immediate` (fsync) before they return, so an acknowledged
//!   mutation survives `kill -9`.
//! - **Tenants**: every key is `(tenant, name)`; a graph of another tenant is simply not
//!   found. Each tenant may store [`Limits::max_graphs_per_tenant`] graphs and
//!   [`Limits::max_tenant_bytes`] bytes of them (the stored encoding; in memory, the
//!   graphs' estimated size); a `put` over either is refused and stores nothing.
//! - **Cache**: loaded graphs are kept in memory (`Arc<Graph>`, with the compact
//!   adjacency the algorithms build on them) under a byte budget, least recently used
//!   evicted first. The database is the source of truth, so eviction only drops a copy:
//!   the next `get` reloads it. A graph larger than the budget is served without being
//!   cached. redb's own page cache is sized from the same setting (a quarter of it,
//!   between [`MIN_DB_CACHE`] and [`MAX_DB_CACHE`]) instead of redb's default 1 GiB.
//! - **Format** (version 3): a header row per graph (`format_version`, name,
//!   direction, graph attributes, chunk counts) and the nodes and edges as chunks of at
//!   most about [`CHUNK_BYTES`] of compact JSON records — a node is `id` or
//!   `[id, {attrs}]`, an edge `[u, v]` or `[u, v, {attrs}]` — written one chunk at a time
//!   in the same transaction, so the memory of a write is one chunk, not the graph's
//!   encoding, and a read decodes chunk by chunk (checking cancellation between them).
//!   A summary row per graph keeps `list` from loading graphs and records the stored
//!   bytes. Versions 1 and 2 (one node-link JSON value per graph; version 1 without
//!   graph attributes) are still read.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::tools::{Control, NoControl};
use crate::{Attrs, Graph, GraphError, Limits, NodeId, io};

#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "redis")]
pub use self::redis::RedisStore;

/// Version of the stored value format written now (see the module doc for history).
pub const FORMAT_VERSION: u32 = 3;

/// Oldest stored value format still read.
pub const MIN_FORMAT_VERSION: u32 = 1;

/// Target size of one stored chunk of nodes or edges.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Smallest page cache given to redb.
pub const MIN_DB_CACHE: usize = 512 << 10;

/// Largest page cache given to redb.
pub const MAX_DB_CACHE: usize = 64 << 20;

const GRAPHS: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new("graphs");
const SUMMARIES: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new("summaries");
const CHUNKS: TableDefinition<'_, (&str, &str, u32), &[u8]> = TableDefinition::new("chunks");

/// What `list` and `get_info` report about a graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GraphInfo {
    /// Graph name.
    pub name: String,
    /// Directed?
    pub directed: bool,
    /// Nodes.
    pub num_nodes: usize,
    /// Edges.
    pub num_edges: usize,
}

impl GraphInfo {
    /// Summary of `g`.
    pub fn of(g: &Graph) -> GraphInfo {
        GraphInfo {
            name: g.name().to_owned(),
            directed: g.is_directed(),
            num_nodes: g.num_nodes(),
            num_edges: g.num_edges(),
        }
    }
}

/// A tenant-scoped store of named graphs. Mutations are durable before they return.
pub trait GraphStore: Send + Sync + std::fmt::Debug {
    /// The graph, or [`GraphError::GraphNotFound`].
    fn get(&self, tenant: &str, name: &str) -> Result<Arc<Graph>, GraphError> {
        self.get_ctl(tenant, name, &NoControl)
    }
    /// [`GraphStore::get`], checking `ctl` while a graph is loaded from disk.
    fn get_ctl(
        &self,
        tenant: &str,
        name: &str,
        ctl: &dyn Control,
    ) -> Result<Arc<Graph>, GraphError>;
    /// Store `graph` under its name; with `overwrite = false` an existing graph is
    /// [`GraphError::GraphExists`]. Checks `max_graphs_per_tenant` for new names and
    /// `max_tenant_bytes` always.
    fn put(&self, tenant: &str, graph: Graph, overwrite: bool) -> Result<(), GraphError>;
    /// Delete; [`GraphError::GraphNotFound`] when absent.
    fn delete(&self, tenant: &str, name: &str) -> Result<(), GraphError>;
    /// The tenant's graphs, by name.
    fn list(&self, tenant: &str) -> Result<Vec<GraphInfo>, GraphError>;
    /// Every tenant's graphs, by tenant then name (for an `admin` key).
    fn list_all(&self) -> Result<Vec<(String, GraphInfo)>, GraphError>;
    /// Read, change and store a graph as one step: concurrent updates of the same graph
    /// are applied one after the other, so neither is lost. `change` gets the stored
    /// graph and returns the new one (its name must not change); nothing is stored when
    /// it fails. A shared store calls `change` again, on the newer graph, when another
    /// replica changed the tenant's graphs first.
    fn update(
        &self,
        tenant: &str,
        name: &str,
        change: &mut dyn FnMut(&Graph) -> Result<Graph, GraphError>,
    ) -> Result<(), GraphError>;
    /// Bytes the tenant stores now (what [`Limits::max_tenant_bytes`] bounds).
    fn stored_bytes(&self, tenant: &str) -> Result<u64, GraphError>;
    /// The limits this store enforces.
    fn limits(&self) -> &Limits;
}

/// Read, change, store under `writer`, so updates of one store apply one after the
/// other (for redb, which runs one write transaction at a time anyway, holding the
/// writer across the read as well makes read-change-write atomic).
fn locked_update(
    store: &dyn GraphStore,
    writer: &Mutex<()>,
    tenant: &str,
    name: &str,
    change: &mut dyn FnMut(&Graph) -> Result<Graph, GraphError>,
) -> Result<(), GraphError> {
    let _writer = writer.lock().expect("lock");
    let new = change(&*store.get(tenant, name)?)?;
    debug_assert_eq!(new.name(), name);
    store.put(tenant, new, true)
}

fn check_tenant(tenant: &str) -> Result<(), GraphError> {
    if tenant.is_empty() || tenant.len() > 200 || tenant.contains('\0') {
        return Err(GraphError::invalid(
            "tenant",
            "must be 1..=200 bytes without NUL",
        ));
    }
    Ok(())
}

fn not_found(name: &str) -> GraphError {
    GraphError::GraphNotFound {
        name: name.to_owned(),
    }
}

/// `Err(LimitExceeded)` when a tenant's stored bytes would pass the quota.
fn check_quota(total: u64, limits: &Limits) -> Result<(), GraphError> {
    if total > limits.max_tenant_bytes as u64 {
        return Err(GraphError::LimitExceeded {
            what: "tenant bytes".into(),
            value: total,
            limit: "max_tenant_bytes",
            max: limits.max_tenant_bytes as u64,
        });
    }
    Ok(())
}

/// One tenant's graphs in a [`MemoryStore`]: name → (graph, estimated bytes).
type TenantGraphs = NameMap<(Arc<Graph>, u64)>;

/// In-memory store (CLI, tests). Not durable. A graph's stored bytes are its estimated
/// size ([`Graph::approx_bytes`]).
#[derive(Debug, Default)]
pub struct MemoryStore {
    /// tenant → name → (graph, bytes).
    graphs: Mutex<NameMap<TenantGraphs>>,
    writer: Mutex<()>,
    limits: Limits,
}

impl MemoryStore {
    /// An empty store with `limits`.
    pub fn new(limits: Limits) -> MemoryStore {
        MemoryStore {
            graphs: Mutex::default(),
            writer: Mutex::default(),
            limits,
        }
    }
}

impl GraphStore for MemoryStore {
    fn get_ctl(&self, tenant: &str, name: &str, _: &dyn Control) -> Result<Arc<Graph>, GraphError> {
        let g = self.graphs.lock().expect("lock");
        g.get(tenant)
            .and_then(|t| t.get(name))
            .map(|e| e.0.clone())
            .ok_or_else(|| not_found(name))
    }

    fn put(&self, tenant: &str, graph: Graph, overwrite: bool) -> Result<(), GraphError> {
        check_tenant(tenant)?;
        graph.check_limits(&self.limits)?;
        let bytes = graph.approx_bytes() as u64;
        let mut all = self.graphs.lock().expect("lock");
        let graphs = all.entry(tenant.to_owned()).or_default();
        let old = match graphs.get(graph.name()) {
            Some(_) if !overwrite => {
                return Err(GraphError::GraphExists {
                    name: graph.name().to_owned(),
                });
            }
            Some(e) => e.1,
            None => {
                GraphError::check_limit(
                    "graphs",
                    graphs.len() + 1,
                    "max_graphs_per_tenant",
                    self.limits.max_graphs_per_tenant,
                )?;
                0
            }
        };
        let total: u64 = graphs.values().map(|e| e.1).sum();
        check_quota(total - old + bytes, &self.limits)?;
        graphs.insert(graph.name().to_owned(), (Arc::new(graph), bytes));
        Ok(())
    }

    fn delete(&self, tenant: &str, name: &str) -> Result<(), GraphError> {
        let mut g = self.graphs.lock().expect("lock");
        g.get_mut(tenant)
            .and_then(|t| t.remove(name))
            .map(|_| ())
            .ok_or_else(|| not_found(name))
    }

    fn list(&self, tenant: &str) -> Result<Vec<GraphInfo>, GraphError> {
        let g = self.graphs.lock().expect("lock");
        let mut out: Vec<GraphInfo> = g
            .get(tenant)
            .map(|t| t.values().map(|e| GraphInfo::of(&e.0)).collect())
            .unwrap_or_default();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn list_all(&self) -> Result<Vec<(String, GraphInfo)>, GraphError> {
        let g = self.graphs.lock().expect("lock");
        let mut out: Vec<(String, GraphInfo)> = g
            .iter()
            .flat_map(|(t, gs)| gs.values().map(|e| (t.clone(), GraphInfo::of(&e.0))))
            .collect();
        out.sort_by(|a, b| (&a.0, &a.1.name).cmp(&(&b.0, &b.1.name)));
        Ok(out)
    }

    fn update(
        &self,
        tenant: &str,
        name: &str,
        change: &mut dyn FnMut(&Graph) -> Result<Graph, GraphError>,
    ) -> Result<(), GraphError> {
        locked_update(self, &self.writer, tenant, name, change)
    }

    fn stored_bytes(&self, tenant: &str) -> Result<u64, GraphError> {
        let g = self.graphs.lock().expect("lock");
        Ok(g.get(tenant).map_or(0, |t| t.values().map(|e| e.1).sum()))
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// FNV-1a, for the short keys (tenant, graph name) of the in-memory maps: a lookup per
/// tool call, where SipHash would cost more than the rest of the lookup. Names are
/// bounded (`^[A-Za-z0-9_.-]{1,100}$`) and a tenant holds at most
/// `max_graphs_per_tenant` graphs, so crafted collisions cannot cost much. (The tool
/// index uses it too: fixed keys.)
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A map keyed by tenant or graph name.
type NameMap<V> = HashMap<String, V, std::hash::BuildHasherDefault<Fnv>>;

/// Memory cache of loaded graphs under a byte budget (LRU): tenant → name →
/// (graph, size, last use, generation). The generation is the shared store's version of
/// the graph ([`RedisStore`]); the embedded store, the only writer of its file, uses 0.
#[derive(Debug, Default)]
struct Cache {
    budget: usize,
    used: usize,
    tick: u64,
    entries: NameMap<NameMap<Slot>>,
}

/// A cached graph: (graph, size, last use, generation).
type Slot = (Arc<Graph>, usize, u64, u64);

impl Cache {
    fn get(&mut self, tenant: &str, name: &str) -> Option<Arc<Graph>> {
        self.get_gen(tenant, name).map(|e| e.0)
    }

    /// The cached graph and its generation.
    fn get_gen(&mut self, tenant: &str, name: &str) -> Option<(Arc<Graph>, u64)> {
        self.tick += 1;
        let tick = self.tick;
        self.entries
            .get_mut(tenant)
            .and_then(|t| t.get_mut(name))
            .map(|e| {
                e.2 = tick;
                (e.0.clone(), e.3)
            })
    }

    fn contains(&self, tenant: &str, name: &str) -> bool {
        self.entries
            .get(tenant)
            .is_some_and(|t| t.contains_key(name))
    }

    fn insert(&mut self, tenant: &str, name: &str, g: Arc<Graph>) {
        self.insert_gen(tenant, name, g, 0);
    }

    fn insert_gen(&mut self, tenant: &str, name: &str, g: Arc<Graph>, generation: u64) {
        self.remove(tenant, name);
        let size = g.approx_bytes();
        if size > self.budget {
            return;
        }
        while self.used + size > self.budget {
            let oldest = self
                .entries
                .iter()
                .flat_map(|(t, gs)| gs.iter().map(move |(n, e)| (e.2, t, n)))
                .min_by_key(|e| e.0)
                .map(|(_, t, n)| (t.clone(), n.clone()));
            match oldest {
                Some((t, n)) => self.remove(&t, &n),
                None => break,
            }
        }
        self.tick += 1;
        self.used += size;
        self.entries
            .entry(tenant.to_owned())
            .or_default()
            .insert(name.to_owned(), (g, size, self.tick, generation));
    }

    fn remove(&mut self, tenant: &str, name: &str) {
        if let Some(t) = self.entries.get_mut(tenant)
            && let Some((_, size, _, _)) = t.remove(name)
        {
            self.used -= size;
            if t.is_empty() {
                self.entries.remove(tenant);
            }
        }
    }
}

/// The embedded ACID store: a redb database plus a memory cache.
pub struct RedbStore {
    db: Database,
    cache: Mutex<Cache>,
    writer: Mutex<()>,
    limits: Limits,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

fn store_err(e: impl std::fmt::Display) -> GraphError {
    GraphError::Store(e.to_string())
}

/// A version 1 or 2 value: the whole graph as one node-link document (written by the
/// tests, read through [`Header`]).
#[cfg(test)]
#[derive(Serialize, Deserialize)]
struct Stored {
    format_version: u32,
    graph: serde_json::Value,
}

/// The header row of a graph (version 3), or of an older value (`graph` set).
#[derive(Serialize, Deserialize)]
struct Header {
    format_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    graph: Option<serde_json::Value>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    directed: bool,
    #[serde(default)]
    attrs: Attrs,
    #[serde(default)]
    node_chunks: u32,
    #[serde(default)]
    edge_chunks: u32,
}

/// The summary row: what `list` shows, and the bytes stored (absent before version 3).
#[derive(Serialize, Deserialize)]
struct Summary {
    #[serde(flatten)]
    info: GraphInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
}

/// A stored node: `id` or `[id, attrs]`.
struct NodeRec<'g>(&'g NodeId, &'g Attrs);

impl Serialize for NodeRec<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.1.is_empty() {
            self.0.serialize(s)
        } else {
            (self.0, self.1).serialize(s)
        }
    }
}

/// A stored edge: `[u, v]` or `[u, v, attrs]`.
struct EdgeRec<'g>(&'g NodeId, &'g NodeId, &'g Attrs);

impl Serialize for EdgeRec<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.2.is_empty() {
            (self.0, self.1).serialize(s)
        } else {
            (self.0, self.1, self.2).serialize(s)
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NodeIn {
    Id(NodeId),
    WithAttrs(NodeId, Attrs),
}

#[derive(Deserialize)]
struct EdgeIn(NodeId, NodeId, #[serde(default)] Attrs);

/// Write `records` as JSON arrays of at most about [`CHUNK_BYTES`], calling `sink` with
/// each finished chunk; returns the number of chunks.
fn write_chunks<T: Serialize>(
    records: impl Iterator<Item = T>,
    buf: &mut Vec<u8>,
    sink: &mut dyn FnMut(&[u8]) -> Result<(), GraphError>,
) -> Result<u32, GraphError> {
    let mut chunks = 0;
    buf.clear();
    for r in records {
        buf.push(if buf.is_empty() { b'[' } else { b',' });
        serde_json::to_writer(&mut *buf, &r).map_err(store_err)?;
        if buf.len() >= CHUNK_BYTES {
            buf.push(b']');
            sink(buf)?;
            buf.clear();
            chunks += 1;
        }
    }
    if !buf.is_empty() {
        buf.push(b']');
        sink(buf)?;
        buf.clear();
        chunks += 1;
    }
    Ok(chunks)
}

/// Receives each encoded chunk with its index.
type ChunkSink<'a> = dyn FnMut(u32, &[u8]) -> Result<(), GraphError> + 'a;

/// A change of a stored graph, as [`GraphStore::update`] takes it.
pub type Change<'a> = dyn FnMut(&Graph) -> Result<Graph, GraphError> + 'a;

/// Encode `graph` in the current format: its nodes then its edges as chunks, each handed
/// to `sink` with its index as soon as it is full; returns the header row.
fn encode(graph: &Graph, sink: &mut ChunkSink<'_>) -> Result<Header, GraphError> {
    let mut index = 0u32;
    let mut buf = Vec::with_capacity(CHUNK_BYTES + 4096);
    let mut numbered = |bytes: &[u8]| {
        sink(index, bytes)?;
        index += 1;
        Ok(())
    };
    let node_chunks = write_chunks(
        graph.nodes().map(|(id, a)| NodeRec(id, a)),
        &mut buf,
        &mut numbered,
    )?;
    let edge_chunks = write_chunks(
        graph.edges().map(|(u, v, a)| EdgeRec(u, v, a)),
        &mut buf,
        &mut numbered,
    )?;
    Ok(Header {
        format_version: FORMAT_VERSION,
        graph: None,
        name: graph.name().to_owned(),
        directed: graph.is_directed(),
        attrs: graph.attrs().clone(),
        node_chunks,
        edge_chunks,
    })
}

/// Add the records of one stored chunk (nodes or edges) to `g`.
fn add_chunk(g: &mut Graph, chunk: &[u8], nodes: bool) -> Result<(), GraphError> {
    if nodes {
        let nodes: Vec<NodeIn> = serde_json::from_slice(chunk).map_err(store_err)?;
        for n in nodes {
            match n {
                NodeIn::Id(id) => g.add_node(id, Attrs::new()),
                NodeIn::WithAttrs(id, a) => g.add_node(id, a),
            }
        }
    } else {
        let edges: Vec<EdgeIn> = serde_json::from_slice(chunk).map_err(store_err)?;
        for EdgeIn(u, v, a) in edges {
            g.add_edge(u, v, a);
        }
    }
    Ok(())
}

impl RedbStore {
    /// Open (or create) `graphs.redb` under `data_dir` with a cache of `cache_bytes` for
    /// loaded graphs; redb's page cache gets a quarter of that, clamped to
    /// [`MIN_DB_CACHE`]..=[`MAX_DB_CACHE`].
    pub fn open(
        data_dir: &Path,
        cache_bytes: usize,
        limits: Limits,
    ) -> Result<RedbStore, GraphError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| store_err(format!("data dir {}: {e}", data_dir.display())))?;
        let db = redb::Builder::new()
            .set_cache_size(Self::db_cache_bytes(cache_bytes))
            .create(data_dir.join("graphs.redb"))
            .map_err(store_err)?;
        let tx = db.begin_write().map_err(store_err)?;
        tx.open_table(GRAPHS).map_err(store_err)?;
        tx.open_table(SUMMARIES).map_err(store_err)?;
        tx.open_table(CHUNKS).map_err(store_err)?;
        tx.commit().map_err(store_err)?;
        Ok(RedbStore {
            db,
            cache: Mutex::new(Cache {
                budget: cache_bytes,
                ..Cache::default()
            }),
            writer: Mutex::default(),
            limits,
        })
    }

    /// redb's page cache for a graph cache of `cache_bytes`.
    pub fn db_cache_bytes(cache_bytes: usize) -> usize {
        (cache_bytes / 4).clamp(MIN_DB_CACHE, MAX_DB_CACHE)
    }

    /// Bytes of graphs held in the memory cache now.
    pub fn cached_bytes(&self) -> usize {
        self.cache.lock().expect("lock").used
    }

    /// Whether the graph is in the memory cache now.
    pub fn is_cached(&self, tenant: &str, name: &str) -> bool {
        self.cache.lock().expect("lock").contains(tenant, name)
    }

    fn load(
        &self,
        tenant: &str,
        name: &str,
        ctl: &dyn Control,
    ) -> Result<Option<Graph>, GraphError> {
        let tx = self.db.begin_read().map_err(store_err)?;
        let table = tx.open_table(GRAPHS).map_err(store_err)?;
        let Some(bytes) = table.get((tenant, name)).map_err(store_err)? else {
            return Ok(None);
        };
        let header: Header = serde_json::from_slice(bytes.value()).map_err(store_err)?;
        drop(bytes);
        if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&header.format_version) {
            return Err(store_err(format!(
                "graph {name:?}: format_version {} is not in {MIN_FORMAT_VERSION}..={FORMAT_VERSION}",
                header.format_version
            )));
        }
        let unlimited = Limits {
            max_nodes: usize::MAX,
            max_edges: usize::MAX,
            max_call_bytes: usize::MAX,
            ..Limits::default()
        };
        if let Some(doc) = &header.graph {
            let mut g = io::node_link_to_graph(doc, name, &unlimited)?;
            if header.format_version == 1 {
                // Version 1 wrote only the name in `graph`: no graph attributes.
                g.attrs_mut().clear();
            }
            return Ok(Some(g));
        }
        let node_chunks = header.node_chunks;
        let total = node_chunks + header.edge_chunks;
        let mut g = Graph::new(name, header.directed)?;
        *g.attrs_mut() = header.attrs;
        let chunks = tx.open_table(CHUNKS).map_err(store_err)?;
        for k in 0..total {
            ctl.check()?;
            let chunk = chunks
                .get((tenant, name, k))
                .map_err(store_err)?
                .ok_or_else(|| store_err(format!("graph {name:?}: chunk {k} is missing")))?;
            add_chunk(&mut g, chunk.value(), k < node_chunks)?;
        }
        Ok(Some(g))
    }

    /// The bytes a summary row says a graph stores, or for rows written before version
    /// 3, the length of its value.
    fn bytes_of(
        graphs: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
        tenant: &str,
        summary: &Summary,
    ) -> Result<u64, GraphError> {
        if let Some(b) = summary.bytes {
            return Ok(b);
        }
        Ok(graphs
            .get((tenant, summary.info.name.as_str()))
            .map_err(store_err)?
            .map_or(0, |v| v.value().len() as u64))
    }
}

impl GraphStore for RedbStore {
    fn get_ctl(
        &self,
        tenant: &str,
        name: &str,
        ctl: &dyn Control,
    ) -> Result<Arc<Graph>, GraphError> {
        if let Some(g) = self.cache.lock().expect("lock").get(tenant, name) {
            return Ok(g);
        }
        let g = Arc::new(
            self.load(tenant, name, ctl)?
                .ok_or_else(|| not_found(name))?,
        );
        self.cache
            .lock()
            .expect("lock")
            .insert(tenant, name, g.clone());
        Ok(g)
    }

    fn put(&self, tenant: &str, graph: Graph, overwrite: bool) -> Result<(), GraphError> {
        check_tenant(tenant)?;
        graph.check_limits(&self.limits)?;
        let name = graph.name().to_owned();
        let tx = self.db.begin_write().map_err(store_err)?;
        {
            let mut sums = tx.open_table(SUMMARIES).map_err(store_err)?;
            let mut graphs = tx.open_table(GRAPHS).map_err(store_err)?;
            let mut chunks = tx.open_table(CHUNKS).map_err(store_err)?;
            // The tenant's graphs: count and stored bytes, without this one.
            let (mut count, mut others, mut exists) = (0usize, 0u64, false);
            for row in sums.range((tenant, "")..).map_err(store_err)? {
                let (k, v) = row.map_err(store_err)?;
                if k.value().0 != tenant {
                    break;
                }
                let s: Summary = serde_json::from_slice(v.value()).map_err(store_err)?;
                if s.info.name == name {
                    exists = true;
                    continue;
                }
                count += 1;
                others += Self::bytes_of(&graphs, tenant, &s)?;
            }
            if exists && !overwrite {
                return Err(GraphError::GraphExists { name });
            }
            if !exists {
                GraphError::check_limit(
                    "graphs",
                    count + 1,
                    "max_graphs_per_tenant",
                    self.limits.max_graphs_per_tenant,
                )?;
            }
            let key = (tenant, name.as_str());
            chunks
                .retain_in(
                    (tenant, name.as_str(), 0)..=(tenant, name.as_str(), u32::MAX),
                    |_, _| false,
                )
                .map_err(store_err)?;
            // Chunks go into the table as they are encoded: one chunk in memory at a time.
            let mut stored = others;
            let limits = &self.limits;
            let header = encode(&graph, &mut |index, bytes| {
                stored += bytes.len() as u64;
                check_quota(stored, limits)?;
                chunks
                    .insert((tenant, name.as_str(), index), bytes)
                    .map_err(store_err)?;
                Ok(())
            })?;
            let header = serde_json::to_vec(&header).map_err(store_err)?;
            stored += header.len() as u64;
            check_quota(stored, limits)?;
            graphs.insert(key, header.as_slice()).map_err(store_err)?;
            let summary = serde_json::to_vec(&Summary {
                info: GraphInfo::of(&graph),
                bytes: Some(stored - others),
            })
            .map_err(store_err)?;
            sums.insert(key, summary.as_slice()).map_err(store_err)?;
        }
        tx.commit().map_err(store_err)?;
        self.cache
            .lock()
            .expect("lock")
            .insert(tenant, &name, Arc::new(graph));
        Ok(())
    }

    fn delete(&self, tenant: &str, name: &str) -> Result<(), GraphError> {
        let tx = self.db.begin_write().map_err(store_err)?;
        let existed = {
            let mut sums = tx.open_table(SUMMARIES).map_err(store_err)?;
            let mut graphs = tx.open_table(GRAPHS).map_err(store_err)?;
            let mut chunks = tx.open_table(CHUNKS).map_err(store_err)?;
            let a = sums.remove((tenant, name)).map_err(store_err)?.is_some();
            let b = graphs.remove((tenant, name)).map_err(store_err)?.is_some();
            chunks
                .retain_in((tenant, name, 0)..=(tenant, name, u32::MAX), |_, _| false)
                .map_err(store_err)?;
            a || b
        };
        if !existed {
            return Err(not_found(name));
        }
        tx.commit().map_err(store_err)?;
        self.cache.lock().expect("lock").remove(tenant, name);
        Ok(())
    }

    fn list(&self, tenant: &str) -> Result<Vec<GraphInfo>, GraphError> {
        let tx = self.db.begin_read().map_err(store_err)?;
        let sums = tx.open_table(SUMMARIES).map_err(store_err)?;
        let mut out = Vec::new();
        for row in sums.range((tenant, "")..).map_err(store_err)? {
            let (k, v) = row.map_err(store_err)?;
            if k.value().0 != tenant {
                break;
            }
            let s: Summary = serde_json::from_slice(v.value()).map_err(store_err)?;
            out.push(s.info);
        }
        Ok(out)
    }

    fn list_all(&self) -> Result<Vec<(String, GraphInfo)>, GraphError> {
        let tx = self.db.begin_read().map_err(store_err)?;
        let sums = tx.open_table(SUMMARIES).map_err(store_err)?;
        let mut out = Vec::new();
        for row in sums.iter().map_err(store_err)? {
            let (k, v) = row.map_err(store_err)?;
            let tenant = k.value().0.to_owned();
            let s: Summary = serde_json::from_slice(v.value()).map_err(store_err)?;
            out.push((tenant, s.info));
        }
        Ok(out)
    }

    fn update(
        &self,
        tenant: &str,
        name: &str,
        change: &mut dyn FnMut(&Graph) -> Result<Graph, GraphError>,
    ) -> Result<(), GraphError> {
        locked_update(self, &self.writer, tenant, name, change)
    }

    fn stored_bytes(&self, tenant: &str) -> Result<u64, GraphError> {
        let tx = self.db.begin_read().map_err(store_err)?;
        let sums = tx.open_table(SUMMARIES).map_err(store_err)?;
        let graphs = tx.open_table(GRAPHS).map_err(store_err)?;
        let mut total = 0;
        for row in sums.range((tenant, "")..).map_err(store_err)? {
            let (k, v) = row.map_err(store_err)?;
            if k.value().0 != tenant {
                break;
            }
            let s: Summary = serde_json::from_slice(v.value()).map_err(store_err)?;
            total += Self::bytes_of(&graphs, tenant, &s)?;
        }
        Ok(total)
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generators;

    #[test]
    fn survives_reopen_and_isolates_tenants() {
        let dir = tempfile::tempdir().unwrap();
        let karate = generators::karate_club("karate").unwrap();
        {
            let store = RedbStore::open(dir.path(), 1 << 20, Limits::default()).unwrap();
            store.put("alice", karate.clone(), false).unwrap();
            assert!(matches!(
                store.put("alice", karate.clone(), false),
                Err(GraphError::GraphExists { .. })
            ));
        }
        let store = RedbStore::open(dir.path(), 1 << 20, Limits::default()).unwrap();
        assert_eq!(*store.get("alice", "karate").unwrap(), karate);
        assert!(matches!(
            store.get("bob", "karate"),
            Err(GraphError::GraphNotFound { .. })
        ));
        assert!(store.list("bob").unwrap().is_empty());
        assert!(matches!(
            store.delete("bob", "karate"),
            Err(GraphError::GraphNotFound { .. })
        ));
        assert_eq!(store.list("alice").unwrap(), vec![GraphInfo::of(&karate)]);
        store.delete("alice", "karate").unwrap();
        assert!(store.get("alice", "karate").is_err());
        drop(store);
        let store = RedbStore::open(dir.path(), 1 << 20, Limits::default()).unwrap();
        assert!(store.list("alice").unwrap().is_empty());
        assert_eq!(store.stored_bytes("alice").unwrap(), 0);
    }

    #[test]
    fn a_graph_of_many_chunks_comes_back_intact_and_overwrite_drops_old_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = generators::complete("k", 700).unwrap(); // 244 650 edges, several chunks
        let first: Vec<(NodeId, NodeId)> = g
            .edges()
            .take(1000)
            .map(|(u, v, _)| (u.clone(), v.clone()))
            .collect();
        for (i, (u, v)) in first.iter().enumerate() {
            g.edge_attrs_mut(u, v)
                .unwrap()
                .insert("w".into(), (i as f64 / 7.0).into());
        }
        g.add_node(NodeId::Str("lonely".into()), Attrs::new());
        g.node_attrs_mut(&0.into())
            .unwrap()
            .insert("label".into(), "zero".into());
        let store = RedbStore::open(dir.path(), 0, Limits::default()).unwrap();
        store.put("t", g.clone(), false).unwrap();
        let bytes = store.stored_bytes("t").unwrap();
        assert!(bytes > 2 * CHUNK_BYTES as u64, "{bytes}");
        assert_eq!(
            *store.get("t", "k").unwrap(),
            g,
            "not cached: read back from disk"
        );
        // Overwritten by a small graph: the old chunks go.
        store
            .put("t", generators::path("k", 3).unwrap(), true)
            .unwrap();
        assert_eq!(
            *store.get("t", "k").unwrap(),
            generators::path("k", 3).unwrap()
        );
        assert!(store.stored_bytes("t").unwrap() < 1000);
        let tx = store.db.begin_read().unwrap();
        let chunks = tx.open_table(CHUNKS).unwrap();
        assert_eq!(
            chunks.iter().unwrap().count(),
            2,
            "one node chunk, one edge chunk"
        );
    }

    #[test]
    fn evicted_graph_comes_back_intact() {
        let dir = tempfile::tempdir().unwrap();
        let a = generators::grid_2d("a", 20, 20, &Limits::default()).unwrap();
        let b = generators::grid_2d("b", 20, 20, &Limits::default()).unwrap();
        // Room for one of them only.
        let budget = a.approx_bytes() + a.approx_bytes() / 2;
        let store = RedbStore::open(dir.path(), budget, Limits::default()).unwrap();
        store.put("t", a.clone(), false).unwrap();
        assert!(store.is_cached("t", "a"));
        store.put("t", b.clone(), false).unwrap();
        assert!(!store.is_cached("t", "a"), "a was evicted");
        assert!(store.cached_bytes() <= budget);
        assert_eq!(*store.get("t", "a").unwrap(), a);
        assert!(store.is_cached("t", "a"));
        assert_eq!(*store.get("t", "b").unwrap(), b);
        // Larger than the whole budget: served, never cached.
        let tiny = RedbStore::open(&dir.path().join("tiny"), 10, Limits::default()).unwrap();
        tiny.put("t", a.clone(), false).unwrap();
        assert!(!tiny.is_cached("t", "a"));
        assert_eq!(*tiny.get("t", "a").unwrap(), a);
    }

    #[test]
    fn older_formats_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = generators::path("p", 4).unwrap();
        g.attrs_mut().insert("pixel_um".into(), 2.5.into());
        g.attrs_mut()
            .insert("source".into(), serde_json::json!({"image": "a.png"}));
        {
            let store = RedbStore::open(dir.path(), 1 << 20, Limits::default()).unwrap();
            store.put("t", g.clone(), false).unwrap();
            // Version 1 and 2 values, as earlier releases wrote them.
            let old = generators::path("old", 3).unwrap();
            let mut v1 = io::node_link(&old);
            v1["graph"] = serde_json::json!({"name": "old"});
            let mut two = generators::path("two", 3).unwrap();
            two.attrs_mut().insert("units".into(), "um".into());
            let tx = store.db.begin_write().unwrap();
            {
                let mut t = tx.open_table(GRAPHS).unwrap();
                let mut s = tx.open_table(SUMMARIES).unwrap();
                for (name, version, doc, info) in [
                    ("old", 1, v1, GraphInfo::of(&old)),
                    ("two", 2, io::node_link(&two), GraphInfo::of(&two)),
                ] {
                    let value = serde_json::to_vec(&Stored {
                        format_version: version,
                        graph: doc,
                    })
                    .unwrap();
                    t.insert(("t", name), value.as_slice()).unwrap();
                    // Summaries without `bytes`, as before version 3.
                    let summary = serde_json::to_vec(&info).unwrap();
                    s.insert(("t", name), summary.as_slice()).unwrap();
                }
                // A version from the future is refused, naming the versions read.
                let mut future = serde_json::to_value(Stored {
                    format_version: 99,
                    graph: io::node_link(&old),
                })
                .unwrap();
                future["graph"]["graph"]["name"] = "future".into();
                let bytes = serde_json::to_vec(&future).unwrap();
                t.insert(("t", "future"), bytes.as_slice()).unwrap();
            }
            tx.commit().unwrap();
        }
        let store = RedbStore::open(dir.path(), 1 << 20, Limits::default()).unwrap();
        let back = store.get("t", "p").unwrap();
        assert_eq!(*back, g);
        assert_eq!(back.attrs()["pixel_um"], 2.5);
        let old = store.get("t", "old").unwrap();
        assert_eq!(*old, generators::path("old", 3).unwrap());
        assert!(old.attrs().is_empty());
        assert_eq!(store.get("t", "two").unwrap().attrs()["units"], "um");
        let err = store.get("t", "future").unwrap_err();
        assert!(err.to_string().contains("format_version 99"), "{err}");
        // Old rows count in the quota by the length of their value.
        assert!(store.stored_bytes("t").unwrap() > 100);
        // The attributes count in the cache budget.
        assert!(g.approx_bytes() > generators::path("p", 4).unwrap().approx_bytes());
    }

    #[test]
    fn graphs_per_tenant_limit() {
        let limits = Limits {
            max_graphs_per_tenant: 1,
            ..Limits::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path(), 1 << 20, limits).unwrap();
        store
            .put("t", generators::path("p1", 3).unwrap(), false)
            .unwrap();
        let err = store
            .put("t", generators::path("p2", 3).unwrap(), false)
            .unwrap_err();
        assert!(
            err.to_string().contains("max_graphs_per_tenant = 1"),
            "{err}"
        );
        store
            .put("u", generators::path("p2", 3).unwrap(), false)
            .unwrap();
    }

    #[test]
    fn tenant_bytes_quota_refuses_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let big = generators::complete("big", 300).unwrap();
        let small = generators::path("small", 10).unwrap();
        let probe = RedbStore::open(&dir.path().join("probe"), 0, Limits::default()).unwrap();
        probe.put("t", big.clone(), false).unwrap();
        let big_bytes = probe.stored_bytes("t").unwrap();
        let limits = Limits {
            max_tenant_bytes: big_bytes as usize + 50,
            ..Limits::default()
        };
        let mem = MemoryStore::new(Limits {
            max_tenant_bytes: big.approx_bytes() + 200,
            ..Limits::default()
        });
        let disk = RedbStore::open(dir.path(), 1 << 20, limits).unwrap();
        for store in [&disk as &dyn GraphStore, &mem] {
            store.put("t", big.clone(), false).unwrap();
            let err = store.put("t", small.clone(), false).unwrap_err();
            assert!(
                err.to_string().contains("exceeds max_tenant_bytes"),
                "{err}"
            );
            assert!(matches!(
                store.get("t", "small"),
                Err(GraphError::GraphNotFound { .. })
            ));
            // Another tenant has its own quota; replacing a graph counts its new size only.
            store.put("u", small.clone(), false).unwrap();
            store.put("t", big.clone(), true).unwrap();
            store.delete("t", "big").unwrap();
            store.put("t", small.clone(), false).unwrap();
        }
    }
}
