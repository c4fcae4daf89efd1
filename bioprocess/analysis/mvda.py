"""Multivariate batch-evolution model: PCA of good batches, Hotelling T² and SPE.

Model (Nomikos & MacGregor 1994, 1995)
    Every reference batch is registered phase by phase (:mod:`registration`, cell means on
    ``grid_points`` cells per phase) and unfolded batch-wise into one row over all
    (time slice, tag) pairs (:mod:`unfolding`); each column is autoscaled (mean 0, sd 1
    over the reference batches) and a PCA is fitted. The number of components is the
    smallest reaching ``explained_variance`` of the variance, capped by ``max_components``
    and by ``N - 2``.

What enters the model
    Tags with samples in *every* reference batch and phases present in every reference
    batch; anything else is excluded and said so in ``excluded_tags_`` / ``notes_``.
    Sparse tags — fewer samples in some reference batch than there are time slices, such
    as daily lab results — are excluded too: interpolating them onto the grid would make the
    model learn where the lab samples happened to fall rather than the process; their
    per-phase features and envelope events describe them instead. A column's scaling sd is
    floored at ``scale_floor`` times its tag's overall sd, so near-constant columns (set
    points) do not blow small differences up.
    Columns observed in fewer than half of the reference batches, or without variance, are
    dropped; remaining missing cells (data gaps) are imputed with the column mean (0 after
    scaling) for the fit.

Batch-level statistics
    ``T²`` = sum of squared scores over their variances; ``SPE`` = squared residual summed
    over the observed variables (scaled up by ``n_variables / n_observed`` when some are
    missing). Limits at 95 % and 99 %: T² from the F distribution for a new batch
    (Tracy et al. 1992); SPE from Box's ``g chi²_h`` approximation fitted by moments to the
    **leave-one-out** SPE of the reference batches (each reference batch projected on the
    model fitted without it), so the limit describes batches the model has not seen;
    ``spe_limit_method="jackson-mudholkar"`` uses the eigenvalues of the residual
    components instead (Jackson & Mudholkar 1979).

Over time
    At every time slice ``k`` the scores are estimated from the data up to and including
    ``k`` by the known-data regression (Nelson et al. 1996) — what an operator would see
    with the batch running; ``T²(k)`` uses those scores and ``SPE(k)`` is the instantaneous
    SPE of slice ``k`` (its own residuals only). Their 95/99 % limits are Box
    approximations fitted per slice to the leave-one-out values of the reference batches.
    At the last slice ``T²(k)`` equals the batch-level T² (whose limit is the F limit).

References
----------
.. [1] Nomikos, P., MacGregor, J. F. (1994). Monitoring batch processes using multiway
   principal component analysis. *AIChE J.* 40(8), 1361-1375.
.. [2] Nomikos, P., MacGregor, J. F. (1995). Multivariate SPC charts for monitoring batch
   processes. *Technometrics* 37(1), 41-59.
.. [3] Jackson, J. E., Mudholkar, G. S. (1979). Control procedures for residuals associated
   with principal component analysis. *Technometrics* 21(3), 341-349.
.. [4] Nelson, P. R. C., Taylor, P. A., MacGregor, J. F. (1996). Missing data methods in
   PCA and PLS. *Chemometrics Intell. Lab. Syst.* 35(1), 45-65.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Self

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from bioprocess.analysis.errors import InsufficientReferenceError, ensure_fitted
from bioprocess.analysis.limits import (
    box_limit,
    box_limits_by_column,
    jackson_mudholkar_limit,
    t2_limit,
)
from bioprocess.analysis.phases import (
    PhaseSegmentation,
    reference_phase_order,
    segmentations_for,
)
from bioprocess.analysis.projection import PcaState, Projection, fit_pca, project
from bioprocess.analysis.trajectories import BatchTrajectories
from bioprocess.analysis.unfolding import UnfoldingLayout

CONFIDENCE = (0.95, 0.99)


@dataclass(frozen=True, eq=False)
class BatchEvolution:
    """T² and SPE of one batch against the batch-evolution model.

    Attributes
    ----------
    batch_id : the batch.
    t2, spe : batch-level Hotelling T² and SPE (finite).
    t2_limit_95, t2_limit_99, spe_limit_95, spe_limit_99 : the model's limits.
    scores : principal-component scores.
    in_reference : the batch is one of the model's reference batches (in-sample values).
    coverage : fraction of the model's variables observed in this batch.
    latest_slice : index of the last time slice with data (``-1``: none).
    complete : the last time slice of the model has data (a finished batch). For a
        running batch the batch-level values extrapolate what has been seen; read
        ``t2_over_time``/``spe_over_time`` at ``latest_slice`` against their limits.
    t2_contributions, spe_contributions : ``(tag, contribution)`` pairs, largest
        absolute first (Kourti & MacGregor 1996).
    slice_phase, slice_u, slice_time_h : phase name, registered clock and hours since
        batch start of every time slice.
    t2_over_time, spe_over_time : ``T²(k)`` and instantaneous ``SPE(k)`` (NaN: no data).
    t2_limit_99_over_time, spe_limit_99_over_time, t2_limit_95_over_time,
    spe_limit_95_over_time : per-slice limits.
    """

    batch_id: str
    t2: float
    spe: float
    t2_limit_95: float
    t2_limit_99: float
    spe_limit_95: float
    spe_limit_99: float
    scores: tuple[float, ...]
    in_reference: bool
    coverage: float
    latest_slice: int
    complete: bool
    t2_contributions: tuple[tuple[str, float], ...]
    spe_contributions: tuple[tuple[str, float], ...]
    slice_phase: tuple[str, ...]
    slice_u: np.ndarray
    slice_time_h: np.ndarray
    t2_over_time: np.ndarray
    spe_over_time: np.ndarray
    t2_limit_95_over_time: np.ndarray
    t2_limit_99_over_time: np.ndarray
    spe_limit_95_over_time: np.ndarray
    spe_limit_99_over_time: np.ndarray

    @property
    def beyond_99(self) -> bool:
        """T² or SPE above its 99 % limit (at the latest slice for a running batch)."""
        if self.complete:
            return self.t2 > self.t2_limit_99 or self.spe > self.spe_limit_99
        k = self.latest_slice
        return k >= 0 and bool(self.t2_over_time[k] > self.t2_limit_99_over_time[k]
                               or self.spe_over_time[k] > self.spe_limit_99_over_time[k])


@dataclass(frozen=True)
class EvolutionModelSummary:
    """What the batch-evolution model is built on, as plain data."""

    reference_batch_ids: tuple[str, ...]
    tags: tuple[str, ...]
    excluded_tags: tuple[tuple[str, str], ...]
    phase_names: tuple[str, ...]
    grid_points: int
    n_variables: int
    n_components: int
    explained_variance_ratio: tuple[float, ...]
    t2_limit_95: float
    t2_limit_99: float
    spe_limit_95: float
    spe_limit_99: float
    spe_limit_method: str
    notes: tuple[str, ...]


class BatchEvolutionModel(BaseEstimator):
    """Multiway PCA of good batches with Hotelling T² and SPE, per batch and over time.

    Parameters
    ----------
    grid_points : registered time slices per phase.
    explained_variance : cumulative explained variance that sets the number of components.
    max_components : cap on the number of components (also capped at ``N - 2``).
    min_batches : minimum number of reference batches.
    spe_limit_method : ``"box"`` (leave-one-out SPE, default) or ``"jackson-mudholkar"``.
    gap_factor : a sampling gap longer than this many median intervals is missing data.
    scale_floor : floor on a variable's scaling sd, as a fraction of its tag's sd over all
        reference batches and times (keeps near-constant variables, e.g. set points, from
        turning tiny differences into huge scaled values).
    tags : restrict the model to these tags (default: every tag common to the batches).

    Attributes
    ----------
    layout_ : UnfoldingLayout (tags, phases, grid).
    tags_, phase_names_ : what the model uses.
    excluded_tags_ : dict tag -> reason.
    keep_ : ndarray of bool, unfolded variables kept.
    pca_ : PcaState.
    n_components_ : int.
    explained_variance_ratio_ : ndarray, ratio of every component.
    t2_limits_, spe_limits_ : dict confidence -> limit.
    t2_time_limits_, spe_time_limits_ : dict confidence -> ndarray per slice.
    loo_t2_, loo_spe_ : ndarray, leave-one-out statistics of the reference batches.
    reference_batch_ids_ : tuple of str.
    notes_ : tuple of str.

    Notes
    -----
    See the module docstring. The input is a list of batches, not a matrix, so only the
    scikit-learn conventions that do not assume tabular input apply.
    """

    _parameter_constraints: dict = {
        "grid_points": [Interval(Integral, 2, None, closed="left")],
        "explained_variance": [Interval(Real, 0, 1, closed="right")],
        "max_components": [Interval(Integral, 1, None, closed="left")],
        "min_batches": [Interval(Integral, 4, None, closed="left")],
        "spe_limit_method": [StrOptions({"box", "jackson-mudholkar"})],
        "gap_factor": [Interval(Real, 1, None, closed="left")],
        "scale_floor": [Interval(Real, 0, None, closed="left")],
        "tags": [list, tuple, set, frozenset, None],
    }

    def __init__(self, *, grid_points: int = 10, explained_variance: float = 0.9,
                 max_components: int = 5, min_batches: int = 5,
                 spe_limit_method: str = "box", gap_factor: float = 3.0,
                 scale_floor: float = 0.05, tags: Sequence[str] | None = None) -> None:
        self.grid_points = grid_points
        self.explained_variance = explained_variance
        self.max_components = max_components
        self.min_batches = min_batches
        self.spe_limit_method = spe_limit_method
        self.gap_factor = gap_factor
        self.scale_floor = scale_floor
        self.tags = tags

    def fit(self, batches: Sequence[BatchTrajectories], y: None = None, *,
            segmentations: Mapping[str, PhaseSegmentation] | None = None) -> Self:
        """Fit the model on the reference (good) ``batches``.

        Raises
        ------
        InsufficientReferenceError
            Fewer than ``min_batches`` batches, or no tag/phase common to all of them.
        """
        self._validate_params()
        n = len(batches)
        if n < self.min_batches:
            raise InsufficientReferenceError(
                f"the number of reference batches must be at least "
                f"min_batches={self.min_batches}; got {n} instead"
            )
        segs = segmentations_for(batches, segmentations)
        tags, excluded = _common_tags(batches, self.tags)
        phase_names, lengths = reference_phase_order(batches, segs)
        common = [p for p in phase_names
                  if all(p in segs[b.batch_id].names for b in batches)]
        notes = [f"phase {p!r} is not in every reference batch: excluded"
                 for p in phase_names if p not in common]
        notes += [f"tag {tag!r} excluded: {why}" for tag, why in excluded.items()]
        if not tags or not common:
            raise InsufficientReferenceError(
                "the reference batches must share at least one tag and one phase; "
                f"got {len(tags)} common tag(s) and {len(common)} common phase(s) instead"
            )
        n_slices = len(common) * self.grid_points
        for tag in list(tags):
            fewest = min(b.series[tag][0].size for b in batches)
            if fewest < n_slices:
                tags.remove(tag)
                excluded[tag] = (f"sparse: {fewest} sample(s) in a reference batch for "
                                 f"{n_slices} time slices (its per-phase features describe it)")
                notes.append(f"tag {tag!r} excluded: {excluded[tag]}")
        if not tags:
            raise InsufficientReferenceError(
                "the reference batches must share at least one densely sampled tag "
                f"(one sample per time slice, {n_slices} slices); got none instead"
            )
        keep_phase = [phase_names.index(p) for p in common]
        layout = UnfoldingLayout(tuple(tags), tuple(common), self.grid_points,
                                 lengths[keep_phase], self.gap_factor)
        x = np.stack([layout.unfold(b, segs[b.batch_id]).ravel() for b in batches])
        observed = np.mean(np.isfinite(x), axis=0)
        with np.errstate(invalid="ignore"):
            spread = np.nanstd(np.where(observed >= 0.5, x, 0.0), axis=0)
        keep = (observed >= 0.5) & (spread > 1e-12 * (1.0 + np.nanmax(np.abs(x), axis=0,
                                                                         initial=0.0)))
        if not keep.any():
            raise InsufficientReferenceError(
                "the reference batches must have at least one varying registered "
                "variable; got none instead"
            )
        if (~keep).any():
            notes.append(f"{int((~keep).sum())} of {keep.size} unfolded variables dropped "
                         "(observed in < 50 % of reference batches, or constant)")
        # Keep whole slices' structure: dropped variables are treated as never observed.
        xk = np.where(keep, x, np.nan)
        floor = self.scale_floor * _tag_spread(xk, len(tags))
        pca = _fit(xk, keep, None, self, floor)
        a = pca.loadings.shape[1]
        loo = [_project_loo(xk, keep, i, a, self, len(tags), floor) for i in range(n)]

        self.layout_ = layout
        self.tags_ = layout.tags
        self.phase_names_ = layout.phase_names
        self.excluded_tags_ = excluded
        self.keep_ = keep
        self.pca_ = pca
        self.n_components_ = a
        self.explained_variance_ratio_ = pca.explained_ratio
        with warnings.catch_warnings():  # variables never observed: no profile
            warnings.simplefilter("ignore", RuntimeWarning)
            profile = np.nanmean(np.stack([p.resid2 for p in loo]), axis=0)
        fill = float(np.nanmean(profile[keep])) if np.isfinite(profile[keep]).any() else 1.0
        self.residual_profile_ = np.where(keep, np.where(np.isfinite(profile), profile, fill),
                                          0.0)
        self.loo_t2_ = np.asarray([p.t2 for p in loo])
        self.loo_spe_ = np.asarray([p.spe for p in loo])
        loo_t2_time = np.stack([p.t2_time for p in loo])
        loo_spe_time = np.stack([p.spe_time for p in loo])
        self.t2_limits_ = {c: t2_limit(a, n, c) for c in CONFIDENCE}
        if self.spe_limit_method == "box":
            self.spe_limits_ = {c: box_limit(self.loo_spe_, c) for c in CONFIDENCE}
        else:
            self.spe_limits_ = {c: jackson_mudholkar_limit(pca.residual_eigenvalues, c)
                                for c in CONFIDENCE}
        self.t2_time_limits_ = {c: box_limits_by_column(loo_t2_time, c) for c in CONFIDENCE}
        self.spe_time_limits_ = {c: box_limits_by_column(loo_spe_time, c) for c in CONFIDENCE}
        self.reference_batch_ids_ = tuple(b.batch_id for b in batches)
        self.notes_ = tuple(notes)
        return self

    def score_batch(self, batch: BatchTrajectories,
                    segmentation: PhaseSegmentation | None = None) -> BatchEvolution:
        """T², SPE and their evolution for ``batch`` (complete or in progress)."""
        ensure_fitted(self)
        seg = segmentation or segmentations_for([batch], None)[batch.batch_id]
        layout = self.layout_
        x = np.where(self.keep_, layout.unfold(batch, seg).ravel(), np.nan)
        proj = project(self.pca_, x, len(layout.tags),
                       residual_profile=self.residual_profile_)
        t2 = proj.t2
        spe = proj.spe if np.isfinite(proj.spe) else 0.0
        seen = np.flatnonzero(np.isfinite(proj.spe_time))
        latest = int(seen[-1]) if seen.size else -1
        return BatchEvolution(
            batch_id=batch.batch_id, t2=float(t2), spe=float(spe),
            t2_limit_95=self.t2_limits_[0.95], t2_limit_99=self.t2_limits_[0.99],
            spe_limit_95=self.spe_limits_[0.95], spe_limit_99=self.spe_limits_[0.99],
            scores=tuple(float(s) for s in proj.scores),
            in_reference=batch.batch_id in self.reference_batch_ids_,
            coverage=float(proj.coverage),
            latest_slice=latest, complete=latest == len(proj.spe_time) - 1,
            t2_contributions=_ranked(layout.tags, proj.t2_contrib),
            spe_contributions=_ranked(layout.tags, proj.spe_contrib),
            slice_phase=layout.slice_phase, slice_u=layout.slice_u,
            slice_time_h=layout.slice_time_h(seg),
            t2_over_time=proj.t2_time, spe_over_time=proj.spe_time,
            t2_limit_95_over_time=self.t2_time_limits_[0.95],
            t2_limit_99_over_time=self.t2_time_limits_[0.99],
            spe_limit_95_over_time=self.spe_time_limits_[0.95],
            spe_limit_99_over_time=self.spe_time_limits_[0.99],
        )

    def summary(self) -> EvolutionModelSummary:
        """The fitted model as a frozen record."""
        ensure_fitted(self)
        return EvolutionModelSummary(
            reference_batch_ids=self.reference_batch_ids_, tags=self.tags_,
            excluded_tags=tuple(sorted(self.excluded_tags_.items())),
            phase_names=self.phase_names_, grid_points=self.grid_points,
            n_variables=int(self.keep_.sum()), n_components=self.n_components_,
            explained_variance_ratio=tuple(
                float(r) for r in self.explained_variance_ratio_[:self.n_components_]),
            t2_limit_95=self.t2_limits_[0.95], t2_limit_99=self.t2_limits_[0.99],
            spe_limit_95=self.spe_limits_[0.95], spe_limit_99=self.spe_limits_[0.99],
            spe_limit_method=self.spe_limit_method, notes=self.notes_,
        )


def _common_tags(batches: Sequence[BatchTrajectories], wanted: Sequence[str] | None
                 ) -> tuple[list[str], dict[str, str]]:
    seen: dict[str, list[str]] = {}
    for batch in batches:
        for tag in batch.tags:
            seen.setdefault(tag, []).append(batch.batch_id)
    excluded: dict[str, str] = {}
    tags = []
    for tag, having in seen.items():
        if wanted is not None and tag not in wanted:
            continue
        if len(having) == len(batches):
            tags.append(tag)
        else:
            lacking = [b.batch_id for b in batches if b.batch_id not in having]
            excluded[tag] = f"no samples in reference batch(es) {', '.join(lacking)}"
    for tag in wanted or ():
        if tag not in seen:
            excluded[tag] = "no samples in any reference batch"
    return tags, excluded


def _fit(x: np.ndarray, keep: np.ndarray, n_components: int | None,
         model: BatchEvolutionModel, floor: np.ndarray) -> PcaState:
    """PCA on the kept columns, expanded back to all columns (zero loadings elsewhere)."""
    sub = fit_pca(x[:, keep], n_components, explained=model.explained_variance,
                  max_components=model.max_components, scale_floor=floor[keep])
    j = keep.size
    mean, scale = np.zeros(j), np.ones(j)
    loadings = np.zeros((j, sub.loadings.shape[1]))
    mean[keep], scale[keep], loadings[keep] = sub.mean, sub.scale, sub.loadings
    return PcaState(mean, scale, loadings, sub.eigenvalues, sub.residual_eigenvalues,
                    sub.explained_ratio, keep)


def _project_loo(x: np.ndarray, keep: np.ndarray, i: int, a: int,
                 model: BatchEvolutionModel, n_tags: int, floor: np.ndarray) -> Projection:
    """Project reference batch ``i`` on the model fitted without it."""
    pca = _fit(np.delete(x, i, axis=0), keep, a, model, floor)
    return project(pca, x[i], n_tags)


def _tag_spread(x: np.ndarray, n_tags: int) -> np.ndarray:
    """Per variable: the sd of its tag over all reference batches and time slices."""
    by_tag = x.reshape(x.shape[0], -1, n_tags)
    with warnings.catch_warnings():  # a tag whose variables were all dropped: no sd
        warnings.simplefilter("ignore", RuntimeWarning)
        sd = np.nanstd(by_tag, axis=(0, 1))
    sd = np.where(np.isfinite(sd), sd, 0.0)
    return np.tile(sd, by_tag.shape[1])


def _ranked(tags: Sequence[str], values: np.ndarray) -> tuple[tuple[str, float], ...]:
    order = np.argsort(-np.abs(values), kind="stable")
    return tuple((tags[i], float(values[i])) for i in order)
