"""The federation store: named graphs with metadata, atomic graph replacement and scoped,
read-only SPARQL, behind one interface with an embedded and a remote backend.

>>> from federation.store import GraphMetadata, open_store
>>> store = open_store(None)  # in memory; a directory or an http(s) URL in production
>>> store.replace_graphs(
...     {"https://example.org/site-a/batch/1": b'<urn:b1> <urn:titre> "3.2" .\\n'},
...     {"https://example.org/site-a/batch/1": GraphMetadata(site="A", sponsor="S1")},
... )
>>> store.graphs_where(sponsor_in={"S1"})
['https://example.org/site-a/batch/1']
>>> result = store.query("SELECT ?t WHERE { ?b <urn:titre> ?t }",
...                      graphs=store.graphs_where(sponsor_in={"S1"}))
>>> [row["t"].value for row in result.bindings()]
['3.2']
>>> store.close()
"""

from __future__ import annotations

from pathlib import Path

from federation.store.base import (
    DEFAULT_MAX_RESULTS,
    DEFAULT_TIMEOUT_S,
    GraphCatalog,
    GraphData,
    GraphReader,
    GraphWriter,
    Store,
)
from federation.store.errors import (
    QueryError,
    QueryLimitError,
    QueryScopeError,
    ResultFormatError,
    StoreRequestRejectedError,
    StoreTimeoutError,
)
from federation.store.metadata import META_GRAPH, GraphMetadata
from federation.store.oxigraph_store import OxigraphStore
from federation.store.remote_store import RemoteStore
from federation.store.results import QueryResult, ResultFormat

__all__ = [
    "DEFAULT_MAX_RESULTS",
    "DEFAULT_TIMEOUT_S",
    "META_GRAPH",
    "GraphCatalog",
    "GraphData",
    "GraphMetadata",
    "GraphReader",
    "GraphWriter",
    "OxigraphStore",
    "QueryError",
    "QueryLimitError",
    "QueryResult",
    "QueryScopeError",
    "RemoteStore",
    "ResultFormat",
    "ResultFormatError",
    "Store",
    "StoreRequestRejectedError",
    "StoreTimeoutError",
    "open_store",
]


def open_store(url_or_path: str | Path | None) -> Store:
    """Open the store at ``url_or_path``.

    * ``None`` — an embedded in-memory store (tests, demos);
    * a directory path — the embedded Oxigraph store persisted there (the default backend);
    * an ``http(s)://`` base URL — a remote store with the endpoints of ``oxigraph serve``
      (``BASE/query``, ``BASE/update``, ``BASE/store``). For servers laid out differently,
      build ``RemoteStore(SparqlHttpConnector(query_url, update_url, store_url))``.
    """
    if url_or_path is None:
        return OxigraphStore(None)
    if isinstance(url_or_path, str) and url_or_path.lower().startswith(("http://", "https://")):
        return RemoteStore.from_url(url_or_path)
    return OxigraphStore(Path(url_or_path))
