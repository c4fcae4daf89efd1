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


def phase_bounds(
    t: np.ndarray, segmentation: PhaseSegmentation, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phase starts and, per phase, the slice ``lo[j]:hi[j]`` of the sorted times in it."""
    starts = np.asarray([s.start_h for s in segmentation.spans])
    ends = np.append(starts[1:], starts[-1] + lengths[-1])
    lo = np.searchsorted(t, starts, side="left")
    hi = np.searchsorted(t, ends, side="left")
    hi[-1] = np.searchsorted(t, ends[-1], side="right")
    return starts, lo, hi


def sample_clock(
    t: np.ndarray, segmentation: PhaseSegmentation, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Phase index (``-1`` outside every phase) and registered clock ``u`` of sorted times."""
    idx = np.full(t.shape, -1)
    u = np.zeros(t.shape)
    if not segmentation.spans:
        return idx, u
    starts, lo, hi = phase_bounds(t, segmentation, lengths)
    for j in range(starts.size):
        a, b = lo[j], hi[j]
        idx[a:b] = j
        if lengths[j] > 0:
            u[a:b] = np.clip((t[a:b] - starts[j]) / lengths[j], 0.0, 1.0)
    return idx, u


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


def cell_smoothed(
    t: np.ndarray,
    v: np.ndarray,
    segmentation: PhaseSegmentation,
    lengths: np.ndarray,
    grid_points: int,
    nominal_h: float | None = None,
) -> np.ndarray:
    """The batch-side counterpart of "bin" mode, at the sample times.

    In every phase the samples are averaged per grid cell (as the reference batches were)
    and the cell means, placed at the cell centres, are interpolated linearly back to each
    sample's registered clock (held before the first and after the last centre, exactly
    like the envelope itself). A sample alone in its cell, or in a cell the data only
    partly covers (the current cell of a running batch), keeps its own value, so sparse
    (offline) tags are judged sample by sample. Samples outside every phase are unchanged.
    """
    out = v.astype(float, copy=True)
    if t.size == 0 or not segmentation.spans:
        return out
    starts, lo, hi = phase_bounds(t, segmentation, lengths)
    centres = (np.arange(grid_points) + 0.5) / grid_points
    for j in range(starts.size):
        a, b = int(lo[j]), int(hi[j])
        if b - a < 2 or not lengths[j] > 0:
            continue
        u = (t[a:b] - starts[j]) / lengths[j]
        cell = np.clip((u * grid_points).astype(int), 0, grid_points - 1)
        counts = np.bincount(cell, minlength=grid_points)
        sums = np.bincount(cell, weights=v[a:b], minlength=grid_points)
        has = (counts > 0) & _covered(t, starts[j], lengths[j], grid_points, nominal_h)
        if not has.any():
            continue
        smooth = np.interp(u, centres[has], sums[has] / np.maximum(counts[has], 1))
        out[a:b] = np.where((counts[cell] > 1) & has[cell], smooth, v[a:b])
    return out


def _covered(t: np.ndarray, start: float, length: float, grid_points: int,
             nominal_h: float | None) -> np.ndarray:
    """Cells of a phase that the samples cover from end to end (within a tolerance).

    A cell that the data only partly covers (the current cell of a running batch, or cells
    before the first sample) would give a biased mean; it is treated as missing. The
    tolerance is the larger of one sampling interval and a quarter of a cell.
    """
    width = length / grid_points
    tol = max(nominal_h or SINGLE_SAMPLE_INTERVAL_H, 0.25 * width)
    edges = start + width * np.arange(grid_points + 1)
    return (edges[1:] <= t[-1] + tol) & (edges[:-1] >= t[0] - tol)


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
        starts, lo, hi = phase_bounds(t, segmentation, lengths)
    for row, name in enumerate(phase_names):
        j = position.get(name)
        if j is None:
            continue
        start = segmentation.spans[j].start_h
        values = interpolate_with_gaps(start + u_grid * lengths[j], t, v, nominal_h, gap_factor)
        if mode == "bin" and hi[j] > lo[j] and lengths[j] > 0:
            scaled = (t[lo[j]:hi[j]] - starts[j]) * (grid_points / lengths[j])
            cell = np.clip(scaled.astype(int), 0, grid_points - 1)
            counts = np.bincount(cell, minlength=grid_points)
            sums = np.bincount(cell, weights=v[lo[j]:hi[j]], minlength=grid_points)
            has = counts > 0
            values[has] = sums[has] / counts[has]
            values[~_covered(t, start, lengths[j], grid_points, nominal_h)] = np.nan
        out[row] = values
    return out
