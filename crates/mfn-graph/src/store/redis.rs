//! The shared store: graphs kept in Redis, so that replicas behind a balancer serve the
//! same graphs (`MFN_GRAPH_STORE=redis://host:6379/0`; cargo feature `redis`).
//!
//! **Keys.** `T` is `len:tenant` and `N` is `len:name` (the byte length makes every
//! tenant and name one unambiguous key part):
//! - `mfn:idx:T`: a hash of the tenant's graphs, name → entry (`name`, `directed`,
//!   `num_nodes`, `num_edges`, stored `bytes`, `generation`, `chunks`);
//! - `mfn:hdr:T:N`: the graph's header (the embedded store's format 3, plus its
//!   generation);
//! - `mfn:chk:T:N:G:k`: chunk `k` (nodes first, then edges; about [`CHUNK_BYTES`] each)
//!   of generation `G` of the graph;
//! - `mfn:tenants`: the tenants that stored a graph (for an admin's `list_all`);
//! - `mfn:gen`: the generation counter.
//!
//! **Writes.** A write takes a fresh generation and stages its chunks under it, one chunk
//! in memory at a time, each expiring after [`STAGING_TTL`]. It then `WATCH`es the
//! tenant's index, checks the graph count and the byte quota against it, and in one
//! `MULTI`/`EXEC` makes the chunks permanent and writes the header and the index entry.
//! Every mutation of a tenant changes its index inside such a transaction, so writers on
//! different replicas are serialised by Redis: a writer whose `EXEC` is aborted checks
//! again (up to [`MAX_ATTEMPTS`] times), and neither the quota nor a concurrent update is
//! lost. `update` reads the graph after its `WATCH`, so a concurrent change makes it
//! re-read and re-apply. The replaced generation's chunks are deleted after the commit;
//! the chunks of a writer that died before committing expire.
//!
//! **Reads.** `get` reads the index entry (one round trip) and serves the memory cache's
//! copy when its generation is current; otherwise it loads the header and then the
//! chunks of that generation one at a time, checking cancellation between them. A chunk
//! that vanished under the reader (the graph was replaced meanwhile) restarts the load.
//!
//! **Durability.** An acknowledged write is as durable as the server makes it: run Redis
//! with `appendonly yes` (`appendfsync always` loses nothing on power loss; `everysec`,
//! Redis' default, up to a second).
//!
//! **Failures.** Connections come from a small pool, each with connect and I/O timeouts.
//! A refused, lost or timed-out connection, or a server still loading its data, is
//! [`GraphError::Unavailable`] (HTTP 503, gRPC `UNAVAILABLE`); the next call connects
//! afresh, so the store recovers by itself when Redis is back. A pooled connection that
//! proves dead before anything was committed is replaced once and the call goes on. When
//! the reply to a commit is lost, the error says the write may have been applied.

use std::sync::Mutex;
use std::time::Duration;

use redis::{Connection, RedisError, ServerErrorKind};
use serde::{Deserialize, Serialize};

use super::{
    CHUNK_BYTES, Cache, Change, GraphInfo, GraphStore, Header, add_chunk, check_quota,
    check_tenant, encode, not_found, store_err,
};
use crate::tools::Control;
use crate::{Graph, GraphError, Limits};

/// How long staged chunks of an uncommitted write live.
pub const STAGING_TTL: Duration = Duration::from_secs(24 * 3600);

/// Commits tried before a write gives up on a tenant other writers keep changing.
pub const MAX_ATTEMPTS: u32 = 32;

/// Loads restarted because the graph was replaced while it was read.
const MAX_LOADS: u32 = 8;

/// Connecting to Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One command's request and reply (a chunk is about a MiB).
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Idle connections kept for reuse.
const MAX_IDLE: usize = 16;

const TENANTS: &str = "mfn:tenants";
const GENERATIONS: &str = "mfn:gen";

/// A graph's entry in its tenant's index.
#[derive(Serialize, Deserialize)]
struct Entry {
    #[serde(flatten)]
    info: GraphInfo,
    bytes: u64,
    generation: u64,
    chunks: u32,
}

/// A graph's header key value.
#[derive(Serialize, Deserialize)]
struct StoredHeader {
    #[serde(flatten)]
    header: Header,
    generation: u64,
}

