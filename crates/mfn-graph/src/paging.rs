//! Complete, sorted, paged per-node results (GRAPH.md: "never a silent slice").
//!
//! A per-node measure comes back as `{"values": [{"node", "value"}...], "truncated",
//! "next_cursor"}`: every node, sorted by value descending with ties broken by node id
//! ascending ([`NodeId`]'s order). `top_k` cuts a page; `truncated` says more follow and
//! `next_cursor` (an opaque string) fetches the next page with the same arguments.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{GraphError, NodeId};

/// Paging arguments of a per-node tool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Page {
    /// Largest number of values to return (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// One node's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NodeValue {
    /// The node id as given.
    pub node: NodeId,
    /// The measure.
    pub value: f64,
}

/// A page of a per-node measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NodeValues {
    /// Values sorted by value descending, ties by node id.
    pub values: Vec<NodeValue>,
    /// Whether more values follow this page.
    pub truncated: bool,
    /// Cursor of the next page, when `truncated`.
    pub next_cursor: Option<String>,
}

impl Page {
    /// The offset and page length; `total` is the number of items.
    ///
    /// ```
    /// use mfn_graph::paging::Page;
    /// let p = Page { top_k: Some(2), cursor: Some("4".into()) };
    /// assert_eq!(p.window(5).unwrap(), (4, 5));
    /// ```
    pub fn window(&self, total: usize) -> Result<(usize, usize), GraphError> {
        let start = match &self.cursor {
            None => 0,
            Some(c) => c
                .parse::<usize>()
                .ok()
                .filter(|&o| o <= total)
                .ok_or_else(|| {
                    GraphError::invalid("cursor", format!("{c:?} is not a cursor of this result"))
                })?,
        };
        if self.top_k == Some(0) {
            return Err(GraphError::invalid("top_k", "must be >= 1"));
        }
        let end = match self.top_k {
            Some(k) => start.saturating_add(k).min(total),
            None => total,
        };
        Ok((start, end))
    }

    /// `(truncated, next_cursor)` after a page ending at `end` of `total`.
    pub fn next(end: usize, total: usize) -> (bool, Option<String>) {
        if end < total {
            (true, Some(end.to_string()))
        } else {
            (false, None)
        }
    }
}

/// Sort the values of a graph's nodes (`values[i]` is node `i`'s) and cut the page,
/// cloning only the ids of the page.
///
/// ```
/// use mfn_graph::{generators, paging::{Page, page_nodes}};
/// let g = generators::path("p", 3).unwrap();
/// let p = page_nodes(&g, &[0.5, 1.0, 0.5], &Page { top_k: Some(2), cursor: None }).unwrap();
/// assert_eq!((&p.values[0].node, &p.values[1].node), (&1.into(), &0.into()));
/// ```
pub fn page_nodes(g: &crate::Graph, values: &[f64], page: &Page) -> Result<NodeValues, GraphError> {
    let total = values.len();
    let (start, end) = page.window(total)?;
    let (truncated, next_cursor) = Page::next(end, total);
    let id = |i: u32| g.node_at(i as usize).expect("index");
    // Each value as an integer in `f64::total_cmp`'s order (its own bit mapping), so
    // ids are looked up only within runs of equal values, once each. Grid 100×100
    // PageRank has long runs of equal values: the sort was a third of the call, most of
    // it id look-ups in the comparator's tie-break; the call went 1.13–1.35 → 0.91–0.98
    // ms (`graph_bench grid.csv pagerank --repeat 300`; integer keys alone changed
    // nothing).
    let mut order: Vec<(i64, u32)> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let bits = v.to_bits() as i64;
            (bits ^ (((bits >> 63) as u64) >> 1) as i64, i as u32)
        })
        .collect();
    let cmp = |a: &(i64, u32), b: &(i64, u32)| b.0.cmp(&a.0).then_with(|| id(a.1).cmp(id(b.1)));
    // Only the page needs sorting: select it, then sort it.
    if end < total && end > 0 {
        order.select_nth_unstable_by(end - 1, cmp);
        order.truncate(end);
    }
    order.sort_unstable_by_key(|&(key, _)| std::cmp::Reverse(key));
    for run in order.chunk_by_mut(|a, b| a.0 == b.0) {
        if run.len() < 2 {
            continue;
        }
        // Integer ids (the common case) are read once each, not once per comparison.
        let ints: Option<Vec<(i64, u32)>> = run
            .iter()
            .map(|&(_, i)| match id(i) {
                NodeId::Int(x) => Some((*x, i)),
                NodeId::Str(_) => None,
            })
            .collect();
        match ints {
            Some(mut ints) => {
                ints.sort_unstable();
                for (slot, (_, i)) in run.iter_mut().zip(ints) {
                    slot.1 = i;
                }
            }
            None => run.sort_unstable_by(cmp),
        }
    }
    Ok(NodeValues {
        values: order[start.min(order.len())..end]
            .iter()
            .map(|&(_, i)| NodeValue {
                node: id(i).clone(),
                value: values[i as usize],
            })
            .collect(),
        truncated,
        next_cursor,
    })
}

