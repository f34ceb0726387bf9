//! The one error type of the crate, with a coarse [`ErrorKind`] that transports map to
//! their status codes (`mfn-service` maps it to its `ErrorCode`).
//!
//! Every message names the field or the limit at fault, lowercase, without a trailing
//! period: `source: node 17 not in graph`, `k: must be <= num_nodes (34)`,
//! `nodes = 2000001 exceeds max_nodes = 2000000`.

/// What went wrong, coarsely: the class a transport maps to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's arguments or input data are wrong (HTTP 400, gRPC `INVALID_ARGUMENT`).
    InvalidArgument,
    /// A graph, node or edge does not exist (404, `NOT_FOUND`).
    NotFound,
    /// A graph with that name exists already (409, `ALREADY_EXISTS`).
    AlreadyExists,
    /// A configured limit was exceeded (413/422, `RESOURCE_EXHAUSTED`).
    LimitExceeded,
    /// The graph does not meet the algorithm's precondition: negative cycle, not a DAG,
    /// no convergence (422, `FAILED_PRECONDITION`).
    FailedPrecondition,
    /// The caller went away or the deadline passed (`CANCELLED`).
    Cancelled,
    /// The store failed (500, `INTERNAL`); the detail is for the log.
    Internal,
    /// A shared store cannot be reached now; the call may be retried (503,
    /// `UNAVAILABLE`).
    Unavailable,
}

/// An error of the graph engine.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    /// A field of the arguments or of an input file is invalid.
    #[error("{field}: {message}")]
    InvalidArgument {
        /// The argument (or `line N` of an input) at fault.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A node named by an argument is not in the graph.
    #[error("{field}: node {node} not in graph")]
    NodeNotFound {
        /// The argument that named the node.
        field: String,
        /// The node id, as JSON.
        node: String,
    },
    /// An edge named by an argument is not in the graph.
    #[error("{field}: edge ({from}, {to}) not in graph")]
    EdgeNotFound {
        /// The argument that named the edge.
        field: String,
        /// Source node id, as JSON.
        from: String,
        /// Target node id, as JSON.
        to: String,
    },
    /// No graph of that name for this tenant.
    #[error("graph: {name:?} not found")]
    GraphNotFound {
        /// The graph name.
        name: String,
    },
    /// A graph of that name exists already.
    #[error("name: graph {name:?} already exists")]
    GraphExists {
        /// The graph name.
        name: String,
    },
    /// A size limit was exceeded; checked before any allocation.
    #[error("{what} = {value} exceeds {limit} = {max}")]
    LimitExceeded {
        /// The quantity measured (`nodes`, `edges`, `bytes`, `k`...).
        what: String,
        /// Its value.
        value: u64,
        /// The name of the limit (a [`crate::Limits`] field).
        limit: &'static str,
        /// The limit.
        max: u64,
    },
    /// Malformed input file (CSV, node-link JSON, GraphML).
    #[error("{format} line {line}: {message}")]
    Parse {
        /// `csv`, `json` or `graphml`.
        format: &'static str,
        /// 1-based line of the fault (0 when unknown).
        line: usize,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The graph does not meet the algorithm's precondition.
    #[error("{0}")]
    FailedPrecondition(String),
    /// No tool of that name.
    #[error("tool: unknown tool {0:?}")]
    UnknownTool(String),
    /// The call was cancelled (see [`crate::tools::Control`]).
    #[error("cancelled")]
    Cancelled,
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
    /// A shared store cannot be reached now (connection refused, lost or timed out), or
    /// refuses the credentials it was configured with.
    #[error("graph store unavailable: {0}")]
    Unavailable(String),
}

impl GraphError {
    /// The coarse class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            GraphError::InvalidArgument { .. }
            | GraphError::Parse { .. }
            | GraphError::UnknownTool(_) => ErrorKind::InvalidArgument,
            GraphError::NodeNotFound { .. }
            | GraphError::EdgeNotFound { .. }
            | GraphError::GraphNotFound { .. } => ErrorKind::NotFound,
            GraphError::GraphExists { .. } => ErrorKind::AlreadyExists,
            GraphError::LimitExceeded { .. } => ErrorKind::LimitExceeded,
            GraphError::FailedPrecondition(_) => ErrorKind::FailedPrecondition,
            GraphError::Cancelled => ErrorKind::Cancelled,
            GraphError::Store(_) => ErrorKind::Internal,
            GraphError::Unavailable(_) => ErrorKind::Unavailable,
        }
    }

    /// An [`GraphError::InvalidArgument`] for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        GraphError::InvalidArgument {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A [`GraphError::NodeNotFound`] for `node` named by `field`.
    pub fn no_node(field: impl Into<String>, node: &crate::NodeId) -> Self {
        GraphError::NodeNotFound {
            field: field.into(),
            node: node.to_string(),
        }
    }

    /// A [`GraphError::LimitExceeded`] when `value > max`, else `Ok`.
    pub fn check_limit(
        what: &str,
        value: usize,
        limit: &'static str,
        max: usize,
    ) -> Result<(), GraphError> {
        if value > max {
            Err(GraphError::LimitExceeded {
                what: what.to_owned(),
                value: value as u64,
                limit,
                max: max as u64,
            })
        } else {
            Ok(())
        }
    }
}
