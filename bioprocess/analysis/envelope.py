"""The reference envelope of one tag of a process at a site, learned from good batches.

Alignment (how batches of different lengths are compared)
    Each reference batch's phases are put on a normalised clock (piecewise-linear time
    registration per phase, phases matched by name; :mod:`bioprocess.analysis.registration`).
    Each phase gets a fixed grid of ``grid_points`` cells. With ``smooth=True`` (default)
    the value of a batch in a cell is the mean of its samples in that cell (linear
    interpolation at the cell centre when the cell has no sample), so the envelope
    describes the *local mean* trajectory, and a batch is judged the same way: its own cell
    means, interpolated back to its sample times
    (:func:`~bioprocess.analysis.registration.cell_smoothed`); a sample alone in its cell
    (sparse lab tags) is judged as it is. With ``smooth=False`` the tag is linearly interpolated at
    ``linspace(0, 1, grid_points)`` and single samples are judged. Grid times in a data gap
    of a batch are left out for that batch.

Band
    At every grid point: ``mean`` and sample standard deviation (``ddof=1``) across the
    batches that have a value there; the standard deviation is floored at
    ``sd_floor * spread`` where ``spread`` is the 1st-99th percentile range of all
    registered reference values of the tag (or ``|median|`` when that range is 0, or one
    tag unit when both are 0), so a flat set-point signal does not give a zero-width band.
    ``lower, upper = mean -/+ k * sd``. Grid points seen in fewer than ``min_batches``
    batches have no band (NaN), and nothing is judged there.

Between grid points the band is interpolated linearly in the registered clock (held
constant before the first and after the last grid point).

Why smooth by default: judging single noisy samples against a band of single samples
makes a batch that runs close to a limit flicker in and out of it, and every flicker that
lasts the minimum duration becomes an event; comparing local means with a band of local
means removes that noise-driven chatter without hiding excursions longer than a cell.

References
----------
.. [1] Nomikos, P., MacGregor, J. F. (1995). Multivariate SPC charts for monitoring batch
   processes. *Technometrics* 37(1), 41-59 (reference distribution of good batches).
.. [2] Montgomery, D. C. (2019). *Introduction to Statistical Quality Control*, 8th ed.
   (Shewhart-type ``mean +/- k sd`` limits).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Self

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from bioprocess.analysis.errors import InsufficientReferenceError, ensure_fitted
from bioprocess.analysis.phases import (
    PhaseSegmentation,
    reference_phase_order,
    segmentations_for,
)
from bioprocess.analysis.registration import (
    cell_smoothed,
    clock_lengths,
    phase_bounds,
    register,
)
from bioprocess.analysis.trajectories import BatchTrajectories


@dataclass(frozen=True, eq=False)
class Band:
    """The envelope evaluated at given sample times of one batch.

    Attributes
    ----------
    values : the values judged (local means with ``smooth=True``, else the samples).
    phase_index : index of the batch's phase each time falls in (``-1``: none).
    phase_known : the phase exists in the envelope.
    center, sd, lower, upper : envelope mean, (floored) sd and limits; NaN where undefined.
    """

    values: np.ndarray
    phase_index: np.ndarray
    phase_known: np.ndarray
    center: np.ndarray
    sd: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


@dataclass(frozen=True, eq=False)
class EnvelopeSummary:
    """A fitted envelope as plain data (arrays ``(n_phases, grid_points)``, NaN = no band)."""

    envelope_id: str
    tag: str
    unit: str
    k: float
    sd_floor: float
    phase_names: tuple[str, ...]
    phase_lengths_h: tuple[float, ...]
    grid: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_batches: np.ndarray
    reference_batch_ids: tuple[str, ...]


class ReferenceEnvelope(BaseEstimator):
    """Mean +/- k sd band of one tag over phase-registered good batches.

    Parameters
    ----------
    k : half-width of the band in (floored) standard deviations.
    grid_points : grid points per phase on the registered clock.
    min_batches : minimum number of reference batches with the tag (and per grid point).
    sd_floor : floor on the sd as a fraction of the tag's reference spread (see module).
    gap_factor : a gap longer than ``gap_factor`` median sampling intervals is missing data.
    smooth : judge local means over one grid cell (default) rather than single samples.

    Attributes
    ----------
    tag_ : str
    unit_ : str
    phase_names_ : tuple of str, phases in time order.
    phase_lengths_h_ : ndarray, median reference length of each phase (h).
    grid_ : ndarray ``(grid_points,)``, registered clock values in ``[0, 1]`` (cell centres
        with ``smooth=True``).
    mean_, sd_, lower_, upper_ : ndarray ``(n_phases, grid_points)``.
    n_batches_ : ndarray of int, batches contributing to each grid point.
    sd_floor_abs_ : float, the sd floor in tag units.
    reference_batch_ids_ : tuple of str, batches the envelope was built from.
    envelope_id_ : str, content fingerprint (tag, parameters, reference batches).

    Notes
    -----
    See the module docstring for the alignment and the band. ``fit`` takes a list of
    :class:`BatchTrajectories` and the tag name, not a feature matrix, so only the
    scikit-learn conventions that do not assume tabular input apply (parameters, cloning,
    fitted-state checks).
    """

    _parameter_constraints: dict = {
        "k": [Interval(Real, 0, None, closed="neither")],
        "grid_points": [Interval(Integral, 2, None, closed="left")],
        "min_batches": [Interval(Integral, 2, None, closed="left")],
        "sd_floor": [Interval(Real, 0, None, closed="left")],
        "gap_factor": [Interval(Real, 1, None, closed="left")],
        "smooth": ["boolean"],
    }

    def __init__(self, *, k: float = 3.0, grid_points: int = 50, min_batches: int = 3,
                 sd_floor: float = 0.01, gap_factor: float = 3.0, smooth: bool = True
                 ) -> None:
        self.k = k
        self.grid_points = grid_points
        self.min_batches = min_batches
        self.sd_floor = sd_floor
        self.gap_factor = gap_factor
        self.smooth = smooth

    def fit(
        self,
        batches: Sequence[BatchTrajectories],
        tag: str,
        *,
        segmentations: Mapping[str, PhaseSegmentation] | None = None,
    ) -> Self:
        """Learn the envelope of ``tag`` from the reference ``batches``.

        Parameters
        ----------
        batches : the good (reference) batches of one process at one site.
        tag : the tag to model; batches without samples of it are skipped.
        segmentations : phases by batch id; missing ones are computed with
            :func:`~bioprocess.analysis.phases.segment_batches`.

        Raises
        ------
        InsufficientReferenceError
            Fewer than ``min_batches`` batches have samples of ``tag``.
        """
        self._validate_params()
        having = [b for b in batches if tag in b.series and b.series[tag][0].size]
        if len(having) < self.min_batches:
            raise InsufficientReferenceError(
                f"the number of reference batches with samples of tag {tag!r} must be at "
                f"least min_batches={self.min_batches}; got {len(having)} instead"
                + (f" ({', '.join(b.batch_id for b in having)})" if having else "")
            )
        segs = segmentations_for(having, segmentations)
        names, lengths = reference_phase_order(having, segs)
        g = self.grid_points
        stack = np.full((len(having), len(names), g), np.nan)
        for i, batch in enumerate(having):
            seg = segs[batch.batch_id]
            t, v = batch.series[tag]
            stack[i] = register(t, v, seg, clock_lengths(seg), names, g,
                                nominal_h=batch.nominal_interval_h(tag),
                                gap_factor=self.gap_factor,
                                mode="bin" if self.smooth else "point")
        count = np.sum(np.isfinite(stack), axis=0)
        ok = count >= self.min_batches
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(ok, np.nanmean(np.where(ok, stack, 0.0), axis=0), np.nan)
            sd = np.where(ok, np.nanstd(np.where(ok, stack, 0.0), axis=0, ddof=1), np.nan)
        values = stack[np.isfinite(stack)]
        spread = float(np.subtract(*np.percentile(values, [99, 1]))) if values.size else 0.0
        if not spread > 0:
            spread = float(abs(np.median(values))) if values.size else 0.0
        if not spread > 0:
            spread = 1.0
        floor = self.sd_floor * spread
        sd = np.where(ok, np.maximum(sd, floor), np.nan)

        self.tag_ = tag
        self.unit_ = next((b.unit(tag) for b in having if b.unit(tag)), "")
        self.phase_names_ = names
        self.phase_lengths_h_ = lengths
        self.grid_ = (np.arange(g) + 0.5) / g if self.smooth else np.linspace(0.0, 1.0, g)
        self.mean_ = mean
        self.sd_ = sd
        self.lower_ = mean - self.k * sd
        self.upper_ = mean + self.k * sd
        self.n_batches_ = count
        self.sd_floor_abs_ = floor
        self.reference_batch_ids_ = tuple(b.batch_id for b in having)
        digest = hashlib.sha256(repr((tag, self.get_params(), sorted(self.reference_batch_ids_),
                                      names)).encode())
        self.envelope_id_ = digest.hexdigest()[:16]
        return self

    def band(self, t_h: np.ndarray, segmentation: PhaseSegmentation,
             values: np.ndarray | None = None, *, nominal_h: float | None = None) -> Band:
        """The envelope at sorted times ``t_h`` (h since start) of a batch with these phases.

        ``values`` (the batch's samples at ``t_h``) are turned into the values judged:
        cell means interpolated back to the samples with ``smooth=True``; NaN when not
        given. ``nominal_h`` is the median sampling interval (computed when not given).
        """
        ensure_fitted(self)
        t_h = np.asarray(t_h, dtype=float)
        typical = dict(zip(self.phase_names_, self.phase_lengths_h_, strict=True))
        lengths = clock_lengths(segmentation, typical)
        center = np.full(t_h.shape, np.nan)
        sd = np.full(t_h.shape, np.nan)
        known = np.zeros(t_h.shape, dtype=bool)
        idx = np.full(t_h.shape, -1)
        rows = {name: i for i, name in enumerate(self.phase_names_)}
        if segmentation.spans:
            starts, lo, hi = phase_bounds(t_h, segmentation, lengths)
            for j, name in enumerate(segmentation.names):
                part = slice(lo[j], hi[j])
                idx[part] = j
                row = rows.get(name)
                if row is None or not lengths[j] > 0:
                    continue
                u = (t_h[part] - starts[j]) / lengths[j]
                known[part] = True
                center[part] = np.interp(u, self.grid_, self.mean_[row])
                sd[part] = np.interp(u, self.grid_, self.sd_[row])
        if values is None:
            judged = np.full(t_h.shape, np.nan)
        elif self.smooth:
            judged = cell_smoothed(t_h, np.asarray(values, dtype=float), segmentation, lengths,
                                   self.grid_points, nominal_h or _median_step(t_h))
        else:
            judged = np.asarray(values, dtype=float)
        return Band(judged, idx, known, center, sd, center - self.k * sd,
                    center + self.k * sd)

    def summary(self) -> EnvelopeSummary:
        """The fitted envelope as a frozen record."""
        ensure_fitted(self)
        return EnvelopeSummary(
            envelope_id=self.envelope_id_, tag=self.tag_, unit=self.unit_, k=float(self.k),
            sd_floor=self.sd_floor_abs_, phase_names=self.phase_names_,
            phase_lengths_h=tuple(float(x) for x in self.phase_lengths_h_), grid=self.grid_,
            mean=self.mean_, sd=self.sd_, lower=self.lower_, upper=self.upper_,
            n_batches=self.n_batches_, reference_batch_ids=self.reference_batch_ids_,
        )


def _median_step(t: np.ndarray) -> float | None:
    steps = np.diff(t)
    steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else None
