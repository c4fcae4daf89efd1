"""Read and check a site's alignment file, ``ontology/alignments/<site code>.ttl``.

The file (Turtle) holds one ``tf:Alignment`` resource (``owl:versionInfo``,
``dcterms:modified``, ``tf:reviewedBy``, ``tf:forSiteCode``, optionally
``tf:airSaturationConcentration``) and, for each site concept it maps, one SKOS mapping
triple (``skos:exactMatch``, ``skos:closeMatch``, ``skos:broadMatch`` or
``skos:narrowMatch``) to a shared concept. Site concepts are named by IRI under the site's base
(:func:`ontology.site_base`):

=====================  ==========================  ============================================
site concept           IRI                         maps to
=====================  ==========================  ============================================
tag (as exported)      ``{site}tag/{name}``        a ``tf:Parameter``, with ``tf:unitConversion``
quality attribute      ``{site}attribute/{name}``  a ``tf:Parameter``, with ``tf:unitConversion``
failure-mode code      ``{site}failure-mode/{c}``  a ``tf:FailureMode``
=====================  ==========================  ============================================

The name is the ``skos:notation`` of the concept when it has one, else the IRI's last segment
(unescaped). A conversion (``tf:UnitConversion``) gives the site's ``tf:fromUnit``, and
optionally ``tf:unitExpression`` (how to read a non-standard unit string),
``tf:airSaturationConcentration``, and ``tf:multiplier`` / ``tf:offset`` (checked against the
computed conversion, or used as they are when the unit cannot be read). A concept with
``tf:siteLocalReason`` was reviewed and deliberately left unmapped; a site-local tag with
``tf:redundantMeasurementOf`` a shared parameter is a second measurement of it (a redundant
probe, an offline check; optionally with its own ``tf:unitConversion``), read into
:attr:`~federation.align.model.Alignment.redundant_tags`.

Every problem raises :class:`~federation.align.model.AlignmentError` naming the file, the line
and the term.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from urllib.parse import quote, unquote

from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, SKOS
from rdflib.term import Node

from federation.align.model import (
    MAPPING_RELATIONS,
    Alignment,
    AlignmentError,
    AttributeMapping,
    FailureModeMapping,
    RedundantMeasurement,
    TagMapping,
    UnitConversion,
    empty_alignment,
)
from federation.align.units import UnitConversionError, conversion_between
from ontology import QUDT, TF, load_ontology, site_base

#: SKOS properties that do not say two concepts mean the same quantity or cause.
_REFUSED_RELATIONS = (SKOS.relatedMatch, SKOS.mappingRelation)


def default_directory() -> Path:
    """Where the alignment files ship: ``ontology/alignments/``."""
    return Path(str(resources.files("ontology"))) / "alignments"


def alignment_path(site_code: str, directory: Path | None = None) -> Path:
    """The alignment file of ``site_code`` (the file name is the site code, IRI-escaped)."""
    folder = default_directory() if directory is None else Path(directory)
    return folder / f"{quote(site_code, safe='-._~')}.ttl"


@dataclass(frozen=True)
class ParameterInfo:
    """What the alignment needs to know about one shared parameter."""

    iri: URIRef
    label: str
    unit: str
    molar_mass: float | None
    quantity_kind: str | None
    alt_labels: tuple[str, ...] = ()
    definition: str = ""


@dataclass(frozen=True)
class FailureModeInfo:
    """What the alignment needs to know about one shared failure mode."""

    iri: URIRef
    label: str
    alt_labels: tuple[str, ...] = ()
    definition: str = ""


@dataclass(frozen=True)
class SharedVocabulary:
    """The shared parameters and failure modes, and every declared ``tf:`` term."""

    parameters: MappingProxyType[URIRef, ParameterInfo]
    failure_modes: MappingProxyType[URIRef, FailureModeInfo]
    tf_terms: frozenset[URIRef]


def _text(graph: Graph, subject: Node, predicate: URIRef) -> str:
    values = sorted(graph.objects(subject, predicate),
                    key=lambda v: (getattr(v, "language", None) not in (None, "en"), str(v)))
    return str(values[0]) if values else ""


@cache
def shared_vocabulary() -> SharedVocabulary:
    """Parameters and failure modes of the shared ontology (read once per process)."""
    graph = load_ontology()
    parameters = {}
    for iri in graph.subjects(RDF.type, TF.Parameter):
        if not isinstance(iri, URIRef):
            continue
        molar = graph.value(iri, TF.molarMass)
        kind = graph.value(iri, QUDT.hasQuantityKind)
        parameters[iri] = ParameterInfo(
            iri=iri,
            label=_text(graph, iri, SKOS.prefLabel),
            unit=_text(graph, iri, TF.unitLabel),
            molar_mass=float(molar) if molar is not None else None,
            quantity_kind=str(kind) if kind is not None else None,
            alt_labels=tuple(sorted(str(a) for a in graph.objects(iri, SKOS.altLabel))),
            definition=_text(graph, iri, SKOS.definition),
        )
    modes = {}
    for iri in graph.subjects(RDF.type, TF.FailureMode):
        if isinstance(iri, URIRef):
            modes[iri] = FailureModeInfo(
                iri=iri,
                label=_text(graph, iri, SKOS.prefLabel),
                alt_labels=tuple(sorted(str(a) for a in graph.objects(iri, SKOS.altLabel))),
                definition=_text(graph, iri, SKOS.definition),
            )
    declared = frozenset(
        s for s in graph.subjects(RDF.type, None)
        if isinstance(s, URIRef) and str(s).startswith(str(TF))
    )
    return SharedVocabulary(MappingProxyType(parameters), MappingProxyType(modes), declared)


class _Reader:
    """Reads one parsed alignment file; knows its text to name lines in errors."""

    def __init__(self, path: Path, text: str, graph: Graph, site_code: str) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.graph = graph
        self.site = site_code
        self.base = site_base(site_code)
        self.vocabulary = shared_vocabulary()

    # -- errors ---------------------------------------------------------------------------

    def _line_of(self, term: Node | None) -> int | None:
        if not isinstance(term, URIRef):
            return None
        iri = str(term)
        candidates = [f"<{iri}>"]
        for prefix, namespace in self.graph.namespaces():
            ns = str(namespace)
            if iri.startswith(ns) and len(iri) > len(ns):
                candidates.append(f"{prefix}:{iri[len(ns):]}")
        for number, line in enumerate(self.lines, start=1):
            code = line.split(" #")[0]
            if code.lstrip().startswith("#"):
                continue
            for candidate in candidates:
                if re.search(re.escape(candidate) + r"(?![\w.\-%])", code):
                    return number
        return None

    def error(self, message: str, term: Node | None = None) -> AlignmentError:
        line = self._line_of(term)
        where = f"{self.path}:{line}" if line else str(self.path)
        return AlignmentError(f"{where}: {message}")

    def show(self, term: Node) -> str:
        return self.graph.namespace_manager.normalizeUri(term) if isinstance(term, URIRef) else (
            str(term))

    # -- the alignment resource -----------------------------------------------------------

    def alignment_resource(self) -> URIRef:
        found = [s for s in self.graph.subjects(RDF.type, TF.Alignment) if isinstance(s, URIRef)]
        if len(found) != 1:
            raise self.error(
                "an alignment file must describe exactly one tf:Alignment resource (an IRI); "
                f"found {len(found)} instead"
            )
        return found[0]

    def required_literal(self, subject: URIRef, predicate: URIRef, what: str) -> Literal:
        value = self.graph.value(subject, predicate)
        if not isinstance(value, Literal) or not str(value).strip():
            raise self.error(f"the alignment {self.show(subject)} must state its {what} "
                             f"({self.show(predicate)}); none found", subject)
        return value

    def optional_float(self, subject: Node, predicate: URIRef) -> float | None:
        value = self.graph.value(subject, predicate)
        if value is None:
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise self.error(f"{self.show(predicate)} of {self.show(subject)} must be a number; "
                             f"got {value!s} instead", subject if isinstance(subject, URIRef)
                             else None)
        return number

    def check_predicates(self) -> None:
        for predicate in sorted(set(self.graph.predicates())):
            if str(predicate).startswith(str(TF)) and predicate not in self.vocabulary.tf_terms:
                raise self.error(f"{self.show(predicate)} is not a term of the shared ontology "
                                 "(a typo?)", predicate)

    # -- site concepts --------------------------------------------------------------------

    def classify(self, subject: Node) -> tuple[str, str]:
        """``(kind, name)`` of a site concept: kind is tag, attribute or failure-mode."""
        iri = str(subject)
        for kind in ("tag", "attribute", "failure-mode"):
            prefix = f"{self.base}{kind}/"
            if iri.startswith(prefix) and "/" not in iri[len(prefix):] and len(iri) > len(prefix):
                notation = self.graph.value(subject, SKOS.notation)
                name = str(notation) if notation is not None and kind != "tag" else unquote(
                    iri[len(prefix):])
                return kind, name
        raise self.error(
            f"{self.show(subject)} is not a tag, quality attribute or failure-mode code of "
            f"{self.site}: its IRI must be {self.base}tag/NAME, {self.base}attribute/NAME or "
            f"{self.base}failure-mode/CODE",
            subject,
        )

    def note(self, subject: Node) -> str:
        for predicate in (SKOS.scopeNote, SKOS.note, SKOS.definition):
            text = _text(self.graph, subject, predicate)
            if text:
                return " ".join(text.split())
        return ""

    def conversion(self, subject: URIRef, name: str, target: URIRef,
                   default_saturation: float | None) -> UnitConversion:
        info = self.vocabulary.parameters[target]
        node = self.graph.value(subject, TF.unitConversion)
        if node is None:
            raise self.error(f"{name} is mapped to {self.show(target)} but has no "
                             "tf:unitConversion (with tf:fromUnit, the site's unit)", subject)
        from_unit = self.graph.value(node, TF.fromUnit)
        if not isinstance(from_unit, Literal) or not str(from_unit):
            raise self.error(f"the tf:unitConversion of {name} must give tf:fromUnit (the "
                             "site's unit string); none found", subject)
        to_unit = self.graph.value(node, TF.toUnit)
        if to_unit is not None and str(to_unit) != info.unit:
            raise self.error(f"{name}: tf:toUnit {str(to_unit)!r} is not the canonical unit of "
                             f"{self.show(target)}, {info.unit!r}", subject)
        expression = self.graph.value(node, TF.unitExpression)
        saturation = self.optional_float(node, TF.airSaturationConcentration)
        declared_m = self.optional_float(node, TF.multiplier)
        declared_c = self.optional_float(node, TF.offset)
        try:
            conversion = conversion_between(
                str(from_unit),
                info.unit,
                expression=str(expression) if expression is not None else None,
                molar_mass_g_per_mol=info.molar_mass,
                air_saturation_mg_per_l=saturation if saturation is not None
                else default_saturation,
                quantity_kind=info.quantity_kind,
            )
        except UnitConversionError as exc:
            if declared_m is None:
                raise self.error(f"{name} ({str(from_unit)!r} -> {info.unit!r} for "
                                 f"{self.show(target)}): {exc}; give tf:unitExpression, or "
                                 "tf:multiplier and tf:offset", subject) from exc
            return UnitConversion(str(from_unit), info.unit, declared_m, declared_c or 0.0,
                                  "declared in the alignment")
        for declared, computed, what in ((declared_m, conversion.multiplier, "tf:multiplier"),
                                         (declared_c, conversion.offset, "tf:offset")):
            if declared is not None and not math.isclose(declared, computed, rel_tol=1e-6,
                                                          abs_tol=1e-9):
                raise self.error(f"{name}: declares {what} {declared:g} but {conversion.describe()}"
                                 f" gives {computed:.10g}", subject)
        return conversion

    # -- the whole file -------------------------------------------------------------------

    def read(self) -> Alignment:
        self.check_predicates()
        resource = self.alignment_resource()
        version = str(self.required_literal(resource, OWL.versionInfo, "version")).strip()
        site = str(self.required_literal(resource, TF.forSiteCode, "site code"))
        if site != self.site:
            raise self.error(f"the file for site {self.site} must align {self.site}; its "
                             f"tf:forSiteCode is {site!r}", resource)
        modified_literal = self.required_literal(resource, DCTERMS.modified, "modified date")
        modified = modified_literal.toPython()
        if not isinstance(modified, date):
            raise self.error(f"dcterms:modified must be an xsd:date; got {modified_literal!s}",
                             resource)
        reviewed_by = str(self.required_literal(resource, TF.reviewedBy, "reviewer"))
        saturation = self.optional_float(resource, TF.airSaturationConcentration)

        tags: dict[str, TagMapping] = {}
        attributes: dict[str, AttributeMapping] = {}
        modes: dict[str, FailureModeMapping] = {}
        seen: dict[Node, tuple[URIRef, Node]] = {}
        for relation in _REFUSED_RELATIONS:
            for subject, _ in self.graph.subject_objects(relation):
                raise self.error(f"{self.show(subject)} uses {self.show(relation)}, which does "
                                 "not say the concepts are the same; use exactMatch, closeMatch, "
                                 "broadMatch or narrowMatch, or leave it site-local with "
                                 "tf:siteLocalReason", subject)
        for relation in MAPPING_RELATIONS:
            for subject, target in self.graph.subject_objects(relation):
                if subject == resource:
                    continue
                if subject in seen:
                    raise self.error(f"{self.show(subject)} is mapped twice (to "
                                     f"{self.show(seen[subject][1])} and {self.show(target)}); "
                                     "map each site concept to one shared concept", subject)
                seen[subject] = (relation, target)
        for subject, (relation, target) in sorted(seen.items()):
                kind, name = self.classify(subject)
                assert isinstance(subject, URIRef)
                if not isinstance(target, URIRef):
                    raise self.error(f"{name} must be mapped to an IRI; got {target!s}", subject)
                if kind == "failure-mode":
                    if target not in self.vocabulary.failure_modes:
                        raise self.error(f"failure-mode code {name} is mapped to "
                                         f"{self.show(target)}, which is not a failure mode of "
                                         "ontology/failure-modes.ttl", target)
                    modes[name] = FailureModeMapping(
                        name, subject, relation, target,
                        self.vocabulary.failure_modes[target].label, self.note(subject))
                    continue
                if target not in self.vocabulary.parameters:
                    raise self.error(f"{kind} {name} is mapped to {self.show(target)}, which is "
                                     "not a parameter of ontology/parameters.ttl", target)
                conversion = self.conversion(subject, f"{kind} {name}", target, saturation)
                label = self.vocabulary.parameters[target].label
                if kind == "tag":
                    tags[name] = TagMapping(name, subject, relation, target, label, conversion,
                                            self.note(subject))
                else:
                    attributes[name] = AttributeMapping(name, subject, relation, target, label,
                                                        conversion, self.note(subject))
        local: dict[str, dict[str, str]] = {"tag": {}, "attribute": {}, "failure-mode": {}}
        for subject, reason in sorted(self.graph.subject_objects(TF.siteLocalReason)):
            kind, name = self.classify(subject)
            if subject in seen:
                raise self.error(f"{kind} {name} is both mapped and declared site-local "
                                 "(tf:siteLocalReason); choose one", subject)
            local[kind][name] = " ".join(str(reason).split())
        redundant = self.redundant_measurements(seen, saturation)
        return Alignment(
            site=self.site,
            version=version,
            iri=resource,
            modified=modified,
            reviewed_by=reviewed_by,
            source=self.path,
            tags=dict(sorted(tags.items())),
            attributes=dict(sorted(attributes.items())),
            failure_modes=dict(sorted(modes.items())),
            local_tags=dict(sorted(local["tag"].items())),
            local_attributes=dict(sorted(local["attribute"].items())),
            local_failure_modes=dict(sorted(local["failure-mode"].items())),
            air_saturation_mg_per_l=saturation,
            redundant_tags=redundant,
        )

    def redundant_measurements(self, mapped: dict[Node, tuple[URIRef, Node]],
                               saturation: float | None) -> dict[str, RedundantMeasurement]:
        """Site-local tags declared ``tf:redundantMeasurementOf`` a shared parameter."""
        found: dict[str, RedundantMeasurement] = {}
        for subject, target in sorted(self.graph.subject_objects(TF.redundantMeasurementOf)):
            kind, name = self.classify(subject)
            assert isinstance(subject, URIRef)
            if kind != "tag":
                raise self.error(f"{kind} {name}: tf:redundantMeasurementOf is for tags (a "
                                 "second probe or an offline check of a parameter)", subject)
            if subject in mapped:
                raise self.error(f"tag {name} is mapped and also declared a redundant "
                                 "measurement (tf:redundantMeasurementOf); the tag of record is "
                                 "mapped, the second measurement stays site-local", subject)
            if target not in self.vocabulary.parameters:
                raise self.error(f"tag {name} is a redundant measurement of "
                                 f"{self.show(target)}, which is not a parameter of "
                                 "ontology/parameters.ttl", target)
            assert isinstance(target, URIRef)
            conversion = (self.conversion(subject, f"tag {name}", target, saturation)
                          if self.graph.value(subject, TF.unitConversion) is not None else None)
            found[name] = RedundantMeasurement(name, subject, target,
                                               self.vocabulary.parameters[target].label,
                                               conversion)
        return found


def _syntax_error(path: Path, exc: Exception) -> AlignmentError:
    lines = getattr(exc, "lines", None)
    message = " ".join(str(exc).split())
    reason = re.search(r"Bad syntax \(([^)]*)\)", message)
    where = f"{path}:{lines + 1}" if isinstance(lines, int) else str(path)
    detail = reason.group(1) if reason else message
    return AlignmentError(f"{where}: the file is not valid Turtle ({detail})")


def parse_alignment(text: str, site_code: str, path: Path | str = "<alignment>") -> Alignment:
    """An :class:`Alignment` from Turtle ``text`` (``path`` only names it in errors)."""
    path = Path(path)
    graph = Graph()
    try:
        graph.parse(data=text, format="turtle", publicID=site_base(site_code))
    except Exception as exc:  # rdflib raises BadSyntax and several others for broken Turtle
        raise _syntax_error(path, exc) from exc
    return _Reader(path, text, graph, site_code).read()


def load_alignment(site_code: str, directory: Path | None = None) -> Alignment:
    """The alignment of ``site_code`` from ``directory`` (default ``ontology/alignments``).

    A site without an alignment file gets an empty alignment (version ``"none"``): all its
    tags are then site-local and reported. A malformed file raises
    :class:`~federation.align.model.AlignmentError` naming the file, line and term.
    """
    if not site_code:
        raise AlignmentError("a site code must be a non-empty string; got an empty one instead")
    path = alignment_path(site_code, directory)
    if not path.is_file():
        return empty_alignment(site_code)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AlignmentError(f"{path}: cannot read the alignment file ({exc})") from exc
    return parse_alignment(text, site_code, path)
