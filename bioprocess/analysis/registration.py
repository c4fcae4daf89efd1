"""Phase-wise time registration: every phase of every batch on a normalised [0, 1] clock.

Batches differ in length and in where their phases start, so trajectories are compared on a
*registered* clock rather than in hours: piecewise-linear time registration per phase, where
a sample at time ``t`` in phase ``j`` (start ``s_j``, length ``L_j``) sits at
``u = (t - s_j) / L_j`` in ``[0, 1]``. Phases are matched across batches **by name**.
A phase that is still open (running batch, see :class:`PhaseSegmentation.open_end`) is
stretched to at least its typical reference length, so a half-finished phase is compared
with the first half of the reference and not squeezed onto the whole of it.

Values on the grid
    ``"point"`` mode: linear interpolation of the samples at each grid time (used by the
    envelope: it describes where single samples should lie, noise included).
    ``"bin"`` mode: mean of the samples falling in each grid cell, interpolation at the cell
    centre where a cell has no sample (used by the batch-evolution model: a smoothed,
    noise-reduced trajectory).
    In both modes a grid time is *missing* (NaN) when it lies in a data gap — between two
    samples more than ``gap_factor`` times the tag's median sampling interval apart — or
    more than half a median interval before the first or after the last sample. Sparse
    offline tags are therefore interpolated between their lab samples, as long as the
    samples are regular.

References
----------
.. [1] Kassidas, A., MacGregor, J. F., Taylor, P. A. (1998). Synchronization of batch
   trajectories using dynamic time warping. *AIChE J.* 44(4), 864-875 (alignment options;
   the per-phase linear registration used here is the "indicator variable / phase-wise"
   approach discussed there).
.. [2] Ramsay, J. O., Silverman, B. W. (2005). *Functional Data Analysis*, 2nd ed.,
   ch. 7 (registration by landmarks; phase boundaries are the landmarks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from bioprocess.analysis.phases import PhaseSegmentation

#: Assumed sampling interval (h) of a tag with a single sample.
SINGLE_SAMPLE_INTERVAL_H = 1.0


def clock_lengths(
    segmentation: PhaseSegmentation, typical_lengths: Mapping[str, float] | None = None
) -> np.ndarray:
    """Length (h) of each phase on the registered clock.

    The recorded length, except for an open last phase, which is stretched to at least its
    typical length from ``typical_lengths`` (by phase name) when known.
    """
    lengths = np.asarray([s.end_h - s.start_h for s in segmentation.spans], dtype=float)
    if segmentation.open_end and lengths.size and typical_lengths:
        typical = typical_lengths.get(segmentation.spans[-1].name)
        if typical is not None and np.isfinite(typical):
            lengths[-1] = max(lengths[-1], float(typical))
    return lengths


def sample_clock(
    t: np.ndarray, segmentation: PhaseSegmentation, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Phase index (``-1`` outside every phase) and registered clock ``u`` of each time."""
    if not segmentation.spans:
        return np.full(t.shape, -1), np.zeros(t.shape)
    starts = np.asarray([s.start_h for s in segmentation.spans])
    end = starts[-1] + lengths[-1]
    idx = np.searchsorted(starts, t, side="right") - 1
    idx = np.where((t < starts[0]) | (t > end), -1, idx)
    safe = np.maximum(idx, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(lengths[safe] > 0, (t - starts[safe]) / lengths[safe], 0.0)
    return idx, np.clip(u, 0.0, 1.0)


def interpolate_with_gaps(
    tq: np.ndarray, t: np.ndarray, v: np.ndarray, nominal_h: float | None, gap_factor: float
) -> np.ndarray:
    """Linear interpolation of ``(t, v)`` at ``tq``; NaN in data gaps and beyond the ends."""
    if t.size == 0:
        return np.full(tq.shape, np.nan)
    step = nominal_h if nominal_h else SINGLE_SAMPLE_INTERVAL_H
    out = np.interp(tq, t, v)
    missing = (tq < t[0] - 0.5 * step) | (tq > t[-1] + 0.5 * step)
    if t.size > 1:
        idx = np.clip(np.searchsorted(t, tq), 1, t.size - 1)
        gap = (t[idx] - t[idx - 1] > gap_factor * step) & (tq > t[idx - 1]) & (tq < t[idx])
        missing |= gap
    out[missing] = np.nan
    return out


def register(
    t: np.ndarray,
    v: np.ndarray,
    segmentation: PhaseSegmentation,
    lengths: np.ndarray,
    phase_names: Sequence[str],
    grid_points: int,
    *,
    nominal_h: float | None,
    gap_factor: float = 3.0,
    mode: Literal["point", "bin"] = "point",
) -> np.ndarray:
    """One tag of one batch on the registered grid: array ``(len(phase_names), grid_points)``.

    ``"point"`` mode uses the grid ``linspace(0, 1, grid_points)`` of each phase;
    ``"bin"`` mode the cell centres ``(i + 0.5) / grid_points``. Rows of phases the batch
    does not have, and grid times without data, are NaN.
    """
    out = np.full((len(phase_names), grid_points), np.nan)
    position = {name: i for i, name in enumerate(segmentation.names)}
    if mode == "point":
        u_grid = np.linspace(0.0, 1.0, grid_points)
    else:
        u_grid = (np.arange(grid_points) + 0.5) / grid_points
        idx, u = sample_clock(t, segmentation, lengths)
    for row, name in enumerate(phase_names):
        j = position.get(name)
        if j is None:
            continue
        start = segmentation.spans[j].start_h
        values = interpolate_with_gaps(start + u_grid * lengths[j], t, v, nominal_h, gap_factor)
        if mode == "bin":
            inside = idx == j
            cell = np.minimum((u[inside] * grid_points).astype(int), grid_points - 1)
            counts = np.bincount(cell, minlength=grid_points)
            sums = np.bincount(cell, weights=v[inside], minlength=grid_points)
            has = counts > 0
            values[has] = sums[has] / counts[has]
        out[row] = values
    return out
