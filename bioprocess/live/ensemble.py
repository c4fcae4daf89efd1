"""Synchronise the ideal-control twin with running batches: an ensemble Kalman filter.

Each batch is followed by an ensemble of ``n_members`` twins that differ in the uncertain
kinetic parameters (log-normal prior around the site's clone) and in the inoculum and
medium (seed density, glucose, glutamine, amino acids). The ensembles of many batches are
stacked as columns of one state array, so following a whole campaign costs one numpy
integration (:mod:`bioprocess.twin`'s right-hand side, RK4).

At each update time the offline measurements that arrived since the previous update are
assimilated with the stochastic (perturbed-observation) EnKF (Evensen 2009) on the
augmented vector [culture states, log-parameters]. Measurements taken between two updates
are compared with each member's trajectory *at their own sample times* (the asynchronous
EnKF of Sakov et al. 2010), so a daily update loses nothing of a sample taken at 08:00.
States are filtered as ``log(x + floor)``, which keeps them positive and makes assay errors
(relative plus an absolute floor) close to Gaussian. After each analysis the spread is
relaxed towards its prior value (RTPS, Whitaker & Hamill 2012) so the ensemble does not
collapse onto a wrong answer. The normalised innovation squared (NIS) of every update is
kept: when the data leave what the ensemble can explain, the twin says so.

References
----------
.. [1] Evensen G (2009). Data Assimilation: The Ensemble Kalman Filter, 2nd ed. Springer.
.. [2] Sakov P, Evensen G, Bertino L (2010). Asynchronous data assimilation with the EnKF.
   Tellus A 62(1):24–29.
.. [3] Whitaker JS, Hamill TM (2012). Evaluating methods to account for system errors in
   ensemble data assimilation. Mon Weather Rev 140(9):3078–3089.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bioprocess.calibration import FITTABLE_STATES, BatchObservations
from bioprocess.kinetics import (
    IX,
    BasalMedium,
    FeedMedium,
    FloatArray,
    KineticParameters,
    initial_culture_state,
)
from bioprocess.recipe import Recipe
from bioprocess.stacking import stack
from bioprocess.twin import VesselCapacity, ideal_rhs

#: Kinetic parameters the filter estimates by default: growth, death, capacity, glucose,
#: lactate shift and productivity (the ones that differ most between batches of a clone).
ESTIMATED_PARAMETERS: tuple[str, ...] = (
    "mu_max",
    "x_max",
    "kd_min",
    "y_x_glc",
    "m_glc",
    "y_lac_glc",
    "q_lac_up",
    "qp_beta",
)

#: Culture states the filter corrects (volume and cumulative feed come from the recipe).
FILTERED_STATES: tuple[str, ...] = ("xv", "xd", "glc", "gln", "lac", "amm", "aa", "titre")

#: Relative assay error (1 sd) assumed when a site declares none.
DEFAULT_ASSAY_CV: dict[str, float] = {
    "xv": 0.08, "glc": 0.06, "gln": 0.10, "lac": 0.08, "amm": 0.10, "titre": 0.06,
}
#: Offset of the log transform, canonical units (also the absolute assay error floor).
LOG_FLOOR: dict[str, float] = {
    "xv": 0.05, "xd": 0.05, "glc": 0.2, "gln": 0.05, "lac": 0.2, "amm": 0.1, "aa": 0.1,
    "titre": 0.03,
}


@dataclass(frozen=True)
class FilterSettings:
    """How the ensemble is built and updated.

    ``prior_log_sd`` is the prior spread of each estimated parameter (log scale, 1 sd);
    ``inoculum_log_sd`` the spread of seed density, ``medium_log_sd`` of the basal medium.
    ``rtps`` is the relaxation-to-prior-spread factor (0 = none, 1 = full).
    """

    n_members: int = 48
    dt_h: float = 1.0
    parameters: tuple[str, ...] = ESTIMATED_PARAMETERS
    prior_log_sd: float | Mapping[str, float] = 0.15
    inoculum_log_sd: float = 0.15
    medium_log_sd: float = 0.05
    assay_cv: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_ASSAY_CV))
    rtps: float = 0.5
    seed: int = 0
    #: Estimated parameters that say how the batch departed from its recipe so far, not what
    #: the culture is (e.g. ``feed_delivery``): they correct the filtered states, and a
    #: forecast runs the recipe as commanded (their nominal value) from now on.
    past_only: tuple[str, ...] = ()

    def log_sd(self, name: str) -> float:
        if isinstance(self.prior_log_sd, Mapping):
            return float(self.prior_log_sd.get(name, 0.15))
        return float(self.prior_log_sd)


@dataclass(frozen=True)
class InnovationCheck:
    """Normalised innovation squared of one update: how surprising the new data were."""

    t_h: float
    nis: float
    dof: int


def _to_z(name: str, x: FloatArray) -> FloatArray:
    return np.log(np.maximum(x, 0.0) + LOG_FLOOR[name])


def _from_z(name: str, z: FloatArray) -> FloatArray:
    return np.maximum(np.exp(z) - LOG_FLOOR[name], 0.0)


def _rk4(f: Callable[[float, FloatArray], FloatArray], t: float, y: FloatArray,
         h: float) -> FloatArray:
    k1 = f(t, y)
    k2 = f(t + 0.5 * h, y + 0.5 * h * k1)
    k3 = f(t + 0.5 * h, y + 0.5 * h * k2)
    k4 = f(t + h, y + h * k3)
    return y + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def propagate(
    y: FloatArray,
    t0: float,
    t1: float,
    p: KineticParameters,
    recipe: Recipe,
    *,
    vessel: VesselCapacity,
    feed: FeedMedium,
    dt_h: float,
) -> tuple[FloatArray, FloatArray]:
    """Integrate stacked states from ``t0`` to ``t1``; return step times and states.

    The returned states have shape (n_steps + 1, N_CULTURE, n_columns) and start at ``t0``.
    """
    n_steps = max(1, int(np.ceil((t1 - t0) / dt_h - 1e-9))) if t1 > t0 else 0
    times = np.linspace(t0, t1, n_steps + 1)
    out = np.empty((n_steps + 1, *y.shape))
    out[0] = y

    def rhs(t: float, yy: FloatArray) -> FloatArray:
        return ideal_rhs(t, yy, p, recipe, vessel, feed)

    for k in range(n_steps):
        y = _rk4(rhs, times[k], y, times[k + 1] - times[k])
        y[:8] = np.maximum(y[:8], 0.0)
        out[k + 1] = y
    return times, out


class EnsembleTwin:
    """Ensembles of ideal-control twins following one or more running batches.

    Parameters
    ----------
    batches : sequence of BatchObservations
        The recipe each batch runs (set points as recorded) and its offline data in
        canonical units; only data up to the filter's current time are ever used.
    base : KineticParameters
        Prior centre (the site's clone, e.g. calibrated to its past batches).
    settings : FilterSettings
    vessel, medium, feed : the site's vessel capacity and media.
    """

    def __init__(
        self,
        batches: Sequence[BatchObservations],
        base: KineticParameters | None = None,
        settings: FilterSettings | None = None,
        *,
        vessel: VesselCapacity | None = None,
        medium: BasalMedium | None = None,
        feed: FeedMedium | None = None,
    ) -> None:
        if not batches:
            raise ValueError("EnsembleTwin needs at least one batch; got none")
        self.settings = settings or FilterSettings()
        self.batches = list(batches)
        self.base = base or KineticParameters()
        self.vessel = vessel or VesselCapacity()
        self.medium = medium or BasalMedium()
        self.feed = feed or FeedMedium()
        s = self.settings
        m, n_b = s.n_members, len(self.batches)
        if m < 8:
            raise ValueError(f"n_members must be >= 8 for a usable ensemble; got {m}")
        unknown = [n for n in s.parameters if not hasattr(self.base, n)]
        if unknown:
            raise ValueError(f"parameters must be KineticParameters fields; got {unknown}")
        rng = np.random.default_rng(s.seed)
        self.rng = rng
        self.n_members = m
        cols = n_b * m
        centre = np.log([float(getattr(self.base, n)) for n in s.parameters])
        self.prior_sd = np.asarray([s.log_sd(n) for n in s.parameters])
        self.prior_centre = centre
        self.theta = centre[:, None] + self.prior_sd[:, None] * rng.standard_normal(
            (len(s.parameters), cols))
        self.recipe = stack([b.recipe for b in self.batches for _ in range(m)])
        seed = np.asarray(self.recipe.seed_density) * np.exp(
            s.inoculum_log_sd * rng.standard_normal(cols))
        self.y = initial_culture_state(seed, np.asarray(self.recipe.initial_volume_l),
                                       self.medium, cols)
        for name in ("glc", "gln", "aa"):
            self.y[IX[name]] *= np.exp(s.medium_log_sd * rng.standard_normal(cols))
        self.t_h = 0.0
        self._assimilated_until = -np.inf
        self.innovations: list[list[InnovationCheck]] = [[] for _ in range(n_b)]
        self.n_assimilated = np.zeros(n_b, dtype=int)

    # -- views ------------------------------------------------------------------------
    def columns(self, b: int) -> slice:
        return slice(b * self.n_members, (b + 1) * self.n_members)

    def kinetics(self, theta: FloatArray | None = None) -> KineticParameters:
        th = self.theta if theta is None else theta
        return self.base.with_values(
            **{n: np.exp(th[i]) for i, n in enumerate(self.settings.parameters)})

    def forward_kinetics(self, theta: FloatArray | None = None) -> KineticParameters:
        """The kinetics to run ahead of now with: ``past_only`` parameters at their nominal
        value (the recipe as commanded from now on)."""
        nominal = KineticParameters()
        return self.kinetics(theta).with_values(
            **{n: getattr(nominal, n) for n in self.settings.past_only})

    def parameter_summary(self, b: int) -> dict[str, dict[str, float]]:
        """Posterior mean, sd (log scale) and 90 % interval of each parameter of batch b."""
        th = self.theta[:, self.columns(b)]
        out = {}
        for i, n in enumerate(self.settings.parameters):
            lo, hi = np.quantile(th[i], [0.05, 0.95])
            out[n] = {"estimate": float(np.exp(th[i].mean())), "log_sd": float(th[i].std(ddof=1)),
                      "low": float(np.exp(lo)), "high": float(np.exp(hi))}
        return out

    # -- filtering --------------------------------------------------------------------
    def advance(self, t_h: float) -> None:
        """Integrate to ``t_h`` and assimilate every sample taken in (last update, t_h]."""
        if t_h < self.t_h:
            raise ValueError(f"the filter is at {self.t_h:.1f} h; cannot go back to {t_h:.1f} h")
        times, traj = propagate(self.y, self.t_h, t_h, self.kinetics(), self.recipe,
                                vessel=self.vessel, feed=self.feed, dt_h=self.settings.dt_h)
        self.y = traj[-1].copy()
        for b, batch in enumerate(self.batches):
            self._assimilate(b, batch, times, traj)
        self._assimilated_until = t_h
        self.t_h = t_h

    def _window(self, batch: BatchObservations, t_hi: float
                ) -> list[tuple[str, float, float]]:
        rows = []
        for name in FITTABLE_STATES:
            if name not in batch.data:
                continue
            tt, vv = batch.data[name]
            sel = (tt > self._assimilated_until) & (tt <= t_hi) & np.isfinite(vv)
            rows += [(name, float(t), float(v)) for t, v in zip(tt[sel], vv[sel], strict=True)]
        return rows

    def _assimilate(self, b: int, batch: BatchObservations, times: FloatArray,
                    traj: FloatArray) -> None:
        rows = self._window(batch, times[-1])
        if not rows:
            return
        cols = self.columns(b)
        m = self.n_members
        hx = np.empty((len(rows), m))
        d = np.empty(len(rows))
        r = np.empty(len(rows))
        for k, (name, t, v) in enumerate(rows):
            i = int(np.clip(np.searchsorted(times, t), 1, len(times) - 1)) if len(times) > 1 else 0
            if len(times) > 1:
                w = (t - times[i - 1]) / max(times[i] - times[i - 1], 1e-12)
                x = (1 - w) * traj[i - 1, IX[name], cols] + w * traj[i, IX[name], cols]
            else:
                x = traj[0, IX[name], cols]
            hx[k] = _to_z(name, x)
            d[k] = _to_z(name, np.asarray(v))
            cv = self.settings.assay_cv.get(name, 0.1)
            sd_x = np.hypot(cv * max(v, 0.0), 0.5 * LOG_FLOOR[name])
            r[k] = (sd_x / (max(v, 0.0) + LOG_FLOOR[name])) ** 2
        z = np.vstack([_to_z(n, self.y[IX[n], cols]) for n in FILTERED_STATES]
                      + [self.theta[:, cols]])
        za = z - z.mean(axis=1, keepdims=True)
        ha = hx - hx.mean(axis=1, keepdims=True)
        c_zy = za @ ha.T / (m - 1)
        c_yy = ha @ ha.T / (m - 1) + np.diag(r)
        innov = d - hx.mean(axis=1)
        nis = float(innov @ np.linalg.solve(c_yy, innov))
        self.innovations[b].append(InnovationCheck(float(times[-1]), nis, len(rows)))
        perturbed = d[:, None] + np.sqrt(r)[:, None] * self.rng.standard_normal((len(rows), m))
        z_new = z + c_zy @ np.linalg.solve(c_yy, perturbed - hx)
        # relaxation to prior spread: keep a share of the spread the data removed
        sd_b = z.std(axis=1, ddof=1)
        mean_a = z_new.mean(axis=1, keepdims=True)
        anom = z_new - mean_a
        sd_a = np.maximum(anom.std(axis=1, ddof=1), 1e-12)
        scale = 1.0 + self.settings.rtps * (sd_b - sd_a) / sd_a
        z_new = mean_a + anom * scale[:, None]
        for i, n in enumerate(FILTERED_STATES):
            self.y[IX[n], cols] = _from_z(n, z_new[i])
        self.theta[:, cols] = z_new[len(FILTERED_STATES):]
        self.n_assimilated[b] += len(rows)

    def recent_surprise(self, b: int, window_h: float = 48.0) -> tuple[float, int]:
        """Summed NIS and degrees of freedom of the updates in the last ``window_h``."""
        recent = [c for c in self.innovations[b] if c.t_h > self.t_h - window_h]
        return float(sum(c.nis for c in recent)), int(sum(c.dof for c in recent))
