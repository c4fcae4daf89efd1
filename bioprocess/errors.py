"""The project-wide error hierarchy, shared by both services and the CLI.

Every error a user can cause or meet is a :class:`TwinfedError`; each boundary (the CLI,
the FastAPI apps) translates it once: one readable line, or an RFC 9457 problem document.
Messages follow the form "what must hold; what was found instead".
"""

from __future__ import annotations


class TwinfedError(Exception):
    """Base of every error a user of twinfed can act on."""

    #: HTTP status used when the error crosses an API boundary.
    http_status: int = 500
    #: Short, stable problem type used in RFC 9457 documents.
    problem_type: str = "twinfed-error"
    title: str = "twinfed error"


class NotFoundError(TwinfedError):
    http_status = 404
    problem_type = "not-found"
    title = "Not found"


class ConflictError(TwinfedError):
    http_status = 409
    problem_type = "conflict"
    title = "Conflict"


class ValidationError(TwinfedError):
    """Input that breaks a declared constraint (bundle format, SHACL shape, payload)."""

    http_status = 422
    problem_type = "validation-failed"
    title = "Validation failed"


class StoreUnavailableError(TwinfedError):
    http_status = 503
    problem_type = "store-unavailable"
    title = "Store unavailable"


class NotFittedError(TwinfedError):
    http_status = 409
    problem_type = "not-fitted"
    title = "Model not fitted"


def problem_document(error: TwinfedError, instance: str | None = None) -> dict[str, object]:
    """The RFC 9457 problem-details body for ``error`` (no stack trace, ever)."""
    body: dict[str, object] = {
        "type": f"urn:twinfed:problem:{error.problem_type}",
        "title": error.title,
        "status": error.http_status,
        "detail": str(error),
    }
    if instance is not None:
        body["instance"] = instance
    return body
