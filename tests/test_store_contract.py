"""One contract for every federation store backend: embedded pyoxigraph and a real
``oxigraph serve`` reached over the SPARQL 1.1 Protocol.

What a user of the federation relies on: graphs are replaced atomically (a failed push
leaves every batch in its old version), a caller sees only the graphs in their scope — no
pattern, ``GRAPH ?g``, ``FROM``, ``FROM NAMED``, property path or ``SERVICE`` trick reaches
another sponsor's graph — the query path is read-only, results come in the standard formats,
and the row cap and time limit behave as documented.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import isomorphic
from rdflib.query import Result

import federation.store.oxigraph_store as oxigraph_module
import federation.store.remote_store as remote_module
import federation.store.scope as scope_module
from bioprocess.errors import NotFoundError, StoreUnavailableError, ValidationError
from federation.store import (
    META_GRAPH,
    GraphMetadata,
    OxigraphStore,
    QueryError,
    QueryLimitError,
    QueryResult,
    QueryScopeError,
    RemoteStore,
    ResultFormat,
    ResultFormatError,
    Store,
    open_store,
)
from federation.store.sparql_guard import QueryShape, inspect_query
from tests.oxigraph_server import free_port, running_oxigraph

A = "https://fed.example/site-a/batch/A-001"  # sponsor S1, site A
B = "https://fed.example/site-b/batch/B-001"  # sponsor S2, site B (the secret one)
C = "https://fed.example/site-b/batch/C-001"  # sponsor S1, site B

A_DATA = b"""<urn:x:a1> <urn:p:next> <urn:x:b1> .
<urn:x:a1> <urn:p:label> "A one" .
<urn:x:a1> <urn:p:titre> "3.2"^^<http://www.w3.org/2001/XMLSchema#decimal> .
"""
B_DATA = b"""<urn:x:b1> <urn:p:next> <urn:x:secret> .
<urn:x:b1> <urn:p:label> "B secret" .
<urn:x:secret> <urn:p:label> "B deeper secret" .
"""
C_DATA = b"""<urn:x:c1> <urn:p:label> "C one" .
"""
A_TWO = b'<urn:x:a1> <urn:p:label> "A two" .\n'
RECEIVED = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
META = {
    A: GraphMetadata(site="A", sponsor="S1", export_hash="sha256:aa", received_at=RECEIVED,
                     alignment_version="A-1.0", kind="batch"),
    B: GraphMetadata(site="B", sponsor="S2", export_hash="sha256:bb", received_at=RECEIVED,
                     alignment_version="B-2.1", kind="batch"),
    C: GraphMetadata(site="B", sponsor="S1", export_hash="sha256:cc", kind="batch"),
}


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oxigraph_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_oxigraph(tmp_path_factory.mktemp("oxigraph-serve") / "db") as server:
        yield server.base_url


@pytest.fixture(params=["embedded", "remote"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "embedded":
        opened: Store = OxigraphStore(tmp_path / "store")
    else:
        remote = RemoteStore.from_url(request.getfixturevalue("oxigraph_url"))
        remote.connector.post_update("DROP SILENT ALL")
        opened = remote
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def seeded(store: Store) -> Store:
    store.replace_graphs({A: A_DATA, B: B_DATA, C: C_DATA}, META)
    return store


def values(result: QueryResult, variable: str) -> set[str]:
    return {row[variable].value for row in result.bindings() if variable in row}


def graph_of(data: bytes) -> rdflib.Graph:
    return rdflib.Graph().parse(data=data, format="nt")


def secrets_in(result: QueryResult) -> bool:
    text = result.serialize(ResultFormat.default_for(result.form)).decode()
    return "secret" in text or B in text or "urn:twinfed:store:" in text


# --- reading and replacing graphs --------------------------------------------------------


def test_both_backends_implement_the_store_protocol(store: Store) -> None:
    assert isinstance(store, Store)


def test_replaced_graphs_read_back_and_are_listed(seeded: Store) -> None:
    assert seeded.graph_names() == sorted([A, B, C])
    assert isomorphic(graph_of(seeded.get_graph(A)), graph_of(A_DATA))
    assert META_GRAPH not in seeded.graph_names()


def test_replacing_a_graph_drops_its_old_triples(seeded: Store) -> None:
    seeded.replace_graphs({A: A_TWO})
    assert set(graph_of(seeded.get_graph(A))) == set(graph_of(A_TWO))
    assert isomorphic(graph_of(seeded.get_graph(B)), graph_of(B_DATA))


def test_triples_and_quads_are_accepted_as_content(store: Store) -> None:
    triple = ox.Triple(ox.NamedNode("urn:x:q"), ox.NamedNode("urn:p:label"), ox.Literal("q"))
    store.replace_graphs({A: [triple], B: [ox.Quad(*triple, ox.NamedNode(B))],
                          C: b'<urn:x:q> <urn:p:label> "q" <' + C.encode() + b"> .\n"})
    for iri in (A, B, C):
        assert set(graph_of(store.get_graph(iri))) == {(rdflib.URIRef("urn:x:q"),
                                                         rdflib.URIRef("urn:p:label"),
                                                         rdflib.Literal("q"))}


def test_a_graph_replaced_with_nothing_exists_and_is_empty(store: Store) -> None:
    store.replace_graphs({A: b""})
    assert store.get_graph(A) == b""


def test_reading_a_missing_graph_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        store.get_graph("https://fed.example/site-z/batch/none")


def test_deleting_graphs_removes_data_and_metadata_together(seeded: Store) -> None:
    seeded.delete_graphs([A, "https://fed.example/never-existed"])
    assert seeded.graph_names() == sorted([B, C])
    assert set(seeded.graph_metadata()) == {B, C}


def test_blank_nodes_of_different_graphs_stay_different(store: Store) -> None:
    store.replace_graphs({A: b'_:x <urn:p:label> "a" .\n', B: b'_:x <urn:p:label> "b" .\n'})
    result = store.query("SELECT ?s (COUNT(*) AS ?n) WHERE { ?s <urn:p:label> ?o } GROUP BY ?s",
                         graphs=[A, B])
    assert sorted(int(row["n"].value) for row in result.bindings()) == [1, 1]


def test_graph_names_must_be_absolute_and_not_reserved(store: Store) -> None:
    for bad in ("relative/graph", "urn:bad graph", META_GRAPH):
        with pytest.raises(ValidationError):
            store.replace_graphs({bad: A_DATA})


def test_quads_naming_another_graph_are_refused(store: Store) -> None:
    with pytest.raises(ValidationError, match="must be in that graph"):
        store.replace_graphs({A: b'<urn:x:a> <urn:p:l> "x" <' + B.encode() + b"> .\n"})
    assert store.graph_names() == []


def test_embedded_store_persists_across_reopening(tmp_path: Path) -> None:
    with OxigraphStore(tmp_path / "db") as first:
        first.replace_graphs({A: A_DATA}, {A: META[A]})
    with open_store(tmp_path / "db") as again:
        assert again.graph_names() == [A]
        assert again.graph_metadata([A]) == {A: META[A]}


# --- atomicity ---------------------------------------------------------------------------


def assert_seed_intact(store: Store) -> None:
    for iri, data in ((A, A_DATA), (B, B_DATA), (C, C_DATA)):
        assert isomorphic(graph_of(store.get_graph(iri)), graph_of(data)), iri
    assert store.graph_metadata() == META


def test_a_malformed_graph_in_a_push_leaves_every_old_graph_intact(seeded: Store) -> None:
    push = {A: b'<urn:x:a1> <urn:p:label> "A new" .\n',
            C: b'<urn:x:c1> <urn:p:label> "C new" .\n',
            B: b"<urn:x:b1> <urn:p:label> this is not N-Triples .\n"}
    new_meta = {iri: GraphMetadata(site="X", sponsor="S9") for iri in push}
    with pytest.raises(ValidationError, match="not valid N-Triples"):
        seeded.replace_graphs(push, new_meta)
    assert_seed_intact(seeded)


def test_a_push_can_replace_and_delete_in_one_step(seeded: Store) -> None:
    with pytest.raises(ValidationError):
        seeded.replace_graphs({A: b"not N-Triples"}, delete=[B])
    assert_seed_intact(seeded)
    seeded.replace_graphs({A: A_TWO}, {A: META[A]}, delete=[B])
    assert seeded.graph_names() == sorted([A, C])
    assert set(seeded.graph_metadata()) == {A, C}
    assert seeded.query("ASK { ?s ?p ?o }", sponsors={"S2"}).boolean is False
    with pytest.raises(ValidationError, match="both written and deleted"):
        seeded.replace_graphs({A: A_DATA}, delete=[A])


def test_a_write_failing_midway_is_rolled_back(seeded: Store,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The update drops and re-inserts every graph, then fails: nothing may remain of it."""
    real = oxigraph_module.replace_update

    def failing_at_the_end(*args: object, **kwargs: object) -> str:
        return real(*args, **kwargs) + " ;\nDROP GRAPH <urn:twinfed:test:missing-graph>"

    monkeypatch.setattr(oxigraph_module, "replace_update", failing_at_the_end)
    monkeypatch.setattr(remote_module, "replace_update", failing_at_the_end)
    with pytest.raises(StoreUnavailableError):
        seeded.replace_graphs({A: b'<urn:x:a1> <urn:p:label> "A new" .\n', B: b""},
                              {A: GraphMetadata(site="X", sponsor="S9")})
    assert_seed_intact(seeded)


