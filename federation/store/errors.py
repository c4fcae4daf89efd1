"""The store's error kinds, refinements of the project hierarchy in ``bioprocess.errors``.

Both backends raise exactly these, so callers (the SPARQL endpoint, the sync inbox) handle
one set of errors whichever store is configured. Backend failures (disk, network, HTTP 5xx)
are :class:`~bioprocess.errors.StoreUnavailableError`; bad input data is
:class:`~bioprocess.errors.ValidationError`; a missing graph is
:class:`~bioprocess.errors.NotFoundError`.
"""

from __future__ import annotations

from bioprocess.errors import StoreUnavailableError, TwinfedError, ValidationError


class QueryError(ValidationError):
    """A query the read-only query path refuses: bad SPARQL, an update, ``SERVICE``."""

    http_status = 400
    problem_type = "invalid-query"
    title = "Invalid or refused query"


class QueryScopeError(QueryError):
    """A query (``FROM``/``FROM NAMED``) or dataset naming graphs outside the caller's scope.

    The message never says whether the named graph exists.
    """

    http_status = 403
    problem_type = "query-out-of-scope"
    title = "Query outside the caller's graphs"


class ResultFormatError(QueryError):
    """A result format that cannot carry the query's results (e.g. CSV for CONSTRUCT)."""

    http_status = 406
    problem_type = "result-format-not-acceptable"
    title = "Result format not acceptable"


class QueryLimitError(TwinfedError):
    """A query that ran past its time limit (results beyond the row cap are truncated)."""

    http_status = 503
    problem_type = "query-limit-exceeded"
    title = "Query limit exceeded"


class StoreTimeoutError(StoreUnavailableError):
    """The remote store did not answer within the request's time limit."""


class StoreRequestRejectedError(ValidationError):
    """The remote store refused a request as malformed (HTTP 400); carries its message."""

    http_status = 400
    problem_type = "store-request-rejected"
    title = "Request rejected by the store"


def brief(message: object, limit: int = 300) -> str:
    """An engine or server message on one line, cut to ``limit`` characters."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
