//! The tool registry of the graph engine: one list of named operations with typed,
//! JSON-Schema'd inputs and outputs, served identically by MCP, REST and the CLI.
//!
//! - [`tools`] / [`tool_names`] / [`tool`]: the list, with descriptions and whether a
//!   tool changes stored graphs ([`ToolSpec::mutates`]);
//! - [`input_schema`] / [`output_schema`]: JSON Schemas (`schemars::schema_for!`); every
//!   choice argument is an enum, so the schema lists its allowed values;
//! - [`call`] / [`call_json`]: run a tool on a [`ToolContext`] (a [`GraphStore`] and a
//!   tenant) with JSON arguments, returning the result as a `serde_json::Value` or as
//!   JSON text serialised straight from the typed result. Arguments are parsed once, by
//!   [`parse_args`]: strictly (unknown fields are errors) and every error names the field
//!   and limit at fault: `source: node 17 not in graph`, `k: must be in [1, num_nodes
//!   (34)]`.
//!
//! Each tool is declared once, in the file of its family, with the `tool!` macro: name,
//! description, `mutates`, argument type, result type and handler. The families:
//!
//! | file | tools |
//! |---|---|
//! | `graphs.rs` | create, list, info, delete, nodes, edges, attributes, subgraph, merge, import, export |
//! | `generate.rs` | `generate_graph` |
//! | `paths.rs` | `shortest_path`, `all_pairs_shortest_path_length`, `all_pairs_shortest_path`, `node_degree` |
//! | `centrality.rs` | degree, betweenness, closeness, eigenvector, PageRank, several at once |
//! | `community.rs` | `community_detection` |
//! | `structure.rs` | components, clustering, statistics, MST, cycles, colouring, matching, flow, order, efficiency, cores |
//! | `network.rs` | `network_metrics` |
//!
//! Algorithm tools take the stored graph's name in `graph`; graph tools mutate through
//! the store (copy, change, check limits, durable `put`), so a failed call stores
//! nothing. Per-node results are complete and paged ([`crate::paging`]).
//!
//! ```
//! use mfn_graph::{store::MemoryStore, tools::{call, ToolContext}, Limits};
//! use serde_json::json;
//! let store = MemoryStore::new(Limits::default());
//! let ctx = ToolContext::new(&store, "default");
//! call(&ctx, "generate_graph", json!({"name": "k", "kind": "karate_club"})).unwrap();
//! let r = call(&ctx, "degree_centrality", json!({"graph": "k", "top_k": 1})).unwrap();
//! assert_eq!(r["values"][0]["node"], 33);
//! assert_eq!(r["truncated"], true);
//! ```

use std::sync::{Arc, OnceLock};

use serde::de::DeserializeOwned;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::paging::{NodeValues, Page};
use crate::store::GraphStore;
use crate::{Attrs, Graph, GraphError, NodeId};

mod centrality;
mod community;
mod generate;
mod graphs;
mod network;
mod paths;
mod structure;

pub use centrality::*;
pub use community::*;
pub use generate::*;
pub use graphs::*;
pub use network::*;
pub use paths::*;
pub use structure::*;

/// Where a tool runs: the store, the calling tenant, and the caller's [`Control`].
pub struct ToolContext<'a> {
    /// The graph store.
    pub store: &'a dyn GraphStore,
    /// The tenant (API key name, or the default tenant).
    pub tenant: &'a str,
    /// Cancellation and progress of this call.
    pub control: &'a dyn Control,
}

impl<'a> ToolContext<'a> {
    /// A context that is never cancelled and reports no progress (CLI, tests).
    pub fn new(store: &'a dyn GraphStore, tenant: &'a str) -> Self {
        ToolContext {
            store,
            tenant,
            control: &NoControl,
        }
    }
}

