"""The ideal-control process twin: culture kinetics with loops assumed to hold set point.

For what-if runs and calibration the fast control loops (seconds to minutes) are not
simulated; temperature and pH sit at their set points and DO sits at its set point
unless the vessel cannot transfer enough oxygen, in which case it falls to the level the
equipment's maximal kLa can sustain (``DO = min(SP, C*_O2 - OUR/kLa_max)``). This
quasi-steady-state reduction removes the stiff fast states, so thousands of stacked
batches integrate with a fixed-step classical Runge–Kutta scheme in one numpy loop.

The same right-hand side is exposed for ``scipy.integrate.solve_ivp`` (one batch at a
time) so the fixed-step integration can be checked and benchmarked against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from bioprocess.gas import AIR_O2_FRACTION, CO2_SOLUBILITY_MM_PER_MMHG, o2_air_saturation_mM
from bioprocess.kinetics import (
    N_CULTURE,
    BasalMedium,
    FeedMedium,
    FloatArray,
    KineticParameters,
    SpecificRates,
    Value,
    co2_factor,
    culture_derivatives,
    do_factor,
    growth_potential,
    initial_culture_state,
    rates_at_growth,
    specific_oxygen_uptake,
)
from bioprocess.recipe import Recipe, feed_rate_l_per_h, temperature_setpoint


@dataclass(frozen=True, eq=False)
class VesselCapacity:
    """What the vessel can deliver, as seen by the ideal-control twin.

    Attributes
    ----------
    kla_max_per_h : kLa at full agitation and sparge, 1/h.
    co2_strip_per_h : effective CO2 stripping coefficient at the operating point, 1/h.
    pco2_base_mmhg : dissolved CO2 carried by the bicarbonate buffer at pH set point, mmHg.
    """

    kla_max_per_h: Value = 12.0
    co2_strip_per_h: Value = 1.6
    pco2_base_mmhg: Value = 45.0


@dataclass(frozen=True, eq=False)
class ConditionsAt:
    """Culture conditions implied by ideal control at one time (arrays over batches)."""

    temp_c: Value
    do_pct: Value
    ph: Value
    pco2_mmhg: Value
    our_mM_per_h: Value
    rates: SpecificRates


def ideal_conditions(
    t_h: float,
    y: FloatArray,
    p: KineticParameters,
    recipe: Recipe,
    vessel: VesselCapacity,
) -> ConditionsAt:
    """Temperature, DO, pH, pCO2 and specific rates under ideal control."""
    temp = temperature_setpoint(recipe, t_h)
    ph = np.asarray(recipe.ph_setpoint, dtype=float)
    xv, _, glc, gln, lac, amm, aa = y[:7]
    xv_pos = np.maximum(xv, 0.0)
    do_sp = np.asarray(recipe.do_setpoint_pct, dtype=float)
    # one fixed-point pass on the algebraic loop growth -> OUR/CER -> DO, pCO2 -> growth
    g = growth_potential(xv, glc, gln, lac, amm, aa, temp, ph, p)
    mu0 = g * do_factor(do_sp, p) * co2_factor(vessel.pco2_base_mmhg, p)
    our0 = specific_oxygen_uptake(mu0, lac, temp, p) * xv_pos
    c_air = o2_air_saturation_mM(temp)
    do_max = 100.0 * (c_air / AIR_O2_FRACTION - our0 / vessel.kla_max_per_h) / c_air
    do = np.maximum(np.minimum(do_sp, do_max), 0.0)
    pco2 = vessel.pco2_base_mmhg + p.rq * our0 / vessel.co2_strip_per_h / (
        CO2_SOLUBILITY_MM_PER_MMHG
    )
    mu = g * do_factor(do, p) * co2_factor(pco2, p)
    rates = rates_at_growth(mu, xv, glc, gln, lac, amm, aa, temp, do, ph, p)
    return ConditionsAt(
        temp_c=temp,
        do_pct=do,
        ph=ph,
        pco2_mmhg=pco2,
        our_mM_per_h=rates.q_o2 * xv_pos,
        rates=rates,
    )


def ideal_rhs(
    t_h: float,
    y: FloatArray,
    p: KineticParameters,
    recipe: Recipe,
    vessel: VesselCapacity,
    feed: FeedMedium,
) -> FloatArray:
    """dy/dt of the ideal-control twin for stacked states ``y`` (N_CULTURE, n_batches)."""
    cond = ideal_conditions(t_h, y, p, recipe, vessel)
    f = feed_rate_l_per_h(recipe, t_h) * p.feed_delivery
    return culture_derivatives(y, cond.rates, p, f, 0.0, feed)


@dataclass(frozen=True, eq=False)
class TwinRun:
    """Trajectories of stacked ideal-control batches.

    ``states`` has shape (n_times, N_CULTURE, n_batches) in the order of
    :data:`bioprocess.kinetics.CULTURE_STATES`; ``do_pct``, ``our`` and ``pco2`` have
    shape (n_times, n_batches). ``min_do_pct`` is the lowest DO reached at any step.
    """

    t_h: FloatArray
    states: FloatArray
    do_pct: FloatArray
    our_mM_per_h: FloatArray
    pco2_mmhg: FloatArray
    min_do_pct: FloatArray


def simulate_ideal(
    p: KineticParameters,
    recipe: Recipe,
    *,
    n_batches: int | None = None,
    vessel: VesselCapacity | None = None,
    medium: BasalMedium | None = None,
    feed: FeedMedium | None = None,
    dt_h: float = 0.1,
    record_every_h: float = 1.0,
) -> TwinRun:
    """Integrate stacked batches with fixed-step RK4 under ideal control.

    Parameters
    ----------
    p, recipe : KineticParameters, Recipe
        Scalars or arrays of length ``n_batches`` (broadcast).
    n_batches : int, optional
        Number of stacked batches; inferred from array-valued inputs when omitted.
    dt_h : float
        Integration step, h (0.1 h is well inside the RK4 stability region of the
        Monod uptake terms for realistic densities).
    record_every_h : float
        Spacing of the returned trajectory, h.
    """
    vessel = vessel or VesselCapacity()
    medium = medium or BasalMedium()
    feed = feed or FeedMedium()
    n = n_batches or _infer_n(p, recipe, vessel)
    n_steps = int(round(recipe.duration_h / dt_h))
    rec_stride = max(1, int(round(record_every_h / dt_h)))
    y = initial_culture_state(
        np.broadcast_to(recipe.seed_density, (n,)),
        np.broadcast_to(recipe.initial_volume_l, (n,)),
        medium,
        n,
    )
    n_rec = n_steps // rec_stride + 1
    states = np.empty((n_rec, N_CULTURE, n))
    do_rec = np.empty((n_rec, n))
    our_rec = np.empty((n_rec, n))
    pco2_rec = np.empty((n_rec, n))
    min_do = np.full(n, np.inf)

    def rhs(t: float, yy: FloatArray) -> FloatArray:
        return ideal_rhs(t, yy, p, recipe, vessel, feed)

    def record(k: int, t: float) -> None:
        cond = ideal_conditions(t, y, p, recipe, vessel)
        states[k] = y
        do_rec[k] = cond.do_pct
        our_rec[k] = cond.our_mM_per_h
        pco2_rec[k] = cond.pco2_mmhg
        np.minimum(min_do, cond.do_pct, out=min_do)

    record(0, 0.0)
    for step in range(n_steps):
        t = step * dt_h
        y = _rk4_step(rhs, t, y, dt_h)
        if (step + 1) % rec_stride == 0:
            record((step + 1) // rec_stride, t + dt_h)
    t_rec = np.arange(n_rec) * rec_stride * dt_h
    return TwinRun(t_rec, states, do_rec, our_rec, pco2_rec, min_do)


def simulate_ideal_solve_ivp(
    p: KineticParameters,
    recipe: Recipe,
    *,
    vessel: VesselCapacity | None = None,
    medium: BasalMedium | None = None,
    feed: FeedMedium | None = None,
    method: str = "LSODA",
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> FloatArray:
    """Integrate ONE batch (scalar parameters) with ``solve_ivp``; return the final state.

    Reference implementation for checking and benchmarking :func:`simulate_ideal`. The
    feed start and temperature shift are integrated as separate segments so the adaptive
    solver never steps across a discontinuity.
    """
    vessel = vessel or VesselCapacity()
    medium = medium or BasalMedium()
    feed = feed or FeedMedium()
    y = initial_culture_state(recipe.seed_density, recipe.initial_volume_l, medium, 1)[:, 0]

    def rhs(t: float, yy: FloatArray) -> FloatArray:
        return ideal_rhs(t, yy[:, None], p, recipe, vessel, feed)[:, 0]

    breaks = sorted(
        {0.0, recipe.duration_h}
        | {
            float(b)
            for b in (recipe.feed_start_h, recipe.temp_shift_h)
            if 0 < b < recipe.duration_h
        }
    )
    for t0, t1 in zip(breaks[:-1], breaks[1:], strict=True):
        sol = solve_ivp(rhs, (t0, t1), y, method=method, rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed on [{t0}, {t1}] h: {sol.message}")
        y = sol.y[:, -1]
    return y


def _rk4_step(
    f: Callable[[float, FloatArray], FloatArray], t: float, y: FloatArray, h: float
) -> FloatArray:
    k1 = f(t, y)
    k2 = f(t + 0.5 * h, y + 0.5 * h * k1)
    k3 = f(t + 0.5 * h, y + 0.5 * h * k2)
    k4 = f(t + h, y + h * k3)
    return y + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def _infer_n(*objs: object) -> int:
    n = 1
    for obj in objs:
        for v in vars(obj).values():
            if np.ndim(v):
                n = max(n, int(np.size(v)))
    return n
