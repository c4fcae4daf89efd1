"""Phase detection: recipe phases when recorded, otherwise phases inferred from the data.

Every batch gets a :class:`PhaseSegmentation`: contiguous spans covering ``[0, end]`` of the
batch, with ``source`` ``"recipe"`` or ``"inferred"`` and a ``method`` saying how.

Recipe phases (``method="recipe"``)
    Spans are sorted by start and made contiguous: each phase runs to the next phase's
    start (a recorded ``end_h`` is used for the last phase only); time before the first
    phase joins the first phase and time after the last recorded end joins the last phase.
    Repeated names get a ``#2``, ``#3`` suffix. Adjustments are listed in ``notes``.

Inferred phases (``method="changepoint"``)
    1. Each tag with at least ``min_samples`` samples is bin-averaged on ``grid_points``
       equal bins over ``[0, end]`` (the averaging smooths it); empty bins are filled by
       linear interpolation between neighbouring bins. Sparse (offline) tags are not used.
    2. Each tag is standardised by its standard deviation over the bins and weighted by how
       much of that variance is structure rather than noise,
       ``w = max(0, 1 - s_noise^2 / s^2)``, where ``s_noise`` is the robust (MAD) scale of
       the bin-to-bin differences divided by sqrt(2). Pure-noise tags get ``w ~ 0``.
    3. Boundaries are the optimal partition of the weighted multivariate signal into ``K``
       segments with a straight line per tag and segment (level steps and slope changes
       both count), each at least ``max(min_phase_fraction * end, min_phase_h)`` long
       (:mod:`bioprocess.analysis.changepoint`).
    4. ``K`` is ``n_phases`` when given; otherwise the smallest ``K <= max_phases`` such
       that one more phase would explain less than ``min_gain`` of the weighted variance.
    Phases are named ``inferred-1 .. inferred-K``.

Fallback (``method="equal-split"``)
    When no tag qualifies (only sparse tags, or none with structure while a fixed count was
    requested), the batch is split into ``fallback_phases`` (or ``n_phases``) equal parts.

Across batches, :func:`segment_batches` keeps inferred phases comparable (the envelope and
the batch-evolution model align phases by name): every batch without recipe phases is
segmented into the same number of phases — the recipe batches' phase sequence when most
batches have one (and then with those names), else the median automatically chosen count
over the reference batches.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from bioprocess.analysis.changepoint import Partition, optimal_partitions
from bioprocess.analysis.trajectories import BatchTrajectories, PhaseSpan

PhaseSource = Literal["recipe", "inferred"]

#: Name prefix of inferred phases.
INFERRED_PREFIX = "inferred-"


@dataclass(frozen=True)
class PhaseDetectionOptions:
    """How phases are inferred when a batch has no recipe phases.

    Parameters
    ----------
    n_phases : fixed number of inferred phases; ``None`` chooses it from the data.
    max_phases : upper bound when choosing from the data.
    min_phase_fraction : minimum phase length as a fraction of the batch length.
    min_phase_h : minimum phase length in hours (the larger of the two minimums applies).
    min_gain : an extra phase must explain at least this fraction of the weighted variance.
    grid_points : number of bins the signal is averaged on.
    min_samples : tags with fewer samples (e.g. offline lab tags) are not used.
    fallback_phases : number of equal parts when nothing in the data can be used.
    """

    n_phases: int | None = None
    max_phases: int = 4
    min_phase_fraction: float = 0.05
    min_phase_h: float = 0.0
    min_gain: float = 0.05
    grid_points: int = 200
    min_samples: int = 20
    fallback_phases: int = 3

    def __post_init__(self) -> None:
        if self.n_phases is not None and self.n_phases < 1:
            raise ValueError(f"n_phases must be >= 1 or None; got {self.n_phases} instead")
        if self.max_phases < 1:
            raise ValueError(f"max_phases must be >= 1; got {self.max_phases} instead")
        if not 0 <= self.min_phase_fraction < 1:
            raise ValueError(
                f"min_phase_fraction must be in [0, 1); got {self.min_phase_fraction} instead"
            )
        if self.grid_points < 10:
            raise ValueError(f"grid_points must be >= 10; got {self.grid_points} instead")


@dataclass(frozen=True)
class PhaseSegmentation:
    """The phases of one batch: contiguous spans covering ``[0, end_h]``.

    Attributes
    ----------
    spans : the phases, in time order, every ``end_h`` filled in.
    source : ``"recipe"`` (recorded phases) or ``"inferred"`` (from the data).
    method : ``"recipe"``, ``"changepoint"`` or ``"equal-split"``.
    open_end : the last phase has no recorded end and the batch no duration (it may still
        be running); comparisons stretch that phase to its typical reference length.
    notes : plain-language remarks on what was adjusted or assumed.
    """

    spans: tuple[PhaseSpan, ...]
    source: PhaseSource
    method: str
    open_end: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(span.name for span in self.spans)

    def boundaries(self) -> np.ndarray:
        """Start of every phase followed by the end of the last, in hours."""
        if not self.spans:
            return np.zeros(0)
        starts = [s.start_h for s in self.spans]
        return np.asarray([*starts, self.spans[-1].end_h], dtype=float)


def _unique_names(names: Sequence[str]) -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for name in names:
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


def recipe_phases(batch: BatchTrajectories) -> PhaseSegmentation:
    """Contiguous spans from the batch's recorded phases (see module notes for the rules)."""
    spans = sorted(batch.phases, key=lambda s: s.start_h)
    notes: list[str] = []
    names = _unique_names([s.name for s in spans])
    if names != [s.name for s in spans]:
        notes.append("repeated phase names were numbered (#2, #3, ...)")
    last = spans[-1]
    end = max(batch.end_h, last.start_h)
    if last.end_h is not None and last.end_h < end:
        notes.append(f"time after the end of phase {last.name!r} joined it")
    open_end = batch.duration_h is None and last.end_h is None
    starts = [s.start_h for s in spans]
    if starts[0] != 0.0:
        notes.append(
            f"time before the first phase ({starts[0]:g} h) joined phase {names[0]!r}"
            if starts[0] > 0
            else f"phase {names[0]!r} started before the batch ({starts[0]:g} h); clipped to 0"
        )
        starts[0] = 0.0
    out = []
    for i, name in enumerate(names):
        stop = starts[i + 1] if i + 1 < len(names) else end
        if i + 1 < len(names) and spans[i].end_h is not None and spans[i].end_h < stop:
            notes.append(f"gap after phase {name!r} joined it (until the next phase starts)")
        start = min(starts[i], end)
        out.append(PhaseSpan(name, start, max(min(stop, end), start)))
    dropped = [s.name for s in out if s.end_h - s.start_h <= 0]
    if dropped and len(dropped) < len(out):
        notes.append(f"zero-length phases dropped: {', '.join(dropped)}")
        out = [s for s in out if s.end_h - s.start_h > 0]
        out[0] = PhaseSpan(out[0].name, 0.0, out[0].end_h)
    return PhaseSegmentation(tuple(out), "recipe", "recipe", open_end, tuple(notes))


