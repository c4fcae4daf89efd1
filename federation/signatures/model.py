"""What a signature is made of: event keys, batch profiles, signatures and match results.

Everything here is generic: a parameter is an IRI of the shared vocabulary, a phase is the
phase name the site exported, a direction is ``high`` or ``low``. Nothing names a tag of a
site or a fault of the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from rdflib import Graph
from rdflib.namespace import RDFS, SKOS

from federation.signatures.disagreement import measured_parameter

#: Events smaller than this many envelope SDs beyond the band are not evidence of a failure
#: pattern, in discovery (its default) and in matching (see ``discovery.py`` for why).
MIN_EVENT_MAGNITUDE = 3.0

#: Parameter IRIs start with this (ontology/parameters.ttl); used for short names only.
PARAMETER_NS = "https://w3id.org/twinfed/parameter/"


@lru_cache(maxsize=1)
def _parameter_labels() -> dict[str, str]:
    from ontology import load_ontology

    graph: Graph = load_ontology()
    labels: dict[str, str] = {}
    for prop in (RDFS.label, SKOS.prefLabel):
        for subject, label in graph.subject_objects(prop):
            if str(subject).startswith(PARAMETER_NS):
                labels[str(subject)] = str(label)
    return labels


def parameter_label(iri: str) -> str:
    """The parameter's preferred label, else the last segment of its IRI; a disagreement of
    two measurements (``disagreement.py``) is said as such."""
    measured = measured_parameter(iri)
    if measured is not None:
        return f"{parameter_label(measured)}, redundant minus record measurement"
    return _parameter_labels().get(iri) or iri.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class EventKey:
    """One kind of deviation event: which parameter, in which phase, which way.

    ``phase`` is ``None`` only in curated patterns ("in any phase").
    """

    parameter: str
    phase: str | None
    direction: str

    def __lt__(self, other: EventKey) -> bool:
        return ((self.parameter, self.phase or "", self.direction)
                < (other.parameter, other.phase or "", other.direction))

    def words(self) -> str:
        where = f"during {self.phase}" if self.phase else "in any phase"
        return f"{parameter_label(self.parameter)} {self.direction} {where}"

    def covers(self, other: EventKey) -> bool:
        """True when an observed event ``other`` is an instance of this pattern."""
        return (self.parameter == other.parameter and self.direction == other.direction
                and (self.phase is None or self.phase == other.phase))


@dataclass(frozen=True)
class BatchProfile:
    """A batch's aligned deviation profile: the largest magnitude per event key."""

    batch: str  # batch IRI
    batch_id: str
    site: str
    sponsor: str
    process: str  # process IRI
    start: str  # xsd:dateTime lexical form
    events: dict[EventKey, float] = field(default_factory=dict)
    outcome: float | None = None  # e.g. final titre, in the parameter's canonical unit
    #: Phase statistics far from the site's reference batches, (parameter, phase, statistic)
    #: -> signed robust z; empty unless the batch passed the abnormality gate
    #: (``features.py``).
    feature_z: dict[tuple[str, str, str], float] = field(default_factory=dict)
    largest_z: float | None = None  # the batch's largest |z| over its phase statistics
    gate: float | None = None  # the site's abnormality gate it was held against
    #: Per feature deviation: (tf:Feature IRI, reference median, reference scale).
    feature_sources: dict[tuple[str, str, str], tuple[str, float, float]] = field(
        default_factory=dict)
    #: Where the feature deviations come from: "" (not read), "computed" (now, from the
    #: aligned features) or the IRI of the discovery run that stored them.
    feature_origin: str = ""

    def feature_deviations(self) -> dict[EventKey, float]:
        """The deviating phase statistics as event keys, largest |z| per key."""
        found: dict[EventKey, float] = {}
        for (parameter, phase, _), z in self.feature_z.items():
            key = EventKey(parameter, phase, "high" if z > 0 else "low")
            found[key] = max(found.get(key, 0.0), abs(z))
        return found

    def evidence(self, min_magnitude: float) -> dict[EventKey, float]:
        """What counts as evidence of a failure pattern: events of at least
        ``min_magnitude`` envelope SDs and the feature deviations (largest per key)."""
        found = {k: m for k, m in self.events.items() if m >= min_magnitude}
        for key, z in self.feature_deviations().items():
            found[key] = max(found.get(key, 0.0), z)
        return found


