"""The input model: one batch as a set of time series plus (optional) recipe phases.

Nothing here knows tag names, units or a process: a batch is a mapping from the site's own
tag names to ``(t_h, values)`` arrays, where ``t_h`` are hours since the batch start.
Online and offline (lab) tags use the same form; offline tags simply have few samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from bioprocess.analysis.errors import InvalidTrajectoryError

#: What a series looks like once validated: sorted, finite, read-only float arrays.
Series = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class PhaseSpan:
    """A named phase of a batch, in hours since the batch start.

    Parameters
    ----------
    name : the site's own phase name (recipe phases) or ``"inferred-<n>"``.
    start_h : start, hours since batch start.
    end_h : end, hours since batch start; ``None`` when not recorded (an open phase, or
        "until the next phase starts").
    """

    name: str
    start_h: float
    end_h: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidTrajectoryError(
                f"a phase name must be a non-empty string; got {self.name!r} instead"
            )
        if not math.isfinite(self.start_h):
            raise InvalidTrajectoryError(
                f"phase {self.name!r} start_h must be finite; got {self.start_h!r} instead"
            )
        if self.end_h is not None and not (
            math.isfinite(self.end_h) and self.end_h >= self.start_h
        ):
            raise InvalidTrajectoryError(
                f"phase {self.name!r} end_h must be finite and >= start_h={self.start_h}; "
                f"got {self.end_h!r} instead"
            )


def _clean_series(batch_id: str, tag: str, pair: object) -> Series:
    try:
        t_raw, v_raw = pair  # type: ignore[misc]
    except (TypeError, ValueError) as error:
        raise InvalidTrajectoryError(
            f"series {tag!r} of batch {batch_id!r} must be a (t_h, values) pair; "
            f"got {type(pair).__name__} instead"
        ) from error
    t = np.asarray(t_raw, dtype=float)
    v = np.asarray(v_raw, dtype=float)
    if t.ndim != 1 or v.ndim != 1 or t.shape != v.shape:
        raise InvalidTrajectoryError(
            f"series {tag!r} of batch {batch_id!r} must have 1-D t_h and values of equal "
            f"length; got shapes {t.shape} and {v.shape} instead"
        )
    finite = np.isfinite(t) & np.isfinite(v)
    if not finite.all():
        t, v = t[finite], v[finite]
    if t.size > 1 and np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
    t, v = t.view(), v.view()
    t.flags.writeable = False
    v.flags.writeable = False
    return t, v


@dataclass(frozen=True, eq=False)
class BatchTrajectories:
    """All time series of one batch, with its recipe phases when they are known.

    Parameters
    ----------
    batch_id : the site's batch identifier.
    series : tag name -> ``(t_h, values)``; ``t_h`` in hours since batch start. Samples may
        be irregular, unsorted, contain NaN (dropped: a NaN is a gap) and differ in number
        between tags. Offline (lab) tags are passed the same way with their few samples.
    phases : recipe phases (may be empty: phases are then inferred from the data).
    duration_h : batch length in hours when known (complete batches); ``None`` means "up to
        the last sample" and, with an open last phase, that the batch may still be running.
    units : tag name -> the site's unit string (opaque; only carried into outputs).

    Notes
    -----
    On construction, series are converted to float arrays, non-finite samples dropped,
    sorted by time and made read-only (views: the caller's arrays are not copied when they
    are already clean float64). ``phases`` becomes a tuple and ``series``/``units`` read-only
    mappings.
    """

    batch_id: str
    series: Mapping[str, Series]
    phases: Sequence[PhaseSpan] = ()
    duration_h: float | None = None
    units: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.batch_id, str) or not self.batch_id:
            raise InvalidTrajectoryError(
                f"batch_id must be a non-empty string; got {self.batch_id!r} instead"
            )
        cleaned = {
            str(tag): _clean_series(self.batch_id, str(tag), pair)
            for tag, pair in self.series.items()
        }
        object.__setattr__(self, "series", MappingProxyType(cleaned))
        phases = tuple(self.phases)
        for span in phases:
            if not isinstance(span, PhaseSpan):
                raise InvalidTrajectoryError(
                    f"phases of batch {self.batch_id!r} must be PhaseSpan objects; "
                    f"got {type(span).__name__} instead"
                )
        object.__setattr__(self, "phases", phases)
        if self.duration_h is not None and not (
            math.isfinite(self.duration_h) and self.duration_h > 0
        ):
            raise InvalidTrajectoryError(
                f"duration_h of batch {self.batch_id!r} must be a positive finite number "
                f"or None; got {self.duration_h!r} instead"
            )
        object.__setattr__(self, "units", MappingProxyType(dict(self.units)))
        object.__setattr__(self, "_intervals", {})

    @property
    def tags(self) -> tuple[str, ...]:
        """Tags with at least one finite sample, in input order."""
        return tuple(tag for tag, (t, _) in self.series.items() if t.size)

    @property
    def end_h(self) -> float:
        """Batch extent: ``duration_h`` when given, else the latest sample or phase end."""
        if self.duration_h is not None:
            return float(self.duration_h)
        last = [float(t[-1]) for t, _ in self.series.values() if t.size]
        last += [s.end_h if s.end_h is not None else s.start_h for s in self.phases]
        return max(last, default=0.0)

    def unit(self, tag: str) -> str:
        """The site's unit string of ``tag`` (``""`` when unknown)."""
        return self.units.get(tag, "")

    def nominal_interval_h(self, tag: str) -> float | None:
        """Median positive sampling interval of ``tag`` in hours (``None`` below 2 samples)."""
        cache: dict[str, float | None] = self._intervals  # type: ignore[attr-defined]
        if tag not in cache:
            t = self.series[tag][0]
            steps = np.diff(t)
            steps = steps[steps > 0]
            cache[tag] = float(np.median(steps)) if steps.size else None
        return cache[tag]
