"""Deviation events: excursions of a batch's tag outside its reference envelope.

The rule, for one tag of one batch against one envelope:

1. A sample is *high* when its judged value is above the upper limit, *low* when below
   the lower limit (samples where the envelope has no band, or in phases the envelope
   does not know, are never out). The judged value is the batch's own mean over envelope
   grid cells, interpolated back to the sample (``ReferenceEnvelope(smooth=True)``,
   default; see :mod:`bioprocess.analysis.envelope`), or the sample itself
   (``smooth=False``).
2. Consecutive out samples of the same direction form a run. A run ends at an in-band
   sample, at a phase boundary (an event belongs to exactly one phase) or at a data gap
   (two samples more than ``gap_factor`` median sampling intervals apart).
3. Every sample stands for one sampling interval ``dt`` (the tag's median sampling interval
   in this batch; ``fallback_interval_h`` for a tag with one sample), so a run from
   ``t_first`` to ``t_last`` lasts ``t_last - t_first + dt`` hours and starts at ``t_first``.
4. Runs of the same direction in the same phase are merged when the in-band stretch
   between them is at most ``merge_gap_h`` hours.
5. A merged run is an event when it lasts at least ``min_duration_h`` and has at least
   ``min_samples`` out samples.

Consequence for sparse offline (lab) tags: a single lab sample outside the band is an event
whose duration is the tag's sampling interval (e.g. 24 h for daily samples), as soon as that
interval is at least ``min_duration_h``. For densely sampled online tags the duration rule
dominates (1-min data needs 60 consecutive out samples for 1 h).

Each event reports its magnitude (largest excess of the judged value beyond the band
divided by the envelope sd at that sample, ``>= 0``), the largest excess in the tag's units,
the time of the largest magnitude, and the largest distance from the envelope mean in
envelope sds (``peak_z``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from bioprocess.analysis.envelope import Band, ReferenceEnvelope
from bioprocess.analysis.phases import PhaseSegmentation
from bioprocess.analysis.trajectories import BatchTrajectories

Direction = Literal["high", "low"]


@dataclass(frozen=True)
class EventRule:
    """When an excursion counts as a deviation event (see the module docstring).

    Parameters
    ----------
    min_duration_h : minimum event duration, hours.
    min_samples : minimum number of out-of-band samples.
    merge_gap_h : runs separated by at most this many in-band hours are merged.
    gap_factor : a sampling gap longer than this many median intervals splits runs.
    fallback_interval_h : interval a sample stands for when a tag has a single sample.
    """

    min_duration_h: float = 1.0
    min_samples: int = 1
    merge_gap_h: float = 0.5
    gap_factor: float = 3.0
    fallback_interval_h: float = 1.0

    def __post_init__(self) -> None:
        for name in ("min_duration_h", "merge_gap_h"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)} instead")
        if self.min_samples < 1:
            raise ValueError(f"min_samples must be >= 1; got {self.min_samples} instead")
        if not self.fallback_interval_h > 0:
            raise ValueError(
                f"fallback_interval_h must be > 0; got {self.fallback_interval_h} instead"
            )


@dataclass(frozen=True)
class DeviationEvent:
    """An excursion of a tag outside the envelope within one phase of one batch.

    Attributes
    ----------
    batch_id, tag, phase : where.
    direction : ``"high"`` (above the upper limit) or ``"low"``.
    magnitude : peak excess beyond the band, in envelope standard deviations (``>= 0``).
    peak_excess : peak excess beyond the band, in the tag's units (``>= 0``).
    peak_z : peak distance from the envelope mean, in envelope standard deviations.
    start_h : first out-of-band sample, hours since batch start.
    duration_h : hours (``> 0``), see the rule.
    peak_h : time of the peak magnitude, hours since batch start.
    n_samples : out-of-band samples in the event.
    unit : the tag's unit string.
    envelope_id : fingerprint of the envelope it was judged against.
    """

    batch_id: str
    tag: str
    phase: str
    direction: Direction
    magnitude: float
    peak_excess: float
    peak_z: float
    start_h: float
    duration_h: float
    peak_h: float
    n_samples: int
    unit: str
    envelope_id: str


def find_deviation_events(
    batch: BatchTrajectories,
    envelope: ReferenceEnvelope,
    segmentation: PhaseSegmentation,
    rule: EventRule = EventRule(),
) -> tuple[DeviationEvent, ...]:
    """Deviation events of ``batch`` for the envelope's tag, in time order."""
    tag = envelope.tag_
    if tag not in batch.series or not segmentation.spans:
        return ()
    t, v = batch.series[tag]
    if t.size == 0:
        return ()
    nominal = batch.nominal_interval_h(tag)
    band = envelope.band(t, segmentation, v, nominal_h=nominal)
    dt = nominal or rule.fallback_interval_h
    events: list[DeviationEvent] = []
    with np.errstate(invalid="ignore"):
        high = band.values > band.upper
        low = band.values < band.lower
    directions: tuple[tuple[Direction, np.ndarray], ...] = (("high", high), ("low", low))
    for direction, out in directions:
        if not out.any():
            continue
        excess = (band.values - band.upper) if direction == "high" else (band.lower
                                                                          - band.values)
        events.extend(_events_of(batch, envelope, segmentation, rule, direction, out, excess,
                                 band, t, dt))
    events.sort(key=lambda e: (e.start_h, e.direction))
    return tuple(events)


