"""Virtual batches with known parameters: the ground truth for tests and benchmarks.

A virtual batch is run with the ideal-control twin at a fine step from known kinetic
parameters; its offline data are sampled once a day with relative assay errors. Since the
truth is known, a filter can be checked against it and a recommendation can be applied
to it (from the same state at the same time) and compared with not applying it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bioprocess.calibration import FITTABLE_STATES, BatchObservations
from bioprocess.kinetics import IX, FeedMedium, FloatArray, KineticParameters
from bioprocess.live.ensemble import DEFAULT_ASSAY_CV, propagate
from bioprocess.recipe import Recipe
from bioprocess.twin import VesselCapacity, simulate_ideal


@dataclass(frozen=True, eq=False)
class VirtualBatch:
    """A batch with known truth: its observations, parameters and true trajectory."""

    observations: BatchObservations
    kinetics: KineticParameters
    t_h: FloatArray
    states: FloatArray  # (n_times, N_CULTURE)

    @property
    def final_titre(self) -> float:
        return float(self.states[-1, IX["titre"]])

    def state_at(self, t_h: float) -> FloatArray:
        i = int(np.argmin(np.abs(self.t_h - t_h)))
        return self.states[i]


def virtual_batch(
    batch_id: str,
    kinetics: KineticParameters,
    recipe: Recipe,
    *,
    vessel: VesselCapacity | None = None,
    rng: np.random.Generator | None = None,
    sample_every_h: float = 24.0,
    first_sample_h: float = 0.5,
    assay_cv: Mapping[str, float] | None = None,
    titre_from_h: float = 72.0,
    dt_h: float = 0.5,
) -> VirtualBatch:
    """Simulate one batch (RK4 step ``dt_h``) and sample its offline data."""
    rng = rng or np.random.default_rng(0)
    cv = {**DEFAULT_ASSAY_CV, **(assay_cv or {})}
    run = simulate_ideal(kinetics, recipe, n_batches=1, vessel=vessel, dt_h=dt_h,
                         record_every_h=dt_h)
    states = run.states[:, :, 0]
    t_s = np.arange(first_sample_h, recipe.duration_h + 1e-9, sample_every_h)
    data = {}
    for name in FITTABLE_STATES:
        tt = t_s[t_s >= titre_from_h] if name == "titre" else t_s
        true = np.interp(tt, run.t_h, states[:, IX[name]])
        data[name] = (tt, np.maximum(true * (1.0 + cv[name] * rng.standard_normal(tt.size)),
                                     0.0))
    return VirtualBatch(BatchObservations(batch_id, recipe, data), kinetics, run.t_h, states)


def draw_kinetics(base: KineticParameters, log_sd: Mapping[str, float],
                  rng: np.random.Generator) -> KineticParameters:
    """A batch's clone: ``base`` with log-normal batch-to-batch variation."""
    return base.with_values(**{
        n: float(getattr(base, n)) * float(np.exp(rng.normal(0.0, sd)))
        for n, sd in sorted(log_sd.items())})


def finish_from(batch: VirtualBatch, t_h: float, recipe: Recipe, *,
                vessel: VesselCapacity | None = None, dt_h: float = 0.25) -> float:
    """Final titre of the virtual batch if ``recipe`` applies from ``t_h`` onwards."""
    y0 = batch.state_at(t_h)[:, None].copy()
    _, traj = propagate(y0, t_h, recipe.duration_h, batch.kinetics, recipe,
                        vessel=vessel or VesselCapacity(), feed=FeedMedium(), dt_h=dt_h)
    return float(traj[-1, IX["titre"], 0])
