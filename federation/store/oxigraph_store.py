"""The embedded store: a ``pyoxigraph.Store`` in a directory (RocksDB) or in memory.

* Scoping: every query gets an explicit dataset through pyoxigraph's ``default_graph=`` and
  ``named_graphs=`` arguments, built by :func:`~federation.store.scope.prepare_query` from the
  caller's scope (per-sponsor union views plus individual graphs). pyoxigraph applies them
  *instead of* the query's ``FROM``/``FROM NAMED`` (checked by the contract suite); an empty
  list is an empty graph set, not "everything".
* Atomicity: a replace or delete — data, metadata and sponsor views — is one SPARQL Update
  string run by ``Store.update``, which pyoxigraph executes as one transaction (all
  operations or none; the contract suite injects a failing last operation to check).
  ``Store.extend`` and ``Store.load`` are transactional too, but only add: dropping the old
  graphs would be a second transaction, and ``bulk_load``/``bulk_extend`` are not
  transactional at all.
* Time limit: pyoxigraph has no per-query timeout or cancellation, so each query runs in a
  worker thread (pyoxigraph releases the GIL while evaluating). The caller waits at most
  ``timeout_s``; the worker checks the deadline before pulling each row and stops there.
  An operator that must see all its input before producing a row (ORDER BY, GROUP BY, a
  hash-join build) cannot be interrupted inside: the caller still gets its error on time,
  but that worker stays busy until the operator yields. ``query_workers`` bounds how many
  such queries can run at once; further queries wait (within their own time limit).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Self

import pyoxigraph as ox

from bioprocess.errors import (
    NotFoundError,
    StoreUnavailableError,
    TwinfedError,
    ValidationError,
)
from federation.store.base import DEFAULT_MAX_RESULTS, DEFAULT_TIMEOUT_S
from federation.store.collect import collect, time_limit_error
from federation.store.errors import QueryError, brief
from federation.store.graph_updates import (
    GraphData,
    delete_update,
    rebuild_views_update,
    replace_update,
)
from federation.store.metadata import (
    RESERVED_PREFIX,
    GraphMetadata,
    MetadataCatalog,
    graph_node,
)
from federation.store.results import QueryResult, ResultFormat
from federation.store.scope import PreparedQuery, prepare_query


class OxigraphStore(MetadataCatalog):
    """The federation store embedded in this process (see the module docstring).

    ``path`` is a directory (created if missing; one process at a time) or ``None`` for an
    in-memory store.
    """

    def __init__(self, path: str | Path | None = None, *, query_workers: int = 4) -> None:
        self.path = Path(path) if path is not None else None
        self._opened: ox.Store | None = None
        try:
            if self.path is None:
                self._opened = ox.Store()
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                self._opened = ox.Store(str(self.path))
        except OSError as error:
            raise StoreUnavailableError(
                f"the Oxigraph store at {self.path} must be openable by this process; got "
                f"{error} (is another process using the directory?)") from None
        self._workers = ThreadPoolExecutor(max_workers=query_workers,
                                           thread_name_prefix="twinfed-query")
        self._write_lock = threading.Lock()

    @property
    def _store(self) -> ox.Store:
        if self._opened is None:
            raise StoreUnavailableError(f"{self!r} is closed; open the store again")
        return self._opened

    def __repr__(self) -> str:
        return f"OxigraphStore({str(self.path) if self.path else 'in memory'})"

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
        self._store  # noqa: B018 - raises StoreUnavailableError once closed
        prepared = prepare_query(sparql, catalog=self, graphs=graphs, sponsors=sponsors,
                                 default_graphs=default_graphs,
                                 named_graphs=named_graphs, result_format=result_format,
                                 timeout_s=timeout_s, max_results=max_results)
        started = time.monotonic()
        stop = threading.Event()
        future = self._workers.submit(self._evaluate, prepared, started, stop)
        try:
            return future.result(timeout=prepared.timeout_s)
        except TimeoutError:
            stop.set()
            raise time_limit_error(prepared) from None

    def _evaluate(self, prepared: PreparedQuery, started: float,
                  stop: threading.Event) -> QueryResult:
        # Runs in a worker thread. pyoxigraph's lazy results are "unsendable": they must be
        # released in the thread that created them, so no exception leaving this frame may
        # keep them alive through its traceback — failures are re-created, then raised.
        if stop.is_set():
            raise time_limit_error(prepared)
        results = None
        failure: Exception
        try:
            results = self._store.query(
                prepared.sparql,
                default_graph=[ox.NamedNode(iri) for iri in prepared.default_graphs],
                named_graphs=[ox.NamedNode(iri) for iri in prepared.named_graphs],
            )
            return collect(prepared, results, started=started, stop=stop)
        except SyntaxError as error:
            failure = QueryError(f"the query must be valid SPARQL 1.1; {brief(error)}")
        except OSError as error:
            failure = StoreUnavailableError(f"the embedded store failed to read: {error}")
        except (RuntimeError, ValueError) as error:
            failure = QueryError(f"the query failed during evaluation: {brief(error)}")
        except TwinfedError as error:
            failure = type(error)(str(error))
        finally:
            results = None
        raise failure

    def graph_names(self) -> list[str]:
        """Every named data graph, sorted (the store's own graphs are not listed)."""
        try:
            names = [g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode)]
        except OSError as error:
            raise StoreUnavailableError(f"the embedded store failed to read: {error}") from None
        return sorted(n for n in names if not n.startswith(RESERVED_PREFIX))

    def get_graph(self, iri: str) -> bytes:
        """Graph ``iri`` as N-Triples; ``NotFoundError`` if the store has no such graph."""
        node = graph_node(iri)
        try:
            if not self._store.contains_named_graph(node):
                raise NotFoundError(f"graph <{iri}> does not exist in the store")
            return self._store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=node) or b""
        except OSError as error:
            raise StoreUnavailableError(f"the embedded store failed to read: {error}") from None

    # --- GraphCatalog (graph_metadata, graphs_where come from MetadataCatalog) -----------

    def _select_internal(self, sparql: str, default_graph: str) -> list[tuple[object, ...]]:
        try:
            results = self._store.query(sparql, default_graph=[ox.NamedNode(default_graph)],
                                        named_graphs=[])
            return [tuple(solution) for solution in results]
        except OSError as error:
            raise StoreUnavailableError(f"the embedded store failed to read: {error}") from None

    # --- GraphWriter -----------------------------------------------------------------------

    def replace_graphs(
        self,
        graphs: Mapping[str, GraphData],
        metadata_updates: Mapping[str, GraphMetadata] | None = None,
        *,
        delete: Iterable[str] = (),
    ) -> None:
        """Replace ``graphs``, ``metadata_updates`` and drop ``delete`` in one transaction."""
        update = replace_update(graphs, metadata_updates, delete)
        if update:
            self._apply(update)

    def delete_graphs(self, iris: Iterable[str]) -> None:
        """Drop ``iris`` and their metadata in one transaction."""
        wanted = list(iris)
        if wanted:
            self._apply(delete_update(wanted))

    def rebuild_sponsor_views(self) -> None:
        """Recompute every per-sponsor union view from the graphs (maintenance; one step)."""
        self._apply(rebuild_views_update())

    def _apply(self, update: str) -> None:
        try:
            with self._write_lock:
                self._store.update(update)
        except SyntaxError as error:  # our own text: a bug, but say what happened
            raise ValidationError(f"the store refused the generated update: {error}") from None
        except (OSError, RuntimeError) as error:
            raise StoreUnavailableError(f"the embedded store failed to write, nothing was "
                                        f"changed: {error}") from None

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the query workers and release the store (its directory can be reopened)."""
        self._workers.shutdown(wait=False, cancel_futures=True)
        store, self._opened = self._opened, None
        if store is not None and self.path is not None:
            store.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


__all__ = ["OxigraphStore"]
