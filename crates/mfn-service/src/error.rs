//! One error type for every door: an [`ErrorCode`] that maps to both a gRPC status code
//! and an HTTP status, and a message that is safe to send to the client.

use std::time::Duration;

use mfn_core::error::CoreError;

/// What went wrong, in the vocabulary shared by gRPC and HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A field is missing, malformed or out of range.
    InvalidArgument,
    /// No credentials, or credentials that do not check out.
    Unauthenticated,
    /// Valid credentials without the scope the operation needs.
    PermissionDenied,
    /// The named resource does not exist (for this tenant).
    NotFound,
    /// A resource of that name exists already (create without overwrite).
    AlreadyExists,
    /// The request body or message is larger than allowed.
    PayloadTooLarge,
    /// The request body's media type is not one the operation reads.
    UnsupportedMediaType,
    /// Well-formed input the computation cannot process (e.g. the field diverged).
    Unprocessable,
    /// A rate, concurrency or queue limit was hit; retry later.
    ResourceExhausted,
    /// The caller went away or cancelled.
    Cancelled,
    /// The deadline passed before the work finished.
    DeadlineExceeded,
    /// The server is draining or not ready; retry elsewhere or later.
    Unavailable,
    /// A bug. The message never carries internal detail.
    Internal,
}

impl ErrorCode {
    /// Every code, for tables and tests.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::InvalidArgument,
        ErrorCode::Unauthenticated,
        ErrorCode::PermissionDenied,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::Unprocessable,
        ErrorCode::ResourceExhausted,
        ErrorCode::Cancelled,
        ErrorCode::DeadlineExceeded,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The canonical gRPC status code number (`google.rpc.Code`).
    pub fn grpc_code(self) -> i32 {
        match self {
            ErrorCode::Cancelled => 1,
            ErrorCode::InvalidArgument
            | ErrorCode::Unprocessable
            | ErrorCode::UnsupportedMediaType => 3,
            ErrorCode::DeadlineExceeded => 4,
            ErrorCode::NotFound => 5,
            ErrorCode::AlreadyExists => 6,
            ErrorCode::PermissionDenied => 7,
            ErrorCode::ResourceExhausted | ErrorCode::PayloadTooLarge => 8,
            ErrorCode::Internal => 13,
            ErrorCode::Unavailable => 14,
            ErrorCode::Unauthenticated => 16,
        }
    }

    /// The HTTP status for REST, WebSocket and MCP-over-HTTP.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidArgument => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::PermissionDenied => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::AlreadyExists => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::Unprocessable => 422,
            ErrorCode::ResourceExhausted => 429,
            // 499 is the de-facto "client closed request" status (nginx).
            ErrorCode::Cancelled => 499,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
            ErrorCode::DeadlineExceeded => 504,
        }
    }

    /// The stable name clients see in JSON error bodies (`error_code`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::AlreadyExists => "ALREADY_EXISTS",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ErrorCode::Unprocessable => "UNPROCESSABLE",
            ErrorCode::ResourceExhausted => "RESOURCE_EXHAUSTED",
            ErrorCode::Cancelled => "CANCELLED",
            ErrorCode::DeadlineExceeded => "DEADLINE_EXCEEDED",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error of the service layer: a code, a client-safe message, the field it is
/// about (for `INVALID_ARGUMENT`) and a retry hint (for `RESOURCE_EXHAUSTED`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    /// The shared error code.
    pub code: ErrorCode,
    /// Lowercase, no trailing period; names the field and the limit when it can.
    pub message: String,
    /// The request field this error is about.
    pub field: Option<String>,
    /// How long the client should wait before retrying.
    pub retry_after: Option<Duration>,
}

/// Longest echo of a client's value (a field name, a string) in an error, bytes.
pub const MAX_ECHO_BYTES: usize = 128;
/// Longest error message, bytes: a message quotes what the client sent, and must not
/// grow with it.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// `s` cut to at most [`MAX_ECHO_BYTES`] bytes on a character boundary, with an
/// ellipsis when it was cut.
pub fn truncate(s: &str) -> String {
    truncate_to(s, MAX_ECHO_BYTES)
}

