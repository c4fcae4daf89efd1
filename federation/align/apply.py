"""Apply a site's alignment to its exported graphs: add shared-vocabulary statements, drop nothing.

:func:`align_batch_graph` returns a **new** graph: the site's batch graph unchanged plus the
aligned statements below. Everything the site sent stays as it sent it (``tf:value`` and
``tf:unitLabel`` in the site's unit); aligned values sit beside it.

On each ``tf:Feature`` of a mapped tag: ``tf:parameter``, ``tf:alignedValue`` (``xsd:double``)
and ``tf:alignedUnit``, converted per statistic with the tag's conversion
``canonical = m * site + c``:

- ``mean``: ``m * v + c``, in the canonical unit;
- ``min``, ``max``: ``m * v + c``, in the canonical unit (if ``m < 0`` the aligned min comes
  from the site's max and vice versa);
- ``slope``: ``m * v``, in canonical unit ``/h`` (the time base never changes);
- ``area``: ``m * area + c * span_h``, in canonical unit ``·h``, where ``span_h`` is the phase
  duration (``tf:endHour - tf:startHour``); if ``c != 0`` and the duration is unknown there is
  no aligned area and a ``tf:alignmentNote`` says why;
- ``t_min``, ``t_max``: unchanged, in ``h`` (swapped when ``m < 0``);
- ``n``: unchanged, ``count``;
- any other statistic: not aligned (``tf:parameter`` only) and a ``tf:alignmentNote``.

Note on ``area``: the sites integrate over the *sampled* span of the phase (first to last
sample), which can be up to one sampling interval shorter than the phase. The offset term
``c * span_h`` therefore carries an error of at most ``|c| * interval`` (for K -> °C at a
2-minute historian, 9 °C·h on areas of thousands); it is zero for every conversion without an
offset, which is all of them except temperature scales.

On each ``tf:Feature`` of a site-local tag the alignment declares a **redundant measurement**
of a parameter (``tf:redundantMeasurementOf``: a second probe, an offline check):
``tf:redundantMeasurementOf`` the parameter and, converted the same way, ``tf:alignedValue``
and ``tf:alignedUnit`` — but no ``tf:parameter`` (it is not the value of record, so every
query of a parameter's features still sees one value per statistic) and it stays
``tf:siteLocal``. Its conversion (:func:`redundant_conversion`): the one declared on the tag,
else the record tag's when the units agree, else the units library's. The meta graph gets
``tag tf:redundantMeasurementOf parameter`` with that conversion.

On each ``tf:DeviationEvent`` of a mapped tag: ``tf:parameter``, ``tf:alignedPeakExcess =
|m| * peakExcess`` (a difference: no offset), ``tf:alignedUnit`` and ``tf:alignedDirection``
(the site's ``tf:direction``, flipped when ``m < 0``). ``tf:magnitude`` is in envelope standard
deviations and needs no conversion.

On each ``tf:QualityResult`` of a mapped attribute: ``tf:parameter``, ``tf:alignedValue`` and
``tf:alignedUnit``. On each ``tf:DeviationRecord`` whose ``tf:failureModeCode`` is mapped:
``tf:failureMode``. On each ``tf:Batch``: ``tf:alignmentVersion``.

Features, events and results of unmapped tags or attributes, or whose unit is not the one the
reviewer aligned (the site changed a unit), get ``tf:siteLocal true`` and are reported in the
:class:`AlignmentResult`; nothing is removed. Aligning an already aligned graph replaces the
previous aligned statements (so a new alignment version applies cleanly).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote

from rdflib import RDF, XSD, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDFS, SKOS
from rdflib.term import Node

from bioprocess.errors import ValidationError
from federation.align.loader import shared_vocabulary
from federation.align.model import (
    MAPPING_RELATIONS,
    Alignment,
    RedundantMeasurement,
    TagMapping,
    UnitConversion,
)
from federation.align.units import UnitConversionError, conversion_between, derived_unit
from ontology import TF, bind_prefixes, site_base

#: Statistics that are levels of the signal (converted with offset).
LEVEL_STATISTICS = frozenset({"mean", "min", "max"})
#: Statistics that are times or counts (never converted).
UNCHANGED_STATISTICS = frozenset({"t_min", "t_max", "n"})
#: Every predicate the alignment adds to a batch graph (removed first when re-aligning).
ALIGNED_PREDICATES = (TF.parameter, TF.alignedValue, TF.alignedUnit, TF.alignedPeakExcess,
                      TF.alignedDirection, TF.siteLocal, TF.alignmentVersion, TF.alignmentNote,
                      TF.failureMode, TF.redundantMeasurementOf)
#: Where alignment resources live: ``{ALIGNMENT_NAMESPACE}{site}``.
ALIGNMENT_NAMESPACE = "https://w3id.org/twinfed/alignment/"

_ALIGNED = frozenset(ALIGNED_PREDICATES)
_SWAP = {"min": "max", "max": "min", "t_min": "t_max", "t_max": "t_min"}
_FLIP = {"high": "low", "low": "high"}
_TRUE = Literal(True)


@dataclass(frozen=True)
class AlignmentResult:
    """What :func:`align_batch_graph` made: the aligned graph and what stayed site-local.

    The ``unmapped_*`` sets hold the site's own names (tag names, failure-mode codes,
    quality attributes) found in the batch and not mapped by the alignment, whether a reviewer
    left them site-local on purpose or they were never reviewed. ``notes`` explains every
    mapped value that could not be aligned.
    """

    graph: Graph
    alignment_version: str
    unmapped_tags: frozenset[str]
    unmapped_failure_modes: frozenset[str]
    unmapped_attributes: frozenset[str]
    notes: tuple[str, ...] = ()


def _double(value: float) -> Literal:
    return Literal(float(value), datatype=XSD.double)


def _float(value: Node | None) -> float | None:
    if not isinstance(value, Literal):
        return None
    try:
        return float(value.toPython())
    except (TypeError, ValueError):
        return None


def tag_name(tag: Node, site: str, meta_graph: Graph | None = None) -> str:
    """The site's name of ``tag``: its ``skos:prefLabel`` in the meta graph, else from the IRI."""
    if meta_graph is not None:
        label = meta_graph.value(tag, SKOS.prefLabel)
        if label is not None:
            return str(label)
    iri = str(tag)
    prefix = f"{site_base(site)}tag/"
    return unquote(iri[len(prefix):]) if iri.startswith(prefix) else iri


