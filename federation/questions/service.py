"""Answer a named question within a caller's scope: bound query in, JSON-ready rows out.

Used by ``GET /questions/{name}`` and by anyone (dashboard, demo, benchmarks) holding a
store and a :class:`~federation.scope.Scope`. Values come back as JSON numbers, booleans
or strings; evidence columns (see :mod:`federation.questions.catalogue`) as IRIs, list
columns split into lists of IRIs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from federation.questions.catalogue import Question, question
from federation.scope import Scope
from federation.store.base import DEFAULT_MAX_RESULTS, DEFAULT_TIMEOUT_S, GraphReader

_XSD = "http://www.w3.org/2001/XMLSchema#"
_INTEGERS = {f"{_XSD}{t}" for t in ("integer", "int", "long", "short", "nonNegativeInteger",
                                    "positiveInteger", "unsignedInt", "unsignedLong")}
_FLOATS = {f"{_XSD}{t}" for t in ("double", "float", "decimal")}


@dataclass(frozen=True)
class Answer:
    """One question answered: what was asked, the bound query, the rows and their evidence."""

    question: Question
    parameters: dict[str, str]
    query: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    sponsors_in_scope: tuple[str, ...] = ()
    truncated: bool = False
    elapsed_s: float = field(default=0.0, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The JSON body of ``GET /questions/{name}``."""
        return {
            "name": self.question.name, "title": self.question.title,
            "description": self.question.description, "parameters": self.parameters,
            "columns": list(self.columns),
            "evidence": [{"column": e.column, "list": e.is_list}
                         for e in self.question.evidence],
            "rows": self.rows, "row_count": len(self.rows), "truncated": self.truncated,
            "sponsors_in_scope": list(self.sponsors_in_scope),
            "elapsed_s": round(self.elapsed_s, 4), "query": self.query,
        }


def json_value(term: object) -> Any:
    """A pyoxigraph term as a JSON value: numbers, booleans, IRIs and text as strings."""
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        datatype = term.datatype.value
        try:
            if datatype in _INTEGERS:
                return int(term.value)
            if datatype in _FLOATS:
                return float(term.value)
        except ValueError:
            return term.value
        if datatype == f"{_XSD}boolean":
            return term.value in ("true", "1")
        return term.value
    return getattr(term, "value", str(term))


def ask(store: GraphReader, scope: Scope, name: str, values: dict[str, str] | None = None,
        *, timeout_s: float = DEFAULT_TIMEOUT_S,
        max_results: int = DEFAULT_MAX_RESULTS) -> Answer:
    """Answer question ``name`` with parameter ``values`` (strings, as from a URL) over what
    ``scope`` may see. Raises NotFoundError (unknown question) or ParameterError."""
    named = question(name)
    sparql = named.bind(values)
    result = store.query(sparql, graphs=scope.graphs, sponsors=scope.sponsors,
                         timeout_s=timeout_s, max_results=max_results)
    lists = {e.column for e in named.evidence if e.is_list}
    rows = []
    for row in result.rows:
        record: dict[str, Any] = {}
        for column, term in zip(result.variables, row, strict=True):
            value = json_value(term)
            if column in lists:
                value = sorted(str(value).split()) if value else []
            record[column] = value
        rows.append(record)
    return Answer(question=named, parameters=named.bound_values(values), query=sparql,
                  columns=tuple(result.variables), rows=rows,
                  sponsors_in_scope=tuple(sorted(scope.sponsors)),
                  truncated=result.truncated, elapsed_s=result.elapsed_s)
