//! Errors as Python exceptions.
//!
//! Every failure becomes an instance of a class of `mfn._errors`, chosen by the
//! service's error code: `INVALID_ARGUMENT` is `mfn.InvalidArgument`, a subclass of both
//! `mfn.MfnError` and `ValueError`, whose message names the field and the limit exactly
//! as the server and the CLI do. The gRPC client raises the same classes, so code that
//! catches them does not care where the computation ran.

use mfn_core::CoreError;
use mfn_service::ServiceError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// `mfn._errors.error_for(code, message, field)`: the exception to raise.
pub fn service_err(py: Python<'_>, e: &ServiceError) -> PyErr {
    raise(py, e.code.as_str(), &e.message, e.field.as_deref())
}

/// A science error, with the code the service layer gives it.
pub fn core_err(py: Python<'_>, e: CoreError) -> PyErr {
    service_err(py, &ServiceError::from(e))
}

/// A core error whose field the caller knows under another name (the reference's
/// parameter names): the name is replaced in the field and in the message.
pub fn core_err_renamed(py: Python<'_>, e: CoreError, renames: &[(&str, &str)]) -> PyErr {
    let mut e = ServiceError::from(e);
    if let Some(f) = e.field.clone()
        && let Some((_, to)) = renames.iter().find(|(from, _)| *from == f)
    {
        e.message = e.message.replacen(&f, to, 1);
        e.field = Some((*to).to_string());
    }
    service_err(py, &e)
}

/// `INVALID_ARGUMENT` about `field`.
pub fn invalid(py: Python<'_>, field: &str, message: String) -> PyErr {
    raise(py, "INVALID_ARGUMENT", &message, Some(field))
}

fn raise(py: Python<'_>, code: &str, message: &str, field: Option<&str>) -> PyErr {
    let made = py
        .import("mfn._errors")
        .and_then(|m| m.getattr("error_for"))
        .and_then(|f| f.call1(PyTuple::new(py, [Some(code), Some(message), field])?));
    match made {
        Ok(exc) => PyErr::from_value(exc),
        // The package is incomplete (the module imported alone): still a ValueError.
        Err(_) => pyo3::exceptions::PyValueError::new_err(message.to_string()),
    }
}
