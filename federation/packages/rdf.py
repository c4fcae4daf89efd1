"""The package's RDF: one named graph per section, every resource with its PROV-O lineage.

Every resource a section states is ``prov:wasGeneratedBy`` the package's build activity
(who, when, with which software) and ``prov:wasDerivedFrom`` the federation resources it
rests on (S's batches for a range, deviation records for a risk, equipment and tags for a
comparison). Terms: ``docs/knowledge-package.md``; shapes: ``shapes/knowledge-package.ttl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from rdflib import RDF, RDFS, XSD, Dataset, Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, PROV

from federation.packages.ranges import CLASSIFICATION_RULE, RANGE_METHOD
from federation.packages.sections import Sections
from federation.packages.source import TFP, TransferData
from ontology import TF, bind_prefixes

PACKAGE_NAMESPACE = "https://w3id.org/twinfed/federation/package/"
#: Section name -> title, in the order they appear in a package.
SECTIONS = {
    "package": "Package description",
    "process": "Process and recipe",
    "parameters": "Parameters, proven acceptable ranges and CPP/CQA classification",
    "equipment": "Equipment comparison",
    "signatures": "Failure signatures",
    "models": "Soft-sensor and yield models",
    "whatif": "What-if predictions of the process twin",
    "risks": "Open risks",
}


def _seg(text: str) -> str:
    return quote(text, safe="-._~")


def transfer_iri(process: str, from_site: str, to_site: str) -> str:
    return f"{PACKAGE_NAMESPACE}{_seg(process)}-{_seg(from_site)}-to-{_seg(to_site)}/"


def package_iri(process: str, from_site: str, to_site: str, version: int) -> str:
    return f"{transfer_iri(process, from_site, to_site)}{version}"


def _double(value: float) -> Literal:
    return Literal(float(value), datatype=XSD.double)


@dataclass(frozen=True)
class BuildInfo:
    package: str
    version: int
    built_by: str
    built_at: datetime
    software_version: str
    federation_state_sha256: str


class _Writer:
    def __init__(self, info: BuildInfo) -> None:
        self.info = info
        self.package = URIRef(info.package)
        self.activity = URIRef(info.package + "/build")

    def graph(self) -> Graph:
        return bind_prefixes(Graph())

    def stamp(self, g: Graph, subject: URIRef, sources: tuple[str, ...] | list[str]) -> None:
        g.add((subject, PROV.wasGeneratedBy, self.activity))
        g.add((subject, DCTERMS.isPartOf, self.package))
        for source in sources:
            g.add((subject, PROV.wasDerivedFrom, URIRef(source)))

    def iri(self, *segments: str) -> URIRef:
        return URIRef(self.info.package + "/" + "/".join(_seg(s) for s in segments))


def section_graphs(data: TransferData, sections: Sections, info: BuildInfo,
                   empty_reasons: dict[str, str]) -> dict[str, Graph]:
    """One rdflib graph per section name of :data:`SECTIONS`."""
    w = _Writer(info)
    graphs = {name: w.graph() for name in SECTIONS}
    _process(graphs["process"], w, data, sections)
    _parameters(graphs["parameters"], w, sections)
    _equipment(graphs["equipment"], w, sections)
    _external(graphs["signatures"], w, sections.signatures.items, TF.FailureSignature,
              "signature")
    _external(graphs["models"], w, sections.models.items, TF.SoftSensorModel, "model")
    _whatif(graphs["whatif"], w, sections)
    _risks(graphs["risks"], w, sections)
    _package(graphs["package"], w, data, empty_reasons)
    return graphs


def _package(g: Graph, w: _Writer, data: TransferData, empty_reasons: dict[str, str]) -> None:
    p, info = w.package, w.info
    g.add((p, RDF.type, TF.KnowledgePackage))
    g.add((p, RDF.type, DCAT.Dataset))
    g.add((p, DCTERMS.title, Literal(
        f"{data.process.code} v{data.process.version}: {data.from_site} to {data.to_site} "
        f"(package version {info.version})")))
    g.add((p, TF.ofProcess, URIRef(data.process.iri)))
    g.add((p, TF.sendingSite, URIRef(data.site_iris[data.from_site])))
    g.add((p, TF.receivingSite, URIRef(data.site_iris[data.to_site])))
    g.add((p, DCTERMS.created, Literal(info.built_at.isoformat(), datatype=XSD.dateTime)))
    g.add((p, TF.packageVersion, Literal(info.version)))
    g.add((p, TF.packageSponsor, Literal(data.process.sponsor)))
    g.add((p, TF.federationState, Literal(info.federation_state_sha256)))
    g.add((p, PROV.wasGeneratedBy, w.activity))
    g.add((w.activity, RDF.type, PROV.Activity))
    g.add((w.activity, RDF.type, TF.PackageBuild))
    g.add((w.activity, PROV.startedAtTime, Literal(info.built_at.isoformat(),
                                                    datatype=XSD.dateTime)))
    agent = URIRef(f"urn:twinfed:user:{_seg(info.built_by)}")
    g.add((w.activity, PROV.wasAssociatedWith, agent))
    g.add((agent, RDF.type, PROV.Agent))
    g.add((agent, RDFS.label, Literal(info.built_by)))
    g.add((w.activity, TF.builtWith, Literal(f"twinfed {info.software_version}")))
    for name, title in SECTIONS.items():
        if name == "package":
            continue
        part = w.iri(name)
        g.add((p, DCTERMS.hasPart, part))
        g.add((part, RDF.type, TF.PackagePart))
        g.add((part, DCTERMS.title, Literal(title)))
        if name in empty_reasons:
            g.add((part, TF.emptyReason, Literal(empty_reasons[name])))


def _process(g: Graph, w: _Writer, data: TransferData, sections: Sections) -> None:
    process = URIRef(data.process.iri)
    g.add((process, RDF.type, TF.Process))
    g.add((process, TF.processCode, Literal(data.process.code)))
    g.add((process, TF.processVersion, Literal(data.process.version)))
    if data.process.label:
        g.add((process, RDFS.label, Literal(data.process.label)))
    w.stamp(g, process, [])
    for phase in sections.recipe:
        node = w.iri("recipe", phase.name)
        g.add((node, RDF.type, TF.RecipePhase))
        g.add((node, TF.ofProcess, process))
        g.add((node, TF.phaseLabel, Literal(phase.name)))
        g.add((node, TF.phaseOrder, Literal(phase.order)))
        g.add((node, TF.typicalStartHour, _double(phase.start_h)))
        g.add((node, TF.typicalEndHour, _double(phase.end_h)))
        w.stamp(g, node, sections.good_batches)
        for parameter, value, unit, batches in phase.set_points:
            sp = w.iri("recipe", phase.name, "set-point", parameter.removeprefix(TFP))
            g.add((node, TF.hasSetPoint, sp))
            g.add((sp, RDF.type, TF.SetPoint))
            g.add((sp, TF.parameter, URIRef(parameter)))
            g.add((sp, TF.setPointValue, _double(value)))
            g.add((sp, TF.alignedUnit, Literal(unit)))
            g.add((sp, TF.rangeMethod, Literal("median over the good batches of the "
                                               "per-phase mean of the set-point parameter")))
            w.stamp(g, sp, batches)


def _parameters(g: Graph, w: _Writer, sections: Sections) -> None:
    for item in sections.parameters:
        r = item.range
        node = w.iri("parameter", r.parameter.removeprefix(TFP), r.phase)
        g.add((node, RDF.type, TF.TransferredParameter))
        g.add((node, TF.parameter, URIRef(r.parameter)))
        g.add((node, TF.phaseLabel, Literal(r.phase)))
        g.add((node, TF.classification, Literal(r.classification)))
        g.add((node, TF.classificationRule, Literal(CLASSIFICATION_RULE)))
        g.add((node, TF.lowerLimit, _double(r.lower)))
        g.add((node, TF.upperLimit, _double(r.upper)))
        g.add((node, TF.typicalValue, _double(r.median)))
        if r.tolerance_low is not None and r.tolerance_high is not None:
            g.add((node, TF.toleranceLow, _double(r.tolerance_low)))
            g.add((node, TF.toleranceHigh, _double(r.tolerance_high)))
        g.add((node, TF.alignedUnit, Literal(r.unit)))
        g.add((node, TF.rangeMethod, Literal(RANGE_METHOD)))
        g.add((node, TF.batchCount, Literal(len(r.batches))))
        if r.rho is not None:
            g.add((node, TF.spearmanRho, _double(r.rho)))
        if r.q_value is not None:
            g.add((node, TF.qValue, _double(r.q_value)))
        if item.receiving is not None:
            g.add((node, TF.receivingTag, Literal(item.receiving.name)))
            g.add((node, TF.receivingUnit, Literal(item.receiving.unit)))
            if item.receiving.lower is not None and item.receiving.upper is not None:
                g.add((node, TF.receivingLowerLimit, _double(item.receiving.lower)))
                g.add((node, TF.receivingUpperLimit, _double(item.receiving.upper)))
        w.stamp(g, node, r.batches)


def _equipment(g: Graph, w: _Writer, sections: Sections) -> None:
    for c in sections.equipment:
        node = w.iri("equipment", c.aspect)
        g.add((node, RDF.type, TF.EquipmentComparison))
        g.add((node, TF.aspect, Literal(c.aspect)))
        g.add((node, TF.sendingValue, Literal(c.sending)))
        g.add((node, TF.receivingValue, Literal(c.receiving)))
        g.add((node, TF.gap, Literal(c.gap)))
        g.add((node, DCTERMS.description, Literal(c.explanation)))
        w.stamp(g, node, c.evidence)


def _external(g: Graph, w: _Writer, items: tuple[dict, ...], kind: URIRef,
              section: str) -> None:
    """A package-local summary of each item, derived from the item and its evidence (the
    item itself was generated elsewhere, e.g. by a signature discovery run)."""
    for n, item in enumerate(items, start=1):
        node = w.iri(section, str(n))
        g.add((node, RDF.type, kind))
        g.add((node, RDFS.label, Literal(item["label"])))
        if item.get("definition"):
            g.add((node, DCTERMS.description, Literal(item["definition"])))
        for key, value in sorted(item.get("facts", {}).items()):
            g.add((node, TF.packageFact, Literal(f"{key}: {value}")))
        w.stamp(g, node, (item["iri"], *item.get("evidence", ())))


def _whatif(g: Graph, w: _Writer, sections: Sections) -> None:
    summary = sections.whatif
    if summary is None:
        return
    for n, scenario in enumerate(summary.scenarios, start=1):
        node = w.iri("whatif", str(n))
        g.add((node, RDF.type, TF.WhatIfScenario))
        g.add((node, RDFS.label, Literal(scenario.name)))
        g.add((node, DCTERMS.description, Literal(scenario.description)))
        g.add((node, TF.klaPerHour, _double(scenario.kla_per_h)))
        g.add((node, TF.predictedTitre, _double(scenario.titre_median)))
        g.add((node, TF.predictedTitreLow, _double(scenario.titre_low)))
        g.add((node, TF.predictedTitreHigh, _double(scenario.titre_high)))
        g.add((node, TF.predictedMinDissolvedOxygen, _double(scenario.min_do_pct)))
        g.add((node, TF.virtualBatches, Literal(scenario.virtual_batches)))
        for assumption in summary.assumptions:
            g.add((node, TF.assumption, Literal(assumption)))
        g.add((node, TF.calibration, Literal(summary.calibration_note + "; " + ", ".join(
            f"{k} = {v:.4g}" for k, v in summary.calibration.items()))))
        w.stamp(g, node, summary.calibration_batches + tuple(
            b for batches in summary.kla_batches.values() for b in batches))


def _risks(g: Graph, w: _Writer, sections: Sections) -> None:
    for rank, risk in enumerate(sections.risks, start=1):
        node = w.iri("risk", str(rank))
        g.add((node, RDF.type, TF.TransferRisk))
        g.add((node, TF.rank, Literal(rank)))
        g.add((node, RDFS.label, Literal(risk.title)))
        g.add((node, TF.severity, Literal(risk.severity)))
        g.add((node, DCTERMS.description, Literal(risk.explanation)))
        g.add((node, DCTERMS.source, Literal(risk.source)))
        w.stamp(g, node, risk.evidence)


def to_dataset(graphs: dict[str, Graph], package: str) -> Dataset:
    dataset = Dataset()
    bind_prefixes(dataset)
    for name, graph in graphs.items():
        target = dataset.graph(URIRef(f"{package}/{name}"))
        for triple in graph:
            target.add(triple)
    return dataset
