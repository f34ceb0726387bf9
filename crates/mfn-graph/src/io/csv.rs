//! Edge-list CSV (see the module documentation of [`crate::io`]).

use serde_json::Value;

use super::{Meter, add_edge_limited, check_bytes, id_text};
use crate::tools::{Control, NoControl};
use crate::{Attrs, Graph, GraphError, Limits, NodeId};

/// Number of fields of a CSV line (commas outside double quotes, plus one), counted
/// before the line is split so that a huge header costs nothing.
fn count_fields(line: &str) -> usize {
    let mut quoted = false;
    let mut n = 1;
    for b in line.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => n += 1,
            _ => {}
        }
    }
    n
}

/// Split a CSV line into `fields` (cleared first); double quotes quote, `""` escapes a
/// quote.
fn split_csv(line: &str, lineno: usize, fields: &mut Vec<String>) -> Result<(), GraphError> {
    fields.clear();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.trim().is_empty() => {
                cur.clear();
                quoted = true;
                was_quoted = true;
            }
            (',', false) => {
                fields.push(if was_quoted {
                    std::mem::take(&mut cur)
                } else {
                    cur.trim().to_owned()
                });
                cur.clear();
                was_quoted = false;
            }
            (c, _) => cur.push(c),
        }
    }
    if quoted {
        return Err(GraphError::Parse {
            format: "csv",
            line: lineno,
            message: "unterminated quoted field".into(),
        });
    }
    fields.push(if was_quoted {
        cur
    } else {
        cur.trim().to_owned()
    });
    Ok(())
}

/// A CSV field as a JSON value: a number when it reads as one, else a string.
fn csv_value(s: &str) -> Value {
    if let Ok(i) = s.parse::<i64>() {
        return i.into();
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() => f.into(),
        _ => Value::String(s.to_owned()),
    }
}

/// Read an edge-list CSV.
///
/// ```
/// use mfn_graph::{io, Limits, NodeId};
/// let g = io::read_csv("source,target,weight\n1,2,0.5\n2,a,3\n", "g", false, &Limits::default()).unwrap();
/// assert_eq!((g.num_nodes(), g.num_edges()), (3, 2));
/// assert!(g.has_edge(&NodeId::Int(2), &NodeId::Str("a".into())));
/// // With a header, every row has the header's columns.
/// let e = io::read_csv("source,target,weight\n1,2\n", "g", false, &Limits::default()).unwrap_err();
/// assert_eq!(e.to_string(), "csv line 2: 2 fields, but the header names 3 columns");
/// ```
pub fn read_csv(
    text: &str,
    name: &str,
    directed: bool,
    limits: &Limits,
) -> Result<Graph, GraphError> {
    read_csv_ctl(text, name, directed, limits, &NoControl)
}

/// [`read_csv`], checking `ctl` every few hundred lines.
pub fn read_csv_ctl(
    text: &str,
    name: &str,
    directed: bool,
    limits: &Limits,
    ctl: &dyn Control,
) -> Result<Graph, GraphError> {
    check_bytes(text, limits)?;
    let meter = Meter::new(ctl, limits);
    let mut g = Graph::new(name, directed)?;
    let mut columns: Option<Vec<String>> = None;
    let mut first = true;
    let mut fields = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        meter.tick()?;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let perr = |message: String| GraphError::Parse {
            format: "csv",
            line: lineno,
            message,
        };
        let count = count_fields(line);
        if count > limits.max_csv_columns {
            return Err(perr(format!(
                "{count} fields exceed max_csv_columns = {}",
                limits.max_csv_columns
            )));
        }
        if let Some(cols) = &columns
            && count > cols.len()
        {
            return Err(perr(format!(
                "{count} fields, but the header names {} columns",
                cols.len()
            )));
        }
        split_csv(line, lineno, &mut fields)?;
        if first {
            first = false;
            if fields.len() >= 2
                && fields[0].eq_ignore_ascii_case("source")
                && fields[1].eq_ignore_ascii_case("target")
            {
                let mut cols = std::mem::take(&mut fields);
                if cols.len() >= 3 && cols[2].is_empty() {
                    cols[2] = "weight".into();
                }
                columns = Some(cols);
                continue;
            }
        }
        match &columns {
            Some(cols) if fields.len() != cols.len() => {
                return Err(perr(format!(
                    "{} fields, but the header names {} columns",
                    fields.len(),
                    cols.len()
                )));
            }
            None if !(2..=3).contains(&fields.len()) => {
                return Err(perr(format!(
                    "expected source,target[,weight], found {} field(s)",
                    fields.len()
                )));
            }
            _ => {}
        }
        if fields[0].is_empty() || fields[1].is_empty() {
            return Err(perr("source and target must not be empty".into()));
        }
        let mut attrs = Attrs::new();
        for (k, f) in fields.iter().enumerate().skip(2) {
            let col = columns.as_ref().map_or("weight", |c| c[k].as_str());
            if f.is_empty() {
                continue;
            }
            let v = csv_value(f);
            if k == 2 && !v.is_number() {
                return Err(perr(format!("{col}: {f:?} is not a number")));
            }
            attrs.insert(col.to_owned(), v);
        }
        add_edge_limited(
            &mut g,
            NodeId::parse_text(&fields[0]),
            NodeId::parse_text(&fields[1]),
            attrs,
            limits,
            &meter,
        )?;
    }
    Ok(g)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.trim() != s || s.is_empty() {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Write an edge list with a `source,target[,weight]` header (the weight column only
/// when some edge has `weight_key`).
pub fn write_csv(g: &Graph, weight_key: &str) -> String {
    let weighted = g.edges().any(|(_, _, a)| a.contains_key(weight_key));
    let mut out = String::from(if weighted {
        "source,target,"
    } else {
        "source,target"
    });
    if weighted {
        out.push_str(&csv_field(weight_key));
    }
    out.push('\n');
    for (u, v, a) in g.edges() {
        out.push_str(&csv_field(&id_text(u)));
        out.push(',');
        out.push_str(&csv_field(&id_text(v)));
        if weighted {
            out.push(',');
            if let Some(w) = a.get(weight_key) {
                out.push_str(&w.to_string());
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_header_is_refused_before_it_is_split() {
        let limits = Limits {
            max_csv_columns: 8,
            ..Limits::default()
        };
        let header = format!("source,target{}\n1,2\n", ",c".repeat(100));
        let e = read_csv(&header, "g", false, &limits).unwrap_err();
        assert_eq!(
            e.to_string(),
            "csv line 1: 102 fields exceed max_csv_columns = 8"
        );
        // Quoted commas are not separators.
        assert_eq!(count_fields(r#"a,"b,c",d"#), 3);
    }

    #[test]
    fn rows_longer_or_shorter_than_the_header_name_their_line() {
        let l = Limits::default();
        let e = read_csv("source,target,w,c\n1,2,3,x\n\n3,4,5\n", "g", false, &l).unwrap_err();
        assert_eq!(
            e.to_string(),
            "csv line 4: 3 fields, but the header names 4 columns"
        );
        let e = read_csv("source,target\n1,2,3\n", "g", false, &l).unwrap_err();
        assert_eq!(
            e.to_string(),
            "csv line 2: 3 fields, but the header names 2 columns"
        );
        // Empty fields are present fields.
        let g = read_csv("source,target,w,c\n1,2,,\n", "g", false, &l).unwrap();
        assert!(g.edge_attrs(&1.into(), &2.into()).unwrap().is_empty());
    }
}
