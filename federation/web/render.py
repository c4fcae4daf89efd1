"""Render a page: log-in check, the caller's scoped reader, a Jinja2 template, errors.

Every page handler is ``build(request, reader) -> (template, context)``; :func:`page` wraps
it: no session sends the browser to the login form; a :class:`TwinfedError` (bad filter,
unknown batch, bad SPARQL) is shown on the page in plain words with its HTTP status; the
server time is reported in a ``Server-Timing`` header (the benchmark reads it).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from bioprocess.errors import TwinfedError
from federation.api.roles import has_permission, record_query
from federation.registry.service import ForbiddenError, Principal
from federation.web.queries import Reader
from federation.web.session import LoginRequired, current_principal

log = logging.getLogger("twinfed.federation.web")

_BATCH_IRI = re.compile(r"^https://w3id\.org/twinfed/site/([^/]+)/batch/([^/]+)")

#: Pages in the menu: (path, label, the permission that opens it).
NAV = [("sites", "Sites", "sites.read"), ("deviations", "Deviations", "query"),
       ("batches", "Batches", "query"), ("signatures", "Signatures", "signatures.read"),
       ("compare", "Compare sites", "compare"), ("questions", "Questions", "query"),
       ("trace", "Trace", "trace"), ("models", "Models", "models.read"),
       ("packages", "Packages", "packages.read")]
_PERMISSION = {path: permission for path, _, permission in NAV}


def permitted(principal: Principal, permission: str) -> bool:
    """What the federation's role table grants (``federation/api/roles.py``); sponsor scope
    applies on top."""
    return has_permission(principal, permission)


def record(request: Request, principal: Principal, kind: str, text: str) -> None:
    """A query of record (quality, auditor) goes to the audit log, as on the API."""
    record_query(request, principal, kind, text)


def batch_link(value: object) -> Markup | object:
    """A batch IRI (or one of its resources) as a link to the batch page; else the value."""
    if isinstance(value, str) and (m := _BATCH_IRI.match(value)):
        site, batch_id = m.group(1), m.group(2)
        return Markup('<a href="/ui/batches/{}/{}" title="{}">{} {}</a>').format(
            quote(site), quote(batch_id), value, site, batch_id)
    return value


def number(value: object, digits: int = 3) -> object:
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e5 else f"{value:.3e}"
    return "" if value is None else value


ENV = Environment(loader=PackageLoader("federation.web", "templates"),
                  autoescape=select_autoescape(["html"]), trim_blocks=True,
                  lstrip_blocks=True)
ENV.filters["batch_link"] = batch_link
ENV.filters["num"] = number
ENV.globals["quote"] = lambda s: quote(str(s), safe="")

Builder = Callable[[Request, Reader], tuple[str, dict[str, Any]]]


def reader_for(request: Request) -> Reader:
    settings = request.app.state.settings
    return Reader(request.app.state.store, current_principal(request),
                  timeout_s=settings.sparql_timeout_s, max_results=settings.sparql_max_results)


def html(request: Request, template: str, context: dict[str, Any], status: int = 200,
         started: float | None = None) -> HTMLResponse:
    body = ENV.get_template(template).render(request=request, **context)
    response = HTMLResponse(body, status_code=status)
    if started is not None:
        response.headers["Server-Timing"] = \
            f"render;dur={(time.perf_counter() - started) * 1000:.1f}"
    response.headers["Cache-Control"] = "no-store"
    return response


def page(request: Request, active: str, build: Builder) -> Response:
    started = time.perf_counter()
    try:
        reader = reader_for(request)
    except LoginRequired:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/ui/login?next={quote(target, safe='')}", status_code=303)
    principal = reader.principal
    menu = [(path, label) for path, label, permission in NAV if permitted(principal, permission)]
    base = {"active": active, "principal": principal, "menu": menu}
    try:
        needed = _PERMISSION.get(active)
        if needed and not permitted(principal, needed):
            raise ForbiddenError(f"this page needs the '{needed}' permission; your roles "
                                 f"({', '.join(sorted(principal.roles))}) do not grant it")
        template, context = build(request, reader)
    except TwinfedError as exc:
        return html(request, "error.html", {**base, "error": str(exc),
                                            "status": exc.http_status},
                    status=exc.http_status, started=started)
    return html(request, template, {**base, **context}, started=started)