fn tenant_part(tenant: &str) -> String {
    format!("{}:{tenant}", tenant.len())
}

fn index_key(tenant: &str) -> String {
    format!("mfn:idx:{}", tenant_part(tenant))
}

fn header_key(tenant: &str, name: &str) -> String {
    format!("mfn:hdr:{}:{}:{name}", tenant_part(tenant), name.len())
}

fn chunk_key(tenant: &str, name: &str, generation: u64, k: u32) -> String {
    format!(
        "mfn:chk:{}:{}:{name}:{generation}:{k}",
        tenant_part(tenant),
        name.len()
    )
}

/// Why an operation stopped: Redis failed, or the graph engine refused.
enum Fail {
    Redis(RedisError),
    Graph(GraphError),
}

impl From<RedisError> for Fail {
    fn from(e: RedisError) -> Self {
        Fail::Redis(e)
    }
}

impl From<GraphError> for Fail {
    fn from(e: GraphError) -> Self {
        Fail::Graph(e)
    }
}

type Op<T> = Result<T, Fail>;

/// Is `e` about reaching the server rather than about the command?
fn is_unreachable(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.kind(),
            redis::ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::TryAgain
            )
        )
}

/// Did the server refuse who we are: a wrong password (`AUTH` failed or `WRONGPASS`), no
/// password where one is required (`NOAUTH`), or a user without the right (`NOPERM`)?
fn is_refused_credentials(e: &RedisError) -> bool {
    matches!(
        e.kind(),
        redis::ErrorKind::AuthenticationFailed | redis::ErrorKind::Server(ServerErrorKind::NoPerm)
    ) || matches!(e.code(), Some("NOAUTH" | "WRONGPASS"))
}