class CuttingProxy:
    """A TCP proxy that forwards only the first ``limit`` bytes of a request, then hangs up."""

    def __init__(self, upstream_port: int, limit: int) -> None:
        self.limit = limit
        self.upstream_port = upstream_port
        self.forwarded = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve_one, daemon=True)
        self._thread.start()

    def _serve_one(self) -> None:
        client, _ = self._server.accept()
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        with client, upstream:
            while self.forwarded < self.limit:
                data = client.recv(min(65536, self.limit - self.forwarded))
                if not data:
                    break
                upstream.sendall(data)
                self.forwarded += len(data)
        self._server.close()


def test_a_connection_cut_midway_through_a_push_leaves_old_graphs(oxigraph_url: str) -> None:
    with RemoteStore.from_url(oxigraph_url) as direct:
        direct.connector.post_update("DROP SILENT ALL")
        direct.replace_graphs({A: A_DATA, B: B_DATA, C: C_DATA}, META)
        big = b"".join(b'<urn:x:a%d> <urn:p:label> "new %d" .\n' % (i, i) for i in range(5000))
        proxy = CuttingProxy(int(oxigraph_url.rsplit(":", 1)[1]), limit=60_000)
        with (RemoteStore.from_url(f"http://127.0.0.1:{proxy.port}") as cut,
              pytest.raises(StoreUnavailableError, match="127.0.0.1")):
            cut.replace_graphs({A: big, C: big, B: b""},
                               {A: GraphMetadata(site="X", sponsor="S9")})
        assert 0 < proxy.forwarded <= 60_000
        time.sleep(0.2)  # let the server notice the hang-up
        assert_seed_intact(direct)


