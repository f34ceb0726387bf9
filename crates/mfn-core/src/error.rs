//! Errors of the science layer.
//!
//! Every error names the parameter (or input) at fault and the allowed range, so a
//! service can hand the message to its caller unchanged.

/// Result alias for `mfn-core`.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// What can go wrong in a computation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoreError {
    /// A parameter is outside its allowed range.
    #[error("{field} = {value} is out of range: {allowed}")]
    OutOfRange {
        /// The parameter's name, as in the API.
        field: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// The allowed range, in words (e.g. `must be in [4, 1024]`).
        allowed: String,
    },
    /// An input is malformed (empty, ragged, non-finite, wrong shape).
    #[error("{field}: {reason}")]
    InvalidInput {
        /// The input's name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The simulation diverged (NaN or infinity in the field).
    #[error("simulation produced a non-finite value at step {step}")]
    NonFinite {
        /// 1-based step after which the field stopped being finite.
        step: usize,
    },
    /// The training backend failed.
    #[error("model training failed: {0}")]
    Training(String),
}

impl CoreError {
    /// The parameter or input this error is about.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            CoreError::OutOfRange { field, .. } | CoreError::InvalidInput { field, .. } => {
                Some(field)
            }
            CoreError::NonFinite { .. } | CoreError::Training(_) => None,
        }
    }

    pub(crate) fn out_of_range(
        field: &'static str,
        value: impl std::fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        CoreError::OutOfRange {
            field,
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        CoreError::InvalidInput {
            field,
            reason: reason.into(),
        }
    }
}

/// Check `lo <= v <= hi` (NaN fails), with an error naming `field`.
pub(crate) fn check_range_f64(field: &'static str, v: f64, lo: f64, hi: f64) -> Result<()> {
    if v >= lo && v <= hi {
        Ok(())
    } else {
        Err(CoreError::out_of_range(
            field,
            v,
            format!("must be in [{lo}, {hi}]"),
        ))
    }
}

/// Check `lo <= v <= hi` for an integer parameter.
pub(crate) fn check_range_usize(field: &'static str, v: usize, lo: usize, hi: usize) -> Result<()> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(CoreError::out_of_range(
            field,
            v,
            format!("must be in [{lo}, {hi}]"),
        ))
    }
}