/// The graph store on a Redis server.
pub struct RedisStore {
    client: redis::Client,
    /// The URL without credentials, for messages.
    display: String,
    idle: Mutex<Vec<Connection>>,
    cache: Mutex<Cache>,
    /// Writes of this process one at a time: optimistic commits then only race the
    /// other replicas' writers.
    writer: Mutex<()>,
    limits: Limits,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.display)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// `url` without its user and password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl RedisStore {
    /// A store on the server at `url` (`redis://[user:password@]host[:port][/db]` or
    /// `redis+unix:///path`) with a cache of `cache_bytes` for loaded graphs. Nothing is
    /// connected yet: a server that is down makes calls unavailable, not this fail; see
    /// [`RedisStore::ping`]. An invalid URL is an invalid argument.
    pub fn open(url: &str, cache_bytes: usize, limits: Limits) -> Result<RedisStore, GraphError> {
        Self::open_with_password(url, None, cache_bytes, limits)
    }

    /// [`RedisStore::open`], with the password given apart from the URL (read from a
    /// mounted secret file, say); it replaces one in the URL.
    pub fn open_with_password(
        url: &str,
        password: Option<&str>,
        cache_bytes: usize,
        limits: Limits,
    ) -> Result<RedisStore, GraphError> {
        use redis::IntoConnectionInfo;
        let display = redact(url);
        let invalid = |e: &dyn std::fmt::Display| {
            GraphError::invalid("graph_store", format!("{display}: {e}"))
        };
        if url.starts_with("rediss://") {
            return Err(invalid(
                &"TLS to Redis (rediss://) is not supported; use redis:// on a private network or a TLS sidecar",
            ));
        }
        let mut info = url.into_connection_info().map_err(|e| invalid(&e))?;
        if let Some(password) = password {
            let settings = info.redis_settings().clone().set_password(password);
            info = info.set_redis_settings(settings);
        }
        let client = redis::Client::open(info).map_err(|e| invalid(&e))?;
        Ok(RedisStore {
            client,
            display,
            idle: Mutex::default(),
            writer: Mutex::default(),
            cache: Mutex::new(Cache {
                budget: cache_bytes,
                ..Cache::default()
            }),
            limits,
        })
    }

    /// The server's address, without credentials.
    pub fn server(&self) -> &str {
        &self.display
    }

    /// Round trip to the server: `Ok` when it answers.
    pub fn ping(&self) -> Result<(), GraphError> {
        self.run(|con, _| Ok(redis::cmd("PING").query::<String>(con).map(|_| ())?))
    }

    /// Bytes of graphs held in the memory cache now.
    pub fn cached_bytes(&self) -> usize {
        self.cache.lock().expect("lock").used
    }

    fn connect(&self) -> Result<Connection, GraphError> {
        let con = self
            .client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(|e| self.failed(&e, false))?;
        con.set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| con.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| self.failed(&e, false))?;
        Ok(con)
    }

    fn failed(&self, e: &RedisError, committing: bool) -> GraphError {
        if is_refused_credentials(e) {
            // The operator's configuration, not the request: UNAVAILABLE (503), saying
            // what to check, rather than an internal error.
            return GraphError::Unavailable(format!(
                "redis {}: the server refused the store's credentials ({e}); check the \
                 user and password of MFN_GRAPH_STORE or MFN_GRAPH_STORE_PASSWORD_FILE",
                self.display
            ));
        }
        if is_unreachable(e) {
            let maybe = if committing {
                "; the write may or may not have been applied"
            } else {
                ""
            };
            GraphError::Unavailable(format!("redis {}: {e}{maybe}", self.display))
        } else {
            store_err(format!("redis {}: {e}", self.display))
        }
    }

    /// Run `op` on a pooled connection. `op` sets its flag before sending a commit, so
    /// that a connection found dead earlier is replaced and `op` run again, and one that
    /// died during the commit is reported as such.
    fn run<T>(
        &self,
        mut op: impl FnMut(&mut Connection, &mut bool) -> Op<T>,
    ) -> Result<T, GraphError> {
        let pooled = self.idle.lock().expect("lock").pop();
        let (mut con, mut reused) = match pooled {
            Some(con) => (con, true),
            None => (self.connect()?, false),
        };
        loop {
            let mut committing = false;
            match op(&mut con, &mut committing) {
                Ok(v) => {
                    self.give_back(con);
                    return Ok(v);
                }
                Err(Fail::Graph(e)) => {
                    // The op may have left a WATCH behind: clear it before reuse.
                    if redis::cmd("UNWATCH").exec(&mut con).is_ok() {
                        self.give_back(con);
                    }
                    return Err(e);
                }
                Err(Fail::Redis(e)) if reused && !committing && is_unreachable(&e) => {
                    (con, reused) = (self.connect()?, false);
                }
                Err(Fail::Redis(e)) => return Err(self.failed(&e, committing)),
            }
        }
    }

    fn give_back(&self, con: Connection) {
        let mut idle = self.idle.lock().expect("lock");
        if idle.len() < MAX_IDLE {
            idle.push(con);
        }
    }

    fn entry(con: &mut Connection, tenant: &str, name: &str) -> Op<Option<Entry>> {
        let raw: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(index_key(tenant))
            .arg(name)
            .query(con)?;
        match raw {
            Some(raw) => Ok(Some(serde_json::from_slice(&raw).map_err(store_err)?)),
            None => Ok(None),
        }
    }

    fn entries(con: &mut Connection, tenant: &str) -> Op<Vec<Entry>> {
        let raw: Vec<Vec<u8>> = redis::cmd("HVALS").arg(index_key(tenant)).query(con)?;
        let mut out = raw
            .iter()
            .map(|v| serde_json::from_slice::<Entry>(v).map_err(store_err))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.info.name.cmp(&b.info.name));
        Ok(out)
    }

    /// The graph as stored now, with its generation; `None` when absent.
    fn load(
        con: &mut Connection,
        tenant: &str,
        name: &str,
        ctl: &dyn Control,
    ) -> Op<Option<(Graph, u64)>> {
        'load: for _ in 0..MAX_LOADS {
            let raw: Option<Vec<u8>> =
                redis::cmd("GET").arg(header_key(tenant, name)).query(con)?;
            let Some(raw) = raw else {
                return Ok(None);
            };
            let StoredHeader { header, generation } =
                serde_json::from_slice(&raw).map_err(store_err)?;
            let node_chunks = header.node_chunks;
            let total = node_chunks + header.edge_chunks;
            let mut g = Graph::new(name, header.directed)?;
            *g.attrs_mut() = header.attrs;
            for k in 0..total {
                ctl.check()?;
                let chunk: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(chunk_key(tenant, name, generation, k))
                    .query(con)?;
                let Some(chunk) = chunk else {
                    continue 'load;
                };
                add_chunk(&mut g, &chunk, k < node_chunks)?;
            }
            return Ok(Some((g, generation)));
        }
        Err(GraphError::Unavailable(format!(
            "graph {name:?} was replaced {MAX_LOADS} times while it was read; try again"
        ))
        .into())
    }

    /// Stage `graph`'s chunks under a new generation; returns the generation, the header
    /// and the chunk count and bytes. Refuses (and removes what it staged) when the
    /// graph alone passes the tenant quota.
    fn stage(&self, con: &mut Connection, tenant: &str, graph: &Graph) -> Op<Staged> {
        let generation: u64 = redis::cmd("INCR").arg(GENERATIONS).query(con)?;
        let name = graph.name();
        let (mut bytes, mut chunks) = (0u64, 0u32);
        let ttl = STAGING_TTL.as_secs();
        let mut failure = None;
        let staged = encode(graph, &mut |k, chunk| {
            bytes += chunk.len() as u64;
            chunks = k + 1;
            check_quota(bytes, &self.limits)?;
            redis::cmd("SET")
                .arg(chunk_key(tenant, name, generation, k))
                .arg(chunk)
                .arg("EX")
                .arg(ttl)
                .exec(con)
                .map_err(|e| {
                    let message = e.to_string();
                    failure = Some(e);
                    GraphError::Store(message)
                })
        });
        let header = match staged {
            Ok(header) => header,
            Err(e) => {
                if let Some(e) = failure {
                    return Err(e.into());
                }
                Self::unstage(con, tenant, name, generation, chunks);
                return Err(e.into());
            }
        };
        let header = serde_json::to_vec(&StoredHeader { header, generation }).map_err(store_err)?;
        bytes += header.len() as u64;
        Ok(Staged {
            generation,
            header,
            chunks,
            bytes,
        })
    }

    /// Best effort: the chunks expire anyway.
    fn unstage(con: &mut Connection, tenant: &str, name: &str, generation: u64, chunks: u32) {
        if chunks > 0 {
            let keys: Vec<String> = (0..chunks)
                .map(|k| chunk_key(tenant, name, generation, k))
                .collect();
            let _ = redis::cmd("DEL").arg(keys).exec(con);
        }
    }

    /// Under a `WATCH` of the tenant's index (taken by the caller, who read `entries`
    /// after it): check the limits and commit `staged` as `graph`. `Ok(false)` when
    /// another writer changed the tenant first.
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        con: &mut Connection,
        committing: &mut bool,
        tenant: &str,
        graph: &Graph,
        staged: &Staged,
        entries: &[Entry],
        overwrite: bool,
    ) -> Op<bool> {
        let name = graph.name();
        let old = entries.iter().find(|e| e.info.name == name);
        if old.is_some() && !overwrite {
            return Err(GraphError::GraphExists {
                name: name.to_owned(),
            }
            .into());
        }
        if old.is_none() {
            GraphError::check_limit(
                "graphs",
                entries.len() + 1,
                "max_graphs_per_tenant",
                self.limits.max_graphs_per_tenant,
            )?;
        }
        let others: u64 = entries
            .iter()
            .filter(|e| e.info.name != name)
            .map(|e| e.bytes)
            .sum();
        check_quota(others + staged.bytes, &self.limits)?;
        let entry = serde_json::to_vec(&Entry {
            info: GraphInfo::of(graph),
            bytes: staged.bytes,
            generation: staged.generation,
            chunks: staged.chunks,
        })
        .map_err(store_err)?;
        let mut tx = redis::pipe();
        tx.atomic();
        for k in 0..staged.chunks {
            tx.cmd("PERSIST")
                .arg(chunk_key(tenant, name, staged.generation, k))
                .ignore();
        }
        tx.cmd("SET")
            .arg(header_key(tenant, name))
            .arg(&staged.header)
            .ignore();
        tx.cmd("HSET")
            .arg(index_key(tenant))
            .arg(name)
            .arg(entry)
            .ignore();
        tx.cmd("SADD").arg(TENANTS).arg(tenant);
        *committing = true;
        let done: Option<(i64,)> = tx.query(con)?;
        *committing = false;
        if done.is_none() {
            return Ok(false);
        }
        if let Some(old) = old {
            Self::unstage(con, tenant, name, old.generation, old.chunks);
        }
        Ok(true)
    }

    /// Stage, then commit until no other writer interferes.
    fn write(
        &self,
        tenant: &str,
        graph: &Graph,
        overwrite: bool,
        change: Option<&mut Change<'_>>,
    ) -> Result<(Option<Graph>, u64), GraphError> {
        check_tenant(tenant)?;
        let mut change = change;
        let index = index_key(tenant);
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        self.run(|con, committing| {
            let mut staged: Option<Staged> = None;
            let result = (|| {
                for attempt in 0..MAX_ATTEMPTS {
                    if attempt > 0 {
                        std::thread::sleep(backoff(attempt));
                    }
                    redis::cmd("WATCH").arg(&index).exec(con)?;
                    let entries = Self::entries(con, tenant)?;
                    let new = match change.as_deref_mut() {
                        // update: read the graph under the WATCH, change it, stage it.
                        Some(change) => {
                            let current = self.current(con, tenant, graph.name(), &entries)?;
                            let new = change(&current)?;
                            debug_assert_eq!(new.name(), graph.name());
                            if let Some(s) = staged.take() {
                                Self::unstage(con, tenant, new.name(), s.generation, s.chunks);
                            }
                            staged = Some(self.stage(con, tenant, &new)?);
                            Some(new)
                        }
                        None => {
                            if staged.is_none() {
                                staged = Some(self.stage(con, tenant, graph)?);
                            }
                            None
                        }
                    };
                    let s = staged.as_ref().expect("staged");
                    let target = new.as_ref().unwrap_or(graph);
                    if self.commit(con, committing, tenant, target, s, &entries, overwrite)? {
                        let generation = s.generation;
                        staged = None;
                        return Ok((new, generation));
                    }
                }
                Err(GraphError::Unavailable(format!(
                    "tenant {tenant:?}: {MAX_ATTEMPTS} commits lost to concurrent writers; try again"
                ))
                .into())
            })();
            // After a lost commit reply the chunks may be the graph's now: leave them.
            if let (Err(_), false, Some(s)) = (&result, *committing, staged.take()) {
                Self::unstage(con, tenant, graph.name(), s.generation, s.chunks);
            }
            result
        })
    }

    /// The stored graph `name` whose entry is in `entries`: the cache's copy when it is
    /// of the current generation, else loaded.
    fn current(
        &self,
        con: &mut Connection,
        tenant: &str,
        name: &str,
        entries: &[Entry],
    ) -> Op<std::sync::Arc<Graph>> {
        let Some(entry) = entries.iter().find(|e| e.info.name == name) else {
            return Err(not_found(name).into());
        };
        if let Some((g, generation)) = self.cache.lock().expect("lock").get_gen(tenant, name)
            && generation == entry.generation
        {
            return Ok(g);
        }
        match Self::load(con, tenant, name, &crate::tools::NoControl)? {
            Some((g, _)) => Ok(std::sync::Arc::new(g)),
            None => Err(not_found(name).into()),
        }
    }
}

