"""The hybrid forecast: the filtered mechanistic twin plus a learned correction of its residuals.

Mechanistic core: :mod:`bioprocess.live.ensemble` + :mod:`bioprocess.live.forecast`.
Learned part: a ridge regression (scikit-learn) of the core's final-titre error on past
batches of the site, replayed as if live at several points of the batch; its inputs are
what the core knows at that moment (fraction of the batch elapsed, the core's forecast and
spread, current titre, lactate and viable cells). Its error is measured by leave-one-batch-
out cross-validation, per point of the batch; that error (not the training error) is the
floor of the interval: half-width = max(ensemble 90 % half-width, 1.645 x validated RMSE).
The correction is applied only when it beats no correction in that validation.

Applicability: the correction applies only where its inputs lie inside the range seen in
training, and the whole forecast is trusted only when the batch's estimated kinetics lie
inside the site's experience (:class:`ParameterDomain`) and the latest data were not a
surprise to the ensemble. Otherwise the twin answers "I don't know": the interval is
widened and the reasons are listed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from bioprocess.live.forecast import Forecast

#: Inputs of the residual model, in order.
RESIDUAL_FEATURES: tuple[str, ...] = (
    "fraction", "mechanistic_titre", "relative_spread", "titre_now", "lactate_now", "vcd_now",
)
Z90 = 1.6449
#: Tail probability of the recent innovations below which the data count as a surprise.
SURPRISE_P = 1e-3
#: |z| of an estimated parameter against the site's batches beyond which it is out of domain.
DOMAIN_Z = 3.0
#: Factor on the interval's half-width when the twin does not know.
UNKNOWN_WIDEN = 2.5


FloatVector = np.ndarray


def residual_features(fc: Forecast) -> FloatVector:
    """The residual model's inputs at the moment of forecast ``fc``."""
    now = {name: float(s.median[0]) for name, s in fc.states.items()}
    mean = fc.final_titre
    return np.asarray([
        fc.fraction, mean, fc.final_titre_sd / max(mean, 1e-6), now["titre"], now["lac"],
        now["xv"],
    ])


@dataclass(frozen=True, eq=False)
class ResidualModel:
    """A fitted residual correction with its cross-validated error and input ranges."""

    pipeline: Pipeline
    feature_low: FloatVector
    feature_high: FloatVector
    rmse_cv: float
    rmse_uncorrected: float
    n_examples: int
    batch_ids: tuple[str, ...]
    #: validated error per checkpoint of the batch: the core is surer late than early
    fractions: tuple[float, ...] = ()
    rmse_cv_at: tuple[float, ...] = ()
    rmse_uncorrected_at: tuple[float, ...] = ()

    def error_at(self, fraction: float) -> float:
        """Validated RMSE of the forecast used at ``fraction`` (interpolated, clamped)."""
        values = self.rmse_cv_at if self.useful else self.rmse_uncorrected_at
        if not self.fractions:
            return self.rmse_cv if self.useful else self.rmse_uncorrected
        return float(np.interp(fraction, self.fractions, values))

    @property
    def useful(self) -> bool:
        """Whether the correction beat no correction in leave-one-batch-out validation."""
        return self.rmse_cv < self.rmse_uncorrected

    def in_domain(self, x: FloatVector) -> bool:
        margin = 0.1 * (self.feature_high - self.feature_low)
        return bool(np.all((x >= self.feature_low - margin) & (x <= self.feature_high + margin)))

    def predict(self, x: FloatVector) -> float:
        return float(self.pipeline.predict(x[None, :])[0])


