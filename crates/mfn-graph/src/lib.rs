//! # mfn-graph — the graph engine of MFN
//!
//! A graph store and the algorithms people use NetworkX for, with NetworkX's semantics
//! (GRAPH.md is the contract) and Rust's speed, shared by every door of MFN: the tool
//! registry ([`tools`]) is what MCP, REST and `mfn graph` serve.
//!
//! | module | does |
//! |---|---|
//! | [`model`] | [`Graph`]: named, directed or undirected, simple, JSON attributes, ids kept as given |
//! | [`algo`] | centralities, paths, components, clustering, communities, MST, flow, … (petgraph 0.8 / rustworkx-core 0.18 where they have it) |
//! | [`paging`] | complete, sorted, paged per-node results |
//! | [`io`] | edge-list CSV, node-link JSON, GraphML, both ways |
//! | [`generators`] | seeded erdos_renyi, barabasi_albert, watts_strogatz, grid_2d, … karate_club |
//! | [`network`] | metrics of spatial (mycelial) networks |
//! | [`layout`] | spring (Fruchterman–Reingold), circular, Kamada–Kawai and pixel-coordinate layouts, seeded |
//! | [`render`] | `visualize_graph`: PNG (tiny-skia) and SVG drawings, colour by attribute, degree or community |
//! | [`store`] | [`store::GraphStore`]: tenant-scoped, durable ([`store::RedbStore`]) or in memory |
//! | [`tools`] | the registry: names, JSON Schemas, [`tools::call`] |
//! | [`limits`] | [`Limits`], checked before allocation and named in every error |
//!
//! ```
//! use mfn_graph::{algo::centrality, generators};
//! let g = generators::karate_club("karate").unwrap();
//! let pr = centrality::pagerank(&g, &Default::default()).unwrap();
//! let top = (0..34).max_by(|&a, &b| pr[a].total_cmp(&pr[b])).unwrap();
//! assert_eq!(top, 33); // the officer's hub, as in NetworkX
//! ```

pub mod algo;
pub mod error;
pub mod generators;
pub mod io;
pub mod layout;
pub mod limits;
pub mod model;
pub mod network;
pub mod paging;
pub mod render;
pub mod store;
pub mod tools;

pub use error::{ErrorKind, GraphError};
pub use layout::Layout;
pub use limits::Limits;
pub use model::{Attrs, Graph, NodeId, View, validate_name};
pub use render::{Background, ImageFormat, LegendEntry, Visualization, VisualizeArgs, visualize};
