"""The reference envelope of one tag of a process at a site, learned from good batches.

Alignment (how batches of different lengths are compared)
    Each reference batch's phases are put on a normalised clock (piecewise-linear time
    registration per phase, phases matched by name; :mod:`bioprocess.analysis.registration`).
    The tag is linearly interpolated at ``grid_points`` equally spaced clock values
    ``linspace(0, 1, grid_points)`` in every phase ("point" mode: single-sample values,
    noise included, because single samples are what the envelope judges). Grid times in a
    data gap of a batch are left out for that batch.

Band
    At every grid point: ``mean`` and sample standard deviation (``ddof=1``) across the
    batches that have a value there; the standard deviation is floored at
    ``sd_floor * spread`` where ``spread`` is the 1st-99th percentile range of all
    registered reference values of the tag (or ``|median|`` when that range is 0, or one
    tag unit when both are 0), so a flat set-point signal does not give a zero-width band.
    ``lower, upper = mean -/+ k * sd``. Grid points seen in fewer than ``min_batches``
    batches have no band (NaN), and nothing is judged there.

Between grid points the band is interpolated linearly in the registered clock.

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
from bioprocess.analysis.phases import PhaseSegmentation, segmentations_for
from bioprocess.analysis.registration import clock_lengths, register, sample_clock
from bioprocess.analysis.trajectories import BatchTrajectories


@dataclass(frozen=True, eq=False)
class Band:
    """The envelope evaluated at given sample times of one batch.

    Attributes
    ----------
    phase_index : index of the batch's phase each time falls in (``-1``: none).
    phase_known : the phase exists in the envelope.
    center, sd, lower, upper : envelope mean, (floored) sd and limits; NaN where undefined.
    """

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

    Attributes
    ----------
    tag_ : str
    unit_ : str
    phase_names_ : tuple of str, phases in time order.
    phase_lengths_h_ : ndarray, median reference length of each phase (h).
    grid_ : ndarray ``(grid_points,)``, registered clock values in ``[0, 1]``.
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
    }

    def __init__(self, *, k: float = 3.0, grid_points: int = 50, min_batches: int = 3,
                 sd_floor: float = 0.01, gap_factor: float = 3.0) -> None:
        self.k = k
        self.grid_points = grid_points
        self.min_batches = min_batches
        self.sd_floor = sd_floor
        self.gap_factor = gap_factor

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
        names, lengths = _phase_order(having, segs)
        g = self.grid_points
        stack = np.full((len(having), len(names), g), np.nan)
        for i, batch in enumerate(having):
            seg = segs[batch.batch_id]
            t, v = batch.series[tag]
            stack[i] = register(t, v, seg, clock_lengths(seg), names, g,
                                nominal_h=batch.nominal_interval_h(tag),
                                gap_factor=self.gap_factor, mode="point")
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
        self.grid_ = np.linspace(0.0, 1.0, g)
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

    def band(self, t_h: np.ndarray, segmentation: PhaseSegmentation) -> Band:
        """The envelope at times ``t_h`` (hours since start) of a batch with these phases."""
        ensure_fitted(self)
        t_h = np.asarray(t_h, dtype=float)
        typical = dict(zip(self.phase_names_, self.phase_lengths_h_, strict=True))
        lengths = clock_lengths(segmentation, typical)
        idx, u = sample_clock(t_h, segmentation, lengths)
        center = np.full(t_h.shape, np.nan)
        sd = np.full(t_h.shape, np.nan)
        known = np.zeros(t_h.shape, dtype=bool)
        rows = {name: i for i, name in enumerate(self.phase_names_)}
        for j, name in enumerate(segmentation.names):
            row = rows.get(name)
            if row is None:
                continue
            inside = idx == j
            known |= inside
            center[inside] = np.interp(u[inside], self.grid_, self.mean_[row])
            sd[inside] = np.interp(u[inside], self.grid_, self.sd_[row])
        return Band(idx, known, center, sd, center - self.k * sd, center + self.k * sd)

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


def _phase_order(
    batches: Sequence[BatchTrajectories], segs: Mapping[str, PhaseSegmentation]
) -> tuple[tuple[str, ...], np.ndarray]:
    """Phase names of the batches ordered by median relative start; median lengths (h)."""
    starts: dict[str, list[float]] = {}
    lengths: dict[str, list[float]] = {}
    for batch in batches:
        seg = segs[batch.batch_id]
        total = seg.spans[-1].end_h if seg.spans else 0.0
        for span in seg.spans:
            starts.setdefault(span.name, []).append(span.start_h / total if total else 0.0)
            if not (seg.open_end and span is seg.spans[-1]):
                lengths.setdefault(span.name, []).append(span.end_h - span.start_h)
    names = tuple(sorted(starts, key=lambda n: (float(np.median(starts[n])), n)))
    median = np.asarray([float(np.median(lengths[n])) if n in lengths else np.nan
                         for n in names])
    return names, median
