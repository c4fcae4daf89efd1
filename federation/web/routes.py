"""Dashboard pages served from the store and the registry: login, sites, deviations, batches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from bioprocess.errors import NotFoundError, TwinfedError
from federation.web import queries, svg
from federation.web.queries import DeviationFilter, Reader
from federation.web.render import html, page
from federation.web.session import COOKIE, IDLE_S, sessions
from federation.web.site_data import fetch_tags

router = APIRouter(include_in_schema=False)

#: Tags plotted on a batch page: those with deviation events, largest first, at most this many.
MAX_PLOTS = 6


def _safe_next(target: str | None) -> str:
    target = unquote(target or "")
    return target if target.startswith("/ui/") and not target.startswith("//") else "/ui/sites"


@router.get("/")
def home() -> Response:
    return RedirectResponse("/ui/sites", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    return html(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
def login(request: Request, token: str = Form(""), next: str = Form("/ui/sites")) -> Response:
    audit = getattr(request.app.state, "audit", None)
    client = request.client.host if request.client else None
    try:
        session, principal = sessions(request).open(request.app.state.registry, token)
    except TwinfedError as exc:  # not recorded: an open form must not be able to flood the log
        return html(request, "login.html", {"next": _safe_next(next), "error": str(exc)},
                    status=exc.http_status)
    if audit is not None:
        audit.record(principal.name, "auth.login", "dashboard", {"client": client})
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, session, httponly=True, samesite="strict", path="/ui",
                        max_age=IDLE_S, secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    sessions(request).close(request.cookies.get(COOKIE))
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


# --- sites ---------------------------------------------------------------------------------

def _sites(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
    registry = request.app.state.registry
    stale_after = request.app.state.settings.stale_after_h
    counts = queries.batches_per_site(reader)
    unrestricted = reader.principal.sponsors is None
    now = datetime.now(UTC)
    rows = []
    for status in registry.sites():
        lag = (now - status.last_push_at).total_seconds() / 3600 if status.last_push_at else None
        history = registry.push_history(status.code, limit=20)
        refused = [h for h in history if h["outcome"] == "refused"]
        rows.append({
            "code": status.code, "name": status.name, "active": status.active,
            "last_sync": status.last_push_at, "lag_h": lag,
            "stale": lag is None or lag > stale_after, "failures": status.failures,
            "last_failure_at": status.last_failure_at,
            # A refusal's text can name batches of any sponsor: only unrestricted callers
            # (admin, auditor) read it; everyone sees that it happened and when.
            "last_failure": status.last_failure if unrestricted else None,
            "refused": [{**h, "detail": h["detail"] if unrestricted else None}
                        for h in refused[:5]],
            "pushes": history[:5], "acknowledged_rev": status.acknowledged_rev,
            **counts.get(status.code, {"batches": 0, "by_status": {}, "latest_start": "",
                                      "deviations": 0}),
        })
    plot = svg.bars("Batches visible to you per site", [r["code"] for r in rows],
                    [r["batches"] for r in rows]) if rows else ""
    return "sites.html", {"sites": rows, "plot": plot, "stale_after": stale_after,
                          "unrestricted": unrestricted}


@router.get("/sites")
def sites_page(request: Request) -> Response:
    return page(request, "sites", _sites)


# --- deviations ----------------------------------------------------------------------------

def _deviations(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
    p = request.query_params
    where = DeviationFilter.parse(p.get("site"), p.get("process"), p.get("category"),
                                  p.get("from"), p.get("to"))
    limit = 500
    rows, _ = queries.deviations(reader, where, limit)
    options = queries.deviation_options(reader)
    by_category: dict[str, int] = {}
    for r in rows[:limit]:
        by_category[r["category"]] = by_category.get(r["category"], 0) + 1
    plot = svg.bars("Deviations by category (filtered)", list(by_category),
                    list(by_category.values())) if by_category else ""
    return "deviations.html", {"rows": rows[:limit], "more": len(rows) > limit,
                               "options": options, "where": where, "plot": plot}


@router.get("/deviations")
def deviations_page(request: Request) -> Response:
    return page(request, "deviations", _deviations)


# --- batches -------------------------------------------------------------------------------

def _batches(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
    return "batches.html", {"rows": queries.batch_list(reader)}


@router.get("/batches")
def batches_page(request: Request) -> Response:
    return page(request, "batches", _batches)


def batch_plots(detail: dict[str, Any], tags: list[str] | None = None
                ) -> tuple[list[dict[str, Any]], list[str], str | None]:
    """The batch's tags (those with deviation events, largest first, unless given) against
    their envelopes; also the event tags without a series at the site, and a problem."""
    if tags is None:
        tags = list(dict.fromkeys(e["tag"] for e in detail["events"]))
    if not tags:
        return [], [], None
    if not detail.get("raw"):
        return [], [], "the batch has no raw-data link (tf:rawData) to its site API"
    fetched, without, problem = fetch_tags(detail["raw"], tags, MAX_PLOTS)
    plots = []
    for data in fetched:
        spans = [(e["start"], e["start"] + e["duration"]) for e in detail["events"]
                 if e["tag"] == data.tag]
        if data.series is None:
            plots.append({"tag": data.tag, "svg": "", "problem": data.problem})
            continue
        env = data.envelope or {}
        plots.append({
            "tag": data.tag, "problem": data.problem,
            "reference": env.get("reference_batches"), "k": env.get("k"),
            "svg": svg.trajectory(data.tag, data.series.get("unit") or "",
                                  data.series["t_h"], data.series["v"],
                                  env.get("t_h", ()), env.get("lower", ()),
                                  env.get("mean", ()), env.get("upper", ()), spans)})
    return plots, without, problem


def _batch(site: str, batch_id: str) -> Any:
    def build(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
        detail = queries.batch(reader, site, batch_id)
        if detail is None:
            raise NotFoundError(f"batch '{batch_id}' of site '{site}' is not among the "
                                "batches you may see")
        tags = request.query_params.getlist("tag") or None
        plots, without, problem = batch_plots(detail, tags)
        return "batch.html", {"b": detail, "plots": plots, "without_series": without,
                              "site_problem": problem}
    return build


@router.get("/batches/{site}/{batch_id}")
def batch_page(request: Request, site: str, batch_id: str) -> Response:
    return page(request, "batches", _batch(site, batch_id))
