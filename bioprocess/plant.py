"""The plant simulator: culture kinetics inside a controlled, instrumented, faulty vessel.

Couples the kinetic model (:mod:`bioprocess.kinetics`) with oxygen and CO2 transfer and
the bicarbonate buffer (:mod:`bioprocess.gas`), the DCS loops (:mod:`bioprocess.control`),
sensors (noise, lag, drift, offset) and injected faults (:mod:`bioprocess.faults`). All
batches of a campaign — and their fault-free counterfactuals — are stacked as columns and
advanced together with explicit Euler steps of one minute, short against the fastest
dynamics (DO with kLa up to ~30 1/h, probe lags of ≥ 1 min handled exactly).

A counterfactual column shares its batch's parameters and sensor-noise stream but has no
faults, so the difference between the two is the effect of the faults alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bioprocess.control import (
    ControllerTuning,
    VesselHardware,
    deadband,
    do_split_range,
    first_order_lag,
    ph_split_range,
    pi_step,
)
from bioprocess.faults import FaultSchedule, FaultType
from bioprocess.gas import (
    AIR_O2_FRACTION,
    CO2_SOLUBILITY_MM_PER_MMHG,
    co2_for_ph,
    kla_per_h,
    o2_air_saturation_mM,
    ph_from_carbonate,
)
from bioprocess.kinetics import (
    BasalMedium,
    FeedMedium,
    FloatArray,
    KineticParameters,
    Value,
    culture_derivatives,
    initial_culture_state,
    specific_rates,
)
from bioprocess.recipe import Recipe, feed_rate_l_per_h, temperature_setpoint


@dataclass(frozen=True, eq=False)
class SensorSpec:
    """Sensor behaviour (noise standard deviations, probe time constants)."""

    temp_noise_c: Value = 0.02
    do_noise_pct: Value = 0.4
    do_tau_min: Value = 1.0
    ph_noise: Value = 0.004
    rpm_noise: Value = 0.3
    flow_noise_frac: Value = 0.01
    offgas_noise_frac: Value = 0.03
    weight_noise_kg: Value = 0.5
    #: Calibration offset of the control DO probe, % air saturation (equipment degradation).
    do_offset_pct: Value = 0.0


@dataclass(frozen=True, eq=False)
class PlantSetup:
    """Everything the plant simulator needs about the stacked columns (arrays allowed)."""

    kinetics: KineticParameters
    recipe: Recipe
    hardware: VesselHardware
    tuning: ControllerTuning
    sensors: SensorSpec
    initial_hco3_mM: Value = 24.0
    initial_ph: Value = 7.15
    medium: BasalMedium = BasalMedium()
    feed: FeedMedium = FeedMedium()


#: Signals recorded every step for the columns selected as "fine" (the real batches).
FINE_SIGNALS: tuple[str, ...] = (
    "temp_pv",
    "temp_sp",
    "temp_out",
    "do_pv",
    "do2_pv",
    "do_sp",
    "do_out",
    "rpm_pv",
    "rpm_sp",
    "air_lpm",
    "o2_lpm",
    "co2_lpm",
    "ph_pv",
    "ph_sp",
    "ph_out",
    "base_lph",
    "base_total_l",
    "feed_sp_lph",
    "feed_total_l",
    "weight_kg",
    "our_pv",
    "cer_pv",
    "do_true",
    "ph_true",
    "temp_true",
)

#: True states recorded on the coarse grid for every column (batches and counterfactuals).
COARSE_SIGNALS: tuple[str, ...] = (
    "xv",
    "xd",
    "glc",
    "gln",
    "lac",
    "amm",
    "aa",
    "titre",
    "volume",
    "feed_added",
    "do_true",
    "ph_true",
    "temp_true",
    "pco2",
    "our",
    "cer",
    "base_total_l",
    "do_out",
    "o2_lpm",
    "kla",
)


@dataclass(frozen=True, eq=False)
class PlantRun:
    """Recorded trajectories.

    ``fine[name]`` has shape (len(t_fine), n_fine) for the selected columns;
    ``coarse[name]`` has shape (len(t_coarse), n_columns) for every column.
    """

    t_fine: FloatArray
    fine: dict[str, np.ndarray]
    fine_columns: np.ndarray
    t_coarse: FloatArray
    coarse: dict[str, np.ndarray]


def simulate_plant(
    setup: PlantSetup,
    faults: FaultSchedule,
    *,
    n_columns: int,
    rng: np.random.Generator,
    noise_group: np.ndarray | None = None,
    fine_columns: np.ndarray | None = None,
    dt_h: float = 1.0 / 60.0,
    culture_every: int = 5,
    coarse_every_h: float = 0.25,
    progress: Callable[[float], None] | None = None,
) -> PlantRun:
    """Simulate stacked batches in their vessels with control loops, sensors and faults.

    Parameters
    ----------
    setup : PlantSetup
        Per-column parameters (arrays of length ``n_columns`` or scalars).
    faults : FaultSchedule
        Faults per column (a counterfactual column simply has none).
    n_columns : int
        Number of stacked columns.
    rng : numpy.random.Generator
        Source of sensor noise.
    noise_group : ndarray of int, optional
        Noise stream per column; columns of one group (a batch and its counterfactual)
        see identical sensor noise. Default: one stream per column.
    fine_columns : ndarray of int, optional
        Columns whose measured signals are recorded every step (default: all).
    dt_h : float
        Euler step of the fast states (DO, CO2, temperature, probes, loops), h.
    culture_every : int
        The (slow) culture kinetics are re-evaluated every this many steps and held in
        between (multirate Euler); liquid additions act at every step.
    coarse_every_h : float
        Spacing of the coarse record, h.
    progress : callable, optional
        Called with the fraction done, about a hundred times.

    Returns
    -------
    PlantRun
    """
    n = n_columns
    p0, r, hw, tu, se = setup.kinetics, setup.recipe, setup.hardware, setup.tuning, setup.sensors
    groups = np.arange(n) if noise_group is None else np.asarray(noise_group)
    n_groups = int(groups.max()) + 1
    fine_idx = np.arange(n) if fine_columns is None else np.asarray(fine_columns)
    fine_sel: slice | np.ndarray = fine_idx
    if np.array_equal(fine_idx, np.arange(fine_idx.size)):
        fine_sel = slice(0, fine_idx.size)  # basic slicing is much cheaper per step
    n_steps = int(round(r.duration_h / dt_h))
    coarse_stride = max(1, int(round(coarse_every_h / dt_h)))

    media = FaultType.POOR_MEDIA_LOT
    p = p0.with_values(mu_max=np.asarray(p0.mu_max) * (1.0 - faults.size[media]))
    hyper = FaultType.HYPER_METABOLIC
    has_hyper = faults.present(hyper)
    hyper_size = faults.size[hyper]
    hyper_gain = np.where(hyper_size > 0, hyper_size - 1.0, 0.0)
    hyper_norm = np.where(hyper_size > 0, hyper_size, 1.0)

    ones = np.ones(n)
    y = initial_culture_state(
        np.broadcast_to(r.seed_density, (n,)),
        np.broadcast_to(r.initial_volume_l, (n,)),
        setup.medium,
        n,
    )
    temp = temperature_setpoint(r, 0.0) * ones
    c_o2 = o2_air_saturation_mM(temp) * ones  # medium starts air-saturated
    hco3 = setup.initial_hco3_mM * ones
    co2 = co2_for_ph(hco3, setup.initial_ph) * ones
    do_true = 100.0 * ones
    m1 = do_true.copy()
    m2 = do_true.copy()
    i_do = np.zeros(n)
    i_ph = np.zeros(n)
    i_t = np.zeros(n)
    base_total = np.zeros(n)
    do_sp = np.asarray(r.do_setpoint_pct) * ones
    ph_sp = np.asarray(r.ph_setpoint) * ones
    tau_do_h = np.asarray(se.do_tau_min) / 60.0 * ones
    drift_on_1 = faults.drift_probe == 1
    ph_bleed = float(np.exp(-dt_h / 1.0))

    fine = {k: np.empty((n_steps + 1, fine_idx.size), dtype=np.float32) for k in FINE_SIGNALS}
    n_coarse = n_steps // coarse_stride + 1
    coarse = {k: np.empty((n_coarse, n)) for k in COARSE_SIGNALS}
    progress_every = max(1, n_steps // 100)

    for k in range(n_steps + 1):
        t = k * dt_h
        noise = rng.standard_normal((8, n_groups))[:, groups]
        t_sp = temperature_setpoint(r, t) * ones
        c_air = o2_air_saturation_mM(temp)
        do_true = 100.0 * c_o2 / c_air
        ph_true = ph_from_carbonate(hco3, co2)
        pco2 = co2 / CO2_SOLUBILITY_MM_PER_MMHG

        # sensors
        temp_pv = temp + se.temp_noise_c * noise[0]
        lag_fault = faults.window(FaultType.DO_PROBE_LAG, t) / 60.0
        m1 = first_order_lag(m1, do_true, np.maximum(tau_do_h, lag_fault), dt_h)
        m2 = first_order_lag(m2, do_true, tau_do_h, dt_h)
        drift = faults.ramped(FaultType.DO_PROBE_DRIFT, t)
        do1 = np.maximum(
            m1 + np.where(drift_on_1, drift, 0.0) + se.do_offset_pct + se.do_noise_pct * noise[1],
            0.0,
        )
        do2 = np.maximum(m2 + np.where(drift_on_1, 0.0, drift) + se.do_noise_pct * noise[2], 0.0)
        ph_pv = ph_true + faults.window(FaultType.PH_PROBE_OFFSET, t) + se.ph_noise * noise[3]

        # controllers
        u_t, i_t = pi_step(t_sp - temp_pv, i_t, tu.temp_kp, tu.temp_ti_h, dt_h, -100.0, 100.0)
        u_do, i_do = pi_step(do_sp - do1, i_do, tu.do_kp, tu.do_ti_h, dt_h, 0.0, 100.0)
        e_ph = deadband(ph_sp - ph_pv, tu.ph_deadband, tu.ph_deadband_high)
        u_ph, i_ph = pi_step(e_ph, i_ph, tu.ph_kp, tu.ph_ti_h, dt_h, -100.0, 100.0)
        i_ph = np.where(e_ph == 0.0, i_ph * ph_bleed, i_ph)  # output relaxes inside the band

        # actuators (faults act here, not on the controller)
        rpm_cmd, air, o2 = do_split_range(u_do, hw)
        rpm = rpm_cmd * (1.0 - faults.window(FaultType.AGITATION_FAILURE, t))
        base_cmd, co2_vvm = ph_split_range(u_ph, hw)
        base_per_l = base_cmd * (1.0 - faults.window(FaultType.BASE_PUMP_FAILURE, t))
        feed_cmd = feed_rate_l_per_h(r, t) * ones
        feed = feed_cmd * (1.0 - faults.window(FaultType.FEED_PUMP_UNDER_DELIVERY, t))

        # culture (slow: kinetics re-evaluated every `culture_every` steps, multirate Euler)
        vol = y[8]
        base_lph = base_per_l * vol
        if k % culture_every == 0:
            if has_hyper:
                frac = faults.ramped(hyper, t) / hyper_norm
                p_t = p.with_values(overflow=1.0 + hyper_gain * frac)
            else:
                p_t = p
            xv, _, glc, gln, lac, amm, aa = y[:7]
            rates = specific_rates(xv, glc, gln, lac, amm, aa, temp, do_true, ph_true, pco2, p_t)
            xv_pos = np.maximum(xv, 0.0)
            our = rates.q_o2 * xv_pos
            cer = rates.q_co2 * xv_pos
            r_lac = rates.q_lac * xv_pos
            r_amm = rates.q_amm * xv_pos + p_t.k_gln_deg * np.maximum(gln, 0.0)
            dy = culture_derivatives(y, rates, p_t, 0.0, 0.0, setup.feed)
        # liquid additions act every step (feed and base change with the loops)
        f_in = feed / vol
        dil = (feed + base_lph) / vol
        dy_step = dy.copy()
        dy_step[:8] -= dil * y[:8]
        dy_step[2] += f_in * setup.feed.glc
        dy_step[3] += f_in * setup.feed.gln
        dy_step[6] += f_in * setup.feed.aa
        dy_step[8] = feed + base_lph
        dy_step[9] = feed

        # gas transfer and buffer
        total_vvm = air + o2 + co2_vvm
        y_o2 = (AIR_O2_FRACTION * air + o2) / total_vvm
        kla = kla_per_h(hw.kla_ref_per_h, rpm, hw.rpm_ref, total_vvm, hw.vvm_ref)
        kla = kla * (1.0 - faults.ramped(FaultType.SPARGER_FOULING, t))
        dc_o2 = kla * (c_air * y_o2 / AIR_O2_FRACTION - c_o2) - our - dil * c_o2
        kla_co2 = (
            hw.co2_strip_ref_per_h
            * np.sqrt(total_vvm / hw.vvm_ref)
            * np.sqrt(np.maximum(rpm, 1.0) / hw.rpm_ref)
        )
        co2_star = co2_vvm / total_vvm * 760.0 * CO2_SOLUBILITY_MM_PER_MMHG
        base_mm = base_lph * hw.base_eq_per_l / vol
        d_co2 = cer - kla_co2 * (co2 - co2_star) + r_lac - r_amm - base_mm - dil * co2
        d_hco3 = -r_lac + r_amm + base_mm - dil * hco3
        jacket = t_sp + u_t / 100.0 * hw.jacket_span_c
        excursion = faults.window(FaultType.TEMPERATURE_EXCURSION, t)
        jacket = np.where(excursion != 0.0, t_sp + excursion, jacket)
        d_temp = (jacket - temp) / hw.tau_temp_h + hw.heat_per_our * our

        # record (values at time t, before the step)
        if k % coarse_stride == 0:
            kc = k // coarse_stride
            for j, name in enumerate(("xv", "xd", "glc", "gln", "lac", "amm", "aa", "titre")):
                coarse[name][kc] = y[j]
            coarse["volume"][kc] = vol
            coarse["feed_added"][kc] = y[9]
            coarse["do_true"][kc] = do_true
            coarse["ph_true"][kc] = ph_true
            coarse["temp_true"][kc] = temp
            coarse["pco2"][kc] = pco2
            coarse["our"][kc] = our
            coarse["cer"][kc] = cer
            coarse["base_total_l"][kc] = base_total
            coarse["do_out"][kc] = u_do
            coarse["o2_lpm"][kc] = o2 * vol
            coarse["kla"][kc] = kla
        fi = fine_sel
        row = {
            "temp_pv": temp_pv,
            "temp_sp": t_sp,
            "temp_out": u_t,
            "do_pv": do1,
            "do2_pv": do2,
            "do_sp": do_sp,
            "do_out": u_do,
            "rpm_pv": rpm + se.rpm_noise * noise[4],
            "rpm_sp": rpm_cmd,
            "air_lpm": air * vol * (1.0 + se.flow_noise_frac * noise[5]),
            "o2_lpm": o2 * vol * (1.0 + se.flow_noise_frac * noise[6]),
            "co2_lpm": co2_vvm * vol,
            "ph_pv": ph_pv,
            "ph_sp": ph_sp,
            "ph_out": u_ph,
            "base_lph": base_lph,
            "base_total_l": base_total,
            "feed_sp_lph": feed_cmd,
            "feed_total_l": y[9],
            "weight_kg": vol * 1.01 + se.weight_noise_kg * noise[7],
            "our_pv": our * (1.0 + se.offgas_noise_frac * noise[5]),
            "cer_pv": cer * (1.0 + se.offgas_noise_frac * noise[6]),
            "do_true": do_true,
            "ph_true": ph_true,
            "temp_true": temp,
        }
        for name, arr in row.items():
            fine[name][k] = arr[fi]
        if k == n_steps:
            break

        # explicit Euler step
        y = y + dt_h * dy_step
        y[:8] = np.maximum(y[:8], 0.0)
        c_o2 = np.maximum(c_o2 + dt_h * dc_o2, 0.0)
        co2 = np.maximum(co2 + dt_h * d_co2, 1e-3)
        hco3 = np.maximum(hco3 + dt_h * d_hco3, 0.1)
        temp = temp + dt_h * d_temp
        base_total = base_total + dt_h * base_lph
        if progress is not None and k % progress_every == 0:
            progress(k / n_steps)

    t_fine = np.arange(n_steps + 1) * dt_h
    t_coarse = np.arange(n_coarse) * coarse_stride * dt_h
    return PlantRun(t_fine, fine, fine_idx, t_coarse, coarse)
