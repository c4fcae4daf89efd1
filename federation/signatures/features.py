"""Feature deviations: phase statistics far from the site's own reference batches.

Why: many faulty batches never leave a site's envelope by 3 SD (no strong deviation event),
yet their per-phase statistics (a phase's mean, min, max or slope of an aligned parameter)
sit far from where the site's good batches put them. Measured on generated campaigns (seeds
1-3), a third of faulty batches had no event >= 3 SD, and 8-10 of each seed's 13-15 such
batches had some phase statistic more than 8 robust SDs from their site's reference median
(fault-free batches: median 4, 90th percentile 8).

How, per site and process (comparisons never cross sites: each site is its own baseline,
so units, scales, equipment and control strategy cancel):

1. **Robust z-score** of every aligned feature ``(parameter, phase, statistic)`` of a batch
   against the site's reference batches for the process (the good batches its envelopes
   were built from, ``prov:wasDerivedFrom``), *leaving the batch itself out*: ``(value -
   median) / scale`` with ``scale = max(1.4826 * MAD, (P90 - P10) / 2.563)`` (the second
   term keeps a statistic that most reference batches share exactly, such as a saturated
   controller output, from dividing by zero); statistics constant over the reference batches
   are skipped; ``|z|`` is capped at ``z_cap`` (beyond it, "far outside" is all it says).
2. **Abnormality gate** (multiple testing: a batch has a few hundred features, so its
   largest ``|z|`` is large by chance): the batch's largest ``|z|`` is compared with the same
   figure for each of the site's reference batches (each left out of its own reference
   set), an empirical null of the site. The batch is abnormal when its largest ``|z|`` is at
   least ``gate_factor`` times that null's median.
3. The abnormal batch's **feature deviations** are its features with ``|z| >= min_z``,
   collapsed onto the event keys discovery uses, ``(parameter, phase, high|low)``, keeping
   the largest ``|z|`` per key: "glucose low during production, 6.2 SD from the site's
   reference batches" reads like an envelope event and is checked the same way.

With ``disagreement`` (off by default; see ``disagreement.py`` for the measured figures), the
rows include **disagreements**: where the site's alignment declares a
second measurement of a parameter (``tf:redundantMeasurementOf``), its phase statistic minus
the record's is one more statistic of a derived parameter (``<parameter>#redundant-minus-record``),
z-scored, gated and collapsed exactly as above. A drifting control probe, held at its set
point by its control loop, shows there and nowhere else.

Pure: rows in, deviations out (``profiles.py`` reads the rows by scoped SPARQL).
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from bioprocess.errors import ValidationError

#: Phase statistics that describe the signal's level and trend (``n``, ``t_min``, ``t_max``
#: describe sampling and timing; ``area`` is ``mean`` times the phase span).
LEVEL_STATISTICS = ("mean", "min", "max", "slope")


@dataclass(frozen=True)
class FeatureOptions:
    """Settings of feature deviations (recorded with the discovery run)."""

    #: A batch's features count only when its largest |z| is at least this many times the
    #: median of the same figure over the site's reference batches.
    gate_factor: float = 2.5
    #: A feature is a deviation when its robust |z| is at least this.
    min_z: float = 3.0
    z_cap: float = 30.0
    #: Fewer reference batches than this (after leaving the batch out): no judgement.
    min_reference: int = 8
    statistics: tuple[str, ...] = LEVEL_STATISTICS
    #: Also score the disagreement of declared redundant measurements with the record
    #: (``disagreement.py``). Off by default: measured, it raised the ARI but not matching.
    disagreement: bool = False

    def __post_init__(self) -> None:
        if self.gate_factor < 0 or self.min_z < 0 or self.z_cap <= 0:
            raise ValidationError("gate_factor and min_z must be >= 0 and z_cap > 0; got "
                                  f"{self.gate_factor}, {self.min_z}, {self.z_cap} instead")
        if self.min_reference < 2:
            raise ValidationError("min_reference must be >= 2 batches; got "
                                  f"{self.min_reference} instead")


@dataclass(frozen=True)
class FeatureRow:
    """One aligned phase statistic of one batch."""

    batch: str
    parameter: str
    phase: str
    statistic: str
    value: float
    source: str = ""  # the aligned tf:Feature's IRI (evidence a reviewer can follow)


#: A feature: (parameter IRI, phase name, statistic).
FeatureKey = tuple[str, str, str]


@dataclass(frozen=True)
class FeatureDeviations:
    """A batch's abnormality and, when abnormal, its deviating features (signed robust z)."""

    largest_z: float
    gate: float | None  # None: too few reference batches to judge
    z: dict[FeatureKey, float]  # only features with |z| >= min_z of an abnormal batch
    #: Per deviating feature: (the tf:Feature IRI, reference median, reference scale), so a
    #: stored deviation can be checked by hand: z = (value - median) / scale.
    sources: dict[FeatureKey, tuple[str, float, float]] = field(default_factory=dict)

    @property
    def abnormal(self) -> bool:
        return self.gate is not None and self.largest_z >= self.gate