def _empty_like(graph: Graph) -> Graph:
    new = Graph()
    for prefix, namespace in graph.namespaces():
        new.bind(prefix, namespace, override=False)
    return bind_prefixes(new)


class _Facts:
    """One pass over a graph: its subjects by type and the first object of each property."""

    def __init__(self, triples: Iterable[tuple[Node, Node, Node]]) -> None:
        self.by_type: dict[Node, list[Node]] = defaultdict(list)
        self.props: dict[Node, dict[Node, Node]] = defaultdict(dict)
        for s, p, o in triples:
            if p == RDF.type:
                self.by_type[o].append(s)
            else:
                self.props[s].setdefault(p, o)

    def of_type(self, rdf_type: URIRef) -> list[Node]:
        return sorted(set(self.by_type.get(rdf_type, ())))

    def get(self, subject: Node | None, predicate: URIRef) -> Node | None:
        if subject is None:
            return None
        found = self.props.get(subject)
        return found.get(predicate) if found else None


def redundant_conversion(alignment: Alignment, measurement: RedundantMeasurement,
                         site_unit: str | None) -> UnitConversion | None:
    """How a redundant measurement's values in ``site_unit`` go to the parameter's unit: the
    conversion declared on the tag, else the record tag's when it is in the same unit, else
    the units library's; ``None`` when none applies (the values are then not aligned)."""
    declared = measurement.conversion
    if declared is not None:
        return declared if site_unit in (None, declared.from_unit) else None
    if site_unit is None:
        return None
    for mapping in alignment.tags.values():
        if mapping.parameter == measurement.parameter and (
                mapping.conversion.from_unit == site_unit):
            return mapping.conversion
    info = shared_vocabulary().parameters.get(measurement.parameter)
    if info is None:
        return None
    try:
        return conversion_between(site_unit, info.unit, molar_mass_g_per_mol=info.molar_mass,
                                  air_saturation_mg_per_l=alignment.air_saturation_mg_per_l,
                                  quantity_kind=info.quantity_kind)
    except UnitConversionError:
        return None


