//! `mfn graph TOOL [--input FILE] [--directed] [--args JSON] [--repeat K]`: run any
//! operation of the registry locally, through the service layer as REST and MCP do.
//!
//! `--input` loads an edge-list CSV, node-link JSON or GraphML file (by extension, else
//! by sniffing) into the in-memory store under the name `input`, which fills the tool's
//! `graph` argument unless `--args` names one; `--args` holds the other arguments. The
//! report is the tool's structured result — the same JSON as MCP and REST — plus, with
//! `--repeat K`, `timing {runs, min_ms, median_ms}` of the call alone (loading
//! excluded). `--out FILE` writes a rendering tool's image. `mfn graph tools` lists the
//! registry with input and output schemas.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use mfn_graph::io::Format;
use mfn_service::ops;
use serde_json::{Value, json};

use crate::local::Local;

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
    let entry = ops::find(&args.tool).with_context(|| {
        format!(
            "TOOL: unknown tool {:?}; `mfn graph tools` lists them",
            args.tool
        )
    })?;
    let mut call_args: Value = match &args.args {
        None => json!({}),
        Some(text) => serde_json::from_str(text).context("--args: not valid JSON")?,
    };
    let Some(obj) = call_args.as_object_mut() else {
        bail!("--args: must be a JSON object");
    };
    let local = Local::new()?;
    if let Some(path) = &args.input {
        if entry.input_schema["properties"].get("graph").is_none() {
            bail!("--input: tool {} takes no graph argument", entry.spec.name);
        }
        load_input(&local, path, args.directed)?;
        obj.entry("graph").or_insert_with(|| json!(INPUT_GRAPH));
    }
    let runs = args.repeat.unwrap_or(1);
    anyhow::ensure!(
        (1..=100_000).contains(&runs),
        "--repeat = {runs} is out of range: must be in [1, 100000]"
    );
    let mut times = Vec::with_capacity(runs);
    let mut reply = None;
    for _ in 0..runs {
        let start = Instant::now();
        reply = Some(local.call_op(entry.spec.name, call_args.clone())?);
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let reply = reply.expect("at least one run");
    if let Some(path) = &args.out {
        let image = reply
            .image
            .as_ref()
            .with_context(|| format!("--out: tool {} made no image", entry.spec.name))?;
        std::fs::write(path, &image.data)
            .with_context(|| format!("--out: cannot write {}", path.display()))?;
    }
    let mut result = reply.to_value()?;
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

/// Every operation of the registry with its description and schemas.
fn list_tools() -> Value {
    let list: Vec<Value> = ops::all()
        .iter()
        .map(|e| {
            json!({
                "name": e.spec.name,
                "description": e.spec.description,
                "input_schema": *e.input_schema,
                "output_schema": *e.output_schema,
            })
        })
        .collect();
    json!({ "tools": list })
}

/// Load `--input` into a graph named [`INPUT_GRAPH`] with the `import_graph` tool.
fn load_input(local: &Local, path: &std::path::Path, directed: bool) -> Result<()> {
    let max = local.service().graph_store().limits().max_input_bytes;
    let len = std::fs::metadata(path)
        .with_context(|| format!("--input: cannot read {}", path.display()))?
        .len();
    if len > max as u64 {
        bail!(
            "--input: {} is {len} bytes, over max_input_bytes = {max}",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--input: cannot read {}", path.display()))?;
    let format = Format::detect(&path.to_string_lossy(), &text);
    local
        .call_op(
            "import_graph",
            json!({"name": INPUT_GRAPH, "format": format, "data": text, "directed": directed, "overwrite": true}),
        )
        .with_context(|| format!("--input {}", path.display()))?;
    Ok(())
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
