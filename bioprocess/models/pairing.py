"""Pair lab reference values with the spectrum recorded nearest in time (per batch)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from bioprocess.errors import ValidationError
from bioprocess.models.preprocess import check_axis, resample
from bioprocess.models.softsensor import SpectralDataset


@dataclass(frozen=True)
class BatchSpectra:
    """One batch's spectra and its lab values of the target (times in h since start)."""

    batch_id: str
    wavenumbers: np.ndarray
    t_h: np.ndarray
    spectra: np.ndarray
    lab_t_h: np.ndarray
    lab_values: np.ndarray
    instrument: str = ""


def default_tolerance_h(t_h: np.ndarray) -> float:
    """Half the median spectrum interval, at least 15 min: a lab sample further from any
    spectrum than that has no spectrum of its own."""
    step = float(np.median(np.diff(np.sort(t_h)))) if t_h.size > 1 else 1.0
    return max(0.25, step / 2)


def paired_dataset(batches: Iterable[BatchSpectra], *, target: str, unit: str = "",
                   tolerance_h: float | None = None) -> SpectralDataset:
    """Spectra nearest to each lab sample (within the tolerance), on one common axis: the
    axis of the first batch, trimmed to what every batch covers."""
    batches = [b for b in batches if b.spectra.size and b.lab_values.size]
    if not batches:
        raise ValidationError(f"no batch has both spectra and lab values of '{target}'")
    axis = check_axis(batches[0].wavenumbers, f"batch {batches[0].batch_id}")
    low = max(float(b.wavenumbers[0]) for b in batches)
    high = min(float(b.wavenumbers[-1]) for b in batches)
    axis = axis[(axis >= low) & (axis <= high)]
    rows, ys, groups, times = [], [], [], []
    for b in batches:
        tolerance = tolerance_h if tolerance_h is not None else default_tolerance_h(b.t_h)
        block = resample(b.spectra, check_axis(b.wavenumbers, f"batch {b.batch_id}"), axis,
                         f"batch {b.batch_id}")
        for t, value in zip(b.lab_t_h, b.lab_values, strict=True):
            nearest = int(np.argmin(np.abs(b.t_h - t)))
            if abs(b.t_h[nearest] - t) <= tolerance and np.isfinite(value):
                rows.append(block[nearest])
                ys.append(float(value))
                groups.append(b.batch_id)
                times.append(float(t))
    if not rows:
        raise ValidationError(f"no lab value of '{target}' lies within the pairing tolerance "
                              "of a spectrum")
    instruments = sorted({b.instrument for b in batches if b.instrument})
    return SpectralDataset(axis, np.vstack(rows), np.array(ys), np.array(groups),
                           np.array(times), target, unit, ", ".join(instruments))
