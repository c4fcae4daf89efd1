"""What-if predictions for the receiving site: the process twin calibrated on S, run with R's
oxygen-transfer capacity.

Everything is derived from what the federation holds (aligned per-phase features and quality
results), never from a site's simulator profile:

* **Recipe** — S's set points per phase (median over its good batches of the per-phase mean
  of the temperature, dissolved-oxygen and pH set-point parameters; the temperature shift at
  the start of the first phase whose set point differs), the seeding density (minimum viable
  cell density of the first phase) and the run length (median end of the last phase). Feed
  rate and feed start are not in the shared vocabulary yet: the twin's defaults are used and
  the package says so.
* **Calibration** — :func:`bioprocess.calibration.calibrate` fits the growth rate and the
  specific productivity to S's good batches: the peak viable cell density at its time and
  the final titre at harvest (per-phase features carry these; raw time courses stay at the
  site).
* **Oxygen-transfer capacity** — a site's *demonstrated* kLa: the largest per-phase peak
  oxygen uptake rate divided by the largest driving force oxygen sparging could give at the
  phase's mean temperature and dissolved oxygen, ``OUR / (C*_O2 − DO·C*_air)``. It is a lower
  bound on what the vessel can do. When R has run no batch of P its capacity is unknown and
  the twin is run at half and at the full demonstrated kLa of S.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from bioprocess.calibration import BatchObservations, calibrate
from bioprocess.gas import AIR_O2_FRACTION, o2_air_saturation_mM
from bioprocess.kinetics import KineticParameters
from bioprocess.recipe import Recipe
from bioprocess.twin import VesselCapacity
from bioprocess.whatif import WhatIfDesign, run_whatif
from federation.packages.source import TFP, TransferData

CALIBRATED = ("mu_max", "qp_beta")
#: RK4 steps (h): the twin's final titre moves < 0.2 % between 0.5 h and 4 h steps, and the
#: step count is what a build pays for (benchmarks/packages.py).
CALIBRATION_STEP_H = 4.0
SCENARIO_STEP_H = 2.0
MAX_CALIBRATION_BATCHES = 4


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    kla_per_h: float
    titre_median: float
    titre_low: float
    titre_high: float
    min_do_pct: float
    virtual_batches: int


@dataclass(frozen=True)
class WhatIfSummary:
    recipe: dict[str, float]
    assumptions: tuple[str, ...]
    calibration: dict[str, float]
    calibration_note: str
    calibration_batches: tuple[str, ...]
    kla: dict[str, float | None]
    kla_batches: dict[str, tuple[str, ...]]
    scenarios: tuple[Scenario, ...]
    observed_titre: dict[str, float | None]
    seconds: float


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def _ordered_phases(data: TransferData, batches: list[str]) -> list[tuple[str, float, float]]:
    starts: dict[str, list[float]] = {}
    ends: dict[str, list[float]] = {}
    for batch in batches:
        for name, (start, end) in data.phases.get(batch, {}).items():
            starts.setdefault(name, []).append(start)
            if end is not None:
                ends.setdefault(name, []).append(end)
    return sorted(((name, float(np.median(s)), float(np.median(ends.get(name, s))))
                   for name, s in starts.items()), key=lambda p: p[1])


def derive_recipe(data: TransferData, good: list[str]) -> tuple[Recipe, dict[str, float],
                                                                 list[str]]:
    """S's recipe as the twin needs it, with what had to be assumed."""
    phases = _ordered_phases(data, good)
    values: dict[str, float] = {}
    assumptions = ["feed rate and feed start: twin defaults (3.6 %/day from 72 h); the shared "
                   "vocabulary has no feed-schedule parameter yet"]

    def phase_median(parameter: str, phase: str, stat: str = "mean") -> float | None:
        return _median([data.features[key] for b in good
                        if (key := (b, TFP + parameter, phase, stat)) in data.features])

    if phases:
        temps = [(name, start, phase_median("temperature-set-point", name))
                 for name, start, _ in phases]
        temps = [t for t in temps if t[2] is not None]
        if temps:
            values["temp_growth_c"] = temps[0][2]
            shifted = [t for t in temps[1:] if abs(t[2] - temps[0][2]) > 0.3]
            if shifted:
                values["temp_production_c"] = shifted[0][2]
                values["temp_shift_h"] = shifted[0][1]
            else:
                values["temp_production_c"] = temps[0][2]
                values["temp_shift_h"] = 10_000.0
        first = phases[0][0]
        for parameter, key in (("dissolved-oxygen-set-point", "do_setpoint_pct"),
                               ("ph-set-point", "ph_setpoint")):
            value = phase_median(parameter, first)
            if value is not None:
                values[key] = value
        seed = phase_median("viable-cell-density", first, "min")
        if seed is not None and seed > 0:
            values["seed_density"] = seed / 1e6
        values["duration_h"] = phases[-1][2]
    missing = [k for k in ("temp_growth_c", "do_setpoint_pct", "ph_setpoint", "seed_density")
               if k not in values]
    if missing:
        assumptions.append(f"not derivable from the sending site's features, twin defaults "
                           f"used: {', '.join(missing)}")
    recipe = Recipe().with_values(**values)
    return recipe, values, assumptions