# --- scoping -----------------------------------------------------------------------------

#: Query keyword arguments of a scope, and the graphs it must make visible.
ScopeCase = tuple[dict[str, Any], set[str]]
#: Two ways to say "sponsor S1's caller": individual graphs, or the whole sponsor.
SCOPES = {"graphs [A]": {"graphs": [A]}, "sponsor S1": {"sponsors": {"S1"}}}
VISIBLE = {"graphs [A]": {A}, "sponsor S1": {A, C}}


@pytest.fixture(params=sorted(SCOPES))
def scope(request: pytest.FixtureRequest) -> ScopeCase:
    return SCOPES[request.param], VISIBLE[request.param]


def test_plain_patterns_see_only_the_scoped_graphs(seeded: Store, scope: ScopeCase) -> None:
    kwargs, visible = scope
    result = seeded.query("SELECT ?s ?o WHERE { ?s ?p ?o }", **kwargs)
    assert values(result, "s") == {{A: "urn:x:a1", C: "urn:x:c1"}[g] for g in visible}
    assert not secrets_in(result)


def test_graph_variable_ranges_over_the_scoped_graphs_only(seeded: Store, scope: ScopeCase) -> None:
    kwargs, visible = scope
    result = seeded.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", **kwargs)
    assert values(result, "g") == visible
    empty_patterns = seeded.query("SELECT ?g WHERE { GRAPH ?g { } }", **kwargs)
    assert values(empty_patterns, "g") <= visible


