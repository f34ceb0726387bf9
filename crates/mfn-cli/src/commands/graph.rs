//! `mfn graph TOOL [--input FILE] [--directed] [--args JSON] [--repeat K]`: run any tool
//! of the graph engine (`mfn-graph`, GRAPH.md) locally on a transient graph.
//!
//! `--input` loads an edge-list CSV, node-link JSON or GraphML file (by extension, else
//! by sniffing) into an in-memory store under the name `input`, which fills the tool's
//! `graph` argument unless `--args` names one; `--args` holds the other arguments. The
//! report is the tool's structured result — the same JSON as MCP and REST — plus, with
//! `--repeat K`, `timing {runs, min_ms, median_ms}` of the tool call alone (loading
//! excluded). `mfn graph tools` lists the tools with their input and output schemas.
//!
//! Tools outside the graph engine (`simulate_field`, `extract_network`,
//! `visualize_graph`, …) run through the service layer's registry on the same transient
//! store; `--out FILE` writes a rendering tool's image.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use mfn_graph::store::{GraphStore, MemoryStore};
use mfn_graph::tools::{self, ToolContext};
use mfn_graph::{Limits, io};
use serde_json::{Value, json};

/// Name of the transient graph that `--input` loads.
pub const INPUT_GRAPH: &str = "input";

/// Flags of `mfn graph`.
#[derive(Debug, Clone, Args)]
pub struct GraphArgs {
    /// Tool to run (e.g. pagerank, shortest_path), or `tools` to list every tool
    #[arg(value_name = "TOOL")]
    pub tool: String,
    /// Graph file: edge-list CSV (`source,target[,weight]`), node-link JSON or GraphML
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Read an edge-list CSV as a directed graph (JSON and GraphML carry their own)
    #[arg(long)]
    pub directed: bool,
    /// The tool's other arguments, as a JSON object
    #[arg(long, value_name = "JSON")]
    pub args: Option<String>,
    /// Run the tool K times and add timing {runs, min_ms, median_ms} (loading excluded)
    #[arg(long, value_name = "K")]
    pub repeat: Option<usize>,
    /// Write the image of a rendering tool (visualize_graph) to FILE
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Run the verb: the tool's JSON result (with `timing` when `--repeat`).
pub fn run(args: &GraphArgs) -> Result<Value> {
    if args.tool == "tools" {
        return Ok(list_tools());
    }
    let Some(spec) = tools::tool(&args.tool) else {
        return run_service_tool(args);
    };
    let mut call_args: Value = match &args.args {
        None => json!({}),
        Some(text) => serde_json::from_str(text).context("--args: not valid JSON")?,
    };
    let Some(obj) = call_args.as_object_mut() else {
        bail!("--args: must be a JSON object");
    };
    let limits = Limits::default();
    let store = MemoryStore::new(limits.clone());
    if let Some(path) = &args.input {
        let takes_graph = spec.input_schema()["properties"].get("graph").is_some();
        if !takes_graph {
            bail!("--input: tool {} takes no graph argument", spec.name);
        }
        let len = std::fs::metadata(path)
            .with_context(|| format!("--input: cannot read {}", path.display()))?
            .len();
        if len > limits.max_input_bytes as u64 {
            bail!(
                "--input: {} is {len} bytes, over max_input_bytes = {}",
                path.display(),
                limits.max_input_bytes
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--input: cannot read {}", path.display()))?;
        let format = io::Format::detect(&path.to_string_lossy(), &text);
        let mut graph = io::import(format, &text, INPUT_GRAPH, args.directed, &limits)
            .with_context(|| format!("--input {}", path.display()))?;
        graph.set_name(INPUT_GRAPH)?;
        store.put("local", graph, true)?;
        obj.entry("graph").or_insert_with(|| json!(INPUT_GRAPH));
    }
    let ctx = ToolContext::new(&store, "local");
    let runs = args.repeat.unwrap_or(1);
    anyhow::ensure!(
        (1..=100_000).contains(&runs),
        "--repeat = {runs} is out of range: must be in [1, 100000]"
    );
    let mut times = Vec::with_capacity(runs);
    let mut result = Value::Null;
    for _ in 0..runs {
        let start = Instant::now();
        result = tools::call(&ctx, spec.name, call_args.clone())?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    if args.repeat.is_some() {
        times.sort_by(f64::total_cmp);
        let median = if runs % 2 == 1 {
            times[runs / 2]
        } else {
            (times[runs / 2 - 1] + times[runs / 2]) / 2.0
        };
        let timing = json!({"runs": runs, "min_ms": times[0], "median_ms": median});
        match result.as_object_mut() {
            Some(o) => {
                o.insert("timing".into(), timing);
            }
            None => result = json!({"result": result, "timing": timing}),
        }
    }
    Ok(result)
}

/// Every tool of the service registry with its description and schemas.
fn list_tools() -> Value {
    let list: Vec<Value> = mfn_service::tools::tools()
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "description": t.description,
                "input_schema": *t.input_schema,
                "output_schema": *t.output_schema,
            })
        })
        .collect();
    json!({ "tools": list })
}

