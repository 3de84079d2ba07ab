"""Domain errors and the one table that maps them to HTTP statuses.

Processing handlers never raise across the invocation boundary: they return
``{"error": {"code": ..., "message": ...}}`` and the caller turns the code back
into the same exception class, so an error means the same thing in every
deployment (in-process, worker pool, Lambda).
"""

from __future__ import annotations

from typing import Any


class DeltaError(Exception):
    """Base of every error the API reports to a client."""

    code = "internal"
    status = 500

    def __init__(self, message: str = "internal server error") -> None:
        super().__init__(message)
        self.message = message


class BadRequest(DeltaError):
    code, status = "bad_request", 400


class Unauthorized(DeltaError):
    code, status = "unauthorized", 401


class Forbidden(DeltaError):
    code, status = "forbidden", 403


class NotFound(DeltaError):
    code, status = "not_found", 404


class Conflict(DeltaError):
    """The request clashes with work in progress (e.g. another rewrap is running)."""

    code, status = "conflict", 409


class Gone(DeltaError):
    """The database has been shredded: its entities can never be read again."""

    code, status = "gone", 410


class PreconditionFailed(DeltaError):
    code, status = "precondition_failed", 412


class PayloadTooLarge(DeltaError):
    code, status = "payload_too_large", 413


class IntegrityError(DeltaError):
    """Stored bytes failed authentication: tampering, corruption or a wrong key."""

    code, status = "integrity", 500


class Unavailable(DeltaError):
    """A dependency (storage, a worker) failed; nothing was half-written."""

    code, status = "unavailable", 503


_BY_CODE: dict[str, type[DeltaError]] = {
    cls.code: cls
    for cls in (
        DeltaError,
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        Gone,
        PreconditionFailed,
        PayloadTooLarge,
        IntegrityError,
        Unavailable,
    )
}


def to_result(exc: DeltaError) -> dict[str, Any]:
    """Encode an error as a handler result (plain JSON)."""
    return {"error": {"code": exc.code, "message": exc.message}}


def from_result(result: dict[str, Any]) -> DeltaError | None:
    """Decode a handler result's error, or None when the result is a success."""
    err = result.get("error")
    if err is None:
        return None
    cls = _BY_CODE.get(str(err.get("code")), DeltaError)
    return cls(str(err.get("message", "internal server error")))