def _check_site(facts: _Facts, alignment: Alignment) -> None:
    expected = URIRef(site_base(alignment.site))
    for batch in facts.of_type(TF.Batch):
        site = facts.get(batch, TF.atSite)
        if site is not None and site != expected:
            raise ValidationError(
                f"batch {batch} is at site {site}; it must be at {expected} to be aligned with "
                f"the alignment of {alignment.site}"
            )


class _BatchAligner:
    """Aligns one batch graph; collects the added triples, what stays site-local, the notes."""

    def __init__(self, facts: _Facts, meta_graph: Graph, alignment: Alignment) -> None:
        self.facts = facts
        self.meta = meta_graph
        self.alignment = alignment
        self.by_iri: dict[Node, TagMapping] = {m.tag_iri: m for m in alignment.tags.values()}
        self.redundant: dict[Node, RedundantMeasurement] = {
            m.tag_iri: m for m in alignment.redundant_tags.values()}
        self.redundant_conversions: dict[Node, UnitConversion | None] = {}
        self.added: list[tuple[Node, Node, Node]] = []
        self.site_units: dict[Node, Node | None] = {}
        self.unmapped_tags: set[str] = set()
        self.unmapped_attributes: set[str] = set()
        self.unmapped_modes: set[str] = set()
        self.notes: list[str] = []
        self.durations: dict[Node, float] = {}
        for phase in facts.of_type(TF.Phase):
            start = _float(facts.get(phase, TF.startHour))
            end = _float(facts.get(phase, TF.endHour))
            if start is not None and end is not None and end >= start:
                self.durations[phase] = end - start
        self.values: dict[tuple[Node | None, Node | None, str], float] = {}
        for feature in facts.of_type(TF.Feature):
            value = _float(facts.get(feature, TF.value))
            statistic = facts.get(feature, TF.statistic)
            if value is not None and statistic is not None:
                key = (facts.get(feature, TF.ofTag), facts.get(feature, TF.inPhase),
                       str(statistic))
                self.values[key] = value

    def add(self, subject: Node, predicate: URIRef, value: Node) -> None:
        self.added.append((subject, predicate, value))

    def name(self, tag: Node) -> str:
        return tag_name(tag, self.alignment.site, self.meta)

    def note(self, node: Node, text: str) -> None:
        self.add(node, TF.alignmentNote, Literal(text))
        self.notes.append(f"{node}: {text}")

    def site_local(self, node: Node) -> None:
        self.add(node, TF.siteLocal, _TRUE)

    def mapping_for(self, node: Node, tag: Node | None) -> TagMapping | None:
        """The tag's mapping, or None (then the node is marked site-local and reported)."""
        mapping = self.by_iri.get(tag) if tag is not None else None
        if mapping is None:
            if tag is not None:
                self.unmapped_tags.add(self.name(tag))
            self.site_local(node)
            return None
        if tag not in self.site_units:
            self.site_units[tag] = self.meta.value(tag, TF.unitLabel)
        declared = self.site_units[tag]
        if declared is not None and str(declared) != mapping.conversion.from_unit:
            self.note(node, f"tag {mapping.tag} is in {declared!s} at the site but the alignment "
                      f"was reviewed for {mapping.conversion.from_unit}; not aligned")
            self.unmapped_tags.add(mapping.tag)
            self.site_local(node)
            return None
        return mapping

    # -- features -------------------------------------------------------------------------

    def feature(self, feature: Node) -> None:
        tag = self.facts.get(feature, TF.ofTag)
        mapping = self.mapping_for(feature, tag)
        if mapping is None:
            if tag in self.redundant:
                self.redundant_feature(feature, tag, self.redundant[tag])
            return
        conversion = mapping.conversion
        statistic = str(self.facts.get(feature, TF.statistic) or "")
        unit_label = self.facts.get(feature, TF.unitLabel)
        expected_unit = derived_unit(conversion.from_unit, statistic)
        if unit_label is not None and str(unit_label) != expected_unit:
            self.note(feature, f"feature unit {unit_label!s} is not {expected_unit}, the unit of "
                      f"{statistic} for tag {mapping.tag} in {conversion.from_unit}; not aligned")
            self.unmapped_tags.add(mapping.tag)
            self.site_local(feature)
            return
        self.add(feature, TF.parameter, mapping.parameter)
        self.aligned_value(feature, tag, statistic, conversion, mapping.tag)

    def redundant_feature(self, feature: Node, tag: Node,
                          measurement: RedundantMeasurement) -> None:
        """A second measurement's feature: linked to its parameter, value converted beside."""
        self.add(feature, TF.redundantMeasurementOf, measurement.parameter)
        if tag not in self.redundant_conversions:
            unit = self.meta.value(tag, TF.unitLabel)
            self.redundant_conversions[tag] = redundant_conversion(
                self.alignment, measurement, str(unit) if unit is not None else None)
        conversion = self.redundant_conversions[tag]
        if conversion is None:
            self.note(feature, f"redundant measurement {measurement.tag}: no conversion from "
                      f"its unit to the unit of {measurement.parameter_label}; not aligned")
            return
        statistic = str(self.facts.get(feature, TF.statistic) or "")
        unit_label = self.facts.get(feature, TF.unitLabel)
        if unit_label is not None and str(unit_label) != derived_unit(conversion.from_unit,
                                                                      statistic):
            return  # a feature in another unit than its tag's: left as the site sent it
        self.aligned_value(feature, tag, statistic, conversion, measurement.tag)

    def aligned_value(self, feature: Node, tag: Node | None, statistic: str,
                      conversion: UnitConversion, name: str) -> None:
        """The feature's value and unit in the parameter's unit (nothing if not convertible)."""
        aligned = self.feature_value(feature, tag, statistic, conversion, name)
        if aligned is not None:
            self.add(feature, TF.alignedValue, _double(aligned))
            self.add(feature, TF.alignedUnit, Literal(derived_unit(conversion.to_unit, statistic)))

    def feature_value(self, feature: Node, tag: Node | None, statistic: str,
                      conversion: UnitConversion, name: str) -> float | None:
        value = _float(self.facts.get(feature, TF.value))
        phase = self.facts.get(feature, TF.inPhase)
        if value is None:
            self.note(feature, "the feature has no numeric tf:value; not aligned")
            return None
        m = conversion.multiplier
        if m < 0 and statistic in _SWAP:
            partner = self.values.get((tag, phase, _SWAP[statistic]))
            if partner is None:
                self.note(feature, f"the conversion of {name} reverses order (multiplier {m:g}) "
                          f"and the batch has no {_SWAP[statistic]} feature to take the aligned "
                          f"{statistic} from; not aligned")
                return None
            value = partner
        if statistic in LEVEL_STATISTICS:
            return conversion.level(value)
        if statistic in UNCHANGED_STATISTICS:
            return value
        if statistic == "slope":
            return conversion.difference(value)
        if statistic == "area":
            if conversion.offset == 0.0:
                return conversion.difference(value)
            duration = self.durations.get(phase) if phase is not None else None
            if duration is None:
                self.note(feature, f"area of {name} not aligned: its conversion has an offset "
                          f"({conversion.offset:g}) and the duration of phase {phase} is unknown "
                          "(no tf:startHour and tf:endHour)")
                return None
            return conversion.difference(value) + conversion.offset * duration
        self.note(feature, f"statistic {statistic!r} of {name} has no conversion rule; only "
                  "tf:parameter is added")
        return None

    # -- events, results, records -----------------------------------------------------------

    def event(self, event: Node) -> None:
        mapping = self.mapping_for(event, self.facts.get(event, TF.ofTag))
        if mapping is None:
            return
        conversion = mapping.conversion
        self.add(event, TF.parameter, mapping.parameter)
        excess = _float(self.facts.get(event, TF.peakExcess))
        if excess is not None:
            self.add(event, TF.alignedPeakExcess, _double(abs(conversion.multiplier) * excess))
            self.add(event, TF.alignedUnit, Literal(conversion.to_unit))
        direction = self.facts.get(event, TF.direction)
        if direction is not None:
            text = str(direction)
            if conversion.multiplier < 0:
                text = _FLIP.get(text, text)
            self.add(event, TF.alignedDirection, Literal(text))

    def quality_result(self, result: Node) -> None:
        attribute = str(self.facts.get(result, TF.attribute) or "")
        mapping = self.alignment.attributes.get(attribute)
        if mapping is None:
            self.unmapped_attributes.add(attribute)
            self.site_local(result)
            return
        unit = self.facts.get(result, TF.unitLabel)
        if unit is not None and str(unit) != mapping.conversion.from_unit:
            self.note(result, f"quality attribute {attribute} is in {unit!s} but the alignment "
                      f"was reviewed for {mapping.conversion.from_unit}; not aligned")
            self.unmapped_attributes.add(attribute)
            self.site_local(result)
            return
        self.add(result, TF.parameter, mapping.parameter)
        value = _float(self.facts.get(result, TF.value))
        if value is not None:
            self.add(result, TF.alignedValue, _double(mapping.conversion.level(value)))
            self.add(result, TF.alignedUnit, Literal(mapping.conversion.to_unit))

    def deviation_record(self, record: Node) -> None:
        code = self.facts.get(record, TF.failureModeCode)
        if code is None:
            return
        mapping = self.alignment.failure_modes.get(str(code))
        if mapping is None:
            self.unmapped_modes.add(str(code))
            return
        self.add(record, TF.failureMode, mapping.failure_mode)