def fit_residual_model(examples: Sequence[tuple[Forecast, float]], alpha: float = 3.0
                       ) -> ResidualModel:
    """Fit the correction on (forecast, actual final titre) pairs of past batches."""
    if len({fc.batch_id for fc, _ in examples}) < 3:
        raise ValueError("the residual model needs forecasts of at least 3 past batches; "
                         f"got {len({fc.batch_id for fc, _ in examples})}")
    x = np.vstack([residual_features(fc) for fc, _ in examples])
    y = np.asarray([actual - fc.final_titre for fc, actual in examples])
    groups = np.asarray([fc.batch_id for fc, _ in examples])
    cv_pred = np.empty_like(y)
    for train, test in LeaveOneGroupOut().split(x, y, groups):
        model = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(x[train], y[train])
        cv_pred[test] = model.predict(x[test])
    model = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(x, y)
    fractions = np.round(x[:, 0], 6)
    levels = tuple(float(f) for f in np.unique(fractions))
    return ResidualModel(
        pipeline=model,
        feature_low=x.min(axis=0),
        feature_high=x.max(axis=0),
        rmse_cv=float(np.sqrt(np.mean((y - cv_pred) ** 2))),
        rmse_uncorrected=float(np.sqrt(np.mean(y**2))),
        n_examples=len(y),
        batch_ids=tuple(sorted(set(groups.tolist()))),
        fractions=levels,
        rmse_cv_at=tuple(float(np.sqrt(np.mean((y - cv_pred)[fractions == f] ** 2)))
                         for f in levels),
        rmse_uncorrected_at=tuple(float(np.sqrt(np.mean(y[fractions == f] ** 2)))
                                  for f in levels),
    )


@dataclass(frozen=True)
class ParameterDomain:
    """Where the site's batches put the estimated kinetic parameters (log scale)."""

    centre: Mapping[str, float]
    spread: Mapping[str, float]
    batch_ids: tuple[str, ...]

    @classmethod
    def from_estimates(cls, estimates: Mapping[str, Mapping[str, Mapping[str, float]]],
                       floor: float = 0.05) -> ParameterDomain:
        """From per-batch ``parameter_summary`` results of the site's (good) batches."""
        if not estimates:
            raise ValueError("a parameter domain needs at least one batch; got none")
        names = next(iter(estimates.values())).keys()
        logs = {n: np.log([e[n]["estimate"] for e in estimates.values()]) for n in names}
        return cls({n: float(v.mean()) for n, v in logs.items()},
                   {n: max(float(v.std(ddof=1)) if v.size > 1 else 0.0, floor)
                    for n, v in logs.items()},
                   tuple(sorted(estimates)))

    def outside(self, summary: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
        """Parameters whose estimate lies beyond ``DOMAIN_Z`` (their z-scores)."""
        out = {}
        for n, s in summary.items():
            if n not in self.centre:
                continue
            z = (np.log(s["estimate"]) - self.centre[n]) / np.hypot(self.spread[n], s["log_sd"])
            if abs(z) > DOMAIN_Z:
                out[n] = float(z)
        return out


@dataclass(frozen=True)
class HybridForecast:
    """What the live twin says about a batch's final titre at one moment."""

    batch_id: str
    t_h: float
    fraction: float
    mechanistic: float
    mechanistic_low: float
    mechanistic_high: float
    correction: float
    final_titre: float
    low: float
    high: float
    knows: bool
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def status(self) -> str:
        return "forecast" if self.knows else "I don't know"


def hybrid_forecast(fc: Forecast, residual: ResidualModel | None = None,
                    domain: ParameterDomain | None = None,
                    parameters: Mapping[str, Mapping[str, float]] | None = None
                    ) -> HybridForecast:
    """Combine the mechanistic forecast with the residual correction and the domain checks."""
    lo_m, hi_m = fc.final_titre_interval()
    mean, flags = fc.final_titre, []
    half = (hi_m - lo_m) / 2.0
    correction = 0.0
    if residual is not None:
        # never narrower than the core's validated error at this point of the batch (past
        # batches replayed), nor than the ensemble's own spread: max, not a sum, because the
        # validated error already contains what the spread describes
        x = residual_features(fc)
        if residual.useful and residual.in_domain(x):
            correction = residual.predict(x)
            mean += correction
        elif residual.useful:
            flags.append("residual correction not applied: inputs outside its training range")
        half = max(half, Z90 * residual.error_at(fc.fraction))
    surprised = fc.surprise_p < SURPRISE_P
    if surprised:
        flags.append(f"recent data not explained by the twin (innovation p = {fc.surprise_p:.1e})")
    outside = domain.outside(parameters) if domain is not None and parameters else {}
    for name, z in outside.items():
        flags.append(f"{name} outside the site's batches (z = {z:+.1f})")
    knows = not surprised and not outside
    if not knows:
        half *= UNKNOWN_WIDEN
    return HybridForecast(fc.batch_id, fc.t_h, fc.fraction, fc.final_titre, lo_m, hi_m,
                          correction, mean, max(mean - half, 0.0), mean + half, knows,
                          tuple(flags))

