//! The shared graph store (`MFN_GRAPH_STORE=redis://…`) against a real `redis-server`:
//! the store contract every backend keeps, writers on two stores (two replicas) losing
//! nothing, a Redis outage answered with UNAVAILABLE and recovered from, and two
//! `mfn serve` replicas sharing graphs through Redis, across `kill -9` of Redis.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{Redis, http, start_server_http};
use mfn_graph::store::{GraphStore, MemoryStore, RedbStore, RedisStore};
use mfn_graph::{Attrs, Graph, GraphError, Limits, NodeId, generators};

fn edge_count(store: &dyn GraphStore, tenant: &str, name: &str) -> usize {
    store.get(tenant, name).unwrap().num_edges()
}

/// What every backend does alike: tenants, not-found, exists, limits, quota, overwrite,
/// update, list, and a graph of several chunks read back intact.
fn contract(store: &dyn GraphStore, fresh: &dyn Fn(Limits) -> Box<dyn GraphStore>) {
    let karate = generators::karate_club("karate").unwrap();
    store.put("alice", karate.clone(), false).unwrap();
    assert!(matches!(
        store.put("alice", karate.clone(), false),
        Err(GraphError::GraphExists { .. })
    ));
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
    store
        .put("bob", generators::path("a", 3).unwrap(), false)
        .unwrap();
    store
        .put("bob", generators::path("b", 4).unwrap(), false)
        .unwrap();
    let names: Vec<String> = store
        .list("bob")
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    let all: Vec<(String, String)> = store
        .list_all()
        .unwrap()
        .into_iter()
        .map(|(t, i)| (t, i.name))
        .collect();
    for pair in [("alice", "karate"), ("bob", "a"), ("bob", "b")] {
        assert!(all.contains(&(pair.0.into(), pair.1.into())), "{all:?}");
    }

    // update: applied to the stored graph, nothing stored when the change fails.
    store
        .update("bob", "a", &mut |g| {
            let mut g = g.clone();
            g.add_edge(NodeId::Int(2), NodeId::Int(7), Attrs::new());
            Ok(g)
        })
        .unwrap();
    assert_eq!(edge_count(store, "bob", "a"), 3);
    let err = store
        .update("bob", "a", &mut |_| {
            Err(GraphError::invalid("edges", "refused"))
        })
        .unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    assert_eq!(edge_count(store, "bob", "a"), 3);
    assert!(matches!(
        store.update("bob", "nope", &mut |g| Ok(g.clone())),
        Err(GraphError::GraphNotFound { .. })
    ));

    // Several chunks with attributes come back intact, and overwrite replaces them.
    let mut big = generators::complete("big", 700).unwrap();
    big.attrs_mut().insert("units".into(), "um".into());
    big.node_attrs_mut(&0.into())
        .unwrap()
        .insert("label".into(), "zero".into());
    store.put("carol", big.clone(), false).unwrap();
    assert!(store.stored_bytes("carol").unwrap() > 2 << 20);
    assert_eq!(*store.get("carol", "big").unwrap(), big);
    store
        .put("carol", generators::path("big", 3).unwrap(), true)
        .unwrap();
    assert_eq!(
        *store.get("carol", "big").unwrap(),
        generators::path("big", 3).unwrap()
    );
    assert!(store.stored_bytes("carol").unwrap() < 1000);
    store.delete("carol", "big").unwrap();
    assert!(store.get("carol", "big").is_err());
    assert_eq!(store.stored_bytes("carol").unwrap(), 0);

    // Graph count and byte quota: a refused write stores nothing.
    let one = fresh(Limits {
        max_graphs_per_tenant: 1,
        ..Limits::default()
    });
    one.put("t", generators::path("p1", 3).unwrap(), false)
        .unwrap();
    let err = one
        .put("t", generators::path("p2", 3).unwrap(), false)
        .unwrap_err();
    assert!(
        err.to_string().contains("max_graphs_per_tenant = 1"),
        "{err}"
    );
    one.put("t", generators::path("p1", 5).unwrap(), true)
        .unwrap();
    let tight = fresh(Limits {
        max_tenant_bytes: 20_000,
        ..Limits::default()
    });
    tight
        .put("t", generators::path("small", 10).unwrap(), false)
        .unwrap();
    let err = tight
        .put("t", generators::complete("k", 100).unwrap(), false)
        .unwrap_err();
    assert!(
        err.to_string().contains("exceeds max_tenant_bytes"),
        "{err}"
    );
    assert!(matches!(
        tight.get("t", "k"),
        Err(GraphError::GraphNotFound { .. })
    ));
    assert_eq!(tight.list("t").unwrap().len(), 1);
}

