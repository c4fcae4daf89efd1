"""The read-only SPARQL 1.1 Protocol endpoint, scoped to the caller's visible graphs."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bioprocess.errors import ValidationError
from federation.api.deps import StoreDep
from federation.api.limits import check_query_text
from federation.api.roles import CanQuery, record_query
from federation.api.trust import stale_sites
from federation.scope import caller_scope
from federation.store.errors import ResultFormatError
from federation.store.results import ResultFormat

router = APIRouter()

_UPDATE_MEDIA = "application/sparql-update"


def _accepted(accept: str | None) -> list[ResultFormat | None]:
    """Formats the client accepts, best first; ``None`` (the default) ends the list."""
    choices: list[tuple[float, int, ResultFormat]] = []
    for index, part in enumerate((accept or "").split(",")):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        fmt = ResultFormat.from_media_type(media)
        if fmt is not None and quality > 0:
            choices.append((-quality, index, fmt))
    return [fmt for _, _, fmt in sorted(choices)] + [None]


def _run(request: Request, store: StoreDep, caller: CanQuery, query: str | None,
         default_graphs: list[str], named_graphs: list[str]) -> Response:
    if not query:
        raise ValidationError("a SPARQL query is required: ?query=... (GET), form field "
                              "'query' (POST application/x-www-form-urlencoded), or the body "
                              "(POST application/sparql-query)")
    settings = request.app.state.settings
    check_query_text(query, settings.max_query_chars)
    record_query(request, caller, "sparql", query,
                 {"default_graphs": default_graphs, "named_graphs": named_graphs})
    scope = caller_scope(store, caller)
    last_error: ResultFormatError | None = None
    for fmt in _accepted(request.headers.get("accept")):
        try:
            result = store.query(
                query, graphs=scope.graphs, sponsors=scope.sponsors,
                default_graphs=default_graphs or None,
                named_graphs=named_graphs or None, result_format=fmt,
                timeout_s=settings.sparql_timeout_s, max_results=settings.sparql_max_results)
        except ResultFormatError as exc:
            last_error = exc
            continue
        headers = {"X-Twinfed-Sponsors-In-Scope": ",".join(sorted(scope.sponsors)),
                   "X-Twinfed-Stale-Sites": ",".join(stale_sites(request.app))}
        if result.truncated:
            headers["X-Twinfed-Truncated"] = f"true; max_results={settings.sparql_max_results}"
        return Response(result.body, media_type=result.media_type, headers=headers)
    assert last_error is not None
    raise last_error


@router.get("/sparql", operation_id="sparql_get")
def sparql_get(request: Request, store: StoreDep, caller: CanQuery) -> Response:
    params = request.query_params
    return _run(request, store, caller, params.get("query"),
                params.getlist("default-graph-uri"), params.getlist("named-graph-uri"))


@router.post("/sparql", operation_id="sparql_post")
async def sparql_post(request: Request, store: StoreDep, caller: CanQuery) -> Response:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = (await request.body()).decode("utf-8", errors="replace")
    params = request.query_params
    if media == _UPDATE_MEDIA or (media == "application/x-www-form-urlencoded"
                                  and "update" in parse_qs(body)):
        raise ValidationError("this endpoint is read-only: SPARQL updates are refused; data "
                              "reaches the federation only through site sync")
    if media == "application/sparql-query":
        return _run(request, store, caller, body, params.getlist("default-graph-uri"),
                    params.getlist("named-graph-uri"))
    if media == "application/x-www-form-urlencoded":
        form = parse_qs(body, keep_blank_values=True)
        return _run(request, store, caller, (form.get("query") or [None])[0],
                    form.get("default-graph-uri", []) + params.getlist("default-graph-uri"),
                    form.get("named-graph-uri", []) + params.getlist("named-graph-uri"))
    raise ValidationError("POST /sparql needs Content-Type application/sparql-query or "
                          f"application/x-www-form-urlencoded; got '{media or 'none'}'")
