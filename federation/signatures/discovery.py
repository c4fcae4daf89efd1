"""Find groups of batches that share a deviation pattern, keep those that recur, describe them.

Evidence: only events at least ``min_magnitude`` envelope SDs beyond the site envelope count
(default 3). Envelopes built from a few dozen reference batches flag ordinary excursions of
1-2 SD in good batches every day; on generated fault-free campaigns those alone formed
"recurring" signatures (11 over 36 of 120 batches), at 3 SD none did.

Representation: each batch with at least one such aligned deviation event becomes a vector over
the event keys seen in the data set, ``(parameter, phase, direction)``, whose value is
``log(1 + magnitude)`` of the batch's largest event of that key (0 when absent). The log keeps a
200-SD lactate excursion from drowning every other event, and magnitudes are in envelope
standard deviations, so they are comparable across sites, units and parameters. Each event
also counts under its phase-free key ``(parameter, None, direction)``: the same failure can
start earlier or later in another batch and land in a neighbouring phase, and those batches
should still look alike; when they share the phase too, the phase-specific columns make them
more alike still.

Algorithm: agglomerative clustering (scikit-learn) with cosine distance and average linkage,
cut at ``distance_threshold`` (default 0.7: members' profiles point the same way on average,
cosine similarity above 0.3 — one shared dominant event among a few unshared ones; chosen on
the middle of a plateau 0.65-0.75 over three generated campaigns, ``benchmarks/analytics.py``).
No number of groups is given: real data decide it.
A group is a *recurring signature* when it has at least two members and recurs at
``min_sites`` or more sites, or counts ``min_batches`` or more batches.

Pure: profiles in, groups out; no store, no HTTP.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from bioprocess.errors import ValidationError
from federation.signatures.model import (
    MIN_EVENT_MAGNITUDE,
    BatchProfile,
    DefiningEvent,
    EventKey,
)


@dataclass(frozen=True)
class DiscoveryOptions:
    """Settings of a discovery run (recorded in its PROV-O activity)."""

    distance_threshold: float = 0.7
    #: Events smaller than this (envelope SDs beyond the band) are not evidence.
    min_magnitude: float = MIN_EVENT_MAGNITUDE
    min_sites: int = 2
    #: Also keep a group seen at one site when it has this many batches (0: sites only).
    min_batches: int = 0
    #: An event defines a signature when at least this share of members show it.
    defining_share: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.distance_threshold <= 1:
            raise ValidationError("distance_threshold must be within (0, 1]; got "
                                  f"{self.distance_threshold} instead")
        if self.min_magnitude < 0:
            raise ValidationError("min_magnitude must be >= 0 (envelope SDs); got "
                                  f"{self.min_magnitude} instead")
        if self.min_sites < 1 or self.min_batches < 0:
            raise ValidationError("min_sites must be >= 1 and min_batches >= 0; got "
                                  f"{self.min_sites} and {self.min_batches} instead")
        if not 0 < self.defining_share <= 1:
            raise ValidationError("defining_share must be within (0, 1]; got "
                                  f"{self.defining_share} instead")

    def as_dict(self) -> dict[str, float | int]:
        return {"distance_threshold": self.distance_threshold,
                "min_magnitude": self.min_magnitude, "min_sites": self.min_sites,
                "min_batches": self.min_batches, "defining_share": self.defining_share}


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


def event_matrix(profiles: list[BatchProfile]) -> tuple[np.ndarray, list[EventKey]]:
    """``log1p(magnitude)`` per batch (rows) and event key (columns, sorted; phase-specific
    and phase-free keys)."""
    extended = [with_phase_free_keys(p.events) for p in profiles]
    keys = sorted({k for events in extended for k in events},
                  key=lambda k: (k.parameter, k.phase or "", k.direction))
    column = {k: i for i, k in enumerate(keys)}
    matrix = np.zeros((len(profiles), len(keys)))
    for row, events in enumerate(extended):
        for key, magnitude in events.items():
            matrix[row, column[key]] = np.log1p(max(magnitude, 0.0))
    return matrix, keys


def significant(profile: BatchProfile, min_magnitude: float) -> BatchProfile:
    """The profile with only its events of at least ``min_magnitude`` envelope SDs."""
    events = {k: m for k, m in profile.events.items() if m >= min_magnitude}
    return profile if len(events) == len(profile.events) else replace(profile, events=events)


def cluster_labels(profiles: list[BatchProfile], options: DiscoveryOptions) -> np.ndarray:
    """A cluster label per profile; profiles without significant events get -1."""
    labels = np.full(len(profiles), -1)
    profiles = [significant(p, options.min_magnitude) for p in profiles]
    with_events = [i for i, p in enumerate(profiles) if p.events]
    if len(with_events) < 2:
        return labels
    chosen = [profiles[i] for i in with_events]
    matrix, keys = event_matrix(chosen)
    # A batch whose events all have magnitude 0 would be a zero vector (cosine undefined):
    # it counts by presence instead.
    for row in np.flatnonzero(~matrix.any(axis=1)):
        present = with_phase_free_keys(chosen[row].events)
        matrix[row] = [1.0 if k in present else 0.0 for k in keys]
    model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                    distance_threshold=options.distance_threshold)
    labels[with_events] = model.fit_predict(matrix)
    return labels


def describe(members: list[BatchProfile], options: DiscoveryOptions) -> tuple[DefiningEvent, ...]:
    """The event keys at least ``defining_share`` of members show, most shared first.

    A phase-free key ("lactate high in any phase") is part of the definition only when no
    phase-specific key of the same parameter and direction is: the phase is said when the
    members agree on it.
    """
    extended = [with_phase_free_keys(m.events) for m in members]
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