/// A write's chunks, staged and not yet committed.
struct Staged {
    generation: u64,
    header: Vec<u8>,
    chunks: u32,
    bytes: u64,
}

/// Full jitter over a window that doubles from 1 ms to 64 ms, so that racing replicas
/// spread out (at most about 1.7 s over all [`MAX_ATTEMPTS`]).
fn backoff(attempt: u32) -> Duration {
    use rand::Rng;
    let window = 1000u64 << attempt.min(6);
    Duration::from_micros(rand::rng().random_range(window / 2..=window))
}

impl GraphStore for RedisStore {
    fn get_ctl(
        &self,
        tenant: &str,
        name: &str,
        ctl: &dyn Control,
    ) -> Result<std::sync::Arc<Graph>, GraphError> {
        let (g, generation, fresh) = self.run(|con, _| {
            let Some(entry) = Self::entry(con, tenant, name)? else {
                return Err(not_found(name).into());
            };
            if let Some((g, generation)) = self.cache.lock().expect("lock").get_gen(tenant, name)
                && generation == entry.generation
            {
                return Ok((g, generation, false));
            }
            match Self::load(con, tenant, name, ctl)? {
                Some((g, generation)) => Ok((std::sync::Arc::new(g), generation, true)),
                None => Err(not_found(name).into()),
            }
        })?;
        if fresh {
            self.cache
                .lock()
                .expect("lock")
                .insert_gen(tenant, name, g.clone(), generation);
        }
        Ok(g)
    }

