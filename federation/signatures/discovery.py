"""Find groups of batches that share a deviation pattern, keep those that recur, describe them.

Evidence, per batch, from what the federation store holds (aligned parameters, phases,
features and events; nothing names a site's tag or a simulator fault):

- **events** at least ``min_magnitude`` envelope SDs beyond the site envelope (default 3).
  Envelopes built from a few dozen reference batches flag ordinary excursions of 1-2 SD in
  good batches every day; on generated fault-free campaigns those alone formed "recurring"
  signatures (11 over 36 of 120 batches), at 3 SD none did;
- **feature deviations** (``features.py``): phase statistics (mean, min, max, slope of an
  aligned parameter in a phase) at least ``min_feature_z`` robust SDs from the site's own
  reference batches, counted only for batches that pass the site's abnormality gate (their
  largest |z| is ``gate_factor`` times the median of the same figure over the site's
  reference batches). They carry weaker but real failures that never left the envelope by
  3 SD (a third of faulty batches on generated campaigns). With ``disagreement`` (off by
  default) they include the disagreement of a redundant measurement with the measurement of
  record where an alignment declares one (``disagreement.py``), a column of its own like any
  other phase statistic.

Representation: each batch with evidence becomes a signed vector: per ``(parameter, phase)``
event, ``±log(1 + magnitude)`` (+ high, - low); per deviating feature ``(parameter, phase,
statistic)``, ``±log(1 + |z|)``. The log keeps a 200-SD lactate excursion from drowning
every other deviation; magnitudes are in SDs of the site's own variation, so comparable
across sites, units and parameters; signs keep "DO high" apart from "DO low". The phase
counts softly: the clustered vector is, per ``(parameter, event|statistic)``, the sum of
those values over phases (phase-free), beside the phase-specific values times
``phase_weight`` (default 0.25; ``clustering_matrix``): a fault that shows in production at
one site and in decline at another (other phase definitions, schedules, control) still
points the same way. Measured on seeds 1-3, the phase-specific vector alone (weight
"infinite", cut 0.7) gave ARI 0.548 and held-out matching 0.811, the soft phase 0.579 and
0.863. **Slopes are not compared** (``slope_weight`` 0): a phase's slope says *when* in the
phase a windowed failure began (the signal steps down: slope down) or ended (slope up),
so batches of one failure pointed opposite ways by timing alone; mean, min and max carry
its level undiluted. Slopes stay evidence (abnormality gate, descriptions, matching).
Seeds 1-3: ARI 0.579 -> 0.640, matching 0.863 -> 0.864; held-out seeds 4-6: 0.669 ->
0.676, matching 0.900 -> 0.903; fault-free seed: 0 signatures either way.

Algorithm: agglomerative clustering (scikit-learn) with cosine distance and average linkage,
cut at ``distance_threshold`` (default 0.625: members' profiles point the same way on
average, cosine similarity above 0.375); a batch whose clustered vector is all zero (its only
evidence is slopes) joins no group. No number of groups is given: real data decide it. A group is
a *recurring signature* when it has at least two members and recurs at ``min_sites`` or
more sites, or counts ``min_batches`` or more batches. Its description is the event keys
``(parameter, phase, direction)`` that at least ``defining_share`` of its members show, as
an event or a feature deviation. Defaults were chosen on the mean over generated seeds 1-3
and a fault-free seed (``benchmarks/analytics.py``) and then run once on seeds 4-6.

Pure: profiles in, groups out; no store, no HTTP.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from bioprocess.errors import ValidationError
from federation.signatures.features import FeatureOptions
from federation.signatures.model import (
    MIN_EVENT_MAGNITUDE,
    BatchProfile,
    DefiningEvent,
    EventKey,
)


@dataclass(frozen=True)
class DiscoveryOptions:
    """Settings of a discovery run (recorded in its PROV-O activity)."""

    distance_threshold: float = 0.625
    #: Weight of the phase-specific columns beside the phase-free ones (``clustering_matrix``).
    phase_weight: float = 0.25
    #: Weight of the ``slope`` statistic's columns in the clustered vector (``clustering_matrix``;
    #: slopes stay evidence for descriptions and matching).
    slope_weight: float = 0.0
    #: Events smaller than this (envelope SDs beyond the band) are not evidence.
    min_magnitude: float = MIN_EVENT_MAGNITUDE
    min_sites: int = 2
    #: Also keep a group seen at one site when it has this many batches (0: sites only).
    min_batches: int = 0
    #: An event defines a signature when at least this share of members show it.
    defining_share: float = 0.5
    #: Feature deviations (``features.py``): abnormality gate and smallest |z| that counts.
    gate_factor: float = FeatureOptions.gate_factor
    min_feature_z: float = FeatureOptions.min_z
    #: Disagreement of declared redundant measurements with the record as evidence
    #: (``disagreement.py``; off by default, measured there).
    disagreement: bool = FeatureOptions.disagreement

    def __post_init__(self) -> None:
        if not 0 < self.distance_threshold <= 1:
            raise ValidationError("distance_threshold must be within (0, 1]; got "
                                  f"{self.distance_threshold} instead")
        if self.phase_weight < 0 or self.slope_weight < 0:
            raise ValidationError("phase_weight and slope_weight must be >= 0; got "
                                  f"{self.phase_weight} and {self.slope_weight} instead")
        if self.min_magnitude < 0:
            raise ValidationError("min_magnitude must be >= 0 (envelope SDs); got "
                                  f"{self.min_magnitude} instead")
        if self.min_sites < 1 or self.min_batches < 0:
            raise ValidationError("min_sites must be >= 1 and min_batches >= 0; got "
                                  f"{self.min_sites} and {self.min_batches} instead")
        if not 0 < self.defining_share <= 1:
            raise ValidationError("defining_share must be within (0, 1]; got "
                                  f"{self.defining_share} instead")
        FeatureOptions(gate_factor=self.gate_factor, min_z=self.min_feature_z)

    @property
    def features(self) -> FeatureOptions:
        return FeatureOptions(gate_factor=self.gate_factor, min_z=self.min_feature_z,
                              disagreement=bool(self.disagreement))

    def as_dict(self) -> dict[str, float | int]:
        return {"distance_threshold": self.distance_threshold,
                "phase_weight": self.phase_weight, "slope_weight": self.slope_weight,
                "min_magnitude": self.min_magnitude, "min_sites": self.min_sites,
                "min_batches": self.min_batches, "defining_share": self.defining_share,
                "gate_factor": self.gate_factor, "min_feature_z": self.min_feature_z,
                "disagreement": int(self.disagreement)}


@dataclass(frozen=True)
class Group:
    """A recurring group: its members and the events most of them share."""

    members: tuple[BatchProfile, ...]
    events: tuple[DefiningEvent, ...]

    @property
    def sites(self) -> tuple[str, ...]:
        return tuple(sorted({m.site for m in self.members}))


def with_phase_free_keys(events: dict[EventKey, float]) -> dict[EventKey, float]:
    """The events plus, per (parameter, direction), the largest magnitude in any phase."""
    extended = dict(events)
    for key, magnitude in events.items():
        free = EventKey(key.parameter, None, key.direction)
        extended[free] = max(extended.get(free, 0.0), magnitude)
    return extended


def significant(profile: BatchProfile, min_magnitude: float) -> BatchProfile:
    """The profile with only its events of at least ``min_magnitude`` envelope SDs."""
    events = {k: m for k, m in profile.events.items() if m >= min_magnitude}
    return profile if len(events) == len(profile.events) else replace(profile, events=events)


def has_evidence(profile: BatchProfile, min_magnitude: float) -> bool:
    return bool(profile.feature_z) or any(m >= min_magnitude for m in profile.events.values())


def evidence_matrix(profiles: list[BatchProfile], min_magnitude: float
                    ) -> tuple[np.ndarray, list[tuple[str, str | None, str]]]:
    """Signed ``log1p`` magnitudes per batch (rows) and column (sorted): ``(parameter, phase,
    "event")`` for events, ``(parameter, phase, statistic)`` for feature deviations."""
    rows: list[dict[tuple[str, str | None, str], float]] = []
    for profile in profiles:
        row: dict[tuple[str, str | None, str], float] = {}
        for key, magnitude in profile.events.items():
            if magnitude < min_magnitude:
                continue
            column = (key.parameter, key.phase, "event")
            value = (1.0 if key.direction == "high" else -1.0) * float(np.log1p(magnitude))
            if abs(value) > abs(row.get(column, 0.0)):  # both directions: the larger
                row[column] = value
        for (parameter, phase, statistic), z in profile.feature_z.items():
            row[(parameter, phase, statistic)] = float(np.sign(z) * np.log1p(abs(z)))
        rows.append(row)
    columns = sorted({c for row in rows for c in row}, key=lambda c: (c[0], c[1] or "", c[2]))
    index = {c: i for i, c in enumerate(columns)}
    matrix = np.zeros((len(profiles), len(columns)))
    for r, row in enumerate(rows):
        for column, value in row.items():
            matrix[r, index[column]] = value
    return matrix, columns


def clustering_matrix(profiles: list[BatchProfile], options: DiscoveryOptions) -> np.ndarray:
    """What is clustered: per ``(parameter, kind)`` (kind: ``event`` or the statistic) the
    sum over phases of the signed ``log1p`` magnitudes (phase-free), beside every
    ``evidence_matrix`` column times ``phase_weight``: the phase counts, softly, because the
    same failure shows up in different phases at sites with different phase definitions,
    schedules and control strategies."""
    matrix, columns = evidence_matrix(profiles, options.min_magnitude)
    # A slope's sign says when in the phase a failure began or ended (the signal steps down
    # at its onset, back up at its end), not which failure it is: the same fault read by
    # timing. Measured on seeds 1-3: ARI 0.579 -> 0.640 with the slope columns left out.
    matrix = matrix * np.array([options.slope_weight if c[2] == "slope" else 1.0
                                for c in columns])
    free = sorted({(c[0], c[2]) for c in columns})
    index = {c: i for i, c in enumerate(free)}
    phase_free = np.zeros((len(profiles), len(free)))
    for j, column in enumerate(columns):
        phase_free[:, index[(column[0], column[2])]] += matrix[:, j]
    return np.hstack([phase_free, options.phase_weight * matrix])


def cluster_labels(profiles: list[BatchProfile], options: DiscoveryOptions) -> np.ndarray:
    """A cluster label per profile; profiles without evidence get -1."""
    labels = np.full(len(profiles), -1)
    chosen = [i for i, p in enumerate(profiles) if has_evidence(p, options.min_magnitude)]
    if len(chosen) < 2:
        return labels
    matrix = clustering_matrix([profiles[i] for i in chosen], options)
    # A batch whose clustered evidence is all zero (only slopes, or magnitudes of 0) has no
    # direction to compare (cosine undefined): it joins no group.
    compared = matrix.any(axis=1)
    if compared.sum() < 2:
        return labels
    chosen, matrix = [i for i, keep in zip(chosen, compared, strict=True) if keep], matrix[compared]
    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                    distance_threshold=options.distance_threshold)
    labels[chosen] = model.fit_predict(matrix)
    return labels


def describe(members: list[BatchProfile], options: DiscoveryOptions) -> tuple[DefiningEvent, ...]:
    """The event keys at least ``defining_share`` of members show, most shared first.

    A phase-free key ("lactate high in any phase") is part of the definition only when no
    phase-specific key of the same parameter and direction is: the phase is said when the
    members agree on it.
    """
    extended = [with_phase_free_keys(m.evidence(options.min_magnitude)) for m in members]
    counts: Counter[EventKey] = Counter(k for events in extended for k in events)
    kept = {}
    for key, count in counts.items():
        share = count / len(members)
        if share + 1e-9 >= options.defining_share:
            magnitudes = [events[key] for events in extended if key in events]
            kept[key] = DefiningEvent(key, round(share, 4),
                                      round(float(statistics.median(magnitudes)), 3))
    specific = {(k.parameter, k.direction) for k in kept if k.phase is not None}
    events = [e for k, e in kept.items()
              if k.phase is not None or (k.parameter, k.direction) not in specific]
    events.sort(key=lambda e: (-e.share, -(e.typical_magnitude or 0.0), e.key.parameter,
                               e.key.phase or "", e.key.direction))
    return tuple(events)


def recurs(members: list[BatchProfile], options: DiscoveryOptions) -> bool:
    if len(members) < 2:
        return False
    sites = {m.site for m in members}
    return len(sites) >= options.min_sites or (
        options.min_batches > 0 and len(members) >= options.min_batches)


def discover(profiles: list[BatchProfile], options: DiscoveryOptions | None = None
             ) -> list[Group]:
    """Recurring groups among ``profiles``, largest first (members sorted by start)."""
    options = options or DiscoveryOptions()
    labels = cluster_labels(profiles, options)
    groups = []
    for label in sorted(set(labels.tolist()) - {-1}):
        members = sorted((significant(p, options.min_magnitude)
                          for p, lab in zip(profiles, labels, strict=True) if lab == label),
                         key=lambda p: (p.start, p.batch))
        if not recurs(members, options):
            continue
        events = describe(members, options)
        if events:
            groups.append(Group(tuple(members), events))
    groups.sort(key=lambda g: (-len(g.members), g.members[0].start))
    return groups
