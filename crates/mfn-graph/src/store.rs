//! Tenant-scoped graph persistence (GRAPH.md "Persistence").
//!
//! [`GraphStore`] is the seam: [`RedbStore`] is the embedded ACID store (one redb file
//! under the data directory), [`MemoryStore`] the transient one of the CLI and tests; a
//! shared server store (PostgreSQL) can implement the same trait later.
//!
//! - **Durable before return**: `put` and `delete` commit a redb write transaction with
//!   the default `Durability::Immediate` (fsync) before they return, so an acknowledged
//!   mutation survives `kill -9`.
//! - **Tenants**: every key is `(tenant, name)`; a graph of another tenant is simply not
//!   found.
//! - **Cache**: loaded graphs are kept in memory (`Arc<Graph>`) under a byte budget, least
//!   recently used evicted first. The database is the source of truth, so eviction only
//!   drops a copy: the next `get` reloads it. A graph larger than the budget is served
//!   without being cached.
//! - **Format**: each value is JSON `{"format_version": 2, "graph": <node-link>}`; a
//!   summary row per graph keeps `list` from loading graphs. Version 2 adds the graph
//!   attributes ([`Graph::attrs`]) in the node-link `graph` object; version 1 values
//!   (whose `graph` object held only the name) are still read, with no attributes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Graph, GraphError, Limits, io};

/// Version of the stored value format written now (see the module doc for history).
pub const FORMAT_VERSION: u32 = 2;

/// Oldest stored value format still read.
pub const MIN_FORMAT_VERSION: u32 = 1;

const GRAPHS: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new("graphs");
const SUMMARIES: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new("summaries");

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
    fn get(&self, tenant: &str, name: &str) -> Result<Arc<Graph>, GraphError>;
    /// Store `graph` under its name; with `overwrite = false` an existing graph is
    /// [`GraphError::GraphExists`]. Checks `max_graphs_per_tenant` for new names.
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
    /// it fails.
    fn update(
        &self,
        tenant: &str,
        name: &str,
        change: &mut dyn FnMut(&Graph) -> Result<Graph, GraphError>,
    ) -> Result<(), GraphError>;
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

