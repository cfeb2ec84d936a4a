"""Exceptions of the service layer. One root, :class:`ServiceError`; each subclass carries its HTTP status, which
:mod:`server.app` maps to a response in one place (DESIGN.md §5 rule 6). Messages name what was wrong."""

from __future__ import annotations

__all__ = [
    "BadInput",
    "Conflict",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "ServiceError",
    "ServiceUnavailable",
    "Unauthorized",
]


class ServiceError(Exception):
    """Root of the service's errors; ``status_code`` is the HTTP status it maps to."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = " ".join(str(message).splitlines())


class BadInput(ServiceError):
    """The request's content is wrong (a malformed, truncated or mislabeled upload, a bad field)."""

    status_code = 422
    code = "bad_input"


class Unauthorized(ServiceError):
    """No token, an unknown one, or an expired or revoked one."""

    status_code = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    """The token is valid but its role may not do this (said only where it leaks nothing)."""

    status_code = 403
    code = "forbidden"


class NotFound(ServiceError):
    """No such resource, or one the token may not see (the two answers are the same)."""

    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    """The request conflicts with what is stored (an idempotency key reused for another body, a closed session)."""

    status_code = 409
    code = "conflict"


class PayloadTooLarge(ServiceError):
    """The body is larger than the configured limit."""

    status_code = 413
    code = "payload_too_large"


class ServiceUnavailable(ServiceError):
    """Another service process that must answer does not (e.g. the one running a live session)."""

    status_code = 503
    code = "unavailable"
