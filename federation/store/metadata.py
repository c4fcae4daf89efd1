"""Graph metadata (site, sponsor, export hash, received time, alignment version) as RDF.

Metadata lives in one dedicated named graph, :data:`META_GRAPH`, one subject per data graph,
and is written in the same atomic update as the data graphs it describes, so the two cannot
disagree. The metadata graph is never part of a caller's query scope (its IRI is reserved);
read it with :meth:`MetadataCatalog.graph_metadata` and :meth:`MetadataCatalog.graphs_where`.
The sponsor recorded here also decides which per-sponsor union view (:func:`sponsor_view`)
a graph's triples are part of.

The vocabulary (``urn:twinfed:store:meta#``) is the store's own bookkeeping, not part of the
shared ontology.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Final
from urllib.parse import quote

import pyoxigraph as ox

from bioprocess.errors import ValidationError

#: IRIs starting with this are the store's own and cannot be written or queried by callers.
RESERVED_PREFIX: Final = "urn:twinfed:store:"
#: The named graph holding every data graph's metadata.
META_GRAPH: Final = RESERVED_PREFIX + "meta"
#: A graph that never exists: stands for "no graph" where a protocol needs at least one IRI.
NO_GRAPH: Final = RESERVED_PREFIX + "none"
#: Namespace of the metadata properties.
META_NS: Final = RESERVED_PREFIX + "meta#"
#: Prefix of the per-sponsor union views (see :func:`sponsor_view`).
VIEW_PREFIX: Final = RESERVED_PREFIX + "view:"

_XSD_DATETIME = ox.NamedNode("http://www.w3.org/2001/XMLSchema#dateTime")


@dataclass(frozen=True)
class GraphMetadata:
    """What the federation records about one named graph (every field optional)."""

    #: Site code that published the graph.
    site: str | None = None
    #: Sponsor code whose data the graph holds: puts the graph into that sponsor's union
    #: view, so callers scoped to the sponsor see it. A graph without a sponsor is visible
    #: only to callers given it by IRI.
    sponsor: str | None = None
    #: Content hash of the export the graph came from (e.g. ``sha256:...``).
    export_hash: str | None = None
    #: When the federation received the graph (timezone-aware).
    received_at: datetime | None = None
    #: Version of the alignment file applied to the graph.
    alignment_version: str | None = None
    #: What the graph holds: ``batch``, ``site``, ``alignment``, ``signature``, ``package`` ...
    kind: str | None = None

    def __post_init__(self) -> None:
        if self.received_at is not None and self.received_at.utcoffset() is None:
            raise ValidationError("received_at must be timezone-aware (e.g. UTC); got a naive "
                                  f"datetime {self.received_at.isoformat()} instead")


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(GraphMetadata))
_PREDICATES: dict[str, ox.NamedNode] = {
    name: ox.NamedNode(META_NS + name) for name in _FIELD_NAMES
}
_FIELD_BY_PREDICATE: dict[str, str] = {node.value: name for name, node in _PREDICATES.items()}


def sponsor_view(sponsor: str) -> str:
    """IRI of the graph holding the union of every graph whose metadata names ``sponsor``.

    The store maintains these views in the same atomic update as the graphs themselves, so
    a query scoped to whole sponsors reads a few union graphs instead of thousands of batch
    graphs (Oxigraph evaluates a default graph made of N graphs with N lookups per pattern
    match). The encoding matches SPARQL's ``ENCODE_FOR_URI``, used inside those updates.
    """
    return VIEW_PREFIX + quote(sponsor, safe="")


def graph_node(iri: str) -> ox.NamedNode:
    """``iri`` as a node, if it is an absolute IRI callers may use; else ValidationError."""
    try:
        node = ox.NamedNode(iri)
    except (ValueError, TypeError) as error:
        raise ValidationError(f"a graph name must be an absolute IRI; got {iri!r} ({error})"
                              ) from None
    if iri.startswith(RESERVED_PREFIX):
        raise ValidationError(f"graph IRIs starting with {RESERVED_PREFIX} are reserved for "
                              f"the store's own bookkeeping; got {iri!r}")
    return node


def metadata_triples(iri: str, metadata: GraphMetadata) -> list[ox.Triple]:
    """The triples (for :data:`META_GRAPH`) that record ``metadata`` about graph ``iri``."""
    subject = graph_node(iri)
    triples = []
    for name in _FIELD_NAMES:
        value = getattr(metadata, name)
        if value is None:
            continue
        if isinstance(value, datetime):
            literal = ox.Literal(value.isoformat(), datatype=_XSD_DATETIME)
        else:
            literal = ox.Literal(str(value))
        triples.append(ox.Triple(subject, _PREDICATES[name], literal))
    return triples


def metadata_from_rows(rows: Iterable[Sequence[object]]) -> dict[str, GraphMetadata]:
    """Rebuild metadata from ``(graph, predicate, value)`` rows of :data:`META_GRAPH`."""
    values: dict[str, dict[str, object]] = {}
    for graph, predicate, value in rows:
        if not (isinstance(graph, ox.NamedNode) and isinstance(predicate, ox.NamedNode)
                and isinstance(value, ox.Literal)):
            continue
        name = _FIELD_BY_PREDICATE.get(predicate.value)
        if name is None:
            continue
        parsed: object = value.value
        if name == "received_at":
            parsed = datetime.fromisoformat(value.value)
        values.setdefault(graph.value, {})[name] = parsed
    return {iri: GraphMetadata(**kwargs) for iri, kwargs in values.items()}  # type: ignore[arg-type]


def select_metadata(iris: Collection[str] | None) -> str:
    """SELECT ``?g ?p ?o`` over :data:`META_GRAPH` (as default graph) for ``iris`` or all."""
    if iris is None:
        return "SELECT ?g ?p ?o WHERE { ?g ?p ?o }"
    values = " ".join(str(graph_node(iri)) for iri in iris)
    return f"SELECT ?g ?p ?o WHERE {{ VALUES ?g {{ {values} }} ?g ?p ?o }}"


def select_graphs_where(sponsor_in: Collection[str] | None, site: str | None) -> str:
    """SELECT ``?g`` over :data:`META_GRAPH` for graphs matching the filters."""
    patterns = ["?g ?anyField ?anyValue ."]
    if sponsor_in is not None:
        sponsors = " ".join(str(ox.Literal(s)) for s in sorted(sponsor_in))
        patterns.append(f"?g {_PREDICATES['sponsor']} ?sponsor . VALUES ?sponsor {{ {sponsors} }}")
    if site is not None:
        patterns.append(f"?g {_PREDICATES['site']} {ox.Literal(site)} .")
    return f"SELECT DISTINCT ?g WHERE {{ {' '.join(patterns)} }}"


class MetadataCatalog(ABC):
    """The :class:`~federation.store.base.GraphCatalog` methods, on top of one primitive."""

    @abstractmethod
    def _select_internal(self, sparql: str, default_graph: str) -> list[tuple[object, ...]]:
        """Run a trusted SELECT over ``default_graph`` only; rows aligned with its variables."""

    def graph_metadata(self, iris: Iterable[str] | None = None) -> dict[str, GraphMetadata]:
        """Metadata of ``iris`` (or of every graph that has some), keyed by graph IRI.

        Graphs without metadata are absent from the result.
        """
        wanted = None if iris is None else list(dict.fromkeys(iris))
        if wanted == []:
            return {}
        return metadata_from_rows(self._select_internal(select_metadata(wanted), META_GRAPH))

    def graphs_where(
        self, sponsor_in: Collection[str] | None = None, site: str | None = None
    ) -> list[str]:
        """Graphs whose metadata matches: sponsor in ``sponsor_in`` (None: any) and ``site``.

        An empty ``sponsor_in`` matches nothing; graphs without metadata never match.
        Sorted by IRI.
        """
        if sponsor_in is not None and not sponsor_in:
            return []
        rows = self._select_internal(select_graphs_where(sponsor_in, site), META_GRAPH)
        return sorted(row[0].value for row in rows if isinstance(row[0], ox.NamedNode))
