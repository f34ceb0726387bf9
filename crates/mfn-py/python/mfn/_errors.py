"""Exceptions of the ``mfn`` package, the same in-process and over the network.

Every failure is an :class:`MfnError` carrying the service's error ``code`` (the names of
``mfn_service::ErrorCode``: ``INVALID_ARGUMENT``, ``RESOURCE_EXHAUSTED``, …), the request
``field`` at fault when there is one, and, for remote calls, the ``request_id``.
Subclasses pick the Python base a caller would expect: bad input is a ``ValueError``,
a deadline a ``TimeoutError``, an unreachable or overloaded server a
``ConnectionError``. The messages name the field and the limit, exactly as the server
and the CLI word them.
"""

from __future__ import annotations


class MfnError(Exception):
    """Base class: ``code``, ``field`` (or ``None``), ``request_id`` (or ``None``)."""

    code = "UNKNOWN"

    def __init__(self, message: str, code: str | None = None, field: str | None = None,
                 request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field
        self.request_id = request_id


class InvalidArgument(MfnError, ValueError):
    """A parameter is missing, malformed or out of range (``field`` names it)."""

    code = "INVALID_ARGUMENT"


class Unprocessable(MfnError, ValueError):
    """Well-formed input the computation cannot process (e.g. the field diverged)."""

    code = "UNPROCESSABLE"


class NotFound(MfnError, LookupError):
    """The named resource (a stored graph, …) does not exist."""

    code = "NOT_FOUND"


class AlreadyExists(MfnError, ValueError):
    """A resource of that name exists already."""

    code = "ALREADY_EXISTS"


class Unauthenticated(MfnError, PermissionError):
    """No credentials, or credentials the server refused (bad key, signature, replay)."""

    code = "UNAUTHENTICATED"


class PermissionDenied(MfnError, PermissionError):
    """Valid credentials without the scope the operation needs."""

    code = "PERMISSION_DENIED"


class ResourceExhausted(MfnError, ConnectionError):
    """A rate, concurrency, queue or size limit was hit; retried by the clients."""

    code = "RESOURCE_EXHAUSTED"


class Unavailable(MfnError, ConnectionError):
    """The server is unreachable, draining or not ready; retried by the clients."""

    code = "UNAVAILABLE"


class DeadlineExceeded(MfnError, TimeoutError):
    """The deadline passed before the answer came; retried by the clients."""

    code = "DEADLINE_EXCEEDED"


class Cancelled(MfnError):
    """The call was cancelled."""

    code = "CANCELLED"


class Internal(MfnError, RuntimeError):
    """A bug on the other side; the message carries no internal detail."""

    code = "INTERNAL"


_BY_CODE = {cls.code: cls for cls in (
    InvalidArgument, Unprocessable, NotFound, AlreadyExists, Unauthenticated,
    PermissionDenied, ResourceExhausted, Unavailable, DeadlineExceeded, Cancelled, Internal)}
# The service's PAYLOAD_TOO_LARGE travels as RESOURCE_EXHAUSTED over gRPC.
_BY_CODE["PAYLOAD_TOO_LARGE"] = ResourceExhausted


def error_for(code: str, message: str, field: str | None = None,
              request_id: str | None = None) -> MfnError:
    """The exception for an error ``code`` (unknown codes give a plain :class:`MfnError`)."""
    cls = _BY_CODE.get(code, MfnError)
    return cls(message, code=code, field=field, request_id=request_id)