def align_batch_graph(
    batch_graph: Graph, meta_graph: Graph, alignment: Alignment
) -> AlignmentResult:
    """A new graph: ``batch_graph`` plus its statements in the shared vocabulary.

    ``meta_graph`` is the site's meta graph (tag names and units); ``alignment`` must be the
    alignment of the site the batch comes from. See the module docstring for what is added.
    Raises :class:`~bioprocess.errors.ValidationError` for a batch of another site.
    """
    kept = [triple for triple in batch_graph if triple[1] not in _ALIGNED]
    facts = _Facts(kept)
    _check_site(facts, alignment)
    aligner = _BatchAligner(facts, meta_graph, alignment)
    for feature in facts.of_type(TF.Feature):
        aligner.feature(feature)
    for event in facts.of_type(TF.DeviationEvent):
        aligner.event(event)
    for result in facts.of_type(TF.QualityResult):
        aligner.quality_result(result)
    for record in facts.of_type(TF.DeviationRecord):
        aligner.deviation_record(record)
    for batch in facts.of_type(TF.Batch):
        aligner.add(batch, TF.alignmentVersion, Literal(alignment.version))
    graph = _empty_like(batch_graph)
    graph.addN((s, p, o, graph) for s, p, o in kept)
    graph.addN((s, p, o, graph) for s, p, o in aligner.added)
    return AlignmentResult(
        graph=graph,
        alignment_version=alignment.version,
        unmapped_tags=frozenset(aligner.unmapped_tags),
        unmapped_failure_modes=frozenset(aligner.unmapped_modes),
        unmapped_attributes=frozenset(aligner.unmapped_attributes),
        notes=tuple(aligner.notes),
    )