/// A tool of the service registry (MFN operations, extraction, rendering), run
/// in-process on a memory store that `--input` fills.
fn run_service_tool(args: &GraphArgs) -> Result<Value> {
    let info = mfn_service::tools::tool(&args.tool).with_context(|| {
        format!(
            "TOOL: unknown tool {:?}; `mfn graph tools` lists them",
            args.tool
        )
    })?;
    anyhow::ensure!(
        args.repeat.is_none(),
        "--repeat: only graph-engine tools are timed; {} is not one",
        info.name
    );
    let mut call_args: Value = match &args.args {
        None => json!({}),
        Some(text) => serde_json::from_str(text).context("--args: not valid JSON")?,
    };
    anyhow::ensure!(call_args.is_object(), "--args: must be a JSON object");
    let svc = local_service()?;
    if let Some(path) = &args.input {
        let graph = load_input(path, args.directed, &Limits::default())?;
        svc.graph_store().put(LOCAL_TENANT, graph, true)?;
        if let Some(obj) = call_args.as_object_mut() {
            obj.entry("graph").or_insert_with(|| json!(INPUT_GRAPH));
        }
    }
    let out = call_local(&svc, info.name, call_args)?;
    if let Some(path) = &args.out {
        let image = out
            .image
            .with_context(|| format!("--out: tool {} made no image", info.name))?;
        std::fs::write(path, &image.data)
            .with_context(|| format!("--out: cannot write {}", path.display()))?;
    }
    Ok(out.structured)
}

/// The tenant of local (CLI) runs.
pub const LOCAL_TENANT: &str = "local";

/// A service layer with an in-memory graph store, for local runs of service tools.
pub fn local_service() -> Result<mfn_service::MfnService> {
    Ok(mfn_service::MfnService::new(
        mfn_service::ServiceConfig::default(),
    )?)
}

/// Call a service tool from synchronous code.
pub fn call_local(
    svc: &mfn_service::MfnService,
    name: &str,
    args: Value,
) -> Result<mfn_service::tools::ToolOutput> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let ctx = mfn_service::RequestContext::new(None);
    Ok(runtime.block_on(svc.call_tool(&ctx, LOCAL_TENANT, name, args, None))?)
}

/// Load `--input` into a graph named [`INPUT_GRAPH`].
fn load_input(path: &std::path::Path, directed: bool, limits: &Limits) -> Result<mfn_graph::Graph> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--input: cannot read {}", path.display()))?;
    let format = io::Format::detect(&path.to_string_lossy(), &text);
    let mut graph = io::import(format, &text, INPUT_GRAPH, directed, limits)
        .with_context(|| format!("--input {}", path.display()))?;
    graph.set_name(INPUT_GRAPH)?;
    Ok(graph)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(
        tool: &str,
        input: Option<PathBuf>,
        json: Option<&str>,
        repeat: Option<usize>,
    ) -> GraphArgs {
        GraphArgs {
            tool: tool.into(),
            input,
            directed: false,
            args: json.map(String::from),
            repeat,
            out: None,
        }
    }

    #[test]
    fn runs_a_tool_on_a_csv_file_with_timing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.csv");
        std::fs::write(&path, "source,target,weight\n1,2,1\n2,3,1\n1,3,5\n").unwrap();
        let r = run(&args(
            "shortest_path",
            Some(path.clone()),
            Some(r#"{"source": 1, "target": 3, "weight": "weight"}"#),
            Some(3),
        ))
        .unwrap();
        assert_eq!(r["path"], json!([1, 2, 3]));
        assert_eq!(r["length"], 2.0);
        assert_eq!(r["timing"]["runs"], 3);
        assert!(
            r["timing"]["min_ms"].as_f64().unwrap() <= r["timing"]["median_ms"].as_f64().unwrap()
        );
        let r = run(&args("get_info", Some(path), None, None)).unwrap();
        assert_eq!(
            r,
            json!({"name": "input", "directed": false, "num_nodes": 3, "num_edges": 3})
        );
    }

    #[test]
    fn lists_tools_and_reports_bad_input() {
        let r = run(&args("tools", None, None, None)).unwrap();
        let tools = r["tools"].as_array().unwrap();
        assert!(tools.len() >= 39);
        assert!(
            tools
                .iter()
                .all(|t| t["input_schema"].is_object() && t["output_schema"].is_object())
        );
        let err = run(&args("nope", None, None, None)).unwrap_err();
        assert!(format!("{err:#}").contains("unknown tool \"nope\""));
        let err = run(&args("pagerank", None, Some("[1]"), None)).unwrap_err();
        assert_eq!(format!("{err:#}"), "--args: must be a JSON object");
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.graphml");
        std::fs::write(
            &bad,
            "<graphml><graph><node id='1'><data key='x'>1</data></node></graph></graphml>",
        )
        .unwrap();
        let err = run(&args("get_info", Some(bad), None, None)).unwrap_err();
        assert!(
            format!("{err:#}").contains("graphml line 1: data: undeclared key \"x\""),
            "{err:#}"
        );
        let err = run(&args(
            "generate_graph",
            None,
            Some(r#"{"name": "g", "kind": "star"}"#),
            None,
        ))
        .unwrap_err();
        assert_eq!(format!("{err:#}"), "n: required by star");
    }
}
