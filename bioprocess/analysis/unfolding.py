"""Batch-wise unfolding: one batch -> one row of registered, time-sliced tag values.

The registered grid of every phase (``grid_points`` cells per phase, see
:mod:`bioprocess.analysis.registration`, "bin" mode: cell means) gives ``K = n_phases *
grid_points`` time slices; a batch becomes a ``(K, n_tags)`` array, flattened slice-major
into one row of ``K * n_tags`` variables (Nomikos & MacGregor 1994, batch-wise unfolding).
Missing values (tag absent, phase absent, data gaps, not yet measured) are NaN.

References
----------
.. [1] Nomikos, P., MacGregor, J. F. (1994). Monitoring batch processes using multiway
   principal component analysis. *AIChE J.* 40(8), 1361-1375.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bioprocess.analysis.phases import PhaseSegmentation
from bioprocess.analysis.registration import clock_lengths, register
from bioprocess.analysis.trajectories import BatchTrajectories


@dataclass(frozen=True, eq=False)
class UnfoldingLayout:
    """Which tags, phases and grid make up the unfolded variables."""

    tags: tuple[str, ...]
    phase_names: tuple[str, ...]
    grid_points: int
    phase_lengths_h: np.ndarray
    gap_factor: float = 3.0

    @property
    def n_slices(self) -> int:
        return len(self.phase_names) * self.grid_points

    @property
    def slice_phase(self) -> tuple[str, ...]:
        """Phase name of every time slice."""
        return tuple(name for name in self.phase_names for _ in range(self.grid_points))

    @property
    def slice_u(self) -> np.ndarray:
        """Registered clock (cell centre in ``[0, 1]``) of every time slice."""
        u = (np.arange(self.grid_points) + 0.5) / self.grid_points
        return np.tile(u, len(self.phase_names))

    def typical_lengths(self) -> dict[str, float]:
        return dict(zip(self.phase_names, self.phase_lengths_h.tolist(), strict=True))

    def unfold(self, batch: BatchTrajectories, segmentation: PhaseSegmentation) -> np.ndarray:
        """The batch as a ``(n_slices, n_tags)`` array (NaN where missing)."""
        lengths = clock_lengths(segmentation, self.typical_lengths())
        out = np.full((self.n_slices, len(self.tags)), np.nan)
        for col, tag in enumerate(self.tags):
            if tag not in batch.series:
                continue
            t, v = batch.series[tag]
            grid = register(t, v, segmentation, lengths, self.phase_names, self.grid_points,
                            nominal_h=batch.nominal_interval_h(tag),
                            gap_factor=self.gap_factor, mode="bin")
            out[:, col] = grid.ravel()
        return out

    def slice_time_h(self, segmentation: PhaseSegmentation) -> np.ndarray:
        """Hours since batch start of every slice on this batch's clock (NaN: no phase)."""
        lengths = clock_lengths(segmentation, self.typical_lengths())
        where = {name: i for i, name in enumerate(segmentation.names)}
        out = np.full(self.n_slices, np.nan)
        u = (np.arange(self.grid_points) + 0.5) / self.grid_points
        for row, name in enumerate(self.phase_names):
            j = where.get(name)
            if j is not None:
                span = slice(row * self.grid_points, (row + 1) * self.grid_points)
                out[span] = segmentation.spans[j].start_h + u * lengths[j]
        return out
