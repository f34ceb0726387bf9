//! The algorithms, each a pure function over a [`crate::Graph`] with NetworkX's
//! semantics. They return values in node order (insertion order); the tool layer
//! ([`crate::tools`]) pairs them with node ids, sorts and pages them.

pub(crate) mod adjacency;
mod brandes;
pub mod centrality;
pub mod community;
mod csr;
mod msbfs;
mod pair;
pub mod paths;
mod sssp;
pub mod structure;
