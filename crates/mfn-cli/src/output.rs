//! Rendering of command reports.
//!
//! Every command returns a `Serialize` report. `--format json` prints it as pretty JSON
//! with the keys in declaration order — that JSON is the contract other tools parse.
//! `--format table` prints the same data as a two-column key/value view for people:
//! nested objects are flattened into dotted keys (`timing.median_ms`) and arrays are
//! shown inline. Without `--format`, a terminal gets the table and a pipe gets JSON.

use std::fmt;
use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};
use serde::Serialize;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// How a report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Pretty-printed JSON (the machine-readable contract).
    Json,
    /// A two-column key/value table for people.
    Table,
}

/// A JSON document read back with object keys in document order (`serde_json::Value`
/// sorts them), so the table lists fields in the order the report declares them.
enum Node {
    Leaf(Value),
    Object(Vec<(String, Node)>),
}

impl Format {
    /// The explicit choice, else `table` when stdout is a terminal and `json` otherwise.
    pub fn resolve(explicit: Option<Format>) -> Format {
        explicit.unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Json
            }
        })
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Leaf(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Leaf(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Leaf(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Leaf(Value::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Leaf(Value::String(v.to_owned())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Leaf(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Node::Leaf(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            entries.push((key, value));
        }
        Ok(Node::Object(entries))
    }
}

/// Render `report` in `format`, ending with a newline.
pub fn render<T: Serialize>(report: &T, format: Format) -> Result<String> {
    let json = serde_json::to_string_pretty(report).context("output: cannot encode report")?;
    match format {
        Format::Json => Ok(json + "\n"),
        Format::Table => {
            let node: Node =
                serde_json::from_str(&json).context("output: cannot re-read report")?;
            let mut rows = Vec::new();
            flatten("", &node, &mut rows);
            Ok(table(&rows))
        }
    }
}

/// Print `report` on stdout. A closed pipe (`mfn ... | head`) is not an error.
pub fn print<T: Serialize>(report: &T, format: Format) -> Result<()> {
    let text = render(report, format)?;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("output: cannot write to stdout")
        }
        _ => Ok(()),
    }
}

fn flatten(prefix: &str, node: &Node, rows: &mut Vec<(String, String)>) {
    match node {
        Node::Leaf(value) => rows.push((prefix.to_owned(), cell(value))),
        Node::Object(entries) if entries.is_empty() => rows.push((prefix.to_owned(), "{}".into())),
        Node::Object(entries) => {
            for (key, child) in entries {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, child, rows);
            }
        }
    }
}

/// A value as a table cell: strings without quotes, everything else as compact JSON.
fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(cell).collect();
            format!("[{}]", parts.join(", "))
        }
        other => other.to_string(),
    }
}

fn table(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (key, value) in rows {
        out.push_str(&format!("{key:<width$}  {value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Inner {
        runs: u32,
        median_ms: f64,
    }

    #[derive(Serialize)]
    struct Report {
        zeta: u64,
        alpha: &'static str,
        sizes: Vec<u32>,
        timing: Inner,
    }

    fn sample() -> Report {
        Report {
            zeta: 3,
            alpha: "abc",
            sizes: vec![2, 4],
            timing: Inner {
                runs: 2,
                median_ms: 1.5,
            },
        }
    }

    #[test]
    fn table_keeps_declaration_order_and_flattens() {
        let text = render(&sample(), Format::Table).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "zeta              3",
                "alpha             abc",
                "sizes             [2, 4]",
                "timing.runs       2",
                "timing.median_ms  1.5",
            ]
        );
    }

    #[test]
    fn json_is_the_serialisation() {
        let text = render(&sample(), Format::Json).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["timing"]["median_ms"], 1.5);
        assert!(text.find("zeta").unwrap() < text.find("alpha").unwrap());
    }
}
