"""Build a technology-transfer knowledge package: check the caller, read, compute, write,
validate, report, hash, store.

The caller must hold the ``tech_transfer`` or ``admin`` role and have the process's sponsor
in scope; otherwise nothing is read beyond the process's sponsor. A package that does not
conform to ``shapes/knowledge-package.ttl`` is refused (never released) with the plain-words
report. A released package's graphs are stored in the federation (kind ``package``, the
sponsor's scope) so the next version of the same transfer gets the next number, and the build
is recorded in the audit log when the federation has one.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Protocol

import pyoxigraph as ox
from rdflib import Dataset

from bioprocess.errors import ValidationError
from federation.packages.external import model_section, signature_section
from federation.packages.ranges import MIN_BATCHES
from federation.packages.rdf import (
    SECTIONS,
    BuildInfo,
    package_iri,
    section_graphs,
    transfer_iri,
)
from federation.packages.report import render_report
from federation.packages.sections import Sections, compute_sections, good_batches
from federation.packages.source import TransferData, find_process, load_transfer_data
from federation.packages.whatif import predict
from federation.registry.service import ForbiddenError, Principal
from federation.store.base import Store
from federation.store.metadata import GraphMetadata
from ontology import PREFIXES
from protocol.package import PackageManifest, PartEntry, sha256_hex, write_archive
from shapes import validate

#: Roles that may build a package.
BUILD_ROLES = frozenset({"tech_transfer", "admin"})
_TRIG_PREFIXES = {p: str(n) for p, n in PREFIXES.items()}


class AuditRecorder(Protocol):
    def record(self, actor: str, action: str, subject: str, details: dict[str, Any]
               ) -> Any: ...


class PackageRefusedError(ValidationError):
    """The package does not conform to its shapes: it is not released."""

    problem_type = "package-refused"
    title = "Knowledge package refused"


@dataclass(frozen=True)
class BuiltPackage:
    manifest: PackageManifest
    archive: bytes
    report_html: str
    sections: Sections
    data: TransferData
    seconds: dict[str, float]

    @property
    def file_name(self) -> str:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.manifest.transfer)
        return f"{safe}_v{self.manifest.version}.zip"


def software_version() -> str:
    """The installed twinfed distribution's version (the federation may not import the CLI)."""
    try:
        return metadata.version("twinfed")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def authorise(principal: Principal, sponsor: str, process: str) -> None:
    """Refuse a caller without a build role or without ``sponsor`` in scope."""
    if principal.is_site or not (principal.roles & BUILD_ROLES):
        raise ForbiddenError(f"building a knowledge package needs the tech_transfer or admin "
                             f"role; {principal.name} has {sorted(principal.roles)}")
    if principal.sponsors is not None and sponsor not in principal.sponsors:
        raise ForbiddenError(f"process '{process}' belongs to sponsor '{sponsor}', which is not "
                             f"in the sponsor scope of {principal.name} "
                             f"({sorted(principal.sponsors) or 'no sponsor'})")


def next_version(store: Store, transfer: str) -> int:
    versions = [int(m.group(1)) for iri in store.graph_names()
                if iri.startswith(transfer) and (m := re.match(r"(\d+)/", iri[len(transfer):]))]
    return max(versions, default=0) + 1


def _trig(graph_iri: str, graph: Any) -> bytes:
    nquads = graph.serialize(format="nt", encoding="utf-8")
    triples = ox.parse(nquads, format=ox.RdfFormat.N_TRIPLES)
    quads = (ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(graph_iri))
             for t in triples)
    return ox.serialize(quads, format=ox.RdfFormat.TRIG, prefixes=_TRIG_PREFIXES) or b""


