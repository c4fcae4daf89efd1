"""The federation store's interface: small protocols split by capability.

* :class:`GraphReader` — read-only, **scoped** SPARQL queries and whole-graph reads.
* :class:`GraphCatalog` — graph metadata (site, sponsor, export hash, ...) and selection of
  graphs by it; the federation uses it to work out which graphs a caller may see.
* :class:`GraphWriter` — atomic replacement and deletion of sets of named graphs.
* :class:`Store` — all three plus ``close``; what :func:`federation.store.open_store` returns.

Two backends implement :class:`Store`: :class:`~federation.store.oxigraph_store.OxigraphStore`
(embedded pyoxigraph, the default) and :class:`~federation.store.remote_store.RemoteStore`
(any SPARQL 1.1 Protocol + Graph Store Protocol server; tested against ``oxigraph serve``).
One contract suite, ``tests/test_store_contract.py``, runs over both.

Scoping contract of :meth:`GraphReader.query`: a caller's scope is a set of whole
``sponsors`` plus individual ``graphs`` (e.g. shared alignment or signature graphs); the
query's dataset is built from that scope only. By default the default graph is the union of
everything in scope and ``GRAPH ?g`` ranges over the scope's graphs. The query may narrow
that with ``FROM``/``FROM NAMED`` (or the caller with ``default_graphs``/``named_graphs``, e.g.
from the SPARQL protocol's ``default-graph-uri``/``named-graph-uri``) but never widen it:
naming a graph outside the scope is refused with
:class:`~federation.store.errors.QueryScopeError`. ``SERVICE`` and updates are refused; an
empty scope gives empty results.

Scale: whole sponsors are served from per-sponsor union views that every write maintains in
the same transaction, so a query over thousands of a sponsor's graphs reads one graph per
sponsor. Listing thousands of graphs in ``graphs`` is correct but slow (Oxigraph looks a
pattern up in every listed graph: cost grows with the square of the list for joins) — scope
by sponsor wherever the entitlement is by sponsor. Duplicates: a sponsor view is a set (a
triple held by two graphs of one sponsor counts once); individual graphs and different
sponsors are combined as a bag (such a triple matches once per graph/sponsor), so count
with ``DISTINCT`` where that matters.

Limits: ``timeout_s`` bounds the wall-clock time of the evaluation
(:class:`~federation.store.errors.QueryLimitError` past it); ``max_results`` caps rows
(SELECT) or triples (CONSTRUCT/DESCRIBE) — the first ``max_results`` are returned with
``QueryResult.truncated`` set, the rest are never computed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from federation.store.graph_updates import GraphData
from federation.store.metadata import GraphMetadata
from federation.store.results import QueryResult, ResultFormat

#: Default wall-clock limit of one query, in seconds.
DEFAULT_TIMEOUT_S = 30.0
#: Default cap on rows (SELECT) or triples (CONSTRUCT/DESCRIBE) of one query.
DEFAULT_MAX_RESULTS = 100_000

__all__ = [
    "DEFAULT_MAX_RESULTS",
    "DEFAULT_TIMEOUT_S",
    "GraphCatalog",
    "GraphData",
    "GraphMetadata",
    "GraphReader",
    "GraphWriter",
    "QueryResult",
    "ResultFormat",
    "Store",
]


@runtime_checkable
class GraphReader(Protocol):
    """Read access: scoped read-only SPARQL and whole named graphs."""

    def query(
        self,
        sparql: str,
        *,
        graphs: Sequence[str] = (),
        sponsors: Collection[str] = (),
        default_graphs: Sequence[str] | None = None,
        named_graphs: Sequence[str] | None = None,
        result_format: ResultFormat | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_results: int = DEFAULT_MAX_RESULTS,
    ) -> QueryResult:
        """Run a SELECT/ASK/CONSTRUCT/DESCRIBE query within the caller's scope only.

        The scope is every graph whose metadata names one of ``sponsors``, plus ``graphs``.
        ``default_graphs``/``named_graphs`` (each within the scope) set the dataset
        explicitly, as the SPARQL protocol's ``default-graph-uri``/``named-graph-uri`` do;
        giving either makes the other default to empty. ``result_format`` (default: JSON for
        SELECT/ASK, N-Triples for CONSTRUCT/DESCRIBE) is what ``QueryResult.body`` holds.

        Raises ``QueryError`` (bad SPARQL, an update, SERVICE), ``QueryScopeError`` (a graph
        outside the scope), ``ResultFormatError``, ``QueryLimitError`` (time limit) and
        ``StoreUnavailableError``.
        """
        ...

    def graph_names(self) -> list[str]:
        """Every named data graph in the store, sorted (the metadata graph is not listed)."""
        ...

    def get_graph(self, iri: str) -> bytes:
        """The content of graph ``iri`` as N-Triples; ``NotFoundError`` if it does not exist."""
        ...


@runtime_checkable
class GraphCatalog(Protocol):
    """Graph metadata, stored in the same atomic step as the graphs it describes."""

    def graph_metadata(self, iris: Iterable[str] | None = None) -> dict[str, GraphMetadata]:
        """Metadata of ``iris`` (None: every graph that has some), keyed by graph IRI."""
        ...

    def graphs_where(
        self, sponsor_in: Collection[str] | None = None, site: str | None = None
    ) -> list[str]:
        """Graphs whose sponsor is in ``sponsor_in`` (None: any) and site is ``site``."""
        ...


@runtime_checkable
class GraphWriter(Protocol):
    """Atomic writes of sets of named graphs."""

    def replace_graphs(
        self,
        graphs: Mapping[str, GraphData],
        metadata_updates: Mapping[str, GraphMetadata] | None = None,
        *,
        delete: Iterable[str] = (),
    ) -> None:
        """Replace every graph in ``graphs`` (and the given metadata) in one atomic step.

        All or nothing: if any graph is malformed, or the write fails midway, every graph
        and all metadata keep their previous state. A graph replaced without a metadata
        entry keeps its metadata. Graphs in ``delete`` are dropped (with their metadata) in
        the same step, so one sync push can be one transaction. Raises ``ValidationError``
        for bad content or graph IRIs and ``StoreUnavailableError`` when the store fails.
        """
        ...

    def delete_graphs(self, iris: Iterable[str]) -> None:
        """Delete the graphs and their metadata in one atomic step (missing ones ignored)."""
        ...


@runtime_checkable
class Store(GraphReader, GraphCatalog, GraphWriter, Protocol):
    """A complete federation store: read, catalog, write, close."""

    def close(self) -> None:
        """Release the store (files, connections, worker threads)."""
        ...

    def __enter__(self) -> Self:
        """The store itself; ``with open_store(...) as store:`` closes it afterwards."""
        ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        """Close the store."""
        ...
