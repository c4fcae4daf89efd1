"""Turn a query and a caller's scope into the exact dataset an engine must use.

This is where scoping is decided, once, for both backends. A scope is a set of whole
sponsors plus a set of individual graphs. The result always names the dataset explicitly
(default graphs and named graphs); the backends hand it to the engine as ``default_graph=``/
``named_graphs=`` (pyoxigraph) or ``default-graph-uri``/``named-graph-uri`` (SPARQL
protocol), which take precedence over the query's own ``FROM``/``FROM NAMED`` — the contract
suite checks that on both backends. Before that, ``FROM`` clauses naming graphs outside the
scope are refused here with a clear error, so no backend depends on the engine alone.

Without ``FROM``: the default graph is the sponsors' union views (one graph per sponsor,
maintained by every write) plus the individual graphs; the named graphs are every graph of
those sponsors plus the individual graphs — listed only when the query uses ``GRAPH``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from bioprocess.errors import ValidationError
from federation.store.errors import QueryScopeError
from federation.store.metadata import GraphMetadata, graph_node, sponsor_view
from federation.store.results import ResultFormat
from federation.store.sparql_guard import QueryShape, inspect_query


class _Catalog(Protocol):
    def graph_metadata(self, iris: Collection[str] | None = None
                       ) -> dict[str, GraphMetadata]: ...

    def graphs_where(self, sponsor_in: Collection[str] | None = None,
                     site: str | None = None) -> list[str]: ...


@dataclass(frozen=True)
class PreparedQuery:
    """A query the read-only path accepted, with its dataset and limits fixed."""

    sparql: str
    shape: QueryShape
    #: Graphs whose union is the default graph (may be empty: an empty default graph).
    default_graphs: tuple[str, ...]
    #: Graphs ``GRAPH ?g`` ranges over (may be empty: no named graphs).
    named_graphs: tuple[str, ...]
    result_format: ResultFormat
    timeout_s: float
    max_results: int


def prepare_query(
    sparql: str,
    *,
    catalog: _Catalog,
    graphs: Sequence[str] = (),
    sponsors: Collection[str] = (),
    default_graphs: Sequence[str] | None = None,
    named_graphs: Sequence[str] | None = None,
    result_format: ResultFormat | None = None,
    timeout_s: float,
    max_results: int,
) -> PreparedQuery:
    """Check ``sparql`` and fix its dataset within the scope (see ``GraphReader.query``)."""
    for name, value in (("graphs", graphs), ("sponsors", sponsors)):
        if isinstance(value, str):
            raise ValidationError(f"{name} must be a collection of strings; got one string")
    if not (timeout_s > 0 and math.isfinite(timeout_s)):
        raise ValidationError(f"timeout_s must be a positive number of seconds; got {timeout_s}")
    if max_results < 0:
        raise ValidationError(f"max_results must be >= 0; got {max_results}")
    shape = inspect_query(sparql)
    fmt = ResultFormat.choose(shape.form, result_format)
    scope = _Scope(catalog, _graphs(graphs), frozenset(sponsors))
    if default_graphs is not None or named_graphs is not None:
        default, named = _unique(default_graphs or ()), _unique(named_graphs or ())
        scope.check_within(default + named, "the requested dataset")
    elif shape.has_dataset_clause:
        default, named = _unique(shape.from_graphs), _unique(shape.from_named_graphs)
        scope.check_within(default + named, "FROM/FROM NAMED")
    else:
        default = scope.default_graphs()
        named = scope.named_graphs() if shape.uses_named_graphs else ()
    return PreparedQuery(sparql=sparql, shape=shape, default_graphs=default, named_graphs=named,
                         result_format=fmt, timeout_s=float(timeout_s), max_results=max_results)


def _unique(iris: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(iris))


def _usable(iri: str) -> bool:
    try:
        graph_node(iri)
    except ValidationError:
        return False
    return True


def _graphs(iris: Sequence[str]) -> tuple[str, ...]:
    """The caller's graphs, each checked to be a usable (absolute, unreserved) graph IRI."""
    unique = _unique(iris)
    for iri in unique:
        graph_node(iri)
    return unique


@dataclass(frozen=True)
class _Scope:
    catalog: _Catalog
    graphs: tuple[str, ...]
    sponsors: frozenset[str]

    def default_graphs(self) -> tuple[str, ...]:
        views = tuple(sponsor_view(s) for s in sorted(self.sponsors))
        return views + self._graphs_outside_sponsors()

    def named_graphs(self) -> tuple[str, ...]:
        members = self.catalog.graphs_where(sponsor_in=self.sponsors) if self.sponsors else []
        return tuple(dict.fromkeys([*members, *self.graphs]))

    def check_within(self, wanted: tuple[str, ...], what: str) -> None:
        allowed = set(self.graphs)
        outside = [iri for iri in wanted if iri not in allowed]
        if outside and self.sponsors:
            meta = self.catalog.graph_metadata([iri for iri in outside if _usable(iri)])
            outside = [iri for iri in outside
                       if iri not in meta or meta[iri].sponsor not in self.sponsors]
        if outside:
            listed = ", ".join(f"<{iri}>" for iri in outside[:5])
            more = f" and {len(outside) - 5} more" if len(outside) > 5 else ""
            raise QueryScopeError(
                f"{what} names graphs outside the graphs this caller may query: {listed}{more}; "
                "remove them (the query runs over your visible graphs by default)"
            )

    def _graphs_outside_sponsors(self) -> tuple[str, ...]:
        """Individual graphs not already inside a sponsor view (no triple counted twice)."""
        if not (self.sponsors and self.graphs):
            return self.graphs
        meta = self.catalog.graph_metadata(self.graphs)
        return tuple(g for g in self.graphs
                     if g not in meta or meta[g].sponsor not in self.sponsors)