def _binned_signal(batch: BatchTrajectories, end: float, options: PhaseDetectionOptions
                   ) -> np.ndarray:
    """Bin-averaged, standardised, structure-weighted signal ``(grid_points, n_tags)``."""
    g = options.grid_points
    columns = []
    for t, v in batch.series.values():
        keep = (t >= 0) & (t <= end)
        if np.count_nonzero(keep) < options.min_samples:
            continue
        t, v = t[keep], v[keep]
        idx = np.minimum((t / end * g).astype(int), g - 1)
        counts = np.bincount(idx, minlength=g)
        sums = np.bincount(idx, weights=v, minlength=g)
        filled = counts > 0
        if np.count_nonzero(filled) < 3:
            continue
        centres = np.arange(g) + 0.5
        col = np.interp(centres, centres[filled], sums[filled] / counts[filled])
        sd = float(np.std(col))
        if not sd > 0:
            continue
        noise = 1.4826 * float(np.median(np.abs(np.diff(col) - np.median(np.diff(col)))))
        noise /= math.sqrt(2.0)
        weight = max(0.0, 1.0 - (noise / sd) ** 2)
        if weight > 0:
            columns.append((col - col.mean()) / sd * math.sqrt(weight))
    if not columns:
        return np.zeros((g, 0))
    return np.column_stack(columns)


