"""Atomic writes as ONE SPARQL Update request: replace or delete a set of named graphs.

Both backends write this way — the embedded store through ``pyoxigraph.Store.update`` (one
transaction), the remote store as one ``application/sparql-update`` POST — so a batch push
leaves every graph either in its old or in its new version, never a mix, and the metadata
graph and the per-sponsor union views (:func:`~federation.store.metadata.sponsor_view`)
change in the same step as the data.

One request, in order: (1) take the touched graphs' old triples out of their sponsor's view,
except triples another, untouched graph of that sponsor still holds; (2) drop the graphs and
their old metadata; (3) insert the new content and metadata; (4) add the touched graphs'
new triples to their (possibly new) sponsor's view. Steps 1 and 4 read the sponsor from the
metadata graph inside the update, so they see exactly what the same transaction sees.

The data is always parsed (and so validated) with pyoxigraph and re-serialised as
N-Triples before it is put into the update text: nothing a site sends is pasted into SPARQL
verbatim, so a crafted literal cannot inject update operations, and a malformed graph fails
the whole request before anything is written. Blank-node labels are renamed per graph, so
``_:b0`` in two different graphs stays two different nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pyoxigraph as ox

from bioprocess.errors import ValidationError
from federation.store.metadata import (
    META_GRAPH,
    META_NS,
    VIEW_PREFIX,
    GraphMetadata,
    graph_node,
    metadata_triples,
)

#: Content of one named graph: N-Triples/N-Quads bytes, or pyoxigraph triples/quads.
#: Quads must be in the default graph or in the graph they are written to.
GraphData = bytes | Iterable[ox.Triple | ox.Quad]

_META = f"<{META_GRAPH}>"
_SPONSOR = f"<{META_NS}sponsor>"
_VIEW_OF_SPONSOR = f'BIND(IRI(CONCAT("{VIEW_PREFIX}", ENCODE_FOR_URI(?sponsor))) AS ?view)'


def graph_triples(iri: str, data: GraphData, *, blank_prefix: str = "") -> list[ox.Triple]:
    """Parse and check the content of graph ``iri``; blank nodes get ``blank_prefix``."""
    target = graph_node(iri)
    items: Iterable[ox.Triple | ox.Quad]
    if isinstance(data, bytes | bytearray | memoryview):
        items = ox.parse(bytes(data), format=ox.RdfFormat.N_QUADS)
    else:
        items = data
    triples: list[ox.Triple] = []
    try:
        for item in items:
            if isinstance(item, ox.Quad):
                if item.graph_name != target and not isinstance(item.graph_name,
                                                                ox.DefaultGraph):
                    raise ValidationError(
                        f"graph <{iri}>: every quad must be in that graph or the default "
                        f"graph; got one in {item.graph_name} instead")
                triples.append(item.triple)
            elif isinstance(item, ox.Triple):
                triples.append(item)
            else:
                raise ValidationError(f"graph <{iri}>: content must be N-Triples/N-Quads bytes "
                                      f"or pyoxigraph triples; got {type(item).__name__}")
    except SyntaxError as error:
        raise ValidationError(f"graph <{iri}> is not valid N-Triples/N-Quads: {error}"
                              ) from None
    if blank_prefix and any(_has_blank(t) for t in triples):
        triples = [_relabel(t, blank_prefix) for t in triples]
    return triples


def replace_update(
    graphs: Mapping[str, GraphData],
    metadata_updates: Mapping[str, GraphMetadata] | None = None,
    delete: Iterable[str] = (),
) -> str:
    """The update that replaces ``graphs``, the given metadata, and drops ``delete``, at once.

    Graphs replaced without a ``metadata_updates`` entry keep their previous metadata;
    metadata entries may also name graphs whose data is not replaced.
    """
    metadata_updates = metadata_updates or {}
    dropped = list(dict.fromkeys(delete))
    clash = sorted(set(dropped) & (set(graphs) | set(metadata_updates)))
    if clash:
        raise ValidationError(f"a graph cannot be both written and deleted in one step; got "
                              f"{', '.join(f'<{iri}>' for iri in clash[:5])}")
    data = {iri: graph_triples(iri, content, blank_prefix=f"g{i}x")
            for i, (iri, content) in enumerate(graphs.items())}
    meta = [t for iri, m in metadata_updates.items() for t in metadata_triples(iri, m)]
    names = [str(graph_node(iri)) for iri in graphs]
    touched = list(dict.fromkeys([*graphs, *metadata_updates]))
    if not touched and not dropped:
        return ""
    operations = [_views_remove([*touched, *dropped])]
    operations += [f"DROP SILENT GRAPH {name}" for name in names]
    operations += [f"DROP SILENT GRAPH {graph_node(iri)}" for iri in dropped]
    if metadata_updates or dropped:
        operations.append(_delete_metadata([*metadata_updates, *dropped]))
    operations += [f"CREATE SILENT GRAPH {name}" for name in names]
    blocks = [f"GRAPH {name} {{\n{_ntriples(triples)}}}"
              for name, triples in zip(names, data.values(), strict=True) if triples]
    if meta:
        blocks.append(f"GRAPH {_META} {{\n{_ntriples(meta)}}}")
    if blocks:
        operations.append("INSERT DATA {\n" + "\n".join(blocks) + "\n}")
    if touched:
        operations.append(_views_add(touched))
    return " ;\n".join(operations)


def delete_update(iris: Iterable[str]) -> str:
    """The update that drops every graph in ``iris``, its metadata and its view triples."""
    return replace_update({}, None, delete=iris)


def rebuild_views_update() -> str:
    """The update that recomputes every sponsor view from the graphs and their metadata."""
    return (
        f"DELETE {{ GRAPH ?view {{ ?s ?p ?o }} }} WHERE {{ GRAPH ?view {{ ?s ?p ?o }} "
        f'FILTER(STRSTARTS(STR(?view), "{VIEW_PREFIX}")) }} ;\n'
        f"INSERT {{ GRAPH ?view {{ ?s ?p ?o }} }} WHERE {{ GRAPH {_META} {{ ?g {_SPONSOR} "
        f"?sponsor }} {_VIEW_OF_SPONSOR} GRAPH ?g {{ ?s ?p ?o }} }}"
    )


def _views_remove(iris: list[str]) -> str:
    """Take the graphs' triples out of their sponsor's view, unless an untouched graph of
    the same sponsor also holds them (views are set unions)."""
    names = [str(graph_node(iri)) for iri in iris]
    return (
        f"DELETE {{ GRAPH ?view {{ ?s ?p ?o }} }} WHERE {{ "
        f"VALUES ?g {{ {' '.join(names)} }} GRAPH {_META} {{ ?g {_SPONSOR} ?sponsor }} "
        f"{_VIEW_OF_SPONSOR} GRAPH ?g {{ ?s ?p ?o }} "
        f"FILTER NOT EXISTS {{ GRAPH ?other {{ ?s ?p ?o }} "
        f"FILTER(?other NOT IN ({', '.join(names)})) "
        # Nested EXISTS, not a join: Oxigraph then looks the sponsor up per matching graph
        # instead of joining every graph of the sponsor first (27x faster at 600 graphs).
        f"FILTER EXISTS {{ GRAPH {_META} {{ ?other {_SPONSOR} ?sponsor }} }} }} }}"
    )


def _views_add(iris: list[str]) -> str:
    """Add the graphs' (new) triples to their (new) sponsor's view."""
    names = " ".join(str(graph_node(iri)) for iri in iris)
    return (
        f"INSERT {{ GRAPH ?view {{ ?s ?p ?o }} }} WHERE {{ "
        f"VALUES ?g {{ {names} }} GRAPH {_META} {{ ?g {_SPONSOR} ?sponsor }} "
        f"{_VIEW_OF_SPONSOR} GRAPH ?g {{ ?s ?p ?o }} }}"
    )


def _delete_metadata(iris: Iterable[str]) -> str:
    values = " ".join(str(graph_node(iri)) for iri in iris)
    return (f"DELETE {{ GRAPH {_META} {{ ?g ?p ?o }} }} "
            f"WHERE {{ GRAPH {_META} {{ VALUES ?g {{ {values} }} ?g ?p ?o }} }}")


def _ntriples(triples: list[ox.Triple]) -> str:
    return (ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"").decode()


def _has_blank(term: object) -> bool:
    if isinstance(term, ox.BlankNode):
        return True
    if isinstance(term, ox.Triple):
        return _has_blank(term.subject) or _has_blank(term.object)
    return False


def _relabel(term: ox.Triple, prefix: str) -> ox.Triple:
    def node(value: object) -> object:
        if isinstance(value, ox.BlankNode):
            return ox.BlankNode(prefix + value.value)
        if isinstance(value, ox.Triple):
            return _relabel(value, prefix)
        return value

    return ox.Triple(node(term.subject), term.predicate, node(term.object))  # type: ignore[arg-type]
