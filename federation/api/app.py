"""Build the federation's FastAPI app: settings, registry, store, sync, routes, errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from bioprocess.errors import TwinfedError, ValidationError, problem_document
from federation.api import (
    comparison_routes,
    package_routes,
    question_routes,
    registry_routes,
    signature_routes,
    sparql_routes,
    sync_routes,
)
from federation.api.trust import install_trust
from federation.config import FederationSettings
from federation.registry.service import Registry
from federation.store import open_store
from federation.sync.service import SyncService
from federation.web import mount_dashboard
from observability import install_metrics

log = logging.getLogger("twinfed.federation")
PROBLEM_JSON = "application/problem+json"


def _problem(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def create_app(settings: FederationSettings) -> FastAPI:
    """The federation service; opens its registry and store at start, closes them at stop."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data.mkdir(parents=True, exist_ok=True)
        registry = Registry(settings.registry_path)
        if settings.admin_token:
            registry.ensure_admin(settings.admin_token)
        store = open_store(settings.store_location)
        app.state.registry = registry
        app.state.store = store
        app.state.sync = SyncService(registry, store, audit=app.state.audit)
        try:
            yield
        finally:
            store.close()
            registry.close()

    app = FastAPI(title="twinfed federation", version="1", lifespan=lifespan)
    app.state.settings = settings

    @app.middleware("http")
    async def limit_body(request: Request,
                         call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_request_bytes:
            body = problem_document(ValidationError(
                f"request body is {int(declared) / 2**20:.1f} MiB; the limit is "
                f"{settings.max_request_mb:.0f} MiB (TWINFED_FED_MAX_REQUEST_MB)"),
                request.url.path)
            body["status"] = 413
            return _problem(413, body)
        return await call_next(request)

    @app.exception_handler(TwinfedError)
    async def twinfed_error(request: Request, exc: TwinfedError) -> JSONResponse:
        return _problem(exc.http_status, problem_document(exc, request.url.path))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10])
        return _problem(422, problem_document(ValidationError(details), request.url.path))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return _problem(500, problem_document(
            TwinfedError("internal error; the federation log has the details"),
            request.url.path))

    @app.get("/health", operation_id="health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", operation_id="ready")
    def ready(request: Request) -> dict[str, Any]:
        store = request.app.state.store
        return {"status": "ready", "graphs": len(store.graph_names())}

    install_metrics(app, "federation", {
        "twinfed_federation_graphs": ("Named graphs in the aligned store",
                                      lambda a: len(a.state.store.graph_names())),
        "twinfed_federation_sites": ("Registered sites",
                                     lambda a: len(a.state.registry.sites())),
    })
    app.include_router(registry_routes.router)
    app.include_router(sync_routes.router)
    app.include_router(sparql_routes.router)
    app.include_router(signature_routes.router)
    app.include_router(question_routes.router)
    app.include_router(comparison_routes.router)
    app.include_router(package_routes.router)
    mount_dashboard(app)
    install_trust(app, settings)
    return app