/// In-memory store (CLI, tests). Not durable.
#[derive(Debug, Default)]
pub struct MemoryStore {
    graphs: Mutex<HashMap<(String, String), Arc<Graph>>>,
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
    fn get(&self, tenant: &str, name: &str) -> Result<Arc<Graph>, GraphError> {
        let g = self.graphs.lock().expect("lock");
        g.get(&(tenant.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| not_found(name))
    }

    fn put(&self, tenant: &str, graph: Graph, overwrite: bool) -> Result<(), GraphError> {
        check_tenant(tenant)?;
        graph.check_limits(&self.limits)?;
        let mut g = self.graphs.lock().expect("lock");
        let key = (tenant.to_owned(), graph.name().to_owned());
        if g.contains_key(&key) {
            if !overwrite {
                return Err(GraphError::GraphExists { name: key.1 });
            }
        } else {
            let count = g.keys().filter(|k| k.0 == tenant).count();
            GraphError::check_limit(
                "graphs",
                count + 1,
                "max_graphs_per_tenant",
                self.limits.max_graphs_per_tenant,
            )?;
        }
        g.insert(key, Arc::new(graph));
        Ok(())
    }

    fn delete(&self, tenant: &str, name: &str) -> Result<(), GraphError> {
        let mut g = self.graphs.lock().expect("lock");
        g.remove(&(tenant.to_owned(), name.to_owned()))
            .map(|_| ())
            .ok_or_else(|| not_found(name))
    }

    fn list(&self, tenant: &str) -> Result<Vec<GraphInfo>, GraphError> {
        let g = self.graphs.lock().expect("lock");
        let mut out: Vec<GraphInfo> = g
            .iter()
            .filter(|(k, _)| k.0 == tenant)
            .map(|(_, v)| GraphInfo::of(v))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn list_all(&self) -> Result<Vec<(String, GraphInfo)>, GraphError> {
        let g = self.graphs.lock().expect("lock");
        let mut out: Vec<(String, GraphInfo)> = g
            .iter()
            .map(|(k, v)| (k.0.clone(), GraphInfo::of(v)))
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

    fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// Memory cache of loaded graphs under a byte budget (LRU).
#[derive(Debug, Default)]
struct Cache {
    budget: usize,
    used: usize,
    tick: u64,
    entries: HashMap<(String, String), (Arc<Graph>, usize, u64)>,
}

impl Cache {
    fn get(&mut self, key: &(String, String)) -> Option<Arc<Graph>> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(key).map(|e| {
            e.2 = tick;
            e.0.clone()
        })
    }

    fn insert(&mut self, key: (String, String), g: Arc<Graph>) {
        self.remove(&key);
        let size = g.approx_bytes();
        if size > self.budget {
            return;
        }
        while self.used + size > self.budget {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.2)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.remove(&k),
                None => break,
            }
        }
        self.tick += 1;
        self.used += size;
        self.entries.insert(key, (g, size, self.tick));
    }

    fn remove(&mut self, key: &(String, String)) {
        if let Some((_, size, _)) = self.entries.remove(key) {
            self.used -= size;
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

#[derive(Serialize, Deserialize)]
struct Stored {
    format_version: u32,
    graph: serde_json::Value,
}

impl RedbStore {
    /// Open (or create) `graphs.redb` under `data_dir` with a cache of `cache_bytes`.
    pub fn open(
        data_dir: &Path,
        cache_bytes: usize,
        limits: Limits,
    ) -> Result<RedbStore, GraphError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| store_err(format!("data dir {}: {e}", data_dir.display())))?;
        let db = Database::create(data_dir.join("graphs.redb")).map_err(store_err)?;
        let tx = db.begin_write().map_err(store_err)?;
        tx.open_table(GRAPHS).map_err(store_err)?;
        tx.open_table(SUMMARIES).map_err(store_err)?;
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

    /// Bytes of graphs held in the memory cache now.
    pub fn cached_bytes(&self) -> usize {
        self.cache.lock().expect("lock").used
    }

    /// Whether the graph is in the memory cache now.
    pub fn is_cached(&self, tenant: &str, name: &str) -> bool {
        self.cache
            .lock()
            .expect("lock")
            .entries
            .contains_key(&(tenant.to_owned(), name.to_owned()))
    }

    fn load(&self, tenant: &str, name: &str) -> Result<Option<Graph>, GraphError> {
        let tx = self.db.begin_read().map_err(store_err)?;
        let table = tx.open_table(GRAPHS).map_err(store_err)?;
        let Some(bytes) = table.get((tenant, name)).map_err(store_err)? else {
            return Ok(None);
        };
        let stored: Stored = serde_json::from_slice(bytes.value()).map_err(store_err)?;
        if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&stored.format_version) {
            return Err(store_err(format!(
                "graph {name:?}: format_version {} is not in {MIN_FORMAT_VERSION}..={FORMAT_VERSION}",
                stored.format_version
            )));
        }
        let unlimited = Limits {
            max_nodes: usize::MAX,
            max_edges: usize::MAX,
            ..Limits::default()
        };
        let mut g = io::node_link_to_graph(&stored.graph, name, &unlimited)?;
        if stored.format_version == 1 {
            // Version 1 wrote only the name in `graph`: no graph attributes.
            g.attrs_mut().clear();
        }
        Ok(Some(g))
    }
}

impl GraphStore for RedbStore {
    fn get(&self, tenant: &str, name: &str) -> Result<Arc<Graph>, GraphError> {
        let key = (tenant.to_owned(), name.to_owned());
        if let Some(g) = self.cache.lock().expect("lock").get(&key) {
            return Ok(g);
        }
        let g = Arc::new(self.load(tenant, name)?.ok_or_else(|| not_found(name))?);
        self.cache.lock().expect("lock").insert(key, g.clone());
        Ok(g)
    }

    fn put(&self, tenant: &str, graph: Graph, overwrite: bool) -> Result<(), GraphError> {
        check_tenant(tenant)?;
        graph.check_limits(&self.limits)?;
        let name = graph.name().to_owned();
        let value = serde_json::to_vec(&Stored {
            format_version: FORMAT_VERSION,
            graph: io::node_link(&graph),
        })
        .map_err(store_err)?;
        let summary = serde_json::to_vec(&GraphInfo::of(&graph)).map_err(store_err)?;
        let tx = self.db.begin_write().map_err(store_err)?;
        {
            let mut sums = tx.open_table(SUMMARIES).map_err(store_err)?;
            let exists = sums
                .get((tenant, name.as_str()))
                .map_err(store_err)?
                .is_some();
            if exists && !overwrite {
                return Err(GraphError::GraphExists { name });
            }
            if !exists {
                let count = sums
                    .range((tenant, "")..)
                    .map_err(store_err)?
                    .take_while(|r| {
                        r.as_ref()
                            .map(|(k, _)| k.value().0 == tenant)
                            .unwrap_or(false)
                    })
                    .count();
                GraphError::check_limit(
                    "graphs",
                    count + 1,
                    "max_graphs_per_tenant",
                    self.limits.max_graphs_per_tenant,
                )?;
            }
            sums.insert((tenant, name.as_str()), summary.as_slice())
                .map_err(store_err)?;
            let mut graphs = tx.open_table(GRAPHS).map_err(store_err)?;
            graphs
                .insert((tenant, name.as_str()), value.as_slice())
                .map_err(store_err)?;
        }
        tx.commit().map_err(store_err)?;
        self.cache
            .lock()
            .expect("lock")
            .insert((tenant.to_owned(), name), Arc::new(graph));
        Ok(())
    }

    fn delete(&self, tenant: &str, name: &str) -> Result<(), GraphError> {
        let tx = self.db.begin_write().map_err(store_err)?;
        let existed = {
            let mut sums = tx.open_table(SUMMARIES).map_err(store_err)?;
            let mut graphs = tx.open_table(GRAPHS).map_err(store_err)?;
            let a = sums.remove((tenant, name)).map_err(store_err)?.is_some();
            let b = graphs.remove((tenant, name)).map_err(store_err)?.is_some();
            a || b
        };
        if !existed {
            return Err(not_found(name));
        }
        tx.commit().map_err(store_err)?;
        self.cache
            .lock()
            .expect("lock")
            .remove(&(tenant.to_owned(), name.to_owned()));
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
            out.push(serde_json::from_slice(v.value()).map_err(store_err)?);
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
            out.push((
                tenant,
                serde_json::from_slice(v.value()).map_err(store_err)?,
            ));
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
    fn graph_attributes_persist_and_version_1_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut g = generators::path("p", 4).unwrap();
        g.attrs_mut().insert("pixel_um".into(), 2.5.into());
        g.attrs_mut()
            .insert("source".into(), serde_json::json!({"image": "a.png"}));
        {
            let store = RedbStore::open(dir.path(), 1 << 20, Limits::default()).unwrap();
            store.put("t", g.clone(), false).unwrap();
            // A version-1 value, as the previous release wrote it.
            let mut v1 = io::node_link(&generators::path("old", 3).unwrap());
            v1["graph"] = serde_json::json!({"name": "old"});
            let value = serde_json::to_vec(&Stored {
                format_version: 1,
                graph: v1,
            })
            .unwrap();
            let old = generators::path("old", 3).unwrap();
            let summary = serde_json::to_vec(&GraphInfo::of(&old)).unwrap();
            let tx = store.db.begin_write().unwrap();
            {
                let mut t = tx.open_table(GRAPHS).unwrap();
                t.insert(("t", "old"), value.as_slice()).unwrap();
                let mut s = tx.open_table(SUMMARIES).unwrap();
                s.insert(("t", "old"), summary.as_slice()).unwrap();
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
        let err = store.get("t", "future").unwrap_err();
        assert!(err.to_string().contains("format_version 99"), "{err}");
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
}