def _events_of(
    batch: BatchTrajectories,
    envelope: ReferenceEnvelope,
    segmentation: PhaseSegmentation,
    rule: EventRule,
    direction: Direction,
    out: np.ndarray,
    excess: np.ndarray,
    band: Band,
    t: np.ndarray,
    dt: float,
) -> list[DeviationEvent]:
    """Events of one direction; ``out`` marks the out-of-band samples."""
    i = np.flatnonzero(out)
    phase = band.phase_index[i]
    ti = t[i]
    # run boundaries: not adjacent samples, other phase, or a data gap
    new_run = np.ones(i.size, dtype=bool)
    new_run[1:] = ((np.diff(i) != 1) | (np.diff(phase) != 0)
                   | (np.diff(ti) > rule.gap_factor * dt))
    starts = np.flatnonzero(new_run)
    ends = np.append(starts[1:], i.size) - 1
    # merge runs of the same phase separated by a short in-band stretch
    if starts.size > 1:
        pause = ti[starts[1:]] - (ti[ends[:-1]] + dt)
        join = (pause <= rule.merge_gap_h) & (phase[starts[1:]] == phase[ends[:-1]])
        keep = np.concatenate([[True], ~join])
        starts = starts[keep]
        ends = np.append(starts[1:], i.size) - 1
    sd = band.sd[i]
    mag = excess[i] / sd
    z = np.abs(band.values[i] - band.center[i]) / sd
    peak_mag = np.maximum.reduceat(mag, starts)
    peak_exc = np.maximum.reduceat(excess[i], starts)
    peak_z = np.maximum.reduceat(z, starts)
    counts = ends - starts + 1
    out: list[DeviationEvent] = []
    for a, b, m, e, pz, n in zip(starts, ends, peak_mag, peak_exc, peak_z, counts,
                                 strict=True):
        duration = float(ti[b] - ti[a] + dt)
        if duration < rule.min_duration_h - 1e-9 or n < rule.min_samples:
            continue
        seg_mag = mag[a:b + 1]
        out.append(DeviationEvent(
            batch_id=batch.batch_id, tag=envelope.tag_,
            phase=segmentation.spans[int(phase[a])].name, direction=direction,
            magnitude=float(m), peak_excess=float(e), peak_z=float(pz),
            start_h=float(ti[a]), duration_h=duration,
            peak_h=float(ti[a + int(np.argmax(seg_mag))]), n_samples=int(n),
            unit=batch.unit(envelope.tag_) or envelope.unit_, envelope_id=envelope.envelope_id_,
        ))
    return out
