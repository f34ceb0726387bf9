//! Graph import, NetworkX node-link JSON: `mfn_graph::io::read_node_link_ctl` (as
//! `import_graph` calls it) with small limits. A graph that is read is exported as
//! node-link JSON and read back: the format round-trips everything, so the export must
//! read again, to the same numbers of nodes and edges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfn_graph::io::{self, Format};
use mfn_graph::tools::NoControl;

fuzz_target!(|data: &[u8]| {
    let Some(text) = mfn_fuzz::text(data) else {
        return;
    };
    let limits = mfn_fuzz::graph_limits();
    if let Ok(g) = io::read_node_link_ctl(text, "g", &limits, &NoControl) {
        assert!(g.num_nodes() <= limits.max_nodes && g.num_edges() <= limits.max_edges);
        let json = io::export(&g, Format::Json);
        let again = io::read_node_link_ctl(&json, "g", &mfn_graph::Limits::default(), &NoControl)
            .unwrap_or_else(|e| panic!("the export does not read back: {e}\n{json}"));
        assert_eq!(again.num_nodes(), g.num_nodes(), "{json}");
        assert_eq!(again.num_edges(), g.num_edges(), "{json}");
        let _ = io::export(&g, Format::Graphml);
        let _ = io::export(&g, Format::Csv);
    }
});