def build_package(store: Store, principal: Principal, *, process: str, from_site: str,
                  to_site: str, software_version: str, audit: AuditRecorder | None = None,
                  keep: bool = True, now: datetime | None = None) -> BuiltPackage:
    """Build, validate and (with ``keep``) store the package of ``process`` from S to R."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if from_site == to_site:
        raise ValidationError(f"the receiving site must differ from the sending site; got "
                              f"'{to_site}' for both")
    ref = find_process(store, process, from_site)
    authorise(principal, ref.sponsor, process)
    data = load_transfer_data(store, ref, from_site, to_site)
    timings["read"] = time.perf_counter() - started

    mark = time.perf_counter()
    good, rule = good_batches(data)
    empty: dict[str, str] = {}
    whatif = None
    if len(good) < MIN_BATCHES:
        empty["parameters"] = (f"the sending site has {len(good)} good batch(es) of the "
                               f"process; a proven acceptable range needs at least "
                               f"{MIN_BATCHES}")
    whatif = predict(data, good) if good else None
    if whatif is None:
        empty["whatif"] = ("the sending site has no good batch with aligned oxygen uptake and "
                           "dissolved oxygen to derive its oxygen-transfer capacity from")
    timings["whatif"] = time.perf_counter() - mark
    mark = time.perf_counter()
    signatures = signature_section(store, data)
    models = model_section(store, data)
    for name, section in (("signatures", signatures), ("models", models)):
        if not section.items:
            empty[name] = section.empty_reason or "nothing recorded for this process"
    sections = compute_sections(data, whatif, empty.get("whatif"), good, rule, signatures,
                                models)
    if not sections.parameters and "parameters" not in empty:
        empty["parameters"] = "no aligned parameter has per-phase means in enough good batches"
    if not sections.risks:
        empty["risks"] = "no open risk was found"
    timings["compute"] = time.perf_counter() - mark

    mark = time.perf_counter()
    transfer = transfer_iri(ref.code, from_site, to_site)
    version = next_version(store, transfer)
    built_at = (now or datetime.now(UTC)).replace(microsecond=0)
    state = data.federation_state()
    info = BuildInfo(package=package_iri(ref.code, from_site, to_site, version),
                     version=version, built_by=principal.name, built_at=built_at,
                     software_version=software_version,
                     federation_state_sha256=str(state["graphs_sha256"]))
    graphs = section_graphs(data, sections, info, empty)
    dataset = Dataset()
    files: dict[str, bytes] = {}
    entries: list[PartEntry] = []
    for name, graph in graphs.items():
        graph_iri = f"{info.package}/{name}"
        target = dataset.graph(graph_iri)
        for triple in graph:
            target.add(triple)
        files[name] = _trig(graph_iri, graph)
    report = validate(dataset, "knowledge-package")
    timings["rdf+validate"] = time.perf_counter() - mark
    if not report.conforms:
        raise PackageRefusedError(
            f"the package of {ref.code} from {from_site} to {to_site} does not conform to the "
            f"knowledge-package shapes and was not released:\n{report.text}")
    mark = time.perf_counter()
    html = render_report(data, sections, info, empty, state)
    timings["report"] = time.perf_counter() - mark
    files["report"] = html.encode("utf-8")
    for name in SECTIONS:
        entries.append(PartEntry(
            name=name, path=f"parts/{name}.trig", media_type="application/trig",
            sha256=sha256_hex(files[name]), bytes=len(files[name]),
            graph=f"{info.package}/{name}", statements=len(graphs[name]),
            empty_reason=empty.get(name)))
    entries.append(PartEntry(name="report", path="report.html", media_type="text/html",
                             sha256=sha256_hex(files["report"]), bytes=len(files["report"])))
    manifest = PackageManifest(
        package=info.package, transfer=f"{ref.code}: {from_site} to {to_site}",
        version=version, process=ref.code, process_version=ref.version, sponsor=ref.sponsor,
        from_site=from_site, to_site=to_site, built_by=principal.name,
        built_at=built_at.isoformat(), software_version=software_version,
        federation_state={**state, "batches": {from_site: len(data.site_batches(from_site)),
                                               to_site: len(data.site_batches(to_site))}},
        shapes="knowledge-package (shapes/knowledge-package.ttl)", parts=tuple(entries))
    archive = write_archive(manifest, files)
    if keep:
        store.replace_graphs(
            {f"{info.package}/{name}": graph.serialize(format="nt", encoding="utf-8")
             for name, graph in graphs.items()},
            {f"{info.package}/{name}": GraphMetadata(
                site=from_site, sponsor=ref.sponsor, received_at=built_at, kind="package",
                export_hash=f"sha256:{sha256_hex(files[name])}") for name in graphs})
    timings["total"] = time.perf_counter() - started
    if audit is not None:
        audit.record(principal.name, "package.build", info.package, {
            "process": ref.code, "from": from_site, "to": to_site, "version": version,
            "sponsor": ref.sponsor, "manifest_parts": {e.name: e.sha256 for e in entries}})
    return BuiltPackage(manifest=manifest, archive=archive, report_html=html,
                        sections=sections, data=data, seconds=timings)
