//! Graph import, edge-list CSV: `mfn_graph::io::read_csv_ctl` (as `import_graph` calls
//! it) with small limits; a graph that is read is exported again in every format. The
//! first byte picks directed or undirected.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfn_graph::io::{self, Format};
use mfn_graph::tools::NoControl;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Some(text) = mfn_fuzz::text(rest) else {
        return;
    };
    let limits = mfn_fuzz::graph_limits();
    let directed = selector & 1 == 1;
    if let Ok(g) = io::read_csv_ctl(text, "g", directed, &limits, &NoControl) {
        assert!(g.num_nodes() <= limits.max_nodes && g.num_edges() <= limits.max_edges);
        for format in [Format::Csv, Format::Json, Format::Graphml] {
            let _ = io::export(&g, format);
        }
    }
});