    fn put(&self, tenant: &str, graph: Graph, overwrite: bool) -> Result<(), GraphError> {
        graph.check_limits(&self.limits)?;
        let name = graph.name().to_owned();
        let (_, generation) = self.write(tenant, &graph, overwrite, None)?;
        self.cache.lock().expect("lock").insert_gen(
            tenant,
            &name,
            std::sync::Arc::new(graph),
            generation,
        );
        Ok(())
    }

    fn delete(&self, tenant: &str, name: &str) -> Result<(), GraphError> {
        let index = index_key(tenant);
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        self.run(|con, committing| {
            for attempt in 0..MAX_ATTEMPTS {
                if attempt > 0 {
                    std::thread::sleep(backoff(attempt));
                }
                redis::cmd("WATCH").arg(&index).exec(con)?;
                let Some(entry) = Self::entry(con, tenant, name)? else {
                    return Err(not_found(name).into());
                };
                let mut tx = redis::pipe();
                tx.atomic()
                    .cmd("DEL")
                    .arg(header_key(tenant, name))
                    .ignore()
                    .cmd("HDEL")
                    .arg(&index)
                    .arg(name);
                *committing = true;
                let done: Option<(i64,)> = tx.query(con)?;
                *committing = false;
                if done.is_some() {
                    Self::unstage(con, tenant, name, entry.generation, entry.chunks);
                    return Ok(());
                }
            }
            Err(GraphError::Unavailable(format!(
                "tenant {tenant:?}: {MAX_ATTEMPTS} commits lost to concurrent writers; try again"
            ))
            .into())
        })?;
        self.cache.lock().expect("lock").remove(tenant, name);
        Ok(())
    }

