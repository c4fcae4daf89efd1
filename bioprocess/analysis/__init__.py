"""Site analytics of batch trajectories: phases, features, envelopes, events and MVDA.

Pure domain logic (numpy in, frozen dataclasses out; no I/O), independent of any tag list,
unit, phase name or simulator. Entry point for a site node: :func:`analyse_site`.

Modules, one job each:

- :mod:`~bioprocess.analysis.trajectories` — the input model (:class:`BatchTrajectories`,
  :class:`PhaseSpan`)
- :mod:`~bioprocess.analysis.phases` — recipe or inferred phases
  (:mod:`~bioprocess.analysis.changepoint` holds the segmentation numerics)
- :mod:`~bioprocess.analysis.features` — per-phase statistics
- :mod:`~bioprocess.analysis.registration` — phase-wise time registration
- :mod:`~bioprocess.analysis.envelope` — :class:`ReferenceEnvelope`
- :mod:`~bioprocess.analysis.events` — deviation events
- :mod:`~bioprocess.analysis.unfolding`, :mod:`~bioprocess.analysis.projection`,
  :mod:`~bioprocess.analysis.limits`, :mod:`~bioprocess.analysis.mvda` — the
  batch-evolution model (:class:`BatchEvolutionModel`)
- :mod:`~bioprocess.analysis.site` — :func:`analyse_site`
"""

from bioprocess.analysis.envelope import Band, EnvelopeSummary, ReferenceEnvelope
from bioprocess.analysis.errors import (
    AnalysisNotFittedError,
    InsufficientReferenceError,
    InvalidTrajectoryError,
)
from bioprocess.analysis.events import DeviationEvent, EventRule, find_deviation_events
from bioprocess.analysis.features import STATISTICS, Feature, batch_features
from bioprocess.analysis.mvda import BatchEvolution, BatchEvolutionModel, EvolutionModelSummary
from bioprocess.analysis.phases import (
    PhaseDetectionOptions,
    PhaseSegmentation,
    infer_phases,
    recipe_phases,
    resolve_phases,
    segment_batches,
)
from bioprocess.analysis.site import (
    AnalysisOptions,
    BatchAnalysis,
    ReferenceSelection,
    SiteAnalysis,
    analyse_site,
    select_reference,
)
from bioprocess.analysis.trajectories import BatchTrajectories, PhaseSpan

__all__ = [
    "STATISTICS",
    "AnalysisNotFittedError",
    "AnalysisOptions",
    "Band",
    "BatchAnalysis",
    "BatchEvolution",
    "BatchEvolutionModel",
    "BatchTrajectories",
    "DeviationEvent",
    "EnvelopeSummary",
    "EventRule",
    "EvolutionModelSummary",
    "Feature",
    "InsufficientReferenceError",
    "InvalidTrajectoryError",
    "PhaseDetectionOptions",
    "PhaseSegmentation",
    "PhaseSpan",
    "ReferenceEnvelope",
    "ReferenceSelection",
    "SiteAnalysis",
    "analyse_site",
    "batch_features",
    "find_deviation_events",
    "infer_phases",
    "recipe_phases",
    "resolve_phases",
    "segment_batches",
    "select_reference",
]
