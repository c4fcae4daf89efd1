"""Dashboard pages over the federation's analytics capabilities: signatures, site comparison,
trace, models and knowledge packages. Each page calls its capability's Python functions
(not HTTP to itself); a capability not in this build gives an honest "not available yet"
page, never a broken one."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bioprocess.errors import ValidationError
from federation.registry.service import ForbiddenError
from federation.web import capabilities, queries, svg
from federation.web.queries import Reader
from federation.web.render import batch_link, page, permitted, record

router = APIRouter(include_in_schema=False)


def unavailable(title: str, *modules: str) -> Any:
    def build(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
        return "unavailable.html", {"title": title,
                                    "missing": capabilities.missing(*modules) or list(modules)}
    return build


# --- signatures ----------------------------------------------------------------------------

def _signature_scope(reader: Reader) -> Any:
    from federation.signatures.profiles import ReadScope

    return ReadScope(frozenset(reader.scope.sponsors), tuple(reader.scope.graphs))


def _site_of(iri: str) -> str:
    return iri.split("/site/", 1)[1].split("/", 1)[0] if "/site/" in iri else "?"


def _signature_row(signature: Any) -> dict[str, Any]:
    from federation.signatures.service import impact_words

    per_site: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for iri, batch_id in zip(signature.members, signature.member_ids, strict=True):
        per_site[_site_of(iri)].append((iri, batch_id))
    return {"s": signature, "per_site": dict(sorted(per_site.items())),
            "impact": impact_words(signature) if signature.impact else None}


def _signatures(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
    from federation.signatures.service import SignatureService

    found = SignatureService(reader.store).signatures(_signature_scope(reader)) \
        if not reader.scope.empty else []
    return "signatures.html", {
        "rows": [_signature_row(s) for s in found],
        "can_run": permitted(reader.principal, "signatures.run")}


@router.get("/signatures")
def signatures_page(request: Request) -> Response:
    if capabilities.module("signatures.service") is None:
        return page(request, "signatures", unavailable("Failure signatures", "signatures"))
    return page(request, "signatures", _signatures)


def _discover(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
    from federation.signatures.service import SignatureService

    if not permitted(reader.principal, "signatures.run"):
        raise ForbiddenError("signature discovery needs the signatures.run permission "
                             "(quality or admin)")
    scope = _signature_scope(reader)
    SignatureService(reader.store).discover(scope.sponsors, scope.graphs,
                                            requested_by=reader.principal.name)
    record(request, reader.principal, "signatures.discover", "dashboard")
    return _signatures(request, reader)


@router.post("/signatures/discover")
def discover_page(request: Request) -> Response:
    response = page(request, "signatures", _discover)
    if response.status_code == 200:
        return RedirectResponse("/ui/signatures", status_code=303)
    return response


def _signature(signature_id: str) -> Any:
    def build(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
        from federation.signatures.service import SignatureService

        signature, earlier = SignatureService(reader.store).signature(
            _signature_scope(reader), signature_id)
        row = _signature_row(signature)
        plot = ""
        if signature.impact and signature.impact.members_mean is not None and \
                signature.impact.comparable_mean is not None:
            name = signature.impact.parameter.rsplit("/", 1)[-1]
            plot = svg.bars(f"{name}: members vs comparable good batches",
                            ["members", "comparable"],
                            [signature.impact.members_mean, signature.impact.comparable_mean])
        return "signature.html", {**row, "earlier": earlier, "plot": plot,
                                  "matches": _matching_batches(reader, signature)}
    return build


#: A batch matches a signature when it shows this weighted share of its defining events
#: (the default of the ``batches_matching_signature`` named question).
MIN_COVERAGE = 0.75


def _matching_batches(reader: Reader, signature: Any) -> list[dict[str, Any]]:
    """The signature's members and the visible batches matching it: the named question
    ``batches_matching_signature`` itself, so the page, the question and ``signatures
    match`` show the same batches on the same evidence (deviation events and the feature
    deviations stored by the sponsor's latest discovery run, each a followable IRI)."""
    from federation.questions.service import ask

    answer = ask(reader.store, reader.scope, "batches_matching_signature",
                 {"signature": signature.iri, "min_coverage": str(MIN_COVERAGE)},
                 timeout_s=reader.timeout_s)
    return answer.rows


@router.get("/signatures/{signature_id}")
def signature_page(request: Request, signature_id: str) -> Response:
    if capabilities.module("signatures.service") is None:
        return page(request, "signatures", unavailable("Failure signatures", "signatures"))
    return page(request, "signatures", _signature(signature_id))


# --- compare sites -------------------------------------------------------------------------

def _processes(reader: Reader) -> list[str]:
    return [r["process"] for r in reader.rows("""
        SELECT DISTINCT ?process WHERE { ?b a tf:Batch ; tf:ofProcess ?p .
          ?p tf:processCode ?process } ORDER BY ?process""")]


#: Parameters plotted on the compare page (largest site-to-site separation first).
COMPARE_PLOTS = 8


def _compare(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
    from federation.comparison.service import compare

    processes = _processes(reader)
    process = request.query_params.get("process") or (processes[0] if processes else "")
    chosen = [s for s in request.query_params.getlist("site") if s]
    context: dict[str, Any] = {"processes": processes, "process": process, "chosen": chosen,
                               "result": None}
    if not process:
        return "compare.html", context
    result = compare(reader.store, reader.scope, process, chosen,
                     timeout_s=reader.timeout_s, max_results=reader.max_results)
    # Culture differences first: a parameter constant within each site (a set point) is a
    # recipe difference, already said in words, and its "separation" is near infinite.
    ranked = sorted(result["parameters"], key=lambda p: (bool(p.get("constant_within_sites")),
                                                         -(p.get("separation") or 0)))
    plots = []
    for entry in ranked[:COMPARE_PLOTS]:
        name = entry["parameter"].rsplit("/", 1)[-1]
        title = f"{name}, {entry['phase']}, {entry['statistic']}"
        plots.append({"title": title, "separation": entry.get("separation"),
                      "svg": svg.strips(title, entry.get("unit") or "", {
                          site: data["values"] for site, data in entry["sites"].items()}, {
                          site: (data["envelope"]["low"], data["envelope"]["high"])
                          for site, data in entry["sites"].items()
                          if data.get("envelope") and data["envelope"].get("low") is not None})})
    outcome_plots = [{"title": o["parameter"].rsplit("/", 1)[-1],
                      "svg": svg.strips(o["parameter"].rsplit("/", 1)[-1], o.get("unit") or "",
                                        {site: d["values"] for site, d in o["sites"].items()},
                                        {})} for o in result["outcomes"]]
    context.update(result=result, plots=plots, outcome_plots=outcome_plots,
                   all_sites=sorted(result["batches"]))
    return "compare.html", context


@router.get("/compare")
def compare_page(request: Request) -> Response:
    if capabilities.module("comparison.service") is None:
        return page(request, "compare", unavailable("Compare sites", "comparison"))
    return page(request, "compare", _compare)


# --- trace ---------------------------------------------------------------------------------

def _trace(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
    from federation.trace.service import trace

    iri = (request.query_params.get("iri") or "").strip()
    context: dict[str, Any] = {"iri": iri, "found": None}
    if not iri:
        return "trace.html", context
    if any(c in iri for c in ' <>"{}|^`\\') or ":" not in iri:
        raise ValidationError(f"the finding must be an absolute IRI without spaces or any of "
                              f"<>\"{{}}|^`\\; got {iri[:120]!r} instead")
    found = None if reader.scope.empty else trace(
        reader.store, iri, graphs=reader.scope.graphs, sponsors=reader.scope.sponsors,
        timeout_s=reader.timeout_s)
    record(request, reader.principal, "trace", iri)
    if found is None:
        context["missing"] = True
        return "trace.html", context
    children: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for subject, predicate, obj in found.edges:
        children[subject].append((predicate.rsplit("#", 1)[-1].rsplit("/", 1)[-1], obj))
    # The raw signal stays at the site: its link leads to the batch page, which plots it.
    raw = [(obj, batch_link(subject)) for subject, predicate, obj in found.edges
           if predicate.endswith("#rawData")]
    context.update(found=found, children=children, origins=found.origins(), raw=raw)
    return "trace.html", context


@router.get("/trace")
def trace_page(request: Request) -> Response:
    if capabilities.module("trace.service") is None:
        return page(request, "trace", unavailable("Trace", "trace"))
    return page(request, "trace", _trace)


# --- models and packages -------------------------------------------------------------------

def _models(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
    rows = queries.models(reader)
    for row in rows:
        row["training"] = (row.get("trainingList") or "").split()
    return "models.html", {"rows": rows}


@router.get("/models")
def models_page(request: Request) -> Response:
    return page(request, "models", _models)


def _packages(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
    sponsors = reader.scope.sponsors
    stored: dict[str, dict[str, Any]] = {}
    for iri, meta in reader.store.graph_metadata().items():
        if meta.kind != "package" or meta.sponsor not in sponsors:
            continue
        package, _, part = iri.rpartition("/")
        entry = stored.setdefault(package, {"iri": package, "site": meta.site,
                                            "sponsor": meta.sponsor, "parts": [],
                                            "built": meta.received_at})
        entry["parts"].append(part)
    return "packages.html", {
        "packages": sorted(stored.values(), key=lambda p: p["iri"]),
        "can_build": permitted(reader.principal, "packages.build"),
        "processes": _processes(reader),
        "sites": sorted({r["site"] for r in reader.rows(
            "SELECT DISTINCT ?site WHERE { ?s a tf:Site ; tf:siteCode ?site }")})}


@router.get("/packages")
def packages_page(request: Request) -> Response:
    if capabilities.module("packages.service") is None:
        return page(request, "packages", unavailable("Knowledge packages", "packages"))
    return page(request, "packages", _packages)


@router.post("/packages/build")
async def build_package_page(request: Request) -> Response:
    """Build a package with the packages capability and hand its archive to the browser."""
    form = await request.form()
    fields = {k: str(form.get(k) or "") for k in ("process", "from_site", "to_site")}
    built: dict[str, Any] = {}

    def build(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
        from federation.packages.service import build_package, software_version

        if not permitted(reader.principal, "packages.build"):
            raise ForbiddenError("building a package needs the packages.build permission")
        built["package"] = build_package(
            reader.store, reader.principal, software_version=software_version(),
            audit=getattr(request.app.state, "audit", None), **fields)
        return _packages(request, reader)

    response = await run_in_threadpool(page, request, "packages", build)
    if "package" not in built:
        return response
    package = built["package"]
    return Response(package.archive, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{package.file_name}"'})
