//! Time one tool call of the graph engine on a graph file, as `scripts/bench/
//! graph_vs_networkx.py` needs it: the whole call (`tools::call_json`: argument
//! decoding, store lookup, algorithm, sorted result as JSON text) and, apart, its fixed
//! cost.
//!
//! ```text
//! cargo run --release -p mfn-graph --example graph_bench -- FILE TOOL [ARGS_JSON] [--repeat K] [--directed] [--limits JSON]
//! ```
//!
//! Prints one JSON object: `result` (the tool's result), `timing` `{runs, min_ms,
//! median_ms, cold_ms, cpu_ms}` of the call (each run is a batch of calls lasting at
//! least 20 µs, divided by its size; `cold_ms` is the first call, which builds the
//! graph's cached adjacency; `cpu_ms` is the mean CPU time per call, every thread, over
//! the batches, input making taken off), and `fixed` `{call_ms, call_cpu_ms, lookup_ms}`: the median (and mean
//! CPU time) of a `get_info` call on the same graph (dispatch, argument decoding, store
//! lookup, a four-key result) and the median of the store lookup alone.

use std::time::Instant;

use mfn_graph::store::{GraphStore, MemoryStore};
use mfn_graph::tools::{self, ToolContext};
use mfn_graph::{Limits, io};
use serde_json::{Value, json};

const GRAPH: &str = "input";

fn main() {
    if let Err(e) = run() {
        eprintln!("graph_bench: {e}");
        std::process::exit(1);
    }
}

/// CPU time of every thread of the process (this one and the rayon pool's), in ms, from
/// Linux `schedstat` (ns resolution); `None` elsewhere. On a shared machine it leaves
/// out the time other processes held the cores. The kernel brings a running thread's
/// figure up to date only at a tick or a switch, so yield first (`sched_yield` updates
/// it); the pool's threads are parked here, so their figures are current.
fn process_cpu_ms() -> Option<f64> {
    std::thread::yield_now();
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let s = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += s.split_whitespace().next()?.parse::<f64>().ok()?;
    }
    Some(total / 1e6)
}

/// Median per-call milliseconds of `f` over `runs` batches of at least 20 µs each, the
/// smallest batch mean, and the mean CPU milliseconds per call over all batches (every
/// thread; the CPU time of making the inputs, measured apart, taken off). Each call's
/// input is made by `make` before its batch is timed.
fn time<I>(
    runs: usize,
    mut make: impl FnMut() -> I,
    mut f: impl FnMut(I),
) -> (f64, f64, Option<f64>) {
    let input = make();
    let t0 = Instant::now();
    f(input);
    let probe = t0.elapsed().as_secs_f64().max(1e-9);
    let batch = ((20e-6 / probe).ceil() as usize).clamp(1, 100_000);
    let cpu0 = process_cpu_ms();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let inputs: Vec<I> = (0..batch).map(|_| make()).collect();
            let t0 = Instant::now();
            for input in inputs {
                f(input);
            }
            t0.elapsed().as_secs_f64() * 1e3 / batch as f64
        })
        .collect();
    let cpu1 = process_cpu_ms();
    // Making and dropping the inputs alone, the same number of times: subtracted, so
    // the CPU figure is the calls'.
    for _ in 0..runs {
        let inputs: Vec<I> = (0..batch).map(|_| make()).collect();
        drop(std::hint::black_box(inputs));
    }
    let cpu = match (cpu0, cpu1, process_cpu_ms()) {
        (Some(a), Some(b), Some(c)) => Some(((b - a) - (c - b)) / (runs * batch) as f64),
        _ => None,
    };
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0], cpu)
}

fn run() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut flag = |name: &str| -> Option<String> {
        let i = args.iter().position(|a| a == name)?;
        args.remove(i);
        Some(if name == "--directed" {
            String::new()
        } else {
            args.remove(i)
        })
    };
    let repeat: usize = flag("--repeat")
        .map(|k| k.parse().map_err(|_| "--repeat: not a number"))
        .transpose()?
        .unwrap_or(5);
    let directed = flag("--directed").is_some();
    // Limits: the defaults, with the fields of `--limits '{"max_nodes_matching": 20000}'`.
    let mut limits = serde_json::to_value(Limits::default()).map_err(|e| e.to_string())?;
    if let Some(text) = flag("--limits") {
        let over: Value = serde_json::from_str(&text).map_err(|e| format!("--limits: {e}"))?;
        for (k, v) in over.as_object().ok_or("--limits: must be an object")? {
            limits[k] = v.clone();
        }
    }
    let limits: Limits = serde_json::from_value(limits).map_err(|e| format!("--limits: {e}"))?;
    let (file, tool) = match &args[..] {
        [file, tool, ..] => (file.clone(), tool.clone()),
        _ => {
            return Err(
                "usage: graph_bench FILE TOOL [ARGS_JSON] [--repeat K] [--directed] [--limits JSON]"
                    .into(),
            );
        }
    };
    let mut call_args: Value = match args.get(2) {
        Some(text) => serde_json::from_str(text).map_err(|e| format!("ARGS_JSON: {e}"))?,
        None => json!({}),
    };
    call_args
        .as_object_mut()
        .ok_or("ARGS_JSON: must be an object")?
        .entry("graph")
        .or_insert_with(|| json!(GRAPH));
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
    let store = MemoryStore::new(limits.clone());
    let mut g = io::import(
        io::Format::detect(&file, &text),
        &text,
        GRAPH,
        directed,
        &limits,
    )
    .map_err(|e| e.to_string())?;
    g.set_name(GRAPH).map_err(|e| e.to_string())?;
    store.put("bench", g, true).map_err(|e| e.to_string())?;
    let ctx = ToolContext::new(&store, "bench");
    let spec = tools::tool(&tool).ok_or_else(|| format!("no tool {tool:?}"))?;

    let t0 = Instant::now();
    let result = spec
        .call_json(&ctx, call_args.clone())
        .map_err(|e| e.to_string())?;
    let cold_ms = t0.elapsed().as_secs_f64() * 1e3;
    // The arguments are cloned before the timed calls: a door owns its parsed request.
    // The results are dropped inside the timed region, as a door drops them once sent.
    let (median, min, cpu) = time(
        repeat,
        || call_args.clone(),
        |a| {
            let r = spec.call_json(&ctx, a).expect("the tool call");
            std::hint::black_box(r);
        },
    );
    let info = tools::tool("get_info").expect("get_info");
    let (fixed, _, fixed_cpu) = time(
        repeat.max(50),
        || json!({"graph": GRAPH}),
        |a| {
            std::hint::black_box(info.call_json(&ctx, a).expect("get_info"));
        },
    );
    let (lookup, _, _) = time(
        repeat.max(50),
        || (),
        |()| {
            std::hint::black_box(store.get("bench", GRAPH).expect("stored"));
        },
    );
    let result: Value = serde_json::from_str(&result).map_err(|e| e.to_string())?;
    let out = json!({
        "result": result,
        "timing": {"runs": repeat, "min_ms": min, "median_ms": median, "cold_ms": cold_ms, "cpu_ms": cpu},
        "fixed": {"call_ms": fixed, "call_cpu_ms": fixed_cpu, "lookup_ms": lookup},
    });
    println!("{out}");
    Ok(())
}
