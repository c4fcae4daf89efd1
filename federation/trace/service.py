"""Trace any finding back to its origins by walking its outgoing links in the store.

Generic on purpose: the walk follows every IRI-valued property of a node (PROV-O's
``prov:wasDerivedFrom``, ``prov:wasGeneratedBy``, ``prov:used``, ``prov:wasAssociatedWith``,
``tf:ofBatch``, ``tf:atSite``, ``tf:fromModel``, ``tf:rawData``, ... and whatever later
findings use), never incoming ones, so it climbs from a signature, estimate, package
statement or recommendation to the model, training batches, export activity, site and the
raw-signal link at the site without knowing any of those kinds in advance. Only
classification-like predicates (``rdf:type``, ``owl:``, ``rdfs:seeAlso``, SKOS mappings) are
not followed. Each hop is one scoped SPARQL query over the caller's graphs (``GRAPH ?g`` so
every node carries the graphs — site, export hash, received time, alignment version — it was
read from); a node outside the caller's scope simply is not found, so a trace never shows
another sponsor's data.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from federation.store.base import Store

PROV = "http://www.w3.org/ns/prov#"
TF = "https://w3id.org/twinfed/ontology#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_NOT_FOLLOWED_PREFIXES = (
    RDF_TYPE, "http://www.w3.org/2002/07/owl#", "http://www.w3.org/2000/01/rdf-schema#seeAlso",
    "http://www.w3.org/2004/02/skos/core#exactMatch",
    "http://www.w3.org/2004/02/skos/core#closeMatch",
    "http://www.w3.org/2004/02/skos/core#broadMatch",
    "http://www.w3.org/2004/02/skos/core#narrowMatch",
    "http://www.w3.org/2004/02/skos/core#relatedMatch",
)
#: Literal-valued properties shown on a node (what a person reads to recognise it).
_SHOWN_LITERALS = (
    "http://www.w3.org/2000/01/rdf-schema#label", "http://www.w3.org/2004/02/skos/core#prefLabel",
    f"{TF}batchId", f"{TF}siteCode", f"{TF}sponsorCode", f"{TF}batchStatus",
    f"{TF}softwareVersion", f"{TF}contentHash", f"{TF}siteRevision", f"{PROV}startedAtTime",
    f"{PROV}generatedAtTime", f"{TF}modelVersion", f"{TF}version",
)
MAX_DEPTH = 8
MAX_NODES = 400
_HOP_BATCH = 60


@dataclass
class TraceNode:
    iri: str
    depth: int
    types: set[str] = field(default_factory=set)
    values: dict[str, list[str]] = field(default_factory=dict)
    graphs: set[str] = field(default_factory=set)


@dataclass
class Trace:
    start: str
    nodes: dict[str, TraceNode]
    edges: list[tuple[str, str, str]]
    truncated: bool
    queries: int

    def as_json(self, graph_info: dict[str, dict[str, Any]]) -> dict[str, Any]:
        described = {iri for iri, node in self.nodes.items() if node.graphs}
        return {
            "iri": self.start,
            "nodes": [{"iri": n.iri, "depth": n.depth, "types": sorted(n.types),
                       "values": {k: sorted(v) for k, v in sorted(n.values.items())},
                       "described": n.iri in described,
                       "graphs": [graph_info.get(g, {"graph": g}) for g in sorted(n.graphs)]}
                      for n in sorted(self.nodes.values(), key=lambda n: (n.depth, n.iri))],
            "edges": [{"from": s, "predicate": p, "to": o} for s, p, o in self.edges],
            "origins": self.origins(),
            "truncated": self.truncated,
            "queries": self.queries,
        }

    def origins(self) -> dict[str, list[str]]:
        """The chain's ends a reader asks for, classified by type (generic names)."""
        found: dict[str, set[str]] = {k: set() for k in (
            "models", "batches", "exports", "sites", "raw_data", "sources")}
        for node in self.nodes.values():
            local = {t.rsplit("#", 1)[-1].rsplit("/", 1)[-1] for t in node.types}
            if node.iri == self.start:
                continue
            if any("Model" in name for name in local):
                found["models"].add(node.iri)
            if "Batch" in local:
                found["batches"].add(node.iri)
            if "Export" in local or "Activity" in local:
                found["exports"].add(node.iri)
            if "Site" in local:
                found["sites"].add(node.iri)
        for _, p, o in self.edges:
            if p == f"{TF}rawData":
                found["raw_data"].add(o)
            elif p in (f"{PROV}wasDerivedFrom", f"{PROV}hadPrimarySource") and \
                    not self.nodes.get(o, TraceNode(o, 0)).graphs:
                found["sources"].add(o)
        return {k: sorted(v) for k, v in found.items()}


def _followed(predicate: str) -> bool:
    return not predicate.startswith(_NOT_FOLLOWED_PREFIXES)


def _iri_list(iris: Collection[str]) -> str:
    return " ".join(f"<{iri}>" for iri in sorted(iris))


def trace(store: Store, iri: str, *, graphs: Collection[str] = (),
          sponsors: Collection[str] = (), timeout_s: float = 30.0,
          max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> Trace | None:
    """Walk from ``iri`` along outgoing links within the scope; ``None`` if ``iri`` is not
    described in any graph the scope covers."""
    shown = ", ".join(f"<{p}>" for p in _SHOWN_LITERALS)
    nodes: dict[str, TraceNode] = {iri: TraceNode(iri, 0)}
    edges: list[tuple[str, str, str]] = []
    seen_edges: set[tuple[str, str, str]] = set()
    frontier, depth, queries, truncated = [iri], 0, 0, False
    while frontier and depth <= max_depth:
        next_frontier: list[str] = []
        for start in range(0, len(frontier), _HOP_BATCH):
            chunk = frontier[start:start + _HOP_BATCH]
            sparql = (f"SELECT ?s ?p ?o ?g WHERE {{ VALUES ?s {{ {_iri_list(chunk)} }} "
                      f"GRAPH ?g {{ ?s ?p ?o }} FILTER(isIRI(?o) || ?p IN ({shown})) }}")
            result = store.query(sparql, graphs=tuple(graphs), sponsors=tuple(sponsors),
                                 timeout_s=timeout_s, max_results=20_000)
            queries += 1
            truncated |= result.truncated
            for row in result.bindings():
                subject, predicate = row["s"].value, row["p"].value
                obj, graph = row["o"], row["g"].value
                node = nodes[subject]
                node.graphs.add(graph)
                if predicate == RDF_TYPE:
                    node.types.add(obj.value)
                    continue
                if not _is_iri(obj):
                    node.values.setdefault(predicate.rsplit("#", 1)[-1].rsplit("/", 1)[-1],
                                           []).append(obj.value)
                    continue
                if not _followed(predicate):
                    continue
                edge = (subject, predicate, obj.value)
                if edge in seen_edges:
                    continue
                seen_edges.add(edge)
                edges.append(edge)
                if obj.value not in nodes:
                    if len(nodes) >= max_nodes:
                        truncated = True
                        continue
                    nodes[obj.value] = TraceNode(obj.value, depth + 1)
                    next_frontier.append(obj.value)
        frontier = next_frontier
        depth += 1
    if frontier:
        truncated = True
    if not nodes[iri].graphs:
        return None
    for node in nodes.values():  # values gathered as lists may repeat across graphs
        node.values = {k: sorted(set(v)) for k, v in node.values.items()}
    return Trace(iri, nodes, edges, truncated, queries)


def _is_iri(term: Any) -> bool:
    return isinstance(term, ox.NamedNode)
