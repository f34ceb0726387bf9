//! The one error type of the SDK.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server (or the transport, as a status) answered with a gRPC error.
    #[error("{}: {message}", code_name(*code))]
    Status {
        /// The gRPC status code.
        code: Code,
        /// The status message.
        message: String,
        /// The request field at fault, from a `google.rpc.BadRequest` detail.
        field: Option<String>,
        /// The full status, with metadata and details.
        status: Box<Status>,
    },
    /// The channel could not be built or connected.
    #[error("{}", chain(.0))]
    Transport(#[from] tonic::transport::Error),
    /// The configuration was refused before dialing.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
}

impl From<Status> for ClientError {
    fn from(status: Status) -> Self {
        let field = status
            .get_error_details()
            .bad_request()
            .and_then(|b| b.field_violations.first())
            .map(|v| v.field.clone());
        ClientError::Status {
            code: status.code(),
            message: status.message().to_owned(),
            field,
            status: Box::new(status),
        }
    }
}

impl ClientError {
    /// The gRPC code, when the failure was a status.
    pub fn code(&self) -> Option<Code> {
        match self {
            ClientError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The request field named by a `BadRequest` detail, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            ClientError::Status { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// The full gRPC status, when the failure was a status.
    pub fn status(&self) -> Option<&Status> {
        match self {
            ClientError::Status { status, .. } => Some(status),
            _ => None,
        }
    }

    /// Whether the retry policy would try this failure again.
    pub fn is_retryable(&self) -> bool {
        self.code().is_some_and(is_retryable)
    }
}

/// `UNAVAILABLE`, `DEADLINE_EXCEEDED` and `RESOURCE_EXHAUSTED`: the only codes a
/// call is retried on. Anything else (bad input, auth, bugs) fails the same way
/// again.
pub fn is_retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted
    )
}

/// The server's retry hint: `google.rpc.RetryInfo`, else `retry-after` seconds.
pub(crate) fn retry_hint(status: &Status) -> Option<Duration> {
    if let Some(d) = status
        .get_error_details()
        .retry_info()
        .and_then(|r| r.retry_delay)
    {
        return Some(d);
    }
    status
        .metadata()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// An error and its sources on one line: `transport error: tcp connect error: ...`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        // hyper wraps errors in layers that repeat their source's text.
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// The code as the gRPC spec spells it, in lowercase.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    #[test]
    fn status_keeps_code_message_and_field() {
        let mut d = ErrorDetails::new();
        d.add_bad_request_violation("grid_size", "must be at most 512");
        let s = Status::with_error_details(Code::InvalidArgument, "grid_size too big", d);
        let e = ClientError::from(s);
        assert_eq!(e.code(), Some(Code::InvalidArgument));
        assert_eq!(e.field(), Some("grid_size"));
        assert_eq!(e.to_string(), "invalid_argument: grid_size too big");
        assert!(!e.is_retryable());
    }

    #[test]
    fn retry_hint_prefers_retry_info() {
        let mut d = ErrorDetails::new();
        d.set_retry_info(Some(Duration::from_millis(250)));
        let mut s = Status::with_error_details(Code::ResourceExhausted, "busy", d);
        s.metadata_mut().insert("retry-after", "1".parse().unwrap());
        assert_eq!(retry_hint(&s), Some(Duration::from_millis(250)));
        let mut plain = Status::resource_exhausted("busy");
        plain
            .metadata_mut()
            .insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_hint(&plain), Some(Duration::from_secs(2)));
        assert_eq!(retry_hint(&Status::unavailable("down")), None);
    }

    #[test]
    fn only_transient_codes_are_retryable() {
        for c in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
        ] {
            assert!(is_retryable(c));
        }
        for c in [
            Code::InvalidArgument,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::Internal,
            Code::NotFound,
        ] {
            assert!(!is_retryable(c));
        }
    }
}
