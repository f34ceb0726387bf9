//! Cancellation and progress of the long algorithms through `tools::call`: a
//! [`Control`] that turns cancelled after a few checkpoints stops the work with
//! `GraphError::Cancelled`, and progress counts go up to the announced total.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use mfn_graph::store::{GraphStore, MemoryStore};
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
        ("all_pairs_shortest_path", json!({"top_k": 600})),
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

/// Cancelled from the start: a decoder or generator stops at its first check.
struct Gone;

impl Control for Gone {
    fn cancelled(&self) -> bool {
        true
    }
}

/// Cancelled once the instant has passed.
struct Deadline(Instant);

impl Control for Deadline {
    fn cancelled(&self) -> bool {
        Instant::now() >= self.0
    }
}

/// A ring of `n` edges in every import format.
fn documents(n: usize) -> Vec<(&'static str, String)> {
    let g = mfn_graph::generators::cycle("ring", n).unwrap();
    [
        ("csv", mfn_graph::io::Format::Csv),
        ("json", mfn_graph::io::Format::Json),
        ("graphml", mfn_graph::io::Format::Graphml),
    ]
    .into_iter()
    .map(|(name, f)| (name, mfn_graph::io::export(&g, f)))
    .collect()
}

#[test]
fn every_decoder_stops_when_the_caller_is_gone() {
    let store = MemoryStore::new(Limits::default());
    for (format, data) in documents(20_000) {
        let args = json!({"name": "x", "format": format, "data": data});
        let err = run(&store, &Gone, "import_graph", args.clone()).unwrap_err();
        assert!(matches!(err, GraphError::Cancelled), "{format}: {err:?}");
        assert!(store.list("t").unwrap().is_empty(), "nothing stored");
        let ok = run(&store, &mfn_graph::tools::NoControl, "import_graph", args).unwrap();
        assert_eq!(ok["num_edges"], 20_000, "{format}");
        run(&store, &Gone, "delete_graph", json!({"graph": "x"})).unwrap();
    }
}

#[test]
fn generators_stop_when_the_caller_is_gone_and_refuse_what_they_cannot_afford() {
    let store = MemoryStore::new(Limits::default());
    for args in [
        json!({"name": "g", "kind": "erdos_renyi", "n": 5000, "p": 0.001}),
        json!({"name": "g", "kind": "complete", "n": 1000}),
        json!({"name": "g", "kind": "grid_2d", "rows": 300, "cols": 300}),
        json!({"name": "g", "kind": "watts_strogatz", "n": 100000, "k": 4, "p": 0.5}),
        json!({"name": "g", "kind": "path", "n": 1000000}),
    ] {
        let err = run(&store, &Gone, "generate_graph", args.clone()).unwrap_err();
        assert!(matches!(err, GraphError::Cancelled), "{args}: {err:?}");
    }
    // 9.7 M edges are under max_edges but not under the call's memory budget: refused
    // before anything is allocated, naming the argument (issue #17: 64 s, 15 GB).
    let t0 = Instant::now();
    let err = run(
        &store,
        &mfn_graph::tools::NoControl,
        "generate_graph",
        json!({"name": "k", "kind": "complete", "n": 4400}),
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("n: estimated bytes = ")
            && err
                .to_string()
                .ends_with("exceeds max_call_bytes = 1073741824"),
        "{err}"
    );
    assert!(t0.elapsed().as_secs() < 5, "refused before generating");
}

#[test]
fn graphml_with_half_a_million_attributes_on_one_element_is_read_in_linear_time() {
    // Quadratic before (issue #17: 200 k attributes took 28 s, 500 k about 4 min).
    let n = 500_000;
    let mut doc = String::from("<graphml><graph edgedefault=\"undirected\"><node id=\"a\"");
    for i in 0..n {
        doc.push_str(&format!(" a{i}=\"1\""));
    }
    doc.push_str("/><node id=\"b\"/></graph></graphml>");
    let limits = Limits::default();
    let t0 = Instant::now();
    let g = mfn_graph::io::read_graphml(&doc, "g", &limits).unwrap();
    assert_eq!(g.num_nodes(), 2);
    // A generous bound: the quadratic reader takes minutes here.
    assert!(t0.elapsed().as_secs() < 20, "took {:?}", t0.elapsed());
    // A cancelled read returns within a generous bound after the deadline.
    let t0 = Instant::now();
    let ctl = Deadline(t0 + std::time::Duration::from_millis(20));
    let r = mfn_graph::io::import_ctl(
        mfn_graph::io::Format::Graphml,
        &doc,
        "g",
        false,
        &limits,
        &ctl,
    );
    assert!(matches!(r, Ok(_) | Err(GraphError::Cancelled)), "{r:?}");
    assert!(t0.elapsed().as_secs() < 20, "took {:?}", t0.elapsed());
}

/// Components scan every arc once and check the caller every `ARCS_PER_CHECK` arcs
/// (edges, for the weak components of a directed graph): a graph with more stops, one
/// with fewer finishes.
#[test]
fn components_stop_when_the_caller_is_gone() {
    use mfn_graph::algo::structure::ARCS_PER_CHECK;
    let store = MemoryStore::new(Limits::default());
    let ctx = ToolContext::new(&store, "t");
    let graphs = [
        ("big", json!({"kind": "cycle", "n": ARCS_PER_CHECK})),
        // About 80 000 directed edges: union–find over the edges.
        (
            "bigd",
            json!({"kind": "erdos_renyi", "n": 2000, "p": 0.02, "directed": true}),
        ),
        ("small", json!({"kind": "cycle", "n": 1000})),
    ];
    for (name, mut kind) in graphs {
        kind["name"] = json!(name);
        call(&ctx, "generate_graph", kind).unwrap();
        let got = run(
            &store,
            &Gone,
            "connected_components",
            json!({"graph": name}),
        );
        if name == "small" {
            assert_eq!(got.unwrap()["num_components"], 1);
        } else {
            assert!(matches!(got, Err(GraphError::Cancelled)), "{name}: {got:?}");
        }
    }
}