/// How a running tool learns that its caller is gone and reports how far it got.
///
/// Long algorithms and decoders call [`Control::checkpoint`] between bounded units of
/// work (one source of betweenness, one PageRank iteration, one Louvain pass, 64 KiB of
/// an imported document): it returns [`GraphError::Cancelled`] once
/// [`Control::cancelled`] is true, so `?` stops the work.
pub trait Control: Sync {
    /// Whether the caller is gone (deadline passed, client disconnected, MCP cancel).
    fn cancelled(&self) -> bool {
        false
    }
    /// `done` of `total` units finished (for MCP progress notifications).
    fn progress(&self, _done: u64, _total: u64) {}
    /// Report progress, then `Err(Cancelled)` if the caller is gone.
    fn checkpoint(&self, done: u64, total: u64) -> Result<(), GraphError> {
        self.progress(done, total);
        self.check()
    }
    /// `Err(Cancelled)` if the caller is gone, without reporting progress.
    fn check(&self) -> Result<(), GraphError> {
        if self.cancelled() {
            Err(GraphError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// A [`Control`] that never cancels and drops progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoControl;

impl Control for NoControl {}

/// A tool of the registry: declared once with the `tool!` macro.
#[derive(Clone, Copy)]
pub struct ToolSpec {
    /// Tool name.
    pub name: &'static str,
    /// Other names it answers to (seed 003's, e.g. `graph_info` for `get_info`).
    pub aliases: &'static [&'static str],
    /// One-line description for agents and `--help`.
    pub description: &'static str,
    /// Whether the tool changes stored graphs (creates, mutates or deletes one).
    pub mutates: bool,
    #[doc(hidden)]
    pub input: fn() -> Value,
    #[doc(hidden)]
    pub output: fn() -> Value,
    #[doc(hidden)]
    pub run_value: fn(&ToolContext<'_>, Value) -> Result<Value, GraphError>,
    #[doc(hidden)]
    pub run_json: fn(&ToolContext<'_>, Value) -> Result<String, GraphError>,
}

impl std::fmt::Debug for ToolSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSpec")
            .field("name", &self.name)
            .field("mutates", &self.mutates)
            .finish_non_exhaustive()
    }
}

impl ToolSpec {
    /// JSON Schema of the arguments.
    pub fn input_schema(&self) -> Value {
        (self.input)()
    }
    /// JSON Schema of the result.
    pub fn output_schema(&self) -> Value {
        (self.output)()
    }
    /// Run the tool; the result as a JSON value.
    pub fn call(&self, ctx: &ToolContext<'_>, args: Value) -> Result<Value, GraphError> {
        (self.run_value)(ctx, args)
    }
    /// Run the tool; the result as JSON text (serde_json's, so valid JSON), serialised
    /// straight from the typed result: no `Value` tree, and no second pass over the text
    /// (what a door that sends text should use for large results).
    pub fn call_json(&self, ctx: &ToolContext<'_>, args: Value) -> Result<String, GraphError> {
        (self.run_json)(ctx, args)
    }
}

/// Declare a tool: `tool! { name, description, mutates, args, output, handler }`, where
/// `handler: fn(&ToolContext, Args) -> Result<Output, GraphError>`. `Args` is parsed by
/// [`parse_args`]; `Output` is serialised to a `Value` or to JSON text.
#[macro_export]
#[doc(hidden)]
macro_rules! tool {
    (
        name: $name:literal,
        $(aliases: [$($alias:literal),* $(,)?],)?
        description: $desc:literal,
        mutates: $mutates:literal,
        args: $in:ty,
        output: $out:ty,
        handler: $f:expr $(,)?
    ) => {
        $crate::tools::ToolSpec {
            name: $name,
            aliases: &[$($($alias),*)?],
            description: $desc,
            mutates: $mutates,
            input: || $crate::tools::schema::<$in>(),
            output: || $crate::tools::schema::<$out>(),
            run_value: |ctx, args| {
                let f: fn(
                    &$crate::tools::ToolContext<'_>,
                    $in,
                ) -> Result<$out, $crate::GraphError> = $f;
                let out = f(ctx, $crate::tools::parse_args(args)?)?;
                serde_json::to_value(out).map_err(|e| $crate::GraphError::Store(e.to_string()))
            },
            run_json: |ctx, args| {
                let f: fn(
                    &$crate::tools::ToolContext<'_>,
                    $in,
                ) -> Result<$out, $crate::GraphError> = $f;
                let out = f(ctx, $crate::tools::parse_args(args)?)?;
                $crate::tools::to_text(&out)
            },
        }
    };
}

/// The families' lists, in registry order.
const FAMILIES: &[&[ToolSpec]] = &[
    graphs::TOOLS,
    generate::TOOLS,
    paths::TOOLS,
    centrality::TOOLS,
    community::TOOLS,
    structure::TOOLS,
    network::TOOLS,
];

/// Every tool of the registry.
pub fn tools() -> &'static [ToolSpec] {
    static ALL: OnceLock<Vec<ToolSpec>> = OnceLock::new();
    ALL.get_or_init(|| FAMILIES.iter().flat_map(|f| f.iter().copied()).collect())
}

/// Names of every tool, in registry order.
pub fn tool_names() -> Vec<&'static str> {
    tools().iter().map(|t| t.name).collect()
}

/// The tool called `name`, or whose alias is `name`.
pub fn tool(name: &str) -> Option<&'static ToolSpec> {
    type Index = std::collections::HashMap<
        &'static str,
        usize,
        std::hash::BuildHasherDefault<crate::store::Fnv>,
    >;
    // FNV: a lookup per call, on short fixed keys.
    static INDEX: OnceLock<Index> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let names = |(i, t): (usize, &ToolSpec)| {
            std::iter::once(t.name)
                .chain(t.aliases.iter().copied())
                .map(move |n| (n, i))
        };
        tools().iter().enumerate().flat_map(names).collect()
    });
    index.get(name).map(|&i| &tools()[i])
}

