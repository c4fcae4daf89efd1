"""Export the site's batches as RDF, validated with SHACL before anything leaves the site."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import pyoxigraph
from neo4j import Driver
from rdflib import Dataset

from bioprocess.errors import ValidationError
from shapes import ValidationReport, validate
from site_node.export.builder import ExportContext, build_dataset
from site_node.export.records import read_site_records

ExportFormat = Literal["trig", "nquads", "turtle", "jsonld"]
_FORMATS = {"trig": pyoxigraph.RdfFormat.TRIG, "turtle": pyoxigraph.RdfFormat.TURTLE,
            "jsonld": pyoxigraph.RdfFormat.JSON_LD}
_PREFIXES = {"tf", "prov", "skos", "dcterms", "site", "xsd", "rdfs"}


class ExportRefusedError(ValidationError):
    """The export broke the site-export shapes; it was not written or sent."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        super().__init__("export refused by SHACL validation: " + report.text)


@dataclass(frozen=True)
class SiteExport:
    """A validated export: the dataset, what it covers and how long each step took."""

    dataset: Dataset
    batch_ids: list[str]
    rev_range: tuple[int, int] | None
    #: ``(batch_id, rev)`` of batches deleted since the export's starting revision.
    deleted: list[tuple[str, int]]
    triples: int
    report: ValidationReport
    build_seconds: float
    validate_seconds: float

    def serialize(self, fmt: ExportFormat = "trig") -> bytes:
        """The export in ``fmt``, lossless.

        rdflib writes N-Quads with full lexical forms but shortens ``xsd:double`` to seven
        digits in Turtle/TriG, so those (and JSON-LD) are written by Oxigraph from N-Quads.
        """
        nquads = self.dataset.serialize(format="nquads", encoding="utf-8")
        if fmt == "nquads":
            return nquads
        quads = pyoxigraph.parse(nquads, format=pyoxigraph.RdfFormat.N_QUADS)
        if fmt == "turtle":  # one graph: the union of all
            quads = (pyoxigraph.Triple(q.subject, q.predicate, q.object) for q in quads)
        prefixes = {p: str(n) for p, n in self.dataset.namespaces() if p in _PREFIXES}
        return pyoxigraph.serialize(quads, format=_FORMATS[fmt], prefixes=prefixes)


def export_site(driver: Driver, *, site_code: str, api_base: str, software_version: str,
                since_rev: int = 0, database: str | None = None) -> SiteExport:
    """Build and validate the export of batches changed after ``since_rev``.

    Raises :class:`ExportRefusedError` (with the plain-words SHACL report) when the export
    does not conform: an invalid export never leaves the site.
    """
    started = time.perf_counter()
    records = read_site_records(driver, since_rev=since_rev, database=database)
    context = ExportContext(site_code=site_code, api_base=api_base,
                            software_version=software_version, exported_at=datetime.now(UTC))
    dataset = build_dataset(records, context)
    built = time.perf_counter()
    report = validate(dataset)
    validated = time.perf_counter()
    if not report.conforms:
        raise ExportRefusedError(report)
    return SiteExport(
        dataset=dataset,
        batch_ids=[r["batch"]["batch_id"] for r in records.batches],
        rev_range=records.rev_range,
        deleted=[(d["batch_id"], d["rev"]) for d in records.deleted],
        triples=sum(len(g) for g in dataset.graphs()),
        report=report,
        build_seconds=built - started,
        validate_seconds=validated - built,
    )