    fn list(&self, tenant: &str) -> Result<Vec<GraphInfo>, GraphError> {
        self.run(|con, _| {
            Ok(Self::entries(con, tenant)?
                .into_iter()
                .map(|e| e.info)
                .collect())
        })
    }

    fn list_all(&self) -> Result<Vec<(String, GraphInfo)>, GraphError> {
        self.run(|con, _| {
            let mut tenants: Vec<String> = redis::cmd("SMEMBERS").arg(TENANTS).query(con)?;
            tenants.sort();
            let mut out = Vec::new();
            for tenant in tenants {
                for e in Self::entries(con, &tenant)? {
                    out.push((tenant.clone(), e.info));
                }
            }
            Ok(out)
        })
    }

    fn update(
        &self,
        tenant: &str,
        name: &str,
        change: &mut dyn FnMut(&Graph) -> Result<Graph, GraphError>,
    ) -> Result<(), GraphError> {
        // Only the name of this placeholder is read: `write` loads the stored graph.
        let placeholder = Graph::new(name, false)?;
        let limits = self.limits.clone();
        let mut checked = |g: &Graph| -> Result<Graph, GraphError> {
            let new = change(g)?;
            new.check_limits(&limits)?;
            Ok(new)
        };
        let (graph, generation) = self.write(tenant, &placeholder, true, Some(&mut checked))?;
        let graph = graph.expect("an update returns the new graph");
        self.cache.lock().expect("lock").insert_gen(
            tenant,
            name,
            std::sync::Arc::new(graph),
            generation,
        );
        Ok(())
    }

    fn stored_bytes(&self, tenant: &str) -> Result<u64, GraphError> {
        self.run(|con, _| Ok(Self::entries(con, tenant)?.iter().map(|e| e.bytes).sum()))
    }

    fn limits(&self) -> &Limits {
        &self.limits
    }
}

const _: () = assert!(CHUNK_BYTES <= 512 << 20, "a chunk fits in one Redis string");
