"""Which of a site's own tags and lab codes the live twin reads, by their shared meaning.

The twin never looks for a tag by name. It reads the site's reviewed alignment file
(``ontology/alignments/<site>.ttl``: SKOS exact/close matches of the site's tags to the
shared parameters, ``tfp:``) and takes:

====================================  =========================  ==========================
shared parameter                      twin input                 quantity (unit handling)
====================================  =========================  ==========================
tfp:viable-cell-density (offline)     viable cells ``xv``        cell density
tfp:glucose / lactate / glutamine     ``glc`` / ``lac`` / ``gln``  metabolite (g/L or mM)
tfp:ammonia                           ``amm``                    metabolite
tfp:titre (offline, quality result)   ``titre``                  titre
tfp:temperature-set-point             growth / production temperature and shift time
tfp:dissolved-oxygen-set-point        DO set point               dissolved oxygen
tfp:ph-set-point                      pH set point               pH
====================================  =========================  ==========================

The shared vocabulary has no feed set point (the alignments keep the pump set point site
local on purpose), so the feed is read **by kind**: the one tag of kind ``setpoint`` whose
unit is a liquid flow. Units are converted with :mod:`bioprocess.units`, from the unit each
sample carries in the site graph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from urllib.parse import quote, unquote

import numpy as np
from rdflib import Graph, URIRef
from rdflib.namespace import SKOS

from bioprocess.errors import NotFoundError, ValidationError
from bioprocess.units import converter
from ontology import TFP, site_base

#: Shared parameter (local name) -> (twin state, bioprocess.units quantity) for lab data.
OFFLINE_PARAMETERS: dict[str, tuple[str, str]] = {
    "viable-cell-density": ("xv", "cell_density"),
    "glucose": ("glc", "glucose"),
    "lactate": ("lac", "lactate"),
    "glutamine": ("gln", "glutamine"),
    "ammonia": ("amm", "ammonium"),
    "titre": ("titre", "titre"),
}
#: Shared set-point parameter -> quantity.
SETPOINT_PARAMETERS: dict[str, str] = {
    "temperature-set-point": "temperature",
    "dissolved-oxygen-set-point": "dissolved_oxygen",
    "ph-set-point": "ph",
}
_MATCHES = (SKOS.exactMatch, SKOS.closeMatch)


@dataclass(frozen=True)
class SiteVocabulary:
    """The site's names for what the twin needs: tag/lab code -> shared parameter."""

    site_code: str
    tags: dict[str, str]  # site tag or lab code -> shared parameter local name
    attributes: dict[str, str]  # quality attribute notation -> shared parameter local name

    def names_for(self, parameter: str) -> list[str]:
        return sorted(n for n, p in self.tags.items() if p == parameter)

    def attributes_for(self, parameter: str) -> list[str]:
        return sorted(n for n, p in self.attributes.items() if p == parameter)


@cache
def site_vocabulary(site_code: str) -> SiteVocabulary:
    """Read the site's alignment file; refuse clearly when there is none."""
    folder = resources.files("ontology").joinpath("alignments")
    entry = folder.joinpath(f"{quote(site_code, safe='-._~')}.ttl")
    if not entry.is_file():
        raise NotFoundError(
            f"the live twin reads a site's data by shared parameter and needs the site's "
            f"alignment file ontology/alignments/{site_code}.ttl; none was found")
    g = Graph().parse(data=entry.read_text(encoding="utf-8"), format="turtle")
    base = site_base(site_code)
    tags, attributes = {}, {}
    for rel in _MATCHES:
        for s, o in g.subject_objects(rel):
            if not (isinstance(s, URIRef) and str(o).startswith(str(TFP))):
                continue
            parameter = str(o)[len(str(TFP)):]
            notation = g.value(s, SKOS.notation)
            for kind, target in (("tag/", tags), ("attribute/", attributes)):
                if str(s).startswith(base + kind):
                    name = str(notation) if notation else unquote(str(s)[len(base + kind):])
                    target[name] = parameter
    return SiteVocabulary(site_code, tags, attributes)


def to_canonical(quantity: str, unit: str | None, where: str) -> Callable[[np.ndarray], np.ndarray]:
    """A function converting values in ``unit`` to the twin's canonical unit of ``quantity``."""
    try:
        forward = converter(quantity, unit or "")
    except ValueError as exc:
        raise ValidationError(f"{where}: {exc}") from None
    scale = float(forward(np.asarray(1.0)) - forward(np.asarray(0.0)))
    offset = float(forward(np.asarray(0.0)))
    return lambda v: (np.asarray(v, dtype=float) - offset) / scale


def is_flow_unit(unit: str | None) -> bool:
    """Whether ``unit`` is a liquid flow (how a feed set point is recognised by kind)."""
    try:
        converter("liquid_flow", unit or "")
    except ValueError:
        return False
    return True
