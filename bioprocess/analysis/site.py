"""The site's analysis of one process: phases, features, envelopes, events and MVDA.

:func:`analyse_site` is what the site node calls, once per process (the caller groups
batches by process): it segments every batch into phases, computes per-phase features,
builds a reference envelope per tag from the good batches, finds every batch's deviation
events against them, and fits the batch-evolution model on the good batches to score
every batch.

Choosing the good (reference) batches is the caller's job; the expected rule is: status
complete, no deviation record, and every quality result within its specification. When
fewer than ``options.min_batches`` of them are among ``batches``, the analysis falls back
to ``fallback_batch_ids`` (default: every batch passed, so pass complete batches only) and
says so in :attr:`SiteAnalysis.reference` (``fallback=True``). With still too few, no
envelope or model is built and every batch still gets its phases and features.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from bioprocess.analysis.envelope import EnvelopeSummary, ReferenceEnvelope
from bioprocess.analysis.errors import InsufficientReferenceError, InvalidTrajectoryError
from bioprocess.analysis.events import DeviationEvent, EventRule, find_deviation_events
from bioprocess.analysis.features import Feature, batch_features
from bioprocess.analysis.mvda import BatchEvolution, BatchEvolutionModel, EvolutionModelSummary
from bioprocess.analysis.phases import PhaseDetectionOptions, PhaseSegmentation, segment_batches
from bioprocess.analysis.trajectories import BatchTrajectories


@dataclass(frozen=True)
class AnalysisOptions:
    """Settings of :func:`analyse_site` (defaults suit hourly-to-minutely data).

    Parameters
    ----------
    phases : how phases are inferred for batches without recipe phases.
    envelope_k : envelope half-width in sds.
    envelope_grid_points : envelope grid points per phase.
    min_batches : minimum reference batches for an envelope.
    sd_floor : envelope sd floor as a fraction of the tag's reference spread.
    envelope_smooth : judge cell means (default) rather than single samples.
    events : the deviation-event rule.
    mvda_grid_points : time slices per phase of the batch-evolution model.
    mvda_explained_variance, mvda_max_components : component selection.
    mvda_min_batches : minimum reference batches for the batch-evolution model.
    mvda_scale_floor : floor on a variable's scaling sd (fraction of its tag's sd).
    spe_limit_method : ``"box"`` or ``"jackson-mudholkar"``.
    gap_factor : sampling gaps longer than this many median intervals are missing data.
    tags : analyse only these tags (default: all).
    """

    phases: PhaseDetectionOptions = field(default_factory=PhaseDetectionOptions)
    envelope_k: float = 3.0
    envelope_grid_points: int = 50
    min_batches: int = 3
    sd_floor: float = 0.01
    envelope_smooth: bool = True
    events: EventRule = field(default_factory=EventRule)
    mvda_grid_points: int = 10
    mvda_explained_variance: float = 0.9
    mvda_max_components: int = 5
    mvda_min_batches: int = 5
    mvda_scale_floor: float = 0.05
    spe_limit_method: str = "box"
    gap_factor: float = 3.0
    tags: frozenset[str] | None = None


@dataclass(frozen=True)
class ReferenceSelection:
    """Which batches the envelopes and the model were built from, and why."""

    batch_ids: tuple[str, ...]
    requested_ids: tuple[str, ...]
    fallback: bool
    reason: str


@dataclass(frozen=True)
class BatchAnalysis:
    """Everything computed for one batch."""

    batch_id: str
    phases: PhaseSegmentation
    features: tuple[Feature, ...]
    events: tuple[DeviationEvent, ...]
    evolution: BatchEvolution | None
    is_reference: bool
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SiteAnalysis:
    """The analysis of one process at one site."""

    batches: Mapping[str, BatchAnalysis]
    envelopes: Mapping[str, EnvelopeSummary]
    evolution: EvolutionModelSummary | None
    reference: ReferenceSelection
    notes: tuple[str, ...]


def select_reference(
    batches: Sequence[BatchTrajectories],
    good_batch_ids: Collection[str],
    min_batches: int,
    fallback_batch_ids: Collection[str] | None = None,
) -> ReferenceSelection:
    """The reference batches: the good ones present, or the fallback when too few."""
    present = [b.batch_id for b in batches]
    requested = tuple(i for i in present if i in set(good_batch_ids))
    if len(requested) >= min_batches:
        return ReferenceSelection(requested, requested, False,
                                  f"{len(requested)} good batch(es)")
    pool = set(present if fallback_batch_ids is None else fallback_batch_ids)
    chosen = tuple(i for i in present if i in pool)
    return ReferenceSelection(
        chosen, requested, True,
        f"good batches must number at least {min_batches}; got {len(requested)} instead: "
        f"fell back to {len(chosen)} "
        + ("batch(es) passed" if fallback_batch_ids is None else "fallback batch(es)"),
    )


def analyse_site(
    batches: Sequence[BatchTrajectories],
    good_batch_ids: Collection[str],
    *,
    options: AnalysisOptions = AnalysisOptions(),
    fallback_batch_ids: Collection[str] | None = None,
) -> SiteAnalysis:
    """Phases, features, envelopes, deviation events and T²/SPE for one process.

    Parameters
    ----------
    batches : every batch of the process at the site (complete or running).
    good_batch_ids : the good batches (see the module docstring for the expected rule).
    options : settings.
    fallback_batch_ids : reference pool when fewer than ``options.min_batches`` good
        batches are present (default: all ``batches``).

    Returns
    -------
    SiteAnalysis
        Per batch: phases (with source), features, events, T²/SPE; per tag: the envelope
        with its reference batch ids; the batch-evolution model summary; notes.
    """
    ids = [b.batch_id for b in batches]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise InvalidTrajectoryError(
            f"batch ids must be unique; got duplicates {', '.join(dupes)} instead"
        )
    notes: list[str] = []
    reference = select_reference(batches, good_batch_ids, options.min_batches,
                                 fallback_batch_ids)
    if reference.fallback:
        notes.append(reference.reason)
    ref_set = set(reference.batch_ids)
    refs = [b for b in batches if b.batch_id in ref_set]
    segs = segment_batches(batches, options.phases, reference_ids=ref_set)

    tags: list[str] = []
    for batch in batches:
        tags += [t for t in batch.tags if t not in tags]
    if options.tags is not None:
        tags = [t for t in tags if t in options.tags]

    envelopes: dict[str, ReferenceEnvelope] = {}
    for tag in tags:
        estimator = ReferenceEnvelope(
            k=options.envelope_k, grid_points=options.envelope_grid_points,
            min_batches=options.min_batches, sd_floor=options.sd_floor,
            gap_factor=options.gap_factor, smooth=options.envelope_smooth)
        try:
            envelopes[tag] = estimator.fit(refs, tag, segmentations=segs)
        except InsufficientReferenceError as error:
            notes.append(f"no envelope for tag {tag!r}: {error}")

    model: BatchEvolutionModel | None = None
    if len(refs) >= options.mvda_min_batches:
        try:
            model = BatchEvolutionModel(
                grid_points=options.mvda_grid_points,
                explained_variance=options.mvda_explained_variance,
                max_components=options.mvda_max_components,
                min_batches=options.mvda_min_batches,
                spe_limit_method=options.spe_limit_method, gap_factor=options.gap_factor,
                scale_floor=options.mvda_scale_floor,
                tags=None if options.tags is None else sorted(options.tags),
            ).fit(refs, segmentations=segs)
        except InsufficientReferenceError as error:
            notes.append(f"no batch-evolution model: {error}")
    else:
        notes.append(
            f"no batch-evolution model: reference batches must number at least "
            f"{options.mvda_min_batches}; got {len(refs)} instead"
        )

    results: dict[str, BatchAnalysis] = {}
    for batch in batches:
        seg = segs[batch.batch_id]
        events: list[DeviationEvent] = []
        for envelope in envelopes.values():
            events += find_deviation_events(batch, envelope, seg, options.events)
        events.sort(key=lambda e: (e.start_h, e.tag, e.direction))
        batch_notes: list[str] = list(seg.notes)
        unknown = [p for p in seg.names
                   if envelopes and not any(p in e.phase_names_ for e in envelopes.values())]
        if unknown:
            batch_notes.append(f"phases without envelope: {', '.join(unknown)}")
        evolution = None
        if model is not None:
            scored = model.score_batch(batch, seg)
            if scored.coverage > 0:
                evolution = scored
            else:
                batch_notes.append("no data on the batch-evolution model's variables")
        results[batch.batch_id] = BatchAnalysis(
            batch_id=batch.batch_id, phases=seg,
            features=batch_features(batch, seg, tags),
            events=tuple(events), evolution=evolution,
            is_reference=batch.batch_id in ref_set, notes=tuple(batch_notes),
        )
    return SiteAnalysis(
        batches=results,
        envelopes={tag: env.summary() for tag, env in envelopes.items()},
        evolution=None if model is None else model.summary(),
        reference=reference,
        notes=tuple(notes),
    )