def alignment_iri(alignment: Alignment) -> URIRef:
    """The alignment resource's IRI (from its file, or minted for a site without one)."""
    if alignment.iri is not None:
        return alignment.iri
    return URIRef(ALIGNMENT_NAMESPACE + quote(alignment.site, safe="-._~"))


def _conversion_node(alignment: Alignment, kind: str, name: str) -> URIRef:
    base = str(alignment_iri(alignment))
    return URIRef(f"{base}/{quote(alignment.version, safe='-._~')}/conversion/{kind}/"
                  f"{quote(name, safe='-._~')}")


def _add_conversion(
    graph: Graph, subject: URIRef, node: URIRef, conversion: UnitConversion
) -> None:
    graph.add((subject, TF.unitConversion, node))
    graph.add((node, RDF.type, TF.UnitConversion))
    graph.add((node, TF.fromUnit, Literal(conversion.from_unit)))
    graph.add((node, TF.toUnit, Literal(conversion.to_unit)))
    graph.add((node, TF.multiplier, _double(conversion.multiplier)))
    graph.add((node, TF.offset, _double(conversion.offset)))
    graph.add((node, RDFS.comment, Literal(conversion.describe())))


def align_meta_graph(meta_graph: Graph, alignment: Alignment) -> Graph:
    """A new graph: ``meta_graph`` plus the alignment's mappings, so queries go tag -> parameter.

    Adds the alignment resource (version, modified date, reviewer, site), and for every tag of
    the meta graph either its SKOS mapping triple and unit conversion (``tf:unitConversion``
    with ``tf:multiplier`` and ``tf:offset``) or ``tf:siteLocal true`` (with the reviewer's
    ``tf:siteLocalReason`` where there is one). The quality-attribute and failure-mode-code
    concepts of the alignment are added with their mappings too.
    """
    graph = _empty_like(meta_graph)
    graph += meta_graph
    base = site_base(alignment.site)
    for predicate in (TF.siteLocal, TF.siteLocalReason, TF.unitConversion,
                      TF.redundantMeasurementOf, *MAPPING_RELATIONS):
        for subject in {s for s in graph.subjects(predicate, None) if str(s).startswith(base)}:
            graph.remove((subject, predicate, None))
    for subject in {s for s in graph.subjects() if str(s).startswith(ALIGNMENT_NAMESPACE)}:
        graph.remove((subject, None, None))
    resource = alignment_iri(alignment)
    graph.add((resource, RDF.type, TF.Alignment))
    graph.add((resource, TF.forSiteCode, Literal(alignment.site)))
    graph.add((resource, OWL.versionInfo, Literal(alignment.version)))
    if alignment.modified is not None:
        graph.add((resource, DCTERMS.modified, Literal(alignment.modified, datatype=XSD.date)))
    if alignment.reviewed_by:
        graph.add((resource, TF.reviewedBy, Literal(alignment.reviewed_by)))
    if alignment.air_saturation_mg_per_l is not None:
        graph.add((resource, TF.airSaturationConcentration,
                   _double(alignment.air_saturation_mg_per_l)))
    by_iri = {m.tag_iri: m for m in alignment.tags.values()}
    redundant = {m.tag_iri: m for m in alignment.redundant_tags.values()}
    for tag in sorted(set(graph.subjects(RDF.type, TF.Tag))):
        assert isinstance(tag, URIRef)
        mapping = by_iri.get(tag)
        declared = graph.value(tag, TF.unitLabel)
        if mapping is None or (declared is not None
                               and str(declared) != mapping.conversion.from_unit):
            graph.add((tag, TF.siteLocal, _TRUE))
            reason = alignment.local_tags.get(tag_name(tag, alignment.site, graph))
            if reason:
                graph.add((tag, TF.siteLocalReason, Literal(reason)))
            if tag in redundant:
                measurement = redundant[tag]
                graph.add((tag, TF.redundantMeasurementOf, measurement.parameter))
                conversion = redundant_conversion(alignment, measurement, str(declared)
                                                  if declared is not None else None)
                if conversion is not None:
                    _add_conversion(graph, tag, _conversion_node(alignment, "tag",
                                                                 measurement.tag), conversion)
            continue
        graph.add((tag, mapping.relation, mapping.parameter))
        _add_conversion(graph, tag, _conversion_node(alignment, "tag", mapping.tag),
                        mapping.conversion)
    for attribute in alignment.attributes.values():
        concept = attribute.concept_iri
        graph.add((concept, RDF.type, SKOS.Concept))
        graph.add((concept, SKOS.notation, Literal(attribute.attribute)))
        graph.add((concept, attribute.relation, attribute.parameter))
        _add_conversion(graph, concept,
                        _conversion_node(alignment, "attribute", attribute.attribute),
                        attribute.conversion)
    for mode in alignment.failure_modes.values():
        concept = mode.concept_iri
        graph.add((concept, RDF.type, SKOS.Concept))
        graph.add((concept, SKOS.notation, Literal(mode.code)))
        graph.add((concept, mode.relation, mode.failure_mode))
    return graph