def _equal_split(end: float, n: int, names: Sequence[str] | None, note: str
                 ) -> PhaseSegmentation:
    edges = np.linspace(0.0, end, n + 1)
    labels = list(names) if names else [f"{INFERRED_PREFIX}{i + 1}" for i in range(n)]
    spans = tuple(PhaseSpan(labels[i], float(edges[i]), float(edges[i + 1])) for i in range(n))
    return PhaseSegmentation(spans, "inferred", "equal-split", False, (note,))


@dataclass(frozen=True, eq=False)
class _Candidates:
    """Best partitions of one batch for every admissible number of phases."""

    end: float
    min_len: float
    n_tags: int
    max_k: int
    part: Partition | None
    total: float

    def auto_k(self, min_gain: float) -> int:
        """Smallest K after which one more phase explains < ``min_gain`` of the variance."""
        if self.part is None:
            return 0
        k = 1
        costs = self.part.costs
        while k < self.max_k and (costs[k - 1] - costs[k]) >= min_gain * self.total:
            k += 1
        return k


def _candidates(batch: BatchTrajectories, options: PhaseDetectionOptions, max_k: int
                ) -> _Candidates:
    end = batch.end_h
    min_len = max(options.min_phase_fraction * end, options.min_phase_h)
    if not end > 0:
        return _Candidates(end, min_len, 0, 0, None, 0.0)
    min_size = max(3, math.ceil(min_len / end * options.grid_points))
    max_k = max(1, min(max_k, options.grid_points // min_size))
    y = _binned_signal(batch, end, options)
    if y.shape[1] == 0:
        return _Candidates(end, min_len, 0, max_k, None, 0.0)
    part = optimal_partitions(y, max_k, min_size)
    return _Candidates(end, min_len, y.shape[1], max_k, part, float(np.sum(y * y)))


def _segmentation(c: _Candidates, k: int, names: Sequence[str] | None,
                  options: PhaseDetectionOptions) -> PhaseSegmentation:
    """The ``k``-phase segmentation from the candidates (equal split when impossible)."""
    if not c.end > 0:
        return PhaseSegmentation((), "inferred", "none", False,
                                 ("batch has no samples and no duration: no phases",))
    if c.part is None:
        n = k or options.fallback_phases
        return _equal_split(c.end, n, names, "no densely sampled tag with structure: "
                                              f"batch split into {n} equal phases")
    if k > c.max_k or not np.isfinite(c.part.costs[k - 1]):
        return _equal_split(c.end, k, names, f"{k} phases of at least {c.min_len:g} h do "
                                              f"not fit: batch split into {k} equal phases")
    edges = [0.0, *(b / options.grid_points * c.end for b in c.part.boundaries[k - 1]), c.end]
    labels = list(names) if names else [f"{INFERRED_PREFIX}{i + 1}" for i in range(k)]
    spans = tuple(PhaseSpan(labels[i], float(edges[i]), float(edges[i + 1])) for i in range(k))
    explained = 1.0 - c.part.costs[k - 1] / c.total if c.total > 0 else 0.0
    note = (f"{k} phase(s) from change points in {c.n_tags} tag(s); "
            f"piecewise-linear fit explains {explained:.0%} of the weighted variance")
    return PhaseSegmentation(spans, "inferred", "changepoint", False, (note,))


def infer_phases(
    batch: BatchTrajectories,
    options: PhaseDetectionOptions = PhaseDetectionOptions(),
    *,
    names: Sequence[str] | None = None,
) -> PhaseSegmentation:
    """Phases of ``batch`` inferred from its data (see the module notes for the method).

    Parameters
    ----------
    batch : the batch; its recipe phases, if any, are ignored.
    options : detection settings.
    names : names to give the phases; their number fixes the number of phases
        (overriding ``options.n_phases``).
    """
    fixed = len(names) if names else options.n_phases
    c = _candidates(batch, options, fixed or options.max_phases)
    k = fixed or c.auto_k(options.min_gain)
    return _segmentation(c, k, names, options)


def resolve_phases(
    batch: BatchTrajectories, options: PhaseDetectionOptions = PhaseDetectionOptions()
) -> PhaseSegmentation:
    """Recipe phases when the batch has any, else :func:`infer_phases` (one batch alone)."""
    if batch.phases:
        return recipe_phases(batch)
    return infer_phases(batch, options)


def segment_batches(
    batches: Sequence[BatchTrajectories],
    options: PhaseDetectionOptions = PhaseDetectionOptions(),
    *,
    reference_ids: Collection[str] | None = None,
) -> dict[str, PhaseSegmentation]:
    """Phases of every batch, with inferred phases made comparable across the batches.

    Batches with recipe phases use them. The others are segmented into one common number
    of phases: the modal recipe phase sequence (count and names) when at least half of the
    batches have recipe phases; otherwise ``options.n_phases`` or, when that is ``None``,
    the median of the automatically chosen counts over the reference batches (all batches
    when ``reference_ids`` is ``None``).

    Returns
    -------
    dict
        batch id -> :class:`PhaseSegmentation`.
    """
    result: dict[str, PhaseSegmentation] = {}
    missing = [b for b in batches if not b.phases]
    for batch in batches:
        if batch.phases:
            result[batch.batch_id] = recipe_phases(batch)
    if not missing:
        return result
    names: tuple[str, ...] | None = None
    note = ""
    if len(result) >= len(missing):
        sequences = Counter(seg.names for seg in result.values())
        names = sequences.most_common(1)[0][0]
        note = "phase count and names taken from the recipe phases of other batches"
    fixed = len(names) if names else options.n_phases
    cands = {b.batch_id: _candidates(b, options, fixed or options.max_phases) for b in missing}
    if fixed is None:
        pool = [i for i in cands if reference_ids is None or i in reference_ids] or list(cands)
        counts = [k for k in (cands[i].auto_k(options.min_gain) for i in pool) if k > 0]
        fixed = int(round(float(np.median(counts)))) if counts else options.fallback_phases
        note = f"{fixed} phase(s): median count chosen over {len(counts)} batch(es)"
    for batch in missing:
        seg = _segmentation(cands[batch.batch_id], fixed, names, options)
        if note:
            seg = PhaseSegmentation(seg.spans, seg.source, seg.method, seg.open_end,
                                    (*seg.notes, note))
        result[batch.batch_id] = seg
    return result


def reference_phase_order(
    batches: Sequence[BatchTrajectories], segs: Mapping[str, PhaseSegmentation]
) -> tuple[tuple[str, ...], np.ndarray]:
    """Phase names of the batches ordered by median relative start, and their median lengths.

    The length of a phase that is still open (running batch) is not counted; a phase that
    is open in every batch gets NaN.
    """
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


def segmentations_for(
    batches: Sequence[BatchTrajectories],
    segmentations: Mapping[str, PhaseSegmentation] | None,
) -> dict[str, PhaseSegmentation]:
    """The given segmentations, completed with :func:`segment_batches` for missing batches."""
    given = dict(segmentations or {})
    todo = [b for b in batches if b.batch_id not in given]
    if todo:
        given.update(segment_batches(todo))
    return given
