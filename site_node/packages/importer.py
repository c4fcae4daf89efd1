"""Import a technology-transfer knowledge package into the receiving site's Neo4j.

The archive is verified first — every part's SHA-256 against the manifest (a changed byte is
refused naming the part) — then the package dataset is validated against the package shapes,
and the package must be addressed to this site. Only then is it written, in one transaction,
as **knowledge**, never as the site's own batches:

* ``(:Knowledge:KnowledgePackage {iri, version, process, from_site, to_site, ...})``
* ``(:Knowledge:TransferredParameter)`` — proven acceptable range in canonical and in this
  site's own tag unit, classification, method and the sending site's batch IRIs; linked
  ``-[:FOR_TAG]->`` this site's :Tag where the package names it;
* ``(:Knowledge:RecipePhase)``, ``(:Knowledge:SetPoint)``, ``(:Knowledge:EquipmentComparison)``,
  ``(:Knowledge:WhatIfScenario)``, ``(:Knowledge:TransferRisk)``,
  ``(:Knowledge:TransferredSignature)``, ``(:Knowledge:TransferredModel)``;

all ``<-[:HAS_KNOWLEDGE]-`` their package, which is ``-[:ABOUT_PROCESS]->`` the site's own
:Process of the same code when the site has one. Importing the same package again changes
nothing (same manifest hash); a package with the same IRI but other content replaces the
previous import of it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from neo4j import Driver
from rdflib import Dataset, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS
from rdflib.term import Literal, Node

from bioprocess.errors import ValidationError
from ontology import TF
from protocol.package import PackageArchive, PackageArchiveError, read_archive
from shapes import validate

TFP = "https://w3id.org/twinfed/parameter/"


@dataclass(frozen=True)
class ImportReport:
    package: str
    version: int
    outcome: str  # "imported", "replaced" or "unchanged"
    counts: dict[str, int]
    seconds: float


def _py(node: Node | None) -> Any:
    if node is None:
        return None
    if isinstance(node, Literal):
        return node.toPython() if not isinstance(node.toPython(), datetime) else str(node)
    return str(node)


def _records(ds: Dataset, kind: URIRef, fields: dict[str, URIRef]) -> list[dict[str, Any]]:
    rows = []
    for node in sorted(set(ds.subjects(RDF.type, kind))):
        row = {"iri": str(node)}
        for name, prop in fields.items():
            row[name] = _py(ds.value(node, prop))
        row["derived_from"] = sorted(str(o) for o in ds.objects(node, PROV.wasDerivedFrom))
        rows.append(row)
    return rows


def knowledge_from(ds: Dataset) -> dict[str, list[dict[str, Any]]]:
    """The package dataset as rows per Neo4j label."""
    parameters = _records(ds, TF.TransferredParameter, {
        "parameter": TF.parameter, "phase": TF.phaseLabel, "classification": TF.classification,
        "classification_rule": TF.classificationRule, "lower": TF.lowerLimit,
        "upper": TF.upperLimit, "typical": TF.typicalValue, "tolerance_low": TF.toleranceLow,
        "tolerance_high": TF.toleranceHigh, "unit": TF.alignedUnit, "method": TF.rangeMethod,
        "batch_count": TF.batchCount, "receiving_tag": TF.receivingTag,
        "receiving_unit": TF.receivingUnit, "receiving_lower": TF.receivingLowerLimit,
        "receiving_upper": TF.receivingUpperLimit})
    for row in parameters:
        row["parameter_name"] = str(row["parameter"]).removeprefix(TFP)
    set_points = _records(ds, TF.SetPoint, {"parameter": TF.parameter,
                                            "value": TF.setPointValue, "unit": TF.alignedUnit})
    for row in set_points:
        row["phase"] = next((str(ds.value(p, TF.phaseLabel)) for p in
                             ds.subjects(TF.hasSetPoint, URIRef(row["iri"]))), None)
    return {
        "TransferredParameter": parameters,
        "RecipePhase": _records(ds, TF.RecipePhase, {
            "name": TF.phaseLabel, "order": TF.phaseOrder, "start_h": TF.typicalStartHour,
            "end_h": TF.typicalEndHour}),
        "SetPoint": set_points,
        "EquipmentComparison": _records(ds, TF.EquipmentComparison, {
            "aspect": TF.aspect, "sending": TF.sendingValue, "receiving": TF.receivingValue,
            "gap": TF.gap, "explanation": DCTERMS.description}),
        "WhatIfScenario": _records(ds, TF.WhatIfScenario, {
            "name": RDFS.label, "description": DCTERMS.description, "kla_per_h": TF.klaPerHour,
            "predicted_titre": TF.predictedTitre, "titre_low": TF.predictedTitreLow,
            "titre_high": TF.predictedTitreHigh,
            "min_do_pct": TF.predictedMinDissolvedOxygen}),
        "TransferRisk": _records(ds, TF.TransferRisk, {
            "rank": TF.rank, "title": RDFS.label, "severity": TF.severity,
            "explanation": DCTERMS.description, "source": DCTERMS.source}),
        "TransferredSignature": _records(ds, TF.FailureSignature, {
            "label": RDFS.label, "definition": DCTERMS.description}),
        "TransferredModel": _records(ds, TF.SoftSensorModel, {
            "label": RDFS.label, "definition": DCTERMS.description}),
    }


def check_package(archive: PackageArchive, site_code: str | None) -> Dataset:
    """The package's dataset, once it is addressed to this site and conforms to its shapes."""
    manifest = archive.manifest
    if site_code is not None and manifest.to_site != site_code:
        raise ValidationError(f"package {manifest.package} is addressed to site "
                              f"'{manifest.to_site}'; this site is '{site_code}'")
    dataset = Dataset(default_union=True)
    for name, text in archive.rdf_parts().items():
        if not text.strip():
            continue
        try:
            dataset.parse(data=text, format="trig")
        except Exception as exc:  # rdflib raises many parser error types
            raise ValidationError(f"part '{name}' is not valid TriG: {exc}") from None
    if (URIRef(manifest.package), RDF.type, TF.KnowledgePackage) not in dataset:
        raise ValidationError(f"the package dataset does not describe {manifest.package} as a "
                              "tf:KnowledgePackage (the manifest and the parts disagree)")
    report = validate(dataset, "knowledge-package")
    if not report.conforms:
        raise ValidationError(f"package {manifest.package} does not conform to the "
                              f"knowledge-package shapes:\n{report.text}")
    return dataset


