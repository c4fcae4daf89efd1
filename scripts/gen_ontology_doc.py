"""Generate docs/ontology.md from the ontology's Turtle files (ontology/*.ttl).

    python scripts/gen_ontology_doc.py            # write docs/ontology.md
    python scripts/gen_ontology_doc.py --check    # exit 1 if docs/ontology.md is stale

The Turtle is the source of truth: every class, property, parameter and failure mode with its
label, IRI, definition, alignment targets and sources.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file from anywhere: import this checkout's ontology
    sys.path.insert(0, str(ROOT))

from rdflib import Graph, Literal, URIRef  # noqa: E402
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS  # noqa: E402
from rdflib.term import Node  # noqa: E402

from ontology import (  # noqa: E402
    ONTOLOGY_FILES,
    ONTOLOGY_IRI,
    PREFIXES,
    QUDT,
    TF,
    TFFM,
    TFP,
    load_ontology,
)

DEFAULT_OUTPUT = ROOT / "docs" / "ontology.md"
#: Prefixes for public ontologies we align to, beyond the shared ones.
DOC_PREFIXES = {
    **{prefix: str(namespace) for prefix, namespace in PREFIXES.items()},
    "iof": "https://spec.industrialontologies.org/ontology/construct/",
    "iofcore": "https://spec.industrialontologies.org/ontology/core/Core/",
    "qk": "http://qudt.org/vocab/quantitykind/",
}
#: How an alignment is worded in the docs.
ALIGNMENTS = (
    (RDFS.subClassOf, "subclass of"),
    (RDFS.subPropertyOf, "subproperty of"),
    (SKOS.closeMatch, "close match"),
    (SKOS.relatedMatch, "related match"),
    (SKOS.exactMatch, "exact match"),
)


def curie(term: Node) -> str:
    iri = str(term)
    for prefix, namespace in sorted(DOC_PREFIXES.items(), key=lambda p: -len(p[1])):
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace):]}"
    return iri


def link(term: Node) -> str:
    if isinstance(term, URIRef):
        return f"[`{curie(term)}`]({term})"
    return cell(term)


def cell(value: object) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(value).split()).replace("|", "\\|")


def text_of(graph: Graph, subject: Node, *predicates: URIRef) -> str:
    for predicate in predicates:
        values = sorted(graph.objects(subject, predicate), key=_english_first)
        if values:
            return cell(values[0])
    return ""


def _english_first(value: Node) -> tuple[int, str]:
    language = value.language if isinstance(value, Literal) else None
    return (0 if language in (None, "en") else 1, str(value))


def definition(graph: Graph, subject: Node) -> str:
    """The definition, followed by the term's rdfs:comment as a note where it has one."""
    text = text_of(graph, subject, SKOS.definition)
    note = text_of(graph, subject, RDFS.comment)
    if text and note:
        return f"{text} *Note:* {note}"
    return text or note


def alignment(graph: Graph, subject: Node) -> str:
    parts = []
    for predicate, words in ALIGNMENTS:
        targets = sorted(o for o in graph.objects(subject, predicate) if isinstance(o, URIRef))
        if targets:
            parts.append(f"{words} " + ", ".join(link(t) for t in targets))
    return "; ".join(parts)


def sources(graph: Graph, subject: Node) -> str:
    values = sorted(graph.objects(subject, DCTERMS.source), key=str) + sorted(
        graph.objects(subject, RDFS.seeAlso), key=str
    )
    return "; ".join(link(v) if isinstance(v, URIRef) else cell(v) for v in values)


def terms(graph: Graph, rdf_type: URIRef, namespace: str) -> list[URIRef]:
    found = {s for s in graph.subjects(RDF.type, rdf_type) if isinstance(s, URIRef)}
    return sorted(s for s in found if str(s).startswith(namespace))


def table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def class_section(graph: Graph) -> list[str]:
    rows = []
    for term in terms(graph, OWL.Class, str(TF)):
        rows.append(
            [
                link(term),
                text_of(graph, term, RDFS.label),
                definition(graph, term),
                alignment(graph, term),
                sources(graph, term),
            ]
        )
    lines = ["## Classes", ""]
    return lines + table(["class", "label", "definition", "aligned to", "sources"], rows)


def property_section(graph: Graph) -> list[str]:
    props: set[URIRef] = set()
    for kind in (OWL.ObjectProperty, OWL.DatatypeProperty, RDF.Property):
        props |= set(terms(graph, kind, str(TF)))
    rows = []
    for term in sorted(props):
        domain = ", ".join(link(d) for d in sorted(graph.objects(term, RDFS.domain)))
        range_ = ", ".join(link(r) for r in sorted(graph.objects(term, RDFS.range)))
        rows.append(
            [
                link(term),
                text_of(graph, term, RDFS.label),
                domain or "any",
                range_ or "any",
                definition(graph, term),
                alignment(graph, term),
            ]
        )
    lines = ["## Properties", ""]
    header = ["property", "label", "domain", "range", "definition", "aligned to"]
    return lines + table(header, rows)