/// Sort `(node, value)` pairs (value descending, ties by node id) and cut the page.
///
/// ```
/// use mfn_graph::{NodeId, paging::{Page, page_values}};
/// let v = vec![(NodeId::Int(2), 0.5), (NodeId::Int(1), 0.5), (NodeId::Int(3), 0.9)];
/// let p = page_values(v, &Page { top_k: Some(2), cursor: None }).unwrap();
/// assert_eq!(p.values[0].node, NodeId::Int(3));
/// assert_eq!(p.values[1].node, NodeId::Int(1));
/// assert!(p.truncated);
/// assert_eq!(p.next_cursor.as_deref(), Some("2"));
/// ```
pub fn page_values(mut values: Vec<(NodeId, f64)>, page: &Page) -> Result<NodeValues, GraphError> {
    // Ids are unique, so the order is total and an unstable sort gives the same result.
    values.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total = values.len();
    let (start, end) = page.window(total)?;
    let (truncated, next_cursor) = Page::next(end, total);
    Ok(NodeValues {
        values: values
            .drain(start..end)
            .map(|(node, value)| NodeValue { node, value })
            .collect(),
        truncated,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Graph;

    /// Equal values are ordered by id, integers before strings, whatever the insertion
    /// order: runs of integer ids (sorted by their integers) and mixed runs (sorted by
    /// `NodeId`'s order), with the page cut through a run.
    #[test]
    fn ties_go_by_id_in_every_kind_of_run() {
        let mut g = Graph::new("g", false).unwrap();
        let ids: Vec<NodeId> = vec![
            7.into(),
            "b".into(),
            (-3).into(),
            2.into(),
            "a".into(),
            5.into(),
            9.into(),
        ];
        for id in &ids {
            g.add_node(id.clone(), Default::default());
        }
        // 7, -3, 2 tie (integers only); "b", "a", 5 tie (mixed); 9 alone.
        let values = [0.5, 0.25, 0.5, 0.5, 0.25, 0.25, 1.0];
        let all = page_nodes(&g, &values, &Page::default()).unwrap();
        let order: Vec<NodeId> = all.values.iter().map(|v| v.node.clone()).collect();
        let want: Vec<NodeId> = vec![
            9.into(),
            (-3).into(),
            2.into(),
            7.into(),
            5.into(),
            "a".into(),
            "b".into(),
        ];
        assert_eq!(order, want);
        let page = page_nodes(
            &g,
            &values,
            &Page {
                top_k: Some(2),
                cursor: Some("2".into()),
            },
        )
        .unwrap();
        let got: Vec<NodeId> = page.values.iter().map(|v| v.node.clone()).collect();
        assert_eq!(got, want[2..4]);
        assert_eq!(page.values[1].value, 0.5);
    }
}
