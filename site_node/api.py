"""The site node's HTTP API (FastAPI): ingest bundles and read what the site holds.

Routers only parse, call :mod:`site_node.ingest.service` or
:class:`site_node.repository.SiteRepository`, and serialise; every
:class:`~bioprocess.errors.TwinfedError` becomes an RFC 9457 problem document.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from neo4j import Driver

from bioprocess.errors import TwinfedError, ValidationError, problem_document
from observability import install_metrics
from site_node.analysis.service import analyse
from site_node.config import SiteSettings
from site_node.db import connect
from site_node.envelope_view import envelope_for_batch
from site_node.ingest.problems import BundleError
from site_node.ingest.service import ingest_bundle
from site_node.repository import BatchFilter, SiteRepository

log = logging.getLogger("twinfed.site")
PROBLEM_JSON = "application/problem+json"


def _problem(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _repository(request: Request) -> SiteRepository:
    return SiteRepository(request.app.state.driver, request.app.state.settings.neo4j_database)


Repo = Annotated[SiteRepository, Depends(_repository)]


def create_app(settings: SiteSettings, driver: Driver | None = None) -> FastAPI:
    """Build the site API; opens (and later closes) its own driver unless one is given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = driver is None
        app.state.driver = connect(settings) if own else driver
        try:
            yield
        finally:
            if own:
                app.state.driver.close()

    app = FastAPI(title=f"twinfed site node {settings.code or ''}".strip(), version="1",
                  lifespan=lifespan)
    app.state.settings = settings

    @app.exception_handler(TwinfedError)
    async def twinfed_error(request: Request, exc: TwinfedError) -> JSONResponse:
        body = problem_document(exc, instance=request.url.path)
        if isinstance(exc, BundleError):
            body["problems"] = [str(p) for p in exc.problems]
        return _problem(exc.http_status, body)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _problem(422, problem_document(ValidationError(details), request.url.path))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        body = problem_document(TwinfedError("internal error; the site log has the details"),
                                request.url.path)
        return _problem(500, body)

    @app.get("/health", operation_id="site_health")
    def health(repo: Repo) -> dict[str, Any]:
        return {"status": "ok", **repo.site_summary()}

    @app.get("/ready", operation_id="site_ready")
    def ready(request: Request) -> JSONResponse:
        """Readiness: the site's Neo4j answers (liveness is ``/health``'s process answer)."""
        try:
            request.app.state.driver.verify_connectivity()
        except Exception as exc:  # any driver failure means "not ready", said plainly
            return JSONResponse({"status": "not ready", "reason": f"Neo4j: {exc}"},
                                status_code=503)
        return JSONResponse({"status": "ready"})

    install_metrics(app, "site", {
        "twinfed_site_batches": ("Batches held by the site",
                                 lambda a: SiteRepository(a.state.driver).site_summary()[
                                     "batches"]),
    })

    @app.get("/batches", operation_id="list_batches")
    def list_batches(
        repo: Repo,
        process: str | None = None,
        status: str | None = None,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> list[dict[str, Any]]:
        return repo.list_batches(BatchFilter(process, status, started_after, started_before,
                                             limit))

    @app.get("/batches/{batch_id}", operation_id="get_batch")
    def get_batch(batch_id: str, repo: Repo) -> dict[str, Any]:
        return repo.get_batch(batch_id)

    @app.get("/batches/{batch_id}/series/{tag}", operation_id="get_series")
    def get_series(batch_id: str, tag: str, repo: Repo,
                   max_points: Annotated[int | None, Query(ge=2, le=1_000_000)] = None
                   ) -> dict[str, Any]:
        return repo.get_series(batch_id, tag, max_points)

    @app.get("/batches/{batch_id}/envelope/{tag}", operation_id="get_batch_envelope")
    def get_envelope(batch_id: str, tag: str, request: Request) -> dict[str, Any]:
        """The tag's reference envelope laid over this batch's phases (hours since start)."""
        return envelope_for_batch(request.app.state.driver, batch_id, tag,
                                  settings.neo4j_database)

    @app.post("/batches", operation_id="ingest_bundle", status_code=200)
    async def ingest(request: Request) -> JSONResponse:
        """Ingest a zipped bundle sent as the request body (``application/zip``)."""
        declared = request.headers.get("content-length")
        if declared and int(declared) > settings.max_upload_bytes:
            return _too_large(request, int(declared))
        with tempfile.TemporaryDirectory(prefix="twinfed-upload-") as folder:
            path = Path(folder) / "bundle.zip"
            received = 0
            with path.open("wb") as out:
                async for chunk in request.stream():
                    received += len(chunk)
                    if received > settings.max_upload_bytes:
                        return _too_large(request, received)
                    out.write(chunk)
            if received == 0:
                raise ValidationError("request body is empty; send the bundle as a zip "
                                      "(Content-Type: application/zip)")
            report = ingest_bundle(request.app.state.driver, path, site_code=settings.code,
                                   max_file_bytes=settings.max_file_bytes,
                                   database=settings.neo4j_database)
        if report.written and report.manifest_site:
            # Envelopes and events depend on every batch of the process: recompute them.
            analyse(request.app.state.driver, site_code=report.manifest_site,
                    database=settings.neo4j_database)
        body = {
            "stored": [{"batch_id": w.batch_id, "outcome": w.outcome, "rev": w.rev,
                        "points": w.points} for w in report.written],
            "refused": [{"batch_id": r.batch_id, "problems": [str(p) for p in r.problems]}
                        for r in report.refused],
            "seconds": round(report.seconds, 3),
            "estimates": [{"batch_id": e.batch_id, "model_id": e.model_id,
                           "estimates": e.estimates, "out_of_domain": e.out_of_domain,
                           "error": e.error} for e in report.estimates],
        }
        if report.refused:
            problem = problem_document(ValidationError(
                f"{len(report.refused)} of {len(report.refused) + len(report.written)} "
                "batches refused; nothing of a refused batch was written"), request.url.path)
            return _problem(422, {**problem, **body})
        return JSONResponse(body)

    def _too_large(request: Request, size: int) -> JSONResponse:
        body = problem_document(ValidationError(
            f"request body is {size / 2**20:.1f} MiB; the limit is "
            f"{settings.max_upload_mb:.0f} MiB (TWINFED_SITE_MAX_UPLOAD_MB)"), request.url.path)
        body["status"] = 413
        return _problem(413, body)

    return app
