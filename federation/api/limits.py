"""Request limits and fault answers: body size (declared *and* streamed), a rate limit per
credential, SPARQL text size, and clear problem documents for faults that are not the
caller's doing (disk full, nesting too deep) instead of a bare 500.

SPARQL time and result caps live where the query runs (``FederationSettings``:
``sparql_timeout_s``, ``sparql_max_results``, enforced by the store; see
``federation/store/base.py``); this module adds the cap on the query text itself
(:func:`check_query_text`), which every route taking SPARQL or IRIs from a caller applies.

:func:`install_limits` is called once by ``create_app``; routes added later get all of it.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import math
import sqlite3
import threading
import time
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bioprocess.errors import TwinfedError, ValidationError, problem_document

log = logging.getLogger("twinfed.federation.limits")
PROBLEM_JSON = "application/problem+json"
_DISK_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


class PayloadTooLargeError(TwinfedError):
    http_status = 413
    problem_type = "payload-too-large"
    title = "Payload too large"


class RateLimitedError(TwinfedError):
    http_status = 429
    problem_type = "rate-limited"
    title = "Too many requests"


class InsufficientStorageError(TwinfedError):
    http_status = 507
    problem_type = "insufficient-storage"
    title = "Insufficient storage"


def check_query_text(text: str, max_chars: int, what: str = "the SPARQL query") -> str:
    if len(text) > max_chars:
        raise PayloadTooLargeError(f"{what} must be at most {max_chars} characters; got "
                                   f"{len(text)} (TWINFED_FED_MAX_QUERY_CHARS)")
    if "\x00" in text:
        raise ValidationError(f"{what} must not contain NUL characters")
    return text


class TokenBucket:
    """``rate`` requests per second on average, bursts up to ``burst``, per key."""

    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if a request may go now, else the seconds until one may."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > 50_000:  # forget idle callers rather than grow forever
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 600}
            return (1 - tokens) / self.rate if self.rate > 0 else math.inf


def credential_key(scope: Scope) -> str:
    """Rate-limit key: a digest of the bearer token, else the client address."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return "token:" + hashlib.sha256(value).hexdigest()[:24]
    client = scope.get("client")
    return f"client:{client[0] if client else 'unknown'}"


def _problem_bytes(error: TwinfedError, path: str) -> bytes:
    return JSONResponse(problem_document(error, path)).body


class LimitsMiddleware:
    """Pure ASGI: refuses over-limit bodies while they stream, and over-rate callers."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, bucket: TokenBucket,
                 exempt: tuple[str, ...] = ("/health", "/ready", "/metrics")) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.bucket = bucket
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path not in self.exempt:
            wait = self.bucket.take(credential_key(scope))
            if wait > 0:
                error = RateLimitedError(
                    f"this credential may make at most {self.bucket.rate * 60:.0f} requests "
                    f"a minute (bursts of {self.bucket.burst:.0f}); retry in {wait:.1f} s "
                    "(TWINFED_FED_RATE_LIMIT_PER_MIN)")
                await self._answer(send, error, path, {"retry-after": str(math.ceil(wait))})
                return
        received = 0
        limit = self.max_body_bytes
        answered = False
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the 413 went out already: drop what the app says afterwards
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def counted() -> Message:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not started:
                    # Answer now and tell the app the client left: nothing of the request
                    # is processed, and no exception has to cross the app's middleware.
                    answered = True
                    await self._answer(send, PayloadTooLargeError(
                        f"request body must be at most {limit / 2**20:.1f} MiB; got more "
                        "(TWINFED_FED_MAX_REQUEST_MB)"), path, {"connection": "close"})
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, guarded_send)

    @staticmethod
    async def _answer(send: Send, error: TwinfedError, path: str,
                      extra: dict[str, str] | None = None) -> None:
        body = _problem_bytes(error, path)
        headers = [(b"content-type", PROBLEM_JSON.encode()),
                   (b"content-length", str(len(body)).encode())]
        headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
        await send({"type": "http.response.start", "status": error.http_status,
                    "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _problem(request: Request, error: TwinfedError) -> JSONResponse:
    return JSONResponse(problem_document(error, request.url.path),
                        status_code=error.http_status, media_type=PROBLEM_JSON)


def install_limits(app: FastAPI, *, max_body_bytes: int, rate_limit_per_min: float,
                   rate_limit_burst: int) -> None:
    """Add the limits middleware and the fault handlers to ``app``."""
    app.add_middleware(LimitsMiddleware, max_body_bytes=max_body_bytes,
                       bucket=TokenBucket(rate_limit_per_min, rate_limit_burst))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return http_problem(request, exc)

    @app.exception_handler(RecursionError)
    async def too_deep(request: Request, exc: RecursionError) -> JSONResponse:
        return _problem(request, ValidationError("the request body is nested too deeply to "
                                                 "read; flatten it"))

    @app.exception_handler(UnicodeDecodeError)
    async def not_utf8(request: Request, exc: UnicodeDecodeError) -> JSONResponse:
        return _problem(request, ValidationError(f"the request must be UTF-8; byte "
                                                 f"{exc.start} is not ({exc.reason})"))

    @app.exception_handler(OSError)
    async def os_error(request: Request, exc: OSError) -> JSONResponse:
        if exc.errno in _DISK_FULL:
            log.error("disk full on %s: %s", request.url.path, exc)
            return _problem(request, InsufficientStorageError(
                "the federation's disk is full: nothing of this request was kept; free "
                "space and retry (reads keep working)"))
        log.exception("I/O error on %s", request.url.path)
        return _problem(request, _unavailable())

    @app.exception_handler(sqlite3.Error)
    async def sqlite_error(request: Request, exc: sqlite3.Error) -> JSONResponse:
        if "full" in str(exc).lower() or isinstance(exc, sqlite3.OperationalError) and \
                "disk" in str(exc).lower():
            log.error("registry disk full on %s: %s", request.url.path, exc)
            return _problem(request, InsufficientStorageError(
                "the federation's disk is full: the registry could not record this request; "
                "free space and retry (reads keep working)"))
        log.exception("registry error on %s", request.url.path)
        return _problem(request, _unavailable())


def http_problem(request: Request, exc: StarletteHTTPException) -> Response:
    """Starlette's own errors (unknown route, wrong method, unparseable body) as problem
    documents like every other error."""
    if exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    try:
        title = HTTPStatus(exc.status_code).phrase
    except ValueError:
        title = "Error"
    detail = str(exc.detail)
    if exc.status_code == 400 and "parsing the body" in detail:
        detail = ("the request body could not be parsed: it must be well-formed JSON (not "
                  "nested too deeply) matching the operation's schema")
    elif exc.status_code == 404 and detail == "Not Found":
        detail = f"there is no {request.url.path} here; the API is described at /docs"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    body = {"type": f"urn:twinfed:problem:http-{exc.status_code}", "title": title,
            "status": exc.status_code, "detail": detail, "instance": request.url.path}
    return JSONResponse(body, status_code=exc.status_code, media_type=PROBLEM_JSON,
                        headers=exc.headers)


def _unavailable() -> TwinfedError:
    from bioprocess.errors import StoreUnavailableError

    return StoreUnavailableError("the federation could not read or write its data; the "
                                 "federation log has the details; retry later")


def settings_limits(settings: Any) -> dict[str, Any]:
    """The keyword arguments of :func:`install_limits` from ``FederationSettings``."""
    return {"max_body_bytes": settings.max_request_bytes,
            "rate_limit_per_min": settings.rate_limit_per_min,
            "rate_limit_burst": settings.rate_limit_burst}
