"""Bioreactor control loops: PI controllers, the DO split-range cascade, pH and temperature.

The loops are written as a plant's DCS runs them, so that equipment faults show the way
they do on a historian trend: when an actuator cannot deliver (a fouled sparger, a slipping
agitator drive, a dead base pump, a lost chiller), the controller output moves towards
its limit and saturates, and only then does the measured value leave its set point. A
faulty *sensor* is different: the controller holds the faulty measurement at set point
and the true value moves instead.

* **DO**: one PI output ``u`` (0–100 %) split over agitation, air sparge and O2 sparge
  (a split-range cascade, the usual arrangement in CHO production bioreactors).
* **pH**: one PI output (−100…100 %) with an asymmetric dead band; positive drives the
  base pump, negative drives CO2 into the sparge.
* **Temperature**: PI on the jacket (temperature control unit) supply temperature.

All controllers are positional PI with conditional-integration anti-windup
(Åström & Hägglund 2006) and are vectorised over stacked batches.

References
----------
.. [1] Åström KJ, Hägglund T (2006). Advanced PID Control. ISA, Research Triangle Park.
.. [2] Seborg DE, Edgar TF, Mellichamp DA, Doyle FJ (2016). Process Dynamics and Control,
   4th ed. Wiley (split-range control, ch. 16).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bioprocess.kinetics import FloatArray, Value


@dataclass(frozen=True, eq=False)
class ControllerTuning:
    """PI tuning of the three loops (gains in % output per unit of error, Ti in h)."""

    do_kp: Value = 2.0  # % per % air saturation
    do_ti_h: Value = 0.5
    ph_kp: Value = 150.0  # % per pH unit
    ph_ti_h: Value = 0.4
    ph_deadband: Value = 0.03  # pH units below the set point before base is added
    ph_deadband_high: Value = 0.15  # pH units above the set point before CO2 is added
    temp_kp: Value = 60.0  # % per °C
    temp_ti_h: Value = 0.6


@dataclass(frozen=True, eq=False)
class VesselHardware:
    """Actuator ranges and vessel physics (per batch arrays allowed).

    Attributes
    ----------
    kla_ref_per_h : kLa (1/h) at ``rpm_ref`` and ``vvm_ref`` with a clean sparger.
    rpm_min, rpm_max, rpm_ref : agitation range and reference speed, rpm.
    air_vvm_min, air_vvm_max, o2_vvm_max, co2_vvm_max : sparge ranges, vvm.
    vvm_ref : reference total sparge for the kLa correlation, vvm.
    split_agitation, split_air : DO output (%) where agitation, then air, reach their
        maximum; O2 enrichment uses the rest of the range.
    co2_strip_ref_per_h : CO2 stripping coefficient at the reference point, 1/h.
    tau_temp_h : thermal time constant of broth + jacket, h.
    jacket_span_c : jacket temperature swing at 100 % temperature output, °C.
    heat_per_our : metabolic + agitation heating, °C/h per mmol/L/h of OUR.
    base_max_l_per_h_per_l : base pump capacity per litre of broth, L/h/L.
    base_eq_per_l : base strength, mmol of OH- equivalents per L (1 M Na2CO3 = 2000).
    """

    kla_ref_per_h: Value = 9.0
    rpm_min: Value = 60.0
    rpm_max: Value = 110.0
    rpm_ref: Value = 100.0
    air_vvm_min: Value = 0.005
    air_vvm_max: Value = 0.03
    o2_vvm_max: Value = 0.04
    co2_vvm_max: Value = 0.01
    vvm_ref: Value = 0.04
    split_agitation: Value = 30.0
    split_air: Value = 45.0
    co2_strip_ref_per_h: Value = 2.2
    tau_temp_h: Value = 1.2
    jacket_span_c: Value = 8.0
    heat_per_our: Value = 0.04
    base_max_l_per_h_per_l: Value = 0.0015
    base_eq_per_l: Value = 1000.0


def pi_step(
    error: FloatArray,
    integral: FloatArray,
    kp: Value,
    ti_h: Value,
    dt_h: float,
    lo: float,
    hi: float,
    bias: Value = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """One step of a positional PI controller with conditional-integration anti-windup.

    ``u = bias + kp (e + I / Ti)``, ``I`` integrates ``e`` only while the output is not
    saturated in the direction the error pushes it.

    Returns
    -------
    u : ndarray
        Controller output clipped to ``[lo, hi]``.
    integral : ndarray
        Updated integral state (error·h).
    """
    trial = integral + error * dt_h
    u_trial = bias + kp * (error + trial / ti_h)
    wind = ((u_trial > hi) & (error > 0)) | ((u_trial < lo) & (error < 0))
    integral = np.where(wind, integral, trial)
    u = np.minimum(np.maximum(bias + kp * (error + integral / ti_h), lo), hi)
    return u, integral


def do_split_range(u: FloatArray, hw: VesselHardware) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Map the DO output (0–100 %) onto agitation (rpm), air (vvm) and O2 (vvm)."""
    a = _unit(u / hw.split_agitation)
    b = _unit((u - hw.split_agitation) / (hw.split_air - hw.split_agitation))
    c = _unit((u - hw.split_air) / (100.0 - hw.split_air))
    rpm = hw.rpm_min + a * (hw.rpm_max - hw.rpm_min)
    air = hw.air_vvm_min + b * (hw.air_vvm_max - hw.air_vvm_min)
    o2 = c * hw.o2_vvm_max
    return rpm, air, o2


def ph_split_range(u: FloatArray, hw: VesselHardware) -> tuple[FloatArray, FloatArray]:
    """Map the pH output (−100…100 %) onto base flow (L/h per L broth) and CO2 (vvm)."""
    base = np.maximum(u, 0.0) / 100.0 * hw.base_max_l_per_h_per_l
    co2 = np.maximum(-u, 0.0) / 100.0 * hw.co2_vvm_max
    return base, co2


def deadband(error: FloatArray, band_low: Value, band_high: Value | None = None) -> FloatArray:
    """Error with a dead band removed: zero for ``-band_high <= error <= band_low``.

    With the error defined as set point minus measurement, ``band_low`` is how far the
    measurement may fall below the set point and ``band_high`` how far it may rise above
    it before the controller acts (symmetric when ``band_high`` is None).
    """
    high = band_low if band_high is None else band_high
    return np.maximum(error - band_low, 0.0) + np.minimum(error + high, 0.0)


def first_order_lag(
    measured: FloatArray, true: FloatArray, tau_h: Value, dt_h: float
) -> FloatArray:
    """Exact discrete first-order sensor response (stable for any ``tau_h``)."""
    alpha = 1.0 - np.exp(-dt_h / np.maximum(tau_h, 1e-9))
    return measured + alpha * (true - measured)


def _unit(x: FloatArray) -> FloatArray:
    return np.minimum(np.maximum(x, 0.0), 1.0)