def demonstrated_kla(data: TransferData, batches: list[str]) -> tuple[float | None, list[str]]:
    """Largest demonstrated kLa (1/h) over ``batches`` and the batches it rests on."""
    best: float | None = None
    used: list[str] = []
    for batch in batches:
        for phase in data.phases.get(batch, {}):
            our = data.features.get((batch, TFP + "oxygen-uptake-rate", phase, "max"))
            do = data.features.get((batch, TFP + "dissolved-oxygen", phase, "mean"))
            if our is None or do is None:
                continue
            temp = data.features.get((batch, TFP + "temperature", phase, "mean"), 37.0)
            c_air = float(o2_air_saturation_mM(temp))
            driving = c_air / AIR_O2_FRACTION - do / 100.0 * c_air
            if driving <= 0:
                continue
            kla = our / driving
            used.append(batch)
            if best is None or kla > best:
                best = kla
    return best, sorted(set(used))


def _observations(data: TransferData, good: list[str], recipe: Recipe
                  ) -> list[BatchObservations]:
    observations = []
    for batch in good[:MAX_CALIBRATION_BATCHES]:
        series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        peaks = [(value, phase) for (b, p, phase, stat), value in data.features.items()
                 if b == batch and p == TFP + "viable-cell-density" and stat == "max"]
        if peaks:
            value, phase = max(peaks)
            t_max = data.features.get((batch, TFP + "viable-cell-density", phase, "t_max"))
            start = data.phases.get(batch, {}).get(phase, (None, None))[0]
            if t_max is not None and start is not None:
                series["xv"] = (np.array([start + t_max]), np.array([value / 1e6]))
        titre = data.quality.get((batch, TFP + "titre"))
        if titre is not None:
            series["titre"] = (np.array([recipe.duration_h]), np.array([titre]))
        if series:
            observations.append(BatchObservations(batch, recipe, series))
    return observations


def _design(recipe: Recipe) -> WhatIfDesign:
    feed = float(np.asarray(recipe.feed_pct_per_day))
    shift = float(np.asarray(recipe.temp_shift_h)) / 24.0
    do = float(np.asarray(recipe.do_setpoint_pct))
    seed = float(np.asarray(recipe.seed_density))
    rows = [(f, s, do, seed) for f in (0.9 * feed, feed, 1.1 * feed)
            for s in (shift - 1.0, shift, shift + 1.0)]
    return WhatIfDesign(*np.asarray(rows, dtype=float).T)