/// JSON Schema of a tool's arguments.
pub fn input_schema(name: &str) -> Option<Value> {
    tool(name).map(ToolSpec::input_schema)
}

/// JSON Schema of a tool's result.
pub fn output_schema(name: &str) -> Option<Value> {
    tool(name).map(ToolSpec::output_schema)
}

/// Run tool `name` with JSON `args`; the result as a JSON value.
pub fn call(ctx: &ToolContext<'_>, name: &str, args: Value) -> Result<Value, GraphError> {
    let spec = tool(name).ok_or_else(|| GraphError::UnknownTool(name.to_owned()))?;
    spec.call(ctx, args)
}

/// Run tool `name` with JSON `args`; the result as JSON text (see [`ToolSpec::call_json`]).
pub fn call_json(ctx: &ToolContext<'_>, name: &str, args: Value) -> Result<String, GraphError> {
    let spec = tool(name).ok_or_else(|| GraphError::UnknownTool(name.to_owned()))?;
    spec.call_json(ctx, args)
}

thread_local! {
    /// The buffer tool results are written in, kept between calls for its capacity.
    static TEXT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Largest result buffer kept between calls; a larger one is handed over instead.
const KEEP_BYTES: usize = 1 << 20;

/// serde_json's compact format, with integral floats (hop counts, sizes) written as
/// `itoa` digits and `.0` instead of through the shortest-float printer: the same text.
struct Compact;

impl serde_json::ser::Formatter for Compact {
    #[inline]
    fn write_f64<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: f64) -> std::io::Result<()> {
        // Below 1e15 serde_json writes an integral float in full, not with an exponent;
        // -0.0 keeps its sign there.
        if v.fract() == 0.0 && v.abs() < 1e15 && !(v == 0.0 && v.is_sign_negative()) {
            let mut b = itoa::Buffer::new();
            w.write_all(b.format(v as i64).as_bytes())?;
            return w.write_all(b".0");
        }
        serde_json::ser::CompactFormatter.write_f64(w, v)
    }
}