_WRITE_PACKAGE = """
MERGE (p:Knowledge:KnowledgePackage {iri: $package.iri})
SET p += $package
WITH p
OPTIONAL MATCH (p)-[:HAS_KNOWLEDGE]->(old)
DETACH DELETE old
"""
_LINK_PROCESS = """
MATCH (p:KnowledgePackage {iri: $iri}), (proc:Process {code: $code})
MERGE (p)-[:ABOUT_PROCESS]->(proc)
"""
_LINK_TAGS = """
MATCH (p:KnowledgePackage {iri: $iri})-[:HAS_KNOWLEDGE]->(k:TransferredParameter)
MATCH (t:Tag {name: k.receiving_tag})
MERGE (k)-[:FOR_TAG]->(t)
"""


def import_package(driver: Driver, source: Path | bytes, *, site_code: str | None,
                   database: str | None = None) -> ImportReport:
    """Verify, validate and load a package into this site's graph (idempotent)."""
    started = time.perf_counter()
    try:
        archive = read_archive(source)
    except PackageArchiveError as exc:
        raise ValidationError(str(exc)) from None
    dataset = check_package(archive, site_code)
    manifest = archive.manifest
    knowledge = knowledge_from(dataset)
    package = {
        "iri": manifest.package, "version": manifest.version, "transfer": manifest.transfer,
        "process": manifest.process, "process_version": manifest.process_version,
        "sponsor": manifest.sponsor, "from_site": manifest.from_site,
        "to_site": manifest.to_site, "built_by": manifest.built_by,
        "built_at": manifest.built_at, "manifest_sha256": archive.manifest_sha256,
        "federation_state": json.dumps(manifest.federation_state, sort_keys=True),
        "empty_parts": [f"{p.name}: {p.empty_reason}" for p in manifest.parts
                        if p.empty_reason],
        "imported_at": datetime.now(UTC).isoformat(),
    }
    counts = {label: len(rows) for label, rows in knowledge.items()}
    with driver.session(database=database) as session:
        def work(tx: Any) -> str:
            existing = tx.run("MATCH (p:KnowledgePackage {iri: $iri}) "
                              "RETURN p.manifest_sha256 AS sha", iri=manifest.package).single()
            if existing is not None and existing["sha"] == archive.manifest_sha256:
                return "unchanged"
            tx.run(_WRITE_PACKAGE, package=package)
            for label, rows in knowledge.items():
                if rows:
                    tx.run(f"MATCH (p:KnowledgePackage {{iri: $iri}}) UNWIND $rows AS row "
                           f"CREATE (p)-[:HAS_KNOWLEDGE]->(k:Knowledge:{label}) SET k = row",
                           iri=manifest.package, rows=rows)
            tx.run(_LINK_PROCESS, iri=manifest.package, code=manifest.process)
            tx.run(_LINK_TAGS, iri=manifest.package)
            return "imported" if existing is None else "replaced"
        outcome = session.execute_write(work)
    return ImportReport(package=manifest.package, version=manifest.version, outcome=outcome,
                        counts=counts, seconds=time.perf_counter() - started)