#[test]
fn every_backend_keeps_the_store_contract() {
    let mem = MemoryStore::new(Limits::default());
    contract(&mem, &|l| Box::new(MemoryStore::new(l)));

    let dir = tempfile::tempdir().unwrap();
    let redb = RedbStore::open(dir.path(), 0, Limits::default()).unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    contract(&redb, &|l| {
        let sub = dir.path().join(
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .to_string(),
        );
        Box::new(RedbStore::open(&sub, 0, l).unwrap())
    });

    // Redis: a cache of 0 makes every read decode what Redis holds. Each fresh store
    // gets a database of its own, so limits apply to an empty tenant.
    let redis = Redis::start();
    let store = RedisStore::open(&redis.url(), 0, Limits::default()).unwrap();
    let db = std::sync::atomic::AtomicUsize::new(1);
    contract(&store, &|l| {
        let url = format!(
            "redis://127.0.0.1:{}/{}",
            redis.port,
            db.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        Box::new(RedisStore::open(&url, 0, l).unwrap())
    });
}

#[test]
fn two_stores_on_one_redis_lose_no_concurrent_write() {
    let redis = Redis::start();
    // Two replicas, each with its cache: one graph updated from 8 threads at once.
    let replicas: Vec<Arc<RedisStore>> = (0..2)
        .map(|_| Arc::new(RedisStore::open(&redis.url(), 64 << 20, Limits::default()).unwrap()))
        .collect();
    replicas[0]
        .put("t", Graph::new("shared", false).unwrap(), false)
        .unwrap();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let store = replicas[w % 2].clone();
            thread::spawn(move || {
                for i in 0..25 {
                    store
                        .update("t", "shared", &mut |g| {
                            let mut g = g.clone();
                            g.add_edge(
                                NodeId::Int(w as i64 * 1000 + i),
                                NodeId::Int(-1),
                                Attrs::new(),
                            );
                            Ok(g)
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    for store in &replicas {
        assert_eq!(
            edge_count(&**store, "t", "shared"),
            200,
            "every update kept"
        );
    }

    // The graph count limit holds across replicas: 12 creators, room for 5.
    let limited: Vec<Arc<RedisStore>> = (0..2)
        .map(|_| {
            let limits = Limits {
                max_graphs_per_tenant: 5,
                ..Limits::default()
            };
            Arc::new(RedisStore::open(&redis.url(), 1 << 20, limits).unwrap())
        })
        .collect();
    let creators: Vec<_> = (0..12)
        .map(|i| {
            let store = limited[i % 2].clone();
            thread::spawn(move || {
                store
                    .put(
                        "quota",
                        generators::path(&format!("g{i}"), 4).unwrap(),
                        false,
                    )
                    .is_ok()
            })
        })
        .collect();
    let created = creators
        .into_iter()
        .map(|c| c.join().unwrap())
        .filter(|ok| *ok)
        .count();
    assert_eq!(created, 5);
    assert_eq!(limited[1].list("quota").unwrap().len(), 5);

    // A graph replaced through one replica is not served stale by the other's cache.
    let (a, b) = (&replicas[0], &replicas[1]);
    a.put("t", generators::path("p", 3).unwrap(), false)
        .unwrap();
    assert_eq!(edge_count(&**b, "t", "p"), 2);
    a.put("t", generators::path("p", 9).unwrap(), true).unwrap();
    assert_eq!(edge_count(&**b, "t", "p"), 8);
    a.delete("t", "p").unwrap();
    assert!(matches!(
        b.get("t", "p"),
        Err(GraphError::GraphNotFound { .. })
    ));
}

#[test]
fn a_redis_outage_is_unavailable_and_the_store_recovers() {
    let mut redis = Redis::start();
    let store = RedisStore::open(&redis.url(), 1 << 20, Limits::default()).unwrap();
    store.ping().unwrap();
    store
        .put("t", generators::path("p", 5).unwrap(), false)
        .unwrap();
    redis.kill9();
    for result in [
        store.get("t", "p").map(|_| ()),
        store.put("t", generators::path("q", 2).unwrap(), false),
        store.list("t").map(|_| ()),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(err, GraphError::Unavailable(_)), "{err:?}");
        assert_eq!(err.kind(), mfn_graph::ErrorKind::Unavailable);
        assert!(err.to_string().contains("127.0.0.1"), "{err}");
    }
    redis.restart();
    // The pooled connections died with the server: the store reconnects by itself, and
    // the acknowledged graph came back from the append-only file.
    assert_eq!(edge_count(&store, "t", "p"), 4);
    store
        .put("t", generators::path("q", 2).unwrap(), false)
        .unwrap();
    assert_eq!(store.list("t").unwrap().len(), 2);
}

#[test]
fn a_bad_store_url_is_refused_at_start_naming_the_setting() {
    let out = common::exit_within(
        common::mfn()
            .env("MFN_GRAPH_STORE", "postgres://db/graphs")
            .args(["serve", "--grpc-port", "0"]),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("MFN_GRAPH_STORE"), "{stderr}");
    assert!(stderr.contains("redis://"), "{stderr}");
    // Credentials never reach the message.
    let out = common::exit_within(
        common::mfn()
            .env("MFN_GRAPH_STORE", "rediss://user:s3cret@db:6380")
            .args(["serve", "--grpc-port", "0"]),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rediss://"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

#[test]
fn the_password_comes_from_a_file_and_never_shows() {
    let redis = Redis::start_with_password(Some("s3cret-pw"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("password");
    std::fs::write(&file, "s3cret-pw\n").unwrap();
    let file = file.to_str().unwrap();
    let env = [
        ("MFN_GRAPH_STORE", redis.url()),
        ("MFN_GRAPH_STORE_PASSWORD_FILE", file.to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_server, _, port) = start_server_http(&env);
    let (status, body) = http(
        port,
        "POST",
        "/v1/graphs",
        r#"{"name": "g", "edges": [[0, 1]]}"#,
    );
    assert_eq!(status, 201, "{body}");

    // A wrong password is refused by Redis: the call fails without showing it.
    let store =
        RedisStore::open_with_password(&redis.url(), Some("wrong-pw"), 0, Limits::default())
            .unwrap();
    let err = store.get("default", "g").unwrap_err();
    assert!(matches!(err, GraphError::Unavailable(_)), "{err:?}");
    let err = err.to_string();
    assert!(err.contains("refused the store's credentials"), "{err}");
    assert!(!err.contains("wrong-pw"), "{err}");
    // No password where Redis requires one: the same.
    let store = RedisStore::open_with_password(&redis.url(), None, 0, Limits::default()).unwrap();
    let err = store.get("default", "g").unwrap_err();
    assert!(matches!(err, GraphError::Unavailable(_)), "{err:?}");
    let url = format!("redis://:wrong-pw@127.0.0.1:{}/0", redis.port);
    let store =
        RedisStore::open_with_password(&url, Some("s3cret-pw"), 0, Limits::default()).unwrap();
    assert_eq!(
        edge_count(&store, "default", "g"),
        1,
        "the file's password wins"
    );
    assert!(!format!("{store:?}").contains("pw"), "{store:?}");
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn two_replicas_share_graphs_through_redis_across_kill_9() {
    let mut redis = Redis::start();
    let url = redis.url();
    let env = [("MFN_GRAPH_STORE", url.as_str())];
    let (_a, _, a) = start_server_http(&env);
    let (_b, _, b) = start_server_http(&env);

    // Created through one replica, read through the other.
    let (status, body) = http(
        a,
        "POST",
        "/v1/graphs",
        r#"{"name": "g", "edges": [[0, 1]]}"#,
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = http(b, "GET", "/v1/graphs/g", "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["num_edges"], 1);

    // Writers on both replicas at once: every acknowledged edge is kept.
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let port = if w % 2 == 0 { a } else { b };
            thread::spawn(move || {
                for i in 0..15 {
                    let edge = format!(r#"{{"edges": [[{}, -1]]}}"#, 100 + w * 100 + i);
                    let (status, body) = http(port, "POST", "/v1/graphs/g/edges", &edge);
                    assert_eq!(status, 200, "{body}");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let (_, body) = http(a, "GET", "/v1/graphs/g", "");
    assert_eq!(json(&body)["num_edges"], 91);

    // Redis dies: calls are UNAVAILABLE (503), not errors of ours, and not hangs.
    redis.kill9();
    let (status, body) = http(b, "GET", "/v1/graphs/g", "");
    assert_eq!(status, 503, "{body}");
    assert_eq!(json(&body)["error_code"], "UNAVAILABLE", "{body}");
    // Simulation does not need the store.
    let (status, body) = http(
        a,
        "POST",
        "/v1/simulate",
        r#"{"seed": 1, "grid_size": 8, "steps": 2}"#,
    );
    assert_eq!(status, 200, "{body}");

    // Back from its append-only file: every acknowledged write is there, on both.
    redis.restart();
    thread::sleep(Duration::from_millis(50));
    for port in [a, b] {
        let (status, body) = http(port, "GET", "/v1/graphs/g", "");
        assert_eq!(status, 200, "{body}");
        assert_eq!(json(&body)["num_edges"], 91);
    }
    let (status, body) = http(b, "POST", "/v1/graphs/g/edges", r#"{"edges": [[5, 6]]}"#);
    assert_eq!(status, 200, "{body}");
    let (_, body) = http(a, "GET", "/v1/graphs/g", "");
    assert_eq!(json(&body)["num_edges"], 92);
}