/// A tool result as JSON text: written into the thread's kept buffer (no growing copies,
/// no 128-byte first allocation shrunk afterwards), then copied out at its exact size.
#[doc(hidden)]
pub fn to_text<T: Serialize>(out: &T) -> Result<String, GraphError> {
    let fail = |e: &dyn std::fmt::Display| GraphError::Store(e.to_string());
    let text = TEXT.with(|buf| {
        let Ok(mut buf) = buf.try_borrow_mut() else {
            return Ok(None);
        };
        buf.clear();
        let mut ser = serde_json::Serializer::with_formatter(&mut *buf, Compact);
        out.serialize(&mut ser).map_err(|e| fail(&e))?;
        let text = if buf.capacity() > KEEP_BYTES {
            String::from_utf8(std::mem::take(&mut *buf)).map_err(|e| fail(&e))?
        } else {
            std::str::from_utf8(&buf).map_err(|e| fail(&e))?.to_owned()
        };
        Ok::<_, GraphError>(Some(text))
    })?;
    match text {
        Some(text) => Ok(text),
        None => serde_json::to_string(out).map_err(|e| fail(&e)),
    }
}

/// The JSON Schema of `T` as a value.
#[doc(hidden)]
pub fn schema<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).expect("schema")
}

/// Parse tool arguments: strict (the argument types deny unknown fields), `null` read as
/// `{}`, and every error names the field at fault (`top_k: invalid type: ...`, or
/// `args` for the whole object).
///
/// ```
/// use mfn_graph::tools::{parse_args, GraphArg};
/// let a: GraphArg = parse_args(serde_json::json!({"graph": "g"})).unwrap();
/// assert_eq!(a.graph, "g");
/// let e = parse_args::<GraphArg>(serde_json::json!({"graph": "g", "x": 1})).unwrap_err();
/// assert!(e.to_string().starts_with("x: unknown field"), "{e}");
/// ```
pub fn parse_args<T: DeserializeOwned>(args: Value) -> Result<T, GraphError> {
    let args = if args.is_null() {
        Value::Object(Default::default())
    } else {
        args
    };
    // Parsed without tracking the path; only a failure is parsed again to name the field.
    if let Ok(parsed) = T::deserialize(&args) {
        return Ok(parsed);
    }
    serde_path_to_error::deserialize(args).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "args".to_owned() } else { path };
        GraphError::invalid(field, e.into_inner().to_string())
    })
}

// ---------------------------------------------------------------- shared argument types

/// A node to add: an id, or `{id, attrs}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum NodeSpec {
    /// Just the id.
    Id(NodeId),
    /// Id with attributes.
    WithAttrs {
        /// Node id.
        id: NodeId,
        /// Attributes (merged into existing ones).
        #[serde(default)]
        attrs: Attrs,
    },
}

/// An edge to add: `[u, v]`, `[u, v, weight]` or `{source, target, weight?, attrs?}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum EdgeSpec {
    /// `[u, v]`.
    Pair(NodeId, NodeId),
    /// `[u, v, weight]`.
    Weighted(NodeId, NodeId, f64),
    /// Object form.
    Object {
        /// Source.
        source: NodeId,
        /// Target.
        target: NodeId,
        /// Weight (stored as attribute `weight`).
        #[serde(default)]
        weight: Option<f64>,
        /// Further attributes.
        #[serde(default)]
        attrs: Attrs,
    },
}

impl EdgeSpec {
    fn into_parts(self) -> (NodeId, NodeId, Attrs) {
        match self {
            EdgeSpec::Pair(u, v) => (u, v, Attrs::new()),
            EdgeSpec::Weighted(u, v, w) => {
                let mut a = Attrs::new();
                a.insert("weight".into(), w.into());
                (u, v, a)
            }
            EdgeSpec::Object {
                source,
                target,
                weight,
                mut attrs,
            } => {
                if let Some(w) = weight {
                    attrs.insert("weight".into(), w.into());
                }
                (source, target, attrs)
            }
        }
    }
}

/// Arguments naming just a graph.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphArg {
    /// Stored graph name.
    pub graph: String,
}