def test_naming_an_unscoped_graph_in_graph_gives_nothing(seeded: Store, scope: ScopeCase) -> None:
    kwargs, _ = scope
    result = seeded.query(f"SELECT * WHERE {{ GRAPH <{B}> {{ ?s ?p ?o }} }}", **kwargs)
    assert result.rows == ()


@pytest.mark.parametrize("query", [
    f"SELECT * FROM <{B}> WHERE {{ ?s ?p ?o }}",
    f"SELECT * FROM NAMED <{B}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    f"SELECT * FROM <{A}> FROM NAMED <{B}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    "PREFIX b: <https://fed.example/site-b/batch/> SELECT * FROM b:B-001 WHERE { ?s ?p ?o }",
    f"select * from <{B}> where {{ ?s ?p ?o }}",
    f"CONSTRUCT {{ ?s ?p ?o }} FROM <{B}> WHERE {{ ?s ?p ?o }}",
    f"ASK FROM <{B}> {{ ?s ?p ?o }}",
    f"DESCRIBE <urn:x:b1> FROM <{B}>",
    f"SELECT * FROM <{META_GRAPH}> WHERE {{ ?s ?p ?o }}",
    "SELECT * FROM <urn:twinfed:store:view:S2> WHERE { ?s ?p ?o }",
])
def test_from_clauses_cannot_widen_the_scope(seeded: Store, scope: ScopeCase, query: str) -> None:
    kwargs, _ = scope
    with pytest.raises(QueryScopeError, match="outside the graphs this caller may query"):
        seeded.query(query, **kwargs)


def test_from_clauses_within_scope_narrow_the_dataset(seeded: Store) -> None:
    result = seeded.query(f"SELECT ?s FROM <{C}> WHERE {{ ?s ?p ?o }}", graphs=[A, C])
    by_sponsor = seeded.query(f"SELECT ?s FROM <{C}> WHERE {{ ?s ?p ?o }}", sponsors={"S1"})
    assert values(result, "s") == values(by_sponsor, "s") == {"urn:x:c1"}


def test_even_a_from_clause_the_guard_missed_cannot_widen_the_scope(
    seeded: Store, scope: ScopeCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: the engine's dataset override alone keeps B out."""
    kwargs, visible = scope
    monkeypatch.setattr(scope_module, "inspect_query",
                        lambda sparql: QueryShape(form=inspect_query(sparql).form))
    plain = seeded.query(f"SELECT * FROM <{B}> WHERE {{ ?s ?p ?o }}", **kwargs)
    named = seeded.query(f"SELECT * FROM NAMED <{B}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
                         **kwargs)
    assert "urn:x:a1" in values(plain, "s")
    assert values(named, "g") == visible
    assert not secrets_in(plain) and not secrets_in(named)


def test_a_protocol_dataset_must_stay_within_scope(seeded: Store, scope: ScopeCase) -> None:
    kwargs, _ = scope
    with pytest.raises(QueryScopeError):
        seeded.query("SELECT * WHERE { ?s ?p ?o }", default_graphs=[B], **kwargs)
    with pytest.raises(QueryScopeError):
        seeded.query("SELECT * WHERE { ?s ?p ?o }", named_graphs=[B], **kwargs)
    only_named = seeded.query("SELECT * WHERE { ?s ?p ?o }", named_graphs=[A], **kwargs)
    assert only_named.rows == ()


@pytest.mark.parametrize("query", [
    "SELECT ?o WHERE { <urn:x:a1> <urn:p:next>+ ?o }",
    "SELECT ?o WHERE { <urn:x:a1> (<urn:p:next>|<urn:p:label>)* ?o }",
    "SELECT ?o WHERE { <urn:x:a1> (!<urn:p:none>)+ ?o }",
    "SELECT ?o WHERE { ?o ^<urn:p:next>/<urn:p:next> ?x }",
    "SELECT ?o WHERE { <urn:x:a1> <urn:p:next>/<urn:p:label> ?o }",
    "SELECT ?o WHERE { GRAPH ?g { <urn:x:a1> <urn:p:next>* ?o } }",
])
def test_property_paths_do_not_escape_the_scope(seeded: Store, scope: ScopeCase,
                                                query: str) -> None:
    kwargs, _ = scope
    result = seeded.query(query, **kwargs)
    assert not secrets_in(result)
    assert "urn:x:secret" not in values(result, "o")


def test_describe_and_construct_stay_in_scope(seeded: Store, scope: ScopeCase) -> None:
    kwargs, visible = scope
    described = seeded.query("DESCRIBE <urn:x:b1>", **kwargs)
    built = seeded.query("CONSTRUCT WHERE { ?s ?p ?o }", **kwargs)
    assert not secrets_in(described)
    assert not secrets_in(built)
    assert len(built.triples) == 3 + (1 if C in visible else 0)


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { ?s ?p ?o }",
    "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }",
    "SELECT ?g WHERE { GRAPH ?g { } }",
    "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
])
@pytest.mark.parametrize("empty", [{}, {"graphs": []}, {"sponsors": set()},
                                   {"sponsors": {"nobody"}}])
