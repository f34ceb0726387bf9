//! Graph import, GraphML: `mfn_graph::io::read_graphml_ctl` (as `import_graph` calls
//! it) with small limits; a graph that is read is exported again in every format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfn_graph::io::{self, Format};
use mfn_graph::tools::NoControl;

fuzz_target!(|data: &[u8]| {
    let Some(text) = mfn_fuzz::text(data) else {
        return;
    };
    let limits = mfn_fuzz::graph_limits();
    if let Ok(g) = io::read_graphml_ctl(text, "g", &limits, &NoControl) {
        assert!(g.num_nodes() <= limits.max_nodes && g.num_edges() <= limits.max_edges);
        for format in [Format::Csv, Format::Json, Format::Graphml] {
            let _ = io::export(&g, format);
        }
    }
});
