"""Per-phase statistics of every tag of a batch.

For each tag and phase the samples with ``start_h <= t < end_h`` are used (the last phase
also includes ``t == end_h``). What is computed depends on how many samples there are;
a statistic that is undefined is **omitted**, never emitted as NaN:

===========  ==========================================  ===============  =============
statistic    definition                                  unit             needs
===========  ==========================================  ===============  =============
``n``        number of samples in the phase              ``count``        >= 1 sample
``mean``     time-weighted (trapezoidal) mean over the   tag unit         >= 1 sample
             sampled span; the plain value for 1 sample
             or when all samples share one time
``min``      smallest sample                             tag unit         >= 1 sample
``max``      largest sample                              tag unit         >= 1 sample
``t_min``    hours from phase start to the first min     ``h``            >= 1 sample
``t_max``    hours from phase start to the first max     ``h``            >= 1 sample
``slope``    least-squares slope against time            tag unit ``/h``  >= 2 distinct
                                                                          times
``area``     trapezoidal integral over the sampled span  tag unit ``·h``  >= 2 distinct
             (first to last sample in the phase; gaps                     times
             bridged linearly; no extrapolation to the
             phase boundaries)
===========  ==========================================  ===============  =============

A phase without any sample of a tag yields no feature for that (tag, phase). Offline lab
tags with one or two samples per phase therefore get ``n, mean, min, max, t_min, t_max``
and, from two samples on, ``slope`` and ``area``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from bioprocess.analysis.phases import PhaseSegmentation
from bioprocess.analysis.trajectories import BatchTrajectories

#: Statistics in the order they are emitted.
STATISTICS = ("n", "mean", "min", "max", "t_min", "t_max", "slope", "area")


@dataclass(frozen=True)
class Feature:
    """One statistic of one tag in one phase of one batch (finite ``value``)."""

    batch_id: str
    tag: str
    phase: str
    statistic: str
    value: float
    unit: str


def derived_unit(unit: str, statistic: str) -> str:
    """Unit of ``statistic`` for a tag in ``unit`` (``""`` stays unknown)."""
    if statistic == "n":
        return "count"
    if statistic in ("t_min", "t_max"):
        return "h"
    if not unit:
        return ""
    wrapped = f"({unit})" if any(c in unit for c in " /·*") else unit
    if statistic == "slope":
        return f"{wrapped}/h"
    if statistic == "area":
        return f"{wrapped}·h"
    return unit


def phase_statistics(t: np.ndarray, v: np.ndarray, phase_start_h: float) -> dict[str, float]:
    """Statistics of the samples ``(t, v)`` of one phase (sorted by time, all finite)."""
    n = t.size
    if n == 0:
        return {}
    i_min, i_max = int(np.argmin(v)), int(np.argmax(v))
    stats = {
        "n": float(n),
        "mean": float(v.mean()),
        "min": float(v[i_min]),
        "max": float(v[i_max]),
        "t_min": float(t[i_min] - phase_start_h),
        "t_max": float(t[i_max] - phase_start_h),
    }
    span = float(t[-1] - t[0])
    if n >= 2 and span > 0:
        dt = np.diff(t)
        area = float(np.sum(dt * (v[1:] + v[:-1])) * 0.5)
        tc = t - t.mean()
        stats["slope"] = float(np.dot(tc, v - v.mean()) / np.dot(tc, tc))
        stats["area"] = area
        stats["mean"] = area / span
    return {k: value for k, value in stats.items() if np.isfinite(value)}


def batch_features(
    batch: BatchTrajectories,
    segmentation: PhaseSegmentation,
    tags: Iterable[str] | None = None,
) -> tuple[Feature, ...]:
    """Every statistic of every tag (or of ``tags``) in every phase of ``batch``."""
    spans = segmentation.spans
    if not spans:
        return ()
    bounds = segmentation.boundaries()
    out: list[Feature] = []
    for tag in batch.series if tags is None else tags:
        if tag not in batch.series:
            continue
        t, v = batch.series[tag]
        lo = np.searchsorted(t, bounds[:-1], side="left")
        hi = np.searchsorted(t, bounds[1:], side="left")
        hi[-1] = np.searchsorted(t, bounds[-1], side="right")
        unit = batch.unit(tag)
        for j, span in enumerate(spans):
            stats = phase_statistics(t[lo[j]:hi[j]], v[lo[j]:hi[j]], span.start_h)
            out.extend(
                Feature(batch.batch_id, tag, span.name, name, stats[name],
                        derived_unit(unit, name))
                for name in STATISTICS if name in stats
            )
    return tuple(out)