def test_an_empty_scope_sees_nothing(seeded: Store, query: str, empty: dict) -> None:
    result = seeded.query(query, **empty)
    assert not secrets_in(result)
    assert all(str(row.get("n", ox.Literal("0"))).startswith('"0"')
               for row in result.bindings())
    if "COUNT" not in query:
        assert result.rows == ()
    assert seeded.query("ASK { ?s ?p ?o }", **empty).boolean is False


def test_the_metadata_graph_and_views_are_never_in_scope(seeded: Store) -> None:
    result = seeded.query(f"SELECT * WHERE {{ GRAPH <{META_GRAPH}> {{ ?s ?p ?o }} }}",
                          sponsors={"S1", "S2"}, graphs=[A])
    views = seeded.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }",
                         sponsors={"S1", "S2"})
    assert result.rows == ()
    assert values(views, "g") == {A, B, C}
    for reserved in (META_GRAPH, "urn:twinfed:store:view:S2"):
        with pytest.raises(ValidationError, match="reserved"):
            seeded.query("SELECT * WHERE { ?s ?p ?o }", graphs=[A, reserved])


def test_a_scope_of_sponsors_and_graphs_counts_each_graph_once(seeded: Store) -> None:
    both = seeded.query("SELECT ?s WHERE { ?s ?p ?o }", sponsors={"S1"}, graphs=[A, C])
    assert len(both.rows) == len(A_DATA.splitlines()) + len(C_DATA.splitlines())


# --- sponsor views ---------------------------------------------------------------------------

SHARED = b'<urn:x:site-b> <urn:p:label> "Site B" .\n'


def assert_views_match_members(store: Store) -> None:
    """Each sponsor's view holds exactly the union of its graphs, at every moment."""
    for sponsor in ("S1", "S2", "S3"):
        members = rdflib.Graph()
        for iri in store.graphs_where(sponsor_in={sponsor}):
            members += graph_of(store.get_graph(iri))
        view = store.query("CONSTRUCT WHERE { ?s ?p ?o }", sponsors={sponsor})
        assert isomorphic(graph_of(view.serialize(ResultFormat.N_TRIPLES)), members), sponsor


def test_sponsor_views_follow_every_kind_of_write(seeded: Store) -> None:
    assert_views_match_members(seeded)
    seeded.replace_graphs({B: B_DATA + SHARED, C: C_DATA + SHARED})  # shared by S1 and S2
    assert_views_match_members(seeded)
    seeded.replace_graphs({"https://fed.example/site-b/batch/C-002": SHARED},
                          {"https://fed.example/site-b/batch/C-002": META[C]})
    seeded.replace_graphs({C: C_DATA})  # C-002 of S1 still holds the shared triple
    assert_views_match_members(seeded)
    seeded.replace_graphs({C: C_DATA + SHARED})  # both S1 graphs hold it now ...
    seeded.replace_graphs({C: C_DATA, "https://fed.example/site-b/batch/C-002": b""})
    assert_views_match_members(seeded)  # ... and one push took it out of both
    seeded.replace_graphs({}, {A: GraphMetadata(site="A", sponsor="S3")})  # sponsor moves
    assert_views_match_members(seeded)
    assert "A one" not in values(seeded.query("SELECT ?l { ?s <urn:p:label> ?l }",
                                              sponsors={"S1"}), "l")
    seeded.delete_graphs([B, C])
    assert_views_match_members(seeded)
    seeded.replace_graphs({B: b'_:x <urn:p:label> "b" .\n'}, {B: META[B]})
    assert_views_match_members(seeded)


