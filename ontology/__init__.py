"""The shared twinfed ontology: its namespaces, its Turtle files and a loader for them."""

from __future__ import annotations

from importlib import resources
from types import MappingProxyType
from typing import Final
from urllib.parse import quote

from rdflib import Graph, Namespace
from rdflib.namespace import DCAT, DCTERMS, OWL, PROV, QB, RDF, RDFS, SKOS, SOSA, SSN, XSD

__all__ = [
    "ONTOLOGY_FILES",
    "ONTOLOGY_IRI",
    "ONTOLOGY_VERSION",
    "PREFIXES",
    "QUDT",
    "SITE_NAMESPACE",
    "TF",
    "TFFM",
    "TFP",
    "UNIT",
    "bind_prefixes",
    "load_ontology",
    "ontology_text",
    "site_base",
]

#: Shared classes and properties.
TF: Final = Namespace("https://w3id.org/twinfed/ontology#")
#: Shared parameter vocabulary (ontology/parameters.ttl).
TFP: Final = Namespace("https://w3id.org/twinfed/parameter/")
#: Shared failure-mode scheme (ontology/failure-modes.ttl).
TFFM: Final = Namespace("https://w3id.org/twinfed/failure-mode/")
#: Everything a site mints lives under SITE_NAMESPACE + escaped site code + "/".
SITE_NAMESPACE: Final = "https://w3id.org/twinfed/site/"
QUDT: Final = Namespace("http://qudt.org/schema/qudt/")
UNIT: Final = Namespace("http://qudt.org/vocab/unit/")

ONTOLOGY_IRI: Final = "https://w3id.org/twinfed/ontology"
#: The owl:versionInfo of all three files; bump together with docs/rdf-export.md.
ONTOLOGY_VERSION: Final = "1"
#: The Turtle files that make up the ontology, in load order.
ONTOLOGY_FILES: Final = ("twinfed.ttl", "parameters.ttl", "failure-modes.ttl")

#: Prefixes used in exports, shapes, reports and docs (docs/rdf-export.md, "Namespaces").
PREFIXES: Final = MappingProxyType(
    {
        prefix: Namespace(str(namespace))
        for prefix, namespace in (
            ("tf", TF),
            ("tfp", TFP),
            ("tffm", TFFM),
            ("prov", PROV),
            ("skos", SKOS),
            ("sosa", SOSA),
            ("ssn", SSN),
            ("qudt", QUDT),
            ("unit", UNIT),
            ("dcterms", DCTERMS),
            ("dcat", DCAT),
            ("qb", QB),
            ("owl", OWL),
            ("rdf", RDF),
            ("rdfs", RDFS),
            ("xsd", XSD),
        )
    }
)


def site_base(site_code: str) -> str:
    """The IRI under which a site mints its resources, e.g. ``.../site/SITE-A/``.

    The code is IRI-escaped (RFC 3986 unreserved characters are kept as they are), so any
    site code gives a valid IRI and different codes never give the same one.
    """
    if not site_code:
        raise ValueError("a site code must be a non-empty string; got an empty one instead")
    return f"{SITE_NAMESPACE}{quote(site_code, safe='-._~')}/"


def bind_prefixes(graph: Graph) -> Graph:
    """Bind the shared prefixes on ``graph`` (for readable serialisations) and return it."""
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True, replace=True)
    return graph


def ontology_text(filename: str) -> str:
    """The Turtle text of one ontology file, read from the installed package."""
    if filename not in ONTOLOGY_FILES:
        raise ValueError(f"ontology file must be one of {ONTOLOGY_FILES}; got {filename!r} instead")
    return resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")


def load_ontology() -> Graph:
    """A new graph holding the whole shared ontology: classes, parameters, failure modes."""
    graph = bind_prefixes(Graph())
    for filename in ONTOLOGY_FILES:
        graph.parse(data=ontology_text(filename), format="turtle", publicID=ONTOLOGY_IRI)
    return graph
