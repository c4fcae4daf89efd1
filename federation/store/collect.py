"""Consume an engine's lazy results into a :class:`QueryResult`, within the query's limits.

Both backends end here: the embedded store with pyoxigraph's lazy query results, the remote
store with pyoxigraph's streaming parsers over the HTTP response. Rows are pulled one at a
time; the deadline (and an optional stop flag) is checked before each one, and pulling stops
after ``max_results`` rows plus one (to know whether the result was truncated).
"""

from __future__ import annotations

import threading
import time

import pyoxigraph as ox

from federation.store.errors import QueryLimitError
from federation.store.results import QueryResult
from federation.store.scope import PreparedQuery

#: What an engine or parser hands over: lazy solutions, a boolean, or lazy triples/quads.
EngineResults = ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples | ox.QuadParser


def time_limit_error(prepared: PreparedQuery) -> QueryLimitError:
    """The error for a query stopped at its time limit."""
    return QueryLimitError(
        f"the query must finish within {prepared.timeout_s:g} s; it was still running and was "
        "stopped. Make it more selective (fewer graphs, more specific patterns, a LIMIT) or "
        "ask for a longer time limit"
    )


def collect(
    prepared: PreparedQuery,
    results: EngineResults,
    *,
    started: float,
    stop: threading.Event | None = None,
) -> QueryResult:
    """Read ``results`` into a :class:`QueryResult`, honouring the limits of ``prepared``."""
    deadline = started + prepared.timeout_s
    form, fmt, cap = prepared.shape.form, prepared.result_format, prepared.max_results

    def check() -> None:
        if time.monotonic() > deadline or (stop is not None and stop.is_set()):
            raise time_limit_error(prepared)

    if isinstance(results, ox.QueryBoolean):
        return QueryResult(form=form, result_format=fmt, boolean=bool(results),
                           elapsed_s=time.monotonic() - started)
    truncated = False
    if isinstance(results, ox.QuerySolutions):
        variables = tuple(v.value for v in results.variables)
        rows: list[tuple[object, ...]] = []
        check()
        for solution in results:
            if len(rows) >= cap:
                truncated = True
                break
            rows.append(tuple(solution))
            check()
        return QueryResult(form=form, result_format=fmt, variables=variables,
                           rows=tuple(rows), truncated=truncated,  # type: ignore[arg-type]
                           elapsed_s=time.monotonic() - started)
    triples: list[ox.Triple] = []
    check()
    for item in results:
        if len(triples) >= cap:
            truncated = True
            break
        triples.append(item.triple if isinstance(item, ox.Quad) else item)
        check()
    return QueryResult(form=form, result_format=fmt, triples=tuple(triples),
                       truncated=truncated, elapsed_s=time.monotonic() - started)
