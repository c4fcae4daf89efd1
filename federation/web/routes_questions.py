"""Dashboard pages for the named questions (with their parameters) and a SPARQL console."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from federation.questions.catalogue import question, questions
from federation.web.queries import Reader, python_value
from federation.web.render import page, record

router = APIRouter(include_in_schema=False)

#: Rows shown on a page (the console says when there were more).
ROW_LIMIT = 1000

EXAMPLE = """PREFIX tf: <https://w3id.org/twinfed/ontology#>
SELECT ?site (COUNT(DISTINCT ?batch) AS ?batches)
WHERE { ?batch a tf:Batch ; tf:atSite ?s . ?s tf:siteCode ?site }
GROUP BY ?site ORDER BY ?site"""


def _params(q: Any) -> list[dict[str, Any]]:
    return [{"name": p.name, "kind": p.kind, "default": p.default,
             "description": getattr(p, "description", ""),
             "choices": list(getattr(p, "choices", ()))} for p in q.parameters]


def _questions(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
    return "questions.html", {"questions": [
        {"name": q.name, "title": q.title, "description": q.description, "params": _params(q)}
        for q in questions().values()]}


@router.get("/questions")
def questions_page(request: Request) -> Response:
    return page(request, "questions", _questions)


def _answer(name: str) -> Any:
    def build(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
        q = question(name)
        known = {p.name for p in q.parameters}
        values = {k: v for k, v in request.query_params.items() if k in known and v != ""}
        sparql = q.bind(values)
        record(request, reader.principal, "question", sparql)
        reader.max_results = min(reader.max_results, ROW_LIMIT)
        rows, truncated = reader.select(sparql, prefixed=False)
        columns = list(rows[0]) if rows else []
        return "answer.html", {
            "q": {"name": q.name, "title": q.title, "description": q.description,
                  "params": _params(q)},
            "values": {p.name: values.get(p.name, p.default) for p in q.parameters},
            "rows": rows, "columns": columns, "truncated": truncated, "sparql": sparql}
    return build


@router.get("/questions/{name}")
def answer_page(request: Request, name: str) -> Response:
    return page(request, "questions", _answer(name))


def _console(query: str | None) -> Any:
    def build(request: Request, reader: Reader) -> tuple[str, dict[str, Any]]:
        context: dict[str, Any] = {"query": query or EXAMPLE, "ran": False}
        if query:
            reader.max_results = min(reader.max_results, ROW_LIMIT)
            record(request, reader.principal, "sparql", query)
            result = reader.run(query)
            rows = [{k: python_value(v) for k, v in row.items()} for row in result.bindings()] \
                if result.form == "SELECT" else []
            context.update(ran=True, form=result.form, rows=rows,
                           columns=list(result.variables), truncated=result.truncated,
                           boolean=result.boolean,
                           text=result.body.decode() if result.form in ("CONSTRUCT",
                                                                         "DESCRIBE") else "")
        return "sparql.html", context
    return build


@router.get("/sparql")
def console_page(request: Request) -> Response:
    return page(request, "questions", _console(request.query_params.get("query")))


@router.post("/sparql")
async def console_run(request: Request) -> Response:
    form = await request.form()
    query = str(form.get("query") or "")
    return await run_in_threadpool(page, request, "questions", _console(query))
