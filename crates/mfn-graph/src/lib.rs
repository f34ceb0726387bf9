//! # mfn-graph — the graph engine of MFN
pub mod algo;
pub mod error;
pub mod generators;
pub mod io;
pub mod limits;
pub mod model;
pub mod paging;

pub use error::{ErrorKind, GraphError};
pub use limits::Limits;
pub use model::{Attrs, Graph, NodeId, View, validate_name};
