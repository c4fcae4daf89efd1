"""The remote store: any SPARQL 1.1 Protocol + Graph Store Protocol server over HTTP.

Tested against ``oxigraph serve`` (the ``oxigraph`` package on PyPI); meant for Fuseki,
GraphDB, Neptune, Virtuoso or QLever when one machine is not enough.

* Scoping: every query request carries the dataset explicitly as protocol parameters, one
  ``default-graph-uri`` per graph of the prepared default graph (sponsor views plus
  individual graphs) and one ``named-graph-uri`` per named graph (sent only when the query
  uses ``GRAPH``). The
  SPARQL 1.1 Protocol says these override the query's ``FROM``/``FROM NAMED`` (Oxigraph
  does; the contract suite checks it), and ``FROM`` outside the scope is refused before the
  request is sent. An empty default graph is sent as the reserved, never-written graph
  :data:`~federation.store.metadata.NO_GRAPH`, because a request with *no* dataset
  parameters means "the server's whole default dataset" (on a server started with
  ``--union-default-graph``: every graph it holds).
* Atomicity: a replace or delete — data, metadata and sponsor views — is ONE SPARQL Update
  request (``DROP SILENT GRAPH ...; INSERT DATA { GRAPH ... }; ...``). Oxigraph runs one
  update request in one transaction, as do Fuseki (TDB2) and GraphDB; other servers may
  apply the operations one by one — run the contract suite's atomicity tests against a
  server before relying on it.
* Limits: the HTTP timeout bounds each wait for the server; the whole query also has a
  deadline checked while the response is streamed, and pulling stops at the row cap (the
  connection is then closed, so the server stops producing). Results are parsed from the
  server's SPARQL JSON / N-Triples and re-serialised locally, so both backends return
  byte-identical formats and report truncation the same way.
"""

from __future__ import annotations

import io
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Self

import pyoxigraph as ox

from bioprocess.errors import NotFoundError, StoreUnavailableError
from federation.store.base import DEFAULT_MAX_RESULTS, DEFAULT_TIMEOUT_S
from federation.store.collect import collect, time_limit_error
from federation.store.errors import QueryError, StoreRequestRejectedError, StoreTimeoutError
from federation.store.graph_updates import (
    GraphData,
    delete_update,
    rebuild_views_update,
    replace_update,
)
from federation.store.http_connector import SparqlHttpConnector, safe_url
from federation.store.metadata import (
    NO_GRAPH,
    RESERVED_PREFIX,
    GraphMetadata,
    MetadataCatalog,
    graph_node,
)
from federation.store.results import QueryResult, ResultFormat
from federation.store.scope import prepare_query

_SOLUTIONS_ACCEPT = "application/sparql-results+json"
_GRAPH_ACCEPT = "application/n-triples"


class _DeadlinePassed(Exception):
    """Raised inside the streaming parser when the query's deadline has passed."""


