"""Follow batches as if live, and train the hybrid twin on a site's past batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from bioprocess.calibration import BatchObservations
from bioprocess.kinetics import KineticParameters
from bioprocess.live.ensemble import EnsembleTwin, FilterSettings
from bioprocess.live.forecast import Forecast, forecast
from bioprocess.live.hybrid import (
    HybridForecast,
    ParameterDomain,
    ResidualModel,
    fit_residual_model,
    hybrid_forecast,
)
from bioprocess.twin import VesselCapacity

#: Points of the batch (fraction of its duration) at which forecasts are judged.
CHECKPOINTS: tuple[float, ...] = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class LiveUpdate:
    """One update of the live twin: the mechanistic and the hybrid forecast, the estimates."""

    forecast: Forecast
    hybrid: HybridForecast
    parameters: Mapping[str, Mapping[str, float]]


@dataclass(frozen=True, eq=False)
class HybridTwin:
    """Everything the live twin learned from a site's past batches."""

    base: KineticParameters
    settings: FilterSettings
    residual: ResidualModel | None
    domain: ParameterDomain | None
    vessel: VesselCapacity | None = None


def follow(
    batches: Sequence[BatchObservations],
    twin: HybridTwin,
    fractions: Sequence[float] = CHECKPOINTS,
) -> dict[str, list[LiveUpdate]]:
    """Replay ``batches`` (stacked) and forecast at each fraction of their duration."""
    ens = EnsembleTwin(batches, twin.base, twin.settings, vessel=twin.vessel)
    duration = float(ens.recipe.duration_h)
    out: dict[str, list[LiveUpdate]] = {b.batch_id: [] for b in batches}
    for f in sorted(fractions):
        ens.advance(f * duration)
        for b, fc in enumerate(forecast(ens)):
            params = ens.parameter_summary(b)
            out[fc.batch_id].append(LiveUpdate(
                fc, hybrid_forecast(fc, twin.residual, twin.domain, params), params))
    return out


def train_hybrid(
    batches: Sequence[BatchObservations],
    final_titres: Mapping[str, float],
    base: KineticParameters,
    settings: FilterSettings | None = None,
    *,
    vessel: VesselCapacity | None = None,
    fractions: Sequence[float] = CHECKPOINTS,
) -> HybridTwin:
    """Learn the residual correction and the parameter domain from past batches.

    Each past batch is replayed as if live; its forecasts at ``fractions`` against its
    actual final titre train the residual model, and its parameter estimates at the end
    of the run define the domain.
    """
    settings = settings or FilterSettings()
    core = HybridTwin(base, settings, None, None, vessel)
    updates = follow(batches, core, [*fractions, 1.0])
    examples = [(u.forecast, final_titres[bid]) for bid, us in updates.items()
                for u in us[:-1] if bid in final_titres]
    residual = fit_residual_model(examples) if len(final_titres) >= 3 else None
    domain = ParameterDomain.from_estimates({bid: us[-1].parameters for bid, us in updates.items()})
    return HybridTwin(base, settings, residual, domain, vessel)


def site_prior(
    batches: Sequence[BatchObservations],
    base: KineticParameters | None = None,
    settings: FilterSettings | None = None,
    *,
    vessel: VesselCapacity | None = None,
    wide_log_sd: float = 0.3,
    floor_log_sd: float = 0.08,
) -> tuple[KineticParameters, FilterSettings]:
    """The site's clone and batch-to-batch spread, learned from its complete batches.

    Empirical Bayes: every batch is filtered to its end from a wide prior around ``base``;
    the geometric mean of the batches' estimates becomes the prior centre for new batches
    and their spread (with a floor) the prior spread.
    """
    base = base or KineticParameters()
    settings = settings or FilterSettings()
    wide = replace(settings, prior_log_sd=wide_log_sd)
    ens = EnsembleTwin(batches, base, wide, vessel=vessel)
    ens.advance(float(ens.recipe.duration_h))
    logs = np.asarray([[np.log(ens.parameter_summary(b)[n]["estimate"])
                        for n in settings.parameters] for b in range(len(batches))])
    centre = base.with_values(**{n: float(np.exp(logs[:, i].mean()))
                                 for i, n in enumerate(settings.parameters)})
    spread = logs.std(axis=0, ddof=1) if len(batches) > 1 else np.zeros(len(settings.parameters))
    sd = {n: float(max(spread[i], floor_log_sd)) for i, n in enumerate(settings.parameters)}
    return centre, replace(settings, prior_log_sd=sd)
