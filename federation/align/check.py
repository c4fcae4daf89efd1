"""``align-check``: what a site sends that its alignment does not map, with ranked suggestions.

For every unmapped tag (from the site's meta graph), quality attribute and failure-mode code
(from the batch graphs given) the report ranks shared concepts by a score in [0, 1], the
weighted mean of the parts that can be computed:

=================  ======  ===================================================================
part               weight  how
=================  ======  ===================================================================
name               0.5     words of the tag name and description (or code, deviation texts)
                           against the concept's labels and definition
                           (:mod:`federation.align.similarity`)
unit               0.2     1 if the site unit converts to the canonical unit, 0.6 if it would
                           with a molar mass or saturation concentration still to declare, 0.3
                           if the unit is unreadable, 0 if the dimensions differ (tags and
                           attributes only)
kind               0.1     tag kind against the parameter's role read from its label (set point,
                           controller output, or a measured value) (tags only)
distribution       0.2     the tag's feature ``mean`` values (converted) against the aligned
                           ``mean`` values of the parameter in the batch graphs given, per phase
                           name (same site or other sites); for attributes, the result values
=================  ======  ===================================================================

Tags a reviewer deliberately kept site-local (``tf:siteLocalReason``) are listed apart with
their reason. The report also lists mapped tags the site no longer exports and tags whose unit
is no longer the one reviewed. :func:`render` makes the text the CLI prints.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rdflib import RDF, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, SKOS
from rdflib.term import Node

from bioprocess.errors import ValidationError
from federation.align.apply import tag_name
from federation.align.loader import ParameterInfo, shared_vocabulary
from federation.align.model import Alignment, UnitConversion
from federation.align.similarity import (
    DistributionMatch,
    combine,
    distribution_match,
    text_match,
    words,
)
from federation.align.units import UnitConversionError, conversion_between, parse_unit
from ontology import TF

#: How many suggestions each unmapped item keeps.
MAX_SUGGESTIONS = 5
_WEIGHTS = {"name": 0.5, "unit": 0.2, "kind": 0.1, "distribution": 0.2}


@dataclass(frozen=True)
class Suggestion:
    """A shared concept an unmapped site term might map to."""

    target: URIRef
    label: str
    score: float
    reason: str


@dataclass(frozen=True)
class UnmappedItem:
    """One site term the alignment does not map, with ranked suggestions."""

    kind: str  # "tag", "quality attribute" or "failure mode"
    name: str
    unit: str | None
    description: str | None
    tag_kind: str | None
    site_local_reason: str | None
    suggestions: tuple[Suggestion, ...]
    distribution_note: str

    @property
    def reviewed(self) -> bool:
        """True when a reviewer deliberately kept the term site-local."""
        return self.site_local_reason is not None


@dataclass(frozen=True)
class AlignCheckReport:
    """Everything ``twinfed federation align-check SITE`` shows."""

    site: str
    version: str
    source: str | None
    reviewed_by: str | None
    modified: str | None
    tags_total: int
    tags_mapped: int
    attributes_seen: int
    failure_modes_seen: int
    batches: int
    unmapped: tuple[UnmappedItem, ...]
    stale_mappings: tuple[str, ...]
    unit_mismatches: tuple[str, ...]

    def items(self, kind: str) -> tuple[UnmappedItem, ...]:
        """The unmapped items of one kind (``tag``, ``quality attribute``, ``failure mode``)."""
        return tuple(item for item in self.unmapped if item.kind == kind)


# ---------------------------------------------------------------------------------------------
# Facts gathered from the graphs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Observed:
    """A numeric value seen in a batch graph: a feature mean or a quality result."""

    key: Node | str  # tag IRI, or attribute name
    phase: str
    value: float
    parameter: Node | None
    aligned: float | None


def _float(value: Node | None) -> float | None:
    try:
        return float(value.toPython()) if isinstance(value, Literal) else None
    except (TypeError, ValueError):
        return None


def _observations(graphs: Sequence[Graph]) -> tuple[list[_Observed], list[_Observed]]:
    """Feature means and quality results of all ``graphs``."""
    means: list[_Observed] = []
    results: list[_Observed] = []
    for graph in graphs:
        for feature in graph.subjects(TF.statistic, Literal("mean")):
            value = _float(graph.value(feature, TF.value))
            tag = graph.value(feature, TF.ofTag)
            if value is None or tag is None:
                continue
            phase = graph.value(graph.value(feature, TF.inPhase), TF.phaseName)
            means.append(_Observed(tag, str(phase or ""), value,
                                   graph.value(feature, TF.parameter),
                                   _float(graph.value(feature, TF.alignedValue))))
        for result in graph.subjects(RDF.type, TF.QualityResult):
            value = _float(graph.value(result, TF.value))
            attribute = graph.value(result, TF.attribute)
            if value is None or attribute is None:
                continue
            results.append(_Observed(str(attribute), "", value, graph.value(result, TF.parameter),
                                     _float(graph.value(result, TF.alignedValue))))
    return means, results


def _reference(observed: list[_Observed], alignment: Alignment,
               attributes: bool) -> dict[Node, dict[str, list[float]]]:
    """Aligned values per parameter and phase: already aligned ones, and this site's mapped
    tags (or attributes) in graphs not yet aligned."""
    by_iri = {m.tag_iri: m for m in alignment.tags.values()}
    reference: dict[Node, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for item in observed:
        if item.parameter is not None and item.aligned is not None:
            reference[item.parameter][item.phase].append(item.aligned)
            continue
        mapping = (alignment.attributes.get(str(item.key)) if attributes
                   else by_iri.get(item.key))  # type: ignore[arg-type]
        if mapping is not None:
            reference[mapping.parameter][item.phase].append(mapping.conversion.level(item.value))
    return reference


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------


def _role(info: ParameterInfo) -> str:
    label = words(info.label)
    if {"set", "point"} <= label:
        return "setpoint"
    if {"controller", "output"} <= label:
        return "controller_output"
    return "measured"


def _kind_score(tag_kind: str | None, info: ParameterInfo) -> tuple[float | None, str]:
    if not tag_kind:
        return None, ""
    role = _role(info)
    expected = "measured" if tag_kind in ("online", "offline") else tag_kind
    if expected == role:
        return 1.0, f"{tag_kind} fits a {role.replace('_', ' ')} parameter"
    return 0.0, f"{tag_kind} tag vs {role.replace('_', ' ')} parameter"


def _unit_score(unit: str | None, info: ParameterInfo,
                alignment: Alignment) -> tuple[float | None, UnitConversion | None, str]:
    if not unit:
        return None, None, ""
    try:
        conversion = conversion_between(unit, info.unit, molar_mass_g_per_mol=info.molar_mass,
                                        air_saturation_mg_per_l=alignment.air_saturation_mg_per_l,
                                        quantity_kind=info.quantity_kind)
    except UnitConversionError as exc:
        text = str(exc)
        if "needs" in text:
            return 0.6, None, f"{unit} -> {info.unit} needs a declared constant"
        try:
            parse_unit(unit)
        except UnitConversionError:
            return 0.3, None, f"unit {unit!r} not readable"
        return 0.0, None, f"{unit} does not convert to {info.unit}"
    if conversion.is_identity:
        return 1.0, conversion, f"{unit} is the canonical unit"
    return 1.0, conversion, f"{unit} -> {info.unit} converts"


def _distribution(values: dict[str, list[float]], conversion: UnitConversion | None,
                  reference: dict[str, list[float]] | None) -> DistributionMatch | None:
    if conversion is None or not values or not reference:
        return None
    converted = {phase: [conversion.level(v) for v in vs] for phase, vs in values.items()}
    return distribution_match(converted, reference)


def _rank_parameters(
    query: frozenset[str],
    unit: str | None,
    tag_kind: str | None,
    values: dict[str, list[float]],
    reference: dict[Node, dict[str, list[float]]],
    alignment: Alignment,
) -> tuple[Suggestion, ...]:
    suggestions = []
    for info in shared_vocabulary().parameters.values():
        match = text_match(query, (info.label, *info.alt_labels), info.definition)
        unit_score, conversion, unit_reason = _unit_score(unit, info, alignment)
        kind_score, kind_reason = _kind_score(tag_kind, info)
        dist = _distribution(values, conversion, reference.get(info.iri))
        score = combine([
            (_WEIGHTS["name"], match.score),
            (_WEIGHTS["unit"], unit_score),
            (_WEIGHTS["kind"], kind_score),
            (_WEIGHTS["distribution"], dist.similarity if dist else None),
        ])
        reasons = [match.reason(), unit_reason, kind_reason]
        if dist is not None:
            reasons.append(f"means {dist.candidate_median:.4g} vs {dist.reference_median:.4g} "
                           f"{info.unit} over {dist.phases} phase(s): similarity "
                           f"{dist.similarity:.2f}")
        suggestions.append(Suggestion(info.iri, info.label, round(score, 3),
                                      "; ".join(r for r in reasons if r)))
    suggestions.sort(key=lambda s: (-s.score, str(s.target)))
    return tuple(suggestions[:MAX_SUGGESTIONS])


def _rank_failure_modes(query: frozenset[str]) -> tuple[Suggestion, ...]:
    suggestions = []
    for info in shared_vocabulary().failure_modes.values():
        match = text_match(query, (info.label, *info.alt_labels), info.definition)
        suggestions.append(Suggestion(info.iri, info.label, round(match.score, 3),
                                      match.reason()))
    suggestions.sort(key=lambda s: (-s.score, str(s.target)))
    return tuple(suggestions[:MAX_SUGGESTIONS])


def _distribution_note(n_graphs: int, values: dict[str, list[float]], what: str,
                       suggestions: Sequence[Suggestion]) -> str:
    if n_graphs == 0:
        return "no distribution check: no batch graphs were given"
    if not values:
        return f"no distribution check: no {what} in the {n_graphs} batch graph(s) given"
    if not any("similarity" in s.reason for s in suggestions):
        return ("no distribution check: none of the suggested parameters has aligned values in "
                "the batch graphs given")
    n = sum(len(v) for v in values.values())
    return f"distribution compared on {n} {what} from {n_graphs} batch graph(s)"


# ---------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------


def align_check(
    site_code: str,
    meta_graph: Graph,
    alignment: Alignment,
    batch_graphs: Sequence[Graph] = (),
) -> AlignCheckReport:
    """What the site sends that ``alignment`` does not map, with ranked suggestions.

    ``meta_graph`` is the site's meta graph (its tags); ``batch_graphs`` are its batch graphs
    (for quality attributes, failure-mode codes and the site's values) and, optionally,
    already aligned batch graphs of other sites (reference values for the distribution check).
    """
    if alignment.site != site_code:
        raise ValidationError(f"the alignment must be the one of {site_code}; got the alignment "
                              f"of {alignment.site} instead")
    means, results = _observations(batch_graphs)
    own_means: dict[Node, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for item in means:
        if item.parameter is None:
            own_means[item.key][item.phase].append(item.value)
    tag_reference = _reference(means, alignment, attributes=False)
    by_iri = {m.tag_iri: m for m in alignment.tags.values()}

    items: list[UnmappedItem] = []
    tags = sorted(set(meta_graph.subjects(RDF.type, TF.Tag)))
    mismatches = []
    for tag in tags:
        name = tag_name(tag, site_code, meta_graph)
        unit = meta_graph.value(tag, TF.unitLabel)
        mapping = by_iri.get(tag)
        if mapping is not None:
            if unit is not None and str(unit) != mapping.conversion.from_unit:
                mismatches.append(f"{name}: the site reports {unit!s}, the alignment was "
                                  f"reviewed for {mapping.conversion.from_unit}")
            continue
        description = meta_graph.value(tag, SKOS.definition)
        tag_kind = meta_graph.value(tag, TF.tagKind)
        values = own_means.get(tag, {})
        suggestions = _rank_parameters(
            words(name, str(description or "")), str(unit) if unit else None,
            str(tag_kind) if tag_kind else None, values, tag_reference, alignment)
        items.append(UnmappedItem(
            "tag", name, str(unit) if unit else None, str(description) if description else None,
            str(tag_kind) if tag_kind else None, alignment.local_tags.get(name), suggestions,
            _distribution_note(len(batch_graphs), values, "feature means", suggestions)))
    exported = {tag_name(t, site_code, meta_graph) for t in tags}
    stale = tuple(sorted(name for name in alignment.tags if name not in exported))

    attribute_reference = _reference(results, alignment, attributes=True)
    attribute_units: dict[str, str] = {}
    attribute_values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    codes: dict[str, list[str]] = defaultdict(list)
    for graph in batch_graphs:
        for result in graph.subjects(RDF.type, TF.QualityResult):
            attribute = str(graph.value(result, TF.attribute) or "")
            unit = graph.value(result, TF.unitLabel)
            if attribute and unit is not None:
                attribute_units.setdefault(attribute, str(unit))
        for record in graph.subjects(RDF.type, TF.DeviationRecord):
            code = graph.value(record, TF.failureModeCode)
            if code is not None:
                codes[str(code)] += [str(graph.value(record, p) or "") for p in
                                     (DCTERMS.description, TF.rootCause, TF.category)]
    for item in results:
        if item.parameter is None:
            attribute_values[str(item.key)][""].append(item.value)
    for attribute in sorted(attribute_units):
        if attribute in alignment.attributes:
            continue
        values = attribute_values.get(attribute, {})
        suggestions = _rank_parameters(words(attribute), attribute_units[attribute], None, values,
                                       attribute_reference, alignment)
        items.append(UnmappedItem(
            "quality attribute", attribute, attribute_units[attribute], None, None,
            alignment.local_attributes.get(attribute), suggestions,
            _distribution_note(len(batch_graphs), values, "results", suggestions)))
    for code in sorted(codes):
        if code in alignment.failure_modes:
            continue
        items.append(UnmappedItem(
            "failure mode", code, None, "; ".join(sorted({t for t in codes[code] if t})) or None,
            None, alignment.local_failure_modes.get(code),
            _rank_failure_modes(words(code, *codes[code])),
            "no distribution check for failure-mode codes (they carry no values)"))
    return AlignCheckReport(
        site=site_code,
        version=alignment.version,
        source=str(alignment.source) if alignment.source else None,
        reviewed_by=alignment.reviewed_by,
        modified=alignment.modified.isoformat() if alignment.modified else None,
        tags_total=len(tags),
        tags_mapped=len(tags) - sum(1 for i in items if i.kind == "tag"),
        attributes_seen=len(attribute_units),
        failure_modes_seen=len(codes),
        batches=len(batch_graphs),
        unmapped=tuple(items),
        stale_mappings=stale,
        unit_mismatches=tuple(mismatches),
    )


# ---------------------------------------------------------------------------------------------
# Text rendering
# ---------------------------------------------------------------------------------------------


def _short(iri: URIRef) -> str:
    text = str(iri)
    for prefix, namespace in (("tfp:", "https://w3id.org/twinfed/parameter/"),
                              ("tffm:", "https://w3id.org/twinfed/failure-mode/")):
        if text.startswith(namespace):
            return prefix + text[len(namespace):]
    return text


def _header(item: UnmappedItem) -> str:
    facts = " · ".join(f for f in (item.unit, item.tag_kind) if f)
    line = f"  {item.kind} {item.name}" + (f" [{facts}]" if facts else "")
    if item.description:
        line += f" — {item.description}"
    return line


def render(report: AlignCheckReport, suggestions: int = 3) -> str:
    """The report as plain text (what ``twinfed federation align-check SITE`` prints)."""
    lines = [f"Alignment check for {report.site}: alignment {report.version}"]
    if report.source:
        lines[0] += f" ({report.source})"
    if report.reviewed_by or report.modified:
        lines.append(f"Reviewed by {report.reviewed_by or '?'}, modified {report.modified or '?'}")
    if report.version == "none":
        lines.append("No alignment file for this site: everything it sends stays site-local.")
    unmapped_tags = report.items("tag")
    reviewed = [i for i in unmapped_tags if i.reviewed]
    lines.append(f"Tags: {report.tags_mapped} of {report.tags_total} mapped; "
                 f"{len(unmapped_tags)} site-local ({len(reviewed)} reviewed, "
                 f"{len(unmapped_tags) - len(reviewed)} not yet reviewed)")
    attributes = report.items("quality attribute")
    modes = report.items("failure mode")
    lines.append(f"Quality attributes seen: {report.attributes_seen}, "
                 f"{report.attributes_seen - len(attributes)} mapped; failure-mode codes seen: "
                 f"{report.failure_modes_seen}, {report.failure_modes_seen - len(modes)} mapped "
                 f"(in {report.batches} batch graph(s))")
    pending = [i for i in report.unmapped if not i.reviewed]
    done = [i for i in report.unmapped if i.reviewed]
    if pending:
        lines += ["", "Not yet reviewed (ranked suggestions):"]
        for item in pending:
            lines.append(_header(item))
            for rank, s in enumerate(item.suggestions[:suggestions], start=1):
                lines.append(f"    {rank}. {_short(s.target):<42} {s.score:.2f}  {s.reason}")
            lines.append(f"    ({item.distribution_note})")
    if done:
        lines += ["", "Reviewed and kept site-local:"]
        for item in done:
            lines.append(_header(item))
            lines.append(f"    reason: {item.site_local_reason}")
            if item.suggestions:
                best = item.suggestions[0]
                lines.append(f"    closest: {_short(best.target)} {best.score:.2f}  {best.reason}")
    if report.unit_mismatches:
        lines += ["", "Mapped tags whose unit changed (their values stay site-local until "
                  "re-reviewed):"]
        lines += [f"  {text}" for text in report.unit_mismatches]
    if report.stale_mappings:
        lines += ["", "Mapped in the alignment but not exported by the site: "
                  + ", ".join(report.stale_mappings)]
    if not report.unmapped and not report.unit_mismatches:
        lines += ["", "Nothing unmapped."]
    return "\n".join(lines) + "\n"