def disjointness_section(graph: Graph) -> list[str]:
    lines = ["## Disjoint classes", "", "No resource may be in two of these classes at once:", ""]
    groups = []  # blank nodes have no stable order: sort the rendered lines instead
    for node in graph.subjects(RDF.type, OWL.AllDisjointClasses):
        members = graph.value(node, OWL.members)
        if members is not None:
            groups.append("- " + ", ".join(link(m) for m in graph.items(members)))
    lines += sorted(groups)
    for a, b in sorted(graph.subject_objects(OWL.disjointWith)):
        lines.append(f"- {link(a)} and {link(b)}")
    return lines + [""]


def parameter_section(graph: Graph) -> list[str]:
    rows = []
    for term in terms(graph, TF.Parameter, str(TFP)):
        alt = ", ".join(sorted(cell(a) for a in graph.objects(term, SKOS.altLabel)))
        label = text_of(graph, term, SKOS.prefLabel) + (f" ({alt})" if alt else "")
        molar = graph.value(term, TF.molarMass)
        unit = graph.value(term, TF.canonicalUnit)
        rows.append(
            [
                link(term),
                label,
                link(graph.value(term, QUDT.hasQuantityKind)),
                link(unit) if unit is not None else "",
                cell(graph.value(term, TF.unitLabel) or ""),
                cell(molar) if molar is not None else "",
                text_of(graph, term, SKOS.definition),
            ]
        )
    header = ["parameter", "label", "quantity kind", "canonical unit", "unit label",
              "molar mass (g/mol)", "definition"]
    lines = [
        "## Parameters",
        "",
        "The shared parameter vocabulary (`ontology/parameters.ttl`): SKOS concepts typed "
        "`tf:Parameter`. How to add one is described at the top of that file.",
        "",
    ]
    lines += table(header, rows)
    units = sorted(s for s in graph.subjects(RDF.type, QUDT.Unit) if str(s).startswith(str(TFP)))
    if units:
        lines += ["Units declared here because QUDT has none like them:", ""]
        unit_rows = [
            [
                link(u),
                text_of(graph, u, RDFS.label),
                cell(graph.value(u, QUDT.symbol) or ""),
                cell(graph.value(u, QUDT.conversionMultiplier) or ""),
                text_of(graph, u, SKOS.definition),
            ]
            for u in units
        ]
        lines += table(["unit", "label", "symbol", "to SI (multiplier)", "definition"], unit_rows)
    return lines


def failure_mode_section(graph: Graph) -> list[str]:
    lines = [
        "## Failure modes",
        "",
        "The shared failure-mode scheme (`ontology/failure-modes.ttl`): categories and the "
        "modes under them (`skos:broader`).",
        "",
    ]
    scheme = TFFM.scheme
    tops = sorted(graph.objects(scheme, SKOS.hasTopConcept))
    for top in tops:
        lines.append(f"### {text_of(graph, top, SKOS.prefLabel)} ({link(top)})")
        lines += ["", text_of(graph, top, SKOS.definition), ""]
        rows = [
            [
                link(mode),
                text_of(graph, mode, SKOS.prefLabel)
                + "".join(f" ({cell(a)})" for a in sorted(graph.objects(mode, SKOS.altLabel))),
                text_of(graph, mode, SKOS.definition),
            ]
            for mode in sorted(graph.subjects(SKOS.broader, top))
        ]
        lines += table(["failure mode", "label", "definition"], rows)
    return lines


def render(graph: Graph | None = None) -> str:
    """The whole of docs/ontology.md as text."""
    graph = graph if graph is not None else load_ontology()
    ontology = URIRef(ONTOLOGY_IRI)
    version = graph.value(ontology, OWL.versionInfo)
    files = ", ".join(f"`ontology/{name}`" for name in ONTOLOGY_FILES)
    lines = [
        "<!-- Generated by scripts/gen_ontology_doc.py from ontology/*.ttl: do not edit by hand;",
        "     change the Turtle and run `python scripts/gen_ontology_doc.py`. -->",
        "",
        f"# twinfed shared ontology, version {version}",
        "",
        text_of(graph, ontology, DCTERMS.description),
        "",
        f"Source files: {files}. Ontology IRI `{ONTOLOGY_IRI}`, version IRI "
        f"`{graph.value(ontology, OWL.versionIRI)}`.",
        "",
        "Alignments: *subclass of* / *subproperty of* take on the public term's meaning "
        "(PROV-O, SOSA/SSN, SKOS, DCAT); *close match* is nearly the same meaning without "
        "importing the public ontology's axioms (IOF, Data Cube); *related match* is related "
        "but not the same.",
        "",
        "## Namespaces",
        "",
    ]
    lines += table(
        ["prefix", "IRI"],
        ([f"`{prefix}:`", f"`{iri}`"] for prefix, iri in DOC_PREFIXES.items()),
    )
    lines += class_section(graph)
    lines += property_section(graph)
    lines += disjointness_section(graph)
    lines += parameter_section(graph)
    lines += failure_mode_section(graph)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the Markdown file")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(
                f"{args.output} is out of date with ontology/*.ttl; "
                "run: python scripts/gen_ontology_doc.py",
                file=sys.stderr,
            )
            return 1
        print(f"{args.output} is up to date.")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