def test_a_failed_write_leaves_the_views_as_they_were(seeded: Store) -> None:
    with pytest.raises(ValidationError):
        seeded.replace_graphs({A: b"", B: b"not N-Triples"}, {A: META[B]})
    assert_views_match_members(seeded)


def test_sponsor_views_can_be_rebuilt(seeded: Store) -> None:
    before = seeded.query("CONSTRUCT WHERE { ?s ?p ?o }", sponsors={"S1"})
    seeded.rebuild_sponsor_views()  # type: ignore[attr-defined]
    after = seeded.query("CONSTRUCT WHERE { ?s ?p ?o }", sponsors={"S1"})
    assert set(before.triples) == set(after.triples)
    assert_views_match_members(seeded)


@pytest.mark.parametrize("query", [
    "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "select * where { service silent <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p 1SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?o FILTER(true)SERVICE <http://127.0.0.1:9/s> { ?s ?p ?o } }",
    "SELECT * WHERE { \\u0053ERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?o . SERVICE ?endpoint { ?s ?p ?o } }",
])
def test_service_is_refused(seeded: Store, query: str) -> None:
    with pytest.raises(QueryError, match="SERVICE .* is disabled"):
        seeded.query(query, graphs=[A])


def test_the_word_service_in_strings_iris_and_names_is_fine(seeded: Store) -> None:
    result = seeded.query(
        'PREFIX ex: <urn:service:> SELECT ?service WHERE { BIND("customer service" AS ?service)'
        " ?s ?p ?o FILTER(?p != ex:Service && ?p != <urn:SERVICE>) } # SERVICE in a comment",
        graphs=[A])
    assert values(result, "service") == {"customer service"}


@pytest.mark.parametrize("update", [
    'INSERT DATA { GRAPH <urn:g> { <urn:x> <urn:p> "y" } }',
    "DELETE WHERE { ?s ?p ?o }",
    "PREFIX ex: <urn:ex:> DELETE { ?s ?p ?o } INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }",
    f"WITH <{A}> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}",
    "LOAD <http://127.0.0.1:9/data.ttl>",
    "CLEAR ALL",
    "drop all",
    f"DROP GRAPH <{A}>",
    "CREATE GRAPH <urn:new>",
    f"ADD <{B}> TO <{A}>",
    f"MOVE <{B}> TO <{A}>",
    f"COPY <{B}> TO <{A}>",
])
def test_updates_are_refused_on_the_query_path(seeded: Store, update: str) -> None:
    with pytest.raises(QueryError, match="read-only"):
        seeded.query(update, graphs=[A, B, C])
    assert_seed_intact(seeded)


def test_invalid_sparql_is_a_query_error_that_says_where(seeded: Store) -> None:
    with pytest.raises(QueryError, match="1:") as caught:
        seeded.query("SELECT * WHERE { ?s ?p }", graphs=[A])
    assert "read-only" not in str(caught.value)
    assert caught.value.http_status == 400


# --- result formats ------------------------------------------------------------------------

TRICKY = (b'<urn:x:d1> <urn:p:label> "tab\\there, \\"quoted\\"\\nnew line"@en .\n'
          b'<urn:x:d1> <urn:p:count> "42"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
          b'_:bn <urn:p:label> "blank" .\n')
TRICKY_QUERY = ("SELECT ?s ?label ?count WHERE { ?s <urn:p:label> ?label "
                "OPTIONAL { ?s <urn:p:count> ?count } } ORDER BY DESC(BOUND(?count))")


@pytest.mark.parametrize("fmt,rdflib_format", [
    (ResultFormat.JSON, "json"), (ResultFormat.XML, "xml"), (ResultFormat.TSV, "tsv"),
])
def test_select_results_parse_with_rdflib(store: Store, fmt: ResultFormat,
                                          rdflib_format: str) -> None:
    store.replace_graphs({A: TRICKY})
    result = store.query(TRICKY_QUERY, graphs=[A], result_format=fmt)
    assert result.media_type == fmt.media_type
    parsed = Result.parse(io.BytesIO(result.body), format=rdflib_format)
    rows = [{str(k): v for k, v in row.items()} for row in parsed.bindings]
    assert [str(v) for v in parsed.vars] == ["s", "label", "count"]
    assert rows[0]["label"] == rdflib.Literal('tab\there, "quoted"\nnew line', lang="en")
    assert rows[0]["count"] == rdflib.Literal(42)
    assert rows[0]["s"] == rdflib.URIRef("urn:x:d1")
    assert isinstance(rows[1]["s"], rdflib.BNode) and "count" not in rows[1]


def test_select_results_as_csv_parse_with_the_csv_module(store: Store) -> None:
    store.replace_graphs({A: TRICKY})
    result = store.query(TRICKY_QUERY, graphs=[A], result_format=ResultFormat.CSV)
    rows = list(csv.reader(io.StringIO(result.body.decode(), newline="")))
    assert rows[0] == ["s", "label", "count"]
    assert rows[1] == ["urn:x:d1", 'tab\there, "quoted"\nnew line', "42"]
    assert rows[2][0].startswith("_:") and rows[2][1:] == ["blank", ""]


def test_ask_results_in_json_and_xml(seeded: Store) -> None:
    yes = seeded.query("ASK { ?s <urn:p:label> 'A one' }", graphs=[A])
    assert json.loads(yes.body) == {"head": {}, "boolean": True}
    no = seeded.query("ASK { ?s <urn:p:label> 'B secret' }", graphs=[A],
                      result_format=ResultFormat.XML)
    assert Result.parse(io.BytesIO(no.body), format="xml").askAnswer is False


@pytest.mark.parametrize("fmt,rdflib_format", [
    (ResultFormat.N_TRIPLES, "nt"), (ResultFormat.TURTLE, "turtle"),
    (ResultFormat.JSON_LD, "json-ld"), (ResultFormat.RDF_XML, "xml"),
    (ResultFormat.N_QUADS, "nquads"),
])
def test_construct_results_parse_with_rdflib(seeded: Store, fmt: ResultFormat,
                                             rdflib_format: str) -> None:
    result = seeded.query("CONSTRUCT WHERE { ?s ?p ?o }", graphs=[A], result_format=fmt)
    parsed = rdflib.Dataset().parse(data=result.body, format=rdflib_format)
    triples = rdflib.Graph()
    for s, p, o, _ in parsed.quads((None, None, None, None)):
        triples.add((s, p, o))
    assert isomorphic(triples, graph_of(A_DATA))


def test_a_format_that_cannot_carry_the_results_is_refused(seeded: Store) -> None:
    with pytest.raises(ResultFormatError, match="cannot be written as text/csv"):
        seeded.query("CONSTRUCT WHERE { ?s ?p ?o }", graphs=[A], result_format=ResultFormat.CSV)
    with pytest.raises(ResultFormatError):
        seeded.query("SELECT * { ?s ?p ?o }", graphs=[A], result_format=ResultFormat.TURTLE)


def test_union_of_graphs_is_a_bag_so_count_distinct_where_it_matters(store: Store) -> None:
    """Documented behaviour: a triple in two scoped graphs matches once per graph."""
    shared = b'<urn:x:site> <urn:p:label> "Site A" .\n'
    store.replace_graphs({A: shared, C: shared})
    plain = store.query("SELECT ?s WHERE { ?s ?p ?o }", graphs=[A, C])
    distinct = store.query("SELECT DISTINCT ?s WHERE { ?s ?p ?o }", graphs=[A, C])
    assert (len(plain.rows), len(distinct.rows)) == (2, 1)


# --- limits ----------------------------------------------------------------------------------

MANY = b"".join(b'<urn:x:n%d> <urn:p:v%d> "v%d" .\n' % (i, i % 5, i) for i in range(2000))


def test_results_beyond_the_cap_are_cut_and_flagged(store: Store) -> None:
    store.replace_graphs({A: b"".join(MANY.splitlines(keepends=True)[:50])})
    rows = store.query("SELECT ?s WHERE { ?s ?p ?o }", graphs=[A]).rows
    capped = store.query("SELECT ?s WHERE { ?s ?p ?o }", graphs=[A], max_results=10)
    exact = store.query("SELECT ?s WHERE { ?s ?p ?o }", graphs=[A], max_results=len(rows))
    built = store.query("CONSTRUCT WHERE { ?s ?p ?o }", graphs=[A], max_results=7)
    assert (len(capped.rows), capped.truncated) == (10, True)
    assert (len(exact.rows), exact.truncated) == (len(rows), False)
    assert (len(built.triples), built.truncated) == (7, True)
    assert len(json.loads(capped.body)["results"]["bindings"]) == 10


@pytest.mark.parametrize("query", [
    "SELECT ?a WHERE { ?a ?p ?b . ?c ?q ?d . ?e ?r ?f }",  # streams rows for ever
    "SELECT (COUNT(*) AS ?n) WHERE { ?a ?p ?b . ?c ?q ?d }",  # one row after a long count
])
def test_an_expensive_query_hits_the_time_limit(store: Store, query: str) -> None:
    store.replace_graphs({A: MANY})
    started = time.monotonic()
    with pytest.raises(QueryLimitError, match="must finish within 0.2 s"):
        store.query(query, graphs=[A], timeout_s=0.2, max_results=10**9)
    assert time.monotonic() - started < 1.5


def test_a_cheap_query_finishes_within_the_same_limit(store: Store) -> None:
    store.replace_graphs({A: MANY})
    result = store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", graphs=[A],
                         timeout_s=0.2)
    assert result.bindings()[0]["n"].value == "2000"


