"""Build the site's RDF export (``docs/rdf-export.md``) from plain records, with rdflib.

Pure: records in, an :class:`rdflib.Dataset` out, one named graph per batch plus the site's
``meta`` graph. Raw series and spectra are not exported; each batch links to them on the
site API (``tf:rawData``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from rdflib import RDF, RDFS, XSD, Dataset, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, PROV, SKOS

from ontology import TF, site_base
from site_node.export.equipment import add_equipment_health
from site_node.export.live import add_recommendations
from site_node.export.models import add_models
from site_node.export.records import SiteRecords


@lru_cache(maxsize=65536)
def _seg(text: object) -> str:
    """One IRI path segment from any site identifier (cached: tags and phases repeat)."""
    return quote(str(text), safe="-._~")


def _native(value: Any) -> Any:
    to_native = getattr(value, "to_native", None)
    return to_native() if to_native is not None else value


def _dt(value: Any) -> Literal:
    moment = _native(value)
    if isinstance(moment, datetime):
        return Literal(moment.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                       datatype=XSD.dateTime)
    return Literal(str(moment), datatype=XSD.dateTime)


def _double(value: Any) -> Literal:
    return Literal(float(value), datatype=XSD.double)


@dataclass(frozen=True)
class ExportContext:
    """Who exports, from where: the provenance every export carries."""

    site_code: str
    api_base: str
    software_version: str
    exported_at: datetime
    export_id: str = ""

    def __post_init__(self) -> None:
        if not self.export_id:
            object.__setattr__(self, "export_id", str(uuid.uuid4()))


class SiteIris:
    """The IRIs a site mints (``https://w3id.org/twinfed/site/{SITE}/...``)."""

    def __init__(self, site_code: str) -> None:
        self.ns = Namespace(site_base(site_code))
        self.site = URIRef(str(self.ns))

    def __call__(self, *parts: object) -> URIRef:
        return self.ns["/".join(_seg(p) for p in parts)]

    def batch_graph(self, batch_id: str) -> URIRef:
        return self("batch", batch_id)

    @property
    def meta_graph(self) -> URIRef:
        return self("meta")


def build_dataset(records: SiteRecords, context: ExportContext) -> Dataset:
    """The whole export: ``meta`` graph plus one graph per batch in ``records``."""
    iris = SiteIris(context.site_code)
    dataset = Dataset()
    for prefix, namespace in (("tf", TF), ("prov", PROV), ("skos", SKOS),
                              ("dcterms", DCTERMS), ("site", iris.ns)):
        dataset.bind(prefix, namespace)
    activity = iris("export", context.export_id)
    _meta(dataset.graph(iris.meta_graph), records, iris, context, activity)
    for record in records.batches:
        graph = dataset.graph(iris.batch_graph(record["batch"]["batch_id"]))
        _batch(graph, record, iris, context, activity)
    add_models(dataset, records.models, records.estimates, iris, _dt)
    return dataset


def _meta(g: Graph, records: SiteRecords, iris: SiteIris, context: ExportContext,
          activity: URIRef) -> None:
    site = iris.site
    g.add((site, RDF.type, TF.Site))
    g.add((site, TF.siteCode, Literal(context.site_code)))
    if records.site.get("name"):
        g.add((site, RDFS.label, Literal(records.site["name"])))
    for row in records.processes:
        sponsor, product = iris("sponsor", row["sponsor"]), iris("product", row["product"])
        process = iris("process", row["process"], row["version"])
        g.add((sponsor, RDF.type, TF.Sponsor))
        g.add((sponsor, TF.sponsorCode, Literal(row["sponsor"])))
        g.add((product, RDF.type, TF.Product))
        g.add((product, TF.productCode, Literal(row["product"])))
        g.add((product, TF.ownedBy, sponsor))
        g.add((process, RDF.type, TF.Process))
        g.add((process, TF.processCode, Literal(row["process"])))
        g.add((process, TF.processVersion, Literal(row["version"])))
        g.add((process, TF.forProduct, product))
        if row.get("name"):
            g.add((process, RDFS.label, Literal(row["name"])))
    for row in records.equipment:
        equipment = iris("equipment", row["equipment_id"])
        g.add((equipment, RDF.type, TF.Equipment))
        g.add((equipment, TF.equipmentId, Literal(row["equipment_id"])))
        g.add((equipment, TF.equipmentKind, Literal(row.get("kind") or "unspecified")))
        if row.get("working_volume_l") is not None:
            g.add((equipment, TF.workingVolumeLitre, _double(row["working_volume_l"])))
    scheme = iris("tags")
    g.add((scheme, RDF.type, SKOS.ConceptScheme))
    g.add((scheme, RDFS.label, Literal(f"Tag vocabulary of site {context.site_code}")))
    for row in records.tags:
        tag = iris("tag", row["name"])
        g.add((tag, RDF.type, TF.Tag))
        g.add((tag, RDF.type, SKOS.Concept))
        g.add((tag, SKOS.prefLabel, Literal(row["name"])))
        g.add((tag, SKOS.inScheme, scheme))
        g.add((tag, TF.unitLabel, Literal(row["unit"])))
        g.add((tag, TF.tagKind, Literal(row["kind"])))
        if row.get("description"):
            g.add((tag, SKOS.definition, Literal(row["description"])))
    for row in records.envelopes:
        envelope = iris("envelope", *row["key"].split("/"))
        g.add((envelope, RDF.type, TF.Envelope))
        g.add((envelope, TF.ofProcess, iris("process", row["process"], row["version"])))
        g.add((envelope, TF.ofTag, iris("tag", row["tag"])))
        g.add((envelope, TF.sdMultiplier, _double(row["k"])))
        g.add((envelope, TF.referenceBatchCount, Literal(int(row["n_batches"]))))
        for batch_id in row["built_from"]:
            g.add((envelope, PROV.wasDerivedFrom, iris("batch", batch_id)))
    g.add((activity, RDF.type, PROV.Activity))
    g.add((activity, RDF.type, TF.Export))
    g.add((activity, PROV.startedAtTime, _dt(context.exported_at)))
    g.add((activity, PROV.wasAssociatedWith, site))
    g.add((activity, TF.softwareVersion, Literal(context.software_version)))


def _add_phase(g: Graph, subject: URIRef, phase_name: str | None,
               phase_iris: dict[str, URIRef]) -> None:
    """Link to the batch's phase of that name; an unknown phase is left out, so SHACL
    reports it instead of the export inventing a phase."""
    if phase_name is not None and phase_name in phase_iris:
        g.add((subject, TF.inPhase, phase_iris[phase_name]))


def _batch(g: Graph, record: dict[str, Any], iris: SiteIris, context: ExportContext,
           activity: URIRef) -> None:
    row = record["batch"]
    batch_id = row["batch_id"]
    batch = iris("batch", batch_id)
    g.add((batch, RDF.type, TF.Batch))
    g.add((batch, TF.batchId, Literal(batch_id)))
    g.add((batch, TF.atSite, iris.site))
    g.add((batch, TF.ofProcess, iris("process", row["process"], row["process_version"])))
    g.add((batch, TF.sponsor, iris("sponsor", row["sponsor"])))
    g.add((batch, TF.startTime, _dt(row["start"])))
    if row.get("end") is not None:
        g.add((batch, TF.endTime, _dt(row["end"])))
    g.add((batch, TF.batchStatus, Literal(row["status"])))
    g.add((batch, TF.scaleLitre, _double(row["scale_l"])))
    g.add((batch, TF.siteRevision, Literal(int(row["rev"]))))
    g.add((batch, TF.contentHash, Literal(row["content_hash"])))
    g.add((batch, TF.rawData, URIRef(f"{context.api_base.rstrip('/')}/batches/"
                                     f"{_seg(batch_id)}")))
    g.add((batch, PROV.wasGeneratedBy, activity))
    if row.get("source"):
        g.add((batch, PROV.wasDerivedFrom, URIRef(f"urn:twinfed:bundle:{_seg(row['source'])}")))

    phase_iris: dict[str, URIRef] = {}
    unit_operations = list(record["unit_operations"])
    if record.get("analysis_phases"):
        # Phases inferred from the data (no recipe events) hang off their own unit operation.
        unit_operations.append({"kind": "inferred_phases", "equipment": [],
                                "phases": record["analysis_phases"]})
    for u_index, unit_op in enumerate(unit_operations):
        uo = iris("batch", batch_id, "uo", u_index)
        g.add((uo, RDF.type, TF.UnitOperation))
        g.add((uo, TF.unitOperationKind, Literal(unit_op["kind"])))
        g.add((uo, TF.ofBatch, batch))
        for equipment_id in unit_op["equipment"]:
            g.add((uo, TF.usesEquipment, iris("equipment", equipment_id)))
        for phase_row in sorted(unit_op["phases"], key=lambda p: p["start_h"]):
            phase = iris("batch", batch_id, "phase", len(phase_iris))
            phase_iris.setdefault(phase_row["name"], phase)
            g.add((phase, RDF.type, TF.Phase))
            g.add((phase, TF.phaseName, Literal(phase_row["name"])))
            g.add((phase, TF.startHour, _double(phase_row["start_h"])))
            if phase_row.get("end_h") is not None:
                g.add((phase, TF.endHour, _double(phase_row["end_h"])))
            g.add((phase, TF.ofBatch, batch))
            g.add((phase, TF.inUnitOperation, uo))

    for feature_row in record["features"]:
        feature = iris("batch", batch_id, "feature", feature_row["tag"], feature_row["phase"],
                       feature_row["stat"])
        g.add((feature, RDF.type, TF.Feature))
        g.add((feature, TF.ofBatch, batch))
        g.add((feature, TF.ofTag, iris("tag", feature_row["tag"])))
        _add_phase(g, feature, feature_row.get("phase"), phase_iris)
        g.add((feature, TF.statistic, Literal(feature_row["stat"])))
        g.add((feature, TF.value, _double(feature_row["value"])))
        g.add((feature, TF.unitLabel, Literal(feature_row.get("unit") or "1")))

    for e_index, event_row in enumerate(sorted(record["events"],
                                               key=lambda e: (e["start_h"], e["tag"]))):
        event = iris("batch", batch_id, "event", e_index)
        g.add((event, RDF.type, TF.DeviationEvent))
        g.add((event, TF.ofBatch, batch))
        g.add((event, TF.ofTag, iris("tag", event_row["tag"])))
        _add_phase(g, event, event_row.get("phase"), phase_iris)
        g.add((event, TF.direction, Literal(event_row["direction"])))
        g.add((event, TF.magnitude, _double(event_row["magnitude"])))
        g.add((event, TF.peakExcess, _double(event_row["peak_excess"])))
        g.add((event, TF.startHour, _double(event_row["start_h"])))
        g.add((event, TF.durationHours, _double(event_row["duration_h"])))
        g.add((event, TF.againstEnvelope, iris("envelope", *event_row["envelope"].split("/"))))

    for deviation_row in record["deviations"]:
        deviation = iris("batch", batch_id, "deviation", deviation_row["deviation_id"])
        g.add((deviation, RDF.type, TF.DeviationRecord))
        g.add((deviation, TF.ofBatch, batch))
        g.add((deviation, TF.deviationId, Literal(deviation_row["deviation_id"])))
        g.add((deviation, TF.openedAt, _dt(deviation_row["opened_at"])))
        g.add((deviation, TF.category, Literal(deviation_row["category"])))
        g.add((deviation, DCTERMS.description, Literal(deviation_row["description"])))
        for key, prop in (("root_cause", TF.rootCause), ("status", TF.recordStatus),
                          ("failure_mode", TF.failureModeCode)):
            if deviation_row.get(key):
                g.add((deviation, prop, Literal(deviation_row[key])))
        for capa_row in deviation_row["capa"]:
            capa = iris("batch", batch_id, "capa", capa_row["capa_id"])
            g.add((deviation, TF.hasCAPA, capa))
            g.add((capa, RDF.type, TF.CAPA))
            g.add((capa, TF.capaId, Literal(capa_row["capa_id"])))
            g.add((capa, TF.action, Literal(capa_row["action"])))
            if capa_row.get("effective") is not None:
                g.add((capa, TF.effective, Literal(bool(capa_row["effective"]))))

    for quality_row in record["quality"]:
        quality = iris("batch", batch_id, "quality", quality_row["attribute"])
        g.add((quality, RDF.type, TF.QualityResult))
        g.add((quality, TF.ofBatch, batch))
        g.add((quality, TF.attribute, Literal(quality_row["attribute"])))
        g.add((quality, TF.value, _double(quality_row["value"])))
        g.add((quality, TF.unitLabel, Literal(quality_row["unit"])))
        for key, prop in (("spec_low", TF.specLow), ("spec_high", TF.specHigh)):
            if quality_row.get(key) is not None:
                g.add((quality, prop, _double(quality_row[key])))

    add_equipment_health(g, record, iris, batch)
    add_recommendations(g, record.get("recommendations", []), batch, iris)

    for evolution_row in record["evolution"]:
        summary = iris("batch", batch_id, "mvda")
        g.add((summary, RDF.type, TF.BatchEvolutionSummary))
        g.add((summary, TF.ofBatch, batch))
        for key, prop in (("t2", TF.hotellingT2), ("spe", TF.spe), ("t2_limit", TF.t2Limit),
                          ("spe_limit", TF.speLimit)):
            g.add((summary, prop, _double(evolution_row[key])))
