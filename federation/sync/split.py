"""Split a site's meta graph into a sponsor-neutral part and one part per sponsor.

A site's meta graph mixes what everyone may see (the site, its equipment, its tag
vocabulary) with sponsor data (products, processes, their envelopes). Stored apart, the
sponsor parts fall under the same graph-level scoping as batches.
"""

from __future__ import annotations

from rdflib import RDF, Graph, URIRef
from rdflib.namespace import PROV

from ontology import TF


def _code(graph: Graph, node: URIRef | None, prop: URIRef) -> str | None:
    if node is None:
        return None
    value = graph.value(node, prop)
    return str(value) if value is not None else None


def sponsor_of_subjects(meta: Graph) -> dict[URIRef, str]:
    """Map every sponsor-owned subject (sponsor, product, process, envelope) to its sponsor."""
    owner: dict[URIRef, str] = {}
    for sponsor in meta.subjects(RDF.type, TF.Sponsor):
        code = _code(meta, sponsor, TF.sponsorCode)
        if code:
            owner[sponsor] = code
    for product in meta.subjects(RDF.type, TF.Product):
        sponsor = meta.value(product, TF.ownedBy)
        if sponsor in owner:
            owner[product] = owner[sponsor]
    for process in meta.subjects(RDF.type, TF.Process):
        product = meta.value(process, TF.forProduct)
        if product in owner:
            owner[process] = owner[product]
    for envelope in meta.subjects(RDF.type, TF.Envelope):
        process = meta.value(envelope, TF.ofProcess)
        if process in owner:
            owner[envelope] = owner[process]
    for model in meta.subjects(RDF.type, TF.SoftSensorModel):  # with its training and drift
        process = meta.value(model, TF.ofProcess)
        if process in owner:
            owner[model] = owner[process]
            training = meta.value(model, PROV.wasGeneratedBy)
            if training is not None:
                owner[training] = owner[process]  # type: ignore[index]
    for event in meta.subjects(RDF.type, TF.ModelDriftEvent):
        model = meta.value(event, TF.aboutModel)
        if model in owner:
            owner[event] = owner[model]
    return owner


def split_meta(meta: Graph) -> tuple[Graph, dict[str, Graph]]:
    """``(neutral, {sponsor: graph})``: each triple goes where its subject belongs."""
    owner = sponsor_of_subjects(meta)
    neutral = Graph()
    by_sponsor: dict[str, Graph] = {}
    for triple in meta:
        sponsor = owner.get(triple[0])  # type: ignore[arg-type]
        if sponsor is None:
            neutral.add(triple)
        else:
            by_sponsor.setdefault(sponsor, Graph()).add(triple)
    return neutral, by_sponsor
