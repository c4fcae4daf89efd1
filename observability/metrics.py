"""A Prometheus ``/metrics`` endpoint and per-route request metrics for a FastAPI app.

Each app gets its own registry, so several apps in one process (tests, the demo) never
collide. Route labels use the route template (``/batches/{batch_id}``), never the raw path,
so label cardinality stays bounded whatever clients send.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

#: Callables that read a current value (e.g. stored graphs) when Prometheus scrapes.
GaugeReaders = dict[str, tuple[str, Callable[[FastAPI], float]]]


def _route_template(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or "unmatched"


def install_metrics(app: FastAPI, service: str, gauges: GaugeReaders | None = None) -> None:
    """Count requests and time them per route and status; serve them at ``GET /metrics``."""
    registry = CollectorRegistry()
    requests = Counter("twinfed_http_requests", "HTTP requests handled",
                       ("service", "method", "route", "status"), registry=registry)
    latency = Histogram("twinfed_http_request_seconds", "Time to answer an HTTP request",
                        ("service", "method", "route"), registry=registry,
                        buckets=(0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120))
    readers = {name: (Gauge(name, doc, ("service",), registry=registry), read)
               for name, (doc, read) in (gauges or {}).items()}

    @app.middleware("http")
    async def measure(request: Request,
                      call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = _route_template(request)
            requests.labels(service, request.method, route, str(status)).inc()
            latency.labels(service, request.method, route).observe(
                time.perf_counter() - started)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        for gauge, read in readers.values():
            try:
                gauge.labels(service).set(read(app))
            except Exception:  # a scrape must never fail because one reading did
                gauge.labels(service).set(float("nan"))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