def _scenarios(specs: list[tuple[str, str, float]], recipe: Recipe,
               kinetics: KineticParameters) -> list[Scenario]:
    """Every scenario's design in one stacked twin run (kLa per virtual batch)."""
    design = _design(recipe)
    n = len(design)
    stacked = WhatIfDesign(*(np.tile(np.asarray(getattr(design, k)), len(specs))
                             for k in ("feed_pct_per_day", "temp_shift_day", "do_setpoint_pct",
                                       "seed_density")))
    kla = np.repeat([spec[2] for spec in specs], n)
    result = run_whatif(stacked, base_recipe=recipe, kinetics=kinetics,
                        vessel=VesselCapacity(kla_max_per_h=kla),
                        days=recipe.duration_h / 24.0, dt_h=SCENARIO_STEP_H)
    out = []
    for i, (name, description, value) in enumerate(specs):
        titre = result.final_titre_g_l[i * n:(i + 1) * n]
        out.append(Scenario(name=name, description=description, kla_per_h=value,
                            titre_median=float(np.median(titre)), titre_low=float(titre.min()),
                            titre_high=float(titre.max()),
                            min_do_pct=float(result.min_do_pct[i * n:(i + 1) * n].min()),
                            virtual_batches=n))
    return out


def predict(data: TransferData, good: list[str]) -> WhatIfSummary | None:
    """The what-if section, or None when S has too little to calibrate on."""
    started = time.perf_counter()
    recipe, values, assumptions = derive_recipe(data, good)
    s_batches = [b.iri for b in data.site_batches(data.from_site)]
    r_batches = [b.iri for b in data.site_batches(data.to_site)]
    kla_s, used_s = demonstrated_kla(data, good or s_batches)
    kla_r, used_r = demonstrated_kla(data, r_batches)
    if kla_s is None:
        return None
    observations = _observations(data, good, recipe)
    kinetics = KineticParameters()
    calibration: dict[str, float] = {}
    note = "not calibrated: no peak cell density or final titre at the sending site"
    if observations:
        # growth rate only when peak cell densities constrain it; else productivity alone
        fitted = CALIBRATED if any("xv" in o.data for o in observations) else CALIBRATED[1:]
        fit = calibrate(observations, fitted, vessel=VesselCapacity(kla_max_per_h=kla_s),
                        dt_h=CALIBRATION_STEP_H, max_iterations=4)
        kinetics = fit.parameters
        calibration = dict(fit.estimates)
        fits = ", ".join(f"{f.state} R² {f.r2:.2f}" for f in fit.per_state)
        note = (f"least squares on {fit.n_observations} observations of "
                f"{len(observations)} good batches ({fits}); {fit.message}")
    specs = [("sending site", "S's recipe, S-calibrated kinetics, S's demonstrated kLa",
              kla_s)]
    if kla_r is not None:
        specs.append(("receiving site", "S's recipe and kinetics with R's demonstrated kLa",
                      kla_r))
    else:
        assumptions.append("the receiving site has no batch of the process with oxygen uptake "
                           "and dissolved oxygen: its kLa is unknown; run at S's and at half "
                           "of S's demonstrated kLa")
        specs.append(("receiving site, kLa as S", "S's recipe and kinetics, R assumed to "
                      "match S's demonstrated kLa", kla_s))
        specs.append(("receiving site, half kLa", "S's recipe and kinetics, R at half of S's "
                      "demonstrated kLa", 0.5 * kla_s))
    scenarios = _scenarios(specs, recipe, kinetics)
    observed = {
        site: _median([v for (b, p), v in data.quality.items()
                       if p == TFP + "titre" and data.batches[b].site == site
                       and (site != data.from_site or b in good)])
        for site in (data.from_site, data.to_site)}
    return WhatIfSummary(
        recipe={k: float(np.asarray(getattr(recipe, k))) for k in (
            "seed_density", "temp_growth_c", "temp_production_c", "temp_shift_h",
            "do_setpoint_pct", "ph_setpoint", "feed_start_h", "feed_pct_per_day",
            "duration_h")},
        assumptions=tuple(assumptions), calibration=calibration, calibration_note=note,
        calibration_batches=tuple(o.batch_id for o in observations),
        kla={data.from_site: kla_s, data.to_site: kla_r},
        kla_batches={data.from_site: tuple(used_s), data.to_site: tuple(used_r)},
        scenarios=tuple(scenarios), observed_titre=observed,
        seconds=time.perf_counter() - started)
