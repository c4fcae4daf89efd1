"""Which of the site's tags measures which shared parameter, read from its alignment.

Equipment-health indicators are defined on shared parameters
(:mod:`bioprocess.equipment_health.indicators`), never on tag names. The site's reviewed
alignment (``ontology/alignments/<site>.ttl``) already says which tag is the value of
record of each parameter (``skos:exactMatch``/``closeMatch``) with its unit conversion,
and which site-local tag is a second measurement of one (``tf:redundantMeasurementOf``:
a redundant probe, an offline check). :func:`load_roles` turns that into a
:class:`ParameterRoles`; :meth:`ParameterRoles.signals` converts a batch's series by tag
into :class:`~bioprocess.equipment_health.indicators.BatchSignals`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import SKOS

from bioprocess.equipment_health.indicators import BatchSignals
from bioprocess.units import converter
from ontology import TF, TFP, load_ontology, site_base

_MAPPINGS = (SKOS.exactMatch, SKOS.closeMatch)
#: Simulator-independent fallback: the unit library's quantity of a parameter, used when an
#: alignment names a unit but declares no multiplier.
_QUANTITY = {
    "dissolved-oxygen": "dissolved_oxygen", "dissolved-oxygen-set-point": "dissolved_oxygen",
    "dissolved-oxygen-controller-output": "percent", "ph-controller-output": "percent",
    "oxygen-uptake-rate": "uptake_rate", "agitation": "agitation", "air-flow": "gas_flow",
    "oxygen-flow": "gas_flow", "co2-flow": "gas_flow", "temperature": "temperature",
    "ph": "ph", "base-addition": "liquid_volume",
}


@dataclass(frozen=True)
class TagRole:
    """A tag's role: the parameter it measures, whether it is of record, its conversion."""

    tag: str
    parameter: str  # local name in ontology/parameters.ttl
    of_record: bool
    multiplier: float
    offset: float


@dataclass(frozen=True)
class ParameterRoles:
    """The site's tags by role; ``notes`` say what could not be used and why."""

    site: str
    roles: Mapping[str, TagRole]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def signals(self, series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> BatchSignals:
        """A batch's series by tag name -> series by parameter, in canonical units."""
        of_record: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        redundant: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for tag, (t, v) in series.items():
            role = self.roles.get(tag)
            if role is None:
                continue
            converted = (np.asarray(t, float), np.asarray(v, float) * role.multiplier + role.offset)
            (of_record if role.of_record else redundant)[role.parameter] = converted
        return BatchSignals(of_record, redundant)


@cache
def _canonical_units() -> dict[str, str]:
    graph = load_ontology()
    return {str(p)[len(str(TFP)):]: str(u) for p, u in graph.subject_objects(TF.unitLabel)
            if str(p).startswith(str(TFP))}


def _conversion(parameter: str, unit: str | None, declared_m: float | None,
                declared_c: float | None) -> tuple[float, float] | None:
    if declared_m is not None:
        return declared_m, declared_c or 0.0
    canonical = _canonical_units().get(parameter)
    if unit is None or unit == canonical:
        return 1.0, 0.0
    quantity = _QUANTITY.get(parameter)
    if quantity is None:
        return None
    try:
        to_site = converter(quantity, unit)
    except ValueError:
        return None
    zero, one = float(to_site(np.asarray(0.0))), float(to_site(np.asarray(1.0)))
    return 1.0 / (one - zero), -zero / (one - zero)


def _float(graph: Graph, node: object, predicate: URIRef) -> float | None:
    value = graph.value(node, predicate)  # type: ignore[arg-type]
    return float(value) if isinstance(value, Literal) else None


def roles_from_alignment(site: str, text: str, units: Mapping[str, str]) -> ParameterRoles:
    """Roles from an alignment's Turtle ``text``; ``units`` are the site's tag units."""
    graph = Graph().parse(data=text, format="turtle")
    prefix = f"{site_base(site)}tag/"
    roles: dict[str, TagRole] = {}
    notes: list[str] = []
    record_conversion: dict[str, tuple[str, tuple[float, float]]] = {}
    for relation in _MAPPINGS:
        for subject, target in graph.subject_objects(relation):
            if not str(subject).startswith(prefix) or not str(target).startswith(str(TFP)):
                continue
            tag, parameter = str(subject)[len(prefix):], str(target)[len(str(TFP)):]
            node = graph.value(subject, TF.unitConversion)
            from_unit = graph.value(node, TF.fromUnit) if node is not None else None
            conv = _conversion(parameter, str(from_unit) if from_unit else units.get(tag),
                               _float(graph, node, TF.multiplier) if node else None,
                               _float(graph, node, TF.offset) if node else None)
            if conv is None:
                notes.append(f"{tag}: no conversion from {from_unit!s} to the unit of {parameter}")
                continue
            roles[tag] = TagRole(tag, parameter, True, *conv)
            record_conversion[parameter] = (units.get(tag, str(from_unit)), conv)
    for subject, target in graph.subject_objects(TF.redundantMeasurementOf):
        tag, parameter = str(subject)[len(prefix):], str(target)[len(str(TFP)):]
        unit = units.get(tag)
        same = record_conversion.get(parameter)
        conv = same[1] if same is not None and same[0] == unit else _conversion(
            parameter, unit, None, None)
        if conv is None:
            notes.append(f"{tag}: second measurement of {parameter} in {unit!r}, which cannot "
                         "be converted to the parameter's unit")
            continue
        roles[tag] = TagRole(tag, parameter, False, *conv)
    return ParameterRoles(site, roles, tuple(notes))


def alignment_text(site: str) -> str | None:
    """The reviewed alignment shipped for ``site`` (``ontology/alignments``), if any."""
    entry = resources.files("ontology").joinpath("alignments", f"{site}.ttl")
    return entry.read_text(encoding="utf-8") if entry.is_file() else None


def load_roles(site: str, units: Mapping[str, str]) -> ParameterRoles:
    """The site's parameter roles from its shipped alignment (none: no indicators)."""
    text = alignment_text(site)
    if text is None:
        return ParameterRoles(site, {}, (f"no alignment file for {site}: tags have no "
                                         "parameter roles, so no indicators are computed",))
    return roles_from_alignment(site, text, units)
