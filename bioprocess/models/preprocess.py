"""Spectral preprocessing as a scikit-learn transformer: range selection, scatter
correction (SNV or MSC), Savitzky–Golay smoothing/derivative.

Nothing here assumes an instrument: ranges are given in the axis' own units (cm⁻¹ for
Raman) and resolved against the wavenumbers found in the data; the Savitzky–Golay window
is given in axis units and converted to channels from the axis' median spacing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.signal import savgol_filter
from sklearn.base import BaseEstimator, TransformerMixin

from bioprocess.errors import ValidationError

Range = tuple[float, float]


def check_axis(wavenumbers: Sequence[float] | np.ndarray, what: str = "spectra") -> np.ndarray:
    axis = np.asarray(wavenumbers, dtype=float)
    if axis.ndim != 1 or axis.size < 3:
        raise ValidationError(f"{what}: the wavenumber axis must hold at least 3 channels; "
                              f"got {axis.size} instead")
    if not np.all(np.isfinite(axis)) or not np.all(np.diff(axis) > 0):
        raise ValidationError(f"{what}: wavenumbers must be finite and strictly increasing")
    return axis


def resolve_ranges(axis: np.ndarray, ranges: Sequence[Range] | None) -> list[np.ndarray]:
    """Channel indices of each range (in axis units) found in ``axis``; the whole axis when
    ``ranges`` is empty. A range that holds fewer than 5 channels is an error that names the
    axis found."""
    if not ranges:
        return [np.arange(axis.size)]
    segments = []
    for low, high in ranges:
        if not low < high:
            raise ValidationError(f"range {low:g}-{high:g}: the lower bound must be below the "
                                  "upper bound")
        index = np.flatnonzero((axis >= low) & (axis <= high))
        if index.size < 5:
            raise ValidationError(
                f"range {low:g}-{high:g} holds {index.size} channels of the spectra's axis "
                f"({axis[0]:g}-{axis[-1]:g}, {axis.size} channels); at least 5 are needed")
        segments.append(index)
    return segments


def resample(spectra: np.ndarray, axis_from: np.ndarray, axis_to: np.ndarray,
             what: str = "spectra", needed: np.ndarray | None = None) -> np.ndarray:
    """Spectra recorded on ``axis_from`` linearly interpolated onto ``axis_to``. The channels
    actually used (``needed``, default all of ``axis_to``) must lie within the recorded axis
    (no extrapolation); unused channels outside it are filled with the edge values."""
    if axis_from.shape == axis_to.shape and np.allclose(axis_from, axis_to):
        return np.asarray(spectra, dtype=float)
    tolerance = 0.5 * float(np.median(np.diff(axis_from)))
    used = axis_to if needed is None else needed
    if used[0] < axis_from[0] - tolerance or used[-1] > axis_from[-1] + tolerance:
        raise ValidationError(
            f"{what}: the model needs wavenumbers {used[0]:g}-{used[-1]:g}; the spectra "
            f"cover {axis_from[0]:g}-{axis_from[-1]:g} only")
    block = np.asarray(spectra, dtype=float)
    return np.vstack([np.interp(axis_to, axis_from, row) for row in block])


def snv(block: np.ndarray) -> np.ndarray:
    centred = block - block.mean(axis=1, keepdims=True)
    sd = centred.std(axis=1, keepdims=True)
    return centred / np.where(sd > 0, sd, 1.0)


def msc(block: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Multiplicative scatter correction of each row against ``reference``."""
    ref = reference - reference.mean()
    denom = float(ref @ ref) or 1.0
    centred = block - block.mean(axis=1, keepdims=True)
    slope = centred @ ref / denom
    slope = np.where(np.abs(slope) > 1e-12, slope, 1.0)
    intercept = block.mean(axis=1) - slope * reference.mean()
    return (block - intercept[:, None]) / slope[:, None]


class SpectralPreprocessor(BaseEstimator, TransformerMixin):
    """Range selection -> SNV/MSC -> Savitzky–Golay (derivative) per contiguous range.

    Parameters
    ----------
    wavenumbers : sequence of float
        The axis the input columns are on.
    ranges : sequence of (low, high), optional
        Regions to keep, in axis units; default the whole axis.
    scatter : {"snv", "msc", "none"}
    window : float
        Savitzky–Golay window in axis units (e.g. 15 cm⁻¹), at least ``polyorder + 2``
        channels.
    polyorder, deriv : int
        Savitzky–Golay polynomial order and derivative (0 = smoothing only).
    """

    def __init__(self, wavenumbers: Sequence[float] = (), ranges: Sequence[Range] | None = None,
                 scatter: str = "snv", window: float = 15.0, polyorder: int = 2,
                 deriv: int = 1) -> None:
        self.wavenumbers = wavenumbers
        self.ranges = ranges
        self.scatter = scatter
        self.window = window
        self.polyorder = polyorder
        self.deriv = deriv

    def _window_points(self, axis: np.ndarray) -> int:
        step = float(np.median(np.diff(axis)))
        points = max(int(round(self.window / step)), self.polyorder + 2)
        return points + 1 if points % 2 == 0 else points

    def fit(self, X: np.ndarray, y: object = None) -> SpectralPreprocessor:  # noqa: N803
        if self.scatter not in ("snv", "msc", "none"):
            raise ValidationError(f"scatter must be snv, msc or none; got '{self.scatter}'")
        axis = check_axis(self.wavenumbers)
        X = np.asarray(X, dtype=float)  # noqa: N806
        if X.shape[1] != axis.size:
            raise ValidationError(f"spectra have {X.shape[1]} channels; the axis has "
                                  f"{axis.size}")
        self.segments_ = resolve_ranges(axis, self.ranges)
        self.selected_ = np.concatenate(self.segments_)
        self.window_points_ = self._window_points(axis)
        for segment in self.segments_:
            if segment.size < self.window_points_:
                raise ValidationError(
                    f"range {axis[segment[0]]:g}-{axis[segment[-1]]:g} has {segment.size} "
                    f"channels, fewer than the Savitzky–Golay window ({self.window_points_})")
        self.reference_ = X[:, self.selected_].mean(axis=0)
        self.axis_out_ = axis[self.selected_]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        X = np.asarray(X, dtype=float)  # noqa: N806
        block = X[:, self.selected_]
        if self.scatter == "snv":
            block = snv(block)
        elif self.scatter == "msc":
            block = msc(block, self.reference_)
        parts, start = [], 0
        for segment in self.segments_:
            part = block[:, start:start + segment.size]
            start += segment.size
            parts.append(part if self.deriv < 0 else  # deriv < 0: no Savitzky–Golay at all
                         savgol_filter(part, self.window_points_, self.polyorder,
                                       deriv=self.deriv, axis=1))
        return np.hstack(parts)

    def describe(self) -> str:
        axis = self.axis_out_
        regions = ", ".join(f"{self.wavenumbers[s[0]]:g}-{self.wavenumbers[s[-1]]:g}"
                            for s in self.segments_)
        scatter = {"snv": "standard normal variate", "msc": "multiplicative scatter "
                   "correction", "none": "no scatter correction"}[self.scatter]
        if self.deriv < 0:
            return f"range {regions} ({axis.size} channels); {scatter}; no smoothing"
        return (f"range {regions} ({axis.size} channels); {scatter}; Savitzky–Golay "
                f"{'derivative ' + str(self.deriv) if self.deriv else 'smoothing'}, window "
                f"{self.window_points_} channels (~{self.window:g} axis units), polynomial "
                f"order {self.polyorder}")