# --- metadata --------------------------------------------------------------------------------


def test_metadata_round_trips(seeded: Store) -> None:
    assert seeded.graph_metadata([A, B, C]) == META
    assert seeded.graph_metadata([A]) == {A: META[A]}
    assert seeded.graph_metadata([]) == {}


def test_metadata_can_change_alone_and_survives_a_data_only_replace(seeded: Store) -> None:
    newer = GraphMetadata(site="A", sponsor="S1", export_hash="sha256:a2", kind="batch")
    seeded.replace_graphs({}, {A: newer})
    seeded.replace_graphs({A: b'<urn:x:a1> <urn:p:label> "A two" .\n'})
    assert seeded.graph_metadata([A]) == {A: newer}


def test_graphs_where_filters_by_sponsor_and_site(seeded: Store) -> None:
    assert seeded.graphs_where(sponsor_in={"S1"}) == sorted([A, C])
    assert seeded.graphs_where(sponsor_in={"S1", "S2"}, site="B") == sorted([B, C])
    assert seeded.graphs_where(sponsor_in={"S2"}, site="A") == []
    assert seeded.graphs_where(sponsor_in=set()) == []
    assert seeded.graphs_where(site="A") == [A]
    assert seeded.graphs_where() == sorted([A, B, C])
    assert seeded.graphs_where(sponsor_in={'S1" } UNION { ?g ?x ?y'}) == []


