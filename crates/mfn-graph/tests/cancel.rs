//! Cancellation and progress of the long algorithms through `tools::call`: a
//! [`Control`] that turns cancelled after a few checkpoints stops the work with
//! `GraphError::Cancelled`, and progress counts go up to the announced total.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use mfn_graph::store::MemoryStore;
use mfn_graph::tools::{Control, ToolContext, call};
use mfn_graph::{GraphError, Limits};
use serde_json::{Value, json};

/// Records every progress report; cancelled once `after` reports were made.
struct Recorder {
    after: usize,
    calls: AtomicUsize,
    seen: Mutex<Vec<(u64, u64)>>,
}

impl Recorder {
    fn new(after: usize) -> Self {
        Recorder {
            after,
            calls: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
        }
    }
    fn seen(&self) -> Vec<(u64, u64)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Control for Recorder {
    fn cancelled(&self) -> bool {
        self.calls.load(Ordering::SeqCst) >= self.after
    }
    fn progress(&self, done: u64, total: u64) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.seen.lock().unwrap().push((done, total));
    }
}

fn store_with(kind: Value) -> MemoryStore {
    let store = MemoryStore::new(Limits::default());
    call(&ToolContext::new(&store, "t"), "generate_graph", kind).unwrap();
    store
}

fn run(
    store: &MemoryStore,
    ctl: &dyn Control,
    tool: &str,
    args: Value,
) -> Result<Value, GraphError> {
    let ctx = ToolContext {
        store,
        tenant: "t",
        control: ctl,
    };
    call(&ctx, tool, args)
}

fn assert_monotonic(seen: &[(u64, u64)], total: u64) {
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|&(_, t)| t == total),
        "total changes: {seen:?}"
    );
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "progress not increasing"
    );
    assert!(seen.iter().all(|&(d, _)| d <= total));
}

#[test]
fn betweenness_stops_soon_after_cancel() {
    let n = 4000;
    let store =
        store_with(json!({"name": "g", "kind": "barabasi_albert", "n": n, "m": 3, "seed": 1}));
    let args = json!({"graph": "g", "top_k": 1});

    let full = Recorder::new(usize::MAX);
    let t0 = Instant::now();
    run(&store, &full, "betweenness_centrality", args.clone()).unwrap();
    let full_time = t0.elapsed();
    let seen = full.seen();
    assert_monotonic(&seen, n);
    assert_eq!(seen.last().unwrap().0, n, "progress ends at the total");

    let cancel = Recorder::new(3);
    let t0 = Instant::now();
    let err = run(&store, &cancel, "betweenness_centrality", args).unwrap_err();
    let cancel_time = t0.elapsed();
    assert!(matches!(err, GraphError::Cancelled), "{err:?}");
    let seen = cancel.seen();
    assert_monotonic(&seen, n);
    // Each worker stops at its next checkpoint: far less than the whole work is done.
    assert!(seen.last().unwrap().0 < n / 4, "{seen:?}");
    assert!(
        cancel_time < full_time / 2,
        "cancelled run took {cancel_time:?}, full run {full_time:?}"
    );
}

#[test]
fn the_other_long_tools_stop_too() {
    let store =
        store_with(json!({"name": "g", "kind": "barabasi_albert", "n": 600, "m": 2, "seed": 3}));
    for (tool, extra) in [
        ("closeness_centrality", json!({})),
        ("pagerank", json!({})),
        ("eigenvector_centrality", json!({})),
        ("graph_statistics", json!({})),
        ("efficiency", json!({})),
        ("all_pairs_shortest_path_length", json!({})),
        ("community_detection", json!({"method": "louvain"})),
        (
            "community_detection",
            json!({"method": "label_propagation"}),
        ),
        (
            "community_detection",
            json!({"method": "greedy_modularity"}),
        ),
        ("centrality_measures", json!({})),
    ] {
        let mut args = extra.clone();
        args["graph"] = json!("g");
        let ctl = Recorder::new(1);
        let err = run(&store, &ctl, tool, args.clone()).unwrap_err();
        assert!(
            matches!(err, GraphError::Cancelled),
            "{tool} {extra}: {err:?}"
        );
        // Not cancelled: same call succeeds and reports increasing progress.
        let ok = Recorder::new(usize::MAX);
        run(&store, &ok, tool, args).unwrap();
        let seen = ok.seen();
        if tool != "centrality_measures" {
            assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{tool}: {seen:?}");
        }
    }
}

#[test]
fn closeness_and_statistics_report_every_node() {
    let store = store_with(json!({"name": "g", "kind": "grid_2d", "rows": 20, "cols": 30}));
    for tool in [
        "closeness_centrality",
        "graph_statistics",
        "betweenness_centrality",
    ] {
        let ok = Recorder::new(usize::MAX);
        run(&store, &ok, tool, json!({"graph": "g"})).unwrap();
        let seen = ok.seen();
        assert_monotonic(&seen, 600);
        assert_eq!(seen.last().unwrap().0, 600, "{tool}");
    }
}