def _robust_z(matrix: np.ndarray, row: int, reference: np.ndarray, cap: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ref = matrix[reference]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(ref, axis=0)
        mad = 1.4826 * np.nanmedian(np.abs(ref - median), axis=0)
        spread = (np.nanpercentile(ref, 90, axis=0) - np.nanpercentile(ref, 10, axis=0)) / 2.563
        scale = np.fmax(mad, spread)
        z = (matrix[row] - median) / scale
    z[~np.isfinite(z)] = 0.0  # missing feature, or constant over the reference batches
    return np.clip(z, -cap, cap), median, scale


def feature_deviations(rows: Iterable[FeatureRow], groups: Mapping[str, str],
                       references: Iterable[str],
                       options: FeatureOptions | None = None) -> dict[str, FeatureDeviations]:
    """Per batch IRI: its abnormality and feature deviations.

    ``groups`` maps every batch to compare to its comparison group (site and process:
    batches are only compared within one); ``references`` are the reference batches.
    Batches of a group with too few reference batches get ``gate=None`` and no deviations.
    """
    options = options or FeatureOptions()
    wanted = set(options.statistics)
    values: dict[str, dict[tuple[str, str, str], float]] = defaultdict(dict)
    sources: dict[tuple[str, FeatureKey], str] = {}
    for row in rows:
        if row.statistic in wanted and row.batch in groups:
            key = (row.parameter, row.phase, row.statistic)
            values[row.batch][key] = row.value
            sources[(row.batch, key)] = row.source
    reference_set = set(references)
    members: dict[str, list[str]] = defaultdict(list)
    for batch, group in groups.items():
        members[group].append(batch)
    found: dict[str, FeatureDeviations] = {}
    for batches in members.values():
        batches.sort()
        keys = sorted({k for b in batches for k in values.get(b, {})})
        matrix = np.array([[values.get(b, {}).get(k, np.nan) for k in keys] for b in batches],
                          dtype=float).reshape(len(batches), len(keys))
        is_reference = np.array([b in reference_set for b in batches])
        scores: dict[str, np.ndarray] = {}
        baselines: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for row, batch in enumerate(batches):
            reference = is_reference.copy()
            reference[row] = False
            if reference.sum() >= options.min_reference and keys:
                z, median, scale = _robust_z(matrix, row, reference, options.z_cap)
                scores[batch], baselines[batch] = z, (median, scale)
        null = [float(np.abs(scores[b]).max()) for b, ref in zip(batches, is_reference,
                                                                 strict=True)
                if ref and b in scores]
        gate = options.gate_factor * float(np.median(null)) if null else None
        for batch in batches:
            z = scores.get(batch)
            if z is None or gate is None:
                found[batch] = FeatureDeviations(0.0, None, {})
                continue
            largest = float(np.abs(z).max())
            deviating: dict[FeatureKey, float] = {}
            evidence: dict[FeatureKey, tuple[str, float, float]] = {}
            if largest >= gate:
                median, scale = baselines[batch]
                for c in np.flatnonzero(np.abs(z) >= options.min_z):
                    deviating[keys[c]] = round(float(z[c]), 3)
                    evidence[keys[c]] = (sources.get((batch, keys[c]), ""),
                                         float(median[c]), float(scale[c]))
            found[batch] = FeatureDeviations(round(largest, 3), round(gate, 3), deviating,
                                             evidence)
    return found