def test_scope_by_sponsor_end_to_end(seeded: Store) -> None:
    visible = seeded.graphs_where(sponsor_in={"S1"})
    result = seeded.query("SELECT ?label WHERE { ?s <urn:p:label> ?label }", graphs=visible)
    assert values(result, "label") == {"A one", "C one"}


def test_received_time_must_be_timezone_aware() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        GraphMetadata(received_at=datetime(2025, 1, 1))


# --- remote specifics ------------------------------------------------------------------------


def test_an_unreachable_remote_store_is_unavailable_without_leaking_credentials() -> None:
    url = f"http://twinfed:s3cret-token@127.0.0.1:{free_port()}"
    with (RemoteStore.from_url(url, retries=1, retry_backoff_s=0.01) as remote,
          pytest.raises(StoreUnavailableError) as caught):
        remote.query("ASK {}", graphs=[A])
    message = str(caught.value)
    assert "127.0.0.1" in message and "s3cret" not in message and "twinfed:" not in message


def test_open_store_picks_the_backend_from_its_argument(tmp_path: Path,
                                                        oxigraph_url: str) -> None:
    for where, kind in ((None, OxigraphStore), (tmp_path / "s", OxigraphStore),
                        (str(tmp_path / "t"), OxigraphStore), (oxigraph_url, RemoteStore)):
        opened = open_store(where)
        try:
            assert isinstance(opened, kind)
            assert opened.query("ASK {}", graphs=[]).boolean is True
        finally:
            opened.close()
