"""Signatures and their discovery runs as RDF (vocabulary: ``ontology/signatures.ttl``).

A discovery run for one sponsor writes one named graph,
``https://w3id.org/twinfed/signatures/{sponsor}/run/{run id}``, stored with that sponsor in
its metadata, so the store's sponsor scoping applies to it exactly as to the sponsor's
batches. The graph holds the run (``tf:SignatureDiscovery``, a ``prov:Activity`` with its
settings, times, software version and every batch graph it used) and its signatures, each
``prov:wasGeneratedBy`` the run and, when it continues a signature of the sponsor's previous
run, ``prov:wasRevisionOf`` it. Old runs are never deleted. Curated signatures are read from
``ontology/curated-signatures.ttl`` and stored sponsor-neutral.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from importlib import resources
from urllib.parse import quote

from rdflib import RDF, RDFS, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import PROV, SKOS

from federation.signatures.disagreement import disagreement_sources, measured_parameter
from federation.signatures.discovery import DiscoveryOptions
from federation.signatures.model import (
    BatchProfile,
    DefiningEvent,
    EventKey,
    Impact,
    Signature,
    parameter_label,
)
from ontology import TF

SIGNATURES = "https://w3id.org/twinfed/signatures/"
SIGNATURE = Namespace("https://w3id.org/twinfed/signature/")
CURATED_GRAPH = SIGNATURES + "curated"
CURATED_FILE = "curated-signatures.ttl"


def _seg(text: str) -> str:
    return quote(text, safe="-._~")


def run_graph_iri(sponsor: str, run_id: str) -> str:
    return f"{SIGNATURES}{_seg(sponsor)}/run/{_seg(run_id)}"


def run_iri(sponsor: str, run_id: str) -> URIRef:
    return URIRef(f"{SIGNATURES}{_seg(sponsor)}/run/{_seg(run_id)}#activity")


def signature_iri(sponsor: str, signature_id: str, version: int) -> str:
    return f"{SIGNATURE}{_seg(sponsor)}/{_seg(signature_id)}/v{version}"


def _dt(text: str | datetime) -> Literal:
    value = text.isoformat() if isinstance(text, datetime) else text
    return Literal(value, datatype=XSD.dateTime)


def _double(value: float) -> Literal:
    return Literal(float(value), datatype=XSD.double)


def add_pattern(graph: Graph, subject: URIRef, event: DefiningEvent, *,
                with_stats: bool) -> None:
    node = BNode()
    graph.add((subject, TF.definingEvent, node))
    graph.add((node, RDF.type, TF.EventPattern))
    graph.add((node, TF.parameter, URIRef(event.key.parameter)))
    graph.add((node, TF.eventDirection, Literal(event.key.direction)))
    if event.key.phase is not None:
        graph.add((node, TF.eventPhase, Literal(event.key.phase)))
    if with_stats:
        graph.add((node, TF.memberShare, _double(event.share)))
        if event.typical_magnitude is not None:
            graph.add((node, TF.typicalMagnitude, _double(event.typical_magnitude)))


def add_feature_deviations(graph: Graph, run: URIRef, graph_iri: str,
                           profiles: list[BatchProfile]) -> None:
    """Every feature deviation the run counted as evidence, as a ``tf:FeatureDeviation``
    derived from its aligned ``tf:Feature`` with the robust z and the reference median and
    scale it was computed from: what the ``batches_matching_signature`` question and
    matching read, and what a reviewer checks (z = (value - median) / scale)."""
    index = 0
    for profile in sorted(profiles, key=lambda p: p.batch):
        for key in sorted(profile.feature_z):
            source, median, scale = profile.feature_sources.get(key, ("", None, None))
            if not source:
                continue  # no feature to derive it from: not stored (cannot be traced)
            node = URIRef(f"{graph_iri}#feature-deviation-{index}")
            index += 1
            graph.add((node, RDF.type, TF.FeatureDeviation))
            graph.add((node, PROV.wasGeneratedBy, run))
            graph.add((node, TF.ofBatch, URIRef(profile.batch)))
            compared = disagreement_sources(source)
            if compared is not None:
                source = _add_disagreement(graph, f"{node}-of", run, profile.batch, key,
                                           compared, median, scale, profile.feature_z[key])
            graph.add((node, PROV.wasDerivedFrom, URIRef(source)))
            graph.add((node, TF.robustZ, _double(profile.feature_z[key])))
            if median is not None and scale is not None:
                graph.add((node, TF.referenceMedian, _double(median)))
                graph.add((node, TF.referenceScale, _double(scale)))


def _add_disagreement(graph: Graph, iri: str, run: URIRef, batch: str,
                      key: tuple[str, str, str], compared: tuple[str, str, str],
                      median: float | None, scale: float | None, z: float) -> str:
    """A redundant-minus-record disagreement (``disagreement.py``) as a node a reviewer can
    follow: derived from both aligned features, with its phase and statistic; its comment
    says it in words with the z and how to recompute it from the two aligned values."""
    redundant, record, phase = compared
    node = URIRef(iri)
    parameter, phase_name, statistic = key
    graph.add((node, RDF.type, TF.MeasurementDisagreement))
    graph.add((node, PROV.wasGeneratedBy, run))
    graph.add((node, TF.ofBatch, URIRef(batch)))
    graph.add((node, TF.parameter, URIRef(parameter)))
    graph.add((node, TF.statistic, Literal(statistic)))
    graph.add((node, TF.inPhase, URIRef(phase)))
    graph.add((node, PROV.wasDerivedFrom, URIRef(redundant)))
    graph.add((node, PROV.wasDerivedFrom, URIRef(record)))
    measured = parameter_label(measured_parameter(parameter) or parameter)
    check = ("" if median is None or scale is None else
             f"; z = (difference - {median:.6g}) / {scale:.6g}")
    graph.add((node, RDFS.comment, Literal(
        f"{measured}: redundant measurement minus the measurement of record, {phase_name} "
        f"phase {statistic}, {z:+.1f} robust SD from the site's reference batches (difference:"
        f" the tf:alignedValue of {redundant} minus that of {record}{check})")))
    return iri


def run_graph(*, sponsor: str, run_id: str, started: datetime, ended: datetime,
              software_version: str, requested_by: str, options: DiscoveryOptions,
              outcome: str, used: list[str], signatures: list[Signature],
              evidence: Sequence[BatchProfile] = ()) -> Graph:
    """The named graph of one discovery run for one sponsor (``evidence``: the profiles
    whose feature deviations it stores)."""
    graph = Graph()
    run = run_iri(sponsor, run_id)
    graph.add((run, RDF.type, PROV.Activity))
    graph.add((run, RDF.type, TF.SignatureDiscovery))
    graph.add((run, RDFS.label, Literal(f"signature discovery {run_id} for {sponsor}")))
    graph.add((run, TF.forSponsorCode, Literal(sponsor)))
    graph.add((run, PROV.startedAtTime, _dt(started)))
    graph.add((run, PROV.endedAtTime, _dt(ended)))
    graph.add((run, TF.discoverySoftwareVersion, Literal(software_version)))
    graph.add((run, TF.algorithm, Literal(
        "scikit-learn AgglomerativeClustering, cosine distance, average linkage, on signed "
        "log(1 + magnitude) summed over phases per (parameter, event or statistic), beside "
        "the same per phase times phase_weight; the values: "
        "log(1 + magnitude) per (parameter, phase) of the events at least min_magnitude "
        "envelope SDs beyond the band, and per (parameter, phase, statistic) of the phase "
        "statistics at least min_feature_z robust SDs from the site's reference batches in "
        "batches past the site's abnormality gate (gate_factor x the reference batches' "
        "median largest |z|); slope columns times slope_weight")))
    graph.add((run, TF.requestedBy, Literal(requested_by)))
    graph.add((run, TF.outcomeParameter, URIRef(outcome)))
    for name, value in options.as_dict().items():
        setting = BNode()
        graph.add((run, TF.setting, setting))
        graph.add((setting, RDFS.label, Literal(name)))
        graph.add((setting, RDF.value, Literal(value)))
    for iri in used:
        graph.add((run, PROV.used, URIRef(iri)))
    for signature in signatures:
        add_signature(graph, signature, run)
    add_feature_deviations(graph, run, run_graph_iri(sponsor, run_id), list(evidence))
    return graph


def add_signature(graph: Graph, signature: Signature, run: URIRef | None) -> None:
    subject = URIRef(signature.iri)
    graph.add((subject, RDF.type, TF.FailureSignature))
    graph.add((subject, RDF.type, PROV.Entity))
    graph.add((subject, TF.signatureId, Literal(signature.signature_id)))
    graph.add((subject, TF.signatureKind, Literal(signature.kind)))
    graph.add((subject, TF.signatureVersion, Literal(signature.version)))
    graph.add((subject, RDFS.label, Literal(signature.label)))
    graph.add((subject, SKOS.definition, Literal(signature.definition)))
    if signature.sponsor:
        graph.add((subject, TF.forSponsorCode, Literal(signature.sponsor)))
    if run is not None:
        graph.add((subject, PROV.wasGeneratedBy, run))
    if signature.revision_of:
        graph.add((subject, PROV.wasRevisionOf, URIRef(signature.revision_of)))
    for event in signature.events:
        add_pattern(graph, subject, event, with_stats=signature.kind != "curated")
    for member in signature.members:
        graph.add((subject, TF.memberBatch, URIRef(member)))
    for site in signature.sites:
        graph.add((subject, TF.seenAtSiteCode, Literal(site)))
    if signature.first_seen:
        graph.add((subject, TF.firstSeen, _dt(signature.first_seen)))
    if signature.last_seen:
        graph.add((subject, TF.lastSeen, _dt(signature.last_seen)))
    impact = signature.impact
    if impact is not None:
        graph.add((subject, TF.outcomeParameter, URIRef(impact.parameter)))
        graph.add((subject, TF.comparableBatchCount, Literal(impact.comparable_batches)))
        graph.add((subject, TF.comparableBasis, Literal(impact.basis)))
        for prop, value in ((TF.memberOutcomeMean, impact.members_mean),
                            (TF.comparableOutcomeMean, impact.comparable_mean),
                            (TF.relativeOutcomeChange, impact.relative_change)):
            if value is not None:
                graph.add((subject, prop, _double(value)))
    for deviation in signature.deviations:
        graph.add((subject, TF.linkedDeviation, URIRef(deviation.iri)))


@lru_cache(maxsize=1)
def _curated_text() -> str:
    return resources.files("ontology").joinpath(CURATED_FILE).read_text(encoding="utf-8")


def curated_graph() -> Graph:
    """The curated signatures as declared (``ontology/curated-signatures.ttl``)."""
    return Graph().parse(data=_curated_text(), format="turtle")


def curated_signatures() -> list[Signature]:
    """Every curated signature, with its required events as defining events."""
    graph = curated_graph()
    found = []
    for subject in sorted(graph.subjects(TF.signatureKind, Literal("curated"))):
        events = []
        for node in graph.objects(subject, TF.definingEvent):
            phase = graph.value(node, TF.eventPhase)
            events.append(DefiningEvent(EventKey(
                str(graph.value(node, TF.parameter)), None if phase is None else str(phase),
                str(graph.value(node, TF.eventDirection)))))
        found.append(Signature(
            iri=str(subject), signature_id=str(graph.value(subject, TF.signatureId)),
            kind="curated", label=str(graph.value(subject, RDFS.label)),
            definition=str(graph.value(subject, SKOS.definition)),
            events=tuple(sorted(events, key=lambda e: e.key))))
    return found


def impact_of(values: dict[str, str]) -> Impact | None:
    if "outcome" not in values:
        return None

    def number(name: str) -> float | None:
        return float(values[name]) if name in values else None

    return Impact(parameter=values["outcome"], members_mean=number("membersMean"),
                  comparable_mean=number("comparableMean"),
                  relative_change=number("relativeChange"),
                  comparable_batches=int(values.get("comparableCount", 0)),
                  basis=values.get("basis", ""))
