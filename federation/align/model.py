"""What an alignment file says, as frozen values: mappings, unit conversions, the alignment.

These are the results of :func:`federation.align.load_alignment`; nothing here reads files or
graphs. Every mapping names the site's own term (tag name, quality attribute, failure-mode
code), the SKOS mapping property the reviewer chose and the shared concept it points to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType

from rdflib import URIRef
from rdflib.namespace import SKOS

from bioprocess.errors import ValidationError

#: The SKOS mapping properties an alignment may use, with the word the reports use for each.
#: ``tag skos:broadMatch param``: the parameter is broader than the tag (the tag is a special
#: case of it); ``tag skos:narrowMatch param``: the parameter is narrower than the tag.
MAPPING_RELATIONS: Mapping[URIRef, str] = MappingProxyType(
    {
        SKOS.exactMatch: "exact",
        SKOS.closeMatch: "close",
        SKOS.broadMatch: "broad",
        SKOS.narrowMatch: "narrow",
    }
)

#: Version reported for a site that has no alignment file.
NO_ALIGNMENT_VERSION = "none"


class AlignmentError(ValidationError):
    """An alignment file that cannot be used: bad Turtle, an unknown parameter, a bad unit."""

    problem_type = "invalid-alignment"
    title = "Invalid alignment file"


@dataclass(frozen=True)
class UnitConversion:
    """``canonical = multiplier * site_value + offset``, from ``from_unit`` to ``to_unit``.

    ``basis`` says in words where the numbers come from (units, a molar mass, an
    air-saturation concentration, or the file's own declaration).
    """

    from_unit: str
    to_unit: str
    multiplier: float
    offset: float = 0.0
    basis: str = "same unit"

    def level(self, value: float) -> float:
        """A level (a value, mean, minimum or maximum) in the canonical unit."""
        return self.multiplier * value + self.offset

    def difference(self, value: float) -> float:
        """A difference or a rate per hour in the canonical unit (no offset)."""
        return self.multiplier * value

    @property
    def is_identity(self) -> bool:
        """True when values are already in the canonical unit."""
        return self.multiplier == 1.0 and self.offset == 0.0

    def describe(self) -> str:
        """One line, e.g. ``K -> degC: x * 1 + -273.15 (units)``."""
        if self.is_identity:
            return f"{self.from_unit} -> {self.to_unit}: unchanged ({self.basis})"
        sign = "+" if self.offset >= 0 else "-"
        offset = f" {sign} {abs(self.offset):.10g}" if self.offset else ""
        return (f"{self.from_unit} -> {self.to_unit}: x * {self.multiplier:.10g}{offset} "
                f"({self.basis})")


@dataclass(frozen=True)
class TagMapping:
    """One site tag mapped to one shared parameter, with its unit conversion."""

    tag: str
    tag_iri: URIRef
    relation: URIRef
    parameter: URIRef
    parameter_label: str
    conversion: UnitConversion
    note: str = ""


@dataclass(frozen=True)
class RedundantMeasurement:
    """A site-local tag that is a second measurement of a shared parameter
    (``tf:redundantMeasurementOf``: a redundant probe, an offline check of an online probe).

    It is not the value of record, so it is not mapped; its features are aligned beside the
    record's so the federation can compare the two. ``conversion`` is the one the file
    declares on the tag, else ``None``: then the record tag's conversion applies when the
    units agree, else the units library's (``apply.redundant_conversion``).
    """

    tag: str
    tag_iri: URIRef
    parameter: URIRef
    parameter_label: str
    conversion: UnitConversion | None = None


@dataclass(frozen=True)
class AttributeMapping:
    """One quality attribute (``final_titre`` ...) mapped to one shared parameter."""

    attribute: str
    concept_iri: URIRef
    relation: URIRef
    parameter: URIRef
    parameter_label: str
    conversion: UnitConversion
    note: str = ""


@dataclass(frozen=True)
class FailureModeMapping:
    """One site failure-mode code mapped to one shared failure mode (``tffm:``)."""

    code: str
    concept_iri: URIRef
    relation: URIRef
    failure_mode: URIRef
    failure_mode_label: str
    note: str = ""


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Alignment:
    """A site's reviewed alignment: what is mapped to what, and what is deliberately not.

    ``tags``, ``attributes`` and ``failure_modes`` are keyed by the site's own name or code;
    ``local_*`` map deliberately unmapped names to the reviewer's reason.
    """

    site: str
    version: str
    iri: URIRef | None = None
    modified: date | None = None
    reviewed_by: str | None = None
    source: Path | None = None
    tags: Mapping[str, TagMapping] = field(default_factory=dict)
    attributes: Mapping[str, AttributeMapping] = field(default_factory=dict)
    failure_modes: Mapping[str, FailureModeMapping] = field(default_factory=dict)
    local_tags: Mapping[str, str] = field(default_factory=dict)
    local_attributes: Mapping[str, str] = field(default_factory=dict)
    local_failure_modes: Mapping[str, str] = field(default_factory=dict)
    air_saturation_mg_per_l: float | None = None
    #: Site-local tags that are second measurements of a shared parameter, by tag name.
    redundant_tags: Mapping[str, RedundantMeasurement] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("tags", "attributes", "failure_modes", "local_tags", "local_attributes",
                     "local_failure_modes", "redundant_tags"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def is_empty(self) -> bool:
        """True for a site without an alignment file (nothing is mapped)."""
        return not (self.tags or self.attributes or self.failure_modes)


def empty_alignment(site: str) -> Alignment:
    """The alignment of a site without an alignment file: nothing mapped, version ``none``."""
    return Alignment(site=site, version=NO_ALIGNMENT_VERSION)