class _StreamReader(io.RawIOBase):
    """A file-like view of response chunks, for pyoxigraph's streaming parsers."""

    def __init__(self, chunks: Iterator[bytes], deadline: float) -> None:
        self._chunks = chunks
        self._deadline = deadline
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if time.monotonic() > self._deadline:
            raise _DeadlinePassed
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class RemoteStore(MetadataCatalog):
    """The federation store on a SPARQL protocol server (see the module docstring)."""

    def __init__(self, connector: SparqlHttpConnector, *, write_timeout_s: float = 300.0) -> None:
        self.connector = connector
        self.write_timeout_s = write_timeout_s

    @classmethod
    def from_url(cls, base_url: str, **connector_options: object) -> RemoteStore:
        """A store on ``oxigraph serve`` at ``base_url`` (``/query``, ``/update``, ``/store``)."""
        return cls(SparqlHttpConnector.for_base_url(base_url, **connector_options))

    def __repr__(self) -> str:
        return f"RemoteStore({safe_url(self.connector.query_url)})"

    # --- GraphReader ---------------------------------------------------------------------

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
        """Run a read-only query within the scope (see ``GraphReader.query``)."""
        prepared = prepare_query(sparql, catalog=self, graphs=graphs, sponsors=sponsors,
                                 default_graphs=default_graphs,
                                 named_graphs=named_graphs, result_format=result_format,
                                 timeout_s=timeout_s, max_results=max_results)
        started = time.monotonic()
        deadline = started + prepared.timeout_s
        params = _dataset_params(prepared.default_graphs, prepared.named_graphs)
        graph_result = prepared.shape.returns_graph
        try:
            with self.connector.post_query(
                [("query", prepared.sparql), *params],
                accept=_GRAPH_ACCEPT if graph_result else _SOLUTIONS_ACCEPT,
                timeout_s=prepared.timeout_s,
            ) as response:
                stream = io.BufferedReader(
                    _StreamReader(self.connector.iter_body(response), deadline))
                content_type = response.headers.get("content-type", "")
                results = (self._graph_parser(stream, content_type) if graph_result
                           else self._solutions_parser(stream, content_type))
                return collect(prepared, results, started=started)
        except StoreRequestRejectedError as error:
            raise QueryError(f"the store rejected the query: {error}") from None
        except (StoreTimeoutError, _DeadlinePassed):
            raise time_limit_error(prepared) from None
        except SyntaxError as error:
            raise StoreUnavailableError(
                f"{safe_url(self.connector.query_url)} answered with results that do not "
                f"parse: {error}") from None

    @staticmethod
    def _solutions_parser(stream: io.BufferedReader, content_type: str) -> ox.QuerySolutions:
        fmt = ox.QueryResultsFormat.from_media_type(content_type) or ox.QueryResultsFormat.JSON
        return ox.parse_query_results(stream, format=fmt)

    @staticmethod
    def _graph_parser(stream: io.BufferedReader, content_type: str) -> ox.QuadParser:
        fmt = ox.RdfFormat.from_media_type(content_type) or ox.RdfFormat.N_TRIPLES
        return ox.parse(stream, format=fmt)

    def graph_names(self) -> list[str]:
        """Every named data graph, sorted (the store's own graphs are not listed)."""
        rows = self._select("SELECT DISTINCT ?g WHERE { GRAPH ?g {} }", [])
        names = [row[0].value for row in rows if isinstance(row[0], ox.NamedNode)]
        return sorted(n for n in names if not n.startswith(RESERVED_PREFIX))

    def get_graph(self, iri: str) -> bytes:
        """Graph ``iri`` as N-Triples (Graph Store Protocol GET); ``NotFoundError`` if absent."""
        graph_node(iri)
        content = self.connector.get_graph(iri, accept=_GRAPH_ACCEPT)
        if content is None:
            raise NotFoundError(f"graph <{iri}> does not exist in the store")
        return content

    # --- GraphCatalog (graph_metadata, graphs_where come from MetadataCatalog) -----------

    def _select_internal(self, sparql: str, default_graph: str) -> list[tuple[object, ...]]:
        return self._select(sparql, [("default-graph-uri", default_graph)])

    def _select(self, sparql: str, params: list[tuple[str, str]]) -> list[tuple[object, ...]]:
        """A trusted SELECT with explicit protocol parameters, read whole."""
        with self.connector.post_query([("query", sparql), *params],
                                       accept=_SOLUTIONS_ACCEPT) as response:
            body = b"".join(self.connector.iter_body(response))
        try:
            results = ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
            return [tuple(solution) for solution in results]  # type: ignore[union-attr]
        except SyntaxError as error:
            raise StoreUnavailableError(
                f"{safe_url(self.connector.query_url)} answered with results that do not "
                f"parse: {error}") from None

    # --- GraphWriter -----------------------------------------------------------------------

    def replace_graphs(
        self,
        graphs: Mapping[str, GraphData],
        metadata_updates: Mapping[str, GraphMetadata] | None = None,
        *,
        delete: Iterable[str] = (),
    ) -> None:
        """Replace ``graphs``, ``metadata_updates`` and drop ``delete`` with ONE request."""
        update = replace_update(graphs, metadata_updates, delete)
        if update:
            self.connector.post_update(update, timeout_s=self.write_timeout_s)

    def delete_graphs(self, iris: Iterable[str]) -> None:
        """Drop ``iris`` and their metadata with ONE update request."""
        wanted = list(iris)
        if wanted:
            self.connector.post_update(delete_update(wanted), timeout_s=self.write_timeout_s)

    def rebuild_sponsor_views(self) -> None:
        """Recompute every per-sponsor union view from the graphs (maintenance; one request)."""
        self.connector.post_update(rebuild_views_update(), timeout_s=self.write_timeout_s)

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.connector.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def _dataset_params(default_graphs: Sequence[str],
                    named_graphs: Sequence[str]) -> list[tuple[str, str]]:
    """Protocol parameters naming exactly this dataset (never "the server's default")."""
    params = [("default-graph-uri", iri) for iri in default_graphs or (NO_GRAPH,)]
    params += [("named-graph-uri", iri) for iri in named_graphs]
    return params


__all__ = ["RemoteStore"]
