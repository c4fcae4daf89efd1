"""The federation's web dashboard: server-rendered pages under ``/ui``, scoped to the caller."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles


def mount_dashboard(app: FastAPI) -> None:
    """Serve the dashboard at ``/ui`` and its (local, vendored) assets at ``/ui/static``."""
    from federation.web import routes, routes_analytics, routes_questions

    app.mount("/ui/static", StaticFiles(packages=[("federation.web", "static")]),
              name="ui-static")
    for module in (routes, routes_questions, routes_analytics):
        app.include_router(module.router, prefix="/ui")