fn truncate_to(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl ServiceError {
    /// An error with a code and a message (cut to [`MAX_MESSAGE_BYTES`]).
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.len() > MAX_MESSAGE_BYTES {
            message = truncate_to(&message, MAX_MESSAGE_BYTES);
        }
        ServiceError {
            code,
            message,
            field: None,
            retry_after: None,
        }
    }

    /// `INVALID_ARGUMENT` about `field` (cut to [`MAX_ECHO_BYTES`]).
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ServiceError {
            field: Some(truncate(field)),
            ..ServiceError::new(ErrorCode::InvalidArgument, message)
        }
    }

    /// `INVALID_ARGUMENT`: `field = value is out of range: must be in [lo, hi]`, the
    /// same wording as `mfn-core`.
    pub fn out_of_range(field: &str, value: impl std::fmt::Display, allowed: &str) -> Self {
        ServiceError::invalid(
            field,
            format!("{field} = {value} is out of range: {allowed}"),
        )
    }

    /// `RESOURCE_EXHAUSTED` with a retry hint.
    pub fn exhausted(message: impl Into<String>, retry_after: Duration) -> Self {
        ServiceError {
            retry_after: Some(retry_after),
            ..ServiceError::new(ErrorCode::ResourceExhausted, message)
        }
    }

    /// `UNAVAILABLE` because the server is shutting down.
    pub fn draining() -> Self {
        ServiceError {
            retry_after: Some(Duration::from_secs(1)),
            ..ServiceError::new(
                ErrorCode::Unavailable,
                "server is shutting down; retry on another replica",
            )
        }
    }

    /// `CANCELLED`: the caller went away.
    pub fn cancelled() -> Self {
        ServiceError::new(ErrorCode::Cancelled, "request cancelled by the client")
    }

    /// `INTERNAL`: the detail goes to the log, the client gets a generic message.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(detail = %detail, "internal error");
        ServiceError::new(ErrorCode::Internal, "internal error")
    }
}

impl From<CoreError> for ServiceError {
    fn from(e: CoreError) -> Self {
        match &e {
            CoreError::OutOfRange { field, .. } | CoreError::InvalidInput { field, .. } => {
                ServiceError::invalid(field, e.to_string())
            }
            CoreError::NonFinite { .. } => {
                ServiceError::new(ErrorCode::Unprocessable, e.to_string())
            }
            CoreError::Training(_) => ServiceError::internal(&e),
        }
    }
}

impl From<mfn_graph::GraphError> for ServiceError {
    fn from(e: mfn_graph::GraphError) -> Self {
        use mfn_graph::{ErrorKind, GraphError};
        let field = match &e {
            GraphError::InvalidArgument { field, .. }
            | GraphError::NodeNotFound { field, .. }
            | GraphError::EdgeNotFound { field, .. } => Some(field.clone()),
            GraphError::GraphNotFound { .. } => Some("graph".to_owned()),
            GraphError::GraphExists { .. } => Some("name".to_owned()),
            GraphError::LimitExceeded { limit, .. } => Some((*limit).to_owned()),
            GraphError::Parse { .. } => Some("data".to_owned()),
            GraphError::UnknownTool(_) => Some("tool".to_owned()),
            _ => None,
        };
        let code = match e.kind() {
            ErrorKind::InvalidArgument => ErrorCode::InvalidArgument,
            ErrorKind::NotFound => ErrorCode::NotFound,
            ErrorKind::AlreadyExists => ErrorCode::AlreadyExists,
            ErrorKind::LimitExceeded => ErrorCode::PayloadTooLarge,
            ErrorKind::FailedPrecondition => ErrorCode::Unprocessable,
            ErrorKind::Cancelled => return ServiceError::cancelled(),
            ErrorKind::Internal => return ServiceError::internal(&e),
            ErrorKind::Unavailable => ErrorCode::Unavailable,
        };
        ServiceError {
            field,
            ..ServiceError::new(code, e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_name_and_a_sane_status() {
        let mut names = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(names.insert(code.as_str()));
            assert!((1..=16).contains(&code.grpc_code()));
            let s = code.http_status();
            assert!((400..=599).contains(&s), "{code}: {s}");
        }
    }

    #[test]
    fn table_matches_the_contract() {
        use ErrorCode::*;
        let table = [
            (InvalidArgument, 3, 400),
            (Unauthenticated, 16, 401),
            (PermissionDenied, 7, 403),
            (NotFound, 5, 404),
            (AlreadyExists, 6, 409),
            (PayloadTooLarge, 8, 413),
            (Unprocessable, 3, 422),
            (ResourceExhausted, 8, 429),
            (Unavailable, 14, 503),
            (DeadlineExceeded, 4, 504),
            (Internal, 13, 500),
        ];
        for (code, grpc, http) in table {
            assert_eq!(
                (code.grpc_code(), code.http_status()),
                (grpc, http),
                "{code}"
            );
        }
    }

    #[test]
    fn core_errors_keep_their_field() {
        let e: ServiceError = mfn_core::field::SimulationParams {
            alpha: 0.3,
            ..Default::default()
        }
        .validate()
        .unwrap_err()
        .into();
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert_eq!(e.field.as_deref(), Some("alpha"));
        assert!(e.message.contains("0.25"), "{}", e.message);
    }

    #[test]
    fn internal_errors_hide_detail() {
        let e = ServiceError::internal("secret path /etc/x");
        assert_eq!(e.message, "internal error");
    }
}
