"""Forecast the rest of a batch from the filter's ensemble, with prediction intervals.

Every member is integrated from the filter's current state to the end of the batch under
the recipe (or a changed recipe, for recommendations); the spread of the members is the
mechanistic uncertainty. The interval of the final titre is for the *measured* harvest
titre, so each member's end point also carries the assay error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from bioprocess.kinetics import IX, FloatArray
from bioprocess.live.ensemble import EnsembleTwin, propagate
from bioprocess.recipe import Recipe

#: States whose trajectories a forecast reports.
KEY_STATES: tuple[str, ...] = ("xv", "glc", "lac", "titre")
#: Central coverage of the reported intervals.
INTERVAL = 0.90


@dataclass(frozen=True)
class StateForecast:
    """Median and 90 % band of one state on the forecast grid (canonical units)."""

    state: str
    median: FloatArray
    low: FloatArray
    high: FloatArray


@dataclass(frozen=True)
class Forecast:
    """The mechanistic forecast of one batch made at ``t_h``.

    ``final_titre_samples`` are the members' measured-harvest titres (g/L);
    ``surprise_p`` is the chi-square tail probability of the recent innovations (small =
    the data are not what the ensemble expected).
    """

    batch_id: str
    t_h: float
    duration_h: float
    t_grid: FloatArray
    states: dict[str, StateForecast]
    final_titre_samples: FloatArray
    surprise_p: float
    n_assimilated: int

    @property
    def fraction(self) -> float:
        return self.t_h / self.duration_h

    @property
    def final_titre(self) -> float:
        return float(np.mean(self.final_titre_samples))

    @property
    def final_titre_sd(self) -> float:
        return float(np.std(self.final_titre_samples, ddof=1))

    def final_titre_interval(self) -> tuple[float, float]:
        a = (1.0 - INTERVAL) / 2.0
        lo, hi = np.quantile(self.final_titre_samples, [a, 1.0 - a])
        return float(lo), float(hi)


def forecast(twin: EnsembleTwin, *, record_every_h: float = 6.0,
             recipe: Recipe | None = None) -> list[Forecast]:
    """Forecast every batch the twin follows to the end of its run, under the recipe as
    commanded (parameters the filter estimates as departures from it, ``past_only``, at their
    nominal value)."""
    end = float(twin.recipe.duration_h)
    times, traj = propagate(twin.y.copy(), twin.t_h, end, twin.forward_kinetics(),
                            recipe or twin.recipe, vessel=twin.vessel, feed=twin.feed,
                            dt_h=twin.settings.dt_h)
    keep = _grid_index(times, record_every_h)
    out = []
    cv = twin.settings.assay_cv.get("titre", 0.06)
    for b, batch in enumerate(twin.batches):
        cols = twin.columns(b)
        states = {}
        for name in KEY_STATES:
            x = traj[keep][:, IX[name], cols]
            lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95], axis=1)
            states[name] = StateForecast(name, med, lo, hi)
        final = traj[-1, IX["titre"], cols]
        measured = final * (1.0 + cv * twin.rng.standard_normal(final.size))
        nis, dof = twin.recent_surprise(b)
        p = float(chi2.sf(nis, dof)) if dof else 1.0
        out.append(Forecast(batch.batch_id, twin.t_h, end, times[keep], states, measured, p,
                            int(twin.n_assimilated[b])))
    return out


def _grid_index(times: FloatArray, every_h: float) -> FloatArray:
    if len(times) == 1:
        return np.asarray([0])
    marks = np.arange(times[0], times[-1] + 1e-9, every_h)
    idx = np.unique(np.searchsorted(times, marks - 1e-9).clip(0, len(times) - 1))
    return np.unique(np.append(idx, len(times) - 1))