@dataclass(frozen=True)
class DefiningEvent:
    """An event pattern of a signature and how its members show it."""

    key: EventKey
    share: float = 1.0  # fraction of members that have it (1 for curated patterns)
    typical_magnitude: float | None = None  # median over members that have it (SDs)


@dataclass(frozen=True)
class LinkedDeviation:
    """A quality-system deviation record of a member batch, with its root cause and CAPA."""

    iri: str
    batch_id: str
    deviation_id: str
    category: str
    description: str
    root_cause: str | None = None
    failure_mode: str | None = None
    capa: tuple[tuple[str, str, bool | None], ...] = ()  # (capa id, action, effective)


@dataclass(frozen=True)
class Impact:
    """Outcome of members against comparable good batches of the same site and process."""

    parameter: str
    members_mean: float | None
    comparable_mean: float | None
    relative_change: float | None  # (members - comparable) / comparable
    comparable_batches: int
    basis: str  # how comparable batches were chosen, in words


@dataclass
class Signature:
    """A failure signature (discovered or curated), as stored and served."""

    iri: str
    signature_id: str  # stable across versions
    kind: str  # "discovered" or "curated"
    label: str
    definition: str
    events: tuple[DefiningEvent, ...]
    sponsor: str | None = None
    version: int = 1
    revision_of: str | None = None
    members: tuple[str, ...] = ()  # batch IRIs
    member_ids: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    first_seen: str | None = None
    last_seen: str | None = None
    impact: Impact | None = None
    deviations: tuple[LinkedDeviation, ...] = ()
    run: str | None = None

    @property
    def defining(self) -> tuple[DefiningEvent, ...]:
        """The events a batch must show to match (share >= 0.5 of members, or curated)."""
        return tuple(e for e in self.events if e.share >= 0.5)


@dataclass(frozen=True)
class EventEvidence:
    key: EventKey
    weight: float
    observed_magnitude: float | None  # None: missing in the batch


@dataclass(frozen=True)
class Match:
    """How well one batch matches one signature, and why."""

    signature: Signature
    score: float  # 0..1
    coverage: float  # weighted share of defining events the batch shows
    specificity: float  # share of the batch's evidence (log-magnitude weighted) explained
    present: tuple[EventEvidence, ...]
    missing: tuple[EventEvidence, ...]
    unexplained: tuple[EventKey, ...]
    #: Mean cosine similarity to the members' clustered vectors (``matching.py``; half of a
    #: discovered signature's score when known); None otherwise.
    similarity: float | None = None
    #: The similarity above which discovery joins a group (1 - its distance threshold).
    join_similarity: float | None = None

    def explanation(self) -> str:
        parts = []
        if self.similarity is not None:
            said = (f"mean cosine similarity of its deviation profile to the members': "
                    f"{self.similarity:.2f}")
            if self.join_similarity is not None:
                said += f" (discovery joins a group above {self.join_similarity:.3g})"
            parts.append(said)
        parts.append(f"{len(self.present)} of {len(self.present) + len(self.missing)} "
                     f"defining events present ({self.coverage:.0%} of their weight)")
        if self.missing:
            parts.append("missing: " + "; ".join(e.key.words() for e in self.missing[:5]))
        parts.append(f"{len(self.unexplained)} of the batch's other event kinds are not part "
                     f"of the signature (it explains {self.specificity:.0%} of the batch's "
                     "deviation weight)")
        return ", ".join(parts)