/// Arguments of a per-node measure without options.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PagedGraphArgs {
    /// Graph name.
    pub graph: String,
    /// Page size.
    pub top_k: Option<usize>,
    /// Cursor.
    pub cursor: Option<String>,
}

// ---------------------------------------------------------------- serde defaults

fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}
fn hundred() -> usize {
    100
}
fn tol6() -> f64 {
    1e-6
}
fn weight_key() -> Option<String> {
    Some("weight".into())
}
fn weight_string() -> String {
    "weight".into()
}

// ---------------------------------------------------------------- handler helpers

fn get(ctx: &ToolContext<'_>, name: &str) -> Result<Arc<Graph>, GraphError> {
    ctx.store.get_ctl(ctx.tenant, name, ctx.control)
}

fn items(what: &str, n: usize, ctx: &ToolContext<'_>) -> Result<(), GraphError> {
    GraphError::check_limit(
        what,
        n,
        "max_items_per_call",
        ctx.store.limits().max_items_per_call,
    )
}

fn per_node(
    g: &Graph,
    values: Vec<f64>,
    top_k: Option<usize>,
    cursor: Option<String>,
) -> Result<NodeValues, GraphError> {
    crate::paging::page_nodes(g, &values, &Page { top_k, cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_declared_once_with_strict_arguments() {
        let mut names = std::collections::HashSet::new();
        for t in tools() {
            assert!(names.insert(t.name), "{} declared twice", t.name);
            let input = t.input_schema();
            assert_eq!(input["type"], "object", "{}", t.name);
            assert_eq!(
                input["additionalProperties"], false,
                "{}: unknown fields must be errors",
                t.name
            );
        }
    }

    #[test]
    fn exactly_the_graph_changing_tools_mutate() {
        let mutating: Vec<&str> = tools()
            .iter()
            .filter(|t| t.mutates)
            .map(|t| t.name)
            .collect();
        assert_eq!(
            mutating,
            [
                "create_graph",
                "delete_graph",
                "add_nodes",
                "add_edges",
                "remove_nodes",
                "remove_edges",
                "set_node_attributes",
                "set_edge_attributes",
                "subgraph",
                "merge_graphs",
                "import_graph",
                "generate_graph",
            ]
        );
    }

    #[test]
    fn results_are_serde_jsons_text() {
        let mut floats = vec![
            0.0,
            -0.0,
            0.5,
            -2.5,
            1e-7,
            1e300,
            f64::MIN_POSITIVE,
            1e15,
            1e16,
        ];
        floats.extend((0..=16).map(|k| 10f64.powi(k)));
        floats.extend((0..=53).map(|k| 2f64.powi(k)));
        floats.extend([999_999_999_999_999.0, 1e15 - 1.0, 1e15 + 1.0, 123_456_789.0]);
        floats.extend((-2000..2000).map(f64::from));
        floats.extend([f64::NAN, f64::INFINITY]);
        let negated: Vec<f64> = floats.iter().map(|v| -v).collect();
        floats.extend(negated);
        for v in floats {
            assert_eq!(
                to_text(&v).unwrap(),
                serde_json::to_string(&v).unwrap(),
                "{v:?}"
            );
        }
        let v = serde_json::json!({"a": [1, -2, "x\"y\u{1}"], "b": {"c": null, "d": 2.0}});
        assert_eq!(to_text(&v).unwrap(), v.to_string());
    }

    #[test]
    fn unknown_fields_are_named() {
        let e =
            parse_args::<PagedGraphArgs>(serde_json::json!({"graph": "g", "topk": 1})).unwrap_err();
        assert!(
            matches!(&e, GraphError::InvalidArgument { field, .. } if field == "topk"),
            "{e:?}"
        );
        let e = parse_args::<PagedGraphArgs>(serde_json::json!({"graph": "g", "top_k": "x"}))
            .unwrap_err();
        assert!(
            matches!(&e, GraphError::InvalidArgument { field, .. } if field == "top_k"),
            "{e:?}"
        );
    }
}
